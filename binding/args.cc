#include "args.h"

#include <cmath>

#include "errors.h"

namespace razer::binding {

namespace {

constexpr double kMaxSafeInteger = 9007199254740991.0;

const char* TypedArrayName(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "TypedArray";
  }
}

}  // namespace

std::string Describe(const Napi::Value& value) {
  if (value.IsUndefined()) return "undefined";
  if (value.IsNull()) return "null";
  if (value.IsString()) return "\"" + value.As<Napi::String>().Utf8Value() + "\"";
  // JS's own spelling (shortest round trip: 0.1, 1e-7), as lib/errors.ts describe() gives.
  if (value.IsNumber()) return value.ToString().Utf8Value();
  if (value.IsBoolean()) return value.As<Napi::Boolean>().Value() ? "true" : "false";
  if (value.IsTypedArray()) {
    Napi::TypedArray a = value.As<Napi::TypedArray>();
    return std::string(TypedArrayName(a.TypedArrayType())) + "(" + std::to_string(a.ElementLength()) + ")";
  }
  if (value.IsArray()) {
    Napi::Array a = value.As<Napi::Array>();
    std::string out = "[";
    for (uint32_t i = 0; i < a.Length() && i < 8; i++) {
      if (i > 0) out += ", ";
      out += Describe(a.Get(i));
    }
    if (a.Length() > 8) out += ", ...";
    return out + "]";
  }
  if (value.IsFunction()) return "function";
  if (value.IsObject()) {
    Napi::Value ctor = value.As<Napi::Object>().Get("constructor");
    if (ctor.IsFunction()) {
      Napi::Value name = ctor.As<Napi::Object>().Get("name");
      if (name.IsString()) return name.As<Napi::String>().Utf8Value();
    }
    return "object";
  }
  return "a " + std::string(value.IsSymbol() ? "symbol" : "bigint");
}

int64_t ParseDim(const Napi::Value& value, const std::string& argument) {
  double v = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : NAN;
  if (!(v >= 1 && v <= kMaxSafeInteger && std::floor(v) == v)) {
    Fail("ERR_SHAPE", argument + ": expected a positive integer, got " + Describe(value));
  }
  return static_cast<int64_t>(v);
}

int64_t ParseInt(const Napi::Value& value, const std::string& argument, int64_t min, int64_t max, int64_t fallback) {
  if (value.IsUndefined()) return fallback;
  double v = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : NAN;
  if (!(v >= static_cast<double>(min) && v <= static_cast<double>(max) && std::floor(v) == v)) {
    Fail("ERR_ARGUMENT", argument + ": expected an integer from " + std::to_string(min) + " to " +
                             std::to_string(max) + ", got " + Describe(value));
  }
  return static_cast<int64_t>(v);
}

const char* FormatName(Format format) {
  switch (format) {
    case Format::nvfp4: return "nvfp4";
    case Format::nvfp4_4over6: return "nvfp4_4over6";
    case Format::nvfp4_razer: return "nvfp4_razer";
    case Format::nvfp4_razer_a: return "nvfp4_razer_a";
  }
  return "?";
}

Format ParseFormat(const Napi::Value& value, const std::string& argument) {
  const std::string name = value.IsString() ? value.As<Napi::String>().Utf8Value() : "";
  if (name == "nvfp4") return Format::nvfp4;
  if (name == "nvfp4_4over6") return Format::nvfp4_4over6;
  if (name == "nvfp4_razer") return Format::nvfp4_razer;
  if (name == "nvfp4_razer_a") return Format::nvfp4_razer_a;
  if (name == "mxfp4" || name == "nf4") {
    Fail("ERR_FORMAT", argument + ": " + name +
                           " has no native implementation (the reference quantizer has it); expected one of "
                           "nvfp4, nvfp4_4over6, nvfp4_razer, nvfp4_razer_a");
  }
  Fail("ERR_FORMAT",
       argument + ": expected one of nvfp4, nvfp4_4over6, nvfp4_razer, nvfp4_razer_a, got " + Describe(value));
}

