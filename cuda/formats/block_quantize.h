// Block quantizers of SPEC §3.1-3.4 (16 elements, fp32 input), in exactly the
// operation order of lib/reference/{block,nvfp4,razer}.ts:
//   bm = amax / G; s = grid(clamp(bm / q, lo, hi)); d = G * s; y = x / d;
//   err = err + ((v * d) - x)^2, sequential from element 0;
//   a later candidate wins only with a strictly smaller error.
//
// Every function works on L blocks side by side ("lanes"): xt[i * L + l] is
// element i of block l. With L = 1 that is simply one block's x[16] (the
// device kernels, and the rz_quantize_block_* entry points at the end); the
// CPU backend uses L = 8 (AVX2) or 16 (AVX-512) so each step is one vector
// operation across L blocks -- including the error sums, which stay
// sequential within each block. The code is branch-free selects so the
// compiler can vectorize it. The caller handles G == 0 (all codes and scales
// zero) before calling these.
#pragma once

#include "arith.h"
#include "e2m1.h"
#include "scale_codecs.h"

namespace razer {

constexpr int RZ_BLOCK = 16;

// Global (decode) scales, SPEC §3: amax / (6 * largest block scale).
RZ_HD RZ_FORCEINLINE float rz_global_scale_nvfp4(float amax) { return rz_div(amax, 2688.0f); }
RZ_HD RZ_FORCEINLINE float rz_global_scale_4over6(float amax) { return rz_div(amax, 1536.0f); }
RZ_HD RZ_FORCEINLINE float rz_global_scale_razer(float amax) { return rz_div(amax, 180.0f); }

// s = E4M3(clamp(bm / q, 2^-9, 448))
RZ_HD RZ_FORCEINLINE float rz_e4m3_block_scale(float bm, float q) {
  return rz_e4m3_round(rz_clamp(rz_div(bm, q), RZ_E4M3_MIN, RZ_E4M3_MAX));
}

// s = E3M3(clamp(bm / qmax, 2^-5, 30))
RZ_HD RZ_FORCEINLINE float rz_e3m3_block_scale(float bm, float qmax) {
  return rz_e3m3_round(rz_clamp(rz_div(bm, qmax), RZ_E3M3_MIN, RZ_E3M3_MAX));
}

// bm = amax(block) / G per lane. For non-NaN values |x| orders like its bit
// pattern, so an integer max is the exact amax (and vectorizes without
// fast-math).
template <int L>
RZ_HD RZ_FORCEINLINE void rz_lanes_bm(const float* xt, float G, float* bm) {
  uint32_t m[L];
  for (int l = 0; l < L; ++l) m[l] = 0;
  for (int i = 0; i < RZ_BLOCK; ++i)
    for (int l = 0; l < L; ++l) {
      const uint32_t a = rz_bits(xt[i * L + l]) & 0x7fffffffu;
      m[l] = a > m[l] ? a : m[l];
    }
  for (int l = 0; l < L; ++l) bm[l] = rz_div(rz_from_bits(m[l]), G);
}

// E2M1-encode with per-lane decode scale d: codes (int per element, for
// vector-friendly selects) and, if ERR, the per-lane error.
template <int L, bool ERR>
RZ_HD RZ_FORCEINLINE void rz_lanes_encode_e2m1(const float* xt, const float* d, int32_t* code,
                                               float* err) {
  if (ERR)
    for (int l = 0; l < L; ++l) err[l] = 0.0f;
  for (int i = 0; i < RZ_BLOCK; ++i)
    for (int l = 0; l < L; ++l) {
      const float x = xt[i * L + l];
      const float y = rz_div(x, d[l]);
      const float a = rz_abs(y);
      const float mag = rz_e2m1_mag_value(a);
      const bool neg = (y < 0.0f) & (mag != 0.0f);
      code[i * L + l] = rz_e2m1_code_of_mag(mag) | (neg ? 8 : 0);
      if (ERR) {
        const float v = neg ? -mag : mag;
        const float e = rz_sub(rz_mul(v, d[l]), x);
        err[l] = rz_add(err[l], rz_mul(e, e));
      }
    }
}

// RaZeR encoding for one special value sv: an element takes sv (code 0x8)
// when |y - sv| <= |y - f|, f its E2M1 value (ties go to the SV).
template <int L>
RZ_HD RZ_FORCEINLINE void rz_lanes_encode_razer(const float* xt, const float* d, float sv,
                                                int32_t* code, float* err) {
  for (int l = 0; l < L; ++l) err[l] = 0.0f;
  for (int i = 0; i < RZ_BLOCK; ++i)
    for (int l = 0; l < L; ++l) {
      const float x = xt[i * L + l];
      const float y = rz_div(x, d[l]);
      const float a = rz_abs(y);
      const float mag = rz_e2m1_mag_value(a);
      const bool neg = (y < 0.0f) & (mag != 0.0f);
      const float f = neg ? -mag : mag;
      const bool take_sv = rz_abs(rz_sub(y, sv)) <= rz_abs(rz_sub(y, f));
      const int32_t c = rz_e2m1_code_of_mag(mag) | (neg ? 8 : 0);
      const int32_t keep = int32_t(take_sv) - 1;  // all ones unless the SV is taken
      code[i * L + l] = (c & keep) | (8 & ~keep);   // (a select GCC vectorizes)
      const float v = take_sv ? sv : f;
      const float e = rz_sub(rz_mul(v, d[l]), x);
      err[l] = rz_add(err[l], rz_mul(e, e));
    }
}

// Where keep[l] is all ones, lane l of (code, byte, err) replaces the best so
// far. Written as bitwise selects on int masks with unconditional stores: the
// `bool` mask + `?:` form (a conditional store) was vectorized by GCC 12.2 at
// -O3 (AVX2 clone) into code that wrote wrong codes, caught by
// cuda/cpu/selftest.cpp against the TS reference.
template <int L>
RZ_HD RZ_FORCEINLINE void rz_lanes_keep(const int32_t* keep, const int32_t* code,
                                        const int32_t* byte, const float* err, int32_t* best_code,
                                        int32_t* best_byte, float* best_err) {
  for (int i = 0; i < RZ_BLOCK; ++i)
    for (int l = 0; l < L; ++l)
      best_code[i * L + l] = (code[i * L + l] & keep[l]) | (best_code[i * L + l] & ~keep[l]);
  for (int l = 0; l < L; ++l) {
    best_byte[l] = (byte[l] & keep[l]) | (best_byte[l] & ~keep[l]);
    best_err[l] = rz_from_bits((rz_bits(err[l]) & uint32_t(keep[l])) |
                               (rz_bits(best_err[l]) & ~uint32_t(keep[l])));
  }
}

// Pack codes: element 2j of block l in the low nibble of byte l * 8 + j.
template <int L>
RZ_HD RZ_FORCEINLINE void rz_lanes_pack(const int32_t* code, uint8_t* packed) {
  for (int l = 0; l < L; ++l)
    for (int j = 0; j < RZ_BLOCK / 2; ++j)
      packed[l * 8 + j] = uint8_t(code[(2 * j) * L + l] | (code[(2 * j + 1) * L + l] << 4));
}

// ---- nvfp4 (SPEC §3.1): writes L * 8 packed code bytes and L scale bytes.
template <int L>
RZ_HD RZ_FORCEINLINE void rz_quantize_lanes_nvfp4(const float* xt, float G, uint8_t* packed,
                                                  uint8_t* scale) {
  float bm[L], s[L], d[L];
  rz_lanes_bm<L>(xt, G, bm);
  for (int l = 0; l < L; ++l) {
    s[l] = rz_e4m3_block_scale(bm[l], 6.0f);
    d[l] = rz_mul(G, s[l]);
  }
  int32_t code[RZ_BLOCK * L];
  rz_lanes_encode_e2m1<L, false>(xt, d, code, nullptr);  // the error is not needed
  rz_lanes_pack<L>(code, packed);
  for (int l = 0; l < L; ++l) scale[l] = rz_e4m3_code(s[l]);
}

// ---- nvfp4_4over6 (SPEC §3.2): s4 only when err4 < err6.
template <int L>
RZ_HD RZ_FORCEINLINE void rz_quantize_lanes_4over6(const float* xt, float G, uint8_t* packed,
                                                   uint8_t* scale) {
  float bm[L], s6[L], s4[L], d6[L], d4[L], err6[L], err4[L];
  rz_lanes_bm<L>(xt, G, bm);
  for (int l = 0; l < L; ++l) {
    s6[l] = rz_e4m3_block_scale(bm[l], 6.0f);
    s4[l] = rz_e4m3_block_scale(bm[l], 4.0f);
    d6[l] = rz_mul(G, s6[l]);
    d4[l] = rz_mul(G, s4[l]);
  }
  int32_t code6[RZ_BLOCK * L], code4[RZ_BLOCK * L];
  rz_lanes_encode_e2m1<L, true>(xt, d6, code6, err6);
  rz_lanes_encode_e2m1<L, true>(xt, d4, code4, err4);
  int32_t four[L], code[RZ_BLOCK * L];
  for (int l = 0; l < L; ++l) four[l] = err4[l] < err6[l] ? -1 : 0;
  for (int i = 0; i < RZ_BLOCK; ++i)
    for (int l = 0; l < L; ++l)
      code[i * L + l] = (code4[i * L + l] & four[l]) | (code6[i * L + l] & ~four[l]);
  rz_lanes_pack<L>(code, packed);
  for (int l = 0; l < L; ++l)
    scale[l] = uint8_t((rz_e4m3_code(s4[l]) & four[l]) | (rz_e4m3_code(s6[l]) & ~four[l]));
}

// ---- nvfp4_razer (SPEC §3.3): candidates +small, -small, +big, -big.
// Scale byte = neg << 7 | big << 6 | E3M3 payload; `big` is the candidate's
// position (c >= 2), as in razer.ts (svSmall < svBig is validated upstream,
// so it equals SPEC's |sv| == svBig).
template <int L>
RZ_HD RZ_FORCEINLINE void rz_lanes_razer_candidate(const float* xt, float G, const float* bm,
                                                   int c, float sv_small, float sv_big,
                                                   int32_t* code, float* err, int32_t* byte) {
  const float mag = c < 2 ? sv_small : sv_big;
  const float sv = (c & 1) ? -mag : mag;
  const float qmax = mag > 6.0f ? mag : 6.0f;  // max(6, |sv|)
  const int32_t bits = ((c & 1) << 7) | ((c >= 2 ? 1 : 0) << 6);
  float d[L];
  for (int l = 0; l < L; ++l) {
    const float s = rz_e3m3_block_scale(bm[l], qmax);
    d[l] = rz_mul(G, s);
    byte[l] = bits | int32_t(rz_e3m3_code(s));
  }
  rz_lanes_encode_razer<L>(xt, d, sv, code, err);
}

template <int L>
RZ_HD RZ_FORCEINLINE void rz_quantize_lanes_razer(const float* xt, float G, float sv_small,
                                                  float sv_big, uint8_t* packed,
                                                  uint8_t* scale) {
  float bm[L], best_err[L], err[L];
  int32_t best_byte[L], byte[L];
  int32_t code[RZ_BLOCK * L], best[RZ_BLOCK * L];
  int32_t keep[L];
  rz_lanes_bm<L>(xt, G, bm);
  rz_lanes_razer_candidate<L>(xt, G, bm, 0, sv_small, sv_big, best, best_err, best_byte);
  for (int c = 1; c < 4; ++c) {
    rz_lanes_razer_candidate<L>(xt, G, bm, c, sv_small, sv_big, code, err, byte);
    for (int l = 0; l < L; ++l) keep[l] = err[l] < best_err[l] ? -1 : 0;  // strict <
    rz_lanes_keep<L>(keep, code, byte, err, best, best_byte, best_err);
  }
  rz_lanes_pack<L>(best, packed);
  for (int l = 0; l < L; ++l) scale[l] = uint8_t(best_byte[l]);
}

// ---- nvfp4_razer_a (SPEC §3.4): nvfp4's scale, +svAct unless -svAct is
// strictly better. Scale byte = neg << 7 | E4M3 code.
template <int L>
RZ_HD RZ_FORCEINLINE void rz_quantize_lanes_razer_a(const float* xt, float G, float sv_act,
                                                    uint8_t* packed, uint8_t* scale) {
  float bm[L], s[L], d[L], err_plus[L], err_minus[L];
  int32_t plus[RZ_BLOCK * L], minus[RZ_BLOCK * L];
  rz_lanes_bm<L>(xt, G, bm);
  for (int l = 0; l < L; ++l) {
    s[l] = rz_e4m3_block_scale(bm[l], 6.0f);
    d[l] = rz_mul(G, s[l]);
  }
  rz_lanes_encode_razer<L>(xt, d, sv_act, plus, err_plus);
  rz_lanes_encode_razer<L>(xt, d, -sv_act, minus, err_minus);
  int32_t neg[L], code[RZ_BLOCK * L];
  for (int l = 0; l < L; ++l) neg[l] = err_minus[l] < err_plus[l] ? -1 : 0;
  for (int i = 0; i < RZ_BLOCK; ++i)
    for (int l = 0; l < L; ++l)
      code[i * L + l] = (minus[i * L + l] & neg[l]) | (plus[i * L + l] & ~neg[l]);
  rz_lanes_pack<L>(code, packed);
  for (int l = 0; l < L; ++l) scale[l] = uint8_t((0x80 & neg[l]) | rz_e4m3_code(s[l]));
}

// ---- one block (L = 1): x[16] in, 8 packed code bytes out, scale byte returned.
RZ_HD RZ_FORCEINLINE uint8_t rz_quantize_block_nvfp4(const float* x, float G, uint8_t* packed) {
  uint8_t s;
  rz_quantize_lanes_nvfp4<1>(x, G, packed, &s);
  return s;
}
RZ_HD RZ_FORCEINLINE uint8_t rz_quantize_block_4over6(const float* x, float G, uint8_t* packed) {
  uint8_t s;
  rz_quantize_lanes_4over6<1>(x, G, packed, &s);
  return s;
}
RZ_HD RZ_FORCEINLINE uint8_t rz_quantize_block_razer(const float* x, float G, float sv_small,
                                                     float sv_big, uint8_t* packed) {
  uint8_t s;
  rz_quantize_lanes_razer<1>(x, G, sv_small, sv_big, packed, &s);
  return s;
}
RZ_HD RZ_FORCEINLINE uint8_t rz_quantize_block_razer_a(const float* x, float G, float sv_act,
                                                       uint8_t* packed) {
  uint8_t s;
  rz_quantize_lanes_razer_a<1>(x, G, sv_act, packed, &s);
  return s;
}

}  // namespace razer
