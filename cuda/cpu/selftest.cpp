// Standalone check and benchmark of cuda/formats/ and the CPU backend (not the
// project's test suite). Build (from the repository root):
//   g++ -std=c++17 -O3 -ffp-contract=off -pthread -I cuda cuda/cpu/selftest.cpp
//       cuda/cpu/cpu_quantize.cpp cuda/cpu/cpu_gemm.cpp cuda/cpu/thread_pool.cpp
//       cuda/cpu/cpu_dispatch.cpp -o /tmp/rz_selftest
// Run: /tmp/rz_selftest [--codecs] [--vectors [DIR]] [--gemm] [--bench] [--threads N]
// (no flag: everything). --codecs: exhaustive codec checks. --vectors: byte
// comparisons against the TypeScript reference's outputs in DIR (default
// /tmp/rzvec: manifest.txt lines "quant ID NAME FORMAT DTYPE ROWS COLS SVSMALL
// SVBIG SVACT STATIC_G_HEX G_HEX" with ID.in/.codes/.scales/.deq, and "gemm ID
// WFORMAT XDTYPE M N K SVSMALL SVBIG SVACT WG_HEX" with ID.x/.wcodes/.wscales/
// .bias/.y16/.y4_FMT/.y4s_FMT (float64 references), written by a Node script
// that calls quantize, dequantize, referenceGemmW4A16/W4A4 of dist/lib).
// --gemm: non-finite input, backend vs single-block quantizers, GEMM shapes
// against a float64 reference. --bench: 4096 x 4096 timings.
// RAZER_CPU_ISA=portable|avx2 in the environment tests the other kernel sets.
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cpu/cpu_backend.h"
#include "cpu/cpu_dispatch.h"
#include "cpu/thread_pool.h"
#include "formats/formats.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

using namespace razer;

static int g_failures = 0;
#define CHECK(cond, ...)                                  \
  do {                                                    \
    if (!(cond)) {                                        \
      if (++g_failures <= 40) {                           \
        std::printf("FAIL %s:%d: ", __FILE__, __LINE__);  \
        std::printf(__VA_ARGS__);                         \
        std::printf("\n");                                \
      }                                                   \
    }                                                     \
  } while (0)

static double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// ================================================================ codecs ====

// Independent reference for a small float grid: the sorted list of values.
static std::vector<double> grid_values(int mant, int min_exp, int max_field) {
  std::vector<double> v;
  for (int field = 0; field <= max_field; ++field)
    for (int m = 0; m < (1 << mant); ++m)
      v.push_back(field == 0 ? m * std::ldexp(1.0, min_exp - mant)
                             : (1.0 + m / double(1 << mant)) * std::ldexp(1.0, field - 1 + min_exp));
  return v;
}

// Nearest grid value, ties to the even code (index parity = mantissa parity).
static double grid_nearest(const std::vector<double>& g, double x) {
  auto it = std::lower_bound(g.begin(), g.end(), x);
  if (it == g.end()) return g.back();
  if (*it == x || it == g.begin()) return *it;
  const size_t hi = size_t(it - g.begin()), lo = hi - 1;
  const double dl = x - g[lo], dh = g[hi] - x;
  if (dl < dh) return g[lo];
  if (dh < dl) return g[hi];
  return (lo % 2 == 0) ? g[lo] : g[hi];
}

static void test_scale_codecs() {
  // UE4M3: every code round-trips; every binary32 in [2^-9, 448] rounds to the nearest.
  const std::vector<double> e4 = grid_values(3, -6, 15);  // includes 0x7F's slot (480), unused
  for (uint32_t c = 0; c < 0x7f; ++c) {
    const float v = rz_e4m3_decode(c);
    CHECK(double(v) == e4[c], "e4m3 decode 0x%02x = %g", c, v);
    CHECK(rz_e4m3_code(v) == c, "e4m3 code of %g = 0x%02x, want 0x%02x", v, rz_e4m3_code(v), c);
    CHECK(-v == rz_e4m3_decode(c | 0x80) || v == 0, "e4m3 sign 0x%02x", c);
    if (c >= 1) CHECK(rz_e4m3_round(v) == v, "e4m3 round fixed point %g", v);
  }
  CHECK(rz_isnan(rz_e4m3_decode(0x7f)) && rz_isnan(rz_e4m3_decode(0xff)), "e4m3 NaN codes");
  std::vector<double> e4f(e4.begin(), e4.begin() + 127);
  uint64_t n = 0;
  for (uint32_t b = rz_bits(RZ_E4M3_MIN); b <= rz_bits(RZ_E4M3_MAX); ++b, ++n) {
    const float x = rz_from_bits(b);
    const float r = rz_e4m3_round(x);
    const double want = grid_nearest(e4f, x);
    if (double(r) != want) { CHECK(false, "e4m3 round %.9g = %.9g want %.9g", x, r, want); break; }
  }
  std::printf("  e4m3: 127 codes, %" PRIu64 " binary32 inputs rounded\n", n);
  // E3M3
  const std::vector<double> e3 = grid_values(3, -2, 7);
  for (uint32_t c = 0; c < 64; ++c) {
    const float v = rz_e3m3_decode(c);
    CHECK(double(v) == e3[c], "e3m3 decode 0x%02x = %g", c, v);
    CHECK(rz_e3m3_decode(c | 0xc0) == v, "e3m3 ignores bits 7/6");
    CHECK(rz_e3m3_code(v) == c, "e3m3 code of %g", v);
    if (c >= 1) CHECK(rz_e3m3_round(v) == v, "e3m3 round fixed point %g", v);
  }
  n = 0;
  for (uint32_t b = rz_bits(RZ_E3M3_MIN); b <= rz_bits(RZ_E3M3_MAX); ++b, ++n) {
    const float x = rz_from_bits(b);
    const float r = rz_e3m3_round(x);
    const double want = grid_nearest(e3, x);
    if (double(r) != want) { CHECK(false, "e3m3 round %.9g = %.9g want %.9g", x, r, want); break; }
  }
  std::printf("  e3m3: 64 payloads, %" PRIu64 " binary32 inputs rounded\n", n);
  // SPEC §5 example 3
  CHECK(rz_e3m3_round(0.1f) == 0.09375f && rz_e3m3_code(0.09375f) == 0x03, "E3M3(0.1)");
  CHECK(rz_e3m3_round(29.9f) == 30.0f && rz_e3m3_code(30.0f) == 0x3f, "E3M3(29.9)");
  CHECK(rz_e4m3_round(44.8f) == 44.0f && rz_e4m3_code(44.0f) == 0x63, "E4M3(44.8)");
  for (uint32_t b = 0; b < 255; ++b)
    CHECK(double(rz_e8m0_decode(b)) == std::ldexp(1.0, int(b) - 127), "e8m0 %u", b);
}

