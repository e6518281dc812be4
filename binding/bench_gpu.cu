// The W4A16 GPU benchmark (see bench_gpu.h): benchW4A16() in the addon,
// `razer bench` on the command line. The method is cuda/bench/gemm_bench.cu's
// (which produced bench/RESULTS.md), packaged for the addon: errors are
// thrown as bench::Error instead of exiting, every allocation is owned, and
// cuBLAS is found at run time (libcublasLt first) instead of being linked.
#include "bench_gpu.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <glob.h>
#include <library_types.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>  // before the formats headers (arith.h's host bit casts)
#include <exception>
#include <memory>
#include <sstream>

#include "bench/bench_kernels.cuh"
#include "cuda_error_codes.h"
#include "formats/formats.h"
#include "kernels/gemm.cuh"

namespace razer::bench {
namespace {

using gpu::GemmPlan;
using gpu::PackedWeights;

constexpr float kGlobalScale = 0.01f;  // G of the random weights; cuBLAS gets it as alpha
constexpr int64_t kCheckRows = 16;     // rows of Y compared with cuBLAS
constexpr size_t kCublasWorkspace = size_t{64} << 20;
// Rotated copies of one weight, at most: enough for any weight of 3 MiB or
// more to exceed 4x a 50 MiB L2; smaller ones are timed partly from the L2.
constexpr size_t kMaxCopies = 64;

// ------------------------------------------------------------ errors ----

using razer::binding::CudaErrorCode;
using razer::binding::CudaVersionString;

size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

std::string mib(double bytes) {
  std::ostringstream os;
  os.precision(1);
  os << std::fixed << bytes / double(1 << 20) << " MiB";
  return os.str();
}

// ---------------------------------------------------- device memory ----

struct DeviceFree {
  void operator()(void* p) const {
    if (p != nullptr) cudaFree(p);  // synchronizing: no queued work still uses it
  }
};
using DevicePtr = std::unique_ptr<void, DeviceFree>;

template <class T>
T* as(const DevicePtr& p) {
  return static_cast<T*>(p.get());
}

// ----------------------------------------------------------- kernels ----
// (hash32, gen_bytes, gen_x, decode_weights, read_reduce: bench/bench_kernels.cuh)
using namespace razer::bench_kernels;

// -------------------------------------------------------------- cuBLAS ----
// Only the few entry points used here, declared by hand (the package ships no
// cuBLAS headers and never links it). Enum values and struct layouts are the
// stable ABI of cuBLAS 12 and 13.
constexpr int kComputeF32 = 68;  // CUBLAS_COMPUTE_32F
constexpr int kOpN = 0, kOpT = 1;
constexpr int kGemmDefault = -1;  // CUBLAS_GEMM_DEFAULT
constexpr int kLtDescTransA = 3, kLtDescTransB = 4;  // CUBLASLT_MATMUL_DESC_TRANSA / _TRANSB
constexpr int kLtPrefMaxWorkspace = 1;               // CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES

struct LtAlgo {
  uint64_t data[8];
};
struct LtHeuristic {  // cublasLtMatmulHeuristicResult_t
  LtAlgo algo;
  size_t workspace_size;
  int state;
  float waves;
  int reserved[4];
};

using LtCreate = int (*)(void**);
using LtDestroy = int (*)(void*);
using LtGetVersion = size_t (*)();
using LtDescCreate = int (*)(void**, int, int);
using LtDescSet = int (*)(void*, int, const void*, size_t);
using LtLayoutCreate = int (*)(void**, int, uint64_t, uint64_t, int64_t);
using LtPrefCreate = int (*)(void**);
using LtHeur = int (*)(void*, void*, void*, void*, void*, void*, void*, int, LtHeuristic*, int*);
using LtMatmul = int (*)(void*, void*, const void*, const void*, void*, const void*, void*, const void*, const void*,
                         void*, void*, void*, const LtAlgo*, void*, size_t, cudaStream_t);
using BlasCreate = int (*)(void**);
using BlasDestroy = int (*)(void*);
using BlasGetVersion = int (*)(void*, int*);
using BlasSetStream = int (*)(void*, cudaStream_t);
using BlasSetWorkspace = int (*)(void*, void*, size_t);
using BlasGemmEx = int (*)(void*, int, int, int, int, int, const void*, const void*, int, int, const void*, int, int,
                           const void*, void*, int, int, int, int);

bool file_exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

// Where CUDA's libraries usually live, as glob patterns (GLOB_BRACE).
std::vector<std::string> library_dirs() {
  std::vector<std::string> dirs;
  for (const char* env : {"CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"}) {
    if (const char* v = std::getenv(env); v != nullptr && *v != '\0') {
      dirs.push_back(std::string(v) + "/lib64");
      dirs.push_back(std::string(v) + "/targets/*/lib");
    }
  }
  for (const char* d : {"/usr/local/cuda/lib64", "/usr/local/cuda/targets/*/lib", "/usr/local/cuda-*/lib64",
                        "/usr/local/cuda-*/targets/*/lib", "/opt/cuda/lib64", "/usr/lib/x86_64-linux-gnu",
                        "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"}) {
    dirs.push_back(d);
  }
  // pip wheels (nvidia-cublas-cu12, the CUDA 13 nvidia/cu13 layout), conda
  const std::string wheel = "/lib/python3*/{site,dist}-packages/nvidia/{cu13,cublas,cu12}/lib";
  if (const char* v = std::getenv("VIRTUAL_ENV"); v != nullptr && *v != '\0') dirs.push_back(v + wheel);
  if (const char* v = std::getenv("CONDA_PREFIX"); v != nullptr && *v != '\0') dirs.push_back(std::string(v) + "/lib");
  if (const char* v = std::getenv("HOME"); v != nullptr && *v != '\0') dirs.push_back(std::string(v) + "/.local" + wheel);
  dirs.push_back("/usr/local" + wheel);
  dirs.push_back("/usr" + wheel);
  dirs.push_back("/opt/*/.venv" + wheel);
  dirs.push_back("/opt/conda/lib");
  return dirs;
}

std::vector<std::string> glob_paths(const std::string& pattern) {
  std::vector<std::string> out;
  glob_t g;
  if (glob(pattern.c_str(), GLOB_BRACE, nullptr, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) out.push_back(g.gl_pathv[i]);
  }
  globfree(&g);
  return out;
}

class Cublas {
 public:
  // Finds and opens a cuBLAS library; info() says which, or why none.
  Cublas(const std::string& override_path, cudaStream_t stream, void* workspace, size_t workspace_bytes)
      : stream_(stream), workspace_(workspace), workspace_bytes_(workspace_bytes) {
    std::vector<std::string> candidates;
    if (!override_path.empty()) candidates.push_back(override_path);
    if (const char* v = std::getenv("RAZER_CUBLAS"); v != nullptr && *v != '\0') candidates.push_back(v);
    const std::vector<std::string> dirs = library_dirs();
    for (const char* name : {"libcublasLt.so.13", "libcublasLt.so.12", "libcublas.so.13", "libcublas.so.12"}) {
      candidates.push_back(name);  // the library path: LD_LIBRARY_PATH, the ld.so cache
      for (const std::string& d : dirs) {
        for (const std::string& p : glob_paths(d + "/" + name)) candidates.push_back(p);
      }
    }
    std::vector<std::string> tried;
    for (const std::string& path : candidates) {
      if (std::find(tried.begin(), tried.end(), path) != tried.end()) continue;
      tried.push_back(path);
      // Kept loaded for the life of the process (no dlclose): cuBLAS keeps
      // per-process state that must not be unloaded under a live context.
      void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (lib == nullptr) {
        const char* why = dlerror();
        // A bare name that is not on the library path is just "not found";
        // a file that exists and fails to load is worth reporting.
        if (path.find('/') != std::string::npos || file_exists(path)) {
          problems_.push_back(path + ": " + (why != nullptr ? why : "dlopen failed"));
        }
        continue;
      }
      const bool lt_name = path.find("cublasLt") != std::string::npos;
      const bool user = !override_path.empty() && path == override_path;
      if ((lt_name || user) && OpenLt(lib, path)) return;
      if (!lt_name && OpenBlas(lib, path)) return;
    }
    std::string reason =
        "no libcublasLt.so.13/.12 or libcublas.so.13/.12 found on the library path (LD_LIBRARY_PATH) or in CUDA's "
        "usual folders (/usr/local/cuda*/lib64, pip nvidia-* wheels, conda); set RAZER_CUBLAS to the library file";
    if (!problems_.empty()) {
      reason = "no usable cuBLAS library: ";
      for (size_t i = 0; i < problems_.size(); ++i) reason += (i ? "; " : "") + problems_[i];
    }
    info_.reason = reason;
  }

