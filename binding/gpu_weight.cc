#include "gpu_weight.h"

#include <cmath>
#include <cstring>
#include <iomanip>
#include <sstream>

#include "addon.h"
#include "args.h"
#include "device_tensor.h"
#include "errors.h"
#include "jobs.h"
#include "no_gpu.h"
#include "weight.h"

#if defined(RAZER_WITH_CUDA)
#include "gpu_context.h"
#include "kernels/gemm.cuh"
#endif

namespace razer::binding {

// Random, fixed: identifies GpuWeight objects (napi_type_tag_object).
const napi_type_tag GpuWeight::kTypeTag = {0x51d7e0c24b9a3f86ULL, 0xc63a08f1d2e47b95ULL};

namespace {

struct ConstructToken {
  std::shared_ptr<GpuWeightStorage> storage;
};

#if defined(RAZER_WITH_CUDA)

Napi::Value Arg(const Napi::CallbackInfo& info, size_t i) { return i < info.Length() ? info[i] : info.Env().Undefined(); }

// The formats the W4A16 kernels take (nvfp4_4over6 data is nvfp4).
void CheckWeightFormat(Format format, const std::string& argument) {
  if (format == Format::nvfp4_razer_a) {
    Fail("ERR_FORMAT", argument +
                           ": nvfp4_razer_a is an activation format; the GPU W4A16 GEMM takes nvfp4, nvfp4_4over6 "
                           "or nvfp4_razer weights");
  }
}

// prepack() takes special values of at least 1 (gemm.cuh: SV x scale must
// stay exact in the kernels' fp16/bf16 decode); the format itself allows
// smaller ones (e.g. 0.75), which the CPU backend and the reference take.
void CheckGpuSpecialValues(const FormatParams& p, Format format, const std::string& argument) {
  if (format != Format::nvfp4_razer) return;
  for (auto [value, name] : {std::pair{p.sv_small, ".svSmall"}, std::pair{p.sv_big, ".svBig"}}) {
    if (!(value >= 1.0f)) {
      std::ostringstream got;
      got << std::setprecision(9) << value;
      Fail("ERR_ARGUMENT", argument + name + ": the GPU kernels take special values of at least 1, got " + got.str());
    }
  }
}

// prepack_bytes, or ERR_SHAPE when [N, K] is beyond the kernels' limits.
size_t PackedBytes(Format format, int64_t N, int64_t K, const std::string& argument) {
  const size_t bytes = razer::gpu::prepack_bytes(format, N, K);
  if (bytes == 0) {
    Fail("ERR_SHAPE", argument + ": a [" + std::to_string(N) + ", " + std::to_string(K) +
                          "] weight is beyond the GPU kernels' limits (N < 2^31 - 16, 16 <= K <= 2^30)");
  }
  return bytes;
}

std::shared_ptr<GpuWeightStorage> MakeStorage(std::shared_ptr<gpu::DeviceBuffer> packed, Format format, int64_t N,
                                              int64_t K, float global_scale, const FormatParams& params,
                                              int device) {
  auto s = std::make_shared<GpuWeightStorage>();
  s->packed = std::move(packed);
  s->format = format == Format::nvfp4_razer ? Format::nvfp4_razer : Format::nvfp4;
  s->N = N;
  s->K = K;
  s->global_scale = global_scale;
  s->params = params;
  s->device = device;
  return s;
}

// fromQuantized: parsed and allocated on the JS thread; the uploads (from
// pageable JS memory, which blocks its caller) and the prepack wait happen in
// Run(), off the JS thread for the Promise form. Nothing can use the weight
// before the Promise settles, so queuing in Run() keeps stream order.
class FromQuantizedJob : public Job {
 public:
  explicit FromQuantizedJob(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Value arg = Arg(info, 0);
    if (GpuWeight::Is(arg)) {
      Fail("ERR_ARGUMENT", "weight: expected a QuantizedTensor ({format, rows, cols, codes, scales, globalScale}) "
                           "or a NativeWeight, got a GpuWeight (it is on the GPU already)");
    }
    weight_ = ParseWeight(arg, "weight");
    for (const Napi::Object& pin : weight_.pins) Pin(pin);
    const QuantizedView& v = weight_.view;
    CheckWeightFormat(v.format, "weight.format");
    CheckGpuSpecialValues(v.params, v.format, "weight");
    Napi::Object options = ParseOptions(env, Arg(info, 1), "options");
    device_ = static_cast<int>(ParseInt(options.Get("device"), "options.device", 0, 1 << 16, 0));
    gpu::CheckDevice(device_, "options.device");
    const size_t packed_bytes = PackedBytes(v.format, v.rows, v.cols, "weight");
    codes_ = gpu::DeviceBuffer::Allocate(device_, static_cast<size_t>(v.rows * v.cols / 2), "GpuWeight.fromQuantized");
    scales_ = gpu::DeviceBuffer::Allocate(device_, static_cast<size_t>(v.rows * v.cols / 16), "GpuWeight.fromQuantized");
    packed_ = gpu::DeviceBuffer::Allocate(device_, packed_bytes, "GpuWeight.fromQuantized");
  }

