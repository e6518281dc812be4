// CPU checks of the fast-path shortcuts in cuda/kernels/quantize_fast.cuh
// against the shared reference codecs of cuda/formats/ (exhaustive where the
// domain allows), and a CPU emulation of the quantize kernels' per-block
// decisions (cuda/kernels/quantize_block.cuh) against the TS reference test
// vectors. Build and run (about a minute on 2 cores; --quick: seconds):
//   g++ -std=c++17 -O2 -ffp-contract=off -fno-fast-math -I cuda \
//       cuda/tests/quantize_fast_test.cpp -o /tmp/quantize_fast_test -pthread
//   /tmp/quantize_fast_test [--quick] [--vectors .gpu/qvec]
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <atomic>
static std::atomic<uint64_t> g_exact_fallbacks{0};
#define RZ_COUNT_EXACT_FALLBACKS() (++g_exact_fallbacks)
#include "kernels/quantize_block.cuh"
#include "kernels/quantize_fast.cuh"

using namespace razer;
using BlockParams_t = qblock::BlockParams;

static int g_fail = 0;
#define CHECK(cond, ...)                 \
  do {                                   \
    if (!(cond)) {                       \
      if (g_fail < 20) {                 \
        std::printf("FAIL: " __VA_ARGS__); \
        std::printf("\n");               \
      }                                  \
      ++g_fail;                          \
    }                                    \
  } while (0)

template <typename F>
static void parallel_range(uint64_t begin, uint64_t end, F f) {
  const unsigned nt = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> ts;
  const uint64_t chunk = (end - begin + nt - 1) / nt;
  for (unsigned t = 0; t < nt; ++t) {
    const uint64_t b = begin + t * chunk, e = std::min(end, b + chunk);
    if (b < e) ts.emplace_back([=] { f(b, e); });
  }
  for (auto& t : ts) t.join();
}

// 1. e2m1_round for every binary32 in [0, 6].
static void test_e2m1_exhaustive() {
  std::atomic<uint64_t> bad{0};
  std::atomic<uint32_t> first{0};
  parallel_range(0, uint64_t(rz_bits(6.0f)) + 1, [&](uint64_t b, uint64_t e) {
    uint64_t nb = 0;
    for (uint64_t u = b; u < e; ++u) {
      const float am = rz_from_bits(uint32_t(u));
      float v;
      const uint32_t c = fastq::e2m1_round(am, v);
      if (c != uint32_t(rz_e2m1_mag_code(am)) || v != rz_e2m1_mag_value(am)) {
        if (!nb) first = uint32_t(u);
        ++nb;
      }
    }
    bad += nb;
  });
  CHECK(bad == 0, "e2m1_round: %llu mismatches, first bits 0x%08x", (unsigned long long)bad.load(),
        first.load());
  std::printf("e2m1_round exhaustive over [0, 6]: %s\n", bad == 0 ? "ok" : "MISMATCH");
}

// 1b. e4m3_scale for every binary32 in [2^-9, 448].
static void test_e4m3_exhaustive() {
  std::atomic<uint64_t> bad{0};
  parallel_range(rz_bits(RZ_E4M3_MIN), uint64_t(rz_bits(RZ_E4M3_MAX)) + 1, [&](uint64_t b, uint64_t e) {
    uint64_t nb = 0;
    for (uint64_t u = b; u < e; ++u) {
      const float z = rz_from_bits(uint32_t(u));
      uint32_t code;
      const float s = fastq::e4m3_scale(z, code);
      const float ref = rz_e4m3_round(z);
      if (s != ref || code != rz_e4m3_code(ref)) ++nb;
    }
    bad += nb;
  });
  CHECK(bad == 0, "e4m3_scale: %llu mismatches", (unsigned long long)bad.load());
  std::printf("e4m3_scale exhaustive over [2^-9, 448]: %s\n", bad == 0 ? "ok" : "MISMATCH");
}

