// GpuWeight: a quantized weight on a GPU in the W4A16 kernels' prepacked
// layout (cuda/kernels/gemm_layout.h), with its format, [N, K], global scale
// and special values. Made from a host QuantizedTensor (codes and scales
// uploaded, then prepacked on the device) or from device tensors (the output
// of quantizeOnDevice). Disposable like DeviceTensor (disposable.h): work in
// flight keeps the memory until it is done. Without CUDA the class exists and
// its factories throw ERR_NO_GPU.
#pragma once
#include <napi.h>

#include <memory>
#include <string>

#include "cpu/cpu_backend.h"
#include "disposable.h"
#include "gpu.h"

namespace razer::binding {

struct GpuWeightStorage {
  std::shared_ptr<gpu::DeviceBuffer> packed;  // prepack layout
  Format format = Format::nvfp4;              // the data format: nvfp4 (also for nvfp4_4over6) or nvfp4_razer
  int64_t N = 0, K = 0;
  float global_scale = 0.0f;
  FormatParams params;                        // sv_small / sv_big for nvfp4_razer
  int device = 0;
};

// ERR_ARGUMENT unless `value` is a GpuWeight, ERR_DISPOSED if it was disposed.
std::shared_ptr<GpuWeightStorage> ParseGpuWeight(const Napi::Value& value, const std::string& argument);

class GpuWeight : public Disposable<GpuWeight, GpuWeightStorage> {
 public:
  static constexpr const char* kClassName = "GpuWeight";
  static const napi_type_tag kTypeTag;

  static Napi::Function Define(Napi::Env env);
  explicit GpuWeight(const Napi::CallbackInfo& info);

  // Wraps storage in a new GpuWeight object (JS thread).
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<GpuWeightStorage> storage);

 private:
  // GpuWeight.fromQuantized(weight, {device}) → Promise; fromQuantizedSync.
  static Napi::Value FromQuantized(const Napi::CallbackInfo& info);
  static Napi::Value FromQuantizedSync(const Napi::CallbackInfo& info);
  // GpuWeight.fromDevice({format, codes, scales, globalScale, svSmall, svBig}) → Promise; fromDeviceSync.
  static Napi::Value FromDevice(const Napi::CallbackInfo& info);
  static Napi::Value FromDeviceSync(const Napi::CallbackInfo& info);

  Napi::Value GetFormat(const Napi::CallbackInfo& info);
  Napi::Value GetRows(const Napi::CallbackInfo& info);
  Napi::Value GetCols(const Napi::CallbackInfo& info);
  Napi::Value GetDevice(const Napi::CallbackInfo& info);
  Napi::Value GetGlobalScale(const Napi::CallbackInfo& info);
  Napi::Value GetSvSmall(const Napi::CallbackInfo& info);
  Napi::Value GetSvBig(const Napi::CallbackInfo& info);
  Napi::Value GetByteLength(const Napi::CallbackInfo& info);

  // Metadata, still readable after dispose.
  Format format_ = Format::nvfp4;
  int64_t N_ = 0, K_ = 0;
  float global_scale_ = 0.0f;
  FormatParams params_;
  int device_ = 0;
  size_t bytes_ = 0;
};

}  // namespace razer::binding
