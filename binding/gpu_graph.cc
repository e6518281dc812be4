#include "gpu_graph.h"

#include "addon.h"
#include "args.h"
#include "errors.h"
#include "gpu.h"
#include "jobs.h"
#include "no_gpu.h"

#if defined(RAZER_WITH_CUDA)
#include "gpu_context.h"
#include "gpu_gemm_call.h"
#include "kernels/gemm.cuh"
#endif

namespace razer::binding {

// Random, fixed: identifies GemmGraph objects (napi_type_tag_object).
const napi_type_tag GemmGraph::kTypeTag = {0x2e8b61f04cd7a935ULL, 0x9f14c3a7b05ed268ULL};

#if defined(RAZER_WITH_CUDA)

struct GemmGraphState {
  int device = 0;
  cudaGraphExec_t exec = nullptr;
  GemmCall call;                                // x, the weight, bias, out (and a host bias's pinned copy)
  std::shared_ptr<gpu::DeviceBuffer> workspace;  // the graph's own split-K workspace
  std::shared_ptr<gpu::DeviceBuffer> bias_copy;  // a Float32Array bias, uploaded once

  GemmGraphState() = default;
  GemmGraphState(const GemmGraphState&) = delete;
  GemmGraphState& operator=(const GemmGraphState&) = delete;
  // No replay is in flight: each holds the state until its launch is done.
  ~GemmGraphState() {
    if (exec != nullptr) {
      if (cudaSetDevice(device) == cudaSuccess) cudaGraphExecDestroy(exec);
      cudaGetLastError();
    }
  }
};

#else

struct GemmGraphState {};

#endif

namespace {

struct ConstructToken {
  std::shared_ptr<GemmGraphState> state;
  std::string kernel;
  int splits;
  size_t bytes;
};

#if defined(RAZER_WITH_CUDA)

Napi::Value Arg(const Napi::CallbackInfo& info, size_t i) { return i < info.Length() ? info[i] : info.Env().Undefined(); }

// Captures one gemm_w4a16 launch on a private stream (nothing else can be
// queued on it meanwhile; relaxed mode, so that the dispatcher's one-time
// cudaFuncSetAttribute / occupancy queries may run during the capture) and
// instantiates it.
cudaGraphExec_t CaptureLaunch(const GemmCall& c, const razer::gpu::PackedWeights& w, const float* bias, void* ws,
                              size_t ws_bytes) {
  cudaStream_t capture = nullptr;
  gpu::Check(cudaStreamCreateWithFlags(&capture, cudaStreamNonBlocking), "cudaStreamCreateWithFlags", c.device);
  cudaError_t launch = cudaSuccess;
  cudaGraph_t graph = nullptr;
  cudaError_t err = cudaStreamBeginCapture(capture, cudaStreamCaptureModeRelaxed);
  if (err == cudaSuccess) {
    launch = razer::gpu::gemm_w4a16(c.x->data(), c.x_dtype, c.M, w, bias, c.out->data(), c.out_dtype, ws, ws_bytes,
                                    capture);
    err = cudaStreamEndCapture(capture, &graph);
  }
  cudaStreamDestroy(capture);
  if (launch != cudaSuccess || err != cudaSuccess) {
    if (graph != nullptr) cudaGraphDestroy(graph);
    if (launch != cudaSuccess) gpu::ThrowCuda("gemm_w4a16 (graph capture)", launch, c.device);
    gpu::ThrowCuda("cudaStreamBeginCapture / cudaStreamEndCapture", err, c.device);
  }
  cudaGraphExec_t exec = nullptr;
  err = cudaGraphInstantiateWithFlags(&exec, graph, 0);
  cudaGraphDestroy(graph);
  gpu::Check(err, "cudaGraphInstantiate", c.device);
  return exec;
}

class ReplayJob : public gpu::StreamJob {
 public:
  explicit ReplayJob(std::shared_ptr<GemmGraphState> state) : state_(std::move(state)) {
    Enqueue(state_->device, "graph", [&](gpu::DeviceContext& ctx) {
      gpu::Check(cudaGraphLaunch(state_->exec, ctx.stream), "cudaGraphLaunch", state_->device);
    });
  }
  ~ReplayJob() override { Drain(); }

  void Run() override { WaitForStream("GemmGraph.replay"); }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

