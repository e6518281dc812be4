// CPU GEMMs (SPEC §4): Y[M, N] = X[M, K] · Ŵ[N, K]ᵀ, Ŵ = (v * s) * G_w.
//
// Layout tricks shared by every kernel:
//  * Per call, a table of the 16 products v * s for each of the 256 scale
//    bytes (16 KiB, L1-resident): a block decodes by table lookup, exactly.
//  * X is widened to fp32 once and stored with each block of 16 permuted to
//    [x0 x2 .. x14, x1 x3 .. x15], i.e. low nibbles then high nibbles of the
//    8 code bytes, so a block of codes decodes without nibble interleaving.
//  * fp32 accumulation in 8 or 16 FMA lanes over chunks of 4096 elements of
//    K, each chunk's lanes added into a double; the per-tensor factor (G_w,
//    or G_x * G_w for W4A4) and the bias applied once per output, in double.
// Kernels: each weight block is decoded in registers and used for a tile of
// X rows (AVX-512: 6 rows x 4 weight rows; AVX2: 4 x 2, 1 x 4 for M = 1).
// Weights are split over threads in units of 64 rows; within a unit the X
// tiles go by while the unit's weights stay in L2, so for small M the weights
// are streamed from memory exactly once. (Decoding once into an fp32 buffer
// and running a plain microkernel was measured slower at every M up to 64:
// the decode is cheap next to the buffer traffic.) Each output element is
// computed by one thread in a fixed order, so results do not depend on the
// thread count. The AVX2+FMA and AVX-512 kernels are picked at run time
// (cpu_dispatch.h); the portable kernels are plain C++ that the compiler
// vectorizes at the baseline ISA (SSE2, or NEON on arm64).
#include <algorithm>
#include <cstring>
#include <vector>

#include "../formats/formats.h"
#include "cpu_backend.h"
#include "cpu_dispatch.h"
#include "thread_pool.h"

#if RZ_X86_DISPATCH
#include <immintrin.h>
#endif

