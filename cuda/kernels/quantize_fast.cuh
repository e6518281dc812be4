// Fast per-block quantizers for nvfp4 and nvfp4_razer_a: the activation hot
// path of the GPU quantize kernels. Bit-exact with the shared block
// quantizers of cuda/formats/block_quantize.h (rz_quantize_block_nvfp4 and
// rz_quantize_block_razer_a), which the kernels fall back to whenever a block
// leaves the range where the shortcuts below are proven exact. Everything is
// __host__ __device__ so that cuda/tests/quantize_fast_test.cpp checks it on
// the CPU, exhaustively where the domain allows.
//
// Three shortcuts, each exact under the stated conditions:
//
// 1. Division. y = RN(x / d) for the block's decode scale d, with d's
//    reciprocal as a double-float hi + lo computed once per block:
//      q0 = RN(x * hi + RN(x * lo))   within (1/2 + 2^-22) ulp of x / d
//      r  = x - q0 * d                exact (one FMA; q0 is within 1 ulp)
//      y  = RN(q0 + r * hi)           = RN(x / d) by Markstein's theorem
//                                      (hi = RN(1/d), q0 within 1 ulp).
//    Needs no underflow in the remainder: 2^-80 <= d <= 2^100 and the
//    quotient below 16. Quotients under 2^-10 may come out an ulp off, which
//    changes nothing: their code is 0 and they are far from every threshold.
//
// 2. E2M1 rounding. For am = min(|y|, 6), the nearest grid value with ties to
//    the even code is RN(am + C) - C with C = 1.5 * 2^(22 + k): adding C puts
//    the binary point so that the ulp is the grid step of am's binade (0.5
//    below 2, 1 in [2, 4), 2 in [4, 6]), the FADD rounds once to nearest-even
//    (C / ulp is even, so ties go to the even multiple = the even code), and
//    subtracting C is exact. C = max(2^e * 1.5 * 2^22, 1.5 * 2^22) with 2^e
//    the power of two of am's binade (exponent bits only). The code is the
//    number of steps, bits(t) - bits(C), plus 2 per binade above the first.
//
// 3. The RaZeR take test |RN(y - sv)| <= |RN(y - f)| (f = E2M1 value of y).
//    For y >= 0 it holds exactly on an interval [lo, hi] of y (for y in
//    [0, 16], 2^-4 <= sv <= 64, sv a multiple of 2^-6): the test is the
//    intersection over grid points g of {y : RN|y - sv| <= RN|y - g|}, each a
//    half-line because RN is monotone and sv differs from every g by at least
//    2^-6, far more than the rounding errors at these magnitudes. The host
//    finds lo and hi by bisection with the reference predicate
//    (sv_window()). By symmetry, -sv is taken exactly on [-hi, -lo].
//    The squared errors ((v * d) - x)^2 equal (RN(|v| * d) - |x|)^2 because
//    v has the sign of x (or is 0), so one term per element serves both
//    candidates: A with the E2M1 value, B with the SV.
//
// The RaZeR-A choice between +sv and -sv has two algorithms here: both
// sequential error sums in the unrolled loop (kAlgRazerSums, the kernels'
// default: faster on the H100), or a certified decision from the window
// elements alone with the exact sums as fallback (kAlgRazerCert, see
// razer_a_neg). Both are bit-exact; cuda/tests/quantize_notes.md has timings.
#pragma once

#include <cstdint>
#include <cstring>  // formats/arith.h uses std::memcpy in host code but includes
                    // <cstring> only when not under nvcc
#if !defined(__CUDA_ARCH__)
#include <cmath>
#endif

#include "../formats/formats.h"