// 2. div_exact against IEEE division.
static void test_division(uint64_t n) {
  std::atomic<uint64_t> bad{0}, checked{0};
  parallel_range(0, n, [&](uint64_t b, uint64_t e) {
    std::mt19937_64 rng(b * 7919 + 1);
    std::uniform_real_distribution<double> U(0.0, 1.0);
    uint64_t nb = 0, nc = 0;
    for (uint64_t k = b; k < e; ++k) {
      // d: log-uniform over the allowed range, random mantissa; sometimes few bits.
      float d = float(std::ldexp(1.0 + U(rng), int(U(rng) * 180) - 80));
      if (k % 4 == 0) d = rz_from_bits(rz_bits(d) & 0xFFF00000u);  // short mantissa
      if (!(d >= fastq::kMinDivisor && d <= fastq::kMaxDivisor)) continue;
      const fastq::Divisor D = fastq::make_divisor(d);
      // y target log-uniform in [2^-12, 16), then x = RN(y d), sometimes rounded to bf16/f16-like.
      const double yt = std::ldexp(1.0 + U(rng), int(U(rng) * 16) - 12);
      float x = float(yt * double(d));
      const int mode = int(k % 5);
      if (mode == 1) x = rz_from_bits(rz_bits(x) & 0xFFFF0000u);            // bf16 mantissa
      if (mode == 2) x = rz_from_bits(rz_bits(x) & 0xFFFFE000u);            // f16 mantissa
      if (mode == 3) {
        // x/d as close as we can get to a midpoint between floats.
        const float q = float(yt);
        const double mid = double(q) + std::ldexp(1.0, std::ilogb(q) - 24);
        x = float(mid * double(d));
        for (int t = 0; t < 3; ++t) {
          const float xx = rz_from_bits(rz_bits(x) + t - 1);
          const float y = fastq::div_exact(xx, D);
          const float ref = xx / d;
          ++nc;
          if (std::fabs(ref) >= 0x1p-10f && std::fabs(ref) < 16.0f && rz_bits(y) != rz_bits(ref)) ++nb;
        }
        continue;
      }
      if (k & 1) x = -x;
      const float ref = x / d;
      if (!(std::fabs(ref) < 16.0f)) continue;
      const float y = fastq::div_exact(x, D);
      ++nc;
      if (std::fabs(ref) >= 0x1p-10f) {
        if (rz_bits(y) != rz_bits(ref)) ++nb;
      } else if (!(std::fabs(y - ref) <= std::ldexp(std::fabs(ref), -20) + 0x1p-140f)) {
        ++nb;
      }
    }
    bad += nb;
    checked += nc;
  });
  CHECK(bad == 0, "div_exact: %llu of %llu wrong", (unsigned long long)bad.load(),
        (unsigned long long)checked.load());
  std::printf("div_exact: %llu quotients, %llu wrong\n", (unsigned long long)checked.load(),
              (unsigned long long)bad.load());
}

// 3. The take window: for every y in [0, 16], take(y) == (lo <= y <= hi), and
//    take(-y) for -sv matches too.
static void test_window(float sv, bool exhaustive) {
  const fastq::SvWindow w = fastq::sv_window(sv);
  if (!w.fast) {
    std::printf("sv %g: generic path (not in the proven range)\n", sv);
    return;
  }
  std::atomic<uint64_t> bad{0};
  const uint32_t top = rz_bits(16.0f);
  const uint64_t step = exhaustive ? 1 : 97;
  parallel_range(0, uint64_t(top) / step + 1, [&](uint64_t b, uint64_t e) {
    uint64_t nb = 0;
    for (uint64_t k = b; k < e; ++k) {
      const uint32_t u = uint32_t(std::min<uint64_t>(k * step, top));
      const float y = rz_from_bits(u);
      const bool in = (y >= w.lo) & (y <= w.hi);
      if (fastq::take_sv_reference(y, sv) != in) ++nb;
      if (fastq::take_sv_reference(-y, -sv) != in) ++nb;
      // +sv is never taken for negative y, nor -sv for positive y.
      if (y > 0.0f && (fastq::take_sv_reference(-y, sv) || fastq::take_sv_reference(y, -sv))) ++nb;
    }
    bad += nb;
  });
  CHECK(bad == 0, "window sv=%g: %llu mismatches", sv, (unsigned long long)bad.load());
  std::printf("window sv %g: [%.9g, %.9g] %s%s\n", sv, w.lo, w.hi, bad == 0 ? "ok" : "MISMATCH",
              exhaustive ? " (exhaustive)" : " (sampled)");
}

