// Errors: one failure type for C++ code, turned into one JS error class with a
// stable `.code` (lib/errors.ts's RazerError, once the loader registers it).
#pragma once
#include <napi.h>

#include <exception>
#include <string>
#include <utility>

namespace razer::binding {

// A failure with a stable code (ERR_SHAPE, ERR_CUDA, ...). Thrown by argument
// parsing on the JS thread and by jobs off it; carries no JS values, so it may
// cross threads.
class Failure : public std::exception {
 public:
  Failure(std::string code, std::string message) : code_(std::move(code)), message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }
  const std::string& code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  std::string code_;
  std::string message_;
};

[[noreturn]] inline void Fail(const char* code, std::string message) { throw Failure(code, std::move(message)); }

// The JS error for a code and message: made by the registered factory
// (setErrorFactory) when there is one, else an Error with .code and
// name 'RazerError'.
Napi::Value MakeJsError(Napi::Env env, const std::string& code, const std::string& message);

// Runs `body` and turns a Failure (or a stray std::exception) into a thrown JS error.
template <typename Body>
Napi::Value Guard(Napi::Env env, Body&& body) {
  try {
    return body();
  } catch (const Failure& f) {
    throw Napi::Error(env, MakeJsError(env, f.code(), f.message()));
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw Napi::Error(env, MakeJsError(env, "ERR_OOM", "out of host memory"));
  } catch (const std::exception& e) {
    throw Napi::Error(env, MakeJsError(env, "ERR_NATIVE", e.what()));
  }
}

// Guard for the entry points that return a Promise: an error found before
// the work is queued (bad argument, disposed object) rejects the Promise
// instead of throwing, so `.then`/`await` callers see every failure the same way.
template <typename Body>
Napi::Value GuardAsync(Napi::Env env, Body&& body) {
  try {
    return Guard(env, std::forward<Body>(body));
  } catch (const Napi::Error& e) {
    Napi::Promise::Deferred d = Napi::Promise::Deferred::New(env);
    d.Reject(e.Value());
    return d.Promise();
  }
}

}  // namespace razer::binding
