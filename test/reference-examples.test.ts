// SPEC §5 worked examples and SPEC §3/§6 edge cases of the reference quantizers.
import { describe, expect, it } from 'vitest';
import { e3m3Decode, e4m3Decode, f32ToBf16, f32ToF16 } from '../lib/codecs.js';
import { RazerError } from '../lib/errors.js';
import { FORMATS, type Format } from '../lib/formats.js';
import { dequantize } from '../lib/quantize.js';
import { referenceQuantize as quantize } from '../lib/reference/quantize.js';
import { getCode } from '../lib/reference/packing.js';

const f32 = Math.fround;

function codesOf(q: { codes: Uint8Array }, start: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => getCode(q.codes, start + i));
}

/** Expect a RazerError with this code whose message contains every fragment. */
function expectError(fn: () => unknown, code: string, ...fragments: string[]): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RazerError);
    expect((e as RazerError).code).toBe(code);
    for (const f of fragments) expect((e as Error).message).toContain(f);
    return;
  }
  throw new Error(`expected a ${code} error`);
}

describe('SPEC §5 worked examples', () => {
  it('1: nvfp4 block of a tensor with amax 10', () => {
    const x = new Float32Array(32);
    x.set([1.0, 0.5, -0.3, 0.05]);
    x[20] = 10;
    const q = quantize(x, [1, 32], 'nvfp4');
    expect(q.globalScale).toBe(f32(10 / 2688));
    expect(q.scales[0]).toBe(0x63);
    expect(e4m3Decode(q.scales[0])).toBe(44);
    expect(codesOf(q, 0, 4)).toEqual([0x7, 0x5, 0xc, 0x1]);
    const deq = dequantize(q);
    const want = [0.98214, 0.49107, -0.32738, 0.08185];
    for (let i = 0; i < 4; i++) expect(deq[i]).toBeCloseTo(want[i], 5);
  });

  it('2: nvfp4_razer block picks +8 with scale byte 0x5C', () => {
    const block = [12, -2, 8.4, 3.1, 0.2, -0.9, 1.6, -4.4, 0, 0, 0.5, 0.3, -1.2, 2.2, 5.1, -0.05];
    const x = new Float32Array(32);
    x.set(block);
    x[31] = -180; // tensor amax 180, so G = 1
    const q = quantize(x, [1, 32], 'nvfp4_razer');
    expect(q.globalScale).toBe(1);
    expect(q.scales[0]).toBe(0x5c);
    expect(e3m3Decode(q.scales[0])).toBe(1.5);
    expect(codesOf(q, 0, 16).map((c) => c.toString(16)).join(' ')).toBe(
      '8 b 7 4 0 9 2 d 0 0 1 0 a 3 5 0',
    );
    expect(dequantize(q)[0]).toBe(12); // the sentinel decodes as +8 * 1.5
  });

  it('2: the sentinel decodes by the scale bits (−svBig, ±svSmall)', () => {
    const q = quantize(new Float32Array(32).fill(1), [1, 32], 'nvfp4_razer');
    const codes = new Uint8Array(q.codes);
    codes[0] = 0x08; // element 0 is the sentinel
    const scales = new Uint8Array(q.scales);
    const s = e3m3Decode(scales[0]);
    const cases: [number, number][] = [[0x00, 5], [0x80, -5], [0x40, 8], [0xc0, -8]];
    for (const [bits, sv] of cases) {
      scales[0] = (q.scales[0] & 0x3f) | bits;
      const deq = dequantize({ ...q, codes, scales });
      expect(deq[0]).toBe(f32(f32(sv * s) * q.globalScale));
    }
  });
});

describe('SPEC tie rules', () => {
  it('RaZeR: an element exactly between the SV and its E2M1 value takes the SV', () => {
    const x = new Float32Array(16);
    x.set([6, 5.5, -4.5]); // static G = 1 and block max 6 give s = 1, d = 1
    const q = quantize(x, [1, 16], 'nvfp4_razer_a', { globalScale: 1 });
    expect(e4m3Decode(q.scales[0] & 0x7f)).toBe(1);
    expect(q.scales[0] >> 7).toBe(0); // +5 and -5 tie on error (0.5): the first (+5) is kept
    expect(codesOf(q, 0, 3)).toEqual([0x7, 0x8, 0xe]);
  });

  it('4over6: equal errors keep the scale that maps the max to 6', () => {
    const x = new Float32Array(32);
    x.set([3, 1.5]); // G = 1 (amax 1536 below); s6 = 0.5 and s4 = 0.75 are both exact
    x[31] = 1536;
    const q = quantize(x, [1, 32], 'nvfp4_4over6');
    expect(q.globalScale).toBe(1);
    expect(e4m3Decode(q.scales[0])).toBe(0.5);
  });
});

