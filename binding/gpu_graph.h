// GemmGraph: one GPU W4A16 GEMM launch captured into a CUDA graph
// (cudaGraphExec) with its own split-K workspace, replayed on the device's
// stream: for repeated small calls, where launch overhead dominates. The
// graph keeps the memory of every tensor it reads or writes (x, the weight,
// the bias, out) alive until it is disposed, even if those objects are
// disposed first. Disposable like DeviceTensor (disposable.h); without CUDA
// capture() throws ERR_NO_GPU.
#pragma once
#include <napi.h>

#include <memory>
#include <string>

#include "disposable.h"

namespace razer::binding {

struct GemmGraphState;  // gpu_graph.cc (CUDA objects)

class GemmGraph : public Disposable<GemmGraph, GemmGraphState> {
 public:
  static constexpr const char* kClassName = "GemmGraph";
  static const napi_type_tag kTypeTag;

  static Napi::Function Define(Napi::Env env);
  explicit GemmGraph(const Napi::CallbackInfo& info);

 private:
  // GemmGraph.capture(x, w, out, {bias}): synchronous (capture queues nothing).
  static Napi::Value Capture(const Napi::CallbackInfo& info);
  // graph.replay() → Promise<undefined>, settled when the launch is done; replaySync().
  Napi::Value Replay(const Napi::CallbackInfo& info);
  Napi::Value ReplaySync(const Napi::CallbackInfo& info);

  Napi::Value GetKernel(const Napi::CallbackInfo& info);
  Napi::Value GetSplits(const Napi::CallbackInfo& info);
  Napi::Value GetByteLength(const Napi::CallbackInfo& info);

  std::string kernel_;  // the dispatcher's kernel, e.g. "gemv_m8_r1w8"
  int splits_ = 1;
  size_t bytes_ = 0;    // the graph's own device memory (workspace, bias copy)
};

}  // namespace razer::binding
