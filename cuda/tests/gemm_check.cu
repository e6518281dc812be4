// Correctness harness for the W4A16 GPU path (standalone executable).
//
// Build (from the repository root):
//   nvcc -std=c++17 -O3 -gencode arch=compute_90a,code=sm_90a -I cuda \
//        -Xcompiler -ffp-contract=off cuda/tests/gemm_check.cu \
//        cuda/kernels/prepack.cu cuda/kernels/dispatch.cu cuda/kernels/gemm_w4a16*.cu \
//        -o gemm_check
// or cuda/bench/build.sh (parallel, also builds gemm_bench).
// Run: ./gemm_check [--quick | --tiny] [--kernel I] [--seed S]
//   --quick: fewer shapes and variants (for compute-sanitizer memcheck),
//   --tiny: one shape, GEMMs only (for racecheck).
//
// 1. decode: every (code, scale byte) pair through the in-register decoder
//    (gemm_decode.cuh), both formats, fp16 and bf16, two SV pairs: the
//    decoded half must equal v * s * 2^-7 exactly.
// 2. prepack: the device prepack, unpacked on the host, equals the canonical
//    codes and scales.
// 3. exactness: tiny (subnormal) block scales and small-integer X, whose
//    products and sums are exact in fp32: the fp32 output must equal the
//    float64 reference exactly (tensor cores keep fp16 subnormals).
// 4. GEMM: weights quantized by the host quantizer of cuda/formats (heavy-
//    tailed rows, some rows tiny so that scales go subnormal) and random raw
//    bytes (every code, every legal scale byte), float64 reference from the
//    exactly decoded weights; EVERY kernel of the table forced, several K
//    splits, the dispatcher's own choice, odd shapes, both formats, fp16 and
//    bf16 X, fp32/fp16/bf16 Y, bias on/off, Y poisoned with NaN bytes first.
//    Tolerances (SPEC §4): fp32 rel. Frobenius <= 1e-5, bf16 <= 8e-3; fp16
//    (not in the SPEC) <= 1e-3; no NaN anywhere.
// Exit code 0 only when everything passes.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/gemm_layout.h"  // first: <cstring> for arith.h
#include "formats/formats.h"
#include "kernels/gemm.cuh"
#include "kernels/gemm_decode.cuh"

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

static int g_fail = 0;
static int g_pass = 0;
static double g_case_worst_f32 = 0;  // worst fp32-output rel. error of the current data set

// ------------------------------------------------------------------ decode --
template <bool BF16, bool RAZER>
__global__ void decode_test_kernel(const uint4* q, const uint32_t* sc, int n, uint32_t rs,
                                   uint32_t rb, uint32_t* out) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  uint32_t af[4][4];
  dev::decode_fragment<BF16, RAZER>(q[i], sc[i], rs, rb, af);
#pragma unroll
  for (int tau = 0; tau < 4; ++tau)
#pragma unroll
    for (int r = 0; r < 4; ++r) out[i * 16 + tau * 4 + r] = af[tau][r];
}

static float half_bits_to_f32(uint16_t h, bool bf16) {
  return bf16 ? rz_bf16_to_f32(h) : rz_f16_to_f32(h);
}

static float decoded_value(bool razer, uint32_t code, uint32_t byte, float svs, float svb) {
  if (razer) return rz_mul(rz_value_razer(code, byte, svs, svb), rz_scale_razer(byte));
  return rz_mul(rz_value_nvfp4(code), rz_scale_nvfp4(byte));
}

static uint32_t placed_sv(float sv, bool bf16) {
  return bf16 ? rz_f32_to_bf16(sv * 0x1p-126f) : rz_f32_to_f16(sv * 0x1p-14f);
}

