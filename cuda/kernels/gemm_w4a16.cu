// The W4A16 kernel table the dispatcher (dispatch.cu) chooses from. The
// kernels themselves are instantiated in gemm_w4a16_{nvfp4,razer}_{f16,bf16}.cu.
#include "gemm_internal.cuh"

namespace razer {
namespace gpu {

#define RZ_EXTERN_ONE(BF16, RAZER, NB, RPW, WARPS, SPS, STAGES, MINB) \
  extern template cudaError_t gemm_launch<GemmCfg<BF16, RAZER, NB, RPW, WARPS, SPS, STAGES, MINB>>( \
      const GemmArgs&, dim3, cudaStream_t);                                                         \
  extern template int gemm_occupancy<GemmCfg<BF16, RAZER, NB, RPW, WARPS, SPS, STAGES, MINB>>();
#define RZ_EXTERN_CFG(NAME, NB, RPW, WARPS, SPS, STAGES, MINB, OCC) \
  RZ_EXTERN_ONE(false, false, NB, RPW, WARPS, SPS, STAGES, MINB)    \
  RZ_EXTERN_ONE(true, false, NB, RPW, WARPS, SPS, STAGES, MINB)     \
  RZ_EXTERN_ONE(false, true, NB, RPW, WARPS, SPS, STAGES, MINB)     \
  RZ_EXTERN_ONE(true, true, NB, RPW, WARPS, SPS, STAGES, MINB)
RZ_GEMM_CONFIGS(RZ_EXTERN_CFG)

#define RZ_TABLE_ENTRY(NAME, NB, RPW, WARPS, SPS, STAGES, MINB, OCC)                     \
  {NAME, NB, RPW, WARPS, SPS, STAGES, NB * 8, WARPS * RPW * 16,                         \
   GemmCfg<false, false, NB, RPW, WARPS, SPS, STAGES, MINB>::SMEM, OCC,                 \
   {{gemm_launch<GemmCfg<false, false, NB, RPW, WARPS, SPS, STAGES, MINB>>,             \
     gemm_launch<GemmCfg<true, false, NB, RPW, WARPS, SPS, STAGES, MINB>>},             \
    {gemm_launch<GemmCfg<false, true, NB, RPW, WARPS, SPS, STAGES, MINB>>,              \
     gemm_launch<GemmCfg<true, true, NB, RPW, WARPS, SPS, STAGES, MINB>>}},              \
   {{gemm_occupancy<GemmCfg<false, false, NB, RPW, WARPS, SPS, STAGES, MINB>>,          \
     gemm_occupancy<GemmCfg<true, false, NB, RPW, WARPS, SPS, STAGES, MINB>>},          \
    {gemm_occupancy<GemmCfg<false, true, NB, RPW, WARPS, SPS, STAGES, MINB>>,           \
     gemm_occupancy<GemmCfg<true, true, NB, RPW, WARPS, SPS, STAGES, MINB>>}}},

const GemmKernelInfo kGemmKernels[] = {RZ_GEMM_CONFIGS(RZ_TABLE_ENTRY)};
const int kGemmKernelCount = int(sizeof(kGemmKernels) / sizeof(kGemmKernels[0]));

}  // namespace gpu
}  // namespace razer
