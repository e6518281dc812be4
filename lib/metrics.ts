// Error metrics between a tensor and its quantized approximation.

import { RazerError } from './errors.js';

export interface ErrorMetrics {
  /** Mean squared error. */
  mse: number;
  /** Signal-to-quantization-noise ratio, 10 log10(Σx² / Σ(x - x̂)²), in dB (Infinity when exact). */
  sqnrDb: number;
  /** ‖x - x̂‖ / ‖x‖ (Frobenius); 0 when both are zero. */
  relFrobenius: number;
  /** max |x - x̂|. */
  maxAbs: number;
  /** Σx² and Σ(x - x̂)², for aggregating over several tensors. */
  signalEnergy: number;
  errorEnergy: number;
  count: number;
}

type Numeric = ArrayLike<number>;

/** Metrics from accumulated energies (lets callers combine tensors). */
export function metricsFromEnergies(
  signalEnergy: number,
  errorEnergy: number,
  count: number,
  maxAbs: number,
): ErrorMetrics {
  return {
    mse: count === 0 ? 0 : errorEnergy / count,
    sqnrDb: errorEnergy === 0 ? Infinity : 10 * Math.log10(signalEnergy / errorEnergy),
    relFrobenius:
      errorEnergy === 0 ? 0 : signalEnergy === 0 ? Infinity : Math.sqrt(errorEnergy / signalEnergy),
    maxAbs,
    signalEnergy,
    errorEnergy,
    count,
  };
}

/** Metrics of `approx` against `exact`, accumulated in float64. */
export function errorMetrics(exact: Numeric, approx: Numeric): ErrorMetrics {
  if (exact.length !== approx.length) {
    throw new RazerError(
      'ERR_SHAPE',
      `approx: expected ${exact.length} elements (as exact), got ${approx.length}`,
    );
  }
  let signal = 0;
  let error = 0;
  let maxAbs = 0;
  for (let i = 0; i < exact.length; i++) {
    const x = exact[i];
    const e = x - approx[i];
    signal += x * x;
    error += e * e;
    const a = Math.abs(e);
    if (a > maxAbs || Number.isNaN(a)) maxAbs = a;
  }
  return metricsFromEnergies(signal, error, exact.length, maxAbs);
}

/** Combine the metrics of several tensors into overall metrics. */
export function combineMetrics(parts: readonly ErrorMetrics[]): ErrorMetrics {
  let s = 0;
  let e = 0;
  let n = 0;
  let m = 0;
  for (const p of parts) {
    s += p.signalEnergy;
    e += p.errorEnergy;
    n += p.count;
    m = Math.max(m, p.maxAbs);
  }
  return metricsFromEnergies(s, e, n, m);
}
