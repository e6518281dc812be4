// Benchmark for the W4A16 GPU path against cuBLAS bf16 (standalone executable).
//
// Build (from the repository root; cuBLAS is NOT linked, it is dlopen'ed):
//   nvcc -std=c++17 -O3 -gencode arch=compute_90a,code=sm_90a -I cuda \
//        cuda/bench/gemm_bench.cu cuda/kernels/prepack.cu cuda/kernels/dispatch.cu \
//        cuda/kernels/gemm_w4a16*.cu -ldl -o gemm_bench
// or cuda/bench/build.sh (parallel, also builds gemm_check).
// Run: ./gemm_bench out.json [--sweep | --sweep-only] [--kernels PREFIX] [--quick] [--cublas PATH]
//                   [--ms 32,64] [--shapes 8192x8192,4096x14336]
//      ./gemm_bench x.json --one M N K RAZER   (3 launches for ncu; RZ_ONE_KERNEL=name[:splits]
//      picks the kernel instead of the dispatcher)
//
// Per run: measures device bandwidth (a large device-to-device copy, bytes
// read + written; a read-only reduction), then for the shapes (N x K)
// 8192x8192, 28672x8192, 8192x28672, 57344x8192 and M in {1, 16, 64, 128,
// 1024, 4096}: the dispatcher's kernel for nvfp4 and nvfp4_razer (bf16 X,
// bf16 Y) and cuBLAS bf16 (cublasGemmEx, fp32 compute) on the same product
// (its bf16 weight is our decoded v*s, exact in bf16, alpha = G, so the two
// outputs are compared as a sanity check). Timing: CUDA graphs of R
// back-to-back launches whose weights rotate over enough prepacked copies
// that the working set exceeds the L2 several times, warm-up, median of
// replays. Floor = bytes that must move (packed weight + X + Y) / the
// read-only bandwidth measured in the same run. --sweep also times every
// kernel of the table with several K splits (tuning data for dispatch.cu).
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <glob.h>
#include <library_types.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/gemm_layout.h"  // first: <cstring> for arith.h
#include "formats/formats.h"
#include "kernels/gemm.cuh"
#include "bench/bench_kernels.cuh"

using namespace razer;
using namespace razer::gpu;

#define CK(call)                                                                       \
  do {                                                                                 \
    cudaError_t e_ = (call);                                                           \
    if (e_ != cudaSuccess) {                                                           \
      std::fprintf(stderr, "%s:%d: %s -> %s\n", __FILE__, __LINE__, #call,             \
                   cudaGetErrorString(e_));                                            \
      std::exit(2);                                                                    \
    }                                                                                  \
  } while (0)

// ------------------------------------------------------------- cuBLAS ----
typedef int (*cublasCreate_t)(void**);
typedef int (*cublasDestroy_t)(void*);
typedef int (*cublasSetStream_t)(void*, cudaStream_t);
typedef int (*cublasSetWorkspace_t)(void*, void*, size_t);
typedef int (*cublasGemmEx_t)(void*, int, int, int, int, int, const void*, const void*,
                              cudaDataType, int, const void*, cudaDataType, int, const void*,
                              void*, cudaDataType, int, int, int);
struct Cublas {
  void* lib = nullptr;
  void* handle = nullptr;
  cublasGemmEx_t gemm = nullptr;
  std::string path;
  bool ok() const { return handle != nullptr; }
};

