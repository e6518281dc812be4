// In-register FP4 decode for the W4A16 kernels (device only). Exact: every
// decoded operand is w = v * s * 2^-7 (v the E2M1 value or the RaZeR special
// value, s the block scale), which SPEC §2 guarantees is representable in
// fp16 and bf16; the kernels fold 2^7 * G into the fp32 epilogue factor.
//
// Steps for one packed 32-bit word (8 codes of one block row, gemm_layout.h):
//  1. place: shifts + masks put each code's magnitude bits into the low
//     exponent / top mantissa bits and its sign into the sign bit of a half,
//     which reads as v * 2^-14 (fp16) or v * 2^-126 (bf16), subnormals
//     included (code 1 = 0.5 is subnormal in both): "h".
//  2. RaZeR: the sentinel code 0x8 places as 0x8000 (-0), the only half that
//     is -0 (the encoder never emits 0x8 as a value). z = (h ^ 0x8000) | 1
//     is 0x0001 exactly there; one set.eq.u32.f16x2 (fp16 compare of the bit
//     patterns, also for bf16 data) gives a 0xFFFF mask per sentinel half, and
//     h ^= mask & (R ^ 0x8000) swaps in R, the placed special value
//     (+-svSmall / +-svBig by scale bits 7 / 6) as fp16 / bf16 bits.
//  3. scale: w = h * S (mul.rn.f16x2, or fma.rn.bf16x2 with a -0 addend on
//     sm_80), S = s * 2^7 (fp16) or s * 2^119 (bf16) as half2: exact.
// Scale bytes: nvfp4 UE4M3 (bits 6..0), nvfp4_razer E3M3 payload (bits 5..0)
// with bit 7 = SV sign, bit 6 = svBig. S is built in fp32 by placing the
// payload into the exponent/mantissa field and multiplying by a power of two
// (exact; fp32 subnormals are kept, so no -ftz / fast-math), then packed.
#pragma once

#include <cstdint>

namespace razer {
namespace gpu {
namespace dev {

template <int SH>
__device__ __forceinline__ uint32_t shl(uint32_t w) {
  if constexpr (SH >= 0)
    return w << SH;
  else
    return w >> (-SH);
}

// Step 1 for the 4 outputs of one word.
template <bool BF16>
__device__ __forceinline__ void place_word(uint32_t w, uint32_t (&h)[4]) {
  constexpr uint32_t SGN = 0x80008000u;
  constexpr uint32_t MAG = BF16 ? 0x01C001C0u : 0x0E000E00u;
  constexpr int D = BF16 ? -3 : 0;
  h[0] = (shl<0 + D>(w) & MAG) | (w & SGN);
  h[1] = (shl<9 + D>(w) & MAG) | (shl<9>(w) & SGN);
  h[2] = (shl<6 + D>(w) & MAG) | (shl<8>(w) & SGN);
  h[3] = (shl<-3 + D>(w) & MAG) | (shl<7>(w) & SGN);
}

// Step 2: h with sentinel halves (0x8000) replaced by R; rx2 = (R ^ 0x8000) in
// both halves.
__device__ __forceinline__ uint32_t razer_fix(uint32_t h, uint32_t rx2) {
  const uint32_t z = (h ^ 0x80008000u) | 0x00010001u;
  uint32_t m;
  asm("set.eq.u32.f16x2 %0, %1, %2;" : "=r"(m) : "r"(z), "r"(0x00010001u));
  return h ^ (m & rx2);
}

// Step 3.
template <bool BF16>
__device__ __forceinline__ uint32_t hmul2(uint32_t a, uint32_t b) {
  uint32_t d;
  if constexpr (BF16) {
    asm("fma.rn.bf16x2 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(0x80008000u));
  } else {
    asm("mul.rn.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
  }
  return d;
}

// S as half2 from a scale byte.
template <bool BF16, bool RAZER>
__device__ __forceinline__ uint32_t scale2(uint32_t byte) {
  float s;
  if constexpr (RAZER) {
    // E3M3 in fp32 bits 25..20 reads as s * 2^-124; * 2^127 * 2^4 = s * 2^7.
    s = __fmul_rn(__fmul_rn(__uint_as_float((byte & 0x3Fu) << 20), 0x1p127f), 0x1p4f);
  } else {
    // UE4M3 in fp32 bits 26..20 reads as s * 2^-120; * 2^127 = s * 2^7.
    s = __fmul_rn(__uint_as_float((byte & 0x7Fu) << 20), 0x1p127f);
  }
  uint32_t d;
  if constexpr (BF16) {
    s = __fmul_rn(s, 0x1p112f);  // s * 2^119
    asm("cvt.rn.bf16x2.f32 %0, %1, %1;" : "=r"(d) : "f"(s));
  } else {
    asm("cvt.rn.f16x2.f32 %0, %1, %1;" : "=r"(d) : "f"(s));
  }
  return d;
}

// (R ^ 0x8000) in both halves for a RaZeR scale byte; r_small / r_big are the
// placed magnitudes (fp16 bits of sv * 2^-14 or bf16 bits of sv * 2^-126).
__device__ __forceinline__ uint32_t razer_rx2(uint32_t byte, uint32_t r_small, uint32_t r_big) {
  const uint32_t r = ((byte & 0x40u) ? r_big : r_small) | ((byte & 0x80u) << 8);
  return (r ^ 0x8000u) * 0x00010001u;
}

// Decode one (row group, super-tile) fragment: q = the lane's 16 code bytes,
// sc = its two scale bytes (bits 0..7: row g, bits 8..15: row g + 8).
// a[tau][0..3] = the mma A registers {a0, a1, a2, a3} of tile tau.
template <bool BF16, bool RAZER>
__device__ __forceinline__ void decode_fragment(const uint4& q, uint32_t sc, uint32_t r_small,
                                                uint32_t r_big, uint32_t (&a)[4][4]) {
  const uint32_t b_lo = sc & 0xFFu, b_hi = (sc >> 8) & 0xFFu;
  const uint32_t s_lo = scale2<BF16, RAZER>(b_lo);
  const uint32_t s_hi = scale2<BF16, RAZER>(b_hi);
  uint32_t rx_lo = 0, rx_hi = 0;
  if constexpr (RAZER) {
    rx_lo = razer_rx2(b_lo, r_small, r_big);
    rx_hi = razer_rx2(b_hi, r_small, r_big);
  }
  const uint32_t words[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
  for (int wi = 0; wi < 4; ++wi) {
    const bool hi_row = wi >= 2;
    uint32_t h[4];
    place_word<BF16>(words[wi], h);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      uint32_t v = h[j];
      if constexpr (RAZER) v = razer_fix(v, hi_row ? rx_hi : rx_lo);
      v = hmul2<BF16>(v, hi_row ? s_hi : s_lo);
      // word wi covers tiles 2*(wi&1) + (j>>1); (j&1) selects k pair {0,1} / {2,3}.
      const int tau = 2 * (wi & 1) + (j >> 1);
      const int reg = (hi_row ? 1 : 0) + ((j & 1) ? 2 : 0);
      a[tau][reg] = v;
    }
  }
}

}  // namespace dev
}  // namespace gpu
}  // namespace razer
