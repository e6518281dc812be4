// The native CPU quantizer and dequantizer against the TypeScript reference:
// bit-identical codes, scale bytes and global scale (SPEC §1-3), on seeded
// tensors from several distributions, fp16/bf16 inputs and the edge cases.
import { beforeAll, describe, expect, it } from 'vitest';
import { f32ToBf16, f32ToF16 } from '../lib/codecs.js';
import type { QuantizedTensor } from '../lib/formats.js';
import {
  type NativeFormat,
  type NativeQuantizeOptions,
  backendInfo,
  loadAddon,
  nativeDequantize,
  nativeDequantizeSync,
  nativeQuantize,
  nativeQuantizeSync,
  NativeWeight,
} from '../lib/native/index.js';
import { dequantize } from '../lib/quantize.js';
import { referenceQuantize as quantize } from '../lib/reference/quantize.js';
import { DISTRIBUTIONS, draw } from './helpers/distributions.js';

const FORMATS: readonly NativeFormat[] = ['nvfp4', 'nvfp4_4over6', 'nvfp4_razer', 'nvfp4_razer_a'];

beforeAll(() => {
  // These tests need the addon: CI builds it in `npm ci` (the install script).
  expect(loadAddon(), `native addon not loaded: ${backendInfo().reason}`).not.toBeNull();
});