static Cublas load_cublas(const char* override_path, cudaStream_t stream, void* ws,
                          size_t ws_bytes) {
  Cublas c;
  std::vector<std::string> cands;
  if (override_path) cands.push_back(override_path);
  if (const char* e = std::getenv("RZ_CUBLAS")) cands.push_back(e);
  cands.push_back("libcublas.so.13");
  const char* pats[] = {"/usr/local/cuda/lib64/libcublas.so.13*",
                        "/usr/local/cuda*/lib64/libcublas.so.13*",
                        "/usr/local/cuda*/targets/x86_64-linux/lib/libcublas.so.13*",
                        "/usr/lib/x86_64-linux-gnu/libcublas.so.13*",
                        "/opt/*/.venv/lib/python3*/site-packages/nvidia/cu13/lib/libcublas.so.13*",
                        "/opt/*/.venv/lib/python3*/site-packages/nvidia/cublas/lib/libcublas.so.13*",
                        "/usr/local/lib/python3*/dist-packages/nvidia/cu13/lib/libcublas.so.13*",
                        "/usr/local/lib/python3*/dist-packages/nvidia/cublas/lib/libcublas.so.13*",
                        "/usr/lib/python3*/*-packages/nvidia/cu*/lib/libcublas.so.13*"};
  for (const char* p : pats) {
    glob_t g;
    if (glob(p, 0, nullptr, &g) == 0)
      for (size_t i = 0; i < g.gl_pathc; ++i) cands.push_back(g.gl_pathv[i]);
    globfree(&g);
  }
  for (const std::string& p : cands) {
    c.lib = dlopen(p.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (c.lib) {
      c.path = p;
      break;
    }
  }
  if (!c.lib) {
    std::printf("cuBLAS: libcublas.so.13 not found (%s)\n", dlerror());
    return c;
  }
  auto create = (cublasCreate_t)dlsym(c.lib, "cublasCreate_v2");
  auto setstream = (cublasSetStream_t)dlsym(c.lib, "cublasSetStream_v2");
  auto setws = (cublasSetWorkspace_t)dlsym(c.lib, "cublasSetWorkspace_v2");
  c.gemm = (cublasGemmEx_t)dlsym(c.lib, "cublasGemmEx");
  if (!create || !setstream || !c.gemm) {
    std::printf("cuBLAS: missing symbols in %s\n", c.path.c_str());
    return c;
  }
  void* h = nullptr;
  if (create(&h) != 0) {
    std::printf("cuBLAS: cublasCreate failed\n");
    return c;
  }
  setstream(h, stream);
  if (setws) setws(h, ws, ws_bytes);
  c.handle = h;
  std::printf("cuBLAS: %s\n", c.path.c_str());
  return c;
}

// Y[M, N] (bf16, row-major) = alpha * X[M, K] · W[N, K]^T: column-major
// C[N, M] = op(A = W as [K, N] col-major)^T · B (X as [K, M] col-major).
static int cublas_gemm(const Cublas& c, const void* x, const void* w, void* y, int M, int N, int K,
                       float alpha) {
  const float beta = 0.0f;
  return c.gemm(c.handle, 1 /*T*/, 0 /*N*/, N, M, K, &alpha, w, CUDA_R_16BF, K, x, CUDA_R_16BF, K,
                &beta, y, CUDA_R_16BF, N, 68 /*CUBLAS_COMPUTE_32F*/, -1 /*DEFAULT*/);
}

// ------------------------------------------------------------ kernels ----
// (hash32, gen_bytes, gen_x, decode_weights, read_reduce: bench_kernels.cuh)
using namespace razer::bench_kernels;

// ------------------------------------------------------------- timing ----
// Median time per launch of `body(i)` (i = launch index) captured R times in
// a graph; falls back to plain launches if capture fails.
template <class F>
static double time_us(cudaStream_t s, int R, int replays, F body) {
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  bool graph_ok = cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal) == cudaSuccess;
  if (graph_ok) {
    for (int i = 0; i < R; ++i) body(i);
    graph_ok = cudaStreamEndCapture(s, &graph) == cudaSuccess && graph != nullptr;
    if (graph_ok) graph_ok = cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess;
  }
  cudaGetLastError();
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  std::vector<float> t;
  for (int rep = 0; rep < replays + 2; ++rep) {
    CK(cudaEventRecord(e0, s));
    if (graph_ok) {
      CK(cudaGraphLaunch(exec, s));
    } else {
      for (int i = 0; i < R; ++i) body(i);
    }
    CK(cudaEventRecord(e1, s));
    CK(cudaEventSynchronize(e1));
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, e0, e1));
    if (rep >= 2) t.push_back(ms);
  }
  CK(cudaGetLastError());
  if (exec) cudaGraphExecDestroy(exec);
  if (graph) cudaGraphDestroy(graph);
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  std::sort(t.begin(), t.end());
  return 1000.0 * t[t.size() / 2] / R;
}

static int pick_R(double est_us) {
  int R = int(3000.0 / std::max(est_us, 1.0));
  return std::min(100, std::max(3, R));
}

