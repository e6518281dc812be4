// Internal: the launcher template, included only by the instantiation units.
#pragma once

#include "gemm_internal.cuh"

namespace razer {
namespace gpu {

template <class C>
cudaError_t gemm_launch(const GemmArgs& a, dim3 grid, cudaStream_t stream) {
  cudaError_t e = gemm_ensure_smem_attr<C>();
  if (e != cudaSuccess) return e;
  gemm_kernel_fn<C>()<<<grid, C::THREADS, C::SMEM, stream>>>(a);
  return cudaGetLastError();
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
