// Module entry point: defines the exports on each environment's instance.
// Context-aware (Napi::Addon keeps one RazerAddon per environment as its
// instance data), so worker threads may load it at the same time.
#include "addon.h"

#include "bench.h"
#include "device_tensor.h"
#include "errors.h"
#include "gpu.h"
#include "gpu_graph.h"
#include "gpu_weight.h"
#include "weight.h"

#include <vector>

namespace razer::binding {

RazerAddon::RazerAddon(Napi::Env env, Napi::Object exports) {
  native_weight_ctor_ = Napi::Persistent(NativeWeight::Define(env));
  device_tensor_ctor_ = Napi::Persistent(DeviceTensor::Define(env));
  gpu_weight_ctor_ = Napi::Persistent(GpuWeight::Define(env));
  gemm_graph_ctor_ = Napi::Persistent(GemmGraph::Define(env));
  DefineAddon(exports, {
      InstanceMethod("setErrorFactory", &RazerAddon::SetErrorFactory, napi_enumerable),
      InstanceMethod("buildInfo", &RazerAddon::BuildInfo, napi_enumerable),
      InstanceMethod("memoryStats", &RazerAddon::MemoryStats, napi_enumerable),
      InstanceMethod("quantize", &RazerAddon::Quantize, napi_enumerable),
      InstanceMethod("quantizeSync", &RazerAddon::QuantizeSync, napi_enumerable),
      InstanceMethod("dequantize", &RazerAddon::Dequantize, napi_enumerable),
      InstanceMethod("dequantizeSync", &RazerAddon::DequantizeSync, napi_enumerable),
      InstanceMethod("gemmW4A16", &RazerAddon::GemmW4A16, napi_enumerable),
      InstanceMethod("gemmW4A16Sync", &RazerAddon::GemmW4A16Sync, napi_enumerable),
      InstanceMethod("gemmW4A4", &RazerAddon::GemmW4A4, napi_enumerable),
      InstanceMethod("gemmW4A4Sync", &RazerAddon::GemmW4A4Sync, napi_enumerable),
      InstanceMethod("quantizeOnDevice", &RazerAddon::QuantizeOnDevice, napi_enumerable),
      InstanceMethod("quantizeOnDeviceSync", &RazerAddon::QuantizeOnDeviceSync, napi_enumerable),
      InstanceMethod("gemmW4A16Gpu", &RazerAddon::GemmW4A16Gpu, napi_enumerable),
      InstanceMethod("gemmW4A16GpuSync", &RazerAddon::GemmW4A16GpuSync, napi_enumerable),
      InstanceMethod("cudaProbe", &RazerAddon::CudaProbe, napi_enumerable),
      InstanceMethod("devices", &RazerAddon::Devices, napi_enumerable),
      InstanceMethod("cudaSelfTest", &RazerAddon::CudaSelfTest, napi_enumerable),
      InstanceValue("benchW4A16", Napi::Function::New(env, BenchW4A16, "benchW4A16"), napi_enumerable),
      InstanceValue("NativeWeight", native_weight_ctor_.Value(), napi_enumerable),
      InstanceValue("DeviceTensor", device_tensor_ctor_.Value(), napi_enumerable),
      InstanceValue("GpuWeight", gpu_weight_ctor_.Value(), napi_enumerable),
      InstanceValue("GemmGraph", gemm_graph_ctor_.Value(), napi_enumerable),
  });
  // Runs when this environment ends (a worker thread exiting, or the process):
  // frees the native memory of objects nobody disposed, before V8 goes away.
  env.AddCleanupHook(Cleanup, this);
}

void RazerAddon::Cleanup(RazerAddon* self) {
  Registry& registry = *self->registry_;
  registry.tearing_down = true;
  std::vector<Tracked*> live(registry.live.begin(), registry.live.end());
  registry.live.clear();
  for (Tracked* object : live) object->ReleaseForTeardown();
}

Napi::Value RazerAddon::SetErrorFactory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsFunction()) {
      Fail("ERR_ARGUMENT", "factory: expected a function (code, message) => Error");
    }
    error_factory_ = Napi::Persistent(info[0].As<Napi::Function>());
    return env.Undefined();
  });
}

Napi::Value RazerAddon::MemoryStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("liveObjects", Napi::Number::New(env, static_cast<double>(registry_->live.size())));
  out.Set("nativeBytes", Napi::Number::New(env, static_cast<double>(registry_->bytes)));
  out.Set("v8ExternalMemory",
          Napi::Number::New(env, static_cast<double>(Napi::MemoryManagement::AdjustExternalMemory(env, 0))));
  return out;
}

Napi::Value RazerAddon::BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("version", RAZER_PACKAGE_VERSION);
  out.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
  out.Set("cuda", Napi::Boolean::New(env, gpu::kCompiled));
  Napi::Array targets = Napi::Array::New(env);
  uint32_t i = 0;
  for (const std::string& t : gpu::CompiledTargets()) targets.Set(i++, t);
  out.Set("cudaTargets", targets);
  out.Set("cudaRuntimeVersion", Napi::Number::New(env, gpu::RuntimeVersion()));
#if defined(__clang__)
  out.Set("compiler", "clang " __clang_version__);
#elif defined(__GNUC__)
  out.Set("compiler", "gcc " __VERSION__);
#else
  out.Set("compiler", "unknown");
#endif
  return out;
}

}  // namespace razer::binding

using razer::binding::RazerAddon;
NODE_API_ADDON(RazerAddon)
