// E2M1 element codec (SPEC §2): 4-bit code `s e1 e0 m`, magnitudes by code & 7
// 0, 0.5, 1, 1.5, 2, 3, 4, 6.
#pragma once

#include "arith.h"

namespace razer {

// The E2M1 magnitude nearest to a = |y| (a sign-clear binary32): ties to the
// even code, a >= 6 (and +Inf) saturates to 6, NaN gives 0. The E2M1 grid
// step is 0.5 below 2, then 1 below 4, then 2; adding c = 2^23 * step makes
// the binary32 adder round a to a multiple of the step, to nearest even (the
// default rounding mode), and subtracting c back is exact. That reproduces
// the midpoint thresholds of lib/codecs.ts exactly: 0.25 -> 0, 0.75 -> 1,
// 1.25 -> 1, 1.75 -> 2, 2.5 -> 2, 3.5 -> 4, 5 -> 4 (an even multiple of the
// step is an even code). Branch-free, so loops over many blocks vectorize.
RZ_HD RZ_FORCEINLINE float rz_e2m1_mag_value(float a) {
  int ec = int(rz_bits(a) >> 23) + 22;        // exponent field of c = 2^(e + 22)...
  ec = ec < 149 ? 149 : (ec > 152 ? 152 : ec);  // ...with e clamped to [0, 3]
  const float c = rz_from_bits(uint32_t(ec) << 23);
  const float r = rz_sub(rz_add(a, c), c);
  // a < 6: r; a >= 6: 6; NaN: 0. Bit masks rather than ?: on floats, so the
  // compiler keeps the adds unconditional (and vectorizes).
  const uint32_t below = a < 6.0f ? 0xffffffffu : 0u;
  const uint32_t above = a >= 6.0f ? 0x40c00000u : 0u;  // the bits of 6.0f
  return rz_from_bits((rz_bits(r) & below) | above);
}

// Code (0..7) of an E2M1 magnitude m: from its binary32 pattern, bits >> 22 is
// 254 + code for m >= 1 (exponent and the one mantissa bit); 0.5 is code 1.
RZ_HD RZ_FORCEINLINE int rz_e2m1_code_of_mag(float m) {
  const int k = int(rz_bits(m) >> 22) - 252;  // 0 -> -252, 0.5 -> 0, 1 -> 2, ..., 6 -> 7
  const int c = k + (m == 0.5f ? 1 : 0);
  return c < 0 ? 0 : c;
}

// Magnitude code (0..7) of a = |y|: nearest magnitude, ties to the even code,
// a >= 6 (and +Inf) saturates to 7, NaN gives 0 (e2m1MagnitudeCode in
// lib/codecs.ts).
RZ_HD RZ_FORCEINLINE int rz_e2m1_mag_code(float a) {
  return rz_e2m1_code_of_mag(rz_e2m1_mag_value(a));
}

// E2M1(y) as a 4-bit code. Never 0x8: a zero result is 0x0 whatever the sign
// of y. NaN (only reachable as 0/0 when a decode scale underflows to zero)
// encodes as 0x0, like lib/codecs.ts.
RZ_HD RZ_FORCEINLINE uint8_t rz_e2m1_encode(float y) {
  const int mag = rz_e2m1_mag_code(rz_abs(y));
  return uint8_t(mag != 0 && y < 0.0f ? (mag | 8) : mag);
}

// Decoded value of a code; 0x8 is -0 (plain formats; RaZeR resolves it as the
// block's special value, see block_decode.h). The magnitudes times two,
// 0 1 2 3 4 6 8 12, are packed as nibbles of one constant so the same code
// needs no table in device memory.
RZ_HD RZ_FORCEINLINE float rz_e2m1_value(unsigned code) {
  const float mag = float((0xC8643210u >> (4u * (code & 7u))) & 0xFu) * 0.5f;
  return (code & 8u) ? -mag : mag;
}

}  // namespace razer
