// Lifetimes you can see (node-llama-cpp, rapidsai/node): the base of every
// native object that owns memory. The memory lives in a shared Resource, so
// that work in flight keeps it alive after dispose(); the object
//   * frees it now on dispose() / [Symbol.dispose](), idempotently,
//   * frees it in its finalizer if the user forgot,
//   * frees it in the environment's cleanup hook (worker or process exit),
//   * tells V8 about it with AdjustExternalMemory, up on creation and down
//     on release, so that GC pressure reflects native memory too,
//   * is type-tagged, so a foreign object can never be unwrapped as one.
#pragma once
#include <napi.h>

#include <memory>
#include <string>

#include "addon.h"
#include "errors.h"

namespace razer::binding {

template <typename T, typename Resource>
class Disposable : public Napi::ObjectWrap<T>, public Tracked {
 public:
  explicit Disposable(const Napi::CallbackInfo& info) : Napi::ObjectWrap<T>(info), env_(info.Env()) {}

  ~Disposable() override {
    if (registry_ && !registry_->tearing_down) {
      registry_->live.erase(this);
      Release(true);
    } else {
      Release(false);
    }
  }

  void ReleaseForTeardown() override { Release(false); }

  // The resource, or ERR_DISPOSED naming what was attempted.
  std::shared_ptr<Resource> Use(const std::string& what) const {
    if (!resource_) Fail("ERR_DISPOSED", what + ": the " + T::kClassName + " was disposed");
    return resource_;
  }

  // Is `value` one of ours (and not a look-alike object)?
  static bool Is(const Napi::Value& value) {
    return value.IsObject() && value.As<Napi::Object>().CheckTypeTag(&T::kTypeTag);
  }
  static T* From(const Napi::Value& value) { return Napi::ObjectWrap<T>::Unwrap(value.As<Napi::Object>()); }

 protected:
  // Called once from the subclass's constructor with the resource it owns.
  void Attach(Napi::Env env, std::shared_ptr<Resource> resource, int64_t bytes) {
    this->Value().TypeTag(&T::kTypeTag);
    resource_ = std::move(resource);
    external_bytes_ = bytes;
    Napi::MemoryManagement::AdjustExternalMemory(env, bytes);
    registry_ = env.GetInstanceData<RazerAddon>()->registry();
    registry_->live.insert(this);
    registry_->bytes += bytes;
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    Release(true);
    return info.Env().Undefined();
  }
  Napi::Value Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !resource_); }

  // dispose() and [Symbol.dispose]() (Node >= 20 defines Symbol.dispose).
  template <typename Props>
  static void AddDisposeMethods(Napi::Env env, Props& props) {
    props.push_back(Napi::ObjectWrap<T>::InstanceMethod("dispose", &Disposable::Dispose));
    props.push_back(Napi::ObjectWrap<T>::InstanceAccessor("disposed", &Disposable::Disposed, nullptr));
    Napi::Value symbol_dispose = env.Global().Get("Symbol").As<Napi::Object>().Get("dispose");
    if (symbol_dispose.IsSymbol()) {
      props.push_back(
          Napi::ObjectWrap<T>::InstanceMethod(symbol_dispose.As<Napi::Symbol>(), &Disposable::Dispose));
    }
  }

 private:
  void Release(bool adjust) {
    resource_.reset();
    if (external_bytes_ != 0) {
      if (registry_) registry_->bytes -= external_bytes_;
      // The C call, not node-addon-api's (which throws on failure): this also
      // runs in finalizers, where an exception would terminate the process.
      int64_t total = 0;
      if (adjust) napi_adjust_external_memory(env_, -external_bytes_, &total);
    }
    external_bytes_ = 0;
  }

  napi_env env_;
  std::shared_ptr<Resource> resource_;
  int64_t external_bytes_ = 0;
  std::shared_ptr<Registry> registry_;
};

}  // namespace razer::binding