template <bool BF16, bool RAZER>
static void check_decode(float svs, float svb) {
  const int n = 256 * 16;  // scale byte x code rotation
  std::vector<uint4> q(n);
  std::vector<uint32_t> sc(n);
  std::vector<uint8_t> codes(size_t(n) * 32), blo(n), bhi(n);
  for (int i = 0; i < n; ++i) {
    const uint32_t b0 = uint32_t(i % 256), b1 = uint32_t((i * 7 + 3) % 256);
    blo[i] = uint8_t(b0);
    bhi[i] = uint8_t(b1);
    sc[i] = b0 | (b1 << 8);
    uint8_t c[32];
    for (int e = 0; e < 32; ++e) c[e] = uint8_t((e + i / 256 + e * (i % 5)) & 15);
    std::memcpy(&codes[size_t(i) * 32], c, 32);
    // words: row lo elements 0..7, 8..15; row hi elements 0..7, 8..15
    q[i] = make_uint4(rz_pack_word(c), rz_pack_word(c + 8), rz_pack_word(c + 16),
                      rz_pack_word(c + 24));
  }
  uint4* dq;
  uint32_t *dsc, *dout;
  CK(cudaMalloc(&dq, n * sizeof(uint4)));
  CK(cudaMalloc(&dsc, n * sizeof(uint32_t)));
  CK(cudaMalloc(&dout, size_t(n) * 16 * sizeof(uint32_t)));
  CK(cudaMemcpy(dq, q.data(), n * sizeof(uint4), cudaMemcpyHostToDevice));
  CK(cudaMemcpy(dsc, sc.data(), n * sizeof(uint32_t), cudaMemcpyHostToDevice));
  decode_test_kernel<BF16, RAZER><<<(n + 127) / 128, 128>>>(dq, dsc, n, placed_sv(svs, BF16),
                                                             placed_sv(svb, BF16), dout);
  CK(cudaGetLastError());
  std::vector<uint32_t> out(size_t(n) * 16);
  CK(cudaMemcpy(out.data(), dout, out.size() * 4, cudaMemcpyDeviceToHost));
  CK(cudaFree(dq));
  CK(cudaFree(dsc));
  CK(cudaFree(dout));
  long bad = 0, checked = 0;
  for (int i = 0; i < n; ++i) {
    for (int tau = 0; tau < 4; ++tau)
      for (int r = 0; r < 4; ++r) {
        const bool hi_row = (r & 1) != 0;
        const int e0 = 4 * tau + ((r & 2) ? 2 : 0);
        const uint32_t byte = hi_row ? bhi[i] : blo[i];
        if (!RAZER && (byte & 0x7F) == 0x7F) continue;  // E4M3 NaN bytes: never produced
        if (!RAZER && (byte & 0x80)) continue;          // nvfp4 never sets bit 7
        const uint32_t word = out[size_t(i) * 16 + tau * 4 + r];
        for (int h = 0; h < 2; ++h) {
          const int e = e0 + h;
          const uint32_t code = codes[size_t(i) * 32 + (hi_row ? 16 : 0) + e];
          const float want = rz_mul(decoded_value(RAZER, code, byte, svs, svb), 0x1p-7f);
          const float got = half_bits_to_f32(uint16_t(word >> (16 * h)), BF16);
          ++checked;
          if (!(got == want)) {
            if (bad < 5)
              std::printf("  decode mismatch %s %s sv=(%g,%g) code %X byte %02X: got %g want %g\n",
                          RAZER ? "razer" : "nvfp4", BF16 ? "bf16" : "fp16", svs, svb, code,
                          byte, got, want);
            ++bad;
          }
        }
      }
  }
  std::printf("decode %-5s %-4s sv=(%g,%g): %ld values, %ld mismatches -> %s\n",
              RAZER ? "razer" : "nvfp4", BF16 ? "bf16" : "fp16", svs, svb, checked, bad,
              bad ? "FAIL" : "ok");
  if (bad) ++g_fail; else ++g_pass;
}

// ------------------------------------------------------------------- data --
struct Weights {
  Format format;
  int64_t N, K;
  std::vector<uint8_t> codes, scales;
  float G;
  FormatParams params;
  std::vector<float> deq;  // v * s (exact), [N, K]
};

static void finish_weights(Weights& w) {
  w.deq.resize(size_t(w.N * w.K));
  const bool razer = w.format == Format::nvfp4_razer;
  for (int64_t n = 0; n < w.N; ++n)
    for (int64_t k = 0; k < w.K; ++k) {
      const uint8_t byte = w.scales[size_t(n * (w.K / 16) + k / 16)];
      const uint8_t pk = w.codes[size_t(n * (w.K / 2) + k / 2)];
      const uint32_t code = (k & 1) ? (pk >> 4) : (pk & 15);
      w.deq[size_t(n * w.K + k)] =
          decoded_value(razer, code, byte, w.params.sv_small, w.params.sv_big);
    }
}

