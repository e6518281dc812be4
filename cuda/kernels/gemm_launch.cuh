// Internal: the launcher template, included only by the instantiation units.
#pragma once

#include "gemm_internal.cuh"

namespace razer {
namespace gpu {

// pdl: launch with programmatic stream serialization (sm_90+), so that the
// kernel starts while the previous GEMM of the stream drains (gemm_mma.cuh,
// pdl_wait).
template <class C>
cudaError_t gemm_launch(const GemmArgs& a, dim3 grid, cudaStream_t stream, bool pdl) {
  cudaError_t e = gemm_ensure_smem_attr<C>();
  if (e != cudaSuccess) return e;
  return launch_pdl(gemm_kernel_fn<C>(), grid, dim3(C::THREADS), C::SMEM, stream, pdl, a);
}

template <class C>
int gemm_occupancy() {
  if (gemm_ensure_smem_attr<C>() != cudaSuccess) return 0;
  int n = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, gemm_kernel_fn<C>(), C::THREADS,
                                                    C::SMEM) != cudaSuccess)
    return 0;
  return n;
}

}  // namespace gpu
}  // namespace razer
