// The W4A16 kernel table the dispatcher (dispatch.cu) chooses from. The
// kernels themselves are instantiated in gemm_w4a16_{nvfp4,razer}_{f16,bf16}.cu.
#include "gemm_internal.cuh"

namespace razer {
namespace gpu {

#define RZ_EXTERN_MMA(...)          \
  RZ_GEMM_MMA_ONE(extern, false, false, __VA_ARGS__) \
  RZ_GEMM_MMA_ONE(extern, true, false, __VA_ARGS__)  \
  RZ_GEMM_MMA_ONE(extern, false, true, __VA_ARGS__)  \
  RZ_GEMM_MMA_ONE(extern, true, true, __VA_ARGS__)
#define RZ_EXTERN_WGMMA(...)          \
  RZ_GEMM_WGMMA_ONE(extern, false, false, __VA_ARGS__) \
  RZ_GEMM_WGMMA_ONE(extern, true, false, __VA_ARGS__)  \
  RZ_GEMM_WGMMA_ONE(extern, false, true, __VA_ARGS__)  \
  RZ_GEMM_WGMMA_ONE(extern, true, true, __VA_ARGS__)
RZ_GEMM_CONFIGS(RZ_EXTERN_MMA)
RZ_WGMMA_CONFIGS(RZ_EXTERN_WGMMA)

// One table row's launchers and occupancy queries for the four (razer, bf16)
// variants; T(BF16, RAZER, ...) names the configuration type.
#define RZ_FNS(T, ...)                                                                     \
  {{gemm_launch<T(false, false, __VA_ARGS__)>, gemm_launch<T(true, false, __VA_ARGS__)>},   \
   {gemm_launch<T(false, true, __VA_ARGS__)>, gemm_launch<T(true, true, __VA_ARGS__)>}},    \
  {{gemm_occupancy<T(false, false, __VA_ARGS__)>, gemm_occupancy<T(true, false, __VA_ARGS__)>}, \
   {gemm_occupancy<T(false, true, __VA_ARGS__)>, gemm_occupancy<T(true, true, __VA_ARGS__)>}}
#define RZ_MMA_T(BF16, RAZER, ...) GemmCfg<BF16, RAZER, __VA_ARGS__>
#define RZ_WGMMA_T(BF16, RAZER, ...) WgmmaCfg<BF16, RAZER, __VA_ARGS__>

#define RZ_TABLE_MMA(NAME, NB, RPW, WARPS, SPS, STAGES, MINB, OCC)                \
  {NAME, 80, 999, NB, RPW, WARPS, SPS, STAGES, NB * 8, WARPS * RPW * 16,          \
   GemmCfg<false, false, NB, RPW, WARPS, SPS, STAGES, MINB>::SMEM, OCC, false,    \
   RZ_FNS(RZ_MMA_T, NB, RPW, WARPS, SPS, STAGES, MINB)},
#define RZ_TABLE_WGMMA(NAME, MT, CWG, STAGES, CHAIN, OCC)                         \
  {NAME, 90, 90, MT / 8, 1, 4 * (CWG + 1), 1, STAGES, MT, 64 * CWG,               \
   WgmmaCfg<false, false, MT, CWG, STAGES, CHAIN>::SMEM, OCC, true,               \
   RZ_FNS(RZ_WGMMA_T, MT, CWG, STAGES, CHAIN)},

const GemmKernelInfo kGemmKernels[] = {RZ_GEMM_CONFIGS(RZ_TABLE_MMA) RZ_WGMMA_CONFIGS(RZ_TABLE_WGMMA)};
const int kGemmKernelCount = int(sizeof(kGemmKernels) / sizeof(kGemmKernels[0]));

}  // namespace gpu
}  // namespace razer