 private:
  std::shared_ptr<GemmGraphState> state_;  // the graph and its memory, until the launch is done
};

#endif  // RAZER_WITH_CUDA

}  // namespace

Napi::Function GemmGraph::Define(Napi::Env env) {
  std::vector<Napi::ClassPropertyDescriptor<GemmGraph>> props = {
      StaticMethod("capture", &GemmGraph::Capture),
      InstanceMethod("replay", &GemmGraph::Replay),
      InstanceMethod("replaySync", &GemmGraph::ReplaySync),
      InstanceAccessor("kernel", &GemmGraph::GetKernel, nullptr),
      InstanceAccessor("splits", &GemmGraph::GetSplits, nullptr),
      InstanceAccessor("byteLength", &GemmGraph::GetByteLength, nullptr),
  };
  AddDisposeMethods(env, props);
  return ObjectWrap<GemmGraph>::DefineClass(env, kClassName, props);
}

GemmGraph::GemmGraph(const Napi::CallbackInfo& info) : Disposable(info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw Napi::Error(env, MakeJsError(env, "ERR_ARGUMENT", "GemmGraph: use GemmGraph.capture(), not new"));
  }
  auto* token = info[0].As<Napi::External<ConstructToken>>().Data();
  kernel_ = token->kernel;
  splits_ = token->splits;
  bytes_ = token->bytes;
  Attach(env, std::move(token->state), static_cast<int64_t>(bytes_));
}

Napi::Value GemmGraph::GetKernel(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), kernel_); }
Napi::Value GemmGraph::GetSplits(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), splits_); }
Napi::Value GemmGraph::GetByteLength(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(bytes_));
}

#if defined(RAZER_WITH_CUDA)

Napi::Value GemmGraph::Capture(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    Napi::Object options = ParseOptions(env, Arg(info, 3), "options");
    GemmCall call = ParseGemmCall(Arg(info, 0), Arg(info, 1), Arg(info, 2), "out", options, false, "GemmGraph.capture");
    auto state = std::make_shared<GemmGraphState>();
    state->device = call.device;
    const razer::gpu::PackedWeights w = Packed(*call.w);
    razer::gpu::GemmPlan plan;
    size_t bytes = 0;
    {
      gpu::ContextLock lock(call.device, "x");
      cudaStream_t stream = lock.context().stream;
      plan = razer::gpu::gemm_plan(call.M, w);
      if (plan.kernel < 0) gpu::ThrowCuda("gemm_plan", cudaErrorNoKernelImageForDevice, call.device);
      // The graph's own workspace (a replay may run while a plain call uses
      // the stream's), zero-filled on the stream before any replay.
      const size_t ws_bytes = razer::gpu::gemm_workspace_bytes(call.M, w);
      if (ws_bytes > 0) {
        state->workspace = gpu::DeviceBuffer::Allocate(call.device, ws_bytes, "GemmGraph.capture (workspace)");
        bytes += ws_bytes;
      }
      const float* bias = call.bias ? static_cast<const float*>(call.bias->data()) : nullptr;
      if (call.host_bias) {
        const size_t bias_bytes = static_cast<size_t>(call.N) * sizeof(float);
        state->bias_copy = gpu::DeviceBuffer::Allocate(call.device, bias_bytes, "GemmGraph.capture (bias)");
        bytes += bias_bytes;
        gpu::Check(cudaMemcpyAsync(state->bias_copy->data(), call.host_bias->data(), bias_bytes,
                                   cudaMemcpyHostToDevice, stream),
                   "cudaMemcpyAsync (bias)", call.device);
        bias = static_cast<const float*>(state->bias_copy->data());
      }
      state->exec = CaptureLaunch(call, w, bias, state->workspace ? state->workspace->data() : nullptr, ws_bytes);
    }
    state->call = std::move(call);  // keeps the pinned bias until the graph goes (its copy is queued)
    ConstructToken token{std::move(state), razer::gpu::gemm_kernel_name(plan.kernel), plan.splits, bytes};
    return env.GetInstanceData<RazerAddon>()->gemm_graph_ctor().New({Napi::External<ConstructToken>::New(env, &token)});
  });
}

Napi::Value GemmGraph::Replay(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return GuardAsync(env, [&] {
    return RunAsync(env, std::make_unique<ReplayJob>(Use("replay()")), "razer.GemmGraph.replay");
  });
}

Napi::Value GemmGraph::ReplaySync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] { return RunSync(env, std::make_unique<ReplayJob>(Use("replaySync()"))); });
}

#else  // !RAZER_WITH_CUDA: no graph can exist

Napi::Value GemmGraph::Capture(const Napi::CallbackInfo& info) { return NoGpuEntry(info, "GemmGraph.capture"); }
Napi::Value GemmGraph::Replay(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    Use("replay()");
    return info.Env().Undefined();
  });
}
Napi::Value GemmGraph::ReplaySync(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    Use("replaySync()");
    return info.Env().Undefined();
  });
}

#endif  // RAZER_WITH_CUDA

}  // namespace razer::binding