  ~Cublas() {
    ReleaseShape();
    if (lt_pref_ != nullptr && lt_.destroy_pref) lt_.destroy_pref(lt_pref_);
    if (lt_desc_ != nullptr && lt_.destroy_desc) lt_.destroy_desc(lt_desc_);
    if (handle_ != nullptr) {
      if (lt_) {
        lt_.destroy(handle_);
      } else if (blas_.destroy) {
        blas_.destroy(handle_);
      }
    }
  }
  Cublas(const Cublas&) = delete;
  Cublas& operator=(const Cublas&) = delete;

  const CublasInfo& info() const { return info_; }
  bool ok() const { return handle_ != nullptr; }

  // Makes gemm() ready for Y[M, N] = alpha X[M, K] W[N, K]^T in `dtype`;
  // false (with *why) when cuBLAS has no algorithm for it.
  bool Prepare(int64_t M, int64_t N, int64_t K, DType dtype, std::string* why) {
    const int type = dtype == DType::bf16 ? CUDA_R_16BF : CUDA_R_16F;
    if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX) {
      *why = "shape too large for cuBLAS";
      return false;
    }
    M_ = M, N_ = N, K_ = K, type_ = type;
    if (!lt_) return true;
    ReleaseShape();
    // Column-major view: D[N, M] = op(A)[N, K] B[K, M], A = W stored [K, N]
    // (transposed), B = X stored [K, M], leading dimensions K, K and N.
    int s = lt_.layout_create(&a_, type, uint64_t(K), uint64_t(N), K);
    if (s == 0) s = lt_.layout_create(&b_, type, uint64_t(K), uint64_t(M), K);
    if (s == 0) s = lt_.layout_create(&d_, type, uint64_t(N), uint64_t(M), N);
    if (s != 0) {
      *why = "cublasLtMatrixLayoutCreate failed with status " + std::to_string(s);
      return false;
    }
    // The result array is larger than the struct as declared here, in case a
    // newer library writes a larger one.
    LtHeuristic results[4] = {};
    int count = 0;
    s = lt_.heuristic(handle_, lt_desc_, a_, b_, d_, d_, lt_pref_, 1, results, &count);
    if (s != 0 || count < 1 || results[0].state != 0) {
      *why = "cublasLtMatmulAlgoGetHeuristic found no algorithm (status " + std::to_string(s) + ")";
      return false;
    }
    algo_ = results[0].algo;
    return true;
  }