Format ParseActivationFormat(const Napi::Value& value, const std::string& argument) {
  if (value.IsUndefined()) return Format::nvfp4;
  const std::string name = value.IsString() ? value.As<Napi::String>().Utf8Value() : "";
  if (name == "nvfp4") return Format::nvfp4;
  if (name == "nvfp4_razer_a") return Format::nvfp4_razer_a;
  Fail("ERR_FORMAT", argument + ": expected 'nvfp4' or 'nvfp4_razer_a', got " + Describe(value));
}

DType ParseDType(const Napi::Value& value, const std::string& argument) {
  const std::string name = value.IsString() ? value.As<Napi::String>().Utf8Value() : "";
  if (name == "f32") return DType::f32;
  if (name == "f16") return DType::f16;
  if (name == "bf16") return DType::bf16;
  Fail("ERR_DTYPE", argument + ": expected 'f32', 'f16' or 'bf16', got " + Describe(value));
}

const char* DTypeName(DType dtype) {
  switch (dtype) {
    case DType::f32: return "f32";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
  }
  return "?";
}

size_t DTypeSize(DType dtype) { return dtype == DType::f32 ? 4 : 2; }

FormatParams ParseFormatParams(Format format, const Napi::Object& object, const std::string& prefix) {
  FormatParams params;
  if (format == Format::nvfp4_razer) {
    params.sv_small = ParseSpecialValue(object.Get("svSmall"), prefix + ".svSmall", 5.0f);
    params.sv_big = ParseSpecialValue(object.Get("svBig"), prefix + ".svBig", 8.0f);
    if (!(params.sv_small < params.sv_big)) {
      Fail("ERR_ARGUMENT", prefix + ".svSmall: expected less than " + prefix + ".svBig (" +
                               Describe(object.Get("svBig")) + "), got " + Describe(object.Get("svSmall")));
    }
  } else if (format == Format::nvfp4_razer_a) {
    params.sv_act = ParseSpecialValue(object.Get("svAct"), prefix + ".svAct", 5.0f);
  }
  return params;
}

float ParseSpecialValue(const Napi::Value& value, const std::string& argument, float fallback) {
  if (value.IsUndefined()) return fallback;
  // As lib/formats.ts checkSpecialValue: positive, at most 64, not an E2M1
  // magnitude, at most 3 significant bits (so SV x scale is exact in fp16/bf16).
  double v = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : NAN;
  bool ok = std::isfinite(v) && v > 0 && v <= 64 && static_cast<double>(static_cast<float>(v)) == v;
  if (ok) {
    static const double kE2M1[] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
    for (double m : kE2M1) ok = ok && v != m;
    int exponent = 0;
    double mantissa = std::frexp(v, &exponent);  // v = mantissa * 2^exponent, mantissa in [0.5, 1)
    // Significant bits: scale the mantissa up until it is an integer.
    int bits = 0;
    while (mantissa != std::floor(mantissa) && bits < 64) {
      mantissa *= 2;
      bits++;
    }
    ok = ok && bits <= 3;
  }
  if (!ok) {
    Fail("ERR_ARGUMENT", argument +
                             ": expected a positive number up to 64 with at most 3 significant bits that is not an "
                             "E2M1 magnitude (e.g. 5, 7, 8, 10, 12), got " +
                             Describe(value));
  }
  return static_cast<float>(v);
}

float ParseStaticScale(const Napi::Value& value, const std::string& argument) {
  double v = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : NAN;
  if (!(std::isfinite(v) && v > 0 && static_cast<double>(static_cast<float>(v)) == v)) {
    Fail("ERR_ARGUMENT", argument + ": expected a positive finite binary32 value, got " + Describe(value));
  }
  return static_cast<float>(v);
}