namespace razer {
namespace {

// fp32 lane sums run over at most this many blocks (4096 elements) before
// they are added into double, so the rounding error does not grow with K.
constexpr int64_t kChunkBlocks = 256;

struct Gemm {
  const float* x;        // [M, K] fp32, blocks permuted (see above)
  int64_t M, N, K;
  const uint8_t* codes;  // [N, K/2]
  const uint8_t* scales; // [N, K/16]
  const float* tables;   // [256][16]: v * s by scale byte and code
  double factor;         // G_w, or G_x * G_w
  const float* bias;     // [N] or null
  void* y;               // [M, N]
  DType y_dtype;
};

int decode_kind(Format f) {
  return f == Format::nvfp4_razer ? 1 : f == Format::nvfp4_razer_a ? 2 : 0;
}

std::vector<float> value_tables(Format f, float sv_small, float sv_big, float sv_act) {
  std::vector<float> t(256 * 16);
  for (uint32_t byte = 0; byte < 256; ++byte)
    rz_block_value_table(decode_kind(f), byte, sv_small, sv_big, sv_act, &t[byte * 16]);
  return t;
}

inline void store_y(const Gemm& g, int64_t m, int64_t n, double acc) {
  double v = acc * g.factor;
  if (g.bias != nullptr) v += double(g.bias[n]);
  const float f = float(v);
  const int64_t i = m * g.N + n;
  switch (g.y_dtype) {
    case DType::f16: static_cast<uint16_t*>(g.y)[i] = rz_f32_to_f16(f); break;
    case DType::bf16: static_cast<uint16_t*>(g.y)[i] = rz_f32_to_bf16(f); break;
    default: static_cast<float*>(g.y)[i] = f; break;
  }
}

// Widen X to fp32 with the per-block permutation, rows [m0, m1).
void prepare_x(const void* x, DType dt, int64_t K, int64_t m0, int64_t m1, float* out) {
  for (int64_t i = m0 * K; i < m1 * K; i += 16) {
    float v[16];
    if (dt == DType::f32) {
      std::memcpy(v, static_cast<const float*>(x) + i, sizeof v);
    } else {
      const uint16_t* h = static_cast<const uint16_t*>(x) + i;
      for (int j = 0; j < 16; ++j)
        v[j] = dt == DType::f16 ? rz_f16_to_f32(h[j]) : rz_bf16_to_f32(h[j]);
    }
    for (int j = 0; j < 8; ++j) {
      out[i + j] = v[2 * j];
      out[i + 8 + j] = v[2 * j + 1];
    }
  }
}

// ------------------------------------------------------------ portable ----

// Decode weight row n, elements [k0, k0 + kn), permuted like X.
inline void decode_row_portable(const Gemm& g, int64_t n, int64_t k0, int64_t kn, float* out) {
  const uint8_t* wc = g.codes + n * (g.K / 2) + k0 / 2;
  const uint8_t* ws = g.scales + n * (g.K / 16) + k0 / 16;
  for (int64_t b = 0; b < kn / 16; ++b) {
    const float* t = g.tables + size_t(ws[b]) * 16;
    for (int j = 0; j < 8; ++j) {
      const uint8_t c = wc[8 * b + j];
      out[16 * b + j] = t[c & 0xf];
      out[16 * b + 8 + j] = t[c >> 4];
    }
  }
}

// Rows [n0, n1) of W against every row of X, 4 decoded weight rows at a time.
void gemm_rows_portable(const Gemm& g, int64_t n0, int64_t n1) {
  constexpr int NT = 4;
  std::vector<float> w(size_t(NT * g.K));
  for (int64_t n = n0; n < n1; n += NT) {
    const int nt = int(std::min<int64_t>(NT, n1 - n));
    for (int j = 0; j < nt; ++j) decode_row_portable(g, n + j, 0, g.K, &w[size_t(j * g.K)]);
    for (int j = nt; j < NT; ++j) std::fill(w.begin() + j * g.K, w.begin() + (j + 1) * g.K, 0.0f);
    for (int64_t m = 0; m < g.M; ++m) {
      const float* x = g.x + m * g.K;
      double sum[NT] = {};
      for (int64_t k0 = 0; k0 < g.K; k0 += 16 * kChunkBlocks) {
        const int64_t k1 = std::min(g.K, k0 + 16 * kChunkBlocks);
        float lane[NT][8] = {};  // 8 independent partial sums per weight row
        for (int64_t k = k0; k < k1; k += 8)
          for (int j = 0; j < NT; ++j)
            for (int l = 0; l < 8; ++l) lane[j][l] += x[k + l] * w[size_t(j * g.K + k + l)];
        for (int j = 0; j < NT; ++j)
          for (int l = 0; l < 8; ++l) sum[j] += lane[j][l];
      }
      for (int j = 0; j < nt; ++j) store_y(g, m, n + j, sum[j]);
    }
  }
}

// --------------------------------------------------------------- AVX2 -----
#if RZ_X86_DISPATCH

// Software prefetch for the fused kernels, called every 8 blocks (one cache
// line of codes per weight row): the decode of NT rows keeps 2 * NT streams
// in flight, more than the hardware prefetchers run ahead of, so fetch the
// same line of the next NT rows (one row group ahead: the rows are
// contiguous in memory). Only the first X tile (m0 == 0) prefetches; later
// tiles find the weights in L2. Measured on a 4096 x 4096 weight, cold
// cache: M = 1 0.66 ms instead of 1.15 ms (one core); hot ~5% slower.
// (Prefetches never fault, so running past the end of the tensor is harmless.)
inline void prefetch_next_rows(const uint8_t* wc, const uint8_t* ws, int64_t row_bytes,
                               int64_t nb, int nt, int64_t b) {
  for (int j = nt; j < 2 * nt; ++j) {
    _mm_prefetch(reinterpret_cast<const char*>(wc + j * row_bytes + 8 * b), _MM_HINT_T0);
    if ((b & 63) == 0) _mm_prefetch(reinterpret_cast<const char*>(ws + j * nb + b), _MM_HINT_T0);
  }
}

RZ_TARGET_AVX2_FMA inline double hsum_avx2(__m256 v) {
  const __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  const __m256d d = _mm256_add_pd(_mm256_cvtps_pd(lo), _mm256_cvtps_pd(hi));
  const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(d), _mm256_extractf128_pd(d, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

// Decode one block (8 code bytes, table t = v * s by code) to its even and
// odd elements: vpermps looks up codes 0-7 and 8-15 in the two table halves
// (it reads only the low 3 index bits), blendv picks by code bit 3 (moved to
// the sign bit).
RZ_TARGET_AVX2_FMA inline void decode_block_avx2(const uint8_t* codes8, const float* t,
                                                 __m256& even, __m256& odd) {
  const __m256 tlo = _mm256_loadu_ps(t), thi = _mm256_loadu_ps(t + 8);
  const __m256i raw =
      _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes8)));
  const __m256i hi = _mm256_srli_epi32(raw, 4);
  even = _mm256_blendv_ps(_mm256_permutevar8x32_ps(tlo, raw), _mm256_permutevar8x32_ps(thi, raw),
                          _mm256_castsi256_ps(_mm256_slli_epi32(raw, 28)));
  odd = _mm256_blendv_ps(_mm256_permutevar8x32_ps(tlo, hi), _mm256_permutevar8x32_ps(thi, hi),
                         _mm256_castsi256_ps(_mm256_slli_epi32(raw, 24)));
}

// Fused kernel: MT rows of X (from m0) times NT weight rows at a time.
template <int MT, int NT>
RZ_TARGET_AVX2_FMA void fused_avx2(const Gemm& g, int64_t m0, int64_t n0, int64_t n1) {
  const int64_t nb = g.K / 16;
  int64_t n = n0;
  for (; n + NT <= n1; n += NT) {
    double sum[MT][NT] = {};
    const uint8_t* wc = g.codes + n * (g.K / 2);
    const uint8_t* ws = g.scales + n * nb;
    for (int64_t c0 = 0; c0 < nb; c0 += kChunkBlocks) {
      const int64_t c1 = std::min(nb, c0 + kChunkBlocks);
      __m256 acc[MT][NT];
      for (int i = 0; i < MT; ++i)
        for (int j = 0; j < NT; ++j) acc[i][j] = _mm256_setzero_ps();
      for (int64_t b = c0; b < c1; ++b) {
        if (m0 == 0 && (b & 7) == 0) prefetch_next_rows(wc, ws, g.K / 2, nb, NT, b);
        __m256 ve[NT], vo[NT];
        for (int j = 0; j < NT; ++j)
          decode_block_avx2(wc + j * (g.K / 2) + 8 * b, g.tables + size_t(ws[j * nb + b]) * 16,
                            ve[j], vo[j]);
        for (int i = 0; i < MT; ++i) {
          const float* xr = g.x + (m0 + i) * g.K + 16 * b;
          const __m256 xe = _mm256_loadu_ps(xr), xo = _mm256_loadu_ps(xr + 8);
          for (int j = 0; j < NT; ++j) {
            acc[i][j] = _mm256_fmadd_ps(xe, ve[j], acc[i][j]);
            acc[i][j] = _mm256_fmadd_ps(xo, vo[j], acc[i][j]);
          }
        }
      }
      for (int i = 0; i < MT; ++i)
        for (int j = 0; j < NT; ++j) sum[i][j] += hsum_avx2(acc[i][j]);
    }
    for (int i = 0; i < MT; ++i)
      for (int j = 0; j < NT; ++j) store_y(g, m0 + i, n + j, sum[i][j]);
  }
  if (n < n1) fused_avx2<MT, 1>(g, m0, n, n1);  // leftover rows, one at a time
}

// All rows of X against weight rows [n0, n1), 4 rows of X at a time (the
// chunk's weights stay in L2 while the X tiles go by).
RZ_TARGET_AVX2_FMA void fused_all_avx2(const Gemm& g, int64_t n0, int64_t n1) {
  if (g.M == 1) return fused_avx2<1, 4>(g, 0, n0, n1);
  int64_t m = 0;
  for (; m + 4 <= g.M; m += 4) fused_avx2<4, 2>(g, m, n0, n1);
  switch (g.M - m) {
    case 3: fused_avx2<3, 2>(g, m, n0, n1); break;
    case 2: fused_avx2<2, 2>(g, m, n0, n1); break;
    case 1: fused_avx2<1, 2>(g, m, n0, n1); break;
    default: break;
  }
}

// ------------------------------------------------------------- AVX-512 ----
// vpermps on a zmm register is a full 16-entry lookup: one instruction decodes
// a block. The index vector holds the 8 code bytes (lanes 0-7: vpermps reads
// the low 4 bits, the low nibble) and the same bytes shifted right by 4
// (lanes 8-15, the high nibble), matching X's even/odd permutation.

RZ_TARGET_AVX512 inline double hsum_avx512(__m512 v) {
  alignas(64) float lane[16];
  _mm512_store_ps(lane, v);
  double s = 0;
  for (int i = 0; i < 16; ++i) s += double(lane[i]);
  return s;
}

RZ_TARGET_AVX512 inline __m512 decode_block_avx512(const uint8_t* codes8, const float* t) {
  const __m256i raw =
      _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes8)));
  // (The masked forms with an all-ones mask compile to the plain
  // instructions; they avoid GCC 12's false -Wmaybe-uninitialized on the
  // unmasked intrinsics.)
  const __m512i zero = _mm512_setzero_si512();
  const __m512i lo = _mm512_mask_inserti64x4(zero, 0xff, zero, raw, 0);
  const __m512i idx = _mm512_mask_inserti64x4(lo, 0xff, lo, _mm256_srli_epi32(raw, 4), 1);
  return _mm512_mask_permutexvar_ps(_mm512_setzero_ps(), 0xffff, idx, _mm512_loadu_ps(t));
}

