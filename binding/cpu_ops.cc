// The CPU backend's operations (cuda/cpu/cpu_backend.h) as addon methods:
// quantize, dequantize, gemmW4A16, gemmW4A4, each as a Promise and as Sync.
// Each method parses its arguments into a Job (every check happens here, on
// the JS thread, before anything is queued), allocating the output buffers
// up front so that Run() only writes through raw pointers.
#include <cmath>
#include <cstring>

#include "addon.h"
#include "args.h"
#include "errors.h"
#include "jobs.h"
#include "weight.h"

namespace razer::binding {

namespace {

Napi::Value Arg(const Napi::CallbackInfo& info, size_t i) { return i < info.Length() ? info[i] : info.Env().Undefined(); }

// An output typed array allocated now (zero-filled by V8), held by a
// persistent reference (a napi_value would not outlive this call's scope).
template <typename TypedArray, typename Element>
Napi::ObjectReference NewOutput(Napi::Env env, size_t length, Element** data) {
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, length * sizeof(Element));
  TypedArray out = TypedArray::New(env, length, buffer, 0);
  *data = out.Data();
  return Napi::Persistent(static_cast<Napi::Object>(out));
}

void PinWeight(Job& job, const WeightArg& w) {
  for (const Napi::Object& pin : w.pins) job.Pin(pin);
}

int ParseThreads(const Napi::Object& options, const std::string& argument) {
  return static_cast<int>(ParseInt(options.Get("threads"), argument + ".threads", 0, 1024, 0));
}

// ---------------------------------------------------------------- quantize --

class QuantizeJob : public Job {
 public:
  QuantizeJob(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    format_ = ParseFormat(Arg(info, 0), "format");
    Napi::Object options = ParseOptions(env, Arg(info, 4), "options");
    TensorArg x = ParseTensor(Arg(info, 1), options.Get("dtype"), "data", "options.dtype");
    rows_ = ParseDim(Arg(info, 2), "rows");
    cols_ = ParseDim(Arg(info, 3), "cols");
    if (static_cast<double>(rows_) * static_cast<double>(cols_) != static_cast<double>(x.array.length)) {
      Fail("ERR_SHAPE", "shape: [" + std::to_string(rows_) + ", " + std::to_string(cols_) + "] needs " +
                            std::to_string(rows_ * cols_) + " elements, the data has " +
                            std::to_string(x.array.length));
    }
    CheckBlocks(cols_, format_, "shape");
    params_ = ParseFormatParams(format_, options, "options");
    Napi::Value g = options.Get("globalScale");
    if (!g.IsUndefined()) {
      if (format_ != Format::nvfp4 && format_ != Format::nvfp4_razer_a) {
        Fail("ERR_ARGUMENT", std::string("options.globalScale: only nvfp4 and nvfp4_razer_a take a static global "
                                         "scale, the format is ") +
                                 FormatName(format_));
      }
      static_g_ = ParseStaticScale(g, "options.globalScale");
    }
    threads_ = ParseThreads(options, "options");
    Napi::Value name = options.Get("name");
    if (name.IsString()) name_ = name.As<Napi::String>().Utf8Value();

    x_ = x.array.data;
    dtype_ = x.dtype;
    Pin(x.array.object);
    codes_ = NewOutput<Napi::Uint8Array>(env, static_cast<size_t>(rows_ * cols_ / 2), &codes_data_);
    scales_ = NewOutput<Napi::Uint8Array>(env, static_cast<size_t>(rows_ * cols_ / 16), &scales_data_);
  }

  void Run() override {
    int64_t bad = cpu_quantize(format_, x_, dtype_, rows_, cols_, params_, static_g_, codes_data_, scales_data_,
                               &global_scale_, threads_);
    if (bad >= 0) FailNonFinite(name_, NonFiniteString(x_, dtype_, bad), bad, cols_);
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("codes", codes_.Value());
    out.Set("scales", scales_.Value());
    out.Set("globalScale", Napi::Number::New(env, global_scale_));
    return out;
  }

 private:
  Format format_;
  const void* x_ = nullptr;
  DType dtype_ = DType::f32;
  int64_t rows_ = 0, cols_ = 0;
  FormatParams params_;
  float static_g_ = 0.0f;
  int threads_ = 0;
  std::string name_ = "data";
  Napi::ObjectReference codes_, scales_;
  uint8_t* codes_data_ = nullptr;
  uint8_t* scales_data_ = nullptr;
  float global_scale_ = 0.0f;
};

// -------------------------------------------------------------- dequantize --

class DequantizeJob : public Job {
 public:
  DequantizeJob(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    weight_ = ParseWeight(Arg(info, 0), "weight");
    PinWeight(*this, weight_);
    threads_ = ParseThreads(ParseOptions(env, Arg(info, 1), "options"), "options");
    out_ = NewOutput<Napi::Float32Array>(env, static_cast<size_t>(weight_.view.rows * weight_.view.cols), &out_data_);
  }
  void Run() override { cpu_dequantize(weight_.view, out_data_, threads_); }
  Napi::Value Result(Napi::Env) override { return out_.Value(); }

