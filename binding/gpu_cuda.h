// The CUDA helpers gpu.cc shares with the binding's other CUDA code (the GPU
// operations): included only where RAZER_WITH_CUDA is defined.
#pragma once
#if defined(RAZER_WITH_CUDA)
#include <cuda_runtime_api.h>

namespace razer::binding::gpu {

// A Failure for a CUDA error: ERR_CUDA (ERR_OOM, ERR_ARCH, ERR_NO_GPU where
// those fit) with the error's name and text, the device, its compute
// capability and the driver and runtime versions. Clears a non-sticky error.
[[noreturn]] void ThrowCuda(const char* what, cudaError_t err, int device);
// ThrowCuda unless err is cudaSuccess.
void Check(cudaError_t err, const char* what, int device);
// The device's stream (one per device, created at first use, non-blocking:
// it does not synchronize with the legacy default stream). The caller has
// checked the ordinal (CheckDevice).
cudaStream_t Stream(int device);

}  // namespace razer::binding::gpu
#endif