// Heavy-tailed weights through the host quantizer (cuda/formats).
static Weights make_quantized(Format f, int64_t N, int64_t K, std::mt19937_64& rng) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_real_distribution<float> ud(0.0f, 1.0f);
  std::vector<float> x(size_t(N * K));
  for (int64_t n = 0; n < N; ++n) {
    float row = 1.0f;
    const float u = ud(rng);
    if (u < 0.1f) row = 1e-5f;        // tiny rows: subnormal scales
    else if (u < 0.2f) row = 30.0f;   // large rows
    for (int64_t k = 0; k < K; ++k) {
      float v = nd(rng) * row;
      if (ud(rng) < 0.01f) v *= 8.0f;  // outliers
      if (ud(rng) < 0.02f) v = 0.0f;   // exact zeros
      x[size_t(n * K + k)] = v;
    }
  }
  Weights w;
  w.format = f;
  w.N = N;
  w.K = K;
  w.codes.assign(size_t(N * K / 2), 0);
  w.scales.assign(size_t(N * K / 16), 0);
  float amax = 0.0f;
  for (float v : x) amax = std::max(amax, std::fabs(v));
  w.G = f == Format::nvfp4_razer ? rz_global_scale_razer(amax) : rz_global_scale_nvfp4(amax);
  for (int64_t b = 0; b < N * K / 16; ++b) {
    const float* xb = &x[size_t(b * 16)];
    uint8_t* pk = &w.codes[size_t(b * 8)];
    w.scales[size_t(b)] =
        f == Format::nvfp4_razer
            ? rz_quantize_block_razer(xb, w.G, w.params.sv_small, w.params.sv_big, pk)
            : rz_quantize_block_nvfp4(xb, w.G, pk);
  }
  finish_weights(w);
  return w;
}

// Random raw bytes: every code, every legal scale byte. tiny: only small
// (subnormal-range) scale bytes.
static Weights make_raw(Format f, int64_t N, int64_t K, std::mt19937_64& rng, bool tiny,
                        float svs, float svb, float G) {
  Weights w;
  w.format = f;
  w.N = N;
  w.K = K;
  w.G = G;
  w.params.sv_small = svs;
  w.params.sv_big = svb;
  w.codes.resize(size_t(N * K / 2));
  w.scales.resize(size_t(N * K / 16));
  for (auto& c : w.codes) c = uint8_t(rng());
  for (auto& s : w.scales) {
    uint32_t r = uint32_t(rng());
    if (f == Format::nvfp4_razer) {
      s = tiny ? uint8_t((r & 0xC0) | (1 + (r >> 8) % 7)) : uint8_t(r);
    } else {
      s = tiny ? uint8_t(1 + r % 8) : uint8_t(r % 0x7F);  // 0x00..0x7E
    }
  }
  finish_weights(w);
  return w;
}

static std::vector<uint16_t> make_x(int64_t M, int64_t K, bool bf16, std::mt19937_64& rng,
                                    bool small_ints, std::vector<float>* xf) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<uint16_t> x(size_t(M * K));
  xf->resize(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    float v = small_ints ? float(int(rng() % 9) - 4) : nd(rng);
    x[i] = bf16 ? rz_f32_to_bf16(v) : rz_f32_to_f16(v);
    (*xf)[i] = half_bits_to_f32(x[i], bf16);
  }
  return x;
}

static void reference(const std::vector<float>& xf, int64_t M, const Weights& w,
                      std::vector<double>& y) {
  y.assign(size_t(M * w.N), 0.0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < w.N; ++n) {
      double acc = 0.0;
      const float* xr = &xf[size_t(m * w.K)];
      const float* wr = &w.deq[size_t(n * w.K)];
      for (int64_t k = 0; k < w.K; ++k) acc += double(xr[k]) * double(wr[k]);
      y[size_t(m * w.N + n)] = acc * double(w.G);
    }
}

// ---------------------------------------------------------------- device --
struct DevWeights {
  uint8_t *codes = nullptr, *scales = nullptr, *packed = nullptr;
  PackedWeights pw;
  ~DevWeights() {
    cudaFree(codes);
    cudaFree(scales);
    cudaFree(packed);
  }
};

