// Block-scale codecs (SPEC §2): UE4M3 (NVFP4), E3M3 (RaZeR weight payload),
// E8M0 (MXFP4). Small unsigned float grids with 3 mantissa bits, subnormals,
// no infinities. Exponents come from the bit pattern and all rounding is
// exact power-of-two arithmetic on binary32 (no log2f, no libm), so host and
// device agree bit for bit.
#pragma once

#include "arith.h"

namespace razer {

// floor(log2(x)) for a positive normal binary32 value (every scale-grid
// input here is at least 2^-9): the unbiased exponent field. Branch-free, so
// loops over many blocks vectorize.
RZ_HD RZ_FORCEINLINE int rz_floor_log2_normal(float x) { return int(rz_bits(x) >> 23) - 127; }

// Round x (positive, already clamped into the grid's range, so a normal
// binary32) onto the grid with MANT mantissa bits and smallest normal
// exponent MIN_EXP (subnormal step 2^(MIN_EXP - MANT)), ties to an even
// mantissa: what roundToGrid in lib/codecs.ts computes. The grid step at x is
// 2^(max(e, MIN_EXP) - MANT); adding c = 2^23 * step makes the binary32 adder
// round x to a multiple of the step, to nearest even (the default rounding
// mode, which nothing here changes), and subtracting c back is exact. A
// round-up to 2^(e+1) lands on the next binade's grid, as it should. No
// branches, so loops over many blocks vectorize.
template <int MANT, int MIN_EXP>
RZ_HD RZ_FORCEINLINE float rz_round_to_grid(float x) {
  int e = rz_floor_log2_normal(x);
  e = e < MIN_EXP ? MIN_EXP : e;
  const float c = rz_pow2(e - MANT + 23);
  return rz_sub(rz_add(x, c), c);
}

// Code (exponent field << MANT | mantissa) of a value that lies on the grid
// (zero, or at least the subnormal step: a normal binary32). A normal grid
// value's mantissa is the top MANT bits of the binary32 mantissa; a
// subnormal one is v / step, the significand shifted down. Integer ops only.
template <int MANT, int MIN_EXP>
RZ_HD RZ_FORCEINLINE uint32_t rz_grid_code(float v) {
  const uint32_t bits = rz_bits(v);
  const int e = int(bits >> 23) - 127;
  int sh = 23 + MIN_EXP - MANT - e;  // v / step = (1.mant) >> sh when e < MIN_EXP
  sh = sh < 0 ? 0 : (sh > 31 ? 31 : sh);
  const uint32_t sub = ((bits & 0x7fffffu) | 0x800000u) >> sh;
  const uint32_t normal = (uint32_t(e - MIN_EXP + 1) << MANT) |
                          ((bits >> (23 - MANT)) & ((1u << MANT) - 1u));
  return bits == 0u ? 0u : (e < MIN_EXP ? sub : normal);
}

// Value of a grid code (no sign, no NaN): exact binary32.
template <int MANT, int MIN_EXP>
RZ_HD RZ_FORCEINLINE float rz_grid_value(uint32_t code) {
  const uint32_t field = code >> MANT;
  const uint32_t mant = code & ((1u << MANT) - 1u);
  if (field == 0) return float(mant) * rz_pow2(MIN_EXP - MANT);
  return float((1u << MANT) | mant) * rz_pow2(int(field) - 1 + MIN_EXP - MANT);
}

// ---- UE4M3: bias 7, smallest normal 2^-6, subnormal step 2^-9, max 448 (0x7E).
constexpr float RZ_E4M3_MIN = 0.001953125f;  // 2^-9
constexpr float RZ_E4M3_MAX = 448.0f;

// E4M3(x) for x already clamped to [2^-9, 448]: the rounded value.
RZ_HD RZ_FORCEINLINE float rz_e4m3_round(float x) { return rz_round_to_grid<3, -6>(x); }
// The UE4M3 byte (bit 7 clear) of a value on the E4M3 grid.
RZ_HD RZ_FORCEINLINE uint8_t rz_e4m3_code(float v) { return uint8_t(rz_grid_code<3, -6>(v)); }
// Value of an E4M3 byte, sign bit included; 0x7F / 0xFF (the NaN codes) give NaN.
RZ_HD RZ_FORCEINLINE float rz_e4m3_decode(uint32_t byte) {
  if ((byte & 0x7fu) == 0x7fu) return rz_nan();
  const float v = rz_grid_value<3, -6>(byte & 0x7fu);
  return (byte & 0x80u) ? -v : v;
}

// ---- E3M3 (RaZeR weight scale payload): bias 3, subnormal step 2^-5, max 30.
constexpr float RZ_E3M3_MIN = 0.03125f;  // 2^-5
constexpr float RZ_E3M3_MAX = 30.0f;

// E3M3(x) for x already clamped to [2^-5, 30]: the rounded value.
RZ_HD RZ_FORCEINLINE float rz_e3m3_round(float x) { return rz_round_to_grid<3, -2>(x); }
// The 6-bit payload of a value on the E3M3 grid.
RZ_HD RZ_FORCEINLINE uint8_t rz_e3m3_code(float v) { return uint8_t(rz_grid_code<3, -2>(v)); }
// Value of a 6-bit E3M3 payload (bits 7/6 ignored).
RZ_HD RZ_FORCEINLINE float rz_e3m3_decode(uint32_t payload) {
  return rz_grid_value<3, -2>(payload & 0x3fu);
}

// ---- E8M0 (MXFP4): 2^(b - 127); 255 is NaN. b = 0 (2^-127) is a subnormal.
RZ_HD RZ_FORCEINLINE float rz_e8m0_decode(uint32_t byte) {
  if (byte == 255u) return rz_nan();
  if (byte == 0u) return rz_from_bits(0x00400000u);
  return rz_from_bits(byte << 23);
}

}  // namespace razer
