// GPU-only: the high-level API's default backend on a GPU machine.
// quantize() / quantizeAsync() on the cuda backend are bit-identical to the
// reference (codes, scale bytes, G) from f32, f16 and bf16 over several
// distributions and odd shapes, reject non-finite input as the reference
// does, and free every device allocation; the default is cuda for the NVFP4
// family; gemmW4A16 with no backend runs on cuda for bf16 X, within SPEC §4.
// Skipped (with the reason printed) where there is no usable CUDA device.
import { describe, expect, it } from 'vitest';
import { gemmBackend, gemmW4A16 } from '../lib/backend.js';
import { f32ToBf16, f32ToF16 } from '../lib/codecs.js';
import type { Format, QuantizeOptions, QuantizedTensor } from '../lib/formats.js';
import { errorMetrics } from '../lib/metrics.js';
import { backendInfo, nativeMemoryStats } from '../lib/native/index.js';
import { type BackendQuantizeOptions, quantize, quantizeAsync, quantizeBackendChoice } from '../lib/quantize.js';
import { referenceGemmW4A16 } from '../lib/reference/gemm.js';
import { referenceQuantize } from '../lib/reference/quantize.js';
import { DISTRIBUTIONS, draw, nonFiniteCases } from './helpers/distributions.js';
import { caught, expectCode, rejected } from './helpers/errors.js';
import { gpuGate } from './helpers/native.js';

const gate = gpuGate();
if (!gate.hasGpu) console.warn(`[native-gpu-default] GPU tests skipped: ${gate.reason}`);

type XDtype = 'f32' | 'f16' | 'bf16';
const DTYPES: readonly XDtype[] = ['f32', 'f16', 'bf16'];
const WEIGHT_FORMATS = ['nvfp4', 'nvfp4_4over6', 'nvfp4_razer'] as const;
/** Odd row counts, one block, several blocks, K not a power of two. */
const SHAPES: readonly (readonly [number, number])[] = [
  [1, 16],
  [3, 48],
  [37, 320],
  [5, 4112],
];

function hostAs(x: Float32Array, dtype: XDtype): Float32Array | Uint16Array {
  if (dtype === 'f32') return x;
  return Uint16Array.from(x, dtype === 'f16' ? f32ToF16 : f32ToBf16);
}

function withDtype(options: QuantizeOptions, dtype: XDtype): QuantizeOptions {
  return { ...options, dtype: dtype === 'f32' ? undefined : dtype };
}

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

/** The same tensor, bit for bit: fields, codes, scale bytes and G (Object.is: +0 is not -0). */
function expectSameTensor(got: QuantizedTensor, ref: QuantizedTensor, what: string): void {
  const fields = (q: QuantizedTensor) => ({ ...q, codes: undefined, scales: undefined, globalScale: undefined });
  expect(Object.keys(got), what).toEqual(Object.keys(ref));
  expect(fields(got), what).toEqual(fields(ref));
  expect(got.codes, what).toBeInstanceOf(Uint8Array);
  expect(got.scales, what).toBeInstanceOf(Uint8Array);
  expect(sameBytes(got.codes, ref.codes), `${what}: codes`).toBe(true);
  expect(sameBytes(got.scales, ref.scales), `${what}: scale bytes`).toBe(true);
  expect(Object.is(got.globalScale, ref.globalScale), `${what}: G ${got.globalScale} vs ${ref.globalScale}`).toBe(true);
}

/** Device bytes held by live native objects: what a call must give back. */
const nativeBytes = () => nativeMemoryStats()?.nativeBytes ?? 0;

describe.skipIf(!gate.hasGpu)('the default backend on a GPU machine', () => {
  it('is cuda for the NVFP4 family (the reference for mxfp4 and nf4), and for bf16 W4A16 products', () => {
    expect(backendInfo().backend, backendInfo().reason).toBe('cuda');
    for (const format of [...WEIGHT_FORMATS, 'nvfp4_razer_a'] as const) {
      expect(quantizeBackendChoice(format).backend, format).toBe('cuda');
    }
    for (const format of ['mxfp4', 'nf4'] as const) expect(quantizeBackendChoice(format).backend, format).toBe('reference');
    const w = quantize(draw('gaussian', 8, 64, 1), [8, 64], 'nvfp4_razer');
    expect(gemmBackend(new Uint16Array(128), w, { dtype: 'bf16' }).backend).toBe('cuda');
    expect(gemmBackend(new Float32Array(128), w).backend).toBe('cpu');
  });
});