// Reference E2M1: nearest magnitude, ties to the even code, >= 6 saturates.
static int e2m1_ref(float y) {
  if (std::isnan(y)) return 0;
  static const double mags[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
  const double a = std::fabs(double(y));
  int best = 0;
  for (int c = 1; c < 8; ++c) {
    const double d = std::fabs(a - mags[c]), db = std::fabs(a - mags[best]);
    if (d < db || (d == db && c % 2 == 0)) best = c;
  }
  return best != 0 && y < 0 ? best | 8 : best;
}

static void test_e2m1() {
  for (unsigned c = 0; c < 16; ++c) {
    static const float vals[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
    CHECK(rz_bits(rz_e2m1_value(c)) == rz_bits(vals[c]), "e2m1 value %u", c);
    if (c != 8) CHECK(rz_e2m1_encode(rz_e2m1_value(c)) == c, "e2m1 round trip %u", c);
  }
  // every binary32 with |y| < 16 (both signs), plus specials
  uint64_t n = 0;
  for (uint32_t b = 0; b <= rz_bits(16.0f); ++b) {
    for (uint32_t s : {0u, 0x80000000u}) {
      const float y = rz_from_bits(b | s);
      const int got = rz_e2m1_encode(y), want = e2m1_ref(y);
      const float mv = rz_e2m1_mag_value(rz_abs(y));
      if (got != want || mv != std::fabs(rz_e2m1_value(unsigned(want)))) {
        CHECK(false, "e2m1 encode %.9g = %d want %d", y, got, want);
        b = 0xfffffff0u;
        break;
      }
      ++n;
    }
  }
  CHECK(rz_e2m1_encode(rz_nan()) == 0 && rz_e2m1_encode(-rz_nan()) == 0, "e2m1 NaN -> 0");
  CHECK(rz_e2m1_encode(INFINITY) == 7 && rz_e2m1_encode(-INFINITY) == 15, "e2m1 inf");
  CHECK(rz_e2m1_encode(-0.0f) == 0 && rz_e2m1_encode(-0.25f) == 0 && rz_e2m1_encode(-1e-30f) == 0,
        "e2m1 never 0x8");
  const float ties[7] = {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5.0f};
  const int tie_codes[7] = {0, 2, 2, 4, 4, 6, 6};
  for (int i = 0; i < 7; ++i) CHECK(rz_e2m1_encode(ties[i]) == tie_codes[i], "e2m1 tie %g", ties[i]);
  std::printf("  e2m1: %" PRIu64 " binary32 inputs encoded\n", n);
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("f16c"))) static uint64_t f16c_mismatches(uint64_t b0, uint64_t b1) {
  uint64_t bad = 0;
  for (uint64_t b = b0; b < b1; ++b) {
    const float x = rz_from_bits(uint32_t(b));
    if (std::isnan(x)) continue;
    if (rz_f32_to_f16(x) != _cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT)) ++bad;
  }
  return bad;
}
#endif

