#include "weight.h"

#include <cmath>
#include <cstring>

#include "args.h"

namespace razer::binding {

// Random, fixed: identifies NativeWeight objects (napi_type_tag_object).
const napi_type_tag NativeWeight::kTypeTag = {0x7a2f1c3e9b4d4a61ULL, 0x8e5d2b7c0f3a9164ULL};

namespace {

// Marks a construction that comes from our own factory (JS cannot make an External).
struct ConstructToken {
  std::shared_ptr<WeightStorage> storage;
};

// Parses the plain-object form (shared by ParseWeight and fromQuantized).
WeightArg ParsePlainWeight(const Napi::Object& w, const std::string& argument) {
  WeightArg out;
  QuantizedView& v = out.view;
  v.format = ParseFormat(w.Get("format"), argument + ".format");
  // nvfp4_4over6 is a quantizer choice; its data is plain nvfp4 (SPEC §3.2).
  if (v.format == Format::nvfp4_4over6) v.format = Format::nvfp4;
  v.rows = ParseDim(w.Get("rows"), argument + ".rows");
  v.cols = ParseDim(w.Get("cols"), argument + ".cols");
  CheckBlocks(v.cols, v.format, argument + ".cols");
  const double elements = static_cast<double>(v.rows) * static_cast<double>(v.cols);
  ArrayArg codes = ParseTypedArray(w.Get("codes"), napi_uint8_array, argument + ".codes", "a Uint8Array");
  ArrayArg scales = ParseTypedArray(w.Get("scales"), napi_uint8_array, argument + ".scales", "a Uint8Array");
  if (static_cast<double>(codes.length) != elements / 2) {
    Fail("ERR_SHAPE", argument + ".codes: a [" + std::to_string(v.rows) + ", " + std::to_string(v.cols) +
                          "] weight needs " + std::to_string(static_cast<int64_t>(elements / 2)) +
                          " code bytes, got " + std::to_string(codes.length));
  }
  if (static_cast<double>(scales.length) != elements / 16) {
    Fail("ERR_SHAPE", argument + ".scales: a [" + std::to_string(v.rows) + ", " + std::to_string(v.cols) +
                          "] weight needs " + std::to_string(static_cast<int64_t>(elements / 16)) +
                          " scale bytes, got " + std::to_string(scales.length));
  }
  Napi::Value g = w.Get("globalScale");
  double gv = g.IsNumber() ? g.As<Napi::Number>().DoubleValue() : NAN;
  if (!(std::isfinite(gv) && gv >= 0 && static_cast<double>(static_cast<float>(gv)) == gv)) {
    Fail("ERR_ARGUMENT",
         argument + ".globalScale: expected a finite binary32 value >= 0, got " + Describe(g));
  }
  v.global_scale = static_cast<float>(gv);
  v.codes = static_cast<const uint8_t*>(codes.data);
  v.scales = static_cast<const uint8_t*>(scales.data);
  v.params = ParseFormatParams(v.format, w, argument);
  out.pins = {codes.object, scales.object};
  return out;
}

}  // namespace

WeightArg ParseWeight(const Napi::Value& value, const std::string& argument) {
  if (NativeWeight::Is(value)) {
    WeightArg out;
    out.storage = NativeWeight::From(value)->Use(argument);
    out.view = out.storage->view;
    return out;
  }
  if (!value.IsObject() || value.IsArray() || value.IsTypedArray() || value.IsFunction()) {
    Fail("ERR_ARGUMENT", argument +
                             ": expected a NativeWeight or {format, rows, cols, codes, scales, globalScale}, got " +
                             Describe(value));
  }
  return ParsePlainWeight(value.As<Napi::Object>(), argument);
}

Napi::Function NativeWeight::Define(Napi::Env env) {
  std::vector<Napi::ClassPropertyDescriptor<NativeWeight>> props = {
      StaticMethod("fromQuantized", &NativeWeight::FromQuantized),
      InstanceAccessor("format", &NativeWeight::GetFormat, nullptr),
      InstanceAccessor("rows", &NativeWeight::GetRows, nullptr),
      InstanceAccessor("cols", &NativeWeight::GetCols, nullptr),
      InstanceAccessor("globalScale", &NativeWeight::GetGlobalScale, nullptr),
      InstanceAccessor("byteLength", &NativeWeight::GetByteLength, nullptr),
  };
  AddDisposeMethods(env, props);
  return ObjectWrap<NativeWeight>::DefineClass(env, kClassName, props);
}

NativeWeight::NativeWeight(const Napi::CallbackInfo& info) : Disposable(info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw Napi::Error(env, MakeJsError(env, "ERR_ARGUMENT",
                                       "NativeWeight: use NativeWeight.fromQuantized(weight), not new"));
  }
  auto* token = info[0].As<Napi::External<ConstructToken>>().Data();
  view_ = token->storage->view;
  bytes_ = static_cast<int64_t>(token->storage->codes.size() + token->storage->scales.size());
  Attach(env, std::move(token->storage), bytes_);
}

Napi::Value NativeWeight::FromQuantized(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    Napi::Value arg = info.Length() > 0 ? info[0] : env.Undefined();
    if (!arg.IsObject() || arg.IsArray() || arg.IsTypedArray() || Is(arg)) {
      Fail("ERR_ARGUMENT",
           "weight: expected {format, rows, cols, codes, scales, globalScale}, got " + Describe(arg));
    }
    WeightArg parsed = ParsePlainWeight(arg.As<Napi::Object>(), "weight");
    auto storage = std::make_shared<WeightStorage>();
    const QuantizedView& v = parsed.view;
    storage->codes.assign(v.codes, v.codes + v.rows * v.cols / 2);
    storage->scales.assign(v.scales, v.scales + v.rows * v.cols / 16);
    storage->view = v;
    storage->view.codes = storage->codes.data();
    storage->view.scales = storage->scales.data();
    ConstructToken token{std::move(storage)};
    Napi::FunctionReference& ctor = env.GetInstanceData<RazerAddon>()->native_weight_ctor();
    return ctor.New({Napi::External<ConstructToken>::New(env, &token)});
  });
}

Napi::Value NativeWeight::GetFormat(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), FormatName(view_.format));
}
Napi::Value NativeWeight::GetRows(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(view_.rows));
}
Napi::Value NativeWeight::GetCols(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(view_.cols));
}
Napi::Value NativeWeight::GetGlobalScale(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), view_.global_scale);
}
Napi::Value NativeWeight::GetByteLength(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(bytes_));
}

}  // namespace razer::binding
