// Correctness and bandwidth harness for the GPU quantizers
// (cuda/kernels/quantize.cuh). Standalone; build from the repository root:
//   nvcc -std=c++17 -O3 --fmad=false -gencode arch=compute_90a,code=sm_90a -I cuda \
//        -Xcompiler -ffp-contract=off,-pthread \
//        cuda/tests/quantize_check.cu cuda/kernels/quantize.cu -o build/quantize_check
//   build/quantize_check --vectors .gpu/qvec [--small] [--no-timing] [--subset K]
// (--subset K: every K-th vector case plus the non-finite ones, two passes;
// for sanitizer runs.)
// 1. Test vectors from the TS reference (cuda/tests/quantize_vectors.mjs):
//    codes, scales and G compared byte for byte; non-finite cases compared by
//    status (first bad index) and checked for NaN-free scale bytes. Run with
//    the default kernels, with the generic path forced, and with the other
//    kernel variants (2 CTAs/SM build, forward block order).
// 2. Unless --small: 4096 x 8192 bf16 random activations (device-generated,
//    outlier channels) quantized on the GPU and compared with the shared
//    reference quantizers of cuda/formats/ on the CPU, all blocks.
// 3. Unless --small / --no-timing: bandwidth of activation and weight
//    quantization on 4096 x 8192 bf16, inputs rotated over buffers totalling
//    > 100 MB, CUDA events around back-to-back launches after warm-up, median
//    of repetitions; against a device-to-device copy and a read-only
//    reduction measured in the same run.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "kernels/quantize.cuh"
#include "kernels/quantize_block.cuh"
#include "kernels/quantize_fast.cuh"

using razer::DType;
using razer::Format;
using razer::FormatParams;
namespace gpu = razer::gpu;

#define CK(call)                                                                          \
  do {                                                                                    \
    cudaError_t e_ = (call);                                                              \
    if (e_ != cudaSuccess) {                                                              \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call,                  \
                   cudaGetErrorString(e_));                                               \
      std::exit(2);                                                                       \
    }                                                                                     \
  } while (0)

