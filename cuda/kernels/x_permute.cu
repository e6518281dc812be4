// The K-permuted copy of X read by the register-A wgmma kernel
// (gemm_wgmma.cuh; the order: gemm_layout.h, rz_xperm_word).
#include "gemm_internal.cuh"

namespace razer {
namespace gpu {
namespace {

// Layout of the copy: [ST][Mp = round_up(M, mt)][128 bytes], each mt-row
// block (mt = the GEMM's M tile) the exact shared-memory image of one stage's
// X tile (K-permuted,
// 128-byte swizzle: chunk c of row r at r * 128 + (c ^ (r % 8)) * 16), so the
// GEMM's producer copies 16 KB contiguous bytes per stage with fixed offsets.
// Rows past M and k past K (the last super-tile's padding) are +0, so they
// meet the zero codes of the padded weights without NaN * 0.
int64_t padded_rows(int64_t M, int mt) { return (M + mt - 1) / mt * mt; }

// One thread per 16-byte chunk of the output.
__global__ void __launch_bounds__(256) x_permute_kernel(const uint32_t* __restrict__ x, int64_t M,
                                                        int64_t Mp, int K, int ST,
                                                        uint4* __restrict__ xp) {
  // Lets the GEMM launch early; it waits (pdl_wait) for this kernel to finish.
  dev::pdl_trigger();
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  dev::pdl_wait();  // X is the previous kernel's output
  if (idx >= Mp * ST * 8) return;
  const int c = int(idx & 7) ^ int((idx >> 3) & 7);  // the logical chunk stored here
  const int64_t m = (idx >> 3) % Mp;
  const int st = int((idx >> 3) / Mp);
  uint32_t w[4] = {0u, 0u, 0u, 0u};
  if (m < M) {
    const uint32_t* src = x + m * (K / 2) + st * 32;
#pragma unroll
    for (int t = 0; t < 4; ++t)  // block t exists when its 16 k do (K is a multiple of 16)
      if (st * 64 + 16 * t < K) w[t] = __ldg(src + rz_xperm_word(4 * c + t));  // = 8 t + c
  }
  xp[idx] = make_uint4(w[0], w[1], w[2], w[3]);
}

}  // namespace

size_t x_permute_bytes(int64_t M, int64_t K, int mt) {
  return size_t(padded_rows(M, mt)) * size_t((K + 63) / 64) * 128;
}

cudaError_t x_permute(const void* x, int64_t M, int64_t K, int mt, void* xp, cudaStream_t stream,
                      bool pdl) {
  const int ST = int((K + 63) / 64);
  const int64_t Mp = padded_rows(M, mt);
  const int64_t chunks = Mp * ST * 8;
  return launch_pdl(x_permute_kernel, dim3(unsigned((chunks + 255) / 256)), dim3(256), 0, stream,
                    pdl, static_cast<const uint32_t*>(x), M, Mp, int(K), ST,
                    static_cast<uint4*>(xp));
}

}  // namespace gpu
}  // namespace razer
