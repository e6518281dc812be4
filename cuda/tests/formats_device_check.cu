// Device check of the shared codecs and block quantizers (cuda/formats/): the
// device build (nvcc, __f*_rn arithmetic) must give the same bits as the host
// build, which cuda/cpu/selftest.cpp checks against the TypeScript reference.
// Build and run on a CUDA machine (from the repository root):
//   nvcc -std=c++17 -O3 -arch=native -Xcompiler -ffp-contract=off -I cuda
//        cuda/tests/formats_device_check.cu -o /tmp/rz_device_selftest && /tmp/rz_device_selftest
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "formats/formats.h"

using namespace razer;

#define CUDA_OK(x)                                                                  \
  do {                                                                              \
    cudaError_t e_ = (x);                                                           \
    if (e_ != cudaSuccess) {                                                        \
      std::printf("CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__); \
      std::exit(2);                                                                 \
    }                                                                               \
  } while (0)

// Every binary32 pattern: our fp16/bf16 rounding against the CUDA intrinsics
// (round to nearest even), NaN excluded (payload conventions differ).
__global__ void half_vs_intrinsics(unsigned long long* bad) {
  unsigned long long n = 0;
  for (uint64_t b = blockIdx.x * uint64_t(blockDim.x) + threadIdx.x; b < (1ull << 32);
       b += uint64_t(gridDim.x) * blockDim.x) {
    const float x = __uint_as_float(uint32_t(b));
    if (x != x) continue;
    const uint16_t h = __half_as_ushort(__float2half_rn(x));
    const uint16_t bf = __bfloat16_as_ushort(__float2bfloat16_rn(x));
    n += (rz_f32_to_f16(x) != h) + (rz_f32_to_bf16(x) != bf);
  }
  atomicAdd(bad, n);
}

// Codecs on a strided sample of all binary32 patterns, results for the host to compare.
// (Non-finite patterns are mapped to finite ones: the scale codecs take
// finite, clamped inputs.)
__device__ __host__ inline uint32_t sample_pattern(uint32_t i, uint32_t stride) {
  const uint32_t b = i * stride + 12345u;
  return (b & 0x7f800000u) == 0x7f800000u ? b & 0xbfffffffu : b;
}

__global__ void codecs_sample(uint32_t stride, uint32_t count, uint32_t* out) {
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < count; i += gridDim.x * blockDim.x) {
    const float x = __uint_as_float(sample_pattern(i, stride));
    const float a = rz_abs(x);
    const float e4 = rz_e4m3_round(rz_clamp(a, RZ_E4M3_MIN, RZ_E4M3_MAX));
    const float e3 = rz_e3m3_round(rz_clamp(a, RZ_E3M3_MIN, RZ_E3M3_MAX));
    out[4 * i] = rz_e2m1_encode(x) | (rz_e4m3_code(e4) << 8) | (rz_e3m3_code(e3) << 16);
    out[4 * i + 1] = __float_as_uint(e4) ^ __float_as_uint(rz_f16_to_f32(uint16_t(i)));
    out[4 * i + 2] = __float_as_uint(e3) ^ rz_f32_to_f16(x) ^ (uint32_t(rz_f32_to_bf16(x)) << 16);
    out[4 * i + 3] = __float_as_uint(rz_e4m3_decode(i & 0xff)) ^ __float_as_uint(rz_e3m3_decode(i & 0x3f));
  }
}

static void codecs_sample_host(uint32_t stride, uint32_t count, uint32_t* out) {
  for (uint32_t i = 0; i < count; ++i) {
    const float x = rz_from_bits(sample_pattern(i, stride));
    const float a = rz_abs(x);
    const float e4 = rz_e4m3_round(rz_clamp(a, RZ_E4M3_MIN, RZ_E4M3_MAX));
    const float e3 = rz_e3m3_round(rz_clamp(a, RZ_E3M3_MIN, RZ_E3M3_MAX));
    out[4 * i] = rz_e2m1_encode(x) | (rz_e4m3_code(e4) << 8) | (rz_e3m3_code(e3) << 16);
    out[4 * i + 1] = rz_bits(e4) ^ rz_bits(rz_f16_to_f32(uint16_t(i)));
    out[4 * i + 2] = rz_bits(e3) ^ rz_f32_to_f16(x) ^ (uint32_t(rz_f32_to_bf16(x)) << 16);
    out[4 * i + 3] = rz_bits(rz_e4m3_decode(i & 0xff)) ^ rz_bits(rz_e3m3_decode(i & 0x3f));
  }
}

// One thread per block of 16: quantize (all formats) and decode.
__global__ void quantize_blocks(const float* x, float G, int fmt, int nblocks, uint8_t* codes,
                                uint8_t* scales, float* dec) {
  const int b = blockIdx.x * blockDim.x + threadIdx.x;
  if (b >= nblocks) return;
  float xb[16];
  for (int i = 0; i < 16; ++i) xb[i] = x[16 * b + i];
  uint8_t s;
  if (fmt == 0) s = rz_quantize_block_nvfp4(xb, G, codes + 8 * b);
  else if (fmt == 1) s = rz_quantize_block_4over6(xb, G, codes + 8 * b);
  else if (fmt == 2) s = rz_quantize_block_razer(xb, G, 5.0f, 8.0f, codes + 8 * b);
  else s = rz_quantize_block_razer_a(xb, G, 5.0f, codes + 8 * b);
  scales[b] = s;
  const int kind = fmt == 2 ? 1 : fmt == 3 ? 2 : 0;
  rz_decode_block(kind, codes + 8 * b, s, 5.0f, 8.0f, 5.0f, dec + 16 * b);
}

int main() {
  int failures = 0;
  unsigned long long* d_bad;
  CUDA_OK(cudaMalloc(&d_bad, sizeof *d_bad));
  CUDA_OK(cudaMemset(d_bad, 0, sizeof *d_bad));
  half_vs_intrinsics<<<4096, 256>>>(d_bad);
  unsigned long long bad = 0;
  CUDA_OK(cudaMemcpy(&bad, d_bad, sizeof bad, cudaMemcpyDeviceToHost));
  std::printf("fp32 -> fp16/bf16, all 2^32 patterns vs __float2half_rn/__float2bfloat16_rn: %llu mismatches\n", bad);
  failures += bad != 0;

  const uint32_t stride = 251, count = uint32_t((1ull << 32) / stride);
  std::vector<uint32_t> host(size_t(count) * 4), dev(size_t(count) * 4);
  uint32_t* d_out;
  CUDA_OK(cudaMalloc(&d_out, dev.size() * 4));
  codecs_sample<<<4096, 256>>>(stride, count, d_out);
  CUDA_OK(cudaMemcpy(dev.data(), d_out, dev.size() * 4, cudaMemcpyDeviceToHost));
  codecs_sample_host(stride, count, host.data());
  size_t cm = 0;
  for (size_t i = 0; i < host.size(); ++i) {
    if (host[i] != dev[i] && cm < 8)
      std::printf("  pattern %08x word %zu: host %08x device %08x\n", sample_pattern(uint32_t(i / 4), stride),
                  i % 4, host[i], dev[i]);
    cm += host[i] != dev[i];
  }
  std::printf("codecs on %u sampled binary32 patterns, device vs host: %zu mismatches\n", count, cm);
  failures += cm != 0;

  const int nblocks = 1 << 20;
  std::mt19937 rng(5);
  std::normal_distribution<float> nd;
  std::student_t_distribution<float> td(3.0f);
  float* d_x;
  uint8_t *d_codes, *d_scales;
  float* d_dec;
  CUDA_OK(cudaMalloc(&d_x, size_t(nblocks) * 64));
  CUDA_OK(cudaMalloc(&d_codes, size_t(nblocks) * 8));
  CUDA_OK(cudaMalloc(&d_scales, size_t(nblocks)));
  CUDA_OK(cudaMalloc(&d_dec, size_t(nblocks) * 64));
  for (int dist = 0; dist < 4; ++dist) {
    std::vector<float> x(size_t(nblocks) * 16);
    for (size_t i = 0; i < x.size(); ++i) {
      float v = dist == 1 ? td(rng) : nd(rng);
      if (dist == 2) v *= std::ldexp(1.0f, int((i / 16) % 60) - 30);
      if (dist == 3) v = std::round(v * 8.0f) * 0.25f;
      x[i] = v;
    }
    // tiny (subnormal) and huge tensors too; inputs stay finite (non-finite
    // input is rejected before any quantizer runs)
    const float scale_by[4] = {1.0f, 1e-39f, 1.0f, 1e30f};
    for (float& v : x) v *= scale_by[dist];
    uint32_t m = 0;
    for (float v : x) m = std::max(m, rz_bits(v) & 0x7fffffffu);
    CUDA_OK(cudaMemcpy(d_x, x.data(), x.size() * 4, cudaMemcpyHostToDevice));
    for (int fmt = 0; fmt < 4; ++fmt) {
      const float amax = rz_from_bits(m);
      const float G = fmt == 1 ? rz_global_scale_4over6(amax)
                      : fmt == 2 ? rz_global_scale_razer(amax) : rz_global_scale_nvfp4(amax);
      if (G == 0.0f) continue;
      quantize_blocks<<<(nblocks + 255) / 256, 256>>>(d_x, G, fmt, nblocks, d_codes, d_scales, d_dec);
      std::vector<uint8_t> c(size_t(nblocks) * 8), s(static_cast<size_t>(nblocks));
      std::vector<float> dec(size_t(nblocks) * 16);
      CUDA_OK(cudaMemcpy(c.data(), d_codes, c.size(), cudaMemcpyDeviceToHost));
      CUDA_OK(cudaMemcpy(s.data(), d_scales, s.size(), cudaMemcpyDeviceToHost));
      CUDA_OK(cudaMemcpy(dec.data(), d_dec, dec.size() * 4, cudaMemcpyDeviceToHost));
      size_t badb = 0;
      for (int b = 0; b < nblocks; ++b) {
        uint8_t pk[8], sb;
        const float* xb = &x[size_t(16) * b];
        if (fmt == 0) sb = rz_quantize_block_nvfp4(xb, G, pk);
        else if (fmt == 1) sb = rz_quantize_block_4over6(xb, G, pk);
        else if (fmt == 2) sb = rz_quantize_block_razer(xb, G, 5.0f, 8.0f, pk);
        else sb = rz_quantize_block_razer_a(xb, G, 5.0f, pk);
        float hd[16];
        rz_decode_block(fmt == 2 ? 1 : fmt == 3 ? 2 : 0, pk, sb, 5.0f, 8.0f, 5.0f, hd);
        const bool differ = sb != s[size_t(b)] || std::memcmp(pk, &c[size_t(8) * b], 8) != 0 ||
                            std::memcmp(hd, &dec[size_t(16) * b], 64) != 0;
        if (differ && badb < 2) {
          std::printf("  block %d: scale host %02x device %02x; x0 %a; codes host", b, sb, s[size_t(b)], xb[0]);
          for (int j = 0; j < 8; ++j) std::printf(" %02x", pk[j]);
          std::printf(" device");
          for (int j = 0; j < 8; ++j) std::printf(" %02x", c[size_t(8) * b + j]);
          std::printf("; dec0 host %a device %a\n", hd[0], dec[size_t(16) * b]);
        }
        badb += differ;
      }
      std::printf("dist %d format %d: %d blocks, %zu differ (device vs host)\n", dist, fmt, nblocks, badb);
      failures += badb != 0;
    }
  }
  std::printf(failures ? "%d FAILURES\n" : "all device checks passed\n", failures);
  return failures ? 1 : 0;
}