// 4. Whole blocks: fast vs generic quantizers on random data, including
//    blocks built to hit the certified RaZeR-A decision's edge cases (values
//    exactly on the take window's edges, +/- pairs that cancel).
static void test_blocks(uint64_t nblocks) {
  const float svs[] = {5.0f, 7.0f, 0.375f, 10.0f, 12.0f, 0.75f, 5.0f, 64.0f};
  std::atomic<uint64_t> bad{0}, fast{0}, total{0};
  const uint64_t fallbacks0 = g_exact_fallbacks.load();
  parallel_range(0, nblocks, [&](uint64_t b, uint64_t e) {
    std::mt19937_64 rng(b + 12345);
    std::normal_distribution<float> N(0.0f, 1.0f);
    std::uniform_real_distribution<double> U(0.0, 1.0);
    uint64_t nb = 0, nf = 0, nt = 0;
    fastq::SvWindow wins[8];
    for (int i = 0; i < 8; ++i) wins[i] = fastq::sv_window(svs[i]);
    for (uint64_t k = b; k < e; ++k) {
      float x[16];
      const int dist = int(k % 10);
      const double scale = std::ldexp(1.0, int(U(rng) * 60) - 30);
      const int si = int((k / 8) % 8);
      const float sv = svs[si];
      for (int i = 0; i < 16; ++i) {
        double v = N(rng);
        if (dist == 1) v = v / std::sqrt(std::max(1e-3, -2.0 * std::log(1.0 - U(rng))));  // heavy tail
        if (dist == 2) v = std::round(v * 4) / 4;                                          // ties
        if (dist == 3 && i % 5 == 0) v = 0.0;
        if (dist == 4) v = (U(rng) < 0.5 ? -1 : 1) * (1 + std::floor(U(rng) * 12)) / 2.0;  // grid-ish
        x[i] = float(v * scale);
        if (k & 2) x[i] = rz_from_bits(rz_bits(x[i]) & 0xFFFF0000u);  // bf16-like
      }
      if (dist == 5) {
        // +/- pairs: x and -x, so window contributions cancel.
        for (int i = 0; i < 16; i += 2) x[i + 1] = -x[i];
      }
      if (dist >= 6) {
        // A block maximum mapping to 6 with G = amax / 2688 style scales is
        // not guaranteed here; instead put elements at exact multiples of
        // the window edges of a power-of-two decode scale below.
        const float unit = rz_from_bits(uint32_t(127 + int(U(rng) * 40) - 20) << 23);
        const fastq::SvWindow& w = wins[si];
        for (int i = 0; i < 16; ++i) {
          const int r = int(U(rng) * 6);
          float yv = r == 0 ? w.lo : r == 1 ? w.hi : r == 2 ? sv : float(std::round(N(rng) * 8) / 4);
          if (!(yv <= 6.0f) && r > 1) yv = 6.0f;
          // dists 8, 9: a few to a few thousand ulps off the edges, so |D|
          // lands near the certificate's threshold.
          if (dist >= 8 && r <= 1 && yv > 0.0f)
            yv = rz_from_bits(rz_bits(yv) + int32_t(std::ldexp(U(rng) - 0.5, int(U(rng) * 13))));
          x[i] = (U(rng) < 0.5 ? -1.0f : 1.0f) * yv * unit;
        }
        x[0] = 6.0f * unit;  // block max 6 units
        if (dist == 7 || dist == 9) for (int i = 0; i < 16; i += 2) x[i + 1] = -x[i];
      }
      uint32_t mb = 0;
      for (int i = 0; i < 16; ++i) mb = std::max(mb, rz_bits(x[i]) & 0x7fffffffu);
      const float amax = rz_from_bits(mb);
      // G: dynamic-like (amax-ish / 2688), or a static scale off by a factor;
      // for dists 6/7 a power of two that makes d = unit exactly when s = 1.
      float G;
      const int gm = int((k / 64) % 4);
      if (dist >= 6) G = rz_div(amax, 6.0f);
      else if (gm == 0) G = rz_div(amax * float(1.0 + 3 * U(rng)), 2688.0f);
      else if (gm == 1) G = rz_div(amax, 2688.0f);
      else if (gm == 2) G = float(double(amax) / 2688.0 * std::ldexp(1.0, int(U(rng) * 12) - 6));
      else G = float(double(amax) / 2688.0 * (0.5 + U(rng)));
      if (!(G > 0.0f)) continue;
      uint8_t ref_packed[8];
      uint32_t cw[2], sb, sgn[2];
      fastq::sign_nibbles(x, sgn);
      if (!(G >= fastq::kMinG && G <= fastq::kMaxG)) continue;
      const fastq::FastConsts kc = fastq::make_fast_consts(G, sv, wins[si]);
      auto x_at = [&x](int i) { return x[i]; };
      auto same = [&](uint8_t ref_scale) {
        uint8_t p[8];
        std::memcpy(p, cw, 8);
        return sb == ref_scale && std::memcmp(p, ref_packed, 8) == 0;
      };
      // nvfp4
      {
        const uint8_t ref_scale = rz_quantize_block_nvfp4(x, G, ref_packed);
        if (fastq::quantize_block_fast<fastq::kAlgNvfp4>(x, x_at, sgn, amax, kc, cw, &sb)) {
          ++nf;
          if (!same(ref_scale)) ++nb;
        }
        ++nt;
      }
      // razer_a, both algorithms
      if (wins[si].fast) {
        const uint8_t ref_scale = rz_quantize_block_razer_a(x, G, sv, ref_packed);
        if (fastq::quantize_block_fast<fastq::kAlgRazerSums>(x, x_at, sgn, amax, kc, cw, &sb)) {
          ++nf;
          if (!same(ref_scale)) ++nb;
        }
        if (fastq::quantize_block_fast<fastq::kAlgRazerCert>(x, x_at, sgn, amax, kc, cw, &sb)) {
          ++nf;
          if (!same(ref_scale)) {
            if (nb < 3) std::printf("razer_a (certified) mismatch sv=%g G=%a dist %d scale %02x vs %02x\n", sv, G, dist, sb, ref_scale);
            ++nb;
          }
        }
        nt += 2;
      }
    }
    bad += nb;
    fast += nf;
    total += nt;
  });
  CHECK(bad == 0, "blocks: %llu mismatches", (unsigned long long)bad.load());
  std::printf("blocks: %llu quantized, %llu on the fast path, %llu mismatches; %llu certified RaZeR-A decisions fell back to the exact sums\n",
              (unsigned long long)total.load(), (unsigned long long)fast.load(),
              (unsigned long long)bad.load(), (unsigned long long)(g_exact_fallbacks.load() - fallbacks0));
}

