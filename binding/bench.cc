// benchW4A16(options) (bench.h): parses the options on the JS thread, runs the
// benchmark (bench_gpu.cu) on it too, and returns plain objects; the derived
// figures (TB/s, TFLOP/s, % of floor, speed-up) are computed once, here.
#include "bench.h"

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "args.h"
#include "errors.h"
#include "gpu.h"
#if defined(RAZER_WITH_CUDA)
#include "bench_gpu.h"
#endif

#include "no_gpu.h"

namespace razer::binding {

#if !defined(RAZER_WITH_CUDA)

Napi::Value BenchW4A16(const Napi::CallbackInfo& info) { return NoGpuEntry(info, "benchW4A16()"); }

#else  // RAZER_WITH_CUDA

namespace {

constexpr int64_t kMaxM = int64_t{1} << 20;

double ParseNumber(const Napi::Value& value, const std::string& argument, double min, double max, double fallback) {
  if (value.IsUndefined()) return fallback;
  const double v = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : NAN;
  if (!(v >= min && v <= max)) {
    std::ostringstream os;
    os << argument << ": expected a number from " << min << " to " << max << ", got " << Describe(value);
    Fail("ERR_ARGUMENT", os.str());
  }
  return v;
}

bool ParseBool(const Napi::Value& value, const std::string& argument, bool fallback) {
  if (value.IsUndefined()) return fallback;
  if (!value.IsBoolean()) Fail("ERR_ARGUMENT", argument + ": expected true or false, got " + Describe(value));
  return value.As<Napi::Boolean>().Value();
}

Napi::Array ParseArray(const Napi::Value& value, const std::string& argument, const char* expected) {
  if (!value.IsArray() || value.As<Napi::Array>().Length() == 0) {
    Fail("ERR_ARGUMENT", argument + ": expected " + expected + ", got " + Describe(value));
  }
  return value.As<Napi::Array>();
}

bench::Options ParseBenchOptions(Napi::Env env, const Napi::Value& value) {
  Napi::Object o = ParseOptions(env, value, "options");
  bench::Options out;
  out.device = static_cast<int>(ParseInt(o.Get("device"), "options.device", 0, 1 << 16, 0));

  Napi::Array shapes = ParseArray(o.Get("shapes"), "options.shapes", "a non-empty array of [N, K] pairs");
  for (uint32_t i = 0; i < shapes.Length(); i++) {
    const std::string arg = "options.shapes[" + std::to_string(i) + "]";
    Napi::Value s = shapes.Get(i);
    if (!s.IsArray() || s.As<Napi::Array>().Length() != 2) {
      Fail("ERR_SHAPE", arg + ": expected [N, K], got " + Describe(s));
    }
    bench::Shape shape;
    shape.N = ParseDim(s.As<Napi::Array>().Get(0u), arg + "[0]");
    shape.K = ParseDim(s.As<Napi::Array>().Get(1u), arg + "[1]");
    if (shape.K % 16 != 0) {
      Fail("ERR_SHAPE", arg + ": expected K (the input dimension) to be a multiple of 16, got " + Describe(s));
    }
    if (shape.N > (int64_t{1} << 31) - 16 || shape.K > (int64_t{1} << 30)) {
      Fail("ERR_SHAPE", arg + ": expected N < 2^31 and K <= 2^30, got " + Describe(s));
    }
    out.shapes.push_back(shape);
  }

  Napi::Array ms = ParseArray(o.Get("ms"), "options.ms", "a non-empty array of M values (rows of X)");
  for (uint32_t i = 0; i < ms.Length(); i++) {
    out.ms.push_back(ParseInt(ms.Get(i), "options.ms[" + std::to_string(i) + "]", 1, kMaxM, 0));
  }

  Napi::Value formats = o.Get("formats");
  if (formats.IsUndefined()) {
    out.formats = {Format::nvfp4, Format::nvfp4_razer};
  } else {
    Napi::Array list = ParseArray(formats, "options.formats", "a non-empty array of 'nvfp4' and 'nvfp4_razer'");
    for (uint32_t i = 0; i < list.Length(); i++) {
      const std::string arg = "options.formats[" + std::to_string(i) + "]";
      Format f = ParseFormat(list.Get(i), arg);
      if (f != Format::nvfp4 && f != Format::nvfp4_razer) {
        Fail("ERR_FORMAT", arg + ": expected 'nvfp4' or 'nvfp4_razer' (the W4A16 weight formats; nvfp4_4over6 "
                                 "is stored as nvfp4), got " + Describe(list.Get(i)));
      }
      out.formats.push_back(f);
    }
  }

  Napi::Value dtype = o.Get("xDtype");
  if (!dtype.IsUndefined()) {
    out.x_dtype = ParseDType(dtype, "options.xDtype");
    if (out.x_dtype == DType::f32) Fail("ERR_DTYPE", "options.xDtype: expected 'bf16' or 'f16', got \"f32\"");
  }
  out.warmup = static_cast<int>(ParseInt(o.Get("warmup"), "options.warmup", 0, 1000, out.warmup));
  out.repeats = static_cast<int>(ParseInt(o.Get("repeats"), "options.repeats", 1, 10000, out.repeats));
  out.replay_us = ParseNumber(o.Get("replayUs"), "options.replayUs", 1, 1e7, out.replay_us);
  out.max_launches = static_cast<int>(ParseInt(o.Get("maxLaunches"), "options.maxLaunches", 3, 100000, out.max_launches));
  out.cublas = ParseBool(o.Get("cublas"), "options.cublas", true);
  Napi::Value path = o.Get("cublasPath");
  if (!path.IsUndefined() && !path.IsNull()) {
    if (!path.IsString()) Fail("ERR_ARGUMENT", "options.cublasPath: expected a file path, got " + Describe(path));
    out.cublas_path = path.As<Napi::String>().Utf8Value();
  }
  out.time_limit_s = ParseNumber(o.Get("timeLimitS"), "options.timeLimitS", 0, 1e9, 0);
  return out;
}

Napi::Value NumberOrNull(Napi::Env env, double v, bool present) {
  return present ? Napi::Number::New(env, v) : env.Null();
}

Napi::Value StringOrNull(Napi::Env env, const std::string& s) {
  return s.empty() ? env.Null() : Napi::String::New(env, s);
}

Napi::Object RowObject(Napi::Env env, const bench::Row& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("N", Napi::Number::New(env, static_cast<double>(r.N)));
  o.Set("K", Napi::Number::New(env, static_cast<double>(r.K)));
  o.Set("M", Napi::Number::New(env, static_cast<double>(r.M)));
  o.Set("format", FormatName(r.format));
  o.Set("kernel", r.kernel);
  o.Set("splits", Napi::Number::New(env, r.splits));
  o.Set("us", Napi::Number::New(env, r.us));
  o.Set("bytes", Napi::Number::New(env, r.bytes));
  o.Set("flops", Napi::Number::New(env, r.flops));
  o.Set("tbs", Napi::Number::New(env, r.bytes / r.us / 1e6));
  o.Set("tflops", Napi::Number::New(env, r.flops / r.us / 1e6));
  o.Set("floorUs", Napi::Number::New(env, r.floor_us));
  o.Set("pctFloor", Napi::Number::New(env, 100.0 * r.floor_us / r.us));
  o.Set("launches", Napi::Number::New(env, r.launches));
  o.Set("weightCopies", Napi::Number::New(env, r.weight_copies));
  o.Set("xCopies", Napi::Number::New(env, r.x_copies));
  o.Set("graph", Napi::Boolean::New(env, r.graph));
  const bool cublas = r.cublas_us > 0;
  o.Set("cublasUs", NumberOrNull(env, r.cublas_us, cublas));
  o.Set("cublasGraph", cublas ? Napi::Boolean::New(env, r.cublas_graph) : env.Null());
  o.Set("speedup", NumberOrNull(env, r.cublas_us / r.us, cublas));
  // NaN (a non-finite output) stays NaN, so that it cannot pass for agreement.
  o.Set("relError", NumberOrNull(env, r.rel_error, !(r.rel_error < 0)));
  o.Set("cublasError", StringOrNull(env, r.cublas_error));
  return o;
}

Napi::Object ResultObject(Napi::Env env, const bench::Result& r, const bench::Options& options) {
  Napi::Object out = Napi::Object::New(env);
  Napi::Object d = Napi::Object::New(env);
  d.Set("ordinal", Napi::Number::New(env, r.device.ordinal));
  d.Set("name", r.device.name);
  Napi::Array cc = Napi::Array::New(env, 2);
  cc.Set(0u, Napi::Number::New(env, r.device.major));
  cc.Set(1u, Napi::Number::New(env, r.device.minor));
  d.Set("computeCapability", cc);
  d.Set("sms", Napi::Number::New(env, r.device.sms));
  d.Set("l2Bytes", Napi::Number::New(env, static_cast<double>(r.device.l2_bytes)));
  d.Set("memoryBytes", Napi::Number::New(env, static_cast<double>(r.device.memory_bytes)));
  d.Set("smClockMhz", Napi::Number::New(env, r.device.sm_clock_mhz));
  d.Set("memClockMhz", Napi::Number::New(env, r.device.mem_clock_mhz));
  d.Set("driverVersion", Napi::Number::New(env, r.device.driver_version));
  d.Set("runtimeVersion", Napi::Number::New(env, r.device.runtime_version));
  out.Set("device", d);

  Napi::Object bw = Napi::Object::New(env);
  bw.Set("copyTBs", Napi::Number::New(env, r.copy_tbs));
  bw.Set("readTBs", Napi::Number::New(env, r.read_tbs));
  bw.Set("floorTBs", Napi::Number::New(env, r.floor_tbs));
  bw.Set("bytes", Napi::Number::New(env, static_cast<double>(r.bandwidth_bytes)));
  out.Set("bandwidth", bw);

  Napi::Object cb = Napi::Object::New(env);
  cb.Set("found", Napi::Boolean::New(env, r.cublas.found));
  cb.Set("library", StringOrNull(env, r.cublas.library));
  cb.Set("api", StringOrNull(env, r.cublas.api));
  cb.Set("version", NumberOrNull(env, static_cast<double>(r.cublas.version), r.cublas.found && r.cublas.version > 0));
  cb.Set("reason", r.cublas.found ? env.Null() : Napi::String::New(env, r.cublas.reason));
  out.Set("cublas", cb);

  Napi::Object settings = Napi::Object::New(env);
  settings.Set("xDtype", DTypeName(options.x_dtype));
  settings.Set("warmup", Napi::Number::New(env, options.warmup));
  settings.Set("repeats", Napi::Number::New(env, options.repeats));
  settings.Set("replayUs", Napi::Number::New(env, options.replay_us));
  settings.Set("maxLaunches", Napi::Number::New(env, options.max_launches));
  out.Set("settings", settings);

  Napi::Array rows = Napi::Array::New(env, r.rows.size());
  for (uint32_t i = 0; i < r.rows.size(); i++) rows.Set(i, RowObject(env, r.rows[i]));
  out.Set("rows", rows);
  out.Set("stoppedEarly", StringOrNull(env, r.stopped_early));
  out.Set("elapsedS", Napi::Number::New(env, r.elapsed_s));
  return out;
}

}  // namespace

Napi::Value BenchW4A16(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    Napi::Value arg = info.Length() > 0 ? info[0] : env.Undefined();
    bench::Options options = ParseBenchOptions(env, arg);
    Napi::Value on_row_value = arg.IsObject() ? arg.As<Napi::Object>().Get("onRow") : env.Undefined();
    if (!on_row_value.IsUndefined() && !on_row_value.IsFunction()) {
      Fail("ERR_ARGUMENT", "options.onRow: expected a function (row, index, total) => void, got " +
                               Describe(on_row_value));
    }
    gpu::CheckDevice(options.device, "benchW4A16(): options.device");
    bench::RowCallback on_row;
    if (on_row_value.IsFunction()) {
      Napi::Function fn = on_row_value.As<Napi::Function>();
      on_row = [env, fn](const bench::Row& row, int index, int total) {
        Napi::HandleScope scope(env);
        fn.Call({RowObject(env, row), Napi::Number::New(env, index), Napi::Number::New(env, total)});
      };
    }
    try {
      bench::Result result = bench::RunW4A16(options, on_row);
      return ResultObject(env, result, options);
    } catch (const bench::Error& e) {
      Fail(e.code().c_str(), e.what());
    }
  });
}

#endif  // RAZER_WITH_CUDA

}  // namespace razer::binding
