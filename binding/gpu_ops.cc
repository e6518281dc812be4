// The GPU operations on device tensors, each as a Promise and as Sync:
//   quantizeOnDevice(x, format, options) → {codes, scales, globalScale}
//   gemmW4A16Gpu(x, w, options) → the output DeviceTensor
// Every argument is checked on the JS thread before anything is queued; the
// kernels are then queued at once on the device's stream (so stream order is
// call order, see gpu_context.h) and the Promise settles when they are done
// (an AsyncWorker waits on an event; the event loop never blocks). Without
// CUDA both throw ERR_NO_GPU.
#include "addon.h"
#include "args.h"
#include "device_tensor.h"
#include "errors.h"
#include "gpu.h"
#include "jobs.h"
#include "no_gpu.h"

#if defined(RAZER_WITH_CUDA)
#include <cstring>

#include "gpu_context.h"
#include "gpu_gemm_call.h"
#include "kernels/gemm.cuh"
#include "kernels/quantize.cuh"
#endif

namespace razer::binding {

#if defined(RAZER_WITH_CUDA)

namespace {

Napi::Value Arg(const Napi::CallbackInfo& info, size_t i) { return i < info.Length() ? info[i] : info.Env().Undefined(); }

// ---------------------------------------------------------------- quantize --

enum class Kind { weights, activations };

class GpuQuantizeJob : public gpu::StreamJob {
 public:
  explicit GpuQuantizeJob(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    DeviceTensorArg x = ParseDeviceTensor(Arg(info, 0), "x");
    if (x.dtype == TensorDType::u8) {
      Fail("ERR_DTYPE", "x: expected an f32, f16 or bf16 DeviceTensor, got u8");
    }
    if (x.shape.size() != 2) {
      Fail("ERR_SHAPE", "x: expected a [rows, cols] DeviceTensor, got shape " + ShapeString(x.shape));
    }
    format_ = ParseFormat(Arg(info, 1), "format");
    Napi::Object options = ParseOptions(env, Arg(info, 2), "options");
    rows_ = x.shape[0];
    cols_ = x.shape[1];
    dtype_ = x.dtype == TensorDType::f32 ? DType::f32 : x.dtype == TensorDType::f16 ? DType::f16 : DType::bf16;
    device_ = x.device;

    // kind: given, or what the format implies (nvfp4: activations with a
    // static scale, else weights; the dynamic results are the same).
    Napi::Value g = options.Get("globalScale");
    Napi::Value kind = options.Get("kind");
    const std::string kind_name = kind.IsString() ? kind.As<Napi::String>().Utf8Value() : "";
    if (kind.IsUndefined()) {
      const bool activations = format_ == Format::nvfp4_razer_a || (format_ == Format::nvfp4 && !g.IsUndefined());
      kind_ = activations ? Kind::activations : Kind::weights;
    } else if (kind_name == "weights" || kind_name == "activations") {
      kind_ = kind_name == "weights" ? Kind::weights : Kind::activations;
    } else {
      Fail("ERR_ARGUMENT", "options.kind: expected 'weights' or 'activations', got " + Describe(kind));
    }
    if (kind_ == Kind::weights && format_ == Format::nvfp4_razer_a) {
      Fail("ERR_FORMAT", "format: nvfp4_razer_a is an activation format; kind 'weights' takes nvfp4, "
                         "nvfp4_4over6 or nvfp4_razer");
    }
    if (kind_ == Kind::activations && format_ != Format::nvfp4 && format_ != Format::nvfp4_razer_a) {
      Fail("ERR_FORMAT", std::string("format: kind 'activations' takes nvfp4 or nvfp4_razer_a, got ") +
                             FormatName(format_));
    }
    CheckBlocks(cols_, format_, "x");
    params_ = ParseFormatParams(format_, options, "options");
    if (!g.IsUndefined()) {
      if (format_ != Format::nvfp4 && format_ != Format::nvfp4_razer_a) {
        Fail("ERR_ARGUMENT", std::string("options.globalScale: only nvfp4 and nvfp4_razer_a take a static global "
                                         "scale, the format is ") +
                                 FormatName(format_));
      }
      if (kind_ == Kind::weights) {
        Fail("ERR_ARGUMENT", "options.globalScale: a static global scale is for kind 'activations', got kind 'weights'");
      }
      static_g_ = ParseStaticScale(g, "options.globalScale");
      has_static_g_ = true;
    }
    Napi::Value name = options.Get("name");
    if (name.IsString()) name_ = name.As<Napi::String>().Utf8Value();

    // Every check passed: allocate (zero-filled) and queue.
    x_ = x.buffer;
    codes_ = gpu::DeviceBuffer::Allocate(device_, static_cast<size_t>(rows_ * cols_ / 2), "quantizeOnDevice");
    scales_ = gpu::DeviceBuffer::Allocate(device_, static_cast<size_t>(rows_ * cols_ / 16), "quantizeOnDevice");
    g_ = gpu::DeviceBuffer::Allocate(device_, sizeof(float), "quantizeOnDevice");
    // Host side of the status read back (8 bytes) and of the static scale (4).
    slot_ = gpu::LeasePinned(16, device_);
    std::memcpy(static_cast<char*>(slot_->data()) + 8, &static_g_, sizeof(float));
    Enqueue(device_, "x", [&](gpu::DeviceContext& ctx) { Queue(ctx); });
  }

