// Device discovery: cudaProbe() (cheap, no CUDA context: what backendInfo()
// decides with), devices() (contexts, memory, kernel-image checks) and
// cudaSelfTest(ordinal) (launches the probe kernel; the loader runs it in a
// child process so that a broken driver cannot take the caller down).
#include "addon.h"
#include "args.h"
#include "errors.h"
#include "gpu.h"

namespace razer::binding {

Napi::Value RazerAddon::CudaProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    Napi::Object out = Napi::Object::New(env);
    out.Set("compiled", Napi::Boolean::New(env, gpu::kCompiled));
    Napi::Array targets = Napi::Array::New(env);
    uint32_t t = 0;
    for (const std::string& s : gpu::CompiledTargets()) targets.Set(t++, s);
    out.Set("targets", targets);
    gpu::ProbeResult r = gpu::Probe();
    out.Set("driverVersion", Napi::Number::New(env, r.driver_version));
    out.Set("runtimeVersion", Napi::Number::New(env, r.runtime_version));
    out.Set("deviceCount", Napi::Number::New(env, r.device_count));
    out.Set("error", r.error.empty() ? env.Null() : Napi::String::New(env, r.error));
    out.Set("errorMessage", r.error_message.empty() ? env.Null() : Napi::String::New(env, r.error_message));
    Napi::Array devices = Napi::Array::New(env, r.devices.size());
    for (uint32_t i = 0; i < r.devices.size(); i++) {
      const auto& d = r.devices[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("ordinal", Napi::Number::New(env, d.ordinal));
      o.Set("name", d.name);
      Napi::Array cc = Napi::Array::New(env, 2);
      cc.Set(0u, Napi::Number::New(env, d.major));
      cc.Set(1u, Napi::Number::New(env, d.minor));
      o.Set("computeCapability", cc);
      o.Set("imageExpected", Napi::Boolean::New(env, d.image_expected));
      devices.Set(i, o);
    }
    out.Set("devices", devices);
    return out;
  });
}

Napi::Value RazerAddon::Devices(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    std::vector<gpu::DeviceInfo> list = gpu::Devices();
    Napi::Array out = Napi::Array::New(env, list.size());
    for (uint32_t i = 0; i < list.size(); i++) {
      const gpu::DeviceInfo& d = list[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("ordinal", Napi::Number::New(env, d.ordinal));
      o.Set("name", d.name);
      Napi::Array cc = Napi::Array::New(env, 2);
      cc.Set(0u, Napi::Number::New(env, d.major));
      cc.Set(1u, Napi::Number::New(env, d.minor));
      o.Set("computeCapability", cc);
      o.Set("totalMemory", Napi::Number::New(env, static_cast<double>(d.total_memory)));
      o.Set("freeMemory", Napi::Number::New(env, static_cast<double>(d.free_memory)));
      o.Set("backend", "cuda");
      o.Set("kernels", Napi::Boolean::New(env, d.kernels));
      if (!d.kernels) o.Set("kernelError", d.kernel_error);
      out.Set(i, o);
    }
    return out;
  });
}

Napi::Value RazerAddon::CudaSelfTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    int device = static_cast<int>(
        ParseInt(info.Length() > 0 ? info[0] : env.Undefined(), "device", 0, 1 << 16, 0));
    gpu::SelfTest(device);
    return Napi::Boolean::New(env, true);
  });
}

}  // namespace razer::binding
