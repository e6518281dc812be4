// A tiny kernel that lets the addon ask whether this build has a kernel image
// (SASS, or PTX the driver can JIT) for a GPU's architecture.
#pragma once
#include <cuda_runtime_api.h>

namespace razer::cuda {

// On `device` (made current): cudaSuccess when a kernel image exists;
// cudaErrorNoKernelImageForDevice (or another error) otherwise. Creates the
// device's primary context. `binary_version` gets the image's PTX/SASS version
// (e.g. 90 for sm_90a) when it succeeds.
cudaError_t probe_kernel_image(int device, int* binary_version);

// Launches the probe kernel once and waits: cudaSuccess when kernels really run.
cudaError_t probe_launch(int device, cudaStream_t stream);

}  // namespace razer::cuda