  ~GpuQuantizeJob() override { Drain(); }

  void Run() override {
    WaitForStream("quantizeOnDevice");
    unsigned long long status = 0;
    std::memcpy(&status, slot_->data(), sizeof status);
    if (status != ~0ull) FailNonFinite(name_, ValueAt(static_cast<int64_t>(status)), static_cast<int64_t>(status), cols_);
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("codes", DeviceTensor::Wrap(env, std::move(codes_), TensorDType::u8, {rows_, cols_ / 2}));
    out.Set("scales", DeviceTensor::Wrap(env, std::move(scales_), TensorDType::u8, {rows_, cols_ / 16}));
    out.Set("globalScale", DeviceTensor::Wrap(env, std::move(g_), TensorDType::f32, {1}));
    return out;
  }

 private:
  // Under the context's lock: reset the status, upload a static scale, run
  // the quantizer, read the status back into the pinned slot.
  void Queue(gpu::DeviceContext& ctx) {
    cudaStream_t stream = ctx.stream;
    const gpu::DeviceContext::Slots slots = ctx.QuantizeSlots();
    const size_t ws_bytes = razer::gpu::quantize_workspace_bytes(rows_, cols_);
    void* ws = ctx.quantize_workspace.Ensure(ws_bytes, device_, stream, "quantizeOnDevice (workspace)");
    auto* slot = static_cast<char*>(slot_->data());
    gpu::Check(cudaMemsetAsync(slots.status, 0xff, sizeof(unsigned long long), stream), "cudaMemsetAsync (status)",
               device_);
    auto* codes = static_cast<uint8_t*>(codes_->data());
    auto* scales = static_cast<uint8_t*>(scales_->data());
    auto* g = static_cast<float*>(g_->data());
    cudaError_t err;
    if (kind_ == Kind::weights) {
      err = razer::gpu::quantize_weights(format_, x_->data(), dtype_, rows_, cols_, params_, codes, scales, g,
                                         slots.status, ws, ws_bytes, stream);
    } else {
      const float* static_g = nullptr;
      if (has_static_g_) {
        gpu::Check(cudaMemcpyAsync(slots.static_scale, slot + 8, sizeof(float), cudaMemcpyHostToDevice, stream),
                   "cudaMemcpyAsync (static global scale)", device_);
        static_g = slots.static_scale;
      }
      err = razer::gpu::quantize_activations(format_, x_->data(), dtype_, rows_, cols_, params_.sv_act, static_g,
                                             codes, scales, g, slots.status, ws, ws_bytes, stream);
    }
    gpu::Check(err, kind_ == Kind::weights ? "quantize_weights" : "quantize_activations", device_);
    gpu::Check(cudaMemcpyAsync(slot, slots.status, sizeof(unsigned long long), cudaMemcpyDeviceToHost, stream),
               "cudaMemcpyAsync (status, device to host)", device_);
  }

  // How the bad element reads ("NaN", "Infinity", "-Infinity"): one element
  // copied back (this runs after the stream work, off the JS thread).
  std::string ValueAt(int64_t index) const {
    uint32_t bits = 0;
    const size_t size = dtype_ == DType::f32 ? 4 : 2;
    if (index < 0 || index >= rows_ * cols_ || cudaSetDevice(device_) != cudaSuccess ||
        cudaMemcpy(&bits, static_cast<const char*>(x_->data()) + index * size, size, cudaMemcpyDeviceToHost) !=
            cudaSuccess) {
      cudaGetLastError();
      return "not finite";
    }
    return NonFiniteString(&bits, dtype_, 0);  // little-endian: the low bytes hold the element
  }