static void upload(const Weights& w, DevWeights& d, bool verify_prepack) {
  CK(cudaMalloc(&d.codes, w.codes.size()));
  CK(cudaMalloc(&d.scales, w.scales.size()));
  CK(cudaMemcpy(d.codes, w.codes.data(), w.codes.size(), cudaMemcpyHostToDevice));
  CK(cudaMemcpy(d.scales, w.scales.data(), w.scales.size(), cudaMemcpyHostToDevice));
  const size_t bytes = prepack_bytes(w.format, w.N, w.K);
  if (bytes == 0) {
    std::fprintf(stderr, "prepack_bytes = 0\n");
    std::exit(2);
  }
  CK(cudaMalloc(&d.packed, bytes));
  CK(cudaMemset(d.packed, 0xA5, bytes));  // garbage: prepack must write every byte it owns
  QuantizedView v{w.format, w.N, w.K, d.codes, d.scales, w.G, w.params};
  CK(prepack(v, d.packed, bytes, 0, &d.pw));
  CK(cudaDeviceSynchronize());
  if (!verify_prepack) return;
  std::vector<uint8_t> p(bytes);
  CK(cudaMemcpy(p.data(), d.packed, bytes, cudaMemcpyDeviceToHost));
  const PackedLayout l = packed_layout(w.N, w.K);
  long bad = 0;
  for (int64_t rg = 0; rg < l.RG; ++rg)
    for (int64_t st = 0; st < l.ST; ++st)
      for (int lane = 0; lane < 32; ++lane) {
        const int g = lane >> 2, t = lane & 3;
        uint32_t words[4];
        std::memcpy(words, &p[size_t(packed_code_offset(l, rg, st, lane))], 16);
        const uint8_t* sp = &p[size_t(l.scales_offset + packed_scale_offset(l, rg, st, lane))];
        for (int hh = 0; hh < 2; ++hh) {
          const int64_t n = rg * 16 + g + 8 * hh;
          const int64_t kb = st * 4 + t;
          const bool in = n < w.N && kb < w.K / 16;
          const uint8_t want_s = in ? w.scales[size_t(n * (w.K / 16) + kb)] : 0;
          if (sp[hh] != want_s) ++bad;
          for (int e = 0; e < 16; ++e) {
            const uint8_t got = rz_unpack_word(words[2 * hh + e / 8], e % 8);
            uint8_t want = 0;
            if (in) {
              const int64_t k = kb * 16 + e;
              const uint8_t pk = w.codes[size_t(n * (w.K / 2) + k / 2)];
              want = (k & 1) ? (pk >> 4) : (pk & 15);
            }
            if (got != want) ++bad;
          }
        }
      }
  if (bad) {
    std::printf("prepack %s N=%lld K=%lld: %ld mismatches -> FAIL\n",
                w.format == Format::nvfp4_razer ? "razer" : "nvfp4", (long long)w.N,
                (long long)w.K, bad);
    ++g_fail;
  } else {
    ++g_pass;
  }
}

static double tolerance(DType y) {
  return y == DType::f32 ? 1e-5 : (y == DType::bf16 ? 8e-3 : 1e-3);
}
static const char* dname(DType d) {
  return d == DType::f32 ? "f32" : (d == DType::f16 ? "f16" : "bf16");
}

struct KernelStats {
  long runs = 0, fails = 0;
  double worst[3] = {0, 0, 0};
};

struct Case {
  int64_t M, N, K;
};

