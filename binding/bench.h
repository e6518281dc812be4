// benchW4A16(options): the W4A16 GPU benchmark behind `razer bench`
// (bench_gpu.h says what it measures). Synchronous on purpose: it is a
// benchmark that owns the GPU while it runs, and it reports each row as it is
// measured through options.onRow. Without CUDA it throws ERR_NO_GPU.
#pragma once
#include <napi.h>

namespace razer::binding {

// Registered in addon.cc as a plain function value (it needs no instance state).
Napi::Value BenchW4A16(const Napi::CallbackInfo& info);

}  // namespace razer::binding