  Format format_ = Format::nvfp4;
  Kind kind_ = Kind::weights;
  DType dtype_ = DType::f32;
  int64_t rows_ = 0, cols_ = 0;
  int device_ = 0;
  FormatParams params_;
  float static_g_ = 0.0f;
  bool has_static_g_ = false;
  std::string name_ = "x";
  std::shared_ptr<gpu::DeviceBuffer> x_, codes_, scales_, g_;  // alive until the work is done
  std::shared_ptr<gpu::PinnedBlock> slot_;
};

// -------------------------------------------------------------------- gemm --

class GpuGemmJob : public gpu::StreamJob {
 public:
  explicit GpuGemmJob(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object options = ParseOptions(env, Arg(info, 2), "options");
    call_ = ParseGemmCall(Arg(info, 0), Arg(info, 1), options.Get("out"), "options.out", options, true,
                          "gemmW4A16Gpu (output)");
    if (call_.out_given) out_ = Napi::Persistent(options.Get("out").As<Napi::Object>());
    Enqueue(call_.device, "x", [&](gpu::DeviceContext& ctx) {
      const razer::gpu::PackedWeights w = Packed(*call_.w);
      const size_t ws_bytes = razer::gpu::gemm_workspace_bytes(call_.M, w);
      void* ws = ctx.gemm_workspace.Ensure(ws_bytes, call_.device, ctx.stream, "gemmW4A16Gpu (workspace)");
      const float* bias = call_.bias ? static_cast<const float*>(call_.bias->data()) : nullptr;
      if (call_.host_bias) {
        const size_t bytes = static_cast<size_t>(call_.N) * sizeof(float);
        void* staged = ctx.bias.Ensure(bytes, call_.device, ctx.stream, "gemmW4A16Gpu (bias)");
        gpu::Check(cudaMemcpyAsync(staged, call_.host_bias->data(), bytes, cudaMemcpyHostToDevice, ctx.stream),
                   "cudaMemcpyAsync (bias)", call_.device);
        bias = static_cast<const float*>(staged);
      }
      gpu::Check(razer::gpu::gemm_w4a16(call_.x->data(), call_.x_dtype, call_.M, w, bias, call_.out->data(),
                                        call_.out_dtype, ws, ws_bytes, ctx.stream),
                 "gemm_w4a16", call_.device);
    });
  }

  ~GpuGemmJob() override { Drain(); }

  void Run() override { WaitForStream("gemmW4A16Gpu"); }

  Napi::Value Result(Napi::Env env) override {
    if (!out_.IsEmpty()) return out_.Value();
    const TensorDType dtype = call_.out_dtype == DType::f32   ? TensorDType::f32
                              : call_.out_dtype == DType::f16 ? TensorDType::f16
                                                              : TensorDType::bf16;
    return DeviceTensor::Wrap(env, std::move(call_.out), dtype, {call_.M, call_.N});
  }

 private:
  GemmCall call_;  // holds every buffer the kernel uses until the job is gone
  Napi::ObjectReference out_;
};

}  // namespace

Napi::Value RazerAddon::QuantizeOnDevice(const Napi::CallbackInfo& info) {
  return GuardAsync(info.Env(), [&] {
    return RunAsync(info.Env(), std::make_unique<GpuQuantizeJob>(info), "razer.quantizeOnDevice");
  });
}
Napi::Value RazerAddon::QuantizeOnDeviceSync(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&] { return RunSync(info.Env(), std::make_unique<GpuQuantizeJob>(info)); });
}
Napi::Value RazerAddon::GemmW4A16Gpu(const Napi::CallbackInfo& info) {
  return GuardAsync(info.Env(),
               [&] { return RunAsync(info.Env(), std::make_unique<GpuGemmJob>(info), "razer.gemmW4A16Gpu"); });
}
Napi::Value RazerAddon::GemmW4A16GpuSync(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&] { return RunSync(info.Env(), std::make_unique<GpuGemmJob>(info)); });
}

#else  // !RAZER_WITH_CUDA: ERR_NO_GPU

Napi::Value RazerAddon::QuantizeOnDevice(const Napi::CallbackInfo& info) { return NoGpuEntry(info, "quantizeOnDevice"); }
Napi::Value RazerAddon::QuantizeOnDeviceSync(const Napi::CallbackInfo& info) {
  return NoGpuEntry(info, "quantizeOnDeviceSync");
}
Napi::Value RazerAddon::GemmW4A16Gpu(const Napi::CallbackInfo& info) { return NoGpuEntry(info, "gemmW4A16Gpu"); }
Napi::Value RazerAddon::GemmW4A16GpuSync(const Napi::CallbackInfo& info) { return NoGpuEntry(info, "gemmW4A16GpuSync"); }

#endif  // RAZER_WITH_CUDA

}  // namespace razer::binding