int main(int argc, char** argv) {
  bool quick = false, tiny = false;
  int only_kernel = -1;
  uint64_t seed = 12345;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--quick")) quick = true;
    else if (!std::strcmp(argv[i], "--tiny")) quick = tiny = true;
    else if (!std::strcmp(argv[i], "--kernel") && i + 1 < argc) only_kernel = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--seed") && i + 1 < argc) seed = std::strtoull(argv[++i], 0, 10);
  }
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s (sm_%d%d, %d SMs)\n", prop.name, prop.major, prop.minor,
              prop.multiProcessorCount);
  std::mt19937_64 rng(seed);

  // 1. decode
  if (!tiny) {
  check_decode<false, false>(5, 8);
  check_decode<true, false>(5, 8);
  check_decode<false, true>(5, 8);
  check_decode<true, true>(5, 8);
  check_decode<false, true>(7, 12);
  check_decode<true, true>(7, 12);
  }

  const int nk = gemm_kernel_count();
  std::vector<KernelStats> stats(nk + 1);  // + dispatcher
  cudaStream_t stream;
  CK(cudaStreamCreate(&stream));
  const DType ydts[3] = {DType::f32, DType::f16, DType::bf16};

  // Runs every kernel (and the dispatcher) over one data set; returns failures.
  auto run_all = [&](const Weights& w, DevWeights& dw, int64_t M, bool bf16,
                     const std::vector<uint16_t>& xh, const std::vector<double>& ref,
                     const std::vector<float>& bias, bool exact, const char* tag) {
    uint16_t* dx;
    float* dbias;
    void* dy;
    CK(cudaMalloc(&dx, xh.size() * 2));
    CK(cudaMemcpy(dx, xh.data(), xh.size() * 2, cudaMemcpyHostToDevice));
    CK(cudaMalloc(&dbias, size_t(w.N) * 4));
    CK(cudaMemcpy(dbias, bias.data(), size_t(w.N) * 4, cudaMemcpyHostToDevice));
    const size_t ybytes = size_t(M * w.N) * 4;
    CK(cudaMalloc(&dy, ybytes));
    std::vector<unsigned char> yh(ybytes);
    for (int ki = (only_kernel >= 0 ? only_kernel : 0); ki <= nk; ++ki) {
      if (only_kernel >= 0 && ki != only_kernel && ki != nk) continue;
      std::vector<int> splits_list;
      if (ki == nk) splits_list = {0};  // dispatcher
      else if (quick) splits_list = {1, 3};
      else splits_list = {1, 2, 3, 1000};
      for (int sp : splits_list) {
        GemmPlan plan;
        if (ki == nk) {
          plan = gemm_plan(M, dw.pw);
        } else {
          plan.kernel = ki;
          plan.splits = sp;
          plan = gemm_plan_normalize(plan, M, dw.pw);
          if (sp > 1 && plan.splits == 1 && sp != 1000) continue;  // K too short to split
        }
        const size_t wsb = gemm_plan_workspace_bytes(plan, M, dw.pw);
        void* ws = nullptr;
        if (wsb) {
          CK(cudaMalloc(&ws, wsb));
          // Zeroed once; the 6 runs below reuse it, so each run must leave the
          // split-K counters at zero again.
          CK(gemm_workspace_init(ws, wsb, stream));
        }
        for (int yi = 0; yi < 3; ++yi)
          for (int wb = 0; wb < 2; ++wb) {
            if (exact && (yi != 0 || wb != 0)) continue;
            // quick (sanitizer) runs: one output dtype per plan, bias on
            if (quick && !exact && (wb != 1 || yi != (ki + sp) % 3)) continue;
            const DType yd = ydts[yi];
            const size_t esz = yd == DType::f32 ? 4 : 2;
            CK(cudaMemsetAsync(dy, 0xFF, size_t(M * w.N) * esz, stream));  // NaN poison
            cudaError_t e;
            if (ki == nk)
              e = gemm_w4a16(dx, bf16 ? DType::bf16 : DType::f16, M, dw.pw, wb ? dbias : nullptr,
                             dy, yd, ws, wsb, stream);
            else
              e = gemm_w4a16_plan(plan, dx, bf16 ? DType::bf16 : DType::f16, M, dw.pw,
                                  wb ? dbias : nullptr, dy, yd, ws, wsb, stream);
            CK(e);
            CK(cudaStreamSynchronize(stream));
            CK(cudaMemcpy(yh.data(), dy, size_t(M * w.N) * esz, cudaMemcpyDeviceToHost));
            double num = 0, den = 0, maxabs = 0;
            long nans = 0;
            for (int64_t i = 0; i < M * w.N; ++i) {
              double got;
              if (yd == DType::f32) {
                float f;
                std::memcpy(&f, &yh[size_t(i) * 4], 4);
                got = f;
              } else {
                uint16_t h;
                std::memcpy(&h, &yh[size_t(i) * 2], 2);
                got = half_bits_to_f32(h, yd == DType::bf16);
              }
              const double want = ref[size_t(i)] + (wb ? double(bias[size_t(i % w.N)]) : 0.0);
              if (std::isnan(got)) ++nans;
              const double d = got - want;
              num += d * d;
              den += want * want;
              maxabs = std::max(maxabs, std::fabs(d));
            }
            const double rel = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
            const bool ok = nans == 0 && (exact ? maxabs == 0.0 : rel <= tolerance(yd));
            KernelStats& ks = stats[ki];
            ++ks.runs;
            if (!std::isnan(rel)) ks.worst[yi] = std::max(ks.worst[yi], rel);
            if (yi == 0 && !std::isnan(rel)) g_case_worst_f32 = std::max(g_case_worst_f32, rel);
            if (!ok) {
              ++ks.fails;
              ++g_fail;
              if (ks.fails <= 8)
                std::printf("FAIL %s kernel=%s splits=%d %s M=%lld N=%lld K=%lld x=%s y=%s "
                            "bias=%d: rel=%.3e maxabs=%.3e nans=%ld\n",
                            tag, gemm_kernel_name(plan.kernel), plan.splits,
                            w.format == Format::nvfp4_razer ? "razer" : "nvfp4", (long long)M,
                            (long long)w.N, (long long)w.K, bf16 ? "bf16" : "f16", dname(yd), wb,
                            rel, maxabs, nans);
            } else {
              ++g_pass;
            }
          }
        if (ws) CK(cudaFree(ws));
      }
    }
    CK(cudaFree(dx));
    CK(cudaFree(dbias));
    CK(cudaFree(dy));
  };

  // 3. exactness (tiny scales, small-integer X)
  for (int fi = 0; fi < 2; ++fi)
    for (int bf = 0; bf < 2; ++bf) {
      if (tiny) break;
      const Format f = fi ? Format::nvfp4_razer : Format::nvfp4;
      const int64_t M = 17, N = 40, K = 64;
      Weights w = make_raw(f, N, K, rng, true, 5, 8, 1.0f);
      DevWeights dw;
      upload(w, dw, true);
      std::vector<float> xf;
      auto xh = make_x(M, K, bf, rng, true, &xf);
      std::vector<double> ref;
      reference(xf, M, w, ref);
      std::vector<float> bias(size_t(N), 0.0f);
      run_all(w, dw, M, bf, xh, ref, bias, true, "exact");
    }

  // 4. GEMM
  std::vector<Case> cases;
  const int64_t Ms[] = {1, 3, 16, 17, 64, 200};
  for (int64_t M : Ms) {
    cases.push_back({M, 37, 48});
    cases.push_back({M, 200, 4112});
    if (!quick) cases.push_back({M, 8, 16});
  }
  cases.push_back({5, 1, 16});
  if (!quick) {
    cases.push_back({130, 300, 1040});
    // long K (a down projection): fp32-output accuracy of the fp32 tensor-core accumulation
    cases.push_back({3, 96, 28672});
    cases.push_back({17, 40, 28672});
  }
  if (quick) cases = {{3, 37, 48}, {17, 200, 1040}, {200, 40, 144}};
  if (tiny) cases = {{17, 40, 320}};

  for (const Case& c : cases)
    for (int fi = 0; fi < 2; ++fi)
      for (int mode = 0; mode < 2; ++mode)
        for (int bf = 0; bf < 2; ++bf) {
          if (quick && mode == 1 && bf == 0) continue;
          const Format f = fi ? Format::nvfp4_razer : Format::nvfp4;
          Weights w = mode == 0 ? make_quantized(f, c.N, c.K, rng)
                                : make_raw(f, c.N, c.K, rng, false, fi && bf ? 7.0f : 5.0f,
                                           fi && bf ? 12.0f : 8.0f, 1e-3f);
          DevWeights dw;
          upload(w, dw, bf == 0);
          std::vector<float> xf;
          auto xh = make_x(c.M, c.K, bf, rng, false, &xf);
          std::vector<double> ref;
          reference(xf, c.M, w, ref);
          std::normal_distribution<float> nd(0.0f, 1.0f);
          std::vector<float> bias(size_t(c.N));
          for (auto& b : bias) b = nd(rng);
          g_case_worst_f32 = 0;
          run_all(w, dw, c.M, bf, xh, ref, bias, false, mode == 0 ? "quant" : "raw");
          if (c.K >= 16384 || c.K <= 48)
            std::printf("  case M=%lld N=%lld K=%lld %s %s x=%s: worst fp32 rel %.3e\n",
                        (long long)c.M, (long long)c.N, (long long)c.K,
                        fi ? "razer" : "nvfp4", mode == 0 ? "quant" : "raw", bf ? "bf16" : "f16",
                        g_case_worst_f32);
        }

  // 5. back-to-back dependent launches (programmatic dependent launch on
  // sm_90): a chain Y_{i+1} = Y_i * W^T ping-ponging between two buffers,
  // launched without synchronization, must match the same chain run one
  // synchronized step at a time bit for bit. Step i + 1 reads what step i
  // wrote (RAW) and overwrites what step i read (WAR), and split plans share
  // one workspace; a kernel reading X, or writing anything, before its
  // dependency wait would break the match.
  for (int fi = 0; fi < 2; ++fi) {
    const Format f = fi ? Format::nvfp4_razer : Format::nvfp4;
    const int64_t N = tiny ? 320 : 576, M = tiny ? 17 : 130, STEPS = 6;
    Weights w = make_quantized(f, N, N, rng);
    DevWeights dw;
    upload(w, dw, false);
    std::vector<float> xf;
    const auto xh = make_x(M, N, true, rng, false, &xf);
    const size_t bytes = size_t(M * N) * 2;
    uint16_t *buf[2], *x0;
    CK(cudaMalloc(&buf[0], bytes));
    CK(cudaMalloc(&buf[1], bytes));
    CK(cudaMalloc(&x0, bytes));
    CK(cudaMemcpy(x0, xh.data(), bytes, cudaMemcpyHostToDevice));
    std::vector<uint16_t> want(size_t(M * N)), got(size_t(M * N));
    for (int ki = 0; ki <= nk; ++ki) {
      if (only_kernel >= 0 && ki != only_kernel && ki != nk) continue;
      for (int sp : {1, 3}) {
        GemmPlan plan = ki == nk ? gemm_plan(M, dw.pw) : GemmPlan{ki, sp};
        plan = gemm_plan_normalize(plan, M, dw.pw);
        if (ki == nk && sp != 1) continue;
        const size_t wsb = gemm_plan_workspace_bytes(plan, M, dw.pw);
        void* ws = nullptr;
        if (wsb) {
          CK(cudaMalloc(&ws, wsb));
          CK(gemm_workspace_init(ws, wsb, stream));
        }
        bool skip = false;
        auto chain = [&](bool sync, std::vector<uint16_t>& out) {
          CK(cudaMemcpyAsync(buf[0], x0, bytes, cudaMemcpyDeviceToDevice, stream));
          CK(cudaMemsetAsync(buf[1], 0xFF, bytes, stream));
          for (int i = 0; i < STEPS; ++i) {
            const cudaError_t e = gemm_w4a16_plan(plan, buf[i & 1], DType::bf16, M, dw.pw,
                                                  nullptr, buf[(i + 1) & 1], DType::bf16, ws,
                                                  wsb, stream);
            if (e == cudaErrorNoKernelImageForDevice) {
              skip = true;
              return;
            }
            CK(e);
            if (sync) CK(cudaStreamSynchronize(stream));
          }
          CK(cudaStreamSynchronize(stream));
          CK(cudaMemcpy(out.data(), buf[STEPS & 1], bytes, cudaMemcpyDeviceToHost));
        };
        chain(true, want);
        if (!skip) chain(false, got);
        if (ws) CK(cudaFree(ws));
        if (skip) continue;
        long diff = 0, nans = 0;
        for (size_t i = 0; i < want.size(); ++i) {
          diff += want[i] != got[i];
          nans += std::isnan(half_bits_to_f32(want[i], true));
        }
        if (diff || nans) {
          ++g_fail;
          std::printf("FAIL chain kernel=%s splits=%d %s M=%lld N=K=%lld: %ld of %zu differ, "
                      "%ld NaN\n", gemm_kernel_name(plan.kernel), plan.splits,
                      fi ? "razer" : "nvfp4", (long long)M, (long long)N, diff, want.size(), nans);
        } else {
          ++g_pass;
        }
      }
    }
    CK(cudaFree(buf[0]));
    CK(cudaFree(buf[1]));
    CK(cudaFree(x0));
  }

  std::printf("\n%-18s %6s %6s %11s %11s %11s\n", "kernel", "runs", "fails", "worst f32",
              "worst f16", "worst bf16");
  for (int ki = 0; ki <= nk; ++ki) {
    const KernelStats& s = stats[ki];
    if (s.runs == 0) continue;
    std::printf("%-18s %6ld %6ld %11.3e %11.3e %11.3e\n", ki == nk ? "(dispatcher)" : gemm_kernel_name(ki),
                s.runs, s.fails, s.worst[0], s.worst[1], s.worst[2]);
  }
  std::printf("\nchecks passed %d, failed %d -> %s\n", g_pass, g_fail, g_fail ? "FAIL" : "ALL OK");
  CK(cudaStreamDestroy(stream));
  return g_fail ? 1 : 0;
}
