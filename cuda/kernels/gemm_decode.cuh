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
//     is 0x0001 exactly there; one set.eq.f16x2 / set.eq.bf16x2 (a compare
//     of the bit patterns as subnormals, no flush) gives e = 1.0 there and
//     0.0 elsewhere.
//  3. scale: w = h * S (mul.rn.f16x2, or fma.rn.bf16x2 with a -0 addend on
//     sm_80), S = s * 2^7 (fp16) or s * 2^119 (bf16) as half2: exact. RaZeR
//     then adds the special value: w = fma(e, R * S, w), where R * S (the
//     placed +-svSmall / +-svBig by scale bits 7 / 6, times S) is exact per
//     block; the sentinel's w is -0 * S, so the fma gives R * S exactly, and
//     every other w is unchanged (0 * (R * S) + w). The merge runs on the
//     FMA pipe: the integer pipe, which the placement already loads, bounds
//     the GEMV (gemm_notes.md).
// Scale bytes: nvfp4 UE4M3 (bits 6..0), nvfp4_razer E3M3 payload (bits 5..0)
// with bit 7 = SV sign, bit 6 = svBig. S is built in fp32 by placing the
// payload into the exponent/mantissa field and multiplying by a power of two
// (exact; fp32 subnormals are kept, so no -ftz / fast-math), then packed.
#pragma once

#include <cstdint>

#include "gemm_layout.h"

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

// Step 1 for the 4 outputs of one word (bit positions: gemm_layout.h).
template <bool BF16>
__device__ __forceinline__ void place_word(uint32_t w, uint32_t (&h)[4]) {
  constexpr uint32_t SGN = 0x80008000u;
  constexpr uint32_t MAG = BF16 ? 0x01C001C0u : 0x0E000E00u;
  constexpr int P = BF16 ? 6 : 9;  // magnitude LSB of the low half
  // (equal shifts fold into one mask of MAG | SGN)
  h[0] = (shl<P - rz_word_mag_pos(0)>(w) & MAG) | (shl<15 - rz_word_sign_pos(0)>(w) & SGN);
  h[1] = (shl<P - rz_word_mag_pos(2)>(w) & MAG) | (shl<15 - rz_word_sign_pos(2)>(w) & SGN);
  h[2] = (shl<P - rz_word_mag_pos(4)>(w) & MAG) | (shl<15 - rz_word_sign_pos(4)>(w) & SGN);
  h[3] = (shl<P - rz_word_mag_pos(6)>(w) & MAG) | (shl<15 - rz_word_sign_pos(6)>(w) & SGN);
}

// Step 2: 1.0 where h is the sentinel, 0.0 elsewhere (fp16 / bf16 half2).
template <bool BF16>
__device__ __forceinline__ uint32_t razer_is_sentinel(uint32_t h) {
  const uint32_t z = (h ^ 0x80008000u) | 0x00010001u;
  uint32_t e;
  if constexpr (BF16) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm("set.eq.bf16x2.bf16x2 %0, %1, %2;" : "=r"(e) : "r"(z), "r"(0x00010001u));
#else
    // (no bf16 compare before sm_90: an fp16 compare of the same bits gives a
    // 0xFFFF mask per half, masked down to bf16 1.0)
    asm("set.eq.u32.f16x2 %0, %1, %2;" : "=r"(e) : "r"(z), "r"(0x00010001u));
    e &= 0x3F803F80u;
#endif
  } else {
    asm("set.eq.f16x2.f16x2 %0, %1, %2;" : "=r"(e) : "r"(z), "r"(0x00010001u));
  }
  return e;
}