  void Run() override {
    const QuantizedView& v = weight_.view;
    codes_->CopyFromHost(v.codes, codes_->bytes());
    scales_->CopyFromHost(v.scales, scales_->bytes());
    gpu::Completion done;
    {
      gpu::ContextLock lock(device_, "options.device");
      QuantizedView on_device = v;
      on_device.codes = static_cast<const uint8_t*>(codes_->data());
      on_device.scales = static_cast<const uint8_t*>(scales_->data());
      razer::gpu::PackedWeights info;
      gpu::Check(razer::gpu::prepack(on_device, packed_->data(), packed_->bytes(), lock.context().stream, &info),
                 "prepack", device_);
      done.Record(lock.context().stream, device_);
    }
    done.Wait("GpuWeight.fromQuantized (prepack)");
    codes_.reset();  // the canonical copies are not needed any more
    scales_.reset();
  }

  Napi::Value Result(Napi::Env env) override {
    const QuantizedView& v = weight_.view;
    return GpuWeight::Wrap(env, MakeStorage(std::move(packed_), v.format, v.rows, v.cols, v.global_scale, v.params,
                                            device_));
  }

 private:
  WeightArg weight_;
  int device_ = 0;
  std::shared_ptr<gpu::DeviceBuffer> codes_, scales_, packed_;
};

// fromDevice: the prepack (and the read-back of a device-side G) is queued
// now, after whatever wrote the tensors; Run() waits for it.
class FromDeviceJob : public gpu::StreamJob {
 public:
  explicit FromDeviceJob(const Napi::CallbackInfo& info) {
    Napi::Value arg = Arg(info, 0);
    if (!arg.IsObject() || arg.IsArray() || arg.IsTypedArray() || arg.IsFunction() || DeviceTensor::Is(arg) ||
        GpuWeight::Is(arg)) {
      Fail("ERR_ARGUMENT",
           "weight: expected {format, codes, scales, globalScale} with DeviceTensors (quantizeOnDevice's result), "
           "got " + Describe(arg));
    }
    Napi::Object q = arg.As<Napi::Object>();
    format_ = ParseFormat(q.Get("format"), "weight.format");
    CheckWeightFormat(format_, "weight.format");
    DeviceTensorArg codes = ParseDeviceTensor(q.Get("codes"), "weight.codes");
    DeviceTensorArg scales = ParseDeviceTensor(q.Get("scales"), "weight.scales");
    if (codes.dtype != TensorDType::u8 || codes.shape.size() != 2) {
      Fail(codes.dtype != TensorDType::u8 ? "ERR_DTYPE" : "ERR_SHAPE",
           std::string("weight.codes: expected a u8 DeviceTensor [N, K/2], got ") + TensorDTypeName(codes.dtype) +
               " " + ShapeString(codes.shape));
    }
    N_ = codes.shape[0];
    K_ = codes.shape[1] * 2;
    CheckBlocks(K_, format_, "weight.codes");
    const std::vector<int64_t> want_scales = {N_, K_ / 16};
    if (scales.dtype != TensorDType::u8 || scales.shape != want_scales) {
      Fail(scales.dtype != TensorDType::u8 ? "ERR_DTYPE" : "ERR_SHAPE",
           "weight.scales: expected a u8 DeviceTensor " + ShapeString(want_scales) + " (codes are " +
               ShapeString(codes.shape) + "), got " + TensorDTypeName(scales.dtype) + " " + ShapeString(scales.shape));
    }
    device_ = codes.device;
    if (scales.device != device_) {
      Fail("ERR_ARGUMENT", "weight.scales: expected a tensor on device " + std::to_string(device_) +
                               " (weight.codes' device), got one on device " + std::to_string(scales.device));
    }
    Napi::Value g = q.Get("globalScale");
    if (g.IsNumber()) {
      const double gv = g.As<Napi::Number>().DoubleValue();
      if (!(std::isfinite(gv) && gv >= 0 && static_cast<double>(static_cast<float>(gv)) == gv)) {
        Fail("ERR_ARGUMENT", "weight.globalScale: expected a finite binary32 value >= 0, got " + Describe(g));
      }
      global_scale_ = static_cast<float>(gv);
    } else {
      if (!DeviceTensor::Is(g)) {
        Fail("ERR_ARGUMENT", "weight.globalScale: expected an f32 DeviceTensor [1] or a number, got " + Describe(g));
      }
      DeviceTensorArg gt = ParseDeviceTensor(g, "weight.globalScale");
      if (gt.dtype != TensorDType::f32 || gt.buffer->bytes() != sizeof(float)) {
        Fail(gt.dtype != TensorDType::f32 ? "ERR_DTYPE" : "ERR_SHAPE",
             std::string("weight.globalScale: expected an f32 DeviceTensor of one element, got ") +
                 TensorDTypeName(gt.dtype) + " " + ShapeString(gt.shape));
      }
      if (gt.device != device_) {
        Fail("ERR_ARGUMENT", "weight.globalScale: expected a tensor on device " + std::to_string(device_) +
                                 " (weight.codes' device), got one on device " + std::to_string(gt.device));
      }
      g_buffer_ = gt.buffer;
    }
    params_ = ParseFormatParams(format_, q, "weight");
    if (format_ == Format::nvfp4_razer) CheckGpuSpecialValues(params_, format_, "weight");
    const size_t packed_bytes = PackedBytes(format_, N_, K_, "weight");
    codes_ = codes.buffer;
    scales_ = scales.buffer;
    packed_ = gpu::DeviceBuffer::Allocate(device_, packed_bytes, "GpuWeight.fromDevice");
    if (g_buffer_) slot_ = gpu::LeasePinned(sizeof(float), device_);

    Enqueue(device_, "weight.codes", [&](gpu::DeviceContext& ctx) {
      // G is not known on the host yet: prepack only copies it into the
      // PackedWeights it returns (which is not kept); Result() uses the value read back.
      QuantizedView v{format_, N_, K_, static_cast<const uint8_t*>(codes_->data()),
                      static_cast<const uint8_t*>(scales_->data()), 0.0f, params_};
      razer::gpu::PackedWeights info;
      gpu::Check(razer::gpu::prepack(v, packed_->data(), packed_->bytes(), ctx.stream, &info), "prepack", device_);
      if (g_buffer_) {
        gpu::Check(cudaMemcpyAsync(slot_->data(), g_buffer_->data(), sizeof(float), cudaMemcpyDeviceToHost, ctx.stream),
                   "cudaMemcpyAsync (global scale, device to host)", device_);
      }
    });
  }

