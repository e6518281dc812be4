// Internal: the kernel table shared by gemm_w4a16*.cu (instantiations) and
// dispatch.cu (selection). Not part of the public API (gemm.cuh).
#pragma once

#include <cuda_runtime_api.h>

#include <atomic>

#include "gemm_mma.cuh"
#include "gemm_wgmma.cuh"

namespace razer {
namespace gpu {

// The kernel configurations: X(name, NB, RPW, WARPS, SPS, STAGES, MINB, OCC).
// OCC = CTAs per SM the dispatcher assumes if the occupancy query fails (it
// asks cudaOccupancyMaxActiveBlocksPerMultiprocessor first).
#define RZ_GEMM_CONFIGS(X)                        \
  X("gemv_m8_r1w8", 1, 1, 8, 8, 2, 2, 2)          \
  X("gemv_m16_r1w8", 2, 1, 8, 8, 2, 2, 2)         \
  X("gemv_m8_r2w4", 1, 2, 4, 4, 2, 3, 3)          \
  X("gemv_m16_r2w4", 2, 2, 4, 4, 2, 3, 3)         \
  X("skinny_m32_r2w8", 4, 2, 8, 2, 3, 1, 1)       \
  X("skinny_m64_r1w8", 8, 1, 8, 2, 3, 2, 2)       \
  X("skinny_m64_r2w4", 8, 2, 4, 2, 3, 2, 2)       \
  X("tile_m128_r1w8", 16, 1, 8, 2, 3, 1, 1)       \
  X("tile_m128_r2w8", 16, 2, 8, 1, 4, 1, 1)

// The wgmma configurations (sm_90a): X(name, MT, CWG, STAGES, CHAIN, OCC); M
// tile MT (the wgmma n: 64 or 128), N tile 64 * CWG, STAGES slots in the ring,
// accumulation chains of CHAIN stages. They read the K-permuted X (x_permute)
// from the workspace.
#define RZ_WGMMA_CONFIGS(X)                 \
  X("wgmma_n128", 128, 2, 8, 16, 1)         \
  X("wgmma_n64", 64, 2, 10, 16, 1)          \
  X("wgmma_n64w3", 64, 3, 10, 16, 1)

using GemmLaunchFn = cudaError_t (*)(const GemmArgs&, dim3 grid, cudaStream_t, bool pdl);
using GemmOccFn = int (*)();  // resident CTAs per SM on the current device (0 on error)

struct GemmKernelInfo {
  const char* name;
  int min_sm, max_sm;  // architectures (major * 10 + minor) it runs on
  int nb, rpw, warps, sps, stages;
  int mt, nt;        // M tile, N tile
  int smem;          // dynamic shared memory bytes
  int occupancy;     // CTAs per SM the dispatcher plans with
  bool xperm;        // reads the K-permuted copy of X (x_permute) from the workspace
  GemmLaunchFn fn[2][2];  // [razer][bf16]
  GemmOccFn occ[2][2];
};

// The table (defined in gemm_w4a16.cu).
extern const GemmKernelInfo kGemmKernels[];
extern const int kGemmKernelCount;

template <class C>
constexpr auto gemm_kernel_fn() {
  if constexpr (C::WGMMA)
    return w4a16_wgmma_kernel<C>;
  else
    return w4a16_mma_kernel<C>;
}

// cudaFuncSetAttribute is per device: remember which devices have it.
template <class C>
cudaError_t gemm_ensure_smem_attr() {
  if (C::SMEM <= 48 * 1024) return cudaSuccess;
  static std::atomic<unsigned long long> done{0};
  int dev = 0;
  cudaError_t e = cudaGetDevice(&dev);
  if (e != cudaSuccess) return e;
  const unsigned long long bit = 1ull << (dev & 63);
  if (done.load(std::memory_order_acquire) & bit) return cudaSuccess;
  e = cudaFuncSetAttribute(gemm_kernel_fn<C>(), cudaFuncAttributeMaxDynamicSharedMemorySize,
                           C::SMEM);
  if (e == cudaSuccess) done.fetch_or(bit, std::memory_order_acq_rel);
  return e;
}

template <class C>
cudaError_t gemm_launch(const GemmArgs& a, dim3 grid, cudaStream_t stream, bool pdl);
template <class C>
int gemm_occupancy();
// Instantiates (or, with PREFIX extern, declares) the launcher and the
// occupancy query of every configuration for one (BF16, RAZER) pair.
#define RZ_GEMM_MMA_ONE(PREFIX, BF16, RAZER, NAME, NB, RPW, WARPS, SPS, STAGES, MINB, OCC) \
  PREFIX template cudaError_t                                                            \
  gemm_launch<GemmCfg<BF16, RAZER, NB, RPW, WARPS, SPS, STAGES, MINB>>(const GemmArgs&,   \
                                                                      dim3, cudaStream_t, bool); \
  PREFIX template int gemm_occupancy<GemmCfg<BF16, RAZER, NB, RPW, WARPS, SPS, STAGES, MINB>>();
#define RZ_GEMM_WGMMA_ONE(PREFIX, BF16, RAZER, NAME, MT, CWG, STAGES, CHAIN, OCC)          \
  PREFIX template cudaError_t gemm_launch<WgmmaCfg<BF16, RAZER, MT, CWG, STAGES, CHAIN>>(   \
      const GemmArgs&, dim3, cudaStream_t, bool);                                             \
  PREFIX template int gemm_occupancy<WgmmaCfg<BF16, RAZER, MT, CWG, STAGES, CHAIN>>();

// Launches kernel(args...) with programmatic stream serialization when pdl
// (sm_90+: it may start while the previous kernel of the stream drains; it
// must call pdl_wait before reading that kernel's output).
template <class... P, class... A>
cudaError_t launch_pdl(void (*kernel)(P...), dim3 grid, dim3 block, size_t smem,
                       cudaStream_t stream, bool pdl, A&&... args) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = pdl ? 1 : 0;
  return cudaLaunchKernelEx(&cfg, kernel, static_cast<A&&>(args)...);
}

// The K-permuted copy of X [M, K] for a kernel of M tile mt (x_permute.cu):
// its size, and the launch (pdl as gemm_launch).
size_t x_permute_bytes(int64_t M, int64_t K, int mt);
cudaError_t x_permute(const void* x, int64_t M, int64_t K, int mt, void* xp, cudaStream_t stream,
                      bool pdl);

// Explicit instantiations live in gemm_w4a16_{nvfp4,razer}_{f16,bf16}.cu (one
// per format x X dtype, so a build compiles them in parallel).

}  // namespace gpu
}  // namespace razer