static void test_half() {
  // every fp16 / bf16 code round-trips through binary32
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = rz_f16_to_f32(uint16_t(h));
    const uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double want = e == 0 ? std::ldexp(double(m), -24)
                         : e == 31 ? (m ? NAN : INFINITY) : std::ldexp(1.0 + m / 1024.0, int(e) - 15);
    if (h & 0x8000) want = -want;
    if (e == 31 && m) {
      CHECK(std::isnan(f), "f16 NaN %04x", h);
      CHECK(rz_f32_to_f16(f) == (0x7e00u | (h & 0x8000u)), "f16 NaN canonical %04x", h);
    } else {
      CHECK(double(f) == want && std::signbit(f) == bool(h & 0x8000), "f16 widen %04x", h);
      CHECK(rz_f32_to_f16(f) == h, "f16 round trip %04x", h);
    }
    const float g = rz_bf16_to_f32(uint16_t(h));
    if (std::isnan(g)) CHECK(std::isnan(rz_bf16_to_f32(rz_f32_to_bf16(g))), "bf16 NaN %04x", h);
    else CHECK(rz_f32_to_bf16(g) == h, "bf16 round trip %04x", h);
  }
  // ties: midpoints between consecutive finite codes round to the even code
  for (uint32_t h = 0; h < 0x7bff; ++h) {
    const double mid = (double(rz_f16_to_f32(uint16_t(h))) + double(rz_f16_to_f32(uint16_t(h + 1)))) / 2;
    const uint16_t want = uint16_t((h & 1) ? h + 1 : h);
    CHECK(rz_f32_to_f16(float(mid)) == want, "f16 tie above %04x", h);
    CHECK(rz_f32_to_f16(-float(mid)) == (want | 0x8000), "f16 -tie above %04x", h);
  }
  CHECK(rz_f32_to_f16(65519.996f) == 0x7bff && rz_f32_to_f16(65520.0f) == 0x7c00, "f16 overflow edge");
  for (uint32_t b = 0; b < 0x7f7f; ++b) {
    const double mid = (double(rz_bf16_to_f32(uint16_t(b))) + double(rz_bf16_to_f32(uint16_t(b + 1)))) / 2;
    const uint16_t want = uint16_t((b & 1) ? b + 1 : b);
    CHECK(rz_f32_to_bf16(float(mid)) == want, "bf16 tie above %04x", b);
  }
#if defined(__x86_64__) && defined(__GNUC__)
  // every non-NaN binary32 against the F16C instruction (round to nearest even)
  if (__builtin_cpu_supports("f16c")) {
    std::vector<uint64_t> bad(2, 0);
    auto part = [&](int t) { bad[size_t(t)] = f16c_mismatches(uint64_t(t) << 31, uint64_t(t + 1) << 31); };
    std::thread t1(part, 1);
    part(0);
    t1.join();
    CHECK(bad[0] + bad[1] == 0, "f32->f16 vs F16C: %" PRIu64 " mismatches", bad[0] + bad[1]);
    std::printf("  f16: all 2^32 binary32 inputs match F16C\n");
  }
#endif
  // bf16 against double-based rounding on a sample of every exponent
  std::mt19937 rng(7);
  for (int i = 0; i < 2000000; ++i) {
    const uint32_t b = rng();
    const float x = rz_from_bits(b);
    if (std::isnan(x) || std::isinf(x)) continue;
    const float lo = rz_bf16_to_f32(uint16_t(b >> 16)) ;
    // candidates: truncated (toward zero) and next away from zero
    const uint16_t t = uint16_t(b >> 16), u = uint16_t(t + 1);
    const double dl = std::fabs(double(x) - double(lo));
    const float hi = rz_bf16_to_f32(u);
    const double dh = std::isinf(hi) ? std::fabs(std::ldexp(1.0, 128) * (x < 0 ? -1 : 1) - double(x))
                                     : std::fabs(double(hi) - double(x));
    const uint16_t want = dl < dh ? t : dh < dl ? u : ((t & 1) ? u : t);
    CHECK(rz_f32_to_bf16(x) == want, "bf16 round %08x", b);
  }
  std::printf("  f16/bf16: all codes round-trip, ties checked\n");
}

// ============================================================== vectors ====