  // Returns the cuBLAS status (0: success).
  int Gemm(const void* x, const void* w, void* y, float alpha) const {
    const float beta = 0.0f;
    if (lt_) {
      return lt_.matmul(handle_, lt_desc_, &alpha, w, a_, x, b_, &beta, y, d_, y, d_, &algo_, workspace_,
                        workspace_bytes_, stream_);
    }
    return blas_.gemm(handle_, kOpT, kOpN, int(N_), int(M_), int(K_), &alpha, w, type_, int(K_), x, type_, int(K_),
                      &beta, y, type_, int(N_), kComputeF32, kGemmDefault);
  }

 private:
  struct LtApi {
    LtCreate create = nullptr;
    LtDestroy destroy = nullptr;
    LtGetVersion version = nullptr;
    LtDescCreate desc_create = nullptr;
    LtDestroy destroy_desc = nullptr;
    LtDescSet desc_set = nullptr;
    LtLayoutCreate layout_create = nullptr;
    LtDestroy destroy_layout = nullptr;
    LtPrefCreate pref_create = nullptr;
    LtDestroy destroy_pref = nullptr;
    LtDescSet pref_set = nullptr;
    LtHeur heuristic = nullptr;
    LtMatmul matmul = nullptr;
    explicit operator bool() const { return matmul != nullptr; }
  };
  struct BlasApi {
    BlasCreate create = nullptr;
    BlasDestroy destroy = nullptr;
    BlasGetVersion version = nullptr;
    BlasSetStream set_stream = nullptr;
    BlasSetWorkspace set_workspace = nullptr;
    BlasGemmEx gemm = nullptr;
  };

  template <class F>
  static F sym(void* lib, const char* name) {
    return reinterpret_cast<F>(dlsym(lib, name));
  }

  bool OpenLt(void* lib, const std::string& path) {
    LtApi api;
    api.create = sym<LtCreate>(lib, "cublasLtCreate");
    api.destroy = sym<LtDestroy>(lib, "cublasLtDestroy");
    api.version = sym<LtGetVersion>(lib, "cublasLtGetVersion");
    api.desc_create = sym<LtDescCreate>(lib, "cublasLtMatmulDescCreate");
    api.destroy_desc = sym<LtDestroy>(lib, "cublasLtMatmulDescDestroy");
    api.desc_set = sym<LtDescSet>(lib, "cublasLtMatmulDescSetAttribute");
    api.layout_create = sym<LtLayoutCreate>(lib, "cublasLtMatrixLayoutCreate");
    api.destroy_layout = sym<LtDestroy>(lib, "cublasLtMatrixLayoutDestroy");
    api.pref_create = sym<LtPrefCreate>(lib, "cublasLtMatmulPreferenceCreate");
    api.destroy_pref = sym<LtDestroy>(lib, "cublasLtMatmulPreferenceDestroy");
    api.pref_set = sym<LtDescSet>(lib, "cublasLtMatmulPreferenceSetAttribute");
    api.heuristic = sym<LtHeur>(lib, "cublasLtMatmulAlgoGetHeuristic");
    api.matmul = sym<LtMatmul>(lib, "cublasLtMatmul");
    if (!api.create || !api.destroy || !api.desc_create || !api.destroy_desc || !api.desc_set || !api.layout_create ||
        !api.destroy_layout || !api.pref_create || !api.destroy_pref || !api.pref_set || !api.heuristic ||
        !api.matmul) {
      problems_.push_back(path + ": missing cublasLt entry points");
      return false;
    }
    void* handle = nullptr;
    int s = api.create(&handle);
    if (s != 0) {
      problems_.push_back(path + ": cublasLtCreate failed with status " + std::to_string(s));
      return false;
    }
    void* desc = nullptr;
    void* pref = nullptr;
    const int32_t op_t = kOpT, op_n = kOpN;
    const uint64_t ws = workspace_bytes_;
    s = api.desc_create(&desc, kComputeF32, CUDA_R_32F);
    if (s == 0) s = api.desc_set(desc, kLtDescTransA, &op_t, sizeof op_t);
    if (s == 0) s = api.desc_set(desc, kLtDescTransB, &op_n, sizeof op_n);
    if (s == 0) s = api.pref_create(&pref);
    if (s == 0) s = api.pref_set(pref, kLtPrefMaxWorkspace, &ws, sizeof ws);
    if (s != 0) {
      if (pref != nullptr) api.destroy_pref(pref);
      if (desc != nullptr) api.destroy_desc(desc);
      api.destroy(handle);
      problems_.push_back(path + ": cublasLt descriptor set-up failed with status " + std::to_string(s));
      return false;
    }
    lt_ = api;
    handle_ = handle;
    lt_desc_ = desc;
    lt_pref_ = pref;
    info_.found = true;
    info_.library = path;
    info_.api = "cublasLt";
    info_.version = api.version ? int64_t(api.version()) : 0;
    return true;
  }

