// The public quantize(): one entry point over the backends that quantize
// host data. The C++ CPU backend (the native addon) is bit-identical to the
// TypeScript reference and much faster, so it is the default wherever the
// addon loaded and supports the format; the reference serves the rest and
// is always available as the oracle.

import { RazerError, describe } from './errors.js';
import type { Format, QuantizeOptions, QuantizedTensor } from './formats.js';
import { loadAddon } from './native/loader.js';
import { nativeQuantize, nativeQuantizeSync } from './native/index.js';
import type { NativeFormat } from './native/addon-types.js';
import { referenceQuantize } from './reference/quantize.js';

export const QUANTIZE_BACKENDS = ['reference', 'cpu'] as const;
export type QuantizeBackend = (typeof QUANTIZE_BACKENDS)[number];

/** The formats the C++ CPU backend implements. */
const NATIVE_FORMATS: readonly Format[] = ['nvfp4', 'nvfp4_4over6', 'nvfp4_razer', 'nvfp4_razer_a'];

export interface BackendQuantizeOptions extends QuantizeOptions {
  /** 'reference' (TypeScript) or 'cpu' (the addon's C++ backend); default: cpu where it can. */
  backend?: QuantizeBackend;
  /** cpu backend: worker threads for this call (default: one per hardware thread). */
  threads?: number;
}

/** The backend a call runs on: the one asked for, checked, or the best that can. */
export function quantizeBackend(format: Format, asked: unknown): QuantizeBackend {
  if (asked === undefined) {
    const native = process.env.RAZER_BACKEND !== 'reference' && loadAddon() !== null;
    return native && NATIVE_FORMATS.includes(format) ? 'cpu' : 'reference';
  }
  if (asked === 'reference') return 'reference';
  if (asked !== 'cpu') {
    throw new RazerError(
      'ERR_ARGUMENT',
      `options.backend: expected one of ${QUANTIZE_BACKENDS.join(', ')}, got ${describe(asked)}`,
    );
  }
  if (!NATIVE_FORMATS.includes(format)) {
    throw new RazerError(
      'ERR_ARGUMENT',
      `options.backend: the cpu backend quantizes ${NATIVE_FORMATS.join(', ')}; use 'reference' for ${describe(format)}`,
    );
  }
  return 'cpu';
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
  if (quantizeBackend(format, backend) === 'cpu') {
    return nativeQuantizeSync(data, shape, format as NativeFormat, rest);
  }
  return referenceQuantize(data, shape, format, rest);
}

/** quantize() as a Promise; on the cpu backend the work runs off the main thread. */
export async function quantizeAsync(
  data: Float32Array | Uint16Array,
  shape: readonly [number, number],
  format: Format,
  options: BackendQuantizeOptions = {},
): Promise<QuantizedTensor> {
  const { backend, ...rest } = options;
  if (quantizeBackend(format, backend) === 'cpu') {
    return nativeQuantize(data, shape, format as NativeFormat, rest);
  }
  return referenceQuantize(data, shape, format, rest);
}

export { dequantize } from './reference/decode.js';
