// The body of every GPU entry point in an addon built without CUDA: the call
// fails with ERR_NO_GPU ("built without CUDA"), like a call on a machine
// with no device.
#pragma once
#include <napi.h>

#include "errors.h"
#include "gpu.h"

namespace razer::binding {

inline Napi::Value NoGpuEntry(const Napi::CallbackInfo& info, const char* what) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    gpu::CheckDevice(0, what);  // throws ERR_NO_GPU: built without CUDA
    return info.Env().Undefined();
  });
}

}  // namespace razer::binding