  bool OpenBlas(void* lib, const std::string& path) {
    BlasApi api;
    api.create = sym<BlasCreate>(lib, "cublasCreate_v2");
    api.destroy = sym<BlasDestroy>(lib, "cublasDestroy_v2");
    api.version = sym<BlasGetVersion>(lib, "cublasGetVersion_v2");
    api.set_stream = sym<BlasSetStream>(lib, "cublasSetStream_v2");
    api.set_workspace = sym<BlasSetWorkspace>(lib, "cublasSetWorkspace_v2");
    api.gemm = sym<BlasGemmEx>(lib, "cublasGemmEx");
    if (!api.create || !api.destroy || !api.set_stream || !api.gemm) {
      problems_.push_back(path + ": missing cuBLAS entry points");
      return false;
    }
    void* handle = nullptr;
    int s = api.create(&handle);
    if (s != 0) {
      problems_.push_back(path + ": cublasCreate failed with status " + std::to_string(s));
      return false;
    }
    s = api.set_stream(handle, stream_);
    // A workspace of our own: no allocation by cuBLAS while a graph is captured.
    if (s == 0 && api.set_workspace) s = api.set_workspace(handle, workspace_, workspace_bytes_);
    if (s != 0) {
      api.destroy(handle);
      problems_.push_back(path + ": cuBLAS stream/workspace set-up failed with status " + std::to_string(s));
      return false;
    }
    blas_ = api;
    handle_ = handle;
    info_.found = true;
    info_.library = path;
    info_.api = "cublas";
    int v = 0;
    if (api.version && api.version(handle, &v) == 0) info_.version = v;
    return true;
  }

  void ReleaseShape() {
    for (void** l : {&a_, &b_, &d_}) {
      if (*l != nullptr && lt_.destroy_layout) lt_.destroy_layout(*l);
      *l = nullptr;
    }
  }

  cudaStream_t stream_;
  void* workspace_;
  size_t workspace_bytes_;
  CublasInfo info_;
  std::vector<std::string> problems_;
  LtApi lt_;
  BlasApi blas_;
  void* handle_ = nullptr;
  void* lt_desc_ = nullptr;
  void* lt_pref_ = nullptr;
  void *a_ = nullptr, *b_ = nullptr, *d_ = nullptr;
  LtAlgo algo_{};
  int64_t M_ = 0, N_ = 0, K_ = 0;
  int type_ = CUDA_R_16BF;
};

// ------------------------------------------------------------ runner ----

struct Timing {
  double us = 0;  // per launch
  int launches = 0;
  bool graph = false;
};

class Runner {
 public:
  explicit Runner(const Options& o) : o_(o), started_(std::chrono::steady_clock::now()) {}

  ~Runner() {
    if (stream_ != nullptr) cudaStreamSynchronize(stream_);
    cublas_.reset();  // its handle before its workspace and the stream
    cublas_ws_.reset();
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
    for (cudaEvent_t e : {e0_, e1_}) {
      if (e != nullptr) cudaEventDestroy(e);
    }
    cudaGetLastError();
  }

  Result Run(const RowCallback& on_row);

 private:
  void Check(cudaError_t e, const std::string& what) const {
    if (e != cudaSuccess) {
      cudaGetLastError();  // clear a non-sticky error
      throw Error(CudaErrorCode(e), "benchW4A16: " + what + " failed: " + cudaGetErrorName(e) + " (" +
                                   cudaGetErrorString(e) + ") [" + context_ + "]");
    }
  }
  void CheckLaunch(const std::string& what) const { Check(cudaGetLastError(), what); }

