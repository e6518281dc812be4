#include "device_tensor.h"

#include <cmath>

#include "addon.h"
#include "args.h"
#include "errors.h"
#include "jobs.h"

namespace razer::binding {

const napi_type_tag DeviceTensor::kTypeTag = {0x3c91e4a7d2b85f06ULL, 0xa14f6e9b27c3d58eULL};

const char* TensorDTypeName(TensorDType d) {
  switch (d) {
    case TensorDType::f32: return "f32";
    case TensorDType::f16: return "f16";
    case TensorDType::bf16: return "bf16";
    case TensorDType::u8: return "u8";
  }
  return "?";
}

size_t ElementSize(TensorDType d) { return d == TensorDType::f32 ? 4 : d == TensorDType::u8 ? 1 : 2; }

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); i++) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

DeviceTensorArg ParseDeviceTensor(const Napi::Value& value, const std::string& argument) {
  if (!DeviceTensor::Is(value)) {
    Fail("ERR_ARGUMENT", argument + ": expected a DeviceTensor (DeviceTensor.fromHost or .alloc), got " + Describe(value));
  }
  DeviceTensor* t = DeviceTensor::From(value);
  DeviceTensorArg out;
  out.buffer = t->Use(argument);
  out.dtype = t->dtype();
  out.shape = t->shape();
  out.device = t->device();
  out.object = value.As<Napi::Object>();
  return out;
}

namespace {

struct ConstructToken {
  std::shared_ptr<gpu::DeviceBuffer> buffer;
  TensorDType dtype;
  std::vector<int64_t> shape;
};

napi_typedarray_type ArrayType(TensorDType d) {
  return d == TensorDType::f32 ? napi_float32_array : d == TensorDType::u8 ? napi_uint8_array : napi_uint16_array;
}
const char* ArrayName(TensorDType d) {
  return d == TensorDType::f32 ? "a Float32Array" : d == TensorDType::u8 ? "a Uint8Array" : "a Uint16Array";
}

TensorDType ParseTensorDType(const Napi::Value& value, const std::string& argument) {
  const std::string name = value.IsString() ? value.As<Napi::String>().Utf8Value() : "";
  if (name == "f32") return TensorDType::f32;
  if (name == "f16") return TensorDType::f16;
  if (name == "bf16") return TensorDType::bf16;
  if (name == "u8") return TensorDType::u8;
  Fail("ERR_DTYPE", argument + ": expected 'f32', 'f16', 'bf16' or 'u8', got " + Describe(value));
}

std::vector<int64_t> ParseShape(const Napi::Value& value, const std::string& argument) {
  if (!value.IsArray() || value.As<Napi::Array>().Length() < 1 || value.As<Napi::Array>().Length() > 8) {
    Fail("ERR_SHAPE", argument + ": expected an array of 1 to 8 positive integers, got " + Describe(value));
  }
  Napi::Array a = value.As<Napi::Array>();
  std::vector<int64_t> shape;
  double elements = 1;
  for (uint32_t i = 0; i < a.Length(); i++) {
    shape.push_back(ParseDim(a.Get(i), argument + "[" + std::to_string(i) + "]"));
    elements *= static_cast<double>(shape.back());
  }
  if (elements > 9007199254740991.0 / 4) Fail("ERR_SHAPE", argument + ": " + Describe(value) + " is too large");
  return shape;
}

int64_t Elements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}


int ParseDevice(const Napi::Value& value, const std::string& argument) {
  return static_cast<int>(ParseInt(value, argument, 0, 1 << 16, 0));
}

Napi::Value Arg(const Napi::CallbackInfo& info, size_t i) { return i < info.Length() ? info[i] : info.Env().Undefined(); }

// fromHost: parsed on the JS thread; the copy runs in Run() (a pool thread
// for the Promise form), because cudaMemcpyAsync from pageable memory (a JS
// ArrayBuffer) blocks its caller until the data is staged.
class FromHostJob : public Job {
 public:
  explicit FromHostJob(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    dtype_ = ParseTensorDType(Arg(info, 1), "dtype");
    ArrayArg host = ParseTypedArray(Arg(info, 0), ArrayType(dtype_), "array", ArrayName(dtype_));
    shape_ = ParseShape(Arg(info, 2), "shape");
    if (static_cast<size_t>(Elements(shape_)) != host.length) {
      Fail("ERR_SHAPE", "shape: " + ShapeString(shape_) + " needs " + std::to_string(Elements(shape_)) +
                            " elements, the array has " + std::to_string(host.length));
    }
    Napi::Object options = ParseOptions(env, Arg(info, 3), "options");
    int device = ParseDevice(options.Get("device"), "options.device");
    bytes_ = host.length * ElementSize(dtype_);
    buffer_ = gpu::DeviceBuffer::Allocate(device, bytes_, "DeviceTensor.fromHost");
    host_ = host.data;
    Pin(host.object);
  }
  void Run() override { buffer_->CopyFromHost(host_, bytes_); }
  Napi::Value Result(Napi::Env env) override {
    return DeviceTensor::Wrap(env, std::move(buffer_), dtype_, std::move(shape_));
  }

 private:
  TensorDType dtype_ = TensorDType::f32;
  std::vector<int64_t> shape_;
  size_t bytes_ = 0;
  const void* host_ = nullptr;
  std::shared_ptr<gpu::DeviceBuffer> buffer_;  // freed with the job if the copy fails
};

