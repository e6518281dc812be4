// fp16 and bf16 <-> binary32 in plain bit arithmetic (SPEC §1: fp16/bf16
// inputs are widened exactly; outputs round to nearest even). No cuda_fp16 on
// the host, and the same code on the device, so both sides agree bit for bit
// with lib/codecs.ts (f16ToF32, f32ToF16, bf16ToF32, f32ToBf16).
#pragma once

#include "arith.h"

namespace razer {

// fp16 bits -> exact binary32 value. Branch-free so widening loops vectorize:
// the exponent is rebased by adding (127 - 15) << 23; Inf/NaN get the rest of
// the exponent range; zero and subnormals come from an exact subtraction
// (2^-14 + m * 2^-24) - 2^-14.
RZ_HD RZ_FORCEINLINE float rz_f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t body = uint32_t(h & 0x7fffu) << 13;  // exponent and mantissa
  const uint32_t exp = body & 0x0f800000u;
  const uint32_t normal = body + (exp == 0x0f800000u ? (224u << 23) : (112u << 23));
  const float sub = rz_sub(rz_from_bits(body + (113u << 23)), rz_from_bits(113u << 23));
  return rz_from_bits((exp == 0u ? rz_bits(sub) : normal) | sign);
}

// binary32 -> fp16 bits, round to nearest even; overflow gives ±Inf; NaN gives
// 0x7E00 with the sign bit of the input (as f32ToF16 in lib/codecs.ts).
RZ_HD RZ_FORCEINLINE uint16_t rz_f32_to_f16(float x) {
  const uint32_t bits = rz_bits(x);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t a = bits & 0x7fffffffu;
  if (a > 0x7f800000u) return uint16_t(sign | 0x7e00u);
  if (a >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // >= 65520 rounds to Inf
  if (a >= 0x38800000u) {                                  // >= 2^-14: normal fp16
    uint32_t h = (a >> 13) - (112u << 10);
    const uint32_t rem = a & 0x1fffu;
    h += (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ? 1u : 0u;  // carry may bump the exponent
    return uint16_t(sign | h);
  }
  // Subnormal fp16: round a / 2^-24 to an integer (a carry lands on 0x0400,
  // the smallest normal, which is right).
  const uint32_t e = a >> 23;
  if (e < 102u) return uint16_t(sign);  // below 2^-25: rounds to zero
  const uint32_t m = (a & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126u - e;      // 14 .. 24
  uint32_t q = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1u);
  q += (rem > half || (rem == half && (q & 1u))) ? 1u : 0u;
  return uint16_t(sign | q);
}

// bf16 bits -> binary32 (exact: the top half of the pattern).
RZ_HD RZ_FORCEINLINE float rz_bf16_to_f32(uint16_t b) { return rz_from_bits(uint32_t(b) << 16); }

// binary32 -> bf16 bits, round to nearest even; NaN stays a quiet NaN.
RZ_HD RZ_FORCEINLINE uint16_t rz_f32_to_bf16(float x) {
  const uint32_t bits = rz_bits(x);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return uint16_t((bits >> 16) | 0x40u);
  return uint16_t((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

}  // namespace razer
