#include "errors.h"

#include "addon.h"

namespace razer::binding {

Napi::Value MakeJsError(Napi::Env env, const std::string& code, const std::string& message) {
  RazerAddon* addon = env.GetInstanceData<RazerAddon>();
  if (addon != nullptr && !addon->error_factory().IsEmpty()) {
    // A factory that throws or returns a non-object must not hide the real
    // error: fall through to the plain one below.
    try {
      Napi::Value made = addon->error_factory().Call(
          {Napi::String::New(env, code), Napi::String::New(env, message)});
      if (made.IsObject()) return made;
    } catch (const Napi::Error&) {
    }
  }
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.Set("name", Napi::String::New(env, "RazerError"));
  return error.Value();
}

}  // namespace razer::binding
