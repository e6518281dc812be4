// How CUDA errors and versions are named in the package's errors: shared by
// the binding's CUDA layer (gpu.cc) and the benchmark (bench_gpu.cu), which
// cannot include Node-API headers.
#pragma once
#include <cuda_runtime_api.h>

#include <string>

namespace razer::binding {

// "13.0" for 13000; "none" for 0 (no driver).
inline std::string CudaVersionString(int v) {
  if (v <= 0) return "none";
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

// The RazerError code a CUDA error maps to.
inline const char* CudaErrorCode(cudaError_t err) {
  switch (err) {
    case cudaErrorMemoryAllocation:
      return "ERR_OOM";
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorInvalidDeviceFunction:
    case cudaErrorUnsupportedPtxVersion:
      return "ERR_ARCH";
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
      return "ERR_NO_GPU";
    default:
      return "ERR_CUDA";
  }
}

}  // namespace razer::binding
