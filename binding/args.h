// Argument parsing: JS values in, plain C++ values out, checked before any
// work is queued. Every failure is a Failure whose message names the argument
// with the expected and the actual value (lib/errors.ts's conventions).
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

#include "cpu/cpu_backend.h"

namespace razer::binding {

// "Float32Array(12)", "\"nvfp4\"", "undefined", ... for messages.
std::string Describe(const Napi::Value& value);

// A positive safe integer.
int64_t ParseDim(const Napi::Value& value, const std::string& argument);
// An integer in [min, max]; `fallback` when undefined.
int64_t ParseInt(const Napi::Value& value, const std::string& argument, int64_t min, int64_t max, int64_t fallback);

// One of the formats the native backend implements.
Format ParseFormat(const Napi::Value& value, const std::string& argument);
// Activation formats of W4A4: nvfp4 or nvfp4_razer_a.
Format ParseActivationFormat(const Napi::Value& value, const std::string& argument);
const char* FormatName(Format format);

// 'f32' | 'f16' | 'bf16'.
DType ParseDType(const Napi::Value& value, const std::string& argument);
const char* DTypeName(DType dtype);
size_t DTypeSize(DType dtype);

// A special value as lib/formats.ts checkSpecialValue accepts it (and exactly
// representable in binary32); `fallback` when undefined.
float ParseSpecialValue(const Napi::Value& value, const std::string& argument, float fallback);
// The special values a format takes from `object` (svSmall/svBig for
// nvfp4_razer, checked svSmall < svBig; svAct for nvfp4_razer_a), named
// `<prefix>.svSmall` etc. in errors; defaults 5, 8 and 5.
FormatParams ParseFormatParams(Format format, const Napi::Object& object, const std::string& prefix);
// A positive finite binary32 value (a static global scale).
float ParseStaticScale(const Napi::Value& value, const std::string& argument);

// A typed array of the given kind, with its data pointer and length.
struct ArrayArg {
  Napi::Object object;  // to pin until the work completes
  void* data = nullptr;
  size_t length = 0;    // elements
};
ArrayArg ParseTypedArray(const Napi::Value& value, napi_typedarray_type type, const std::string& argument,
                         const char* expected);

// Tensor input: a Float32Array ('f32'), or a Uint16Array with dtype 'f16' or 'bf16'.
struct TensorArg {
  ArrayArg array;
  DType dtype;
};
TensorArg ParseTensor(const Napi::Value& data, const Napi::Value& dtype, const std::string& argument,
                      const std::string& dtype_argument);

// An options object, or undefined/null (an empty one).
Napi::Object ParseOptions(const Napi::Env& env, const Napi::Value& value, const std::string& argument);

// JS's spelling of the non-finite value data[index] ("NaN", "Infinity", "-Infinity").
std::string NonFiniteString(const void* data, DType dtype, int64_t index);
// ERR_NON_FINITE as the reference words it: "<name>: element i (row r, col c)
// is <value>; quantized tensors must be finite".
[[noreturn]] void FailNonFinite(const std::string& name, const std::string& value, int64_t index, int64_t cols);

// K % 16 == 0 for the block formats.
void CheckBlocks(int64_t cols, Format format, const std::string& argument);

}  // namespace razer::binding
