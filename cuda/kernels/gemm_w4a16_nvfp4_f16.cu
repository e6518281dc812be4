// Instantiates the W4A16 kernels for nvfp4 weights and f16 X (see gemm_internal.cuh).
#include "gemm_launch.cuh"

namespace razer {
namespace gpu {

#define RZ_INST_MMA(...) RZ_GEMM_MMA_ONE(, false, false, __VA_ARGS__)
#define RZ_INST_WGMMA(...) RZ_GEMM_WGMMA_ONE(, false, false, __VA_ARGS__)
RZ_GEMM_CONFIGS(RZ_INST_MMA)
RZ_WGMMA_CONFIGS(RZ_INST_WGMMA)

}  // namespace gpu
}  // namespace razer
