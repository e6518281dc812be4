// Per-block encoding steps shared by the NVFP4-family reference quantizers
// (SPEC §3.1-3.4). Arithmetic is binary32, one rounding per operation.

import { E2M1_VALUES, e2m1Encode } from '../codecs.js';

const f32 = Math.fround;

export function clamp(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi);
}

/** Squared-error accumulation of SPEC §3: err + ((v * d) - x)^2, in that order. */
export function addSquaredError(err: number, v: number, d: number, x: number): number {
  const e = f32(f32(v * d) - x);
  return f32(err + f32(e * e));
}

/** E2M1-encode x[start, start + n) with decode scale d into out[0, n); returns the error. */
export function encodeBlockE2M1(
  x: Float32Array,
  start: number,
  n: number,
  d: number,
  out: Uint8Array,
): number {
  let err = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[start + i];
    const code = e2m1Encode(f32(xi / d));
    out[i] = code;
    err = addSquaredError(err, E2M1_VALUES[code], d, xi);
  }
  return err;
}

/**
 * RaZeR encoding of one block for one special-value candidate `sv`: each
 * element takes sv (code 0x8) when |y - sv| <= |y - f|, f being its E2M1
 * value, ties going to the SV. Writes codes to out[0, n); returns the error.
 */
export function encodeBlockRazer(
  x: Float32Array,
  start: number,
  n: number,
  d: number,
  sv: number,
  out: Uint8Array,
): number {
  let err = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[start + i];
    const y = f32(xi / d);
    const code = e2m1Encode(y);
    const f = E2M1_VALUES[code];
    const takeSv = Math.abs(f32(y - sv)) <= Math.abs(f32(y - f));
    out[i] = takeSv ? 0x8 : code;
    err = addSquaredError(err, takeSv ? sv : f, d, xi);
  }
  return err;
}