function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): string | null {
  if (a.length !== b.length) return `lengths ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) return `index ${i}: ${a[i]} vs ${b[i]}`;
  }
  return null;
}

/** The native result equals the reference's, field for field, bit for bit. */
function expectSame(native: QuantizedTensor, ref: QuantizedTensor, what: string): void {
  expect(Object.keys(native).sort(), what).toEqual(Object.keys(ref).sort());
  expect(native.format, what).toBe(ref.format);
  expect(native.shape, what).toEqual(ref.shape);
  expect(native.blockSize, what).toBe(ref.blockSize);
  expect([native.svSmall, native.svBig, native.svAct], what).toEqual([ref.svSmall, ref.svBig, ref.svAct]);
  expect(native.codes, what).toBeInstanceOf(Uint8Array);
  expect(native.scales, what).toBeInstanceOf(Uint8Array);
  expect(firstDiff(native.scales, ref.scales), `${what}: scales`).toBeNull();
  expect(firstDiff(native.codes, ref.codes), `${what}: codes`).toBeNull();
  expect(Object.is(native.globalScale, ref.globalScale), `${what}: globalScale ${native.globalScale} vs ${ref.globalScale}`).toBe(true);
}

async function check(
  data: Float32Array | Uint16Array,
  shape: readonly [number, number],
  format: NativeFormat,
  options: NativeQuantizeOptions = {},
  what = '',
): Promise<void> {
  const ref = quantize(data, shape, format, options);
  const label = `${format} [${shape.join(', ')}] ${what}`;
  expectSame(await nativeQuantize(data, shape, format, options), ref, `${label} (async)`);
  expectSame(nativeQuantizeSync(data, shape, format, { ...options, threads: 1 }), ref, `${label} (sync, 1 thread)`);
  // Dequantization is exact arithmetic on the same bits: equal to the reference.
  expect(firstDiff(await nativeDequantize(ref), dequantize(ref)), `${label}: dequantize`).toBeNull();
}

describe('nativeQuantize matches quantize() bit for bit', () => {
  for (const format of FORMATS) {
    for (const dist of DISTRIBUTIONS) {
      it(`${format}, ${dist}`, async () => {
        for (const [rows, cols, seed] of [
          [7, 64, 1],
          [33, 256, 2],
          [1, 16, 3],
          [64, 512, 4],
        ] as const) {
          await check(draw(dist, rows, cols, seed + 100 * FORMATS.indexOf(format)), [rows, cols], format, {}, dist);
        }
      });
    }
  }

  it('non-default special values', async () => {
    const x = draw('studentT3', 17, 128, 11);
    await check(x, [17, 128], 'nvfp4_razer', { svSmall: 7, svBig: 12 }, 'sv 7/12');
    await check(x, [17, 128], 'nvfp4_razer', { svSmall: 10, svBig: 16 }, 'sv 10/16');
    await check(x, [17, 128], 'nvfp4_razer_a', { svAct: 7 }, 'svAct 7');
    await check(x, [17, 128], 'nvfp4_razer_a', { svAct: 0.375 }, 'svAct 0.375');
  });

  it('a static global scale (nvfp4, nvfp4_razer_a), including one that clips', async () => {
    const x = draw('laplace', 9, 64, 12);
    for (const globalScale of [Math.fround(0.001), 1 / 1024, Math.fround(3.5e-6)]) {
      await check(x, [9, 64], 'nvfp4', { globalScale }, `G ${globalScale}`);
      await check(x, [9, 64], 'nvfp4_razer_a', { globalScale }, `G ${globalScale}`);
    }
  });

  it('fp16 and bf16 inputs (the same bits as the reference reads)', async () => {
    const x = draw('gaussian', 5, 96, 13, 3);
    for (const format of FORMATS) {
      await check(Uint16Array.from(x, f32ToF16), [5, 96], format, { dtype: 'f16' }, 'f16');
      await check(Uint16Array.from(x, f32ToBf16), [5, 96], format, { dtype: 'bf16' }, 'bf16');
    }
  });

  it('many threads and one thread agree on a large tensor', async () => {
    const x = draw('outlierChannels', 257, 1024, 14);
    for (const format of FORMATS) {
      const many = await nativeQuantize(x, [257, 1024], format, { threads: 8 });
      const one = nativeQuantizeSync(x, [257, 1024], format, { threads: 1 });
      expectSame(many, one, `${format} threads 8 vs 1`);
      expectSame(many, quantize(x, [257, 1024], format), `${format} vs reference`);
    }
  });
});

describe('SPEC edge cases', () => {
  const cases: [string, () => Float32Array, readonly [number, number]][] = [
    ['all zeros', () => new Float32Array(3 * 32), [3, 32]],
    ['negative zeros', () => new Float32Array(2 * 16).fill(-0), [2, 16]],
    [
      'a zero block inside a non-zero tensor',
      () => {
        const x = draw('gaussian', 3, 64, 21);
        x.fill(0, 16, 32);
        x.fill(0, 64 + 48, 128);
        return x;
      },
      [3, 64],
    ],
    [
      '±max float',
      () => {
        const x = draw('gaussian', 2, 32, 22);
        x[0] = 3.4028234663852886e38;
        x[17] = -3.4028234663852886e38;
        return x;
      },
      [2, 32],
    ],
    ['tiny subnormal-scale inputs', () => draw('gaussian', 3, 32, 23, 1e-40), [3, 32]],
    ['the smallest subnormal', () => new Float32Array(16).fill(1.401298464324817e-45), [1, 16]],
    ['amax / 2688 just above underflow', () => draw('laplace', 1, 48, 24, 1e-35), [1, 48]],
    [
      'huge dynamic range within blocks',
      () => draw('gaussian', 5, 32, 25).map((v, i) => v * 10 ** ((i % 16) * 4 - 30)),
      [5, 32],
    ],
    [
      'exact E2M1 midpoints (ties to even)',
      () => Float32Array.from({ length: 4 * 16 }, (_, i) => ((i % 32) - 16) * 0.25 * (i >= 32 ? -1 : 1)),
      [4, 16],
    ],
    [
      'values at the special values and their windows',
      () => Float32Array.from({ length: 3 * 16 }, (_, i) => [5, -5, 8, -8, 4.5, 5.5, 7, 6.5, 12, -12, 0, 6, -6, 1, 2, 3][i % 16] * (1 + Math.floor(i / 16))),
      [3, 16],
    ],
    ['odd row count, one row', () => draw('studentT3', 1, 16, 26), [1, 16]],
    ['odd row count, 31 rows', () => draw('studentT3', 31, 48, 27), [31, 48]],
  ];
  for (const [name, make, shape] of cases) {
    it(name, async () => {
      for (const format of FORMATS) await check(make(), shape, format, {}, name);
    });
  }

  it('all zeros gives G = 0, zero scales and zero codes (SPEC §3)', async () => {
    const q = await nativeQuantize(new Float32Array(64), [2, 32], 'nvfp4_razer');
    expect(q.globalScale).toBe(0);
    expect(q.codes.every((c) => c === 0)).toBe(true);
    expect(q.scales.every((s) => s === 0)).toBe(true);
  });

  it('worked example 2 of SPEC §5 (nvfp4_razer, scale byte 0x5C)', async () => {
    const block = [12, -2, 8.4, 3.1, 0.2, -0.9, 1.6, -4.4, 0, 0, 0.5, 0.3, -1.2, 2.2, 5.1, -0.05];
    const x = new Float32Array(32);
    x.set(block);
    x[16] = 180; // tensor amax 180, so G = 1
    const q = await nativeQuantize(x, [1, 32], 'nvfp4_razer');
    expect(q.globalScale).toBe(1);
    expect(q.scales[0]).toBe(0x5c);
    const nibbles = Array.from({ length: 16 }, (_, i) => (q.codes[i >> 1] >> ((i & 1) * 4)) & 0xf);
    expect(nibbles.map((c) => c.toString(16)).join('')).toBe('8b74092d0010a350');
  });
});

describe('NativeWeight', () => {
  it('dequantizes like the QuantizedTensor it was made from, every format', () => {
    for (const format of FORMATS) {
      const q = quantize(draw('gaussian', 6, 64, 31), [6, 64], format);
      const w = NativeWeight.fromQuantized(q);
      expect(w instanceof NativeWeight).toBe(true);
      expect([w.rows, w.cols, w.byteLength]).toEqual([6, 64, 6 * 32 + 6 * 4]);
      expect(w.format).toBe(format === 'nvfp4_4over6' ? 'nvfp4' : format);
      expect(firstDiff(nativeDequantizeSync(w), dequantize(q)), format).toBeNull();
      w.dispose();
      expect(w.disposed).toBe(true);
    }
  });

  it('keeps its own copy: changing the source buffers afterwards changes nothing', () => {
    const q = quantize(draw('gaussian', 2, 32, 32), [2, 32], 'nvfp4');
    const w = NativeWeight.fromQuantized(q);
    const before = nativeDequantizeSync(w);
    q.codes.fill(0x77);
    expect(firstDiff(nativeDequantizeSync(w), before)).toBeNull();
    w.dispose();
  });
});