template <int MT, int NT>
RZ_TARGET_AVX512 void fused_avx512(const Gemm& g, int64_t m0, int64_t n0, int64_t n1) {
  const int64_t nb = g.K / 16;
  int64_t n = n0;
  for (; n + NT <= n1; n += NT) {
    double sum[MT][NT] = {};
    const uint8_t* wc = g.codes + n * (g.K / 2);
    const uint8_t* ws = g.scales + n * nb;
    for (int64_t c0 = 0; c0 < nb; c0 += kChunkBlocks) {
      const int64_t c1 = std::min(nb, c0 + kChunkBlocks);
      __m512 acc[MT][NT];
      for (int i = 0; i < MT; ++i)
        for (int j = 0; j < NT; ++j) acc[i][j] = _mm512_setzero_ps();
      for (int64_t b = c0; b < c1; ++b) {
        if (m0 == 0 && (b & 7) == 0) prefetch_next_rows(wc, ws, g.K / 2, nb, NT, b);
        __m512 v[NT];
        for (int j = 0; j < NT; ++j)
          v[j] = decode_block_avx512(wc + j * (g.K / 2) + 8 * b,
                                     g.tables + size_t(ws[j * nb + b]) * 16);
        for (int i = 0; i < MT; ++i) {
          const __m512 xv = _mm512_loadu_ps(g.x + (m0 + i) * g.K + 16 * b);
          for (int j = 0; j < NT; ++j) acc[i][j] = _mm512_fmadd_ps(xv, v[j], acc[i][j]);
        }
      }
      for (int i = 0; i < MT; ++i)
        for (int j = 0; j < NT; ++j) sum[i][j] += hsum_avx512(acc[i][j]);
    }
    for (int i = 0; i < MT; ++i)
      for (int j = 0; j < NT; ++j) store_y(g, m0 + i, n + j, sum[i][j]);
  }
  if (n < n1) fused_avx512<MT, 1>(g, m0, n, n1);
}

