// Quantized weights as the CPU backend reads them: either a plain JS object
// {format, rows, cols, codes, scales, globalScale, svSmall, svBig, svAct}
// whose buffers are pinned for the duration of a call, or a NativeWeight that
// owns copies of them in native memory (no pinning, no re-checking per call).
#pragma once
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "cpu/cpu_backend.h"
#include "disposable.h"

namespace razer::binding {

// Native copies of a weight's codes and scales, and a view onto them.
struct WeightStorage {
  std::vector<uint8_t> codes;
  std::vector<uint8_t> scales;
  QuantizedView view;
};

// A parsed weight argument: the view, plus what keeps its memory alive.
struct WeightArg {
  QuantizedView view;
  std::shared_ptr<WeightStorage> storage;  // set for a NativeWeight
  std::vector<Napi::Object> pins;          // set for a plain object: its buffers
};

WeightArg ParseWeight(const Napi::Value& value, const std::string& argument);

class NativeWeight : public Disposable<NativeWeight, WeightStorage> {
 public:
  static constexpr const char* kClassName = "NativeWeight";
  static const napi_type_tag kTypeTag;

  static Napi::Function Define(Napi::Env env);
  explicit NativeWeight(const Napi::CallbackInfo& info);

 private:
  // NativeWeight.fromQuantized(weight): copies the buffers (synchronous; a
  // memcpy of 9/16 of a byte per element).
  static Napi::Value FromQuantized(const Napi::CallbackInfo& info);
  Napi::Value GetFormat(const Napi::CallbackInfo& info);
  Napi::Value GetRows(const Napi::CallbackInfo& info);
  Napi::Value GetCols(const Napi::CallbackInfo& info);
  Napi::Value GetGlobalScale(const Napi::CallbackInfo& info);
  Napi::Value GetByteLength(const Napi::CallbackInfo& info);

  QuantizedView view_{};  // metadata, still readable after dispose
  int64_t bytes_ = 0;
};

}  // namespace razer::binding
