// Read bandwidth of the GEMV's weight access pattern, without the decode:
// is the pattern itself (one 512-byte piece per warp and super-tile, each
// warp streaming its row group's K range, 8 loads in flight per lane) what
// keeps the M <= 16 kernels off the memory floor? Prints TB/s per shape for
//   flat           a grid-stride stream of the same bytes (all SMs, 8 CTAs each)
//   rg/sS          the prepacked order [RG][ST][512], S K splits per row group
//   inter/sS       an interleaved order [ST][RG][512] (neighbouring warps read
//                  neighbouring pieces at the same time)
//   /full, /2cta   full occupancy, or 2 CTAs of 8 warps per SM as the GEMV
//                  (80 KB of dynamic shared memory each, unused)
// usage: stream_pattern   (built by build.sh; results in gemm_notes.md)
#include <cstdio>
#include <cstdint>
#include <vector>
#include <algorithm>
#include <cuda_runtime.h>
#define CK(x) do { cudaError_t e = (x); if (e != cudaSuccess) { std::printf("%s: %s\n", #x, cudaGetErrorString(e)); return 1; } } while (0)

__device__ __forceinline__ uint4 ldg(const void* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
  return v;
}
// mode 0: [RG][ST][512], warp = (rg, split) streams its K range (GEMV order)
// mode 1: [ST][RG][512] interleaved: warp rg reads st * RG + rg
template <int DEPTH>
__global__ void __launch_bounds__(256) rg_stream(const uint8_t* buf, int RG, int ST, int splits, int mode, unsigned* sink) {
  const int lane = threadIdx.x & 31;
  const int gw = blockIdx.x * 8 + (threadIdx.x >> 5);
  const int rg = gw / splits, sp = gw % splits;
  if (rg >= RG) return;
  const int per = (ST + splits - 1) / splits;
  const int s0 = sp * per, s1 = min(ST, s0 + per);
  unsigned acc = 0;
  // (a range that is not a multiple of DEPTH would re-read its last piece;
  // every split of the shapes below is a multiple of 8 super-tiles)
  for (int st = s0; st < s1; st += DEPTH) {
    uint4 v[DEPTH];
#pragma unroll
    for (int d = 0; d < DEPTH; ++d) {
      const int s = min(st + d, s1 - 1);
      const int64_t off = mode == 0 ? (int64_t(rg) * ST + s) * 512 : (int64_t(s) * RG + rg) * 512;
      v[d] = ldg(buf + off + lane * 16);
    }
#pragma unroll
    for (int d = 0; d < DEPTH; ++d) acc ^= v[d].x ^ v[d].y ^ v[d].z ^ v[d].w;
  }
  if (acc == 0x12345678u) sink[0] = acc;
}
__global__ void __launch_bounds__(256) flat(const uint4* buf, int64_t n, unsigned* sink) {
  unsigned acc = 0;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  for (; i + 3 * stride < n; i += 4 * stride) {
    uint4 a = ldg(buf + i), b = ldg(buf + i + stride), c = ldg(buf + i + 2 * stride), d = ldg(buf + i + 3 * stride);
    acc ^= a.x ^ b.y ^ c.z ^ d.w ^ a.w ^ b.x ^ c.y ^ d.z;
  }
  for (; i < n; i += stride) { uint4 a = ldg(buf + i); acc ^= a.x ^ a.w; }
  if (acc == 0x12345678u) sink[0] = acc;
}

int main() {
  int sms; cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  struct Shape { int N, K; };
  const Shape shapes[] = {{57344, 8192}, {28672, 8192}, {8192, 28672}, {8192, 8192}};
  const int64_t maxb = int64_t(57344) / 16 * (8192 / 64) * 512;
  const int NBUF = 3;  // rotate so L2 (60 MB) does not hold the data
  uint8_t* bufs[NBUF];
  for (int i = 0; i < NBUF; ++i) { CK(cudaMalloc(&bufs[i], maxb)); CK(cudaMemset(bufs[i], i + 1, maxb)); }
  unsigned* sink; CK(cudaMalloc(&sink, 4));
  cudaEvent_t e0, e1; cudaEventCreate(&e0); cudaEventCreate(&e1);
  auto timeit = [&](auto&& launch, double bytes) {
    for (int w = 0; w < 3; ++w) launch(bufs[w % NBUF]);
    std::vector<float> ts;
    for (int r = 0; r < 15; ++r) {
      cudaEventRecord(e0);
      for (int i = 0; i < 6; ++i) launch(bufs[i % NBUF]);
      cudaEventRecord(e1); cudaEventSynchronize(e1);
      float ms; cudaEventElapsedTime(&ms, e0, e1); ts.push_back(ms / 6);
    }
    std::sort(ts.begin(), ts.end());
    return bytes / (ts[ts.size() / 2] * 1e-3) / 1e12;
  };
  CK(cudaFuncSetAttribute(rg_stream<8>, cudaFuncAttributeMaxDynamicSharedMemorySize, 100 * 1024));
  for (const Shape& s : shapes) {
    const int RG = s.N / 16, ST = s.K / 64;
    const double bytes = double(RG) * ST * 512;
    std::printf("%dx%d (%.0f MB):", s.N, s.K, bytes / 1e6);
    std::printf("  flat %.2f", timeit([&](uint8_t* b) { flat<<<sms * 8, 256>>>(reinterpret_cast<const uint4*>(b), int64_t(bytes / 16), sink); }, bytes));
    for (int mode = 0; mode < 2; ++mode)
      for (int splits : {1, 2, 4})
        for (int smemkb : {0, 80}) {  // 80 KB dynamic smem: 2 CTAs per SM, as the GEMV
          const int blocks = (RG * splits + 7) / 8;
          auto f = [&](uint8_t* b) { rg_stream<8><<<blocks, 256, smemkb * 1024>>>(b, RG, ST, splits, mode, sink); };
          std::printf("  %s/s%d/%s %.2f", mode ? "inter" : "rg", splits, smemkb ? "2cta" : "full", timeit(f, bytes));
        }
    std::printf("  TB/s\n");
  }
  CK(cudaGetLastError());
  return 0;
}
