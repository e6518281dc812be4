// prepack: canonical nvfp4 / nvfp4_razer weight -> the layout the W4A16
// kernels read (gemm_layout.h). Device side: a memset of the output (padding
// stays zero) and one kernel, both on the caller's stream; no host sync.
#include <cmath>
#include <cstring>

#include "gemm.cuh"
#include "gemm_layout.h"

namespace razer {
namespace gpu {
namespace {

// One thread per (row group, super-tile, lane): gathers block t of the
// super-tile for rows g and g + 8 and writes 16 code bytes + 2 scale bytes.
__global__ void prepack_kernel(const uint8_t* __restrict__ codes,
                               const uint8_t* __restrict__ scales, int64_t N, int64_t K,
                               PackedLayout l, uint8_t* __restrict__ out) {
  const int64_t gid = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t units = l.RG * l.ST;
  if (gid >= units * 32) return;
  const int lane = int(gid & 31);
  const int64_t unit = gid >> 5;
  const int64_t rg = unit / l.ST, st = unit % l.ST;
  const int g = lane >> 2, t = lane & 3;
  const int64_t kb = st * 4 + t;  // block index along K
  const int64_t kblocks = K / 16;
  uint32_t words[4];
  uint8_t sc[2];
  for (int half = 0; half < 2; ++half) {
    const int64_t n = rg * 16 + g + 8 * half;
    uint8_t c[16];
    uint8_t s = 0;
    if (n < N && kb < kblocks) {
      const uint8_t* p = codes + n * (K / 2) + kb * 8;
      for (int j = 0; j < 8; ++j) {
        const uint8_t b = p[j];
        c[2 * j] = b & 0xF;
        c[2 * j + 1] = b >> 4;
      }
      s = scales[n * kblocks + kb];
    } else {
      for (int j = 0; j < 16; ++j) c[j] = 0;
    }
    words[2 * half] = rz_pack_word(c);
    words[2 * half + 1] = rz_pack_word(c + 8);
    sc[half] = s;
  }
  *reinterpret_cast<uint4*>(out + packed_code_offset(l, rg, st, lane)) =
      make_uint4(words[0], words[1], words[2], words[3]);
  *reinterpret_cast<uint16_t*>(out + l.scales_offset + packed_scale_offset(l, rg, st, lane)) =
      uint16_t(sc[0] | (sc[1] << 8));
}

bool format_ok(Format f) {
  return f == Format::nvfp4 || f == Format::nvfp4_4over6 || f == Format::nvfp4_razer;
}

// A special value the decode handles exactly: finite, in [1, 4096], at most
// 3 significant bits.
bool sv_ok(float v) {
  if (!(v >= 1.0f && v <= 4096.0f)) return false;
  uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  return (u & 0x1FFFFFu) == 0;
}

}  // namespace

size_t prepack_bytes(Format format, int64_t N, int64_t K) {
  if (!format_ok(format) || N < 1 || K < 16 || K % 16 != 0) return 0;
  if (N > (int64_t(1) << 31) - 16 || K > (int64_t(1) << 30)) return 0;
  return size_t(packed_layout(N, K).total_bytes);
}

cudaError_t prepack(const QuantizedView& w, void* out, size_t out_bytes, cudaStream_t stream,
                    PackedWeights* packed) {
  const size_t need = prepack_bytes(w.format, w.rows, w.cols);
  if (need == 0 || out == nullptr || packed == nullptr || w.codes == nullptr ||
      w.scales == nullptr || out_bytes < need || (reinterpret_cast<uintptr_t>(out) & 15) != 0)
    return cudaErrorInvalidValue;
  if (!std::isfinite(w.global_scale) || w.global_scale < 0.0f) return cudaErrorInvalidValue;
  if (w.format == Format::nvfp4_razer &&
      (!sv_ok(w.params.sv_small) || !sv_ok(w.params.sv_big)))
    return cudaErrorInvalidValue;
  const PackedLayout l = packed_layout(w.rows, w.cols);
  cudaError_t e = cudaMemsetAsync(out, 0, size_t(l.total_bytes), stream);
  if (e != cudaSuccess) return e;
  const int64_t threads = l.RG * l.ST * 32;
  const int block = 256;
  const int64_t grid = (threads + block - 1) / block;
  prepack_kernel<<<unsigned(grid), block, 0, stream>>>(w.codes, w.scales, w.rows, w.cols, l,
                                                        static_cast<uint8_t*>(out));
  e = cudaGetLastError();
  if (e != cudaSuccess) return e;
  packed->format = w.format == Format::nvfp4_razer ? Format::nvfp4_razer : Format::nvfp4;
  packed->N = w.rows;
  packed->K = w.cols;
  packed->data = out;
  packed->bytes = size_t(l.total_bytes);
  packed->global_scale = w.global_scale;
  packed->params = w.params;
  return cudaSuccess;
}

}  // namespace gpu
}  // namespace razer
