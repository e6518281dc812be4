// The arguments of a GPU W4A16 GEMM (gemmW4A16Gpu, GemmGraph.capture),
// parsed and checked on the JS thread before anything is queued: X, the
// GpuWeight, the bias, the output and its element type. CUDA-only.
#pragma once
#if defined(RAZER_WITH_CUDA)
#include <napi.h>

#include <memory>
#include <string>

#include "cpu/cpu_backend.h"
#include "device_tensor.h"
#include "gpu_context.h"
#include "gpu_weight.h"
#include "kernels/gemm.cuh"

namespace razer::binding {

struct GemmCall {
  int device = 0;
  int64_t M = 0, N = 0, K = 0;
  std::shared_ptr<gpu::DeviceBuffer> x;
  DType x_dtype = DType::bf16;
  std::shared_ptr<GpuWeightStorage> w;
  std::shared_ptr<gpu::DeviceBuffer> bias;        // a DeviceTensor bias
  std::shared_ptr<gpu::PinnedBlock> host_bias;    // a Float32Array bias, copied (N floats)
  std::shared_ptr<gpu::DeviceBuffer> out;         // the caller's output, or one allocated here
  DType out_dtype = DType::f32;
  bool out_given = false;
};

// Checks x (an f16/bf16 DeviceTensor [M, K]), w (a GpuWeight with K columns,
// on x's device), options.bias (an f32 DeviceTensor [N] or a Float32Array(N)),
// options.outDtype and `out` (a DeviceTensor [M, N] of outDtype, not x or the
// bias; undefined: allocated here when `allocate_out`, else an error), in
// that order. `what` names the call in allocation errors.
GemmCall ParseGemmCall(const Napi::Value& x, const Napi::Value& w, const Napi::Value& out,
                       const std::string& out_argument, const Napi::Object& options, bool allocate_out,
                       const char* what);

// The kernels' view of a GpuWeight.
razer::gpu::PackedWeights Packed(const GpuWeightStorage& w);

}  // namespace razer::binding
#endif