static std::vector<uint8_t> read_file(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

static Format parse_format(const std::string& s) {
  if (s == "nvfp4") return Format::nvfp4;
  if (s == "nvfp4_4over6") return Format::nvfp4_4over6;
  if (s == "nvfp4_razer") return Format::nvfp4_razer;
  return Format::nvfp4_razer_a;
}
static DType parse_dtype(const std::string& s) {
  return s == "f16" ? DType::f16 : s == "bf16" ? DType::bf16 : DType::f32;
}
static size_t dsize(DType d) { return d == DType::f32 ? 4 : 2; }
static float hexf(const std::string& s) { return rz_from_bits(uint32_t(std::stoul(s, nullptr, 16))); }

static double rel_frob(const std::vector<double>& ref, const std::vector<double>& y) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (std::isnan(y[i])) return INFINITY;
    num += (y[i] - ref[i]) * (y[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return den == 0 ? std::sqrt(num) : std::sqrt(num / den);
}

static std::vector<double> y_to_double(const std::vector<uint8_t>& y, DType dt, size_t n) {
  std::vector<double> out(n);
  for (size_t i = 0; i < n; ++i) {
    if (dt == DType::f32) { float f; std::memcpy(&f, &y[4 * i], 4); out[i] = f; }
    else { uint16_t h; std::memcpy(&h, &y[2 * i], 2); out[i] = dt == DType::f16 ? rz_f16_to_f32(h) : rz_bf16_to_f32(h); }
  }
  return out;
}

static void test_vectors(const std::string& dir) {
  std::ifstream man(dir + "/manifest.txt");
  if (!man) { CHECK(false, "no %s/manifest.txt (run the Node generator)", dir.c_str()); return; }
  std::string line;
  int nq = 0, ng = 0;
  while (std::getline(man, line)) {
    std::istringstream ss(line);
    std::string type, id;
    ss >> type >> id;
    if (type == "quant") {
      std::string name, fmt, dts, sg, gg;
      int64_t rows, cols;
      float svs, svb, sva;
      ss >> name >> fmt >> dts >> rows >> cols >> svs >> svb >> sva >> sg >> gg;
      const Format f = parse_format(fmt);
      const DType dt = parse_dtype(dts);
      FormatParams p;
      p.sv_small = svs; p.sv_big = svb; p.sv_act = sva;
      const std::vector<uint8_t> in = read_file(dir + "/" + id + ".in");
      const std::vector<uint8_t> rc = read_file(dir + "/" + id + ".codes");
      const std::vector<uint8_t> rs = read_file(dir + "/" + id + ".scales");
      const std::vector<uint8_t> rd = read_file(dir + "/" + id + ".deq");
      CHECK(in.size() == size_t(rows * cols) * dsize(dt), "%s input size", id.c_str());
      for (int threads : {1, 2, 3}) {
        std::vector<uint8_t> codes(size_t(rows * cols / 2), 0xAA), scales(size_t(rows * cols / 16), 0xAA);
        float G = -1;
        const int64_t bad = cpu_quantize(f, in.data(), dt, rows, cols, p, hexf(sg), codes.data(),
                                         scales.data(), &G, threads);
        CHECK(bad == -1, "%s %s %s: non-finite %" PRId64, id.c_str(), name.c_str(), fmt.c_str(), bad);
        CHECK(rz_bits(G) == rz_bits(hexf(gg)), "%s %s %s: G %a want %a", id.c_str(), name.c_str(),
              fmt.c_str(), G, hexf(gg));
        size_t cm = 0, sm = 0, first = SIZE_MAX;
        for (size_t i = 0; i < codes.size(); ++i) if (codes[i] != rc[i]) { ++cm; first = std::min(first, i); }
        for (size_t i = 0; i < scales.size(); ++i) if (scales[i] != rs[i]) { ++sm; first = std::min(first, i * 8); }
        CHECK(cm == 0 && sm == 0, "%s %s %s threads %d: %zu code bytes, %zu scales differ (first byte %zu)",
              id.c_str(), name.c_str(), fmt.c_str(), threads, cm, sm, first);
        if (threads == 1) {
          QuantizedView v{f, rows, cols, codes.data(), scales.data(), G, p};
          std::vector<float> deq(size_t(rows * cols));
          cpu_dequantize(v, deq.data(), 2);
          size_t dm = 0;
          for (size_t i = 0; i < deq.size(); ++i) {
            uint32_t want;
            std::memcpy(&want, &rd[4 * i], 4);
            const uint32_t got = rz_bits(deq[i]);
            if (!(got == want || (rz_isnan(deq[i]) && rz_isnan(rz_from_bits(want))))) ++dm;
          }
          CHECK(dm == 0, "%s %s %s: %zu dequantized values differ", id.c_str(), name.c_str(), fmt.c_str(), dm);
        }
      }
      {  // the single-block (L = 1) quantizers, as the CUDA kernels run them
        std::vector<float> xf(size_t(rows * cols));
        for (size_t i = 0; i < xf.size(); ++i) {
          if (dt == DType::f32) std::memcpy(&xf[i], &in[4 * i], 4);
          else {
            uint16_t h;
            std::memcpy(&h, &in[2 * i], 2);
            xf[i] = dt == DType::f16 ? rz_f16_to_f32(h) : rz_bf16_to_f32(h);
          }
        }
        const float G = hexf(gg);
        size_t bad = 0;
        for (size_t b = 0; G != 0.0f && b < xf.size() / 16; ++b) {
          uint8_t pk[8], sb;
          const float* xb = &xf[16 * b];
          if (f == Format::nvfp4) sb = rz_quantize_block_nvfp4(xb, G, pk);
          else if (f == Format::nvfp4_4over6) sb = rz_quantize_block_4over6(xb, G, pk);
          else if (f == Format::nvfp4_razer) sb = rz_quantize_block_razer(xb, G, svs, svb, pk);
          else sb = rz_quantize_block_razer_a(xb, G, sva, pk);
          bad += sb != rs[b] || std::memcmp(pk, &rc[8 * b], 8) != 0;
        }
        CHECK(bad == 0, "%s %s %s: %zu blocks differ in the L = 1 block quantizer", id.c_str(), name.c_str(), fmt.c_str(), bad);
      }
      ++nq;
    } else if (type == "gemm") {
      std::string wf, xdts, gg;
      int64_t M, N, K;
      float svs, svb, sva;
      ss >> wf >> xdts >> M >> N >> K >> svs >> svb >> sva >> gg;
      const DType xdt = parse_dtype(xdts);
      const std::vector<uint8_t> x = read_file(dir + "/" + id + ".x");
      const std::vector<uint8_t> wc = read_file(dir + "/" + id + ".wcodes");
      const std::vector<uint8_t> ws = read_file(dir + "/" + id + ".wscales");
      const std::vector<uint8_t> braw = read_file(dir + "/" + id + ".bias");
      std::vector<float> bias(static_cast<size_t>(N));
      std::memcpy(bias.data(), braw.data(), size_t(N) * 4);
      FormatParams p;
      p.sv_small = svs; p.sv_big = svb; p.sv_act = sva;
      QuantizedView w{parse_format(wf), N, K, wc.data(), ws.data(), hexf(gg), p};
      auto ref_of = [&](const std::string& suffix) {
        const std::vector<uint8_t> r = read_file(dir + "/" + id + suffix);
        std::vector<double> v(size_t(M * N));
        std::memcpy(v.data(), r.data(), v.size() * 8);
        return v;
      };
      const double tol[3] = {1e-5, 1e-3, 8e-3};  // f32, f16, bf16 output
      for (DType ydt : {DType::f32, DType::f16, DType::bf16}) {
        std::vector<uint8_t> y(size_t(M * N) * dsize(ydt));
        cpu_gemm_w4a16(x.data(), xdt, M, w, bias.data(), y.data(), ydt, 2);
        const double e = rel_frob(ref_of(".y16"), y_to_double(y, ydt, size_t(M * N)));
        CHECK(e <= tol[int(ydt)], "%s W4A16 %s M=%" PRId64 " y=%d: rel err %.3g", id.c_str(), wf.c_str(), M, int(ydt), e);
        for (Format af : {Format::nvfp4, Format::nvfp4_razer_a}) {
          const int64_t bad = cpu_gemm_w4a4(x.data(), xdt, M, af, 5.0f, 0.0f, w, bias.data(), y.data(), ydt, 2);
          CHECK(bad == -1, "w4a4 non-finite");
          const double e4 = rel_frob(ref_of(af == Format::nvfp4 ? ".y4_nvfp4" : ".y4_nvfp4_razer_a"),
                                     y_to_double(y, ydt, size_t(M * N)));
          CHECK(e4 <= tol[int(ydt)], "%s W4A4 %s M=%" PRId64 " y=%d: rel err %.3g", id.c_str(), wf.c_str(), M, int(ydt), e4);
          // a static activation scale and a non-default svAct
          CHECK(cpu_gemm_w4a4(x.data(), xdt, M, af, 7.0f, 0.0009f, w, bias.data(), y.data(), ydt, 2) == -1, "w4a4 static");
          const double e4s = rel_frob(ref_of(af == Format::nvfp4 ? ".y4s_nvfp4" : ".y4s_nvfp4_razer_a"),
                                      y_to_double(y, ydt, size_t(M * N)));
          CHECK(e4s <= tol[int(ydt)], "%s W4A4 static %s M=%" PRId64 " y=%d: rel err %.3g", id.c_str(), wf.c_str(), M, int(ydt), e4s);
        }
      }
      ++ng;
    }
  }
  std::printf("  %d quantize cases bit-exact vs TS (backend at 1-3 threads, and the single-block quantizers); %d GEMM cases within tolerance\n", nq, ng);
}

// ===================================================== finiteness, GEMMs ====

static std::vector<float> gaussian(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

static void test_nonfinite() {
  const int64_t rows = 64, cols = 1 << 12, n = rows * cols;
  std::vector<float> x = gaussian(size_t(n), 3);
  std::vector<uint8_t> c(size_t(n / 2)), s(size_t(n / 16));
  float G;
  for (int64_t pos : {int64_t(0), int64_t(77777), n - 1}) {
    for (float badv : {NAN, INFINITY, -INFINITY}) {
      std::vector<float> y = x;
      y[size_t(pos)] = badv;
      if (pos + 200000 < n) y[size_t(pos + 200000)] = NAN;  // a later one, in another chunk
      for (int t : {1, 2, 5}) {
        const int64_t r = cpu_quantize(Format::nvfp4_razer, y.data(), DType::f32, rows, cols, {}, 0, c.data(), s.data(), &G, t);
        CHECK(r == pos, "first non-finite: got %" PRId64 " want %" PRId64, r, pos);
      }
      std::vector<uint16_t> h(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) h[size_t(i)] = rz_f32_to_f16(y[size_t(i)]);
      CHECK(cpu_quantize(Format::nvfp4, h.data(), DType::f16, rows, cols, {}, 0, c.data(), s.data(), &G, 2) == pos, "f16 non-finite");
      for (int64_t i = 0; i < n; ++i) h[size_t(i)] = rz_f32_to_bf16(y[size_t(i)]);
      CHECK(cpu_quantize(Format::nvfp4, h.data(), DType::bf16, rows, cols, {}, 0, c.data(), s.data(), &G, 2) == pos, "bf16 non-finite");
    }
  }
  // overflow to Inf in fp16 input (65520 rounds to Inf) is caught too
  std::printf("  non-finite input: first index reported for f32/f16/bf16, any thread count\n");
}

// The backend (8 blocks per vector lane group, dispatched ISA) against the
// single-block quantizers on a few million blocks of varied data and dtypes.
static void test_lanes_consistency() {
  const int64_t rows = 512, cols = 1024, n = rows * cols;
  std::mt19937 rng(99);
  std::normal_distribution<float> nd;
  std::student_t_distribution<float> td(3.0f);
  size_t blocks = 0;
  for (int dist = 0; dist < 5; ++dist) {
    std::vector<float> x(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      const int64_t blk = i / 16;
      float v = dist == 1 ? td(rng) : nd(rng);
      if (dist == 2) v *= std::ldexp(1.0f, int(blk % 40) - 20);  // every block its own magnitude
      if (dist == 3 && blk % 7 == 0) v = 0.0f;                     // zero blocks
      if (dist == 4) v = std::round(v * 8.0f) * 0.25f;             // many exact ties
      x[size_t(i)] = v;
    }
    for (DType dt : {DType::f32, DType::f16, DType::bf16}) {
      std::vector<uint16_t> h(static_cast<size_t>(n));
      std::vector<float> xw(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        h[size_t(i)] = dt == DType::bf16 ? rz_f32_to_bf16(x[size_t(i)]) : rz_f32_to_f16(x[size_t(i)]);
        xw[size_t(i)] = dt == DType::f32 ? x[size_t(i)]
                        : dt == DType::f16 ? rz_f16_to_f32(h[size_t(i)]) : rz_bf16_to_f32(h[size_t(i)]);
        if (dt == DType::f16 && std::isinf(xw[size_t(i)])) { h[size_t(i)] = 0; xw[size_t(i)] = 0; }
      }
      const void* src = dt == DType::f32 ? static_cast<const void*>(x.data()) : h.data();
      for (int fi = 0; fi < 4; ++fi) {
        const Format f = Format(fi);
        FormatParams p;
        if (dist == 4) { p.sv_small = 7; p.sv_big = 12; p.sv_act = 10; }
        std::vector<uint8_t> c(size_t(n / 2)), sc(size_t(n / 16));
        float G;
        CHECK(cpu_quantize(f, src, dt, rows, cols, p, 0, c.data(), sc.data(), &G, 2) == -1, "finite");
        size_t bad = 0;
        for (int64_t b = 0; G != 0.0f && b < n / 16; ++b) {
          uint8_t pk[8], sb;
          const float* xb = &xw[size_t(16 * b)];
          if (f == Format::nvfp4) sb = rz_quantize_block_nvfp4(xb, G, pk);
          else if (f == Format::nvfp4_4over6) sb = rz_quantize_block_4over6(xb, G, pk);
          else if (f == Format::nvfp4_razer) sb = rz_quantize_block_razer(xb, G, p.sv_small, p.sv_big, pk);
          else sb = rz_quantize_block_razer_a(xb, G, p.sv_act, pk);
          bad += sb != sc[size_t(b)] || std::memcmp(pk, &c[size_t(8 * b)], 8) != 0;
        }
        blocks += size_t(n / 16);
        CHECK(bad == 0, "lanes vs single-block: dist %d dtype %d format %d: %zu blocks differ", dist, int(dt), fi, bad);
      }
    }
  }
  std::printf("  backend vs single-block quantizers: %zu blocks, 5 distributions x 3 dtypes x 4 formats\n", blocks);
}

// float64 reference: Σ x * (v * s) over exact decoded values, times the factor, + bias.
static std::vector<double> ref_gemm(const std::vector<float>& x, int64_t M, const QuantizedView& w,
                                    const float* bias, double factor) {
  const int64_t N = w.rows, K = w.cols;
  const int kind = w.format == Format::nvfp4_razer ? 1 : w.format == Format::nvfp4_razer_a ? 2 : 0;
  std::vector<float> dec(size_t(N * K));
  for (int64_t b = 0; b < N * K / 16; ++b)
    rz_decode_block(kind, w.codes + 8 * b, w.scales[b], w.params.sv_small, w.params.sv_big,
                    w.params.sv_act, &dec[size_t(16 * b)]);
  std::vector<double> y(size_t(M * N));
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k) acc += double(x[size_t(m * K + k)]) * double(dec[size_t(n * K + k)]);
      y[size_t(m * N + n)] = acc * factor + (bias ? bias[n] : 0.0);
    }
  return y;
}

static void test_gemm_shapes() {
  double worst = 0;
  for (Format wf : {Format::nvfp4, Format::nvfp4_razer, Format::nvfp4_razer_a}) {
    for (int64_t M : {1, 2, 3, 4, 5, 8, 13, 64}) {
      for (int64_t N : {1, 7, 100}) {
        for (int64_t K : {16, 784, 1024, 8208}) {
          const std::vector<float> wf32 = gaussian(size_t(N * K), uint32_t(N * 31 + K), 0.02f);
          std::vector<uint8_t> c(size_t(N * K / 2)), s(size_t(N * K / 16));
          float G;
          FormatParams p;
          cpu_quantize(wf, wf32.data(), DType::f32, N, K, p, 0, c.data(), s.data(), &G, 2);
          QuantizedView w{wf, N, K, c.data(), s.data(), G, p};
          const std::vector<float> x = gaussian(size_t(M * K), uint32_t(M + 5));
          const std::vector<float> bias = gaussian(size_t(N), 9, 0.1f);
          const std::vector<double> ref = ref_gemm(x, M, w, bias.data(), G);
          for (int t : {1, 2, 3}) {
            std::vector<uint8_t> y(size_t(M * N) * 4);
            cpu_gemm_w4a16(x.data(), DType::f32, M, w, bias.data(), y.data(), DType::f32, t);
            const double e = rel_frob(ref, y_to_double(y, DType::f32, size_t(M * N)));
            worst = std::max(worst, e);
            CHECK(e <= 1e-5, "W4A16 M=%" PRId64 " N=%" PRId64 " K=%" PRId64 " threads %d: %.3g", M, N, K, t, e);
          }
        }
      }
    }
  }
  std::printf("  W4A16 shapes (M 1..64, N 1..100, K 16..8208, 1-3 threads): worst rel err %.3g\n", worst);
}

// ================================================================ bench ====

template <typename F>
static double time_best(F&& f, int reps, const std::function<void()>& before = nullptr) {
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    if (before) before();
    const double t0 = now_s();
    f();
    best = std::min(best, now_s() - t0);
  }
  return best;
}