namespace {

int g_failures = 0;

std::vector<uint8_t> read_file(const std::string& path) {
  std::vector<uint8_t> v;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return v;
  std::fseek(f, 0, SEEK_END);
  v.resize(size_t(std::ftell(f)));
  std::fseek(f, 0, SEEK_SET);
  if (std::fread(v.data(), 1, v.size(), f) != v.size()) v.clear();
  std::fclose(f);
  return v;
}

bool parse_format(const std::string& s, Format* f) {
  if (s == "nvfp4") *f = Format::nvfp4;
  else if (s == "nvfp4_4over6") *f = Format::nvfp4_4over6;
  else if (s == "nvfp4_razer") *f = Format::nvfp4_razer;
  else if (s == "nvfp4_razer_a") *f = Format::nvfp4_razer_a;
  else return false;
  return true;
}

bool parse_dtype(const std::string& s, DType* d) {
  if (s == "f32") *d = DType::f32;
  else if (s == "f16") *d = DType::f16;
  else if (s == "bf16") *d = DType::bf16;
  else return false;
  return true;
}

size_t dtype_bytes(DType d) { return d == DType::f32 ? 4 : 2; }

struct Case {
  std::string name, api, format, dtype, gmode;
  int64_t rows, cols, status;
  uint32_t gbits;
  float sv_small, sv_big, sv_act;
};

std::vector<Case> read_cases(const std::string& dir) {
  std::vector<Case> cases;
  FILE* f = std::fopen((dir + "/cases.txt").c_str(), "r");
  if (!f) return cases;
  char name[256], api[8], fmt[32], dt[8], gmode[16], gbits[16];
  long long rows, cols, st;
  double svs, svb, sva;
  while (std::fscanf(f, "%255s %7s %31s %7s %lld %lld %15s %15s %lf %lf %lf %lld", name, api, fmt,
                     dt, &rows, &cols, gmode, gbits, &svs, &svb, &sva, &st) == 12) {
    Case c;
    c.name = name;
    c.api = api;
    c.format = fmt;
    c.dtype = dt;
    c.gmode = gmode;
    c.rows = rows;
    c.cols = cols;
    c.status = st;
    c.gbits = uint32_t(std::strtoul(gbits, nullptr, 16));
    c.sv_small = float(svs);
    c.sv_big = float(svb);
    c.sv_act = float(sva);
    cases.push_back(c);
  }
  std::fclose(f);
  return cases;
}

// Runs every vector case once with the current tuning; returns the failures.
int run_vectors(const std::string& dir, const std::vector<Case>& cases, const char* label,
                cudaStream_t stream, int* fast_cases) {
  int bad = 0;
  size_t ws_bytes = gpu::quantize_workspace_bytes(0, 0);
  void* ws;
  CK(cudaMalloc(&ws, ws_bytes));
  CK(gpu::quantize_workspace_init(ws, ws_bytes, stream));
  float* d_g;
  unsigned long long* d_status;
  float* d_static;
  CK(cudaMalloc(&d_g, 4));
  CK(cudaMalloc(&d_status, 8));
  CK(cudaMalloc(&d_static, 4));
  for (const Case& c : cases) {
    Format fmt;
    DType dt;
    if (!parse_format(c.format, &fmt) || !parse_dtype(c.dtype, &dt)) {
      std::printf("  %s: bad case line\n", c.name.c_str());
      ++bad;
      continue;
    }
    const std::vector<uint8_t> x = read_file(dir + "/" + c.name + ".x");
    const int64_t n = c.rows * c.cols;
    if (int64_t(x.size()) != n * int64_t(dtype_bytes(dt))) {
      std::printf("  %s: missing or short input file\n", c.name.c_str());
      ++bad;
      continue;
    }
    void* d_x;
    uint8_t *d_codes, *d_scales;
    CK(cudaMalloc(&d_x, x.size()));
    CK(cudaMalloc(&d_codes, size_t(n / 2)));
    CK(cudaMalloc(&d_scales, size_t(n / 16)));
    CK(cudaMemcpy(d_x, x.data(), x.size(), cudaMemcpyHostToDevice));
    // Poison the outputs, so that an unwritten byte is caught.
    CK(cudaMemset(d_codes, 0xA5, size_t(n / 2)));
    CK(cudaMemset(d_scales, 0xA5, size_t(n / 16)));
    CK(cudaMemset(d_g, 0xA5, 4));
    CK(cudaMemset(d_status, 0xFF, 8));
    CK(cudaMemcpy(d_static, &c.gbits, 4, cudaMemcpyHostToDevice));
    FormatParams params;
    params.sv_small = c.sv_small;
    params.sv_big = c.sv_big;
    params.sv_act = c.sv_act;
    cudaError_t e;
    if (c.api == "W") {
      e = gpu::quantize_weights(fmt, d_x, dt, c.rows, c.cols, params, d_codes, d_scales, d_g,
                                d_status, ws, ws_bytes, stream);
    } else {
      e = gpu::quantize_activations(fmt, d_x, dt, c.rows, c.cols, c.sv_act,
                                    c.gmode == "static" ? d_static : nullptr, d_codes, d_scales,
                                    d_g, d_status, ws, ws_bytes, stream);
    }
    CK(e);
    CK(cudaStreamSynchronize(stream));
    CK(cudaGetLastError());
    std::vector<uint8_t> codes(size_t(n / 2)), scales(size_t(n / 16));
    uint32_t gbits = 0;
    unsigned long long status = 0;
    CK(cudaMemcpy(codes.data(), d_codes, codes.size(), cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(scales.data(), d_scales, scales.size(), cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(&gbits, d_g, 4, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(&status, d_status, 8, cudaMemcpyDeviceToHost));
    std::string why;
    const unsigned long long want_status =
        c.status < 0 ? ~0ull : static_cast<unsigned long long>(c.status);
    if (status != want_status) {
      why = "status " + std::to_string((long long)status) + " want " + std::to_string(c.status);
    } else if (c.status < 0) {
      const std::vector<uint8_t> ec = read_file(dir + "/" + c.name + ".codes");
      const std::vector<uint8_t> es = read_file(dir + "/" + c.name + ".scales");
      const std::vector<uint8_t> eg = read_file(dir + "/" + c.name + ".g");
      uint32_t want_g = 0;
      if (eg.size() == 4) std::memcpy(&want_g, eg.data(), 4);
      if (ec != codes) {
        size_t i = 0;
        while (i < codes.size() && i < ec.size() && codes[i] == ec[i]) ++i;
        char buf[128];
        std::snprintf(buf, sizeof buf, "codes differ at byte %zu (block %zu): %02x want %02x", i,
                      i / 8, i < codes.size() ? codes[i] : 0, i < ec.size() ? ec[i] : 0);
        why = buf;
      } else if (es != scales) {
        size_t i = 0;
        while (i < scales.size() && i < es.size() && scales[i] == es[i]) ++i;
        char buf[128];
        std::snprintf(buf, sizeof buf, "scales differ at block %zu: %02x want %02x", i,
                      i < scales.size() ? scales[i] : 0, i < es.size() ? es[i] : 0);
        why = buf;
      } else if (gbits != want_g) {
        char buf[96];
        std::snprintf(buf, sizeof buf, "G %08x want %08x", gbits, want_g);
        why = buf;
      }
    } else {
      // Non-finite input: whatever was written, never a NaN scale byte (E4M3
      // 0x7F / 0xFF) nor a non-finite G, and every byte written.
      const bool e4m3 = fmt != Format::nvfp4_razer;
      for (size_t i = 0; i < scales.size() && why.empty(); ++i)
        if (e4m3 && (scales[i] & 0x7f) == 0x7f) why = "NaN scale byte at block " + std::to_string(i);
      float g;
      std::memcpy(&g, &gbits, 4);
      if (why.empty() && !std::isfinite(g)) why = "non-finite G";
    }
    if (!why.empty()) {
      ++bad;
      if (bad <= 12) std::printf("  [%s] %s: %s\n", label, c.name.c_str(), why.c_str());
    }
    CK(cudaFree(d_x));
    CK(cudaFree(d_codes));
    CK(cudaFree(d_scales));
  }
  {
    // Every call must leave the workspace's counters zeroed for the next one.
    uint32_t head[2] = {1, 1};
    CK(cudaMemcpy(head, ws, sizeof head, cudaMemcpyDeviceToHost));
    if (head[0] != 0 || head[1] != 0) {
      std::printf("  [%s] workspace not left zeroed: %08x %08x\n", label, head[0], head[1]);
      ++bad;
    }
  }
  CK(cudaFree(ws));
  CK(cudaFree(d_g));
  CK(cudaFree(d_status));
  CK(cudaFree(d_static));
  (void)fast_cases;
  std::printf("vectors [%s]: %zu cases, %d mismatches\n", label, cases.size(), bad);
  return bad;
}

// Argument checks: errors come back before anything is queued.
int check_api_errors(cudaStream_t stream) {
  int bad = 0;
  void* buf;
  CK(cudaMalloc(&buf, 1 << 20));
  uint8_t* p = static_cast<uint8_t*>(buf);
  unsigned long long* st = reinterpret_cast<unsigned long long*>(p + 4096);
  float* g = reinterpret_cast<float*>(p + 8192);
  void* ws = p + 16384;
  const size_t wsb = gpu::quantize_workspace_bytes(4, 64);
  FormatParams fp;
  struct T {
    const char* what;
    cudaError_t got;
  } tests[] = {
      {"cols % 16", gpu::quantize_weights(Format::nvfp4, p, DType::f32, 4, 40, fp, p + 65536,
                                          p + 131072, g, st, ws, wsb, stream)},
      {"misaligned x", gpu::quantize_activations(Format::nvfp4, p + 2, DType::bf16, 4, 64, 5.0f,
                                                 nullptr, p + 65536, p + 131072, g, st, ws, wsb,
                                                 stream)},
      {"short workspace", gpu::quantize_activations(Format::nvfp4, p, DType::bf16, 4, 64, 5.0f,
                                                    nullptr, p + 65536, p + 131072, g, st, ws, 8,
                                                    stream)},
      {"weights format razer_a",
       gpu::quantize_weights(Format::nvfp4_razer_a, p, DType::f32, 4, 64, fp, p + 65536,
                             p + 131072, g, st, ws, wsb, stream)},
      {"activations format 4over6",
       gpu::quantize_activations(Format::nvfp4_4over6, p, DType::bf16, 4, 64, 5.0f, nullptr,
                                 p + 65536, p + 131072, g, st, ws, wsb, stream)},
  };
  for (const T& t : tests) {
    if (t.got == cudaSuccess) {
      std::printf("  api: %s was accepted\n", t.what);
      ++bad;
    }
  }
  CK(cudaStreamSynchronize(stream));
  CK(cudaFree(buf));
  std::printf("api argument checks: %zu cases, %d accepted that should not be\n",
              sizeof tests / sizeof tests[0], bad);
  return bad;
}

// ---------------------------------------------------------- random data ----
__device__ uint32_t hash32(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return uint32_t(x);
}

// bf16 activations: gaussian (Box-Muller) with outlier channels (every 97th
// column x 24) and a few blocks of exact zeros.
__global__ void fill_bf16(uint16_t* x, int64_t rows, int64_t cols, uint64_t seed) {
  const int64_t n = rows * cols;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const uint32_t a = hash32(seed * 0x9E3779B97F4A7C15ull + uint64_t(i) * 2);
    const uint32_t b = hash32(seed * 0x9E3779B97F4A7C15ull + uint64_t(i) * 2 + 1);
    const float u1 = (float(a >> 8) + 1.0f) * (1.0f / 16777217.0f);
    const float u2 = float(b >> 8) * (1.0f / 16777216.0f);
    float v = sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2);
    const int64_t col = i % cols;
    if (col % 97 == 13) v *= 24.0f;
    if (((i / 16) % 1009) == 7) v = 0.0f;
    const uint32_t bits = __float_as_uint(v);
    x[i] = uint16_t((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
  }
}

// Read-only reduction over n 16-byte vectors (the "read floor").
__global__ void read_kernel(const uint4* __restrict__ p, int64_t n, uint32_t* out) {
  uint32_t acc = 0;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  for (; i + 3 * stride < n; i += 4 * stride) {
    const uint4 a = __ldg(p + i), b = __ldg(p + i + stride), c = __ldg(p + i + 2 * stride),
                d = __ldg(p + i + 3 * stride);
    acc ^= a.x ^ a.y ^ a.z ^ a.w ^ b.x ^ b.y ^ b.z ^ b.w ^ c.x ^ c.y ^ c.z ^ c.w ^ d.x ^ d.y ^ d.z ^
           d.w;
  }
  for (; i < n; i += stride) {
    const uint4 a = __ldg(p + i);
    acc ^= a.x ^ a.y ^ a.z ^ a.w;
  }
  if (acc == 0x12345678u) out[0] = acc;  // practically never: keeps the loads
}

// rcp_rn_normal against __frcp_rn for every mantissa at several exponents.
__global__ void rcp_check(const int* exps, int nexp, unsigned long long* bad) {
  const uint32_t m = blockIdx.x * blockDim.x + threadIdx.x;
  if (m >= (1u << 23)) return;
  for (int k = 0; k < nexp; ++k) {
    for (int sgn = 0; sgn < 2; ++sgn) {
      const float d = __uint_as_float((uint32_t(sgn) << 31) | (uint32_t(exps[k] + 127) << 23) | m);
      if (__float_as_uint(razer::fastq::rcp_rn_normal(d)) != __float_as_uint(__frcp_rn(d)))
        atomicAdd(bad, 1ull);
    }
  }
}

int check_rcp() {
  const int exps[] = {-120, -80, -79, -30, -9, -1, 0, 1, 8, 30, 99, 100, 119};
  const int nexp = int(sizeof exps / sizeof exps[0]);
  int* d_exps;
  unsigned long long* d_bad;
  CK(cudaMalloc(&d_exps, sizeof exps));
  CK(cudaMalloc(&d_bad, 8));
  CK(cudaMemcpy(d_exps, exps, sizeof exps, cudaMemcpyHostToDevice));
  CK(cudaMemset(d_bad, 0, 8));
  rcp_check<<<(1u << 23) / 256, 256>>>(d_exps, nexp, d_bad);
  CK(cudaDeviceSynchronize());
  unsigned long long bad = 0;
  CK(cudaMemcpy(&bad, d_bad, 8, cudaMemcpyDeviceToHost));
  CK(cudaFree(d_exps));
  CK(cudaFree(d_bad));
  std::printf("rcp_rn_normal vs __frcp_rn: every mantissa, both signs, %d exponents in [-120, 119]: %llu differ\n",
              nexp, bad);
  return bad != 0;
}

// ----------------------------------------------------- CPU reference ----
template <int KIND>
void cpu_reference(const uint16_t* x, int64_t n, float G, float sv, std::vector<uint8_t>& codes,
                   std::vector<uint8_t>& scales) {
  const int64_t nb = n / 16;
  codes.assign(size_t(n / 2), 0);
  scales.assign(size_t(nb), 0);
  const unsigned nt = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> ts;
  for (unsigned t = 0; t < nt; ++t) {
    ts.emplace_back([&, t] {
      for (int64_t b = t; b < nb; b += nt) {
        uint32_t w[8];
        std::memcpy(w, x + b * 16, 32);
        razer::qblock::BlockOut o{0, 0, 0};
        if (G != 0.0f && std::fabs(G) <= 3.40282347e38f)
          o = razer::qblock::generic_block_words<DType::bf16, KIND>(w, G, sv, 0.0f);
        std::memcpy(&codes[size_t(b * 8)], &o.c0, 4);
        std::memcpy(&codes[size_t(b * 8 + 4)], &o.c1, 4);
        scales[size_t(b)] = uint8_t(o.sb);
      }
    });
  }
  for (auto& t : ts) t.join();
}

float cpu_amax_bf16(const uint16_t* x, int64_t n) {
  uint32_t m = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max<uint32_t>(m, x[i] & 0x7fffu);
  return razer::rz_from_bits(m << 16);
}

int check_large(cudaStream_t stream, const uint16_t* d_x, int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  std::vector<uint16_t> x(static_cast<size_t>(n));
  CK(cudaMemcpy(x.data(), d_x, size_t(n) * 2, cudaMemcpyDeviceToHost));
  const float amax = cpu_amax_bf16(x.data(), n);
  const float g_dyn = razer::rz_div(amax, 2688.0f);
  const float g_static = razer::rz_mul(g_dyn, 0.8125f);
  size_t wsb = gpu::quantize_workspace_bytes(rows, cols);
  void* ws;
  uint8_t *d_codes, *d_scales;
  float *d_g, *d_gs;
  unsigned long long* d_st;
  CK(cudaMalloc(&ws, wsb));
  CK(gpu::quantize_workspace_init(ws, wsb, stream));
  CK(cudaMalloc(&d_codes, size_t(n / 2)));
  CK(cudaMalloc(&d_scales, size_t(n / 16)));
  CK(cudaMalloc(&d_g, 4));
  CK(cudaMalloc(&d_gs, 4));
  CK(cudaMalloc(&d_st, 8));
  CK(cudaMemcpy(d_gs, &g_static, 4, cudaMemcpyHostToDevice));
  int bad = 0;
  for (int fmt_i = 0; fmt_i < 2; ++fmt_i) {
    for (int stat = 0; stat < 2; ++stat) {
      const Format fmt = fmt_i ? Format::nvfp4_razer_a : Format::nvfp4;
      CK(cudaMemset(d_codes, 0xA5, size_t(n / 2)));
      CK(cudaMemset(d_scales, 0xA5, size_t(n / 16)));
      CK(cudaMemset(d_st, 0xFF, 8));
      CK(gpu::quantize_activations(fmt, d_x, DType::bf16, rows, cols, 5.0f,
                                   stat ? d_gs : nullptr, d_codes, d_scales, d_g, d_st, ws, wsb,
                                   stream));
      CK(cudaStreamSynchronize(stream));
      std::vector<uint8_t> codes(size_t(n / 2)), scales(size_t(n / 16)), rc, rs;
      float g;
      unsigned long long st;
      CK(cudaMemcpy(codes.data(), d_codes, codes.size(), cudaMemcpyDeviceToHost));
      CK(cudaMemcpy(scales.data(), d_scales, scales.size(), cudaMemcpyDeviceToHost));
      CK(cudaMemcpy(&g, d_g, 4, cudaMemcpyDeviceToHost));
      CK(cudaMemcpy(&st, d_st, 8, cudaMemcpyDeviceToHost));
      const float G = stat ? g_static : g_dyn;
      if (fmt_i) cpu_reference<razer::qblock::kRazerA>(x.data(), n, G, 5.0f, rc, rs);
      else cpu_reference<razer::qblock::kNvfp4>(x.data(), n, G, 5.0f, rc, rs);
      int64_t diff_c = 0, diff_s = 0;
      for (size_t i = 0; i < codes.size(); ++i) diff_c += codes[i] != rc[i];
      for (size_t i = 0; i < scales.size(); ++i) diff_s += scales[i] != rs[i];
      const bool ok = diff_c == 0 && diff_s == 0 && razer::rz_bits(g) == razer::rz_bits(G) &&
                      st == ~0ull;
      int64_t neg = 0;
      for (uint8_t s : scales) neg += s >> 7;
      std::printf("large %lldx%lld bf16 %s %s: %s (%lld code bytes, %lld scales differ; %lld blocks chose -sv)\n",
                  (long long)rows, (long long)cols, fmt_i ? "nvfp4_razer_a" : "nvfp4",
                  stat ? "static" : "dynamic", ok ? "bit-exact" : "MISMATCH", (long long)diff_c,
                  (long long)diff_s, (long long)(fmt_i ? neg : 0));
      bad += !ok;
    }
  }
  CK(cudaFree(ws));
  CK(cudaFree(d_codes));
  CK(cudaFree(d_scales));
  CK(cudaFree(d_g));
  CK(cudaFree(d_gs));
  CK(cudaFree(d_st));
  return bad;
}

// ------------------------------------------------------------- timing ----
float median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <typename F>
float time_per_call(cudaStream_t stream, int reps, int calls, F f) {
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  for (int i = 0; i < 3; ++i) f(i);  // warm-up
  CK(cudaStreamSynchronize(stream));
  std::vector<float> t;
  int k = 0;
  for (int r = 0; r < reps; ++r) {
    CK(cudaEventRecord(a, stream));
    for (int c = 0; c < calls; ++c) f(k++);
    CK(cudaEventRecord(b, stream));
    CK(cudaEventSynchronize(b));
    float ms;
    CK(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms * 1000.0f / calls);
  }
  CK(cudaGetLastError());
  CK(cudaEventDestroy(a));
  CK(cudaEventDestroy(b));
  return median(t);
}

// The same, with the calls captured once in a CUDA graph and the graph
// replayed: no launch gaps between the kernels.
template <typename F>
float time_per_call_graph(cudaStream_t stream, int reps, int calls, F f) {
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  CK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  for (int c = 0; c < calls; ++c) f(c);
  CK(cudaStreamEndCapture(stream, &graph));
  CK(cudaGraphInstantiate(&exec, graph, 0));
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  CK(cudaGraphLaunch(exec, stream));  // warm-up
  CK(cudaStreamSynchronize(stream));
  std::vector<float> t;
  for (int r = 0; r < reps; ++r) {
    CK(cudaEventRecord(a, stream));
    CK(cudaGraphLaunch(exec, stream));
    CK(cudaEventRecord(b, stream));
    CK(cudaEventSynchronize(b));
    float ms;
    CK(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms * 1000.0f / calls);
  }
  CK(cudaGetLastError());
  CK(cudaEventDestroy(a));
  CK(cudaEventDestroy(b));
  CK(cudaGraphExecDestroy(exec));
  CK(cudaGraphDestroy(graph));
  return median(t);
}

void run_timing(cudaStream_t stream, uint16_t* const* d_in, int nbuf, int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  const double in_bytes = double(n) * 2, out_bytes = double(n) / 2 + double(n) / 16;
  const int reps = 9, calls = 30;
  // Floors: a device-to-device copy (bytes read + written) and a read-only
  // reduction, on buffers that do not fit in L2.
  const size_t copy_bytes = size_t(256) << 20;
  void *c0, *c1;
  CK(cudaMalloc(&c0, copy_bytes));
  CK(cudaMalloc(&c1, copy_bytes));
  CK(cudaMemset(c0, 1, copy_bytes));
  const float t_copy = time_per_call(stream, reps, 10, [&](int) {
    CK(cudaMemcpyAsync(c1, c0, copy_bytes, cudaMemcpyDeviceToDevice, stream));
  });
  const double copy_gbs = 2.0 * copy_bytes / (t_copy * 1e3);
  int sms = 0, dev = 0;
  CK(cudaGetDevice(&dev));
  CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  uint32_t* d_sink;
  CK(cudaMalloc(&d_sink, 4));
  const int64_t nvec = int64_t(in_bytes) / 16;
  const float t_read = time_per_call(stream, reps, calls, [&](int k) {
    read_kernel<<<sms * 8, 256, 0, stream>>>(reinterpret_cast<const uint4*>(d_in[k % nbuf]), nvec,
                                            d_sink);
  });
  const double read_gbs = in_bytes / (t_read * 1e3);
  const float t_read_g = time_per_call_graph(stream, reps, calls, [&](int k) {
    read_kernel<<<sms * 8, 256, 0, stream>>>(reinterpret_cast<const uint4*>(d_in[k % nbuf]), nvec,
                                            d_sink);
  });
  const double read_gbs_graph = in_bytes / (t_read_g * 1e3);
  std::printf("\nfloors: device-to-device copy %.1f GB/s (%.0f MiB, read+write); read-only reduction %.1f GB/s (%.0f MB, %d buffers rotated; %.1f GB/s replayed from a graph)\n",
              copy_gbs, copy_bytes / 1048576.0, read_gbs, in_bytes / 1e6, nbuf, read_gbs_graph);
  CK(cudaFree(c0));
  CK(cudaFree(c1));

  // Outputs rotate too.
  uint8_t *codes[4], *scales[4];
  for (int i = 0; i < nbuf; ++i) {
    CK(cudaMalloc(&codes[i], size_t(n / 2)));
    CK(cudaMalloc(&scales[i], size_t(n / 16)));
  }
  const size_t wsb = gpu::quantize_workspace_bytes(rows, cols);
  void* ws;
  float *d_g, *d_gs;
  unsigned long long* d_st;
  CK(cudaMalloc(&ws, wsb));
  CK(gpu::quantize_workspace_init(ws, wsb, stream));
  CK(cudaMalloc(&d_g, 4));
  CK(cudaMalloc(&d_gs, 4));
  CK(cudaMalloc(&d_st, 8));
  const float g_static = 0.01f;
  CK(cudaMemcpy(d_gs, &g_static, 4, cudaMemcpyHostToDevice));
  CK(cudaMemset(d_st, 0xFF, 8));

  struct Row {
    std::string what;
    float us;
    double bytes;
  };
  std::vector<Row> rows_out;
  auto& tune = gpu::detail::quantize_tuning();
  const gpu::detail::QuantizeTuning saved = tune;
  auto act = [&](std::string what, Format fmt, bool stat, bool graph = false) {
    auto call = [&](int k) {
      CK(gpu::quantize_activations(fmt, d_in[k % nbuf], DType::bf16, rows, cols, 5.0f,
                                   stat ? d_gs : nullptr, codes[k % nbuf], scales[k % nbuf], d_g,
                                   d_st, ws, wsb, stream));
    };
    const float us = graph ? time_per_call_graph(stream, reps, calls, call)
                           : time_per_call(stream, reps, calls, call);
    rows_out.push_back({what + (graph ? " [graph]" : ""), us, (stat ? 1 : 2) * in_bytes + out_bytes});
  };
  auto wts = [&](const char* what, Format fmt) {
    const float us = time_per_call(stream, 3, 5, [&](int k) {
      CK(gpu::quantize_weights(fmt, d_in[k % nbuf], DType::bf16, rows, cols, FormatParams{},
                               codes[k % nbuf], scales[k % nbuf], d_g, d_st, ws, wsb, stream));
    });
    rows_out.push_back({what, us, 2 * in_bytes + out_bytes});
  };
  const char* fmt_name[2] = {"nvfp4", "nvfp4_razer_a"};
  const Format fmts[2] = {Format::nvfp4, Format::nvfp4_razer_a};
  for (int f = 0; f < 2; ++f) {
    for (int stat = 1; stat >= 0; --stat) {
      const std::string base = std::string("act ") + fmt_name[f] + (stat ? " static" : " dynamic");
      act(base, fmts[f], stat);
      act(base, fmts[f], stat, true);
    }
  }
  const int shapes[4][2] = {{1, 4}, {2, 4}, {1, 3}, {2, 3}};
  for (int f = 0; f < 2; ++f) {
    for (const auto& sh : shapes) {
      if (f == 0 && sh[1] != 4) continue;
      tune = saved;
      tune.blocks_per_thread = sh[0];
      tune.min_blocks = sh[1];
      char buf[96];
      std::snprintf(buf, sizeof buf, "act %s static, shape %d blk/thr %d CTA/SM", fmt_name[f], sh[0], sh[1]);
      act(buf, fmts[f], true);
    }
  }
  tune = saved;
  tune.reverse_second_pass = false;
  act("act nvfp4 dynamic, forward 2nd pass", Format::nvfp4, false);
  act("act nvfp4_razer_a dynamic, forward 2nd pass", Format::nvfp4_razer_a, false);
  tune = saved;
  tune.memset_workspace = true;
  act("act nvfp4 dynamic, + memset per call", Format::nvfp4, false);
  tune = saved;
  tune.razer_a_certified = true;
  act("act nvfp4_razer_a static, certified-decision alg.", Format::nvfp4_razer_a, true);
  act("act nvfp4_razer_a dynamic, certified-decision alg.", Format::nvfp4_razer_a, false);
  tune = saved;
  tune.force_generic = true;
  act("act nvfp4 static, generic path", Format::nvfp4, true);
  act("act nvfp4_razer_a static, generic path", Format::nvfp4_razer_a, true);
  tune = saved;
  wts("weights nvfp4 (bf16 in)", Format::nvfp4);
  wts("weights nvfp4_4over6 (bf16 in)", Format::nvfp4_4over6);
  wts("weights nvfp4_razer (bf16 in)", Format::nvfp4_razer);
  std::printf("\n%-52s %10s %10s %8s %8s\n", "4096x8192 bf16", "us/call", "GB/s", "%copy", "%read");
  for (const Row& r : rows_out) {
    const double gbs = r.bytes / (r.us * 1e3);
    std::printf("%-52s %10.2f %10.1f %7.1f%% %7.1f%%\n", r.what.c_str(), r.us, gbs,
                100.0 * gbs / copy_gbs, 100.0 * gbs / read_gbs);
  }
  std::printf("(bytes counted: input read once for static, twice for dynamic and weights, plus codes and scales written)\n");
  for (int i = 0; i < nbuf; ++i) {
    CK(cudaFree(codes[i]));
    CK(cudaFree(scales[i]));
  }
  CK(cudaFree(ws));
  CK(cudaFree(d_g));
  CK(cudaFree(d_gs));
  CK(cudaFree(d_st));
  CK(cudaFree(d_sink));
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = ".gpu/qvec";
  bool small = false, timing = true;
  int subset = 1;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--vectors") && i + 1 < argc) dir = argv[++i];
    else if (!std::strcmp(argv[i], "--small")) small = true;
    else if (!std::strcmp(argv[i], "--no-timing")) timing = false;
    else if (!std::strcmp(argv[i], "--subset") && i + 1 < argc) subset = std::max(1, std::atoi(argv[++i]));
  }
  int dev = 0;
  CK(cudaGetDevice(&dev));
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, dev));
  int clock_khz = 0, mem_khz = 0;
  cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, dev);
  cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, dev);
  std::printf("device: %s, sm_%d%d, %d SMs, L2 %d MB, SM clock %d MHz, memory clock %d MHz\n",
              prop.name, prop.major, prop.minor, prop.multiProcessorCount,
              prop.l2CacheSize >> 20, clock_khz / 1000, mem_khz / 1000);
  cudaStream_t stream;
  CK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));

  std::vector<Case> cases = read_cases(dir);
  if (subset > 1) {
    // Every subset-th case, and every non-finite one (for sanitizer runs).
    std::vector<Case> keep;
    for (size_t i = 0; i < cases.size(); ++i)
      if (i % size_t(subset) == 0 || cases[i].status >= 0) keep.push_back(cases[i]);
    cases.swap(keep);
  }
  if (cases.empty()) {
    std::printf("no vectors in %s\n", dir.c_str());
    ++g_failures;
  } else {
    auto& tune = gpu::detail::quantize_tuning();
    const gpu::detail::QuantizeTuning saved = tune;
    g_failures += run_vectors(dir, cases, "default", stream, nullptr);
    tune.force_generic = true;
    g_failures += run_vectors(dir, cases, "generic path", stream, nullptr);
    tune = saved;
    tune.razer_a_certified = true;
    g_failures += run_vectors(dir, cases, "razer_a certified-decision algorithm", stream, nullptr);
    tune = saved;
    if (subset == 1) {
      const int shapes[4][2] = {{1, 4}, {1, 3}, {2, 3}, {1, 2}};
      for (const auto& sh : shapes) {
        tune = saved;
        tune.blocks_per_thread = sh[0];
        tune.min_blocks = sh[1];
        tune.reverse_second_pass = sh[0] == 1;
        char label[64];
        std::snprintf(label, sizeof label, "shape %d blk/thr %d CTA/SM%s", sh[0], sh[1],
                      sh[0] == 1 ? "" : ", forward order");
        g_failures += run_vectors(dir, cases, label, stream, nullptr);
      }
      tune = saved;
    }
  }
  g_failures += check_api_errors(stream);
  g_failures += check_rcp();

  if (!small) {
    const int64_t rows = 4096, cols = 8192;
    const int nbuf = 3;  // 3 x 64 MiB inputs: well over the 50 MB L2
    uint16_t* d_in[nbuf];
    for (int i = 0; i < nbuf; ++i) {
      CK(cudaMalloc(&d_in[i], size_t(rows * cols) * 2));
      fill_bf16<<<prop.multiProcessorCount * 8, 256, 0, stream>>>(d_in[i], rows, cols, 1234 + i);
    }
    CK(cudaStreamSynchronize(stream));
    CK(cudaGetLastError());
    g_failures += check_large(stream, d_in[0], rows, cols);
    if (timing) run_timing(stream, d_in, nbuf, rows, cols);
    for (int i = 0; i < nbuf; ++i) CK(cudaFree(d_in[i]));
  }
  CK(cudaStreamDestroy(stream));
  std::printf("\nquantize_check: %s (%d failures)\n", g_failures ? "FAILED" : "all passed", g_failures);
  return g_failures ? 1 : 0;
}
