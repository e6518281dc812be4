// Binary32 arithmetic shared by the host (g++) and device (nvcc) codecs.
//
// SPEC §1: every quantizer operation is one IEEE binary32 operation rounded to
// nearest-even, in the written order, never fused. On the device that is what
// the __f*_rn intrinsics guarantee (nvcc would otherwise contract a*b+c into an
// FMA). On the host the plain operators are exact binary32 operations as long
// as the translation unit is built with -ffp-contract=off and without
// -ffast-math (x86-64 uses SSE, never x87 extended precision). Subnormals are
// kept on both sides: no -ftz / --use_fast_math, no DAZ/FTZ in MXCSR.
#pragma once

#include <cstdint>
#include <cstring>  // memcpy: the host-side bit casts (also in nvcc's host pass)

#if defined(__CUDACC__)
#define RZ_HD __host__ __device__
#define RZ_FORCEINLINE __forceinline__
#elif defined(__GNUC__)
#define RZ_HD
// always_inline also lets these helpers inline into target("avx2") callers,
// so the dispatched host kernels vectorize them.
#define RZ_FORCEINLINE inline __attribute__((always_inline))
#else
#define RZ_HD
#define RZ_FORCEINLINE inline
#endif

namespace razer {

RZ_HD RZ_FORCEINLINE float rz_add(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

RZ_HD RZ_FORCEINLINE float rz_sub(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}

RZ_HD RZ_FORCEINLINE float rz_mul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

RZ_HD RZ_FORCEINLINE float rz_div(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}

// Bit casts (memcpy is the defined way on the host; it compiles to a move).
RZ_HD RZ_FORCEINLINE uint32_t rz_bits(float x) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(x);
#else
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
#endif
}

RZ_HD RZ_FORCEINLINE float rz_from_bits(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
#endif
}

// |x| by clearing the sign bit: exact, and the same on every compiler.
RZ_HD RZ_FORCEINLINE float rz_abs(float x) { return rz_from_bits(rz_bits(x) & 0x7fffffffu); }

RZ_HD RZ_FORCEINLINE bool rz_isnan(float x) { return (rz_bits(x) & 0x7fffffffu) > 0x7f800000u; }

// NaN or ±Inf.
RZ_HD RZ_FORCEINLINE bool rz_nonfinite(float x) {
  return (rz_bits(x) & 0x7f800000u) == 0x7f800000u;
}

RZ_HD RZ_FORCEINLINE float rz_nan() { return rz_from_bits(0x7fc00000u); }

// 2^k as a normal binary32, k in [-126, 127] (exact, no libm).
RZ_HD RZ_FORCEINLINE float rz_pow2(int k) { return rz_from_bits(uint32_t(k + 127) << 23); }

// clamp as Math.min(Math.max(v, lo), hi) (a NaN v stays NaN; never happens here).
RZ_HD RZ_FORCEINLINE float rz_clamp(float v, float lo, float hi) {
  const float a = v < lo ? lo : v;
  return a > hi ? hi : a;
}

}  // namespace razer
