// Set-up and reference kernels shared by the two W4A16 benchmarks: the
// addon's `razer bench` (binding/bench_gpu.cu) and the standalone harness
// (cuda/bench/gemm_bench.cu). Inputs are generated on the device from a hash
// of the index, so a sweep needs no host-side data.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <cstring>  // before the formats headers (arith.h's host bit casts)

#include "formats/formats.h"

namespace razer {
namespace bench_kernels {

__device__ __forceinline__ uint32_t hash32(uint64_t i, uint32_t seed) {
  uint64_t x = i * 0x9E3779B97F4A7C15ull + seed * 0xBF58476D1CE4E5B9ull;
  x ^= x >> 31;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 29;
  return uint32_t(x >> 16);
}

// Random bytes. kind 0: any (element codes), 1: UE4M3 scale bytes 0x20..0x5F
// (2^-3 .. 30), 2: RaZeR scale bytes (both SV bits random, E3M3 payload with
// exponent 1..7). The values do not change the kernels' speed, but they are
// valid and finite, so a check against cuBLAS means something.
__global__ void gen_bytes(uint8_t* p, int64_t n, uint32_t seed, int kind) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const uint32_t h = hash32(uint64_t(i), seed);
    uint8_t v = uint8_t(h);
    if (kind == 1) v = uint8_t(0x20 + (h % 0x40));
    if (kind == 2) v = uint8_t((h & 0xC0) | (8 + (h >> 8) % 56));
    p[i] = v;
  }
}

template <class T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}
template <>
__device__ __forceinline__ __half from_float<__half>(float v) {
  return __float2half_rn(v);
}

// X uniform in (-2, 2).
template <class T>
__global__ void gen_x(T* x, int64_t n, uint32_t seed) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const uint32_t h = hash32(uint64_t(i), seed);
    x[i] = from_float<T>((float(h & 0xFFFF) - 32767.5f) / 16384.0f);
  }
}

// The dense weight cuBLAS multiplies: v * s per element of canonical codes
// and scales, exact in bf16 and fp16 (SPEC §2: at most 7 significant bits,
// here within fp16's range).
template <class T>
__global__ void decode_weights(const uint8_t* codes, const uint8_t* scales, int64_t n, int razer,
                               float sv_small, float sv_big, T* out) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const uint32_t pair = codes[i >> 1];
    const uint32_t code = (i & 1) ? (pair >> 4) : (pair & 15u);
    const uint32_t byte = scales[i >> 4];
    const float v = razer ? rz_value_razer(code, byte, sv_small, sv_big) * rz_scale_razer(byte)
                          : rz_value_nvfp4(code) * rz_scale_nvfp4(byte);
    out[i] = from_float<T>(v);
  }
}

// Reads n 16-byte words once (streaming loads) and folds them into a value
// that is almost never written, so that the loads cannot be dropped: the
// read-only bandwidth the floors are computed from.
__global__ void read_reduce(const uint4* p, int64_t n, unsigned* out) {
  uint32_t acc = 0;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  for (; i + 3 * stride < n; i += 4 * stride) {
    const uint4 a = __ldcs(p + i), b = __ldcs(p + i + stride), c = __ldcs(p + i + 2 * stride),
                d = __ldcs(p + i + 3 * stride);
    acc ^= a.x ^ a.y ^ a.z ^ a.w ^ b.x ^ b.y ^ b.z ^ b.w ^ c.x ^ c.y ^ c.z ^ c.w ^ d.x ^ d.y ^
           d.z ^ d.w;
  }
  for (; i < n; i += stride) {
    const uint4 a = __ldcs(p + i);
    acc ^= a.x ^ a.y ^ a.z ^ a.w;
  }
  if (acc == 0x12345678u) atomicAdd(out, 1u);
}

}  // namespace bench_kernels
}  // namespace razer
