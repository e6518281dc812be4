// The probe kernel behind cuda/probe.h. It does nothing useful on purpose: it
// is compiled for exactly the targets every other kernel is, so its presence
// on a device stands for theirs.
#include "probe.h"

namespace razer::cuda {
namespace {

__global__ void probe_kernel(int* out) {
  if (threadIdx.x == 0 && blockIdx.x == 0) *out = 0x52617a72;  // "Razr"
}

}  // namespace

cudaError_t probe_kernel_image(int device, int* binary_version) {
  cudaError_t err = cudaSetDevice(device);
  if (err != cudaSuccess) return err;
  cudaFuncAttributes attr{};
  err = cudaFuncGetAttributes(&attr, probe_kernel);
  if (err == cudaSuccess && binary_version != nullptr) *binary_version = attr.binaryVersion;
  return err;
}

cudaError_t probe_launch(int device, cudaStream_t stream) {
  cudaError_t err = cudaSetDevice(device);
  if (err != cudaSuccess) return err;
  int* out = nullptr;
  err = cudaMallocAsync(&out, sizeof(int), stream);
  if (err != cudaSuccess) return err;
  probe_kernel<<<1, 32, 0, stream>>>(out);
  err = cudaGetLastError();
  int host = 0;
  if (err == cudaSuccess) err = cudaMemcpyAsync(&host, out, sizeof(int), cudaMemcpyDeviceToHost, stream);
  cudaError_t free_err = cudaFreeAsync(out, stream);
  cudaError_t sync_err = cudaStreamSynchronize(stream);
  if (err == cudaSuccess) err = free_err;
  if (err == cudaSuccess) err = sync_err;
  if (err == cudaSuccess && host != 0x52617a72) err = cudaErrorLaunchFailure;
  return err;
}

}  // namespace razer::cuda
