// Input checks and widening shared by every reference quantizer.

import { bf16ToF32, f16ToF32 } from '../codecs.js';
import { RazerError, describe } from '../errors.js';
import type { InputDtype } from '../formats.js';

export type Shape2D = readonly [number, number];

/** Validate a [rows, cols] shape against a data length; returns [rows, cols]. */
export function checkShape(shape: unknown, length: number, argument = 'shape'): [number, number] {
  if (
    !Array.isArray(shape) ||
    shape.length !== 2 ||
    !shape.every((d) => Number.isInteger(d) && d > 0)
  ) {
    throw new RazerError(
      'ERR_SHAPE',
      `${argument}: expected [rows, cols] of positive integers, got ${describe(shape)}`,
    );
  }
  const [rows, cols] = shape as [number, number];
  if (rows * cols !== length) {
    throw new RazerError(
      'ERR_SHAPE',
      `${argument}: [${rows}, ${cols}] needs ${rows * cols} elements, the data has ${length}`,
    );
  }
  return [rows, cols];
}

export function checkBlocks(cols: number, blockSize: number, what: string): void {
  if (cols % blockSize !== 0) {
    throw new RazerError(
      'ERR_SHAPE',
      `shape: ${what} needs cols (K) to be a multiple of ${blockSize}, got ${cols} (pad with zeros explicitly)`,
    );
  }
}

/** The element type of quantizer input: fp32 values, or fp16/bf16 bits with `dtype` saying which. */
export function inputDtype(data: unknown, dtype: InputDtype | undefined, argument = 'data'): InputDtype {
  if (data instanceof Float32Array) {
    if (dtype !== undefined && dtype !== 'f32') {
      throw new RazerError('ERR_DTYPE', `options.dtype: a Float32Array is 'f32', got ${describe(dtype)}`);
    }
    return 'f32';
  }
  if (data instanceof Uint16Array) {
    if (dtype !== 'f16' && dtype !== 'bf16') {
      throw new RazerError(
        'ERR_DTYPE',
        `options.dtype: a Uint16Array needs dtype 'f16' or 'bf16', got ${describe(dtype)}`,
      );
    }
    return dtype;
  }
  throw new RazerError(
    'ERR_DTYPE',
    `${argument}: expected a Float32Array, or a Uint16Array of fp16/bf16 bits, got ${describe(data)}`,
  );
}

/** Widen fp32/fp16/bf16 input to a Float32Array (no copy for fp32). */
export function toFloat32(data: unknown, dtype: InputDtype | undefined, argument = 'data'): Float32Array {
  const type = inputDtype(data, dtype, argument);
  if (type === 'f32') return data as Float32Array;
  const bits = data as Uint16Array;
  const widen = type === 'f16' ? f16ToF32 : bf16ToF32;
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = widen(bits[i]);
  return out;
}

/** Throw on the first NaN or ±Inf, naming the tensor and the element. */
export function checkFinite(x: Float32Array, cols: number, name: string): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (v - v !== 0) {
      throw new RazerError(
        'ERR_NON_FINITE',
        `${name}: element ${i} (row ${Math.floor(i / cols)}, col ${i % cols}) is ${v}; quantized tensors must be finite`,
      );
    }
  }
}

/** max |x| over x[start, end). */
export function amax(x: Float32Array, start = 0, end = x.length): number {
  let m = 0;
  for (let i = start; i < end; i++) {
    const a = Math.abs(x[i]);
    if (a > m) m = a;
  }
  return m;
}
