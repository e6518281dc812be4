#include "gpu_gemm_call.h"

#if defined(RAZER_WITH_CUDA)
#include <cstring>
#include <optional>

#include "args.h"
#include "errors.h"

namespace razer::binding {

namespace {

constexpr int64_t kMaxM = int64_t(65535) * 128;  // gemm_w4a16: gridDim.z of the largest M tile

// The kernels' element type of a tensor (none for u8).
std::optional<DType> KernelDType(TensorDType d) {
  switch (d) {
    case TensorDType::f32: return DType::f32;
    case TensorDType::f16: return DType::f16;
    case TensorDType::bf16: return DType::bf16;
    default: return std::nullopt;
  }
}

std::string DeviceMismatch(const std::string& argument, const char* kind, int want, int got) {
  return argument + ": expected " + kind + " on device " + std::to_string(want) + " (x's device), got one on device " +
         std::to_string(got);
}

}  // namespace

razer::gpu::PackedWeights Packed(const GpuWeightStorage& w) {
  razer::gpu::PackedWeights p;
  p.format = w.format;
  p.N = w.N;
  p.K = w.K;
  p.data = w.packed->data();
  p.bytes = w.packed->bytes();
  p.global_scale = w.global_scale;
  p.params = w.params;
  return p;
}

GemmCall ParseGemmCall(const Napi::Value& x_value, const Napi::Value& w_value, const Napi::Value& out_value,
                       const std::string& out_argument, const Napi::Object& options, bool allocate_out,
                       const char* what) {
  GemmCall c;
  DeviceTensorArg x = ParseDeviceTensor(x_value, "x");
  if (x.dtype != TensorDType::f16 && x.dtype != TensorDType::bf16) {
    Fail("ERR_DTYPE", std::string("x: the GPU W4A16 GEMM takes an f16 or bf16 DeviceTensor, got ") +
                          TensorDTypeName(x.dtype) + (x.dtype == TensorDType::f32 ? " (convert X to bf16 or f16 first)" : ""));
  }
  if (x.shape.size() != 2) {
    Fail("ERR_SHAPE", "x: expected a [M, K] DeviceTensor, got shape " + ShapeString(x.shape));
  }
  c.device = x.device;
  c.x = x.buffer;
  c.x_dtype = *KernelDType(x.dtype);
  c.M = x.shape[0];
  c.K = x.shape[1];
  if (c.M > kMaxM) {
    Fail("ERR_SHAPE", "x: M = " + std::to_string(c.M) + " rows is more than the GPU kernels take (" +
                          std::to_string(kMaxM) + "); split X");
  }

  c.w = ParseGpuWeight(w_value, "w");
  c.N = c.w->N;
  if (c.w->K != c.K) {
    Fail("ERR_SHAPE", "w: expected K = " + std::to_string(c.K) + " (x's columns), got a [" + std::to_string(c.w->N) +
                          ", " + std::to_string(c.w->K) + "] GpuWeight");
  }
  if (c.w->device != c.device) Fail("ERR_ARGUMENT", DeviceMismatch("w", "a GpuWeight", c.device, c.w->device));

  Napi::Value bias = options.Get("bias");
  if (DeviceTensor::Is(bias)) {
    DeviceTensorArg b = ParseDeviceTensor(bias, "options.bias");
    if (b.dtype != TensorDType::f32) {
      Fail("ERR_DTYPE", std::string("options.bias: expected an f32 DeviceTensor [") + std::to_string(c.N) + "], got " +
                            TensorDTypeName(b.dtype));
    }
    if (b.shape != std::vector<int64_t>{c.N}) {
      Fail("ERR_SHAPE", "options.bias: expected shape [" + std::to_string(c.N) + "] (N, the weight's rows), got " +
                            ShapeString(b.shape));
    }
    if (b.device != c.device) Fail("ERR_ARGUMENT", DeviceMismatch("options.bias", "a tensor", c.device, b.device));
    c.bias = b.buffer;
  } else if (bias.IsTypedArray() && bias.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array) {
    ArrayArg b = ParseTypedArray(bias, napi_float32_array, "options.bias", "a Float32Array");
    if (static_cast<int64_t>(b.length) != c.N) {
      Fail("ERR_SHAPE", "options.bias: expected a Float32Array(" + std::to_string(c.N) +
                            ") (N, the weight's rows), got " + Describe(bias));
    }
  } else if (!bias.IsUndefined() && !bias.IsNull()) {
    Fail("ERR_DTYPE", "options.bias: expected an f32 DeviceTensor [" + std::to_string(c.N) + "] or a Float32Array(" +
                          std::to_string(c.N) + "), got " + Describe(bias));
  }

  Napi::Value out_dtype = options.Get("outDtype");
  DeviceTensorArg out;
  c.out_given = !out_value.IsUndefined() && !out_value.IsNull();
  if (c.out_given) out = ParseDeviceTensor(out_value, out_argument);
  if (!out_dtype.IsUndefined()) {
    c.out_dtype = ParseDType(out_dtype, "options.outDtype");
  } else if (c.out_given && KernelDType(out.dtype)) {
    c.out_dtype = *KernelDType(out.dtype);  // the output tensor says it
  } else {
    c.out_dtype = DType::f32;
  }
  if (c.out_given) {
    if (KernelDType(out.dtype) != c.out_dtype) {
      Fail("ERR_DTYPE", out_argument + ": expected " + (c.out_dtype == DType::bf16 ? "a " : "an ") + DTypeName(c.out_dtype) +
                            " DeviceTensor" + (out_dtype.IsUndefined() ? "" : " (options.outDtype)") + ", got " +
                            TensorDTypeName(out.dtype));
    }
    const std::vector<int64_t> want = {c.M, c.N};
    if (out.shape != want) {
      Fail("ERR_SHAPE", out_argument + ": expected shape [M, N] = " + ShapeString(want) + ", got " + ShapeString(out.shape));
    }
    if (out.device != c.device) Fail("ERR_ARGUMENT", DeviceMismatch(out_argument, "a tensor", c.device, out.device));
    if (out.buffer == c.x) {
      Fail("ERR_ARGUMENT", out_argument + ": must not be x (the kernel reads x while it writes the output)");
    }
    if (c.bias && out.buffer == c.bias) {
      Fail("ERR_ARGUMENT", out_argument + ": must not be options.bias (the kernel reads the bias while it writes the output)");
    }
    c.out = out.buffer;
  } else if (!allocate_out) {
    Fail("ERR_ARGUMENT", out_argument + ": expected a DeviceTensor [M, N] = [" + std::to_string(c.M) + ", " +
                             std::to_string(c.N) + "], got " + Describe(out_value));
  }

  // Every check passed: now the side effects (allocation, pinned copy).
  if (bias.IsTypedArray()) {
    ArrayArg b = ParseTypedArray(bias, napi_float32_array, "options.bias", "a Float32Array");
    c.host_bias = gpu::LeasePinned(b.length * sizeof(float), c.device);
    std::memcpy(c.host_bias->data(), b.data, b.length * sizeof(float));
  }
  if (!c.out) {
    c.out = gpu::DeviceBuffer::Allocate(c.device, static_cast<size_t>(c.M * c.N) * DTypeSize(c.out_dtype), what);
  }
  return c;
}

}  // namespace razer::binding
#endif  // RAZER_WITH_CUDA