namespace razer {
namespace fastq {

RZ_HD RZ_FORCEINLINE float fma_rn(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fmaf_rn(a, b, c);
#else
  return std::fmaf(a, b, c);
#endif
}

// RN(1 / d), correctly rounded.
RZ_HD RZ_FORCEINLINE float rcp_rn(float d) {
#if defined(__CUDA_ARCH__)
  return __frcp_rn(d);
#else
  return 1.0f / d;
#endif
}

// RN(1 / d) for d with |d| in [2^-120, 2^120]: the fast path of __frcp_rn
// (an approximate reciprocal and one Newton step with FMAs, which rounds
// correctly in that range) without __frcp_rn's range check and branch.
// quantize_check.cu compares it with __frcp_rn for every mantissa.
RZ_HD RZ_FORCEINLINE float rcp_rn_normal(float d) {
#if defined(__CUDA_ARCH__)
  float r;
  asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(d));
  return __fmaf_rn(r, __fmaf_rn(-d, r, 1.0f), r);
#else
  return 1.0f / d;
#endif
}

// |x| (a sign-bit clear; on the device a free operand modifier).
RZ_HD RZ_FORCEINLINE float fabs_(float x) {
#if defined(__CUDA_ARCH__)
  return fabsf(x);
#else
  return rz_abs(x);
#endif
}

// min / max of two non-NaN values.
RZ_HD RZ_FORCEINLINE float fmin2(float a, float b) {
#if defined(__CUDA_ARCH__)
  return fminf(a, b);
#else
  return a < b ? a : b;
#endif
}
RZ_HD RZ_FORCEINLINE float fmax2(float a, float b) {
#if defined(__CUDA_ARCH__)
  return fmaxf(a, b);
#else
  return a > b ? a : b;
#endif
}

// ---------------------------------------------------------- division ----
struct Divisor {
  float d, hi, lo;  // hi = RN(1/d), hi + lo ~ 1/d to about 2^-47
};

RZ_HD RZ_FORCEINLINE Divisor make_divisor(float d) {
  Divisor D;
  D.d = d;
  D.hi = rcp_rn(d);
  D.lo = rz_mul(fma_rn(-d, D.hi, 1.0f), D.hi);  // (1 - d * hi) exactly, times hi
  return D;
}

// The same for |d| in [2^-120, 2^120] (the block divisors of the fast path).
RZ_HD RZ_FORCEINLINE Divisor make_divisor_normal(float d) {
  Divisor D;
  D.d = d;
  D.hi = rcp_rn_normal(d);
  D.lo = rz_mul(fma_rn(-d, D.hi, 1.0f), D.hi);
  return D;
}

// RN(x / d) under the conditions of shortcut 1 (see the file comment).
RZ_HD RZ_FORCEINLINE float div_exact(float x, const Divisor& D) {
  const float q0 = fma_rn(x, D.hi, rz_mul(x, D.lo));
  const float r = fma_rn(-q0, D.d, x);
  return fma_rn(r, D.hi, q0);
}

// Range of divisors (and of |y|) where div_exact is exact.
constexpr float kMinDivisor = 0x1p-80f;
constexpr float kMaxDivisor = 0x1p100f;
constexpr float kMaxQuotient = 15.0f;  // checked as amax * hi <= 15, so |y| < 16

// ------------------------------------------------------------ E2M1 ----
constexpr float kC0 = 6291456.0f;        // 1.5 * 2^22: ulp 0.5
constexpr uint32_t kC0Hi = 0x4AC00000u >> 22;

// am = min(|y|, 6), finite, >= 0. Returns the magnitude code (0..7) and sets
// v to the magnitude (the E2M1 value of am), per shortcut 2.
RZ_HD RZ_FORCEINLINE uint32_t e2m1_round(float am, float& v) {
  const float p2 = rz_from_bits(rz_bits(am) & 0x7f800000u);  // 2^e (0 for am < 2^-126)
  const float C = fmax2(rz_mul(p2, kC0), kC0);
  const float t = rz_add(am, C);
  v = rz_sub(t, C);
  const uint32_t cb = rz_bits(C);
  return rz_bits(t) - cb + ((cb >> 22) - kC0Hi);
}

// ------------------------------------------------- RaZeR take window ----
struct SvWindow {
  float lo = 1.0f, hi = 0.0f;  // take +sv iff lo <= y <= hi (empty when lo > hi)
  bool fast = false;           // false: sv outside the proven range, use the generic path
};

// The reference take test of encodeBlockRazer for one y and sv.
RZ_HD RZ_FORCEINLINE bool take_sv_reference(float y, float sv) {
  const float a = rz_abs(y);
  const float mag = rz_e2m1_mag_value(a);
  const bool neg = (y < 0.0f) & (mag != 0.0f);
  const float f = neg ? -mag : mag;
  return rz_abs(rz_sub(y, sv)) <= rz_abs(rz_sub(y, f));
}

// Bisection over binary32 bit patterns (non-negative floats order like their
// bits): the first pattern in (bad, good] where pred flips, pred(bad) false.
template <typename Pred>
inline uint32_t first_true_bits(uint32_t bad, uint32_t good, Pred pred) {
  while (good - bad > 1u) {
    const uint32_t mid = bad + (good - bad) / 2u;
    if (pred(mid)) good = mid;
    else bad = mid;
  }
  return good;
}

// Host: the interval of y in [0, 16] where +sv is taken (shortcut 3).
inline SvWindow sv_window(float sv) {
  SvWindow w;
  if (!(sv >= 0.0625f && sv <= 64.0f)) return w;
  const float scaled = sv * 64.0f;
  if (scaled != float(int32_t(scaled))) return w;  // not a multiple of 2^-6
  w.fast = true;
  const float top = 16.0f;
  auto take = [sv](uint32_t b) { return take_sv_reference(rz_from_bits(b), sv); };
  auto not_take = [sv](uint32_t b) { return !take_sv_reference(rz_from_bits(b), sv); };
  const uint32_t top_b = rz_bits(top);
  if (sv <= top) {
    // take(0) is false (|sv| > 0), take(sv) is true (0 <= anything).
    w.lo = rz_from_bits(first_true_bits(0u, rz_bits(sv), take));
    if (take(top_b)) {
      w.hi = top;
    } else {
      w.hi = rz_from_bits(first_true_bits(rz_bits(sv), top_b, not_take) - 1u);
    }
  } else if (take(top_b)) {
    w.lo = rz_from_bits(first_true_bits(0u, top_b, take));
    w.hi = top;
  }  // else: never taken below 16; keep the empty window
  return w;
}

// ---------------------------------------------------------- E4M3 scale ----
// E4M3(z) for z already clamped to [2^-9, 448], and its code, by the same
// magic-constant rounding as e2m1_round: C = 1.5 * 2^(20 + e) puts the ulp
// at 2^(e-3), three mantissa bits at z's exponent e, and C = 1.5 * 2^14
// (ulp 2^-9) for the subnormal range; the code is the number of steps plus
// 8 per binade (C's exponent, read from its bits).
RZ_HD RZ_FORCEINLINE float e4m3_scale(float z, uint32_t& code) {
  const float p2 = rz_from_bits(rz_bits(z) & 0x7f800000u);
  const float C = fmax2(rz_mul(p2, 1572864.0f /* 1.5 * 2^20 */), 24576.0f /* 1.5 * 2^14 */);
  const float t = rz_add(z, C);
  const uint32_t cb = rz_bits(C);
  code = rz_bits(t) - cb + ((cb >> 20) - 1132u);  // 1132 = bits(1.5 * 2^14) >> 20
  return rz_sub(t, C);
}

// ------------------------------------------------------ block kernels ----
// Per-tensor constants of the fast path.
struct FastConsts {
  float G;         // global scale, in [kMinG, kMaxG] (else: generic path)
  float G4096;     // G * 2^12: amax above it gives bm > 4096 and the top scale anyway
  Divisor GD;      // divisor G
  Divisor D6;      // divisor 6
  float sv, lo, hi;  // nvfp4_razer_a: svAct and its take window
};
// G in this range keeps d = G * s (s in [2^-9, 448]) inside div_exact's range.
constexpr float kMinG = 0x1p-70f;
constexpr float kMaxG = 0x1p90f;

RZ_HD RZ_FORCEINLINE FastConsts make_fast_consts(float G, float sv, const SvWindow& w) {
  FastConsts k;
  k.G = G;
  k.G4096 = rz_mul(G, 4096.0f);
  k.GD = make_divisor(G);
  k.D6 = make_divisor(6.0f);
  k.sv = sv;
  k.lo = w.lo;
  k.hi = w.hi;
  return k;
}

// The sign nibbles of a block: bit 3 of nibble i (element i, 8 per word) is
// the sign bit of x_i; every other bit is 0. (The kernels build these from
// the raw input words; this version is for the host and the generic case.)
RZ_HD RZ_FORCEINLINE void sign_nibbles(const float* x, uint32_t* s) {
  s[0] = s[1] = 0u;
  for (int i = 0; i < RZ_BLOCK; ++i) s[i >> 3] |= (rz_bits(x[i]) >> 31) << (4 * (i & 7) + 3);
}

// The exact RaZeR-A decision: the sequential error sums of both candidates,
// err_p (+sv) and err_m (-sv), as lib/reference/block.ts computes them, for a
// block with divisor D (decode scale d), and whether -sv wins
// (err_m < err_p). x_at(i) reads element i.
template <typename XAt>
RZ_HD RZ_FORCEINLINE bool razer_a_exact_neg(const XAt& x_at, const Divisor& D, float svd,
                                            const FastConsts& k) {
  float err_p = 0.0f, err_m = 0.0f;
#pragma unroll 1
  for (int i = 0; i < RZ_BLOCK; ++i) {
    const float xi = x_at(i);
    const float y = div_exact(xi, D);
    const float ay = fabs_(y);
    float v;
    e2m1_round(fmin2(ay, 6.0f), v);
    const bool win = (ay >= k.lo) & (ay <= k.hi);
    const bool yneg = y < 0.0f;
    const float ax = fabs_(xi);
    const float ea = rz_sub(rz_mul(v, D.d), ax);
    const float eb = rz_sub(svd, ax);
    const float A = rz_mul(ea, ea), B = rz_mul(eb, eb);
    err_p = rz_add(err_p, (win & !yneg) ? B : A);
    err_m = rz_add(err_m, (win & yneg) ? B : A);
  }
  return err_m < err_p;
}

RZ_HD RZ_FORCEINLINE int lowest_bit(uint32_t m) {
#if defined(__CUDA_ARCH__)
  return __ffs(int(m)) - 1;
#else
  return __builtin_ctz(m);
#endif
}

// The RaZeR-A decision from the window elements alone, certified, else the
// exact sums. The two candidates' error terms differ only at elements in the
// take window (A: E2M1 value, B: the SV), so
//   err_m - err_p = D + (rounding of both sums),
//   D = sum over negative window elements of (B - A) - sum over positive ones.
// Every term of either sum is at most T = (d (M + 2^-16))^2 (1 + 2^-20),
// M = max(1, max|y| - 6) (an element is at most half a grid step, at most 1,
// from its E2M1 value, or max|y| - 6 above 6; a window element is no farther
// from the SV than from its E2M1 value). A sequential binary32 sum of 16
// terms in [0, T] is within 15 * 16 u T = 1.43e-5 T of the exact sum
// (u = 2^-24), and D as computed below is within 1.53e-5 T of the exact D, so
// when |D| > 5e-5 T the sign of err_m - err_p is the sign of D: -sv wins iff
// D < 0. Otherwise (an element on the window's edge, or cancelling +/-
// elements: rare) and when d^2 could underflow or overflow, the exact sums
// decide. wm: window flags (bit 3 of each element's nibble); cw: the codes
// (magnitude in bits 0..2); sgn: sign nibbles.
template <typename XAt>
RZ_HD RZ_FORCEINLINE bool razer_a_neg(const XAt& x_at, const uint32_t* wm, const uint32_t* cw,
                                      const uint32_t* sgn, float amax, const Divisor& D, float svd,
                                      const FastConsts& k) {
  const float d = D.d;
  if (d >= 0x1p-60f && d <= 0x1p60f) {
    const float ymax = rz_mul(rz_mul(amax, D.hi), 1.000001f);  // >= max |y|
    const float M = fmax2(1.0f, rz_sub(ymax, 6.0f));
    const float e = rz_mul(d, rz_add(M, 0x1p-16f));
    const float tau = rz_mul(rz_mul(rz_mul(e, e), 1.001f), 5e-5f);
    float dsum = 0.0f;
    for (int w = 0; w < 2; ++w) {
      uint32_t m = wm[w];
      while (m != 0u) {
        const int bit = lowest_bit(m);  // 4 j + 3 for element 8 w + j
        m &= m - 1u;
        const float ax = fabs_(x_at(8 * w + (bit >> 2)));
        const float v = rz_e2m1_value((cw[w] >> (bit - 3)) & 7u);
        const float ea = rz_sub(rz_mul(v, d), ax);
        const float eb = rz_sub(svd, ax);
        const float diff = rz_sub(rz_mul(eb, eb), rz_mul(ea, ea));  // B - A
        dsum = rz_add(dsum, (sgn[w] >> bit) & 1u ? diff : -diff);
      }
    }
    if (dsum < -tau) return true;
    if (dsum > tau) return false;
  }
#if defined(RZ_COUNT_EXACT_FALLBACKS) && !defined(__CUDA_ARCH__)
  RZ_COUNT_EXACT_FALLBACKS();  // tests: how often the exact sums decide
#endif
  return razer_a_exact_neg(x_at, D, svd, k);
}

// Algorithms of quantize_block_fast.
constexpr int kAlgNvfp4 = 0;      // nvfp4
constexpr int kAlgRazerSums = 1;  // nvfp4_razer_a, both error sums in the main loop
constexpr int kAlgRazerCert = 2;  // nvfp4_razer_a, certified decision (razer_a_neg)

// One 16-element block, finite x, amax = max |x_i| (exact), sgn = its sign
// nibbles, k.G in [kMinG, kMaxG]; x_at(i) reads element i again (for the
// RaZeR-A decision, outside the unrolled main loop). Writes the 8 packed code
// bytes as two little-endian words and the scale byte. Returns false,
// writing nothing, when the block's quotients reach 15 (possible only with a
// static G); the caller then runs the generic block quantizer.
template <int ALG, typename XAt>
RZ_HD RZ_FORCEINLINE bool quantize_block_fast(const float* x, const XAt& x_at, const uint32_t* sgn,
                                              float amax, const FastConsts& k,
                                              uint32_t* code_words, uint32_t* scale_byte) {
  // s = E4M3(clamp(bm / 6, 2^-9, 448)), bm = amax / G. Capping amax at
  // 4096 G changes nothing (bm / 6 > 448 either way) and keeps both quotients
  // in div_exact's range; a bm / 6 below 2^-10 is clamped whatever its last bit.
  const float bm = div_exact(fmin2(amax, k.G4096), k.GD);
  const float z = div_exact(bm, k.D6);
  uint32_t scode;
  const float s = e4m3_scale(fmin2(fmax2(z, RZ_E4M3_MIN), RZ_E4M3_MAX), scode);
  const float d = rz_mul(k.G, s);  // in [2^-79, 2^99] (kMinG, kMaxG)
  const Divisor D = make_divisor_normal(d);
  if (!(rz_mul(amax, D.hi) <= kMaxQuotient)) return false;
  const float svd = rz_mul(k.sv, d);
  constexpr bool RAZER = ALG != kAlgNvfp4;

  // c: magnitude codes (plus an offset per nibble, removed below); wm: bit 3
  // set for elements in the take window.
  uint32_t c[2] = {0u, 0u}, wm[2] = {0u, 0u};
  float err_p = 0.0f, err_m = 0.0f;
#pragma unroll
  for (int i = 0; i < RZ_BLOCK; ++i) {
    const float xi = x[i];
    const float y = div_exact(xi, D);
    const float ay = fabs_(y);
    float v;
    const uint32_t mcode = e2m1_round(fmin2(ay, 6.0f), v);
    const int w = i >> 3, sh = 4 * (i & 7);
    if (ALG == kAlgRazerSums) {
      // v is needed anyway: code = bits(min(v, 5) + 2) >> 21, minus 512 (the
      // values 2, 2.5, 3, 3.5, 4, 5, 6, 7 have two mantissa bits, so their
      // codes are consecutive; their low 21 bits are 0, so one shift places
      // the code in its nibble).
      const uint32_t vb = rz_bits(rz_add(fmin2(v, 5.0f), 2.0f));
      c[w] += sh <= 21 ? vb >> (21 - sh) : vb << (sh - 21);
    } else {
      // The magnitude code plus kC0Hi (removed below, with the other nibbles').
      c[w] += (mcode + kC0Hi) << sh;
    }
    if (ALG == kAlgRazerCert) {
      const bool win = (ay >= k.lo) & (ay <= k.hi);
      wm[w] |= win ? (8u << sh) : 0u;
    }
    if (ALG == kAlgRazerSums) {
      const float ax = fabs_(xi);
      const float ea = rz_sub(rz_mul(v, d), ax);
      const float eb = rz_sub(svd, ax);
      const float A = rz_mul(ea, ea), B = rz_mul(eb, eb);
#if defined(__CUDA_ARCH__)
      // The same as the host code below, written in PTX for the one setp
      // with two predicate outputs (y < 0 and y >= 0, each AND the window)
      // and a predicated OR, which nvcc does not find by itself.
      asm("{\n\t"
          ".reg .pred pw, pp, pm;\n\t"
          ".reg .f32 sp, sm;\n\t"
          "setp.ge.f32 pw, %3, %4;\n\t"
          "setp.le.and.f32 pw, %3, %5, pw;\n\t"
          "setp.lt.and.f32 pm|pp, %6, 0f00000000, pw;\n\t"
          "selp.f32 sp, %7, %8, pp;\n\t"
          "selp.f32 sm, %7, %8, pm;\n\t"
          "add.rn.f32 %0, %0, sp;\n\t"
          "add.rn.f32 %1, %1, sm;\n\t"
          "@pw or.b32 %2, %2, %9;\n\t"
          "}"
          : "+f"(err_p), "+f"(err_m), "+r"(wm[w])
          : "f"(ay), "f"(k.lo), "f"(k.hi), "f"(y), "f"(B), "f"(A), "r"(8u << sh));
#else
      const bool win = (ay >= k.lo) & (ay <= k.hi);
      const bool yneg = y < 0.0f;
      const bool tp = win & !yneg, tm = win & yneg;
      wm[w] |= win ? (8u << sh) : 0u;
      err_p = rz_add(err_p, tp ? B : A);
      err_m = rz_add(err_m, tm ? B : A);
#endif
    }
  }
  uint32_t cw[2];
#pragma unroll
  for (int w = 0; w < 2; ++w) {
    // Remove the per-nibble offsets: sum over 8 nibbles of 512 << 4j or
    // kC0Hi << 4j, mod 2^32.
    cw[w] = c[w] - (ALG == kAlgRazerSums ? 0x22222200u
                                         : uint32_t(uint64_t(kC0Hi) * 0x11111111ull));
    // Sign bit on non-zero codes: bit 3 of each nibble of nz3 is set when
    // any of bits 0..2 is.
    const uint32_t nz3 = (cw[w] << 1) | (cw[w] << 2) | (cw[w] << 3);
    cw[w] |= sgn[w] & nz3;
  }
  bool neg = false;
  if (ALG == kAlgRazerSums) neg = err_m < err_p;
  // No element in the window: both candidates give the same sums, +sv stays.
  if (ALG == kAlgRazerCert && (wm[0] | wm[1]) != 0u)
    neg = razer_a_neg(x_at, wm, cw, sgn, amax, D, svd, k);
#pragma unroll
  for (int w = 0; w < 2; ++w) {
    if (RAZER) {
      const uint32_t taken = wm[w] & (neg ? sgn[w] : ~sgn[w]);  // bit 3 per nibble
      cw[w] = (cw[w] & ~((taken >> 3) * 15u)) | taken;          // nibble := 0x8
    }
    code_words[w] = cw[w];
  }
  *scale_byte = scode | (neg ? 0x80u : 0u);
  return true;
}

}  // namespace fastq
}  // namespace razer