// OR of every 8-byte word of p[0, n): a pure streaming read.
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f"))) static uint64_t or_reduce_avx512(const uint8_t* p, size_t n) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 256 <= n; i += 256) {
    a0 = _mm512_or_si512(a0, _mm512_loadu_si512(p + i));
    a1 = _mm512_or_si512(a1, _mm512_loadu_si512(p + i + 64));
    a2 = _mm512_or_si512(a2, _mm512_loadu_si512(p + i + 128));
    a3 = _mm512_or_si512(a3, _mm512_loadu_si512(p + i + 192));
  }
  alignas(64) uint64_t w[8];
  _mm512_store_si512(w, _mm512_or_si512(_mm512_or_si512(a0, a1), _mm512_or_si512(a2, a3)));
  uint64_t r = 0;
  for (int j = 0; j < 8; ++j) r |= w[j];
  for (; i < n; ++i) r |= p[i];
  return r;
}
#endif
static uint64_t or_reduce(const uint8_t* p, size_t n) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (cpu_isa() == CpuIsa::avx512) return or_reduce_avx512(p, n);
#endif
  uint64_t r[4] = {0, 0, 0, 0};
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    uint64_t v[4];
    std::memcpy(v, p + i, 32);
    for (int j = 0; j < 4; ++j) r[j] |= v[j];
  }
  for (; i < n; ++i) r[0] |= p[i];
  return r[0] | r[1] | r[2] | r[3];
}