describe.skipIf(!gate.hasGpu)("quantize() on the cuda backend: bit-identical to the reference", () => {
  it('weights (nvfp4, nvfp4_4over6, nvfp4_razer) from f32/f16/bf16, every distribution, odd shapes: explicit and default, sync', () => {
    for (const [d, dist] of DISTRIBUTIONS.entries()) {
      for (const [s, shape] of SHAPES.entries()) {
        const x = draw(dist, shape[0], shape[1], 100 + 10 * d + s, 0.02);
        for (const dtype of DTYPES) {
          const data = hostAs(x, dtype);
          for (const format of WEIGHT_FORMATS) {
            const what = `${dist} [${shape}] ${dtype} ${format}`;
            const ref = referenceQuantize(data, shape, format, withDtype({}, dtype));
            const before = nativeBytes();
            expectSameTensor(quantize(data, shape, format, { dtype: withDtype({}, dtype).dtype, backend: 'cuda' }), ref, what);
            expectSameTensor(quantize(data, shape, format, withDtype({}, dtype)), ref, `${what} (default)`);
            expect(nativeBytes(), `${what}: device memory freed`).toBe(before);
          }
        }
      }
    }
  });

  it('quantizeAsync: the same tensors, explicit and default', async () => {
    for (const [d, dist] of DISTRIBUTIONS.entries()) {
      const shape = SHAPES[(d % 3) + 1];
      const x = draw(dist, shape[0], shape[1], 200 + d, 0.05);
      for (const dtype of DTYPES) {
        const data = hostAs(x, dtype);
        for (const format of WEIGHT_FORMATS) {
          const what = `${dist} [${shape}] ${dtype} ${format} async`;
          const ref = referenceQuantize(data, shape, format, withDtype({}, dtype));
          const before = nativeBytes();
          const [a, b] = await Promise.all([
            quantizeAsync(data, shape, format, { ...withDtype({}, dtype), backend: 'cuda' }),
            quantizeAsync(data, shape, format, withDtype({}, dtype)),
          ]);
          expectSameTensor(a, ref, what);
          expectSameTensor(b, ref, `${what} (default)`);
          expect(nativeBytes(), `${what}: device memory freed`).toBe(before);
        }
      }
    }
  });

  it('every parameter quantize() takes: special values (below 1 too), nvfp4_razer_a, static global scales, a name', async () => {
    const shape = [17, 256] as const;
    const x = draw('studentT3', shape[0], shape[1], 300, 3);
    const runs: [string, 'nvfp4' | 'nvfp4_razer' | 'nvfp4_razer_a', QuantizeOptions][] = [
      ['razer 7/12', 'nvfp4_razer', { svSmall: 7, svBig: 12 }],
      ['razer 0.75/0.875', 'nvfp4_razer', { svSmall: 0.75, svBig: 0.875 }],
      ['razer 40/64', 'nvfp4_razer', { svSmall: 40, svBig: 64 }],
      ['razer_a', 'nvfp4_razer_a', {}],
      ['razer_a svAct 0.75', 'nvfp4_razer_a', { svAct: 0.75 }],
      ['razer_a static', 'nvfp4_razer_a', { globalScale: Math.fround(0.004), svAct: 8 }],
      ['nvfp4 static', 'nvfp4', { globalScale: Math.fround(0.001), name: 'layer.act' }],
    ];
    for (const dtype of DTYPES) {
      const data = hostAs(x, dtype);
      for (const [name, format, options] of runs) {
        const what = `${dtype} ${name}`;
        const ref = referenceQuantize(data, shape, format, withDtype(options, dtype));
        expectSameTensor(quantize(data, shape, format, { ...withDtype(options, dtype), backend: 'cuda' }), ref, what);
        expectSameTensor(await quantizeAsync(data, shape, format, { ...withDtype(options, dtype), backend: 'cuda' }), ref, `${what} async`);
      }
    }
  });

  it('edge cases: all zeros, a zero block, G underflowing to 0', () => {
    const zeroBlock = draw('gaussian', 3, 64, 7);
    zeroBlock.fill(0, 16, 32);
    const cases: [string, Float32Array, readonly [number, number]][] = [
      ['all zeros', new Float32Array(3 * 32), [3, 32]],
      ['a zero block', zeroBlock, [3, 64]],
      ['G underflows to 0', new Float32Array(16).fill(1e-44), [1, 16]],
    ];
    for (const [name, x, shape] of cases) {
      for (const format of [...WEIGHT_FORMATS, 'nvfp4_razer_a'] as const) {
        expectSameTensor(quantize(x, shape, format, { backend: 'cuda' }), referenceQuantize(x, shape, format), `${name} ${format}`);
      }
    }
  });

  it('NaN and ±Inf: ERR_NON_FINITE in the reference\'s words (tensor and first bad element), memory freed', async () => {
    for (const dtype of DTYPES) {
      for (const { bad, x } of nonFiniteCases()) {
        const data = hostAs(x, dtype);
        for (const format of [...WEIGHT_FORMATS, 'nvfp4_razer_a'] as const) {
          for (const options of [withDtype({}, dtype), withDtype({ name: 'model.w' }, dtype)] as BackendQuantizeOptions[]) {
            const what = `${dtype} ${format} ${options.name ?? '(no name)'} bad at ${bad}`;
            const ref = caught(() => referenceQuantize(data, [3, 64], format, options));
            expectCode(ref, 'ERR_NON_FINITE', new RegExp(`^${options.name ?? 'data'}: element ${bad} \\(row ${bad >> 6}, col ${bad % 64}\\)`));
            const before = nativeBytes();
            expectCode(caught(() => quantize(data, [3, 64], format, { ...options, backend: 'cuda' })), 'ERR_NON_FINITE', ref.message);
            expectCode(caught(() => quantize(data, [3, 64], format, options)), 'ERR_NON_FINITE', ref.message);
            expectCode(await rejected(quantizeAsync(data, [3, 64], format, { ...options, backend: 'cuda' })), 'ERR_NON_FINITE', ref.message);
            expect(nativeBytes(), `${what}: device memory freed`).toBe(before);
          }
        }
      }
    }
  });

  it("argument errors come before any upload, in the reference's words", async () => {
    const x = draw('gaussian', 2, 32, 10);
    const cases: [Float32Array, readonly [number, number], Format, QuantizeOptions][] = [
      [x, [3, 32], 'nvfp4', {}], // length
      [draw('gaussian', 2, 24, 11), [2, 24], 'nvfp4', {}], // K
      [x, [2, 32], 'nvfp4', { dtype: 'bf16' }],
      [x, [2, 32], 'nvfp4', { blockSize: 32 }],
      [x, [2, 32], 'nvfp4_razer', { svSmall: 6 }],
      [x, [2, 32], 'nvfp4_razer', { globalScale: 0.5 }],
    ];
    const before = nativeBytes();
    for (const [data, shape, format, options] of cases) {
      const ref = caught(() => referenceQuantize(data, shape, format, options));
      expectCode(caught(() => quantize(data, shape, format, { ...options, backend: 'cuda' })), ref.code, ref.message);
      expectCode(await rejected(() => quantizeAsync(data, shape, format, { ...options, backend: 'cuda' })), ref.code, ref.message);
    }
    expect(nativeBytes()).toBe(before);
  });
});

