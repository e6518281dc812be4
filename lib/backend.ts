// Which implementation runs a matrix product, decided in one place so that
// callers such as the demo pick "the best one" with its reason.
//
//   cpu        the native addon's multi-threaded C++ backend
//   reference  the TypeScript reference (float64 accumulation), always there

import { RazerError, describe } from './errors.js';
import type { QuantizedTensor } from './formats.js';
import { backendInfo } from './native/loader.js';
import { nativeGemmW4A16Sync } from './native/index.js';
import { type GemmOptions, referenceGemmW4A16 } from './reference/gemm.js';

export const BACKENDS = ['cpu', 'reference'] as const;
export type Backend = (typeof BACKENDS)[number];

export interface BackendInfo {
  readonly name: Backend;
  readonly available: boolean;
  /** Why it is (or is not) available, for logs and the CLI. */
  readonly reason: string;
}

/** Every backend this package knows, available or not, best first. */
export function availableBackends(): BackendInfo[] {
  const native = backendInfo();
  return [
    {
      name: 'cpu',
      available: native.addon && native.backend !== 'reference',
      reason: native.addon
        ? `the native addon's C++ CPU backend; ${native.reason}`
        : `no native addon: ${native.reason}`,
    },
    {
      name: 'reference',
      available: true,
      reason: 'the TypeScript reference, float64 accumulation',
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
 * fp32/fp16/bf16 (SPEC §4); fp32 output.
 */
export function gemmW4A16(
  backend: Backend,
  x: Float32Array | Uint16Array,
  xShape: readonly [number, number],
  w: QuantizedTensor,
  opts: GemmOptions = {},
): Float32Array | Float64Array {
  switch (backend) {
    case 'cpu':
      return nativeGemmW4A16Sync(x, xShape, w, opts);
    case 'reference':
      return referenceGemmW4A16(x, xShape, w, opts);
    default:
      throw new RazerError(
        'ERR_ARGUMENT',
        `backend: expected one of ${BACKENDS.join(', ')}, got ${describe(backend)}`,
      );
  }
}
