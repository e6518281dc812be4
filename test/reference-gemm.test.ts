// SPEC §4 reference products and the error metrics.
import { describe, expect, it } from 'vitest';
import { f32ToBf16, f32ToF16, f16ToF32, bf16ToF32 } from '../lib/codecs.js';
import { RazerError } from '../lib/errors.js';
import type { Format } from '../lib/formats.js';
import { combineMetrics, errorMetrics } from '../lib/metrics.js';
import { dequantize } from '../lib/quantize.js';
import { referenceQuantize as quantize } from '../lib/reference/quantize.js';
import { referenceGemmW4A16, referenceGemmW4A4 } from '../lib/reference/gemm.js';
import { draw } from './helpers/distributions.js';

const seed = () => Math.floor(Math.random() * 2 ** 31);

/** Plain float64 X · Ŵᵀ from the dequantized weight (an independent route). */
function naive(x: ArrayLike<number>, M: number, w: Float32Array, N: number, K: number, bias?: Float32Array): Float64Array {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += x[m * K + k] * w[n * K + k];
      y[m * N + n] = acc + (bias ? bias[n] : 0);
    }
  return y;
}

function relFro(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return errorMetrics(Float64Array.from(b), Float64Array.from(a)).relFrobenius;
}

describe('referenceGemmW4A16', () => {
  const formats: Format[] = ['nvfp4', 'nvfp4_razer', 'nvfp4_4over6', 'mxfp4', 'nf4'];
  for (const format of formats) {
    it(`${format}: matches X · dequantize(W)ᵀ, with bias, odd M and N`, () => {
      const [M, N, K] = [3, 37, 192];
      const s = seed();
      const w = quantize(draw('studentT3', N, K, s), [N, K], format);
      const x = draw('gaussian', M, K, s + 1);
      const bias = draw('laplace', 1, N, s + 2);
      const y = referenceGemmW4A16(x, [M, K], w, { bias });
      expect(y.length).toBe(M * N);
      expect(relFro(y, naive(x, M, dequantize(w), N, K, bias)), `seed ${s}`).toBeLessThan(1e-6);
    });
  }

  it('takes fp16 and bf16 X as bits, equal to their exact widening', () => {
    const [M, N, K] = [2, 8, 64];
    const w = quantize(draw('gaussian', N, K, 5), [N, K], 'nvfp4_razer');
    const x = draw('gaussian', M, K, 6);
    for (const [enc, dec, dtype] of [[f32ToF16, f16ToF32, 'f16'], [f32ToBf16, bf16ToF32, 'bf16']] as const) {
      const bits = Uint16Array.from(x, enc);
      const wide = Float32Array.from(bits, dec);
      expect(referenceGemmW4A16(bits, [M, K], w, { dtype })).toEqual(referenceGemmW4A16(wide, [M, K], w));
    }
  });

  it('approximates the unquantized product to the weight quantization error', () => {
    const [M, N, K] = [4, 64, 512];
    const wf = draw('gaussian', N, K, 9);
    const x = draw('gaussian', M, K, 10);
    const exact = naive(x, M, wf, N, K);
    const err = relFro(referenceGemmW4A16(x, [M, K], quantize(wf, [N, K], 'nvfp4')), exact);
    expect(err).toBeGreaterThan(0.01);
    expect(err).toBeLessThan(0.15);
  });

  it('rejects mismatched K, a bad bias and bad X', () => {
    const w = quantize(new Float32Array(64).fill(1), [2, 32], 'nvfp4');
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(RazerError);
        return (e as RazerError).code;
      }
      return 'none';
    };
    expect(codeOf(() => referenceGemmW4A16(new Float32Array(16), [1, 16], w))).toBe('ERR_SHAPE');
    expect(codeOf(() => referenceGemmW4A16(new Float32Array(32), [1, 32], w, { bias: new Float32Array(3) }))).toBe('ERR_SHAPE');
    expect(codeOf(() => referenceGemmW4A16(new Uint16Array(32), [1, 32], w))).toBe('ERR_DTYPE');
    expect(codeOf(() => referenceGemmW4A16(new Float32Array(33), [1, 32], w))).toBe('ERR_SHAPE');
  });
});

describe('referenceGemmW4A4', () => {
  for (const activationFormat of ['nvfp4', 'nvfp4_razer_a'] as const) {
    it(`${activationFormat} activations: (Σ x̂ŵ) * G_x * G_w equals W4A16 of the dequantized X`, () => {
      const [M, N, K] = [5, 24, 128];
      const s = seed();
      const w = quantize(draw('studentT3', N, K, s), [N, K], 'nvfp4_razer');
      const x = draw('outlierChannels', M, K, s + 1);
      const bias = draw('gaussian', 1, N, s + 2);
      const y = referenceGemmW4A4(x, [M, K], w, { activationFormat, bias });
      const xd = dequantize(quantize(x, [M, K], activationFormat));
      expect(relFro(y, referenceGemmW4A16(xd, [M, K], w, { bias })), `seed ${s}`).toBeLessThan(1e-6);
    });
  }

  it('uses a static activation scale when given', () => {
    const [M, N, K] = [2, 4, 32];
    const w = quantize(draw('gaussian', N, K, 1), [N, K], 'nvfp4');
    const x = draw('gaussian', M, K, 2);
    const g = Math.fround(0.002);
    const y = referenceGemmW4A4(x, [M, K], w, { activationGlobalScale: g });
    const xd = dequantize(quantize(x, [M, K], 'nvfp4', { globalScale: g }));
    expect(relFro(y, referenceGemmW4A16(xd, [M, K], w))).toBeLessThan(1e-6);
    expect(relFro(y, referenceGemmW4A4(x, [M, K], w))).toBeGreaterThan(0);
  });
});

describe('error metrics', () => {
  it('computes MSE, SQNR, relative Frobenius and max abs error', () => {
    const m = errorMetrics([1, 2, 0, -2], [1, 1, 0.5, -2]);
    expect(m.mse).toBeCloseTo((1 + 0.25) / 4, 12);
    expect(m.sqnrDb).toBeCloseTo(10 * Math.log10(9 / 1.25), 12);
    expect(m.relFrobenius).toBeCloseTo(Math.sqrt(1.25 / 9), 12);
    expect(m.maxAbs).toBe(1);
    const exact = errorMetrics([3, 4], [3, 4]);
    expect(exact.sqnrDb).toBe(Infinity);
    expect(exact.relFrobenius).toBe(0);
  });

  it('combines tensors by energy, and rejects length mismatches', () => {
    const a = errorMetrics([1, 1], [0, 1]);
    const b = errorMetrics([2, 2, 2], [2, 2, 4]);
    const all = combineMetrics([a, b]);
    expect(all).toEqual(errorMetrics([1, 1, 2, 2, 2], [0, 1, 2, 2, 4]));
    expect(() => errorMetrics([1], [1, 2])).toThrow(RazerError);
  });
});