static void bench(int threads) {
  const int64_t R = 4096, C = 4096, n = R * C;
  threads = resolve_threads(threads);
  std::printf("bench: %" PRId64 "x%" PRId64 ", %d threads, %s kernels\n", R, C, threads,
              cpu_isa_name(cpu_isa()));
  const std::vector<float> x = gaussian(size_t(n), 11);
  std::vector<uint8_t> codes(size_t(n / 2)), scales(size_t(n / 16));
  float G;
  const char* names[4] = {"nvfp4", "nvfp4_4over6", "nvfp4_razer", "nvfp4_razer_a"};
  for (int f = 0; f < 4; ++f) {
    const double t = time_best([&] {
      cpu_quantize(Format(f), x.data(), DType::f32, R, C, {}, 0, codes.data(), scales.data(), &G, threads);
    }, 3);
    std::printf("  quantize %-14s f32 in: %8.2f ms  (%.0f Melem/s)\n", names[f], t * 1e3, n / t / 1e6);
  }
  {
    std::vector<uint16_t> h(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) h[size_t(i)] = rz_f32_to_bf16(x[size_t(i)]);
    const double t = time_best([&] {
      cpu_quantize(Format::nvfp4_razer, h.data(), DType::bf16, R, C, {}, 0, codes.data(), scales.data(), &G, threads);
    }, 3);
    std::printf("  quantize %-14s bf16 in: %7.2f ms\n", "nvfp4_razer", t * 1e3);
  }
  // weights for the GEMMs
  cpu_quantize(Format::nvfp4_razer, x.data(), DType::f32, R, C, {}, 0, codes.data(), scales.data(), &G, threads);
  QuantizedView w{Format::nvfp4_razer, R, C, codes.data(), scales.data(), G, {}};
  const double wbytes = double(codes.size() + scales.size());

  // a buffer larger than the last-level cache, read between cold runs (read,
  // not written, so the timed run does not pay for write-backs)
  std::vector<uint8_t> flush(size_t(256) << 20, 1);
  std::vector<uint64_t> flush_sum(64);
  auto evict = [&] {
    parallel_for(int64_t(flush.size()), int64_t(1) << 20, threads, [&](int64_t b, int64_t e) {
      flush_sum[size_t(b >> 20) % 64] += or_reduce(flush.data() + b, size_t(e - b));
    });
  };
  // streaming read of the same bytes (codes + scales), all threads: the
  // fastest loop that touches every byte (OR of wide loads)
  std::vector<uint64_t> sums(64);
  auto stream = [&] {
    parallel_for(int64_t(codes.size()), int64_t(1) << 18, threads, [&](int64_t b, int64_t e) {
      const uint64_t r = or_reduce(codes.data() + b, size_t(e - b)) ^
                         or_reduce(scales.data() + b / 8, size_t((e - b) / 8));
      sums[size_t(b >> 18) % 64] += r;
    });
  };
  std::vector<uint8_t> dst(codes.size() + scales.size());
  auto copy = [&] {
    parallel_for(int64_t(codes.size()), int64_t(1) << 18, threads, [&](int64_t b, int64_t e) {
      std::memcpy(dst.data() + b, codes.data() + b, size_t(e - b));
      std::memcpy(dst.data() + codes.size() + b / 8, scales.data() + b / 8, size_t((e - b) / 8));
    });
  };
  const double t_stream_hot = time_best(stream, 20);
  const double t_stream_cold = time_best(stream, 5, evict);
  const double t_copy_hot = time_best(copy, 20);
  std::printf("  stream-read %.1f MiB (codes+scales): hot %.3f ms (%.1f GB/s), cold %.3f ms (%.1f GB/s); memcpy hot %.3f ms\n",
              wbytes / (1 << 20), t_stream_hot * 1e3, wbytes / t_stream_hot / 1e9, t_stream_cold * 1e3,
              wbytes / t_stream_cold / 1e9, t_copy_hot * 1e3);

  for (int64_t M : {1, 2, 4, 8, 16, 64}) {
    std::vector<uint16_t> xa(size_t(M * C));
    for (int64_t i = 0; i < M * C; ++i) xa[size_t(i)] = rz_f32_to_f16(x[size_t(i)]);
    std::vector<float> y(size_t(M * R));
    auto run = [&] { cpu_gemm_w4a16(xa.data(), DType::f16, M, w, nullptr, y.data(), DType::f32, threads); };
    const double hot = time_best(run, M <= 4 ? 20 : 5);
    const double cold = time_best(run, 5, evict);
    const double gflops = 2.0 * M * R * C / hot / 1e9;
    std::printf("  W4A16 M=%-3" PRId64 " hot %8.3f ms (%.2fx stream-hot, %.1f GFLOP/s)  cold %8.3f ms (%.2fx stream-cold)\n",
                M, hot * 1e3, hot / t_stream_hot, gflops, cold * 1e3, cold / t_stream_cold);
  }
  for (int64_t M : {1, 64}) {
    std::vector<float> xa(x.begin(), x.begin() + M * C);
    std::vector<float> y(size_t(M * R));
    const double t = time_best([&] {
      cpu_gemm_w4a4(xa.data(), DType::f32, M, Format::nvfp4_razer_a, 5.0f, 0, w, nullptr, y.data(), DType::f32, threads);
    }, 5);
    std::printf("  W4A4 (razer_a acts) M=%-3" PRId64 " hot %8.3f ms\n", M, t * 1e3);
  }
  {
    std::vector<float> out(static_cast<size_t>(n));
    const double t = time_best([&] { cpu_dequantize(w, out.data(), threads); }, 3);
    std::printf("  dequantize to f32: %.2f ms\n", t * 1e3);
  }
  std::printf("  (checksum %llu)\n", (unsigned long long)sums[0]);
}

int main(int argc, char** argv) {
  bool codecs = false, vectors = false, gemm = false, do_bench = false;
  std::string dir = "/tmp/rzvec";
  int threads = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--codecs") codecs = true;
    else if (a == "--vectors") { vectors = true; if (i + 1 < argc && argv[i + 1][0] != '-') dir = argv[++i]; }
    else if (a == "--gemm") gemm = true;
    else if (a == "--bench") do_bench = true;
    else if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
  }
  if (!codecs && !vectors && !gemm && !do_bench) codecs = vectors = gemm = do_bench = true;
  std::printf("kernels: %s\n", cpu_isa_name(cpu_isa()));
  if (codecs) {
    std::printf("codecs\n");
    test_scale_codecs();
    test_e2m1();
    test_half();
  }
  if (vectors) {
    std::printf("TS reference vectors (%s)\n", dir.c_str());
    test_vectors(dir);
  }
  if (gemm) {
    std::printf("non-finite input, backend consistency, GEMM shapes\n");
    test_nonfinite();
    test_lanes_consistency();
    test_gemm_shapes();
  }
  std::printf(g_failures ? "%d FAILURES\n" : "all checks passed\n", g_failures);
  if (do_bench) bench(threads);
  return g_failures ? 1 : 0;
}