  DevicePtr Alloc(size_t bytes, const std::string& what) const {
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, std::max<size_t>(bytes, 256));
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      size_t free = 0, total = 0;
      cudaMemGetInfo(&free, &total);
      throw Error("ERR_OOM", "benchW4A16: out of device memory for " + what + ": asked for " + mib(double(bytes)) +
                                 ", " + mib(double(free)) + " of " + mib(double(total)) + " free [" + context_ +
                                 "]; try fewer or smaller shapes or M values");
    }
    Check(e, "cudaMalloc (" + what + ")");
    return DevicePtr(p);
  }

  double Elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  }

  unsigned Grid(int64_t n) const {
    const int64_t blocks = (n + 255) / 256;
    return unsigned(std::max<int64_t>(1, std::min<int64_t>(blocks, int64_t(sms_) * 16)));
  }

  // Median time per launch of body(0..launches-1), replayed as one CUDA graph
  // (plain launches where capture fails), after `warmup` discarded replays.
  template <class Body>
  Timing TimeLaunches(int launches, int warmup, int repeats, Body& body) {
    Timing t;
    t.launches = launches;
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    if (cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal) == cudaSuccess) {
      bool body_ok = true;
      std::exception_ptr other;
      try {
        for (int i = 0; i < launches; ++i) body(i);
      } catch (const Error&) {
        body_ok = false;  // not capturable: measured with plain launches below
      } catch (...) {
        body_ok = false;
        other = std::current_exception();
      }
      // The capture always ends here: a stream left capturing would fail
      // every later call (cudaFree included) until the process exits.
      const cudaError_t end = cudaStreamEndCapture(stream_, &graph);
      if (other) {
        if (graph != nullptr) cudaGraphDestroy(graph);
        cudaGetLastError();
        std::rethrow_exception(other);
      }
      if (body_ok && end == cudaSuccess && graph != nullptr &&
          cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess) {
        t.graph = true;
      }
    }
    cudaGetLastError();
    struct GraphGuard {
      cudaGraph_t g;
      cudaGraphExec_t x;
      ~GraphGuard() {
        if (x != nullptr) cudaGraphExecDestroy(x);
        if (g != nullptr) cudaGraphDestroy(g);
      }
    } guard{graph, exec};
    std::vector<float> samples;
    for (int rep = 0; rep < warmup + repeats; ++rep) {
      Check(cudaEventRecord(e0_, stream_), "cudaEventRecord");
      if (t.graph) {
        Check(cudaGraphLaunch(exec, stream_), "cudaGraphLaunch");
      } else {
        for (int i = 0; i < launches; ++i) body(i);
      }
      Check(cudaEventRecord(e1_, stream_), "cudaEventRecord");
      Check(cudaEventSynchronize(e1_), "timed launches");
      float ms = 0;
      Check(cudaEventElapsedTime(&ms, e0_, e1_), "cudaEventElapsedTime");
      if (rep >= warmup) samples.push_back(ms);
    }
    std::sort(samples.begin(), samples.end());
    t.us = 1000.0 * double(samples[samples.size() / 2]) / launches;
    return t;
  }

  // A short estimate, then enough launches per replay to last about replay_us.
  // The GPU lowers its clocks under the power draw of long tensor-core runs
  // and raises them again only after a while: a light kernel timed right
  // after reads slow (H100: the nvfp4_razer GEMV 57344x8192 M=1, bound by
  // instruction issue, took 138 to 193 us right after the M = 4096 rows and
  // 122 us alone). So a light measurement that follows a heavy one (a launch
  // of 1 ms or more) starts after the GPU idled for kSettleMs.
  template <class Body>
  Timing Measure(Body& body, int min_launches) {
    constexpr double kHeavyUs = 1000.0;
    constexpr int kSettleMs = 1000;
    const Timing estimate = TimeLaunches(2, 1, 1, body);
    const bool heavy = estimate.us >= kHeavyUs;
    if (last_heavy_ && !heavy) usleep(kSettleMs * 1000);
    last_heavy_ = heavy;
    const double want = std::ceil(o_.replay_us / std::max(estimate.us, 0.5));
    const int launches =
        int(std::min<double>(std::max<double>(want, std::max(3, min_launches)), std::max(3, o_.max_launches)));
    return TimeLaunches(launches, o_.warmup, o_.repeats, body);
  }

  bool last_heavy_ = false;  // the last measurement's launches took >= 1 ms (Measure)

  void Setup();
  void MeasureBandwidth();
  void RunShape(const Shape& shape, const RowCallback& on_row);
  bool OutOfTime();

  const Options& o_;
  std::chrono::steady_clock::time_point started_;
  std::string context_;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t e0_ = nullptr, e1_ = nullptr;
  int sms_ = 1;
  int64_t l2_ = 0;
  Result r_;
  int total_rows_ = 0;
  DevicePtr cublas_ws_;
  std::unique_ptr<Cublas> cublas_;
};

void Runner::Setup() {
  Check(cudaSetDevice(o_.device), "cudaSetDevice");
  cudaDeviceProp p{};
  Check(cudaGetDeviceProperties(&p, o_.device), "cudaGetDeviceProperties");
  DeviceInfo& d = r_.device;
  d.ordinal = o_.device;
  d.name = p.name;
  d.major = p.major;
  d.minor = p.minor;
  d.sms = p.multiProcessorCount;
  d.l2_bytes = p.l2CacheSize;
  d.memory_bytes = int64_t(p.totalGlobalMem);
  if (cudaDeviceGetAttribute(&d.sm_clock_mhz, cudaDevAttrClockRate, o_.device) != cudaSuccess) d.sm_clock_mhz = 0;
  if (cudaDeviceGetAttribute(&d.mem_clock_mhz, cudaDevAttrMemoryClockRate, o_.device) != cudaSuccess) {
    d.mem_clock_mhz = 0;
  }
  cudaGetLastError();
  d.sm_clock_mhz /= 1000;  // kHz
  d.mem_clock_mhz /= 1000;
  if (cudaDriverGetVersion(&d.driver_version) != cudaSuccess) d.driver_version = 0;
  if (cudaRuntimeGetVersion(&d.runtime_version) != cudaSuccess) d.runtime_version = 0;
  sms_ = std::max(1, d.sms);
  l2_ = d.l2_bytes > 0 ? d.l2_bytes : int64_t(50) << 20;
  std::ostringstream os;
  os << "device " << d.ordinal << ": " << d.name << ", compute capability " << d.major << "." << d.minor
     << "; CUDA driver " << CudaVersionString(d.driver_version) << ", runtime " << CudaVersionString(d.runtime_version);
  context_ = os.str();
  if (d.major < 8) {
    throw Error("ERR_ARCH", "benchW4A16: the W4A16 kernels need compute capability 8.0 or newer (Ampere) [" +
                                context_ + "]");
  }
  Check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  Check(cudaEventCreate(&e0_), "cudaEventCreate");
  Check(cudaEventCreate(&e1_), "cudaEventCreate");
}

