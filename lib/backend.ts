// Which implementation runs a matrix product. Today only the TypeScript
// reference exists; the native addon (CPU, CUDA) adds its names here, so
// callers such as the demo pick "the best one" in one place.

import { RazerError, describe } from './errors.js';
import type { QuantizedTensor } from './formats.js';
import { type GemmOptions, referenceGemmW4A16 } from './reference/gemm.js';

export const BACKENDS = ['reference'] as const;
export type Backend = (typeof BACKENDS)[number];

export interface BackendInfo {
  readonly name: Backend;
  readonly available: boolean;
  /** Why it is (or is not) available, for logs and the CLI. */
  readonly reason: string;
}

/** Every backend this package knows, available or not, best first. */
export function availableBackends(): BackendInfo[] {
  return [
    {
      name: 'reference',
      available: true,
      reason: 'the TypeScript reference, float64 accumulation; no native addon is built yet',
    },
  ];
}

/** The fastest available backend, with the reason it was chosen. */
export function bestBackend(): BackendInfo {
  const best = availableBackends().find((b) => b.available);
  // The reference is always available, so this cannot happen; keep the check
  // so a future list without it fails loudly rather than returning undefined.
  if (!best) throw new RazerError('ERR_ARGUMENT', 'backend: none is available');
  return best;
}

/**
 * W4A16 on the chosen backend: Y[M, N] = X[M, K] · Ŵ[N, K]ᵀ (+ bias), X
 * fp32/fp16/bf16 (SPEC §4).
 */
export function gemmW4A16(
  backend: Backend,
  x: Float32Array | Uint16Array,
  xShape: readonly [number, number],
  w: QuantizedTensor,
  opts: GemmOptions = {},
): Float32Array | Float64Array {
  switch (backend) {
    case 'reference':
      return referenceGemmW4A16(x, xShape, w, opts);
    default:
      throw new RazerError(
        'ERR_ARGUMENT',
        `backend: expected one of ${BACKENDS.join(', ')}, got ${describe(backend)}`,
      );
  }
}