ArrayArg ParseTypedArray(const Napi::Value& value, napi_typedarray_type type, const std::string& argument,
                         const char* expected) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != type) {
    Fail("ERR_DTYPE", argument + ": expected " + expected + ", got " + Describe(value));
  }
  // napi_get_typedarray_info's pointer already includes the byte offset, and
  // works for SharedArrayBuffer-backed arrays too (ArrayBuffer::Data would not).
  napi_typedarray_type actual;
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer;
  size_t offset = 0;
  napi_status status = napi_get_typedarray_info(value.Env(), value, &actual, &length, &data, &buffer, &offset);
  if (status != napi_ok) throw Napi::Error::New(value.Env());
  ArrayArg out;
  out.object = value.As<Napi::Object>();
  out.length = length;
  out.data = data;
  if (length > 0 && data == nullptr) Fail("ERR_ARGUMENT", argument + ": its ArrayBuffer is detached");
  return out;
}

TensorArg ParseTensor(const Napi::Value& data, const Napi::Value& dtype, const std::string& argument,
                      const std::string& dtype_argument) {
  if (data.IsTypedArray() && data.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array) {
    if (!dtype.IsUndefined() && !(dtype.IsString() && dtype.As<Napi::String>().Utf8Value() == "f32")) {
      Fail("ERR_DTYPE", dtype_argument + ": a Float32Array is 'f32', got " + Describe(dtype));
    }
    return {ParseTypedArray(data, napi_float32_array, argument, "a Float32Array"), DType::f32};
  }
  if (data.IsTypedArray() && data.As<Napi::TypedArray>().TypedArrayType() == napi_uint16_array) {
    const std::string name = dtype.IsString() ? dtype.As<Napi::String>().Utf8Value() : "";
    if (name != "f16" && name != "bf16") {
      Fail("ERR_DTYPE", dtype_argument + ": a Uint16Array needs dtype 'f16' or 'bf16', got " + Describe(dtype));
    }
    return {ParseTypedArray(data, napi_uint16_array, argument, "a Uint16Array"),
            name == "f16" ? DType::f16 : DType::bf16};
  }
  Fail("ERR_DTYPE",
       argument + ": expected a Float32Array, or a Uint16Array of fp16/bf16 bits, got " + Describe(data));
}

Napi::Object ParseOptions(const Napi::Env& env, const Napi::Value& value, const std::string& argument) {
  if (value.IsUndefined() || value.IsNull()) return Napi::Object::New(env);
  if (!value.IsObject() || value.IsArray() || value.IsFunction() || value.IsTypedArray()) {
    Fail("ERR_ARGUMENT", argument + ": expected an options object, got " + Describe(value));
  }
  return value.As<Napi::Object>();
}

std::string NonFiniteString(const void* data, DType dtype, int64_t index) {
  if (dtype == DType::f32) {
    float v = static_cast<const float*>(data)[index];
    if (std::isnan(v)) return "NaN";
    return v > 0 ? "Infinity" : "-Infinity";
  }
  uint16_t bits = static_cast<const uint16_t*>(data)[index];
  bool negative = (bits & 0x8000) != 0;
  uint16_t mantissa = dtype == DType::f16 ? (bits & 0x03ff) : (bits & 0x007f);
  if (mantissa != 0) return "NaN";
  return negative ? "-Infinity" : "Infinity";
}

void FailNonFinite(const std::string& name, const std::string& value, int64_t index, int64_t cols) {
  Fail("ERR_NON_FINITE", name + ": element " + std::to_string(index) + " (row " + std::to_string(index / cols) +
                             ", col " + std::to_string(index % cols) + ") is " + value +
                             "; quantized tensors must be finite");
}

void CheckBlocks(int64_t cols, Format format, const std::string& argument) {
  if (cols % 16 != 0) {
    Fail("ERR_SHAPE", argument + ": " + FormatName(format) +
                          " needs cols (K) to be a multiple of 16, got " + std::to_string(cols) +
                          " (pad with zeros explicitly)");
  }
}

}  // namespace razer::binding