 private:
  WeightArg weight_;
  int threads_ = 0;
  Napi::ObjectReference out_;
  float* out_data_ = nullptr;
};

// ------------------------------------------------------------------- GEMMs --

// Arguments common to both GEMMs: (x, xDtype, M, weight, bias, outDtype, options).
class GemmJob : public Job {
 protected:
  GemmJob(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    TensorArg x = ParseTensor(Arg(info, 0), Arg(info, 1), "x", "xDtype");
    M_ = ParseDim(Arg(info, 2), "M");
    weight_ = ParseWeight(Arg(info, 3), "weight");
    const int64_t K = weight_.view.cols, N = weight_.view.rows;
    if (static_cast<double>(M_) * static_cast<double>(K) != static_cast<double>(x.array.length)) {
      Fail("ERR_SHAPE", "x: [M, K] = [" + std::to_string(M_) + ", " + std::to_string(K) +
                            "] (K from the weight's cols) needs " + std::to_string(M_ * K) +
                            " elements, got " + std::to_string(x.array.length));
    }
    Napi::Value bias = Arg(info, 4);
    if (!bias.IsUndefined() && !bias.IsNull()) {
      ArrayArg b = ParseTypedArray(bias, napi_float32_array, "bias", "a Float32Array or null");
      if (static_cast<int64_t>(b.length) != N) {
        Fail("ERR_SHAPE", "bias: expected a Float32Array(" + std::to_string(N) + ") (N, the weight's rows), got " +
                              Describe(bias));
      }
      bias_ = static_cast<const float*>(b.data);
      Pin(b.object);
    }
    Napi::Value out_dtype = Arg(info, 5);
    out_dtype_ = out_dtype.IsUndefined() ? DType::f32 : ParseDType(out_dtype, "outDtype");
    options_ = ParseOptions(env, Arg(info, 6), "options");
    threads_ = ParseThreads(options_, "options");

    x_ = x.array.data;
    x_dtype_ = x.dtype;
    Pin(x.array.object);
    PinWeight(*this, weight_);
    const size_t n_out = static_cast<size_t>(M_ * N);
    if (out_dtype_ == DType::f32) {
      float* data = nullptr;
      y_ = NewOutput<Napi::Float32Array>(env, n_out, &data);
      y_data_ = data;
    } else {
      uint16_t* data = nullptr;
      y_ = NewOutput<Napi::Uint16Array>(env, n_out, &data);
      y_data_ = data;
    }
  }

 public:
  Napi::Value Result(Napi::Env) override { return y_.Value(); }

 protected:
  const void* x_ = nullptr;
  DType x_dtype_ = DType::f32;
  int64_t M_ = 0;
  WeightArg weight_;
  const float* bias_ = nullptr;
  DType out_dtype_ = DType::f32;
  Napi::Object options_;  // a handle: valid during construction only
  int threads_ = 0;
  Napi::ObjectReference y_;
  void* y_data_ = nullptr;
};

class GemmW4A16Job : public GemmJob {
 public:
  GemmW4A16Job(const Napi::CallbackInfo& info) : GemmJob(info) {}
  void Run() override { cpu_gemm_w4a16(x_, x_dtype_, M_, weight_.view, bias_, y_data_, out_dtype_, threads_); }
};

class GemmW4A4Job : public GemmJob {
 public:
  GemmW4A4Job(const Napi::CallbackInfo& info) : GemmJob(info) {
    act_format_ = ParseActivationFormat(options_.Get("activationFormat"), "options.activationFormat");
    if (act_format_ == Format::nvfp4_razer_a) {
      sv_act_ = ParseSpecialValue(options_.Get("svAct"), "options.svAct", 5.0f);
    }
    Napi::Value g = options_.Get("activationGlobalScale");
    if (!g.IsUndefined()) act_static_g_ = ParseStaticScale(g, "options.activationGlobalScale");
  }
  void Run() override {
    int64_t bad = cpu_gemm_w4a4(x_, x_dtype_, M_, act_format_, sv_act_, act_static_g_, weight_.view, bias_, y_data_,
                                out_dtype_, threads_);
    if (bad >= 0) FailNonFinite("x", NonFiniteString(x_, x_dtype_, bad), bad, weight_.view.cols);
  }

 private:
  Format act_format_ = Format::nvfp4;
  float sv_act_ = 5.0f;
  float act_static_g_ = 0.0f;
};

}  // namespace

Napi::Value RazerAddon::Quantize(const Napi::CallbackInfo& info) {
  return GuardAsync(info.Env(), [&] { return RunAsync(info.Env(), std::make_unique<QuantizeJob>(info), "razer.quantize"); });
}
Napi::Value RazerAddon::QuantizeSync(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&] { return RunSync(info.Env(), std::make_unique<QuantizeJob>(info)); });
}
Napi::Value RazerAddon::Dequantize(const Napi::CallbackInfo& info) {
  return GuardAsync(info.Env(),
               [&] { return RunAsync(info.Env(), std::make_unique<DequantizeJob>(info), "razer.dequantize"); });
}
Napi::Value RazerAddon::DequantizeSync(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&] { return RunSync(info.Env(), std::make_unique<DequantizeJob>(info)); });
}
Napi::Value RazerAddon::GemmW4A16(const Napi::CallbackInfo& info) {
  return GuardAsync(info.Env(),
               [&] { return RunAsync(info.Env(), std::make_unique<GemmW4A16Job>(info), "razer.gemmW4A16"); });
}
Napi::Value RazerAddon::GemmW4A16Sync(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&] { return RunSync(info.Env(), std::make_unique<GemmW4A16Job>(info)); });
}
Napi::Value RazerAddon::GemmW4A4(const Napi::CallbackInfo& info) {
  return GuardAsync(info.Env(),
               [&] { return RunAsync(info.Env(), std::make_unique<GemmW4A4Job>(info), "razer.gemmW4A4"); });
}
Napi::Value RazerAddon::GemmW4A4Sync(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&] { return RunSync(info.Env(), std::make_unique<GemmW4A4Job>(info)); });
}

}  // namespace razer::binding
