// The native CPU GEMMs against the float64 references (SPEC §4): relative
// Frobenius error <= 1e-5 with fp32 output, <= 8e-3 with bf16, <= 2e-3 with
// fp16 (11-bit significand), never NaN; every weight format, every input and
// output dtype, with and without bias.
import { beforeAll, describe, expect, it } from 'vitest';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../lib/codecs.js';
import { errorMetrics } from '../lib/metrics.js';
import {
  type NativeDtype,
  type NativeFormat,
  backendInfo,
  loadAddon,
  nativeGemmW4A16,
  nativeGemmW4A16Sync,
  nativeGemmW4A4,
  nativeGemmW4A4Sync,
  NativeWeight,
} from '../lib/native/index.js';
import { referenceQuantize as quantize } from '../lib/reference/quantize.js';
import { referenceGemmW4A16, referenceGemmW4A4 } from '../lib/reference/gemm.js';
import { draw } from './helpers/distributions.js';

const WEIGHT_FORMATS: readonly NativeFormat[] = ['nvfp4', 'nvfp4_4over6', 'nvfp4_razer', 'nvfp4_razer_a'];
const OUT: readonly NativeDtype[] = ['f32', 'f16', 'bf16'];
const TOLERANCE: Record<NativeDtype, number> = { f32: 1e-5, f16: 2e-3, bf16: 8e-3 };

beforeAll(() => {
  expect(loadAddon(), `native addon not loaded: ${backendInfo().reason}`).not.toBeNull();
});

function widen(y: Float32Array | Uint16Array, dtype: NativeDtype): Float64Array {
  if (dtype === 'f32') return Float64Array.from(y as Float32Array);
  return Float64Array.from(y as Uint16Array, dtype === 'f16' ? f16ToF32 : bf16ToF32);
}

function expectClose(y: Float32Array | Uint16Array, dtype: NativeDtype, ref: Float64Array, what: string): void {
  expect(y, what).toBeInstanceOf(dtype === 'f32' ? Float32Array : Uint16Array);
  expect(y.length, what).toBe(ref.length);
  const got = widen(y, dtype);
  expect(got.some(Number.isNaN), `${what}: NaN in output`).toBe(false);
  const rel = errorMetrics(ref, got).relFrobenius;
  expect(rel, `${what}: relative error ${rel}`).toBeLessThanOrEqual(TOLERANCE[dtype]);
}

/** X as each input dtype: the data and the exactly widened fp32 values the reference sees. */
function inputs(x: Float32Array): [NativeDtype, Float32Array | Uint16Array][] {
  return [
    ['f32', x],
    ['f16', Uint16Array.from(x, f32ToF16)],
    ['bf16', Uint16Array.from(x, f32ToBf16)],
  ];
}

describe('nativeGemmW4A16 vs referenceGemmW4A16', () => {
  for (const format of WEIGHT_FORMATS) {
    it(`${format}: every input and output dtype, with and without bias`, async () => {
      for (const [M, N, K, seed] of [
        [1, 37, 192, 1],
        [5, 64, 256, 2],
        [17, 19, 64, 3],
      ] as const) {
        const w = quantize(draw('studentT3', N, K, seed), [N, K], format);
        const x = draw('gaussian', M, K, seed + 10);
        const bias = draw('laplace', 1, N, seed + 20);
        for (const [xDtype, xData] of inputs(x)) {
          const dtype = xDtype === 'f32' ? undefined : xDtype;
          for (const b of [undefined, bias]) {
            const ref = referenceGemmW4A16(xData, [M, K], w, { dtype, bias: b });
            for (const outDtype of OUT) {
              const what = `${format} M${M} N${N} K${K} x ${xDtype} out ${outDtype}${b ? ' +bias' : ''}`;
              expectClose(await nativeGemmW4A16(xData, [M, K], w, { dtype, bias: b, outDtype }), outDtype, ref, what);
            }
          }
        }
      }
    });
  }

  it('Sync, async, NativeWeight and thread counts all give the same bits', async () => {
    const [M, N, K] = [9, 70, 512];
    const q = quantize(draw('outlierChannels', N, K, 5), [N, K], 'nvfp4_razer');
    const x = draw('gaussian', M, K, 6);
    const a = await nativeGemmW4A16(x, [M, K], q);
    const w = NativeWeight.fromQuantized(q);
    expect(nativeGemmW4A16Sync(x, [M, K], w)).toEqual(a);
    expect(await nativeGemmW4A16(x, [M, K], w, { threads: 1 })).toEqual(a);
    expect(await nativeGemmW4A16(x, [M, K], w, { threads: 7 })).toEqual(a);
    w.dispose();
  });

  it('a larger product with outlier channels stays within the fp32 tolerance', async () => {
    const [M, N, K] = [32, 256, 1024];
    const w = quantize(draw('outlierChannels', N, K, 7), [N, K], 'nvfp4');
    const x = draw('outlierChannels', M, K, 8);
    const ref = referenceGemmW4A16(x, [M, K], w);
    expectClose(await nativeGemmW4A16(x, [M, K], w), 'f32', ref, 'outliers');
  });
});

describe('nativeGemmW4A4 vs referenceGemmW4A4', () => {
  for (const format of WEIGHT_FORMATS) {
    it(`${format} weights: both activation formats, dtypes, bias`, async () => {
      const [M, N, K] = [6, 40, 256];
      const w = quantize(draw('laplace', N, K, 40), [N, K], format);
      const x = draw('studentT3', M, K, 41);
      const bias = draw('gaussian', 1, N, 42);
      for (const activationFormat of ['nvfp4', 'nvfp4_razer_a'] as const) {
        for (const [xDtype, xData] of inputs(x)) {
          const dtype = xDtype === 'f32' ? undefined : xDtype;
          for (const b of [undefined, bias]) {
            const ref = referenceGemmW4A4(xData, [M, K], w, { dtype, bias: b, activationFormat });
            for (const outDtype of OUT) {
              const what = `${format} act ${activationFormat} x ${xDtype} out ${outDtype}${b ? ' +bias' : ''}`;
              const y = await nativeGemmW4A4(xData, [M, K], w, { dtype, bias: b, activationFormat, outDtype });
              expectClose(y, outDtype, ref, what);
            }
          }
        }
      }
    });
  }

  it('a static activation scale and a non-default svAct', async () => {
    const [M, N, K] = [4, 24, 128];
    const w = quantize(draw('gaussian', N, K, 50), [N, K], 'nvfp4_razer');
    const x = draw('gaussian', M, K, 51);
    for (const opts of [
      { activationGlobalScale: 2 ** -9 },
      { activationFormat: 'nvfp4_razer_a' as const, svAct: 7 },
      { activationFormat: 'nvfp4_razer_a' as const, svAct: 10, activationGlobalScale: Math.fround(0.0013) },
    ]) {
      const ref = referenceGemmW4A4(x, [M, K], w, opts);
      expectClose(await nativeGemmW4A4(x, [M, K], w, opts), 'f32', ref, JSON.stringify(opts));
      expectClose(nativeGemmW4A4Sync(x, [M, K], w, opts), 'f32', ref, `${JSON.stringify(opts)} sync`);
    }
  });

  it('all-zero X gives bias only (G_x = 0)', async () => {
    const [M, N, K] = [2, 8, 32];
    const w = quantize(draw('gaussian', N, K, 60), [N, K], 'nvfp4');
    const bias = draw('gaussian', 1, N, 61);
    const y = await nativeGemmW4A4(new Float32Array(M * K), [M, K], w, { bias });
    expect(Array.from(y)).toEqual([...bias, ...bias]);
  });
});
