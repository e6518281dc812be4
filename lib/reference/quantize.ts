// The reference quantize(): validates arguments, widens the input and
// dispatches to the per-format reference quantizer. It is the oracle the
// native backends are tested against.

import { RazerError, describe } from '../errors.js';
import {
  type Format,
  type QuantizeOptions,
  type QuantizedTensor,
  checkFormat,
  resolveParams,
} from '../formats.js';
import { checkBlocks, checkFinite, checkShape, toFloat32 } from './input.js';
import { quantizeMxfp4 } from './mxfp4.js';
import { quantizeNf4 } from './nf4.js';
import { quantizeNvfp4, quantizeNvfp4FourOverSix } from './nvfp4.js';
import { quantizeRazerActivations, quantizeRazerWeights } from './razer.js';

/** Formats that accept a static global scale (activations). */
const STATIC_SCALE_FORMATS: readonly Format[] = ['nvfp4', 'nvfp4_razer_a'];

function checkStaticScale(format: Format, g: unknown): number | undefined {
  if (g === undefined) return undefined;
  if (!STATIC_SCALE_FORMATS.includes(format)) {
    throw new RazerError(
      'ERR_ARGUMENT',
      `options.globalScale: only ${STATIC_SCALE_FORMATS.join(' and ')} take a static global scale, the format is ${format}`,
    );
  }
  if (typeof g !== 'number' || !Number.isFinite(g) || g <= 0 || Math.fround(g) !== g) {
    throw new RazerError(
      'ERR_ARGUMENT',
      `options.globalScale: expected a positive finite binary32 value, got ${describe(g)}`,
    );
  }
  return g;
}

/**
 * Quantize a row-major [rows, cols] tensor; blocks run along cols (K).
 * `data` is a Float32Array, or a Uint16Array of fp16/bf16 bits with
 * `options.dtype` set.
 */
export function referenceQuantize(
  data: Float32Array | Uint16Array,
  shape: readonly [number, number],
  format: Format,
  options: QuantizeOptions = {},
): QuantizedTensor {
  const fmt = checkFormat(format);
  const params = resolveParams(fmt, options);
  if (options.blockSize !== undefined && fmt !== 'nf4' && options.blockSize !== params.blockSize) {
    throw new RazerError(
      'ERR_ARGUMENT',
      `options.blockSize: ${fmt} has a fixed block of ${params.blockSize}, got ${describe(options.blockSize)}`,
    );
  }
  const staticG = checkStaticScale(fmt, options.globalScale);
  const x = toFloat32(data, options.dtype);
  const [rows, cols] = checkShape(shape, x.length);
  checkBlocks(cols, params.blockSize, fmt);
  checkFinite(x, cols, options.name ?? 'data');

  switch (fmt) {
    case 'nvfp4':
      return quantizeNvfp4(x, rows, cols, staticG);
    case 'nvfp4_4over6':
      return quantizeNvfp4FourOverSix(x, rows, cols);
    case 'nvfp4_razer':
      return quantizeRazerWeights(x, rows, cols, params.svSmall as number, params.svBig as number);
    case 'nvfp4_razer_a':
      return quantizeRazerActivations(x, rows, cols, params.svAct as number, staticG);
    case 'mxfp4':
      return quantizeMxfp4(x, rows, cols);
    case 'nf4':
      return quantizeNf4(x, rows, cols, params.blockSize);
  }
}
