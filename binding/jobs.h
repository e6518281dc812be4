// Jobs: the unit of native work. A call parses its arguments into a Job (plain
// C++ values and raw pointers), then either runs it here (the Sync variants,
// for benchmarks) or hands it to a worker whose Execute() touches no JS and
// settles a Promise when done (sharp's pipeline; onnxruntime-node's lesson).
#pragma once
#include <napi.h>

#include <memory>
#include <vector>

namespace razer::binding {

class Job {
 public:
  virtual ~Job() = default;
  // Off the JS thread (or on it, for Sync): no JS here. Throws Failure.
  virtual void Run() = 0;
  // On the JS thread, after Run succeeded: the value the call returns.
  virtual Napi::Value Result(Napi::Env env) = 0;

  // Keeps a JS object (an input or output buffer) alive until the job is
  // destroyed, which happens on the JS thread after the Promise settles.
  void Pin(const Napi::Object& object) { pins_.push_back(Napi::Persistent(object)); }

 private:
  std::vector<Napi::ObjectReference> pins_;
};

// Queues the job on the libuv pool; returns its Promise.
Napi::Value RunAsync(Napi::Env env, std::unique_ptr<Job> job, const char* name);
// Runs the job now, on this thread; returns its result or throws.
Napi::Value RunSync(Napi::Env env, std::unique_ptr<Job> job);

}  // namespace razer::binding
