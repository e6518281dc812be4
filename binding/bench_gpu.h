// The W4A16 GPU benchmark behind benchW4A16() (binding/bench.cc). Plain C++
// types only (no N-API, no CUDA headers): bench_gpu.cu, compiled by nvcc into
// razer_cuda, implements it; bench.cc parses the JS options into Options and
// turns the Result into a JS object. Built only with RAZER_WITH_CUDA.
//
// What one run measures, on one device and one stream of its own:
//  * the bandwidth floor: a device-to-device copy (bytes read + written) and a
//    read-only reduction over a buffer many times the L2; floor = the higher;
//  * per shape [N, K], format and M: the dispatcher's W4A16 kernel (random
//    valid codes and scale bytes generated on the device, prepacked), X and Y
//    in x_dtype, timed as CUDA-graph replays of back-to-back launches whose
//    weights (and X) rotate over copies totalling at least 4x the L2, after
//    warm-up replays; the median replay divided by its launches;
//  * when a cuBLAS library loads (dlopen; never linked), the dense GEMM of the
//    same shape in x_dtype with fp32 compute, timed the same way, and a
//    sanity check of our output against it (its weight is our decoded v*s,
//    exact in bf16/fp16, with alpha = G).
#pragma once
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "cpu/cpu_backend.h"  // razer::Format, razer::DType

namespace razer::bench {

struct Shape {
  int64_t N = 0, K = 0;
};

struct Options {
  int device = 0;
  std::vector<Shape> shapes;
  std::vector<int64_t> ms;
  std::vector<Format> formats;  // nvfp4, nvfp4_razer
  DType x_dtype = DType::bf16;  // bf16 or f16; Y has the same type
  int warmup = 2;               // discarded replays before each measurement
  int repeats = 7;              // timed replays; the median is reported
  double replay_us = 3000.0;    // target length of one replay (sets the launches per replay)
  int max_launches = 100;       // launches per replay, at most
  bool cublas = true;
  std::string cublas_path;      // a library file tried before the search (else RAZER_CUBLAS, then the search)
  double time_limit_s = 0.0;    // > 0: stop (keeping the rows so far) once this much time has passed
};

struct Row {
  int64_t N = 0, K = 0, M = 0;
  Format format = Format::nvfp4;
  std::string kernel;  // the dispatcher's kernel (gemm_plan)
  int splits = 1;
  double us = 0;       // per launch
  double bytes = 0;    // that must move: codes + scales + G, X, Y
  double flops = 0;    // 2 M N K
  double floor_us = 0; // bytes / floor bandwidth
  int launches = 0;    // per replay
  int weight_copies = 0, x_copies = 0;
  bool graph = false;  // timed as CUDA-graph replays (else plain launches)
  // cuBLAS (negative: not measured)
  double cublas_us = -1;
  bool cublas_graph = false;
  double rel_error = -1;  // ||Y - Y_cublas|| / ||Y_cublas|| over the first rows (<= 16)
  std::string cublas_error;  // why cuBLAS was not timed although a library is loaded
};

struct CublasInfo {
  bool found = false;
  std::string library;  // the file loaded
  std::string api;      // "cublasLt" or "cublas"
  int64_t version = 0;  // as the library reports it (e.g. 130100)
  std::string reason;   // why not, when !found (or "disabled")
};

struct DeviceInfo {
  int ordinal = 0;
  std::string name;
  int major = 0, minor = 0;
  int sms = 0;
  int64_t l2_bytes = 0, memory_bytes = 0;
  int sm_clock_mhz = 0, mem_clock_mhz = 0;  // 0 where the runtime no longer reports them
  int driver_version = 0, runtime_version = 0;
};

struct Result {
  DeviceInfo device;
  double copy_tbs = 0, read_tbs = 0, floor_tbs = 0;  // TB/s (10^12 bytes/s)
  int64_t bandwidth_bytes = 0;                         // buffer size of the bandwidth runs
  CublasInfo cublas;
  std::vector<Row> rows;
  std::string stopped_early;  // why rows are missing (time limit), else empty
  double elapsed_s = 0;
};

// A failure with a stable code (ERR_CUDA, ERR_OOM, ERR_ARCH, ERR_SHAPE, ...);
// bench.cc rethrows it as the binding's Failure.
class Error : public std::runtime_error {
 public:
  Error(std::string code, const std::string& message) : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

// Called after each row (index 0-based, of `total` rows planned), on the
// calling thread; may throw (the run stops and frees everything).
using RowCallback = std::function<void(const Row& row, int index, int total)>;

Result RunW4A16(const Options& options, const RowCallback& on_row);

}  // namespace razer::bench