// Device-to-device copy (bytes read + written) and read-only reduction over a
// buffer far beyond the L2; the floor is the higher of the two.
void Runner::MeasureBandwidth() {
  size_t free = 0, total = 0;
  Check(cudaMemGetInfo(&free, &total), "cudaMemGetInfo");
  size_t bytes = std::min<size_t>(size_t(2) << 30, std::max<size_t>(size_t(512) << 20, size_t(32) * size_t(l2_)));
  bytes = std::min(bytes, free / 4);
  bytes = bytes / (size_t(1) << 20) * (size_t(1) << 20);
  if (bytes < size_t(4) * size_t(l2_)) {
    throw Error("ERR_OOM", "benchW4A16: too little free device memory to measure the bandwidth (" +
                               mib(double(free)) + " free) [" + context_ + "]");
  }
  DevicePtr a = Alloc(bytes, "the bandwidth buffers");
  DevicePtr b = Alloc(bytes, "the bandwidth buffers");
  DevicePtr sink = Alloc(sizeof(unsigned), "the bandwidth buffers");
  gen_bytes<<<Grid(int64_t(bytes)), 256, 0, stream_>>>(as<uint8_t>(a), int64_t(bytes), 1, 0);
  CheckLaunch("gen_bytes");
  auto copy = [&](int) {
    Check(cudaMemcpyAsync(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice, stream_), "cudaMemcpyAsync");
  };
  const Timing tc = Measure(copy, 3);
  auto read = [&](int) {
    read_reduce<<<unsigned(sms_) * 8, 512, 0, stream_>>>(as<const uint4>(a), int64_t(bytes / 16), as<unsigned>(sink));
    CheckLaunch("read_reduce");
  };
  const Timing tr = Measure(read, 3);
  r_.bandwidth_bytes = int64_t(bytes);
  r_.copy_tbs = 2.0 * double(bytes) / tc.us / 1e6;
  r_.read_tbs = double(bytes) / tr.us / 1e6;
  r_.floor_tbs = std::max(r_.copy_tbs, r_.read_tbs);
}

bool Runner::OutOfTime() {
  if (o_.time_limit_s <= 0 || Elapsed() < o_.time_limit_s) return false;
  if (r_.stopped_early.empty()) {
    std::ostringstream os;
    os << "time limit of " << o_.time_limit_s << " s reached after " << r_.rows.size() << " of " << total_rows_
       << " rows";
    r_.stopped_early = os.str();
  }
  return true;
}

