#include "jobs.h"

#include <string>

#include "errors.h"

namespace razer::binding {

namespace {

class JobWorker : public Napi::AsyncWorker {
 public:
  JobWorker(Napi::Env env, std::unique_ptr<Job> job, const char* name)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)), job_(std::move(job)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      job_->Run();
      return;
    } catch (const Failure& f) {
      code_ = f.code();
      message_ = f.message();
    } catch (const std::bad_alloc&) {
      code_ = "ERR_OOM";
      message_ = "out of host memory";
    } catch (const std::exception& e) {
      code_ = "ERR_NATIVE";
      message_ = e.what();
    } catch (...) {
      code_ = "ERR_NATIVE";
      message_ = "unknown native exception";
    }
    failed_ = true;
  }

  // Replaces AsyncWorker's version, which lets an exception from its
  // HandleScope escape into C (std::terminate) when the environment is being
  // torn down (a worker terminated while this job ran). Here nothing escapes:
  // with no JS left to run, there is no Promise to settle either.
  void OnWorkComplete(Napi::Env env, napi_status status) override {
    if (status != napi_cancelled) {
      try {
        Napi::HandleScope scope(env);
        Settle(env);
      } catch (...) {
      }
    }
    Destroy();  // deletes this, and with it the job and its pins, on the JS thread
  }

 private:
  void Settle(Napi::Env env) {
    if (failed_) {
      deferred_.Reject(MakeJsError(env, code_, message_));
      return;
    }
    try {
      deferred_.Resolve(job_->Result(env));
    } catch (const Failure& f) {
      deferred_.Reject(MakeJsError(env, f.code(), f.message()));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }

  // Unused: OnWorkComplete above settles the Promise.
  void OnOK() override {}
  void OnError(const Napi::Error&) override {}

  Napi::Promise::Deferred deferred_;
  std::unique_ptr<Job> job_;  // destroyed with the worker, on the JS thread
  bool failed_ = false;
  std::string code_;
  std::string message_;
};

}  // namespace

Napi::Value RunAsync(Napi::Env env, std::unique_ptr<Job> job, const char* name) {
  auto* worker = new JobWorker(env, std::move(job), name);  // deletes itself when done
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value RunSync(Napi::Env env, std::unique_ptr<Job> job) {
  job->Run();  // a Failure propagates to the caller's Guard
  return job->Result(env);
}

}  // namespace razer::binding