// 5. The kernels' per-block logic (quantize_block.cuh), emulated on the CPU,
//    against the vectors written by quantize_vectors.mjs.
static std::vector<uint8_t> read_file(const std::string& path) {
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

template <DType DT, int KIND>
static void emulate(const uint8_t* x, int64_t n, bool dyn, float g_static, float divisor,
                    const BlockParams_t& base, std::vector<uint8_t>& codes,
                    std::vector<uint8_t>& scales, float& G, int64_t& status) {
  using E = qblock::Elem<DT>;
  constexpr int bytes = DT == DType::f32 ? 4 : 2;
  uint32_t amax = 0;
  status = -1;
  for (int64_t i = 0; i < n; ++i) {
    uint32_t b = 0;
    std::memcpy(&b, x + i * bytes, bytes);
    b &= E::kAbs;
    if (b >= E::kInf) {
      if (status < 0) status = i;
    } else {
      amax = std::max(amax, b);
    }
  }
  G = dyn ? rz_div(qblock::magnitude_to_float<DT>(amax), divisor) : g_static;
  qblock::BlockParams p = base;
  p.G = G;
  const fastq::Divisor gd = fastq::make_divisor(G);
  p.have_g_divisor = dyn;
  p.g_hi = gd.hi;
  p.g_lo = gd.lo;
  const int64_t nb = n / 16;
  codes.assign(size_t(n / 2), 0);
  scales.assign(size_t(nb), 0);
  const qblock::TensorSetup ts = qblock::setup_tensor<KIND>(p);
  for (int64_t b = 0; b < nb; ++b) {
    uint32_t w[E::kWords];
    std::memcpy(w, x + b * 16 * bytes, sizeof w);
    qblock::BlockOut o{0, 0, 0};
    if (ts.usable) {
      if (!qblock::fast_block<DT, KIND>(w, qblock::block_absmax_raw<DT>(w), ts, x + b * 16 * bytes, &o))
        o = qblock::generic_block_words<DT, KIND>(w, G, p.sv_a, p.sv_b);
    }
    std::memcpy(&codes[size_t(b * 8)], &o.c0, 4);
    std::memcpy(&codes[size_t(b * 8 + 4)], &o.c1, 4);
    scales[size_t(b)] = uint8_t(o.sb);
  }
}

static void test_vectors(const std::string& dir, bool force_generic, bool razer_cert) {
  FILE* f = std::fopen((dir + "/cases.txt").c_str(), "r");
  if (!f) {
    std::printf("vectors: no %s/cases.txt\n", dir.c_str());
    ++g_fail;
    return;
  }
  char name[256], api[8], fmt[32], dt[8], gmode[16], gbits[16];
  long long rows, cols, st;
  double svs, svb, sva;
  int ncase = 0, nbad = 0;
  while (std::fscanf(f, "%255s %7s %31s %7s %lld %lld %15s %15s %lf %lf %lf %lld", name, api, fmt, dt,
                     &rows, &cols, gmode, gbits, &svs, &svb, &sva, &st) == 12) {
    const std::vector<uint8_t> x = read_file(dir + "/" + name + ".x");
    const std::string sf(fmt), sd(dt);
    const bool dyn = std::strcmp(gmode, "dyn") == 0;
    const float g_static = rz_from_bits(uint32_t(std::strtoul(gbits, nullptr, 16)));
    qblock::BlockParams p{};
    fastq::Divisor d6 = fastq::make_divisor(6.0f);
    p.d6_hi = d6.hi;
    p.d6_lo = d6.lo;
    p.force_generic = force_generic;
    int kind = 0;
    float divisor = 2688.0f;
    if (sf == "nvfp4_razer_a") {
      kind = 1;
      const fastq::SvWindow win = fastq::sv_window(float(sva));
      p.sv_a = float(sva);
      p.win_lo = win.lo;
      p.win_hi = win.hi;
      p.sv_fast = win.fast;
    } else if (sf == "nvfp4_4over6") {
      kind = 2;
      divisor = 1536.0f;
    } else if (sf == "nvfp4_razer") {
      kind = 3;
      divisor = 180.0f;
      p.sv_a = float(svs);
      p.sv_b = float(svb);
    }
    const int64_t n = rows * cols;
    std::vector<uint8_t> codes, scales;
    float G = 0;
    int64_t status = -1;
#define RZ_EMU(DTV, K) emulate<DTV, K>(x.data(), n, dyn, g_static, divisor, p, codes, scales, G, status)
#define RZ_EMU_DT(K)                                   \
  if (sd == "f32") RZ_EMU(DType::f32, K);              \
  else if (sd == "f16") RZ_EMU(DType::f16, K);         \
  else RZ_EMU(DType::bf16, K);
    if (kind == 1 && razer_cert) kind = 4;
    if (kind == 0) { RZ_EMU_DT(0) } else if (kind == 1) { RZ_EMU_DT(1) } else if (kind == 2) { RZ_EMU_DT(2) } else if (kind == 3) { RZ_EMU_DT(3) } else { RZ_EMU_DT(4) }
#undef RZ_EMU_DT
#undef RZ_EMU
    bool ok = status == st;
    if (ok && st < 0) {
      const std::vector<uint8_t> ec = read_file(dir + "/" + name + ".codes");
      const std::vector<uint8_t> es = read_file(dir + "/" + name + ".scales");
      const std::vector<uint8_t> eg = read_file(dir + "/" + name + ".g");
      uint32_t gb = 0;
      std::memcpy(&gb, eg.data(), 4);
      ok = ec == codes && es == scales && gb == rz_bits(G);
    }
    ++ncase;
    if (!ok) {
      ++nbad;
      if (nbad <= 10) std::printf("vectors: %s MISMATCH%s\n", name, status != st ? " (status)" : "");
    }
  }
  std::fclose(f);
  const char* label = force_generic ? ", generic path only" : razer_cert ? ", razer_a by the certified decision" : "";
  CHECK(nbad == 0, "vectors%s: %d of %d cases differ", label, nbad, ncase);
  std::printf("vectors (CPU emulation of the kernels%s): %d cases, %d mismatches\n", label, ncase, nbad);
}

int main(int argc, char** argv) {
  bool quick = false;
  std::string vectors;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    else if (std::strcmp(argv[i], "--vectors") == 0 && i + 1 < argc) vectors = argv[++i];
  }
  if (!vectors.empty()) {
    test_vectors(vectors, false, false);
    test_vectors(vectors, true, false);
    const uint64_t f0 = g_exact_fallbacks.load();
    test_vectors(vectors, false, true);
    std::printf("  (%llu certified RaZeR-A decisions fell back to the exact sums)\n",
                (unsigned long long)(g_exact_fallbacks.load() - f0));
  }
  if (!quick) test_e2m1_exhaustive();
  test_e4m3_exhaustive();
  test_division(quick ? 2000000 : 100000000);
  const float svs[] = {5.0f, 7.0f, 0.375f, 10.0f, 12.0f, 0.75f, 64.0f, 0.0625f, 2.5f, 0.046875f};
  for (float sv : svs) test_window(sv, !quick && (sv == 5.0f || sv == 0.375f || sv == 7.0f));
  test_blocks(quick ? 200000 : 20000000);
  std::printf(g_fail ? "quantize_fast_test: %d FAILURES\n" : "quantize_fast_test: all ok\n", g_fail);
  return g_fail ? 1 : 0;
}