describe('edge cases (SPEC §3, §6)', () => {
  const nonzeroShape: [number, number] = [2, 64];

  it('an all-zero tensor: G = 0, scale bytes 0, codes 0, dequant 0 — every format', () => {
    for (const format of FORMATS) {
      const q = quantize(new Float32Array(128), nonzeroShape, format);
      expect(q.globalScale).toBe(format === 'mxfp4' || format === 'nf4' ? 1 : 0);
      expect(q.codes.every((b) => b === (format === 'nf4' ? 0x77 : 0))).toBe(true);
      if (format === 'mxfp4') expect(q.scales.every((b) => b === 0)).toBe(true); // e = -127
      else expect(q.scales.every((b) => b === 0)).toBe(true);
      expect(dequantize(q).every((v) => v === 0)).toBe(true);
    }
  });

  it('a zero block inside a non-zero tensor gets the clamp-minimum scale and codes 0', () => {
    const x = new Float32Array(128);
    x[100] = 3;
    const min: Record<Format, number> = {
      nvfp4: 0x01, // 2^-9
      nvfp4_4over6: 0x01,
      nvfp4_razer: 0x01, // E3M3 2^-5, +svSmall kept on the all-tie
      nvfp4_razer_a: 0x01,
      mxfp4: 0,
      nf4: 0,
    };
    for (const format of FORMATS) {
      const q = quantize(x, [1, 128], format);
      expect(q.scales[0]).toBe(min[format]);
      expect(codesOf(q, 0, 16).every((c) => c === (format === 'nf4' ? 7 : 0))).toBe(true);
    }
  });

  it('±max binary32 values quantize to finite scales and dequantize finite, max kept within 1/8', () => {
    const big = 3.4028234663852886e38;
    const x = new Float32Array(64);
    x[0] = big;
    x[17] = -big;
    x[33] = f32(big / 3);
    for (const format of FORMATS) {
      const q = quantize(x, [1, 64], format);
      const deq = dequantize(q);
      expect(deq.every(Number.isFinite), format).toBe(true);
      // mxfp4 maps a block max into [4, 8) and saturates at 6: up to 1/4 off by design.
      const tol = format === 'mxfp4' ? 0.25 : 0.125;
      expect(Math.abs(deq[0] - big) / big, format).toBeLessThanOrEqual(tol);
      expect(Math.abs(deq[17] + big) / big, format).toBeLessThanOrEqual(tol);
    }
  });

  it('subnormal inputs: an amax whose G underflows is encoded as zero; small G stays finite', () => {
    const tiny = new Float32Array(32).fill(1e-44);
    for (const format of ['nvfp4', 'nvfp4_razer', 'nvfp4_razer_a', 'nvfp4_4over6'] as const) {
      const q = quantize(tiny, [1, 32], format);
      expect(q.globalScale).toBe(0);
      expect(dequantize(q).every((v) => v === 0)).toBe(true);
    }
    // G subnormal but non-zero: scales on the grid, no NaN, values representable.
    const x = new Float32Array(64);
    x[0] = 1e-38;
    x[1] = -5e-39;
    x[20] = 1e-41;
    for (const format of FORMATS) {
      const q = quantize(x, [1, 64], format);
      const deq = dequantize(q);
      expect(deq.every(Number.isFinite), format).toBe(true);
      expect(Math.abs(deq[0] - 1e-38), format).toBeLessThanOrEqual(0.25e-38);
      if (format.startsWith('nvfp4')) expect(q.globalScale).toBeGreaterThan(0);
    }
  });

  it('NaN and ±Inf are errors naming the tensor and the first bad index', () => {
    const x = new Float32Array(64).fill(1);
    x[37] = NaN;
    x[50] = Infinity;
    for (const format of FORMATS) {
      expectError(
        () => quantize(x, [1, 64], format, { name: 'layers.0.q_proj.weight' }),
        'ERR_NON_FINITE',
        'layers.0.q_proj.weight',
        'element 37',
        'row 0, col 37',
      );
    }
    const y = new Float32Array(32).fill(1);
    y[3] = -Infinity;
    expectError(() => quantize(y, [1, 32], 'nvfp4'), 'ERR_NON_FINITE', 'element 3', '-Infinity');
    const h = new Uint16Array(16).fill(0x3c00);
    h[9] = 0x7c00;
    expectError(() => quantize(h, [1, 16], 'nvfp4', { dtype: 'f16' }), 'ERR_NON_FINITE', 'element 9');
  });

  it('bad shapes, dtypes, formats and options are clear errors', () => {
    const x = new Float32Array(64);
    expectError(() => quantize(x, [2, 30] as never, 'nvfp4'), 'ERR_SHAPE', '[2, 30]', '60', '64');
    expectError(() => quantize(new Float32Array(40), [2, 20], 'nvfp4'), 'ERR_SHAPE', 'multiple of 16', '20');
    expectError(() => quantize(x, [1, 64], 'mxfp4' as Format, { blockSize: 16 }), 'ERR_ARGUMENT', 'blockSize');
    expectError(() => quantize(new Float32Array(64), [1, 64], 'nf4', { blockSize: 48 }), 'ERR_SHAPE', '48');
    expectError(() => quantize(x, [1, 64], 'nf4', { blockSize: 3 }), 'ERR_ARGUMENT', 'blockSize');
    expectError(() => quantize(x, [0, 64] as never, 'nvfp4'), 'ERR_SHAPE', 'positive integers');
    expectError(() => quantize(x, [1, 64], 'fp8' as Format), 'ERR_FORMAT', 'nvfp4_razer', '"fp8"');
    expectError(() => quantize(new Uint16Array(64), [1, 64], 'nvfp4'), 'ERR_DTYPE', "'f16' or 'bf16'");
    expectError(() => quantize([1, 2] as never, [1, 2], 'nvfp4'), 'ERR_DTYPE', 'Float32Array');
    expectError(() => quantize(x, [1, 64], 'nvfp4_razer', { svSmall: 6 }), 'ERR_ARGUMENT', 'svSmall', 'got 6');
    expectError(() => quantize(x, [1, 64], 'nvfp4_razer', { svBig: 9 }), 'ERR_ARGUMENT', 'svBig', '9');
    expectError(() => quantize(x, [1, 64], 'nvfp4_razer', { svSmall: 8, svBig: 5 }), 'ERR_ARGUMENT', 'less than');
    expectError(() => quantize(x, [1, 64], 'nvfp4_razer_a', { svAct: NaN }), 'ERR_ARGUMENT', 'svAct');
    expectError(() => quantize(x, [1, 64], 'nvfp4_razer', { globalScale: 1 }), 'ERR_ARGUMENT', 'static');
    expectError(() => quantize(x, [1, 64], 'nvfp4', { globalScale: -1 }), 'ERR_ARGUMENT', 'globalScale');
    expectError(() => quantize(x, [1, 64], 'nvfp4', { globalScale: 0.1 }), 'ERR_ARGUMENT', 'binary32');
  });

  it('fp16 and bf16 input equals its exact fp32 widening', () => {
    const vals = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i * 1.7) * (i % 5 === 0 ? 40 : 1));
    const h = Uint16Array.from(vals, f32ToF16);
    const b = Uint16Array.from(vals, f32ToBf16);
    for (const format of FORMATS) {
      for (const [bits, dtype] of [[h, 'f16'], [b, 'bf16']] as const) {
        const widened = new Float32Array(64);
        const qBits = quantize(bits, [1, 64], format, { dtype });
        for (let i = 0; i < 64; i++) widened[i] = dtype === 'f16' ? f16(bits[i]) : bf16(bits[i]);
        const qWide = quantize(widened, [1, 64], format);
        expect(qBits.codes).toEqual(qWide.codes);
        expect(qBits.scales).toEqual(qWide.scales);
        expect(qBits.globalScale).toBe(qWide.globalScale);
      }
    }
  });

  it('a static global scale replaces amax / 2688 for nvfp4 and nvfp4_razer_a', () => {
    const x = Float32Array.from({ length: 32 }, (_, i) => i - 10);
    for (const format of ['nvfp4', 'nvfp4_razer_a'] as const) {
      const g = f32(0.01);
      const q = quantize(x, [1, 32], format, { globalScale: g });
      expect(q.globalScale).toBe(g);
      // 21/0.01 = 2100 > 448 * 6 would clip: here bm/6 = 350 fits, so the max is kept.
      expect(Math.abs(dequantize(q)[31] - 21)).toBeLessThanOrEqual(21 / 6);
    }
  });
});

// Exact widening helpers (kept local: the test checks the quantizer's own input path against these).
function f16(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 31;
  const m = h & 1023;
  return s * (e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15));
}
function bf16(b: number): number {
  const buf = new DataView(new ArrayBuffer(4));
  buf.setUint32(0, b << 16);
  return buf.getFloat32(0);
}