describe.skipIf(!gate.hasGpu)('gemmW4A16 with no backend named', () => {
  it('runs on cuda for f16/bf16 X and matches the reference within SPEC §4 (fp32 output: 1e-5)', () => {
    for (const [M, N, K, format, dtype] of [
      [16, 200, 1024, 'nvfp4_razer', 'bf16'],
      [1, 37, 4112, 'nvfp4', 'bf16'],
      [3, 37, 48, 'nvfp4_4over6', 'f16'],
    ] as const) {
      const what = `M${M} N${N} K${K} ${format} ${dtype}`;
      const w = quantize(draw('outlierChannels', N, K, 400 + M, 0.02), [N, K], format);
      const x = hostAs(draw('gaussian', M, K, 410 + M), dtype) as Uint16Array;
      const bias = draw('gaussian', 1, N, 420 + M);
      expect(gemmBackend(x, w, { dtype, bias }).backend, what).toBe('cuda');
      const before = nativeBytes();
      const y = gemmW4A16(undefined, x, [M, K], w, { dtype, bias });
      expect(nativeBytes(), `${what}: device memory freed`).toBe(before);
      expect(y, what).toBeInstanceOf(Float32Array);
      expect(y.every(Number.isFinite), `${what}: no NaN`).toBe(true);
      const rel = errorMetrics(referenceGemmW4A16(x, [M, K], w, { dtype, bias }), y).relFrobenius;
      expect(rel, `${what}: relative error ${rel}`).toBeLessThanOrEqual(1e-5);
      expect(gemmW4A16('auto', x, [M, K], w, { dtype, bias }), what).toEqual(y);
    }
  });
});
