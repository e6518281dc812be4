// Seeded test tensors from the distributions the quantizers must handle.
import { Random, outlierChannelGains } from '../../lib/random.js';

export type Distribution = 'gaussian' | 'studentT3' | 'laplace' | 'outlierChannels';
export const DISTRIBUTIONS: readonly Distribution[] = ['gaussian', 'studentT3', 'laplace', 'outlierChannels'];

/** A [rows, cols] tensor drawn from `dist` with `seed`, scaled by `scale`. */
export function draw(dist: Distribution, rows: number, cols: number, seed: number, scale = 1): Float32Array {
  const rng = new Random(seed);
  switch (dist) {
    case 'gaussian':
      return rng.fill(rows * cols, (r) => scale * r.gaussian());
    case 'studentT3':
      return rng.fill(rows * cols, (r) => scale * r.studentT(3));
    case 'laplace':
      return rng.fill(rows * cols, (r) => scale * r.laplace());
    case 'outlierChannels': {
      const gains = outlierChannelGains(rng, cols, { count: Math.max(1, cols >> 6), minGain: 8, maxGain: 64 });
      const x = rng.fill(rows * cols, (r) => scale * r.gaussian());
      for (let i = 0; i < x.length; i++) x[i] *= gains[i % cols];
      return x;
    }
  }
}

/**
 * A 3 x 64 gaussian tensor with one non-finite element per case (the first
 * bad index and its value) and, unless it is the last one, a NaN at 191 that
 * must not be the one reported.
 */
export function nonFiniteCases(): { bad: number; value: number; x: Float32Array }[] {
  return ([[0, Number.NaN], [37, Number.POSITIVE_INFINITY], [191, Number.NEGATIVE_INFINITY]] as const).map(([bad, value]) => {
    const x = draw('gaussian', 3, 64, 9);
    x[bad] = value;
    if (bad !== 191) x[191] = Number.NaN;
    return { bad, value, x };
  });
}