class ToHostJob : public Job {
 public:
  ToHostJob(Napi::Env env, std::shared_ptr<gpu::DeviceBuffer> buffer, TensorDType dtype, size_t elements)
      : buffer_(std::move(buffer)), bytes_(elements * ElementSize(dtype)) {
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, bytes_);
    host_ = ab.Data();
    Napi::Object out;
    if (dtype == TensorDType::f32) {
      out = Napi::Float32Array::New(env, elements, ab, 0);
    } else if (dtype == TensorDType::u8) {
      out = Napi::Uint8Array::New(env, elements, ab, 0);
    } else {
      out = Napi::Uint16Array::New(env, elements, ab, 0);
    }
    out_ = Napi::Persistent(out);
  }
  // Reads the tensor as of the moment the copy is enqueued (work enqueued on
  // the device's stream before this call is ordered before it).
  void Run() override { buffer_->CopyToHost(host_, bytes_); }
  Napi::Value Result(Napi::Env) override { return out_.Value(); }

 private:
  std::shared_ptr<gpu::DeviceBuffer> buffer_;  // keeps the memory if disposed meanwhile
  size_t bytes_;
  void* host_ = nullptr;
  Napi::ObjectReference out_;
};

}  // namespace

Napi::Function DeviceTensor::Define(Napi::Env env) {
  std::vector<Napi::ClassPropertyDescriptor<DeviceTensor>> props = {
      StaticMethod("alloc", &DeviceTensor::Alloc),
      StaticMethod("fromHost", &DeviceTensor::FromHost),
      StaticMethod("fromHostSync", &DeviceTensor::FromHostSync),
      InstanceMethod("toHost", &DeviceTensor::ToHost),
      InstanceMethod("toHostSync", &DeviceTensor::ToHostSync),
      InstanceAccessor("device", &DeviceTensor::GetDevice, nullptr),
      InstanceAccessor("dtype", &DeviceTensor::GetDType, nullptr),
      InstanceAccessor("shape", &DeviceTensor::GetShape, nullptr),
      InstanceAccessor("byteLength", &DeviceTensor::GetByteLength, nullptr),
  };
  AddDisposeMethods(env, props);
  return ObjectWrap<DeviceTensor>::DefineClass(env, kClassName, props);
}

DeviceTensor::DeviceTensor(const Napi::CallbackInfo& info) : Disposable(info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw Napi::Error(env, MakeJsError(env, "ERR_ARGUMENT",
                                       "DeviceTensor: use DeviceTensor.alloc() or DeviceTensor.fromHost(), not new"));
  }
  auto* token = info[0].As<Napi::External<ConstructToken>>().Data();
  device_ = token->buffer->device();
  dtype_ = token->dtype;
  shape_ = std::move(token->shape);
  bytes_ = token->buffer->bytes();
  Attach(env, std::move(token->buffer), static_cast<int64_t>(bytes_));
}

Napi::Object DeviceTensor::Wrap(Napi::Env env, std::shared_ptr<gpu::DeviceBuffer> buffer, TensorDType dtype,
                                std::vector<int64_t> shape) {
  ConstructToken token{std::move(buffer), dtype, std::move(shape)};
  return env.GetInstanceData<RazerAddon>()->device_tensor_ctor().New(
      {Napi::External<ConstructToken>::New(env, &token)});
}

Napi::Value DeviceTensor::Alloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    int device = ParseDevice(Arg(info, 0), "device");
    TensorDType dtype = ParseTensorDType(Arg(info, 1), "dtype");
    std::vector<int64_t> shape = ParseShape(Arg(info, 2), "shape");
    size_t bytes = static_cast<size_t>(Elements(shape)) * ElementSize(dtype);
    auto buffer = gpu::DeviceBuffer::Allocate(device, bytes, "DeviceTensor.alloc");
    return Wrap(env, std::move(buffer), dtype, std::move(shape));
  });
}

Napi::Value DeviceTensor::FromHost(const Napi::CallbackInfo& info) {
  return GuardAsync(info.Env(), [&] {
    return RunAsync(info.Env(), std::make_unique<FromHostJob>(info), "razer.DeviceTensor.fromHost");
  });
}

Napi::Value DeviceTensor::FromHostSync(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&] { return RunSync(info.Env(), std::make_unique<FromHostJob>(info)); });
}

Napi::Value DeviceTensor::ToHost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return GuardAsync(env, [&] {
    auto job = std::make_unique<ToHostJob>(env, Use("toHost()"), dtype_, static_cast<size_t>(Elements(shape_)));
    return RunAsync(env, std::move(job), "razer.DeviceTensor.toHost");
  });
}

Napi::Value DeviceTensor::ToHostSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    auto job = std::make_unique<ToHostJob>(env, Use("toHostSync()"), dtype_, static_cast<size_t>(Elements(shape_)));
    return RunSync(env, std::move(job));
  });
}

Napi::Value DeviceTensor::GetDevice(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), device_); }
Napi::Value DeviceTensor::GetDType(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), TensorDTypeName(dtype_));
}
Napi::Value DeviceTensor::GetShape(const Napi::CallbackInfo& info) {
  Napi::Array a = Napi::Array::New(info.Env(), shape_.size());
  for (uint32_t i = 0; i < shape_.size(); i++) a.Set(i, Napi::Number::New(info.Env(), static_cast<double>(shape_[i])));
  return a;
}
Napi::Value DeviceTensor::GetByteLength(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(bytes_));
}

}  // namespace razer::binding
