// DeviceTensor: a typed, shaped block of GPU memory (cudaMalloc'd), with
// explicit dispose(), a finalizer safety net and external-memory accounting
// (see disposable.h). Without CUDA the class exists and its factories throw
// ERR_NO_GPU.
#pragma once
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "disposable.h"
#include "gpu.h"

namespace razer::binding {

// Element types a DeviceTensor can hold, and the typed array of each.
enum class TensorDType : int { f32 = 0, f16 = 1, bf16 = 2, u8 = 3 };

const char* TensorDTypeName(TensorDType dtype);
size_t ElementSize(TensorDType dtype);
// "[2, 3]", for messages.
std::string ShapeString(const std::vector<int64_t>& shape);

class DeviceTensor : public Disposable<DeviceTensor, gpu::DeviceBuffer> {
 public:
  static constexpr const char* kClassName = "DeviceTensor";
  static const napi_type_tag kTypeTag;

  static Napi::Function Define(Napi::Env env);
  explicit DeviceTensor(const Napi::CallbackInfo& info);

  // Wraps a buffer in a new DeviceTensor object (JS thread).
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<gpu::DeviceBuffer> buffer, TensorDType dtype,
                           std::vector<int64_t> shape);

  int device() const { return device_; }
  TensorDType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }

 private:
  // DeviceTensor.alloc(device, dtype, shape): zero-filled memory.
  static Napi::Value Alloc(const Napi::CallbackInfo& info);
  // DeviceTensor.fromHost(array, dtype, shape, {device}) → Promise; fromHostSync.
  static Napi::Value FromHost(const Napi::CallbackInfo& info);
  static Napi::Value FromHostSync(const Napi::CallbackInfo& info);
  // tensor.toHost() → Promise<TypedArray>; toHostSync().
  Napi::Value ToHost(const Napi::CallbackInfo& info);
  Napi::Value ToHostSync(const Napi::CallbackInfo& info);

  Napi::Value GetDevice(const Napi::CallbackInfo& info);
  Napi::Value GetDType(const Napi::CallbackInfo& info);
  Napi::Value GetShape(const Napi::CallbackInfo& info);
  Napi::Value GetByteLength(const Napi::CallbackInfo& info);

  int device_ = 0;
  TensorDType dtype_ = TensorDType::f32;
  std::vector<int64_t> shape_;
  size_t bytes_ = 0;
};

// A DeviceTensor argument, parsed on the JS thread: its memory (kept alive by
// the holder even if the tensor is disposed meanwhile) and its metadata.
struct DeviceTensorArg {
  std::shared_ptr<gpu::DeviceBuffer> buffer;
  TensorDType dtype = TensorDType::f32;
  std::vector<int64_t> shape;
  int device = 0;
  Napi::Object object;  // the JS object (a handle: valid during the call only)
};

// ERR_ARGUMENT unless `value` is a DeviceTensor (the type tag, not the look),
// ERR_DISPOSED if it was disposed; `argument` names it in messages.
DeviceTensorArg ParseDeviceTensor(const Napi::Value& value, const std::string& argument);

}  // namespace razer::binding