void Runner::RunShape(const Shape& shape, const RowCallback& on_row) {
  const int64_t N = shape.N, K = shape.K;
  const std::string name = std::to_string(N) + "x" + std::to_string(K);
  const bool bf16 = o_.x_dtype == DType::bf16;
  const size_t esz = 2;
  const size_t pbytes = gpu::prepack_bytes(Format::nvfp4, N, K);
  if (pbytes == 0 || gpu::prepack_bytes(Format::nvfp4_razer, N, K) != pbytes) {
    throw Error("ERR_SHAPE", "benchW4A16: shape " + name + " is not supported by the W4A16 kernels (N >= 1, K >= 16 "
                                                           "and a multiple of 16, N < 2^31, K < 2^30)");
  }
  const size_t codes_bytes = size_t(N) * size_t(K) / 2, scales_bytes = size_t(N) * size_t(K) / 16;
  const size_t l2x4 = size_t(4) * size_t(l2_);
  // Copies of the weights whose total is at least 4x the L2 (two at least, so
  // consecutive launches never share one), and of X likewise, up to as many
  // as the weights (launch i uses weight copy i % wc and X copy i % xc).
  auto copies_for = [&](size_t bytes) {
    return int(std::min(kMaxCopies, std::max<size_t>(2, (l2x4 + bytes - 1) / bytes)));
  };
  const int wc = copies_for(pbytes);
  const size_t w_stride = round_up(pbytes, 256);
  const int64_t m_max = *std::max_element(o_.ms.begin(), o_.ms.end());
  auto x_bytes = [&](int64_t M) { return size_t(M) * size_t(K) * esz; };
  auto x_copies = [&](int64_t M) {
    return int(std::min<size_t>(size_t(wc), std::max<size_t>(1, (l2x4 + x_bytes(M) - 1) / x_bytes(M))));
  };
  size_t x_pool = 0;
  for (int64_t M : o_.ms) x_pool = std::max(x_pool, size_t(x_copies(M)) * round_up(x_bytes(M), 256));
  DevicePtr x = Alloc(x_pool, "X of " + name);
  DevicePtr y = Alloc(size_t(m_max) * size_t(N) * esz, "Y of " + name);
  if (bf16) {
    gen_x<<<Grid(int64_t(x_pool / esz)), 256, 0, stream_>>>(as<__nv_bfloat16>(x), int64_t(x_pool / esz), 7);
  } else {
    gen_x<<<Grid(int64_t(x_pool / esz)), 256, 0, stream_>>>(as<__half>(x), int64_t(x_pool / esz), 7);
  }
  CheckLaunch("gen_x");

  // cuBLAS: dense weight copies (same rule as ours), its own Y.
  const bool use_cublas = cublas_ && cublas_->ok();
  const size_t dense_bytes = size_t(N) * size_t(K) * esz;
  const size_t d_stride = round_up(dense_bytes, 256);
  const int dc = copies_for(dense_bytes);
  DevicePtr dense, y_cublas;
  auto dense_at = [&](int i) { return static_cast<uint8_t*>(dense.get()) + size_t(i % dc) * d_stride; };
  if (use_cublas) {
    dense = Alloc(size_t(dc) * d_stride, "the dense (cuBLAS) weights of " + name);
    y_cublas = Alloc(size_t(m_max) * size_t(N) * esz, "cuBLAS's Y of " + name);
  }
  std::vector<double> cublas_us(o_.ms.size(), -1.0);
  std::vector<char> cublas_graph(o_.ms.size(), 0);
  std::vector<char> cublas_done(o_.ms.size(), 0);

  DevicePtr workspace;
  size_t workspace_bytes = 0;

  for (size_t fi = 0; fi < o_.formats.size(); ++fi) {
    const Format format = o_.formats[fi];
    const bool razer = format == Format::nvfp4_razer;
    // Random valid weights in the canonical layout, prepacked into wc copies.
    DevicePtr packed_mem = Alloc(size_t(wc) * w_stride, "the prepacked weights of " + name);
    std::vector<PackedWeights> packed(static_cast<size_t>(wc));
    {
      DevicePtr codes = Alloc(codes_bytes, "the codes of " + name);
      DevicePtr scales = Alloc(scales_bytes, "the scales of " + name);
      gen_bytes<<<Grid(int64_t(codes_bytes)), 256, 0, stream_>>>(as<uint8_t>(codes), int64_t(codes_bytes),
                                                                  11 + uint32_t(fi), 0);
      gen_bytes<<<Grid(int64_t(scales_bytes)), 256, 0, stream_>>>(as<uint8_t>(scales), int64_t(scales_bytes),
                                                                   13 + uint32_t(fi), razer ? 2 : 1);
      CheckLaunch("gen_bytes");
      const QuantizedView view{format, N, K, as<uint8_t>(codes), as<uint8_t>(scales), kGlobalScale, FormatParams{}};
      for (int c = 0; c < wc; ++c) {
        Check(gpu::prepack(view, as<uint8_t>(packed_mem) + size_t(c) * w_stride, pbytes, stream_, &packed[size_t(c)]),
              "prepack");
      }
      if (use_cublas) {
        const FormatParams params{};
        const int64_t n = N * K;
        if (bf16) {
          decode_weights<<<Grid(n), 256, 0, stream_>>>(as<uint8_t>(codes), as<uint8_t>(scales), n, razer ? 1 : 0,
                                                       params.sv_small, params.sv_big, reinterpret_cast<__nv_bfloat16*>(dense_at(0)));
        } else {
          decode_weights<<<Grid(n), 256, 0, stream_>>>(as<uint8_t>(codes), as<uint8_t>(scales), n, razer ? 1 : 0,
                                                       params.sv_small, params.sv_big, reinterpret_cast<__half*>(dense_at(0)));
        }
        CheckLaunch("decode_weights");
        for (int c = 1; c < dc; ++c) {
          Check(cudaMemcpyAsync(dense_at(c), dense_at(0), dense_bytes, cudaMemcpyDeviceToDevice, stream_),
                "cudaMemcpyAsync");
        }
      }
      Check(cudaStreamSynchronize(stream_), "weight set-up");
    }  // the canonical codes and scales are freed here

    for (size_t mi = 0; mi < o_.ms.size(); ++mi) {
      if (OutOfTime()) return;
      const int64_t M = o_.ms[mi];
      const int xc = x_copies(M);
      const size_t x_stride = round_up(x_bytes(M), 256);
      auto x_at = [&](int i) { return static_cast<const uint8_t*>(x.get()) + size_t(i % xc) * x_stride; };

      const size_t need = gpu::gemm_workspace_bytes(M, packed[0]);
      if (need > workspace_bytes) {
        workspace.reset();
        workspace = Alloc(need, "the GEMM workspace");
        workspace_bytes = need;
        Check(gpu::gemm_workspace_init(workspace.get(), workspace_bytes, stream_), "gemm_workspace_init");
      }
      const GemmPlan plan = gpu::gemm_plan(M, packed[0]);
      auto ours = [&](int i) {
        Check(gpu::gemm_w4a16(x_at(i), o_.x_dtype, M, packed[size_t(i % wc)], nullptr, y.get(), o_.x_dtype,
                              workspace.get(), workspace_bytes, stream_),
              "gemm_w4a16 (" + name + ", M=" + std::to_string(M) + ")");
      };

      Row row;
      row.N = N;
      row.K = K;
      row.M = M;
      row.format = format;
      row.kernel = gpu::gemm_kernel_name(plan.kernel);
      row.splits = plan.splits;
      row.weight_copies = wc;
      row.x_copies = xc;
      row.bytes = double(codes_bytes + scales_bytes + sizeof(float)) + double(x_bytes(M)) +
                  double(size_t(M) * size_t(N) * esz);
      row.flops = 2.0 * double(M) * double(N) * double(K);
      row.floor_us = row.bytes / (r_.floor_tbs * 1e6);

      // One plain launch first (it also warms the dispatcher's caches, which
      // must not be filled during a graph capture).
      ours(0);
      std::string why;
      const bool cublas_ready = use_cublas && cublas_->Prepare(M, N, K, o_.x_dtype, &why);
      if (use_cublas && !cublas_ready) row.cublas_error = why;
      auto dense_gemm = [&](int i) {
        const int s = cublas_->Gemm(x_at(i), dense_at(i), y_cublas.get(), kGlobalScale);
        if (s != 0) {
          throw Error("ERR_CUDA", "benchW4A16: " + cublas_->info().api + " GEMM failed with status " +
                                      std::to_string(s) + " (" + name + ", M=" + std::to_string(M) + ") [" +
                                      context_ + "]");
        }
      };
      if (cublas_ready) {
        dense_gemm(0);
        Check(cudaStreamSynchronize(stream_), "the check against cuBLAS");
        const size_t n = size_t(std::min<int64_t>(M, kCheckRows)) * size_t(N);
        std::vector<uint16_t> a(n), b(n);
        Check(cudaMemcpy(a.data(), y.get(), n * esz, cudaMemcpyDeviceToHost), "cudaMemcpy (Y)");
        Check(cudaMemcpy(b.data(), y_cublas.get(), n * esz, cudaMemcpyDeviceToHost), "cudaMemcpy (Y)");
        double num = 0, den = 0;
        for (size_t i = 0; i < n; ++i) {
          const double va = bf16 ? rz_bf16_to_f32(a[i]) : rz_f16_to_f32(a[i]);
          const double vb = bf16 ? rz_bf16_to_f32(b[i]) : rz_f16_to_f32(b[i]);
          num += (va - vb) * (va - vb);
          den += vb * vb;
        }
        row.rel_error = den > 0 ? std::sqrt(num / den) : (num == 0 ? 0.0 : NAN);
      }
      Check(cudaStreamSynchronize(stream_), "gemm_w4a16 (" + name + ", M=" + std::to_string(M) + ")");

      const Timing t = Measure(ours, wc);
      row.us = t.us;
      row.launches = t.launches;
      row.graph = t.graph;
      // cuBLAS does not depend on the format: timed once per shape and M.
      if (cublas_ready && !cublas_done[mi]) {
        const Timing tc = Measure(dense_gemm, dc);
        cublas_us[mi] = tc.us;
        cublas_graph[mi] = tc.graph;
        cublas_done[mi] = 1;
      }
      row.cublas_us = cublas_us[mi];
      row.cublas_graph = cublas_graph[mi] != 0;
      r_.rows.push_back(row);
      if (on_row) on_row(r_.rows.back(), int(r_.rows.size()) - 1, total_rows_);
    }
  }
}

