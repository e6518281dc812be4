// The public quantize(): one entry point over the backends that quantize
// host data, all bit-identical to the TypeScript reference:
//
//   cuda       the GPU quantizer (upload, quantize, copy back, free)
//   cpu        the addon's multi-threaded C++ backend
//   reference  the TypeScript oracle, always available
//
// By default the best one that covers the format runs (mxfp4 and nf4 are
// reference-only); quantizeBackendChoice() says which and why.

import { availableBackends } from './backend.js';
import { type Backend, type BackendChoice, type BackendGaps, type BackendInfo, BACKENDS, chooseBackend } from './backend-choice.js';
import { describe } from './errors.js';
import type { Format, QuantizeOptions, QuantizedTensor } from './formats.js';
import type { NativeFormat } from './native/addon-types.js';
import { quantizeCuda, quantizeCudaSync } from './native/cuda-host.js';
import { nativeQuantize, nativeQuantizeSync } from './native/index.js';
import { referenceQuantize } from './reference/quantize.js';

/** Every backend quantize() can run on, best first. */
export const QUANTIZE_BACKENDS = BACKENDS;
export type QuantizeBackend = Backend;

/**
 * The formats the native quantizers implement, on the CPU and on the GPU
 * alike: nvfp4_razer_a and nvfp4 with a static global scale run as the GPU's
 * activation quantizer, the rest as its weight quantizer, every special value
 * the format allows included.
 */
const NATIVE_FORMATS: readonly Format[] = ['nvfp4', 'nvfp4_4over6', 'nvfp4_razer', 'nvfp4_razer_a'];

export interface BackendQuantizeOptions extends QuantizeOptions {
  /** 'cuda', 'cpu' or 'reference'; default: the best available that implements the format. */
  backend?: QuantizeBackend;
  /** cpu backend: worker threads for this call (default: one per hardware thread). */
  threads?: number;
}

/** What keeps the native backends from quantizing `format`. */
function quantizeGaps(format: Format): BackendGaps {
  if (NATIVE_FORMATS.includes(format)) return {};
  const gap = `quantizes ${NATIVE_FORMATS.join(', ')}, got format ${describe(format)}`;
  return { cuda: gap, cpu: gap };
}

export interface QuantizeBackendContext {
  /** The backends to choose from, best first; default: this process's (availableBackends()). */
  readonly backends?: readonly BackendInfo[];
  /** The name of the backend argument in errors; default 'options.backend'. */
  readonly argument?: string;
}

/**
 * The backend a quantize() call runs on, and why: `asked` checked (a
 * RazerError when it is unknown, not available here, or lacks the format),
 * or, when undefined, the best available that implements the format: cuda,
 * then cpu, then the reference. Pass `context.backends` to see what another
 * machine would do.
 */
export function quantizeBackendChoice(format: Format, asked?: unknown, context: QuantizeBackendContext = {}): BackendChoice {
  const { backends = availableBackends(), argument = 'options.backend' } = context;
  return chooseBackend(backends, quantizeGaps(format), asked, argument);
}

/** quantizeBackendChoice()'s backend, without the reason. */
export function quantizeBackend(format: Format, asked: unknown): QuantizeBackend {
  return quantizeBackendChoice(format, asked).backend;
}

/**
 * Quantize a row-major [rows, cols] tensor; blocks run along cols (K).
 * `data` is a Float32Array, or a Uint16Array of fp16/bf16 bits with
 * `options.dtype` set. Synchronous: use quantizeAsync off the event loop.
 */
export function quantize(
  data: Float32Array | Uint16Array,
  shape: readonly [number, number],
  format: Format,
  options: BackendQuantizeOptions = {},
): QuantizedTensor {
  const { backend, ...rest } = options;
  switch (quantizeBackend(format, backend)) {
    case 'cuda':
      return quantizeCudaSync(data, shape, format as NativeFormat, rest);
    case 'cpu':
      return nativeQuantizeSync(data, shape, format as NativeFormat, rest);
    case 'reference':
      return referenceQuantize(data, shape, format, rest);
  }
}

/** quantize() as a Promise; on the cuda and cpu backends the work runs off the main thread. */
export async function quantizeAsync(
  data: Float32Array | Uint16Array,
  shape: readonly [number, number],
  format: Format,
  options: BackendQuantizeOptions = {},
): Promise<QuantizedTensor> {
  const { backend, ...rest } = options;
  switch (quantizeBackend(format, backend)) {
    case 'cuda':
      return quantizeCuda(data, shape, format as NativeFormat, rest);
    case 'cpu':
      return nativeQuantize(data, shape, format as NativeFormat, rest);
    case 'reference':
      return referenceQuantize(data, shape, format, rest);
  }
}

export { dequantize } from './reference/decode.js';