// All rows of X against weight rows [n0, n1), 6 rows of X at a time
// (6 x 4 accumulators + 4 decoded blocks + 1 X vector: 29 of 32 registers).
RZ_TARGET_AVX512 void fused_all_avx512(const Gemm& g, int64_t n0, int64_t n1) {
  int64_t m = 0;
  for (; m + 6 <= g.M; m += 6) fused_avx512<6, 4>(g, m, n0, n1);
  switch (g.M - m) {
    case 5: fused_avx512<5, 4>(g, m, n0, n1); break;
    case 4: fused_avx512<4, 4>(g, m, n0, n1); break;
    case 3: fused_avx512<3, 4>(g, m, n0, n1); break;
    case 2: fused_avx512<2, 4>(g, m, n0, n1); break;
    case 1: fused_avx512<1, 4>(g, m, n0, n1); break;
    default: break;
  }
}

#endif  // RZ_X86_DISPATCH

void run_gemm(const Gemm& g, int threads) {
  // Work units of 64 weight rows (a multiple of every NT); each unit's
  // weights (~144 KiB for K = 4096) stay in L2 while the X tiles go by.
  const int64_t grain = 64;
#if RZ_X86_DISPATCH
  const CpuIsa isa = cpu_isa();
  if (isa == CpuIsa::avx512) {
    parallel_for(g.N, grain, threads, [&](int64_t n0, int64_t n1) { fused_all_avx512(g, n0, n1); });
    return;
  }
  if (isa == CpuIsa::avx2) {
    parallel_for(g.N, grain, threads, [&](int64_t n0, int64_t n1) { fused_all_avx2(g, n0, n1); });
    return;
  }
#endif
  parallel_for(g.N, grain, threads, [&](int64_t n0, int64_t n1) { gemm_rows_portable(g, n0, n1); });
}

}  // namespace