Result Runner::Run(const RowCallback& on_row) {
  Setup();
  MeasureBandwidth();
  if (o_.cublas) {
    cublas_ws_ = Alloc(kCublasWorkspace, "the cuBLAS workspace");
    cublas_ = std::make_unique<Cublas>(o_.cublas_path, stream_, cublas_ws_.get(), kCublasWorkspace);
    r_.cublas = cublas_->info();
  } else {
    r_.cublas.reason = "disabled";
  }
  total_rows_ = int(o_.shapes.size() * o_.formats.size() * o_.ms.size());
  for (const Shape& shape : o_.shapes) {
    if (OutOfTime()) break;
    RunShape(shape, on_row);
  }
  Check(cudaStreamSynchronize(stream_), "the benchmark");
  cublas_.reset();  // its handle before its workspace
  r_.elapsed_s = Elapsed();
  return std::move(r_);
}

}  // namespace

Result RunW4A16(const Options& options, const RowCallback& on_row) {
  if (options.shapes.empty() || options.ms.empty() || options.formats.empty()) {
    throw Error("ERR_ARGUMENT", "benchW4A16: expected at least one shape, one M and one format");
  }
  for (Format f : options.formats) {
    if (f != Format::nvfp4 && f != Format::nvfp4_razer) {
      throw Error("ERR_FORMAT", "benchW4A16: the W4A16 benchmark runs nvfp4 and nvfp4_razer weights only");
    }
  }
  if (options.x_dtype != DType::bf16 && options.x_dtype != DType::f16) {
    throw Error("ERR_DTYPE", "benchW4A16: X must be bf16 or f16");
  }
  Runner runner(options);
  return runner.Run(on_row);
}

}  // namespace razer::bench
