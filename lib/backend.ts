// The backends of this process, and the one that runs a W4A16 product: the
// best that covers the case (backend-choice.ts holds the rule), so that
// callers such as the demo run "the best one" and print why.
//
//   cuda       the native addon's CUDA kernels (X uploaded, the weight
//              uploaded and prepacked, Y copied back: per call)
//   cpu        the native addon's multi-threaded C++ backend
//   reference  the TypeScript reference (float64 accumulation), always there

import { type Backend, type BackendChoice, type BackendGaps, type BackendInfo, BACKENDS, chooseBackend } from './backend-choice.js';
import { RazerError, describe } from './errors.js';
import type { Format, QuantizedTensor } from './formats.js';
import { gemmW4A16CudaSync } from './native/cuda-host.js';
import { nativeGemmW4A16Sync } from './native/index.js';
import { backendInfo } from './native/loader.js';
import { type GemmOptions, referenceGemmW4A16 } from './reference/gemm.js';

export { BACKENDS, type Backend, type BackendChoice, type BackendInfo } from './backend-choice.js';

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
      // Where cpu is the best, native.reason says why (no GPU, or forced); the cuda entry repeats it.
      reason: native.addon ? "the native addon's C++ CPU backend" : `no native addon: ${native.reason}`,
    },
    {
      name: 'reference',
      available: true,
      reason: 'the TypeScript reference, always available',
    },
  ];
}

/** The fastest available backend, with the reason it was chosen (any case: see gemmBackend for one product). */
export function bestBackend(): BackendInfo {
  const { backend, reason } = chooseBackend(availableBackends(), {}, undefined, 'backend');
  return { name: backend, available: true, reason };
}

/** Weight formats the GPU kernels take (nvfp4_4over6 weights are nvfp4 data). */
const CUDA_WEIGHT_FORMATS: readonly Format[] = ['nvfp4', 'nvfp4_4over6', 'nvfp4_razer'];
/** Weight formats the C++ CPU backend takes. */
const CPU_WEIGHT_FORMATS: readonly Format[] = [...CUDA_WEIGHT_FORMATS, 'nvfp4_razer_a'];
/**
 * The GPU kernels decode special values in [1, 4096] only (cuda/kernels/
 * prepack.cu); the format allows (0, 64], so only the lower bound matters.
 */
const CUDA_MIN_SPECIAL_VALUE = 1;

/**
 * What keeps the cuda and cpu backends from running this product. X as fp32
 * keeps it off the GPU: its kernels take f16/bf16 X, and converting X would
 * change the numerics (SPEC §4 accumulates the values given).
 */
function gemmGaps(x: unknown, w: QuantizedTensor, opts: GemmOptions = {}): BackendGaps {
  const format = (w as { format?: unknown } | null)?.format;
  const gaps: BackendGaps = {};
  if (!CPU_WEIGHT_FORMATS.includes(format as Format)) {
    gaps.cpu = `takes ${CPU_WEIGHT_FORMATS.join(', ')} weights, got ${describe(format)}`;
  }
  if (!(x instanceof Uint16Array) || (opts.dtype !== 'f16' && opts.dtype !== 'bf16')) {
    const dtype = opts.dtype === undefined ? '' : ` with dtype ${describe(opts.dtype)}`;
    gaps.cuda = `takes X as f16 or bf16 bits, got ${describe(x)}${dtype} (converting X would change the numerics)`;
  } else if (!CUDA_WEIGHT_FORMATS.includes(format as Format)) {
    gaps.cuda = `takes ${CUDA_WEIGHT_FORMATS.join(', ')} weights, got ${describe(format)}`;
  } else if (format === 'nvfp4_razer') {
    const sv = Math.min(w.svSmall ?? 5, w.svBig ?? 8);
    if (!(sv >= CUDA_MIN_SPECIAL_VALUE)) gaps.cuda = `takes special values of at least ${CUDA_MIN_SPECIAL_VALUE}, got a weight with ${sv}`;
  }
  return gaps;
}

/**
 * The backend gemmW4A16 runs this product on when none is named, and why:
 * cuda for f16/bf16 X and a weight its kernels take, else cpu where the addon
 * loaded, else the reference. `backends` defaults to this process's.
 */
export function gemmBackend(
  x: unknown,
  w: QuantizedTensor,
  opts: GemmOptions = {},
  backends: readonly BackendInfo[] = availableBackends(),
): BackendChoice {
  return chooseBackend(backends, gemmGaps(x, w, opts), undefined, 'backend');
}

/**
 * W4A16 on a backend: Y[M, N] = X[M, K] · Ŵ[N, K]ᵀ (+ bias), X
 * fp32/fp16/bf16 (SPEC §4; cuda: fp16/bf16 only); fp32 output. `backend`
 * 'auto' or undefined: gemmBackend()'s choice (fp32 X runs on the cpu
 * backend, never converted); a named backend runs as asked, or throws.
 */
export function gemmW4A16(
  backend: Backend | 'auto' | undefined,
  x: Float32Array | Uint16Array,
  xShape: readonly [number, number],
  w: QuantizedTensor,
  opts: GemmOptions = {},
): Float32Array | Float64Array {
  const name = backend === undefined || backend === 'auto' ? gemmBackend(x, w, opts).backend : backend;
  switch (name) {
    case 'cuda':
      return gemmW4A16CudaSync(x, xShape, w, opts);
    case 'cpu':
      return nativeGemmW4A16Sync(x, xShape, w, opts);
    case 'reference':
      return referenceGemmW4A16(x, xShape, w, opts);
    default:
      throw new RazerError(
        'ERR_ARGUMENT',
        `backend: expected one of ${BACKENDS.join(', ')} or 'auto', got ${describe(backend)}`,
      );
  }
}