// Step 3.
template <bool BF16>
__device__ __forceinline__ uint32_t hfma2(uint32_t a, uint32_t b, uint32_t c) {
  uint32_t d;
  if constexpr (BF16) {
    asm("fma.rn.bf16x2 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
  } else {
    asm("fma.rn.f16x2 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
  }
  return d;
}
template <bool BF16>
__device__ __forceinline__ uint32_t hmul2(uint32_t a, uint32_t b) {
  if constexpr (BF16) return hfma2<true>(a, b, 0x80008000u);
  uint32_t d;
  asm("mul.rn.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
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

// R (the placed special value of a RaZeR scale byte, with its sign) in both
// halves; r_small / r_big are the placed magnitudes (fp16 bits of sv * 2^-14
// or bf16 bits of sv * 2^-126).
__device__ __forceinline__ uint32_t razer_r2(uint32_t byte, uint32_t r_small, uint32_t r_big) {
  const uint32_t r = ((byte & 0x40u) ? r_big : r_small) | ((byte & 0x80u) << 8);
  return r * 0x00010001u;
}

// Decode one (row group, super-tile) lane piece: q = the lane's 16 code bytes
// (block t of rows g and g + 8), sc = its two scale bytes (bits 0..7: row g,
// bits 8..15: row g + 8). lo[i] / hi[i] = elements 2i, 2i+1 of the block for
// row g / row g + 8 as half2 (physical k order).
// S and (RaZeR) R * S of one scale byte, as half2.
template <bool BF16, bool RAZER>
__device__ __forceinline__ uint2 scale_pair(uint32_t byte, uint32_t r_small, uint32_t r_big) {
  const uint32_t s = scale2<BF16, RAZER>(byte);
  return make_uint2(s, RAZER ? hmul2<BF16>(razer_r2(byte, r_small, r_big), s) : 0u);
}

// The piece with its scales already decoded: sl / sh = scale_pair of the
// scale bytes of row g / row g + 8.
template <bool BF16, bool RAZER>
__device__ __forceinline__ void decode_rows_scaled(const uint4& q, uint2 sl, uint2 sh,
                                                   uint32_t (&lo)[8], uint32_t (&hi)[8]) {
  const uint32_t s_lo = sl.x, s_hi = sh.x, rs_lo = sl.y, rs_hi = sh.y;
  const uint32_t words[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
  for (int wi = 0; wi < 4; ++wi) {
    const bool hi_row = wi >= 2;
    uint32_t h[4];
    place_word<BF16>(words[wi], h);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      uint32_t v = hmul2<BF16>(h[j], hi_row ? s_hi : s_lo);
      if constexpr (RAZER)
        v = hfma2<BF16>(razer_is_sentinel<BF16>(h[j]), hi_row ? rs_hi : rs_lo, v);
      // word 0 / 2: elements 0..7, word 1 / 3: elements 8..15.
      (hi_row ? hi : lo)[4 * (wi & 1) + j] = v;
    }
  }
}

// The same piece as mma.sync m16n8k16 A registers: a[tau][0..3] = {a0, a1,
// a2, a3} of tile tau, whose thread-(g, t) k pairs {2t, 2t+1} / {2t+8, 2t+9}
// are physical elements 4 tau + {0, 1} / {2, 3} of block t (gemm_layout.h).
template <bool BF16, bool RAZER>
__device__ __forceinline__ void decode_fragment_scaled(const uint4& q, uint2 sl, uint2 sh,
                                                       uint32_t (&a)[4][4]) {
  uint32_t lo[8], hi[8];
  decode_rows_scaled<BF16, RAZER>(q, sl, sh, lo, hi);
#pragma unroll
  for (int tau = 0; tau < 4; ++tau) {
    a[tau][0] = lo[2 * tau];
    a[tau][1] = hi[2 * tau];
    a[tau][2] = lo[2 * tau + 1];
    a[tau][3] = hi[2 * tau + 1];
  }
}
template <bool BF16, bool RAZER>
__device__ __forceinline__ void decode_fragment(const uint4& q, uint32_t sc, uint32_t r_small,
                                                uint32_t r_big, uint32_t (&a)[4][4]) {
  decode_fragment_scaled<BF16, RAZER>(q, scale_pair<BF16, RAZER>(sc & 0xFFu, r_small, r_big),
                                      scale_pair<BF16, RAZER>((sc >> 8) & 0xFFu, r_small, r_big), a);
}

}  // namespace dev
}  // namespace gpu
}  // namespace razer
