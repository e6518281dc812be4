// Reference matrix products (SPEC §4): Y[M, N] = X[M, K] · Ŵ[N, K]ᵀ (+ bias),
// float64 accumulation of exact dequantized values.

import { RazerError, describe } from '../errors.js';
import type { Format, InputDtype, QuantizedTensor } from '../formats.js';
import { referenceQuantize as quantize } from './quantize.js';
import { decodeScaled } from './decode.js';
import { checkShape, toFloat32 } from './input.js';

export interface GemmOptions {
  /** Element type of X when it is a Uint16Array ('f16' or 'bf16'). */
  dtype?: InputDtype;
  /** Added to every row of Y, length N. */
  bias?: Float32Array;
}

export interface W4A4Options extends GemmOptions {
  /** How X is quantized per call: 'nvfp4' (default) or 'nvfp4_razer_a'. */
  activationFormat?: Extract<Format, 'nvfp4' | 'nvfp4_razer_a'>;
  /** A static global scale for X; default: dynamic, amax(X) / 2688. */
  activationGlobalScale?: number;
  /** nvfp4_razer_a's special value (default 5). */
  svAct?: number;
}

/** Σ_k a[m, k] * b[n, k] * factor (+ bias[n]) in float64. */
function matmulTransposed(
  a: Float32Array,
  b: Float32Array,
  M: number,
  N: number,
  K: number,
  factor: number,
  bias: Float32Array | undefined,
): Float64Array {
  const y = new Float64Array(M * N);
  const row = new Float64Array(K);
  for (let m = 0; m < M; m++) {
    for (let k = 0; k < K; k++) row[k] = a[m * K + k];
    for (let n = 0; n < N; n++) {
      let acc = 0;
      const base = n * K;
      for (let k = 0; k < K; k++) acc += row[k] * b[base + k];
      y[m * N + n] = acc * factor + (bias ? bias[n] : 0);
    }
  }
  return y;
}

function checkOperands(
  x: unknown,
  xShape: unknown,
  w: QuantizedTensor,
  opts: GemmOptions,
): { xf: Float32Array; M: number; N: number; K: number } {
  const xf = toFloat32(x, opts.dtype, 'x');
  const [M, K] = checkShape(xShape, xf.length, 'xShape');
  const [N, wK] = w.shape;
  if (wK !== K) {
    throw new RazerError('ERR_SHAPE', `w: expected K = ${K} (X's columns), got a [${N}, ${wK}] weight`);
  }
  if (opts.bias !== undefined && (!(opts.bias instanceof Float32Array) || opts.bias.length !== N)) {
    throw new RazerError('ERR_SHAPE', `options.bias: expected a Float32Array(${N}), got ${describe(opts.bias)}`);
  }
  return { xf, M, N, K };
}

/** W4A16: Y = X · Ŵᵀ (+ bias), X fp32/fp16/bf16. Returns Float64Array [M, N]. */
export function referenceGemmW4A16(
  x: Float32Array | Uint16Array,
  xShape: readonly [number, number],
  w: QuantizedTensor,
  opts: GemmOptions = {},
): Float64Array {
  const { xf, M, N, K } = checkOperands(x, xShape, w, opts);
  const { values, factor } = decodeScaled(w);
  return matmulTransposed(xf, values, M, N, K, factor, opts.bias);
}

/** W4A4: X quantized per call, then Y = (Σ x̂ ŵ) * (G_x * G_w) (+ bias). Returns Float64Array [M, N]. */
export function referenceGemmW4A4(
  x: Float32Array | Uint16Array,
  xShape: readonly [number, number],
  w: QuantizedTensor,
  opts: W4A4Options = {},
): Float64Array {
  const { M, N, K } = checkOperands(x, xShape, w, opts);
  const format = opts.activationFormat ?? 'nvfp4';
  if (format !== 'nvfp4' && format !== 'nvfp4_razer_a') {
    throw new RazerError(
      'ERR_FORMAT',
      `options.activationFormat: expected 'nvfp4' or 'nvfp4_razer_a', got ${describe(format)}`,
    );
  }
  const xq = quantize(x, [M, K], format, {
    dtype: opts.dtype,
    globalScale: opts.activationGlobalScale,
    svAct: opts.svAct,
    name: 'x',
  });
  const xs = decodeScaled(xq);
  const ws = decodeScaled(w);
  return matmulTransposed(xs.values, ws.values, M, N, K, xs.factor * ws.factor, opts.bias);
}
