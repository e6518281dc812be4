// Safetensors element types: the official dtype strings, their sizes, and the
// typed array each fully supported one is read into.

import { RazerError, describe } from '../errors.js';

/**
 * Bytes per element of every dtype the official format defines (the Rust
 * `safetensors` crate's `Dtype`). Newer sub-byte types (F4, F6_*) and F8_E8M0
 * are not accepted: nothing here produces or consumes them.
 */
export const DTYPE_SIZES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
} as const;

export type Dtype = keyof typeof DTYPE_SIZES;

export const DTYPES = Object.keys(DTYPE_SIZES) as readonly Dtype[];

/**
 * What `read()` returns per dtype: F32 as Float32Array, F16/BF16 as their raw
 * bits, I8 as Int8Array; everything else as raw bytes.
 */
export type TensorArray = Float32Array | Uint16Array | Uint8Array | Int8Array;

export function isDtype(value: unknown): value is Dtype {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZES, value);
}

export function checkDtype(value: unknown, argument = 'dtype'): Dtype {
  if (!isDtype(value)) {
    throw new RazerError(
      'ERR_DTYPE',
      `${argument}: expected one of ${DTYPES.join(', ')}, got ${describe(value)}`,
    );
  }
  return value;
}

export function dtypeSize(dtype: Dtype): number {
  return DTYPE_SIZES[dtype];
}

/**
 * View freshly read bytes as the dtype's typed array. `bytes` must start at
 * offset 0 of its own buffer (the reader always allocates one per tensor), so
 * every view is aligned.
 */
export function viewAs(dtype: Dtype, bytes: Uint8Array): TensorArray {
  const { buffer, byteOffset, byteLength } = bytes;
  switch (dtype) {
    case 'F32':
      return new Float32Array(buffer, byteOffset, byteLength / 4);
    case 'F16':
    case 'BF16':
      return new Uint16Array(buffer, byteOffset, byteLength / 2);
    case 'I8':
      return new Int8Array(buffer, byteOffset, byteLength);
    default:
      return bytes;
  }
}