// ----------------------------------------------------------------- main --
struct Row {
  std::string shape, fmt, kernel;
  int64_t M, N, K;
  int splits;
  double us, bytes, tbs, floor_us, pct_floor, cublas_us, x_cublas, tflops, rel_vs_cublas;
};

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s out.json [--sweep] [--quick] [--cublas PATH]\n", argv[0]);
    return 2;
  }
  const char* json_path = argv[1];
  bool sweep = false, quick = false, sweep_only = false;
  const char* only_prefix = nullptr;  // --kernels PREFIX: sweep only these kernels
  const char* cublas_path = nullptr;
  const char* ms_arg = nullptr;      // --ms 32,64: these M instead of the default list
  const char* shapes_arg = nullptr;  // --shapes 8192x8192,4096x14336: these N x K
  int64_t one[4] = {0, 0, 0, 0};  // --one M N K razer: a few launches for ncu
  for (int i = 2; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--one") && i + 4 < argc) {
      for (int j = 0; j < 4; ++j) one[j] = std::atoll(argv[i + 1 + j]);
      i += 4;
      continue;
    }
    if (!std::strcmp(argv[i], "--sweep")) sweep = true;
    else if (!std::strcmp(argv[i], "--sweep-only")) sweep = sweep_only = true;
    else if (!std::strcmp(argv[i], "--quick")) quick = true;
    else if (!std::strcmp(argv[i], "--kernels") && i + 1 < argc) only_prefix = argv[++i];
    else if (!std::strcmp(argv[i], "--cublas") && i + 1 < argc) cublas_path = argv[++i];
    else if (!std::strcmp(argv[i], "--ms") && i + 1 < argc) ms_arg = argv[++i];
    else if (!std::strcmp(argv[i], "--shapes") && i + 1 < argc) shapes_arg = argv[++i];
  }
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  int clk = 0, memclk = 0;
  cudaDeviceGetAttribute(&clk, cudaDevAttrClockRate, 0);
  cudaDeviceGetAttribute(&memclk, cudaDevAttrMemoryClockRate, 0);
  std::printf("device: %s, %d SMs, L2 %d MB, sm clock %d MHz, mem clock %d MHz\n", prop.name,
              prop.multiProcessorCount, prop.l2CacheSize >> 20, clk / 1000, memclk / 1000);
  cudaStream_t s;
  CK(cudaStreamCreate(&s));

  if (one[0] > 0) {  // profiling mode: dispatcher's kernel, 3 launches, no timing
    const int64_t M = one[0], N = one[1], K = one[2];
    const Format f = one[3] ? Format::nvfp4_razer : Format::nvfp4;
    uint8_t *codes, *scales;
    __nv_bfloat16 *x, *y;
    CK(cudaMalloc(&codes, size_t(N * K / 2)));
    CK(cudaMalloc(&scales, size_t(N * K / 16)));
    CK(cudaMalloc(&x, size_t(M * K) * 2));
    CK(cudaMalloc(&y, size_t(M * N) * 2));
    gen_bytes<<<4096, 256, 0, s>>>(codes, N * K / 2, 11, 0);
    gen_bytes<<<4096, 256, 0, s>>>(scales, N * K / 16, 13, one[3] ? 2 : 1);
    gen_x<<<4096, 256, 0, s>>>(x, M * K, 7);
    QuantizedView v{f, N, K, codes, scales, 0.01f, FormatParams{}};
    const size_t pbytes = prepack_bytes(f, N, K);
    void* packed;
    PackedWeights pw;
    CK(cudaMalloc(&packed, pbytes));
    CK(prepack(v, packed, pbytes, s, &pw));
    // RZ_ONE_KERNEL=name[:splits] profiles that kernel instead of the dispatcher's.
    GemmPlan p = gemm_plan(M, pw);
    if (const char* want = std::getenv("RZ_ONE_KERNEL")) {
      const char* colon = std::strchr(want, ':');
      const std::string name = colon ? std::string(want, colon) : std::string(want);
      for (int k = 0; k < gemm_kernel_count(); ++k)
        if (name == gemm_kernel_name(k)) p = gemm_plan_normalize({k, colon ? std::atoi(colon + 1) : 1}, M, pw);
    }
    const size_t wsb = gemm_plan_workspace_bytes(p, M, pw);
    void* ws = nullptr;
    if (wsb) {
      CK(cudaMalloc(&ws, wsb));
      CK(gemm_workspace_init(ws, wsb, s));
    }
    std::printf("one: M=%lld N=%lld K=%lld %s -> %s splits %d\n", (long long)M, (long long)N,
                (long long)K, one[3] ? "razer" : "nvfp4", gemm_kernel_name(p.kernel), p.splits);
    for (int i = 0; i < 3; ++i)
      CK(gemm_w4a16_plan(p, x, DType::bf16, M, pw, nullptr, y, DType::bf16, ws, wsb, s));
    CK(cudaStreamSynchronize(s));
    return 0;
  }

  // ---- bandwidth
  const size_t bw_bytes = size_t(2) << 30;
  void *ba, *bb;
  unsigned* dummy;
  CK(cudaMalloc(&ba, bw_bytes));
  CK(cudaMalloc(&bb, bw_bytes));
  CK(cudaMalloc(&dummy, 4));
  gen_bytes<<<4096, 256, 0, s>>>((uint8_t*)ba, int64_t(bw_bytes), 1, 0);
  CK(cudaGetLastError());
  const double copy_us = time_us(s, 3, 7, [&](int) {
    cudaMemcpyAsync(bb, ba, bw_bytes, cudaMemcpyDeviceToDevice, s);
  });
  const double copy_tbs = 2.0 * bw_bytes / (copy_us * 1e-6) / 1e12;
  const double read_us = time_us(s, 3, 7, [&](int) {
    read_reduce<<<prop.multiProcessorCount * 8, 512, 0, s>>>((const uint4*)ba,
                                                              int64_t(bw_bytes / 16), dummy);
  });
  const double read_tbs = bw_bytes / (read_us * 1e-6) / 1e12;
  std::printf("bandwidth: D2D copy %.3f TB/s (read+write), read-only reduction %.3f TB/s\n",
              copy_tbs, read_tbs);
  CK(cudaFree(ba));
  CK(cudaFree(bb));

  void* cublas_ws;
  const size_t cublas_ws_bytes = size_t(64) << 20;
  CK(cudaMalloc(&cublas_ws, cublas_ws_bytes));
  Cublas cb = load_cublas(cublas_path, s, cublas_ws, cublas_ws_bytes);

  struct Shape {
    int64_t N, K;
  };
  std::vector<Shape> shapes = {{8192, 8192}, {28672, 8192}, {8192, 28672}, {57344, 8192}};
  std::vector<int64_t> Ms = {1, 16, 64, 128, 1024, 4096};
  if (quick) {
    shapes = {{8192, 8192}};
    Ms = {1, 16, 128, 1024};
  }
  if (ms_arg) {
    Ms.clear();
    for (const char* p = ms_arg; *p;) {
      Ms.push_back(std::strtoll(p, const_cast<char**>(&p), 10));
      if (*p == ',') ++p;
      else if (*p) break;
    }
  }
  if (shapes_arg) {
    shapes.clear();
    for (const char* p = shapes_arg; *p;) {
      Shape sh{};
      sh.N = std::strtoll(p, const_cast<char**>(&p), 10);
      if (*p == 'x') sh.K = std::strtoll(p + 1, const_cast<char**>(&p), 10);
      if (sh.N > 0 && sh.K > 0 && sh.K % 16 == 0) shapes.push_back(sh);
      if (*p == ',') ++p;
      else break;
    }
  }
  if (Ms.empty() || shapes.empty() || *std::min_element(Ms.begin(), Ms.end()) < 1) {
    std::fprintf(stderr, "--ms / --shapes: expected lists like 32,64 and 8192x8192,4096x14336\n");
    return 2;
  }
  std::vector<Row> rows;
  std::vector<std::string> sweep_lines;

  for (const Shape& sh : shapes) {
    const int64_t N = sh.N, K = sh.K;
    char shape_name[64];
    std::snprintf(shape_name, sizeof shape_name, "%lldx%lld", (long long)N, (long long)K);
    const int64_t Mmax = *std::max_element(Ms.begin(), Ms.end());
    __nv_bfloat16 *x, *y, *ycb, *wdeq = nullptr, *wdeq2 = nullptr;
    CK(cudaMalloc(&x, size_t(Mmax * K) * 2));
    CK(cudaMalloc(&y, size_t(Mmax * N) * 2));
    CK(cudaMalloc(&ycb, size_t(Mmax * N) * 2));
    gen_x<<<4096, 256, 0, s>>>(x, Mmax * K, 7);
    CK(cudaGetLastError());
    CK(cudaMalloc(&wdeq, size_t(N * K) * 2));
    // a second cuBLAS weight copy when one copy is under 4x the L2
    const bool two_cb = size_t(N * K) * 2 < size_t(4) * prop.l2CacheSize;
    if (two_cb) CK(cudaMalloc(&wdeq2, size_t(N * K) * 2));
    std::vector<double> cublas_us(Ms.size(), 0.0);

    for (int fi = 0; fi < 2; ++fi) {
      const Format f = fi ? Format::nvfp4_razer : Format::nvfp4;
      const char* fname = fi ? "nvfp4_razer" : "nvfp4";
      uint8_t *codes, *scales;
      CK(cudaMalloc(&codes, size_t(N * K / 2)));
      CK(cudaMalloc(&scales, size_t(N * K / 16)));
      gen_bytes<<<4096, 256, 0, s>>>(codes, N * K / 2, 11 + fi, 0);
      gen_bytes<<<4096, 256, 0, s>>>(scales, N * K / 16, 13 + fi, fi ? 2 : 1);
      CK(cudaGetLastError());
      const float G = 0.01f;
      QuantizedView v{f, N, K, codes, scales, G, FormatParams{}};
      const size_t pbytes = prepack_bytes(f, N, K);
      const int copies = int(std::max<size_t>(2, (size_t(4) * prop.l2CacheSize + pbytes - 1) / pbytes));
      std::vector<void*> packed(copies);
      std::vector<PackedWeights> pw(copies);
      for (int c = 0; c < copies; ++c) {
        CK(cudaMalloc(&packed[c], pbytes));
        CK(prepack(v, packed[c], pbytes, s, &pw[c]));
      }
      // cuBLAS weight: the same decoded values (exact in bf16), alpha = G.
      decode_weights<<<8192, 256, 0, s>>>(codes, scales, N * K, fi, 5.0f, 8.0f, wdeq);
      CK(cudaGetLastError());
      if (two_cb) CK(cudaMemcpyAsync(wdeq2, wdeq, size_t(N * K) * 2, cudaMemcpyDeviceToDevice, s));
      CK(cudaStreamSynchronize(s));
      CK(cudaFree(codes));
      CK(cudaFree(scales));

      for (size_t mi = 0; mi < Ms.size(); ++mi) {
        const int64_t M = Ms[mi];
        const double flops = 2.0 * M * N * K;
        // workspace large enough for every plan tried here
        size_t wsb = 0;
        for (int k = 0; k < gemm_kernel_count(); ++k)
          for (int sp : {1, 2, 3, 4, 6, 8, 12, 16}) {
            GemmPlan p{k, sp};
            wsb = std::max(wsb, gemm_plan_workspace_bytes(p, M, pw[0]));
          }
        wsb = std::max(wsb, gemm_workspace_bytes(M, pw[0]));
        void* ws = nullptr;
        if (wsb) {
          CK(cudaMalloc(&ws, wsb));
          CK(gemm_workspace_init(ws, wsb, s));
        }
        const double bytes = double(pbytes) + double(M * K) * 2 + double(M * N) * 2;
        const double floor_us = bytes / (read_tbs * 1e12) * 1e6;

        auto time_plan = [&](GemmPlan plan) {
          auto body = [&](int i) {
            cudaError_t e = plan.kernel < 0
                                ? gemm_w4a16(x, DType::bf16, M, pw[i % copies], nullptr, y,
                                             DType::bf16, ws, wsb, s)
                                : gemm_w4a16_plan(plan, x, DType::bf16, M, pw[i % copies], nullptr,
                                                  y, DType::bf16, ws, wsb, s);
            if (e != cudaSuccess) {
              std::fprintf(stderr, "gemm failed: %s\n", cudaGetErrorString(e));
              std::exit(2);
            }
          };
          // estimate
          const double est = time_us(s, 2, 1, body);
          return time_us(s, pick_R(est), 7, body);
        };

        // sweep (tuning data)
        if (sweep && (M <= 128 || M == 1024)) {
          // dispatcher's own choice, for reference
          {
            const GemmPlan dp = gemm_plan(M, pw[0]);
            char line[256];
            std::snprintf(line, sizeof line, "plan  %-12s %-11s M=%-5lld %s/s%d", shape_name, fname,
                          (long long)M, gemm_kernel_name(dp.kernel), dp.splits);
            sweep_lines.push_back(line);
            std::printf("%s\n", line);
          }
          double best = 1e30;
          std::string best_name;
          for (int k = 0; k < gemm_kernel_count(); ++k) {
            const char* kn = gemm_kernel_name(k);
            const bool big = !std::strncmp(kn, "tile", 4) || !std::strncmp(kn, "wgmma", 5);
            if (M >= 1024 && !big) continue;
            if (M <= 16 && big) continue;
            if (only_prefix && std::strncmp(kn, only_prefix, std::strlen(only_prefix)) != 0) continue;
            int last = -1;
            for (int sp : {1, 2, 3, 4, 6, 8, 12, 16}) {
              GemmPlan p = gemm_plan_normalize(GemmPlan{k, sp}, M, pw[0]);
              if (p.splits == last) continue;
              last = p.splits;
              const double us = time_plan(p);
              char line[256];
              std::snprintf(line, sizeof line, "sweep %-12s %-11s M=%-5lld %-18s splits=%-3d %9.2f us  %5.1f%% floor",
                            shape_name, fname, (long long)M, gemm_kernel_name(k), p.splits, us,
                            100.0 * floor_us / us);
              sweep_lines.push_back(line);
              std::printf("%s\n", line);
              if (us < best) {
                best = us;
                best_name = std::string(gemm_kernel_name(k)) + "/s" + std::to_string(p.splits);
              }
            }
          }
          char line[256];
          std::snprintf(line, sizeof line, "best  %-12s %-11s M=%-5lld %s %.2f us", shape_name,
                        fname, (long long)M, best_name.c_str(), best);
          sweep_lines.push_back(line);
          std::printf("%s\n", line);
        }

        if (sweep_only) {
          if (ws) CK(cudaFree(ws));
          continue;
        }
        const GemmPlan plan = gemm_plan(M, pw[0]);
        const double us = time_plan(GemmPlan{-1, 1});
        // cuBLAS (once per shape and M; it does not depend on the format)
        double rel = -1;
        if (cb.ok()) {
          if (fi == 0) {
            auto body = [&](int i) {
              const void* wsel = (two_cb && (i & 1)) ? wdeq2 : wdeq;
              if (cublas_gemm(cb, x, wsel, ycb, int(M), int(N), int(K), G) != 0) {
                std::fprintf(stderr, "cublasGemmEx failed\n");
                std::exit(2);
              }
            };
            const double est = time_us(s, 2, 1, body);
            cublas_us[mi] = time_us(s, pick_R(est), 7, body);
          }
          // sanity: our output vs cuBLAS on the same product (first rows)
          CK(gemm_w4a16(x, DType::bf16, M, pw[0], nullptr, y, DType::bf16, ws, wsb, s));
          if (cublas_gemm(cb, x, wdeq, ycb, int(M), int(N), int(K), G) != 0) std::exit(2);
          CK(cudaStreamSynchronize(s));
          const int64_t mr = std::min<int64_t>(M, 16);
          std::vector<uint16_t> a(size_t(mr * N)), b(size_t(mr * N));
          CK(cudaMemcpy(a.data(), y, a.size() * 2, cudaMemcpyDeviceToHost));
          CK(cudaMemcpy(b.data(), ycb, b.size() * 2, cudaMemcpyDeviceToHost));
          double num = 0, den = 0;
          for (size_t i = 0; i < a.size(); ++i) {
            const double da = rz_bf16_to_f32(a[i]), db = rz_bf16_to_f32(b[i]);
            num += (da - db) * (da - db);
            den += db * db;
          }
          rel = den > 0 ? std::sqrt(num / den) : -1;
        }
        Row r;
        r.shape = shape_name;
        r.fmt = fname;
        r.kernel = gemm_kernel_name(plan.kernel);
        r.M = M;
        r.N = N;
        r.K = K;
        r.splits = plan.splits;
        r.us = us;
        r.bytes = bytes;
        r.tbs = bytes / (us * 1e-6) / 1e12;
        r.floor_us = floor_us;
        r.pct_floor = 100.0 * floor_us / us;
        r.cublas_us = cublas_us[mi];
        r.x_cublas = cublas_us[mi] > 0 ? cublas_us[mi] / us : 0;
        r.tflops = flops / (us * 1e-6) / 1e12;
        r.rel_vs_cublas = rel;
        rows.push_back(r);
        std::printf("%-12s %-11s M=%-5lld %-16s s=%-2d %9.2f us %6.3f TB/s %5.1f%% floor | cuBLAS %9.2f us  x%.2f | %6.1f TFLOP/s | rel %.1e\n",
                    shape_name, fname, (long long)M, r.kernel.c_str(), r.splits, us, r.tbs,
                    r.pct_floor, r.cublas_us, r.x_cublas, r.tflops, rel);
        std::fflush(stdout);
        if (ws) CK(cudaFree(ws));
      }
      for (void* p : packed) CK(cudaFree(p));
    }
    CK(cudaFree(x));
    CK(cudaFree(y));
    CK(cudaFree(ycb));
    CK(cudaFree(wdeq));
    if (wdeq2) CK(cudaFree(wdeq2));
  }

  // ---- summary table (last, so it is at the end of the output)
  std::printf("\n== W4A16 vs cuBLAS bf16 (bf16 X, bf16 Y); copy BW %.3f TB/s, read BW %.3f TB/s; floor = bytes / read BW ==\n",
              copy_tbs, read_tbs);
  std::printf("%-12s %-11s %6s %-16s %3s %10s %8s %7s %10s %7s %8s\n", "N x K", "format", "M",
              "kernel", "S", "us", "TB/s", "%floor", "cuBLAS us", "x cuBL", "TFLOP/s");
  for (const Row& r : rows)
    std::printf("%-12s %-11s %6lld %-16s %3d %10.2f %8.3f %6.1f%% %10.2f %7.2f %8.1f\n",
                r.shape.c_str(), r.fmt.c_str(), (long long)r.M, r.kernel.c_str(), r.splits, r.us,
                r.tbs, r.pct_floor, r.cublas_us, r.x_cublas, r.tflops);

  FILE* fj = std::fopen(json_path, "w");
  if (fj) {
    std::fprintf(fj, "{\n  \"device\": \"%s\",\n  \"sms\": %d,\n  \"copy_tbs\": %.4f,\n  \"read_tbs\": %.4f,\n  \"cublas\": \"%s\",\n  \"rows\": [\n",
                 prop.name, prop.multiProcessorCount, copy_tbs, read_tbs, cb.path.c_str());
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      std::fprintf(fj,
                   "    {\"shape\": \"%s\", \"N\": %lld, \"K\": %lld, \"M\": %lld, \"format\": \"%s\", "
                   "\"kernel\": \"%s\", \"splits\": %d, \"us\": %.3f, \"bytes\": %.0f, \"tbs\": %.4f, "
                   "\"floor_us\": %.3f, \"pct_floor\": %.2f, \"cublas_us\": %.3f, \"x_cublas\": %.3f, "
                   "\"tflops\": %.2f, \"rel_vs_cublas\": %.3e}%s\n",
                   r.shape.c_str(), (long long)r.N, (long long)r.K, (long long)r.M, r.fmt.c_str(),
                   r.kernel.c_str(), r.splits, r.us, r.bytes, r.tbs, r.floor_us, r.pct_floor,
                   r.cublas_us, r.x_cublas, r.tflops, r.rel_vs_cublas,
                   i + 1 < rows.size() ? "," : "");
    }
    std::fprintf(fj, "  ],\n  \"sweep\": [\n");
    for (size_t i = 0; i < sweep_lines.size(); ++i)
      std::fprintf(fj, "    \"%s\"%s\n", sweep_lines[i].c_str(), i + 1 < sweep_lines.size() ? "," : "");
    std::fprintf(fj, "  ]\n}\n");
    std::fclose(fj);
    std::printf("wrote %s\n", json_path);
  }
  return 0;
}