  ~FromDeviceJob() override { Drain(); }

  void Run() override {
    WaitForStream("GpuWeight.fromDevice (prepack)");
    if (slot_) std::memcpy(&global_scale_, slot_->data(), sizeof(float));
    if (!(std::isfinite(global_scale_) && global_scale_ >= 0.0f)) {
      std::ostringstream got;
      if (std::isnan(global_scale_)) {
        got << "NaN";
      } else if (std::isinf(global_scale_)) {
        got << (global_scale_ > 0 ? "Infinity" : "-Infinity");
      } else {
        got << std::setprecision(9) << global_scale_;
      }
      Fail("ERR_ARGUMENT", "weight.globalScale: expected a finite value >= 0 in the device tensor, got " + got.str());
    }
    codes_.reset();
    scales_.reset();
    g_buffer_.reset();
  }

  Napi::Value Result(Napi::Env env) override {
    return GpuWeight::Wrap(env, MakeStorage(std::move(packed_), format_, N_, K_, global_scale_, params_, device_));
  }

 private:
  Format format_ = Format::nvfp4;
  int64_t N_ = 0, K_ = 0;
  FormatParams params_;
  float global_scale_ = 0.0f;
  int device_ = 0;
  std::shared_ptr<gpu::DeviceBuffer> codes_, scales_, g_buffer_, packed_;
  std::shared_ptr<gpu::PinnedBlock> slot_;
};

#endif  // RAZER_WITH_CUDA

}  // namespace

std::shared_ptr<GpuWeightStorage> ParseGpuWeight(const Napi::Value& value, const std::string& argument) {
  if (!GpuWeight::Is(value)) {
    Fail("ERR_ARGUMENT", argument + ": expected a GpuWeight (GpuWeight.fromQuantized or .fromDevice), got " +
                             Describe(value));
  }
  return GpuWeight::From(value)->Use(argument);
}

Napi::Function GpuWeight::Define(Napi::Env env) {
  std::vector<Napi::ClassPropertyDescriptor<GpuWeight>> props = {
      StaticMethod("fromQuantized", &GpuWeight::FromQuantized),
      StaticMethod("fromQuantizedSync", &GpuWeight::FromQuantizedSync),
      StaticMethod("fromDevice", &GpuWeight::FromDevice),
      StaticMethod("fromDeviceSync", &GpuWeight::FromDeviceSync),
      InstanceAccessor("format", &GpuWeight::GetFormat, nullptr),
      InstanceAccessor("rows", &GpuWeight::GetRows, nullptr),
      InstanceAccessor("cols", &GpuWeight::GetCols, nullptr),
      InstanceAccessor("device", &GpuWeight::GetDevice, nullptr),
      InstanceAccessor("globalScale", &GpuWeight::GetGlobalScale, nullptr),
      InstanceAccessor("svSmall", &GpuWeight::GetSvSmall, nullptr),
      InstanceAccessor("svBig", &GpuWeight::GetSvBig, nullptr),
      InstanceAccessor("byteLength", &GpuWeight::GetByteLength, nullptr),
  };
  AddDisposeMethods(env, props);
  return ObjectWrap<GpuWeight>::DefineClass(env, kClassName, props);
}

GpuWeight::GpuWeight(const Napi::CallbackInfo& info) : Disposable(info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw Napi::Error(env, MakeJsError(env, "ERR_ARGUMENT",
                                       "GpuWeight: use GpuWeight.fromQuantized() or GpuWeight.fromDevice(), not new"));
  }
  auto* token = info[0].As<Napi::External<ConstructToken>>().Data();
  const GpuWeightStorage& s = *token->storage;
  format_ = s.format;
  N_ = s.N;
  K_ = s.K;
  global_scale_ = s.global_scale;
  params_ = s.params;
  device_ = s.device;
  bytes_ = s.packed ? s.packed->bytes() : 0;
  Attach(env, std::move(token->storage), static_cast<int64_t>(bytes_));
}

