// Which implementation runs a matrix product, decided in one place so that
// callers such as the demo pick "the best one" with its reason.
//
//   cuda       the native addon's CUDA kernels (X uploaded, the weight
//              uploaded and prepacked, Y copied back: per call)
//   cpu        the native addon's multi-threaded C++ backend
//   reference  the TypeScript reference (float64 accumulation), always there

import { RazerError, describe } from './errors.js';
import type { QuantizedTensor } from './formats.js';
import { backendInfo, loadAddon } from './native/loader.js';
import { DeviceTensor, nativeGemmW4A16Sync } from './native/index.js';
import { GpuWeight, gemmW4A16GpuSync } from './native/gpu.js';
import { type GemmOptions, referenceGemmW4A16 } from './reference/gemm.js';

export const BACKENDS = ['cuda', 'cpu', 'reference'] as const;
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
      name: 'cuda',
      available: native.backend === 'cuda',
      reason: native.backend === 'cuda' ? `the native addon's CUDA kernels; ${native.reason}` : `no usable GPU: ${native.reason}`,
    },
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

/** The first device this build has kernels for (the cheap probe: no CUDA context). */
function cudaDevice(): number {
  const probe = loadAddon()?.cudaProbe();
  return probe?.devices.find((d) => d.imageExpected)?.ordinal ?? 0;
}

/**
 * W4A16 on the GPU for host arrays: uploads X (f16 or bf16 bits) and the
 * weight (then prepacks it), runs the kernel with fp32 output and copies Y
 * back, freeing the device memory before returning.
 */
function gemmW4A16Cuda(
  x: Float32Array | Uint16Array,
  xShape: readonly [number, number],
  w: QuantizedTensor,
  opts: GemmOptions,
): Float32Array {
  if (!(x instanceof Uint16Array) || (opts.dtype !== 'f16' && opts.dtype !== 'bf16')) {
    throw new RazerError(
      'ERR_DTYPE',
      `x: the cuda backend takes X as f16 or bf16 bits (a Uint16Array with options.dtype 'f16' or 'bf16'), got ${describe(x)}${opts.dtype === undefined ? '' : ` with dtype ${describe(opts.dtype)}`}; convert X (codecs.f32ToBf16) or use the cpu backend`,
    );
  }
  if (!Array.isArray(xShape) || xShape.length !== 2 || !xShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new RazerError('ERR_SHAPE', `xShape: expected [rows, cols] of positive integers, got ${describe(xShape)}`);
  }
  const [M, K] = xShape;
  if (x.length !== M * K) {
    throw new RazerError('ERR_SHAPE', `x: [M, K] = [${M}, ${K}] needs ${M * K} elements, got ${x.length}`);
  }
  if (w === null || typeof w !== 'object' || !Array.isArray(w.shape)) {
    throw new RazerError('ERR_ARGUMENT', `w: expected a QuantizedTensor, got ${describe(w)}`);
  }
  if (w.shape[1] !== K) {
    throw new RazerError('ERR_SHAPE', `w: expected K = ${K} (X's columns), got a [${w.shape[0]}, ${w.shape[1]}] weight`);
  }
  const native = backendInfo();
  if (native.backend !== 'cuda') {
    throw new RazerError('ERR_NO_GPU', `backend: cuda is not available here: ${native.reason}`);
  }
  const device = cudaDevice();
  const owned: { dispose(): void }[] = [];
  try {
    const xt = DeviceTensor.fromHostSync(x, opts.dtype, xShape, { device });
    owned.push(xt);
    const wt = GpuWeight.fromQuantizedSync(w, { device });
    owned.push(wt);
    const y = gemmW4A16GpuSync(xt, wt, { bias: opts.bias, outDtype: 'f32' });
    owned.push(y);
    return y.toHostSync();
  } finally {
    for (const o of owned) o.dispose();
  }
}

/**
 * W4A16 on the chosen backend: Y[M, N] = X[M, K] · Ŵ[N, K]ᵀ (+ bias), X
 * fp32/fp16/bf16 (SPEC §4; cuda: fp16/bf16 only); fp32 output.
 */
export function gemmW4A16(
  backend: Backend,
  x: Float32Array | Uint16Array,
  xShape: readonly [number, number],
  w: QuantizedTensor,
  opts: GemmOptions = {},
): Float32Array | Float64Array {
  switch (backend) {
    case 'cuda':
      return gemmW4A16Cuda(x, xShape, w, opts);
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
