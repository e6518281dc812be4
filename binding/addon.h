// The addon instance: one per Node environment (main thread, each worker
// thread), holding everything that must not be shared between environments.
#pragma once
#include <napi.h>

#include <memory>
#include <unordered_set>

namespace razer::binding {

// A native object whose memory the environment's cleanup hook must release if
// the environment ends (worker exit, process exit) while the object lives.
class Tracked {
 public:
  virtual ~Tracked() = default;
  // Frees the object's native memory; touches no JS. Idempotent.
  virtual void ReleaseForTeardown() = 0;
};

// The live native objects of one environment. Shared with the objects
// themselves, so that a finalizer that runs after the addon instance is gone
// (environment teardown order) still finds it. Used on the JS thread only.
struct Registry {
  std::unordered_set<Tracked*> live;
  int64_t bytes = 0;  // native bytes the live objects hold (as told to V8)
  bool tearing_down = false;
};

class RazerAddon : public Napi::Addon<RazerAddon> {
 public:
  RazerAddon(Napi::Env env, Napi::Object exports);

  const Napi::FunctionReference& error_factory() const { return error_factory_; }
  Napi::FunctionReference& native_weight_ctor() { return native_weight_ctor_; }
  Napi::FunctionReference& device_tensor_ctor() { return device_tensor_ctor_; }
  Napi::FunctionReference& gpu_weight_ctor() { return gpu_weight_ctor_; }
  Napi::FunctionReference& gemm_graph_ctor() { return gemm_graph_ctor_; }

  const std::shared_ptr<Registry>& registry() const { return registry_; }

 private:
  // setErrorFactory((code, message) => Error): how native errors are made.
  Napi::Value SetErrorFactory(const Napi::CallbackInfo& info);
  // buildInfo(): how this binary was built.
  Napi::Value BuildInfo(const Napi::CallbackInfo& info);
  // memoryStats(): live native objects and bytes of this environment, and
  // V8's external-memory total (process.memoryUsage() does not show it).
  Napi::Value MemoryStats(const Napi::CallbackInfo& info);

  // CPU backend (cpu_ops.cc).
  Napi::Value Quantize(const Napi::CallbackInfo& info);
  Napi::Value QuantizeSync(const Napi::CallbackInfo& info);
  Napi::Value Dequantize(const Napi::CallbackInfo& info);
  Napi::Value DequantizeSync(const Napi::CallbackInfo& info);
  Napi::Value GemmW4A16(const Napi::CallbackInfo& info);
  Napi::Value GemmW4A16Sync(const Napi::CallbackInfo& info);
  Napi::Value GemmW4A4(const Napi::CallbackInfo& info);
  Napi::Value GemmW4A4Sync(const Napi::CallbackInfo& info);

  // GPU operations on device tensors (gpu_ops.cc).
  Napi::Value QuantizeOnDevice(const Napi::CallbackInfo& info);
  Napi::Value QuantizeOnDeviceSync(const Napi::CallbackInfo& info);
  Napi::Value GemmW4A16Gpu(const Napi::CallbackInfo& info);
  Napi::Value GemmW4A16GpuSync(const Napi::CallbackInfo& info);

  // CUDA devices (devices.cc).
  Napi::Value CudaProbe(const Napi::CallbackInfo& info);
  Napi::Value Devices(const Napi::CallbackInfo& info);
  Napi::Value CudaSelfTest(const Napi::CallbackInfo& info);

  static void Cleanup(RazerAddon* self);

  Napi::FunctionReference error_factory_;
  Napi::FunctionReference native_weight_ctor_;
  Napi::FunctionReference device_tensor_ctor_;
  Napi::FunctionReference gpu_weight_ctor_;
  Napi::FunctionReference gemm_graph_ctor_;
  std::shared_ptr<Registry> registry_ = std::make_shared<Registry>();
};

}  // namespace razer::binding