Napi::Object GpuWeight::Wrap(Napi::Env env, std::shared_ptr<GpuWeightStorage> storage) {
  ConstructToken token{std::move(storage)};
  return env.GetInstanceData<RazerAddon>()->gpu_weight_ctor().New({Napi::External<ConstructToken>::New(env, &token)});
}

#if defined(RAZER_WITH_CUDA)

Napi::Value GpuWeight::FromQuantized(const Napi::CallbackInfo& info) {
  return GuardAsync(info.Env(), [&] {
    return RunAsync(info.Env(), std::make_unique<FromQuantizedJob>(info), "razer.GpuWeight.fromQuantized");
  });
}
Napi::Value GpuWeight::FromQuantizedSync(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&] { return RunSync(info.Env(), std::make_unique<FromQuantizedJob>(info)); });
}
Napi::Value GpuWeight::FromDevice(const Napi::CallbackInfo& info) {
  return GuardAsync(info.Env(), [&] {
    return RunAsync(info.Env(), std::make_unique<FromDeviceJob>(info), "razer.GpuWeight.fromDevice");
  });
}
Napi::Value GpuWeight::FromDeviceSync(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&] { return RunSync(info.Env(), std::make_unique<FromDeviceJob>(info)); });
}

#else  // !RAZER_WITH_CUDA: every factory is ERR_NO_GPU

Napi::Value GpuWeight::FromQuantized(const Napi::CallbackInfo& info) { return NoGpuEntry(info, "GpuWeight.fromQuantized"); }
Napi::Value GpuWeight::FromQuantizedSync(const Napi::CallbackInfo& info) {
  return NoGpuEntry(info, "GpuWeight.fromQuantizedSync");
}
Napi::Value GpuWeight::FromDevice(const Napi::CallbackInfo& info) { return NoGpuEntry(info, "GpuWeight.fromDevice"); }
Napi::Value GpuWeight::FromDeviceSync(const Napi::CallbackInfo& info) { return NoGpuEntry(info, "GpuWeight.fromDeviceSync"); }

#endif  // RAZER_WITH_CUDA

Napi::Value GpuWeight::GetFormat(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), FormatName(format_));
}
Napi::Value GpuWeight::GetRows(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(N_));
}
Napi::Value GpuWeight::GetCols(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(K_));
}
Napi::Value GpuWeight::GetDevice(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), device_); }
Napi::Value GpuWeight::GetGlobalScale(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), global_scale_);
}
Napi::Value GpuWeight::GetSvSmall(const Napi::CallbackInfo& info) {
  if (format_ != Format::nvfp4_razer) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), params_.sv_small);
}
Napi::Value GpuWeight::GetSvBig(const Napi::CallbackInfo& info) {
  if (format_ != Format::nvfp4_razer) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), params_.sv_big);
}
Napi::Value GpuWeight::GetByteLength(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(bytes_));
}

}  // namespace razer::binding