void cpu_gemm_w4a16(const void* x, DType x_dtype, int64_t M, const QuantizedView& w,
                    const float* bias, void* y, DType y_dtype, int threads) {
  const int64_t K = w.cols;
  std::vector<float> xp(size_t(M * K));
  parallel_for(M, 1, threads, [&](int64_t m0, int64_t m1) {
    prepare_x(x, x_dtype, K, m0, m1, xp.data());
  });
  const std::vector<float> tables =
      value_tables(w.format, w.params.sv_small, w.params.sv_big, w.params.sv_act);
  Gemm g{xp.data(), M, w.rows, K, w.codes, w.scales, tables.data(),
         double(w.global_scale), bias, y, y_dtype};
  run_gemm(g, threads);
}

int64_t cpu_gemm_w4a4(const void* x, DType x_dtype, int64_t M, Format act_format,
                      float sv_act, float act_static_global_scale, const QuantizedView& w,
                      const float* bias, void* y, DType y_dtype, int threads) {
  const int64_t K = w.cols;
  // Quantize X exactly like quantize() would, then decode v * s (exact) into
  // the permuted fp32 layout; G_x goes into the epilogue factor.
  std::vector<uint8_t> xc(size_t(M * K / 2)), xs(size_t(M * K / 16));
  FormatParams ap;
  ap.sv_act = sv_act;
  float gx = 0.0f;
  const int64_t bad = cpu_quantize(act_format, x, x_dtype, M, K, ap, act_static_global_scale,
                                   xc.data(), xs.data(), &gx, threads);
  if (bad >= 0) return bad;
  const std::vector<float> xt = value_tables(act_format, 0.0f, 0.0f, sv_act);
  std::vector<float> xp(size_t(M * K));
  parallel_for(M * K / 16, 4096, threads, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const float* t = &xt[size_t(xs[size_t(b)]) * 16];
      for (int j = 0; j < 8; ++j) {
        const uint8_t c = xc[size_t(b * 8 + j)];
        xp[size_t(b * 16 + j)] = t[c & 0xf];
        xp[size_t(b * 16 + 8 + j)] = t[c >> 4];
      }
    }
  });
  const std::vector<float> tables =
      value_tables(w.format, w.params.sv_small, w.params.sv_big, w.params.sv_act);
  Gemm g{xp.data(), M, w.rows, K, w.codes, w.scales, tables.data(),
         double(gx) * double(w.global_scale), bias, y, y_dtype};
  run_gemm(g, threads);
  return -1;
}

}  // namespace razer
