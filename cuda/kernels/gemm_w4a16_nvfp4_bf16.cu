// Instantiates the W4A16 kernels for nvfp4 weights and bf16 X (see gemm_internal.cuh).
#include "gemm_launch.cuh"

namespace razer {
namespace gpu {

#define RZ_INST(NAME, NB, RPW, WARPS, SPS, STAGES, MINB, OCC) \
  template cudaError_t gemm_launch<GemmCfg<true, false, NB, RPW, WARPS, SPS, STAGES, MINB>>( \
      const GemmArgs&, dim3, cudaStream_t);                                                 \
  template int gemm_occupancy<GemmCfg<true, false, NB, RPW, WARPS, SPS, STAGES, MINB>>();
RZ_GEMM_CONFIGS(RZ_INST)

}  // namespace gpu
}  // namespace razer
