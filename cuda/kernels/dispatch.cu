// The W4A16 dispatcher: one table (kDispatch) picks the kernel by
// (architecture, format, M, N, K) and the K splits by how many output tiles
// the shape has; gemm_w4a16 validates, builds the arguments and launches.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "gemm_layout.h"  // before the formats headers (<cstring>)
#include "../formats/half_codecs.h"
#include "gemm.cuh"
#include "gemm_internal.cuh"
#include "gemm_layout.h"

namespace razer {
namespace gpu {
namespace {

struct DeviceInfo {
  int sm = 0;     // major * 10 + minor
  int sms = 0;    // multiprocessors
};

DeviceInfo device_info() {
  // Cached per device (attributes never change).
  static DeviceInfo cache[64];
  static bool have[64] = {};
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0) return DeviceInfo{};
  if (dev < 64 && have[dev]) return cache[dev];
  DeviceInfo d;
  int major = 0, minor = 0;
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
  cudaDeviceGetAttribute(&d.sms, cudaDevAttrMultiProcessorCount, dev);
  d.sm = major * 10 + minor;
  if (dev < 64) {
    cache[dev] = d;
    have[dev] = true;
  }
  return d;
}

// ---------------------------------------------------------------------------
// The dispatch table. Rows are tried in order; the first whose conditions
// hold wins: min_sm <= architecture <= max_sm, M <= max_m, N >= min_n,
// N * K >= min_nk. sm_90 (Hopper) runs the wgmma kernels from M = 33 up:
// the 64-token tile (wgmma_n64) for M <= 64, and for M <= 128 on weights
// under 2^25 elements (4096x4096); the 128-token tile (wgmma_n128) above.
// Wherever wgmma_n64 is picked, the 192-row tile of three consumer
// warpgroups (wgmma_n64w3) is weighed against it by the wave model of
// plan_splits: fewer tiles, so fewer waves or more splits per wave (H200,
// M = 64, 9 shapes x 2 formats: the model's pick within 0.6% of the best
// of both kernels at every split; 6144x4096 M = 128 25.96 us against 29.4
// for wgmma_n64 at its best split).
// (H200 sweep, M = 64: wgmma_n64 beat skinny_m64 on all 8 razer-bench
// shapes, 8192x8192 35.9 against 43.2 us, 28672x4096 57.5 / 72.0; M = 128
// on 4096x4096: 22.4 against 28.6 for wgmma_n128 and 28.1 for skinny_m64.)
// Every other architecture from sm_80 runs the mma.sync kernels. nvfp4 and
// nvfp4_razer share the rows (see gemm_notes.md for the sweeps they were
// read from). K splits are chosen in gemm_plan.
struct DispatchRow {
  int min_sm, max_sm;
  int64_t max_m;       // M <= max_m
  int64_t min_n;       // N >= min_n
  int64_t min_nk;      // N * K >= min_nk
  const char* kernel;  // kGemmKernels name
  const char* alt;     // a wgmma kernel plan_splits' model weighs against `kernel`, or null
};
constexpr DispatchRow kDispatch[] = {
    {80, 999, 8, 0, 0, "gemv_m8_r1w8", nullptr},
    {80, 999, 16, 0, 0, "gemv_m16_r1w8", nullptr},
    {80, 999, 32, 0, 0, "skinny_m32_r2w8", nullptr},
    {90, 90, 64, 0, 0, "wgmma_n64", "wgmma_n64w3"},
    {80, 999, 64, 0, 0, "skinny_m64_r1w8", nullptr},
    {90, 90, 128, 0, int64_t(1) << 25, "wgmma_n128", nullptr},
    {90, 90, 128, 0, 0, "wgmma_n64", "wgmma_n64w3"},
    {80, 999, 128, 16384, 0, "tile_m128_r2w8", nullptr},
    {80, 999, 128, 0, 0, "skinny_m64_r1w8", nullptr},
    {90, 90, INT64_MAX, 0, 0, "wgmma_n128", nullptr},
    {80, 999, INT64_MAX, 0, 0, "tile_m128_r2w8", nullptr},
};

// Programmatic dependent launch on sm_90+ (gemm_launch.cuh); RAZER_GEMM_PDL=0
// turns it off (to compare timings, or to rule it out when debugging).
bool pdl_enabled() {
  static const bool env_off = [] {
    const char* v = std::getenv("RAZER_GEMM_PDL");
    return v != nullptr && std::strcmp(v, "0") == 0;
  }();
  return !env_off && device_info().sm >= 90;
}

// Resident CTAs per SM of a kernel variant on the current device (cached).
int occupancy(int kernel, bool razer, bool bf16) {
  static int cache[64][2][2][64];  // [kernel][razer][bf16][device]; 0 = unknown
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) dev = 0;
  const GemmKernelInfo& k = kGemmKernels[kernel];
  if (kernel >= 64 || dev < 0 || dev >= 64) return k.occupancy;
  int& c = cache[kernel][razer][bf16][dev];
  if (c == 0) {
    const int n = k.occ[razer][bf16]();
    c = n > 0 ? n : k.occupancy;
  }
  return c;
}

// Split starts must sit on the scale-group grid and on stage boundaries.
int64_t split_align(const GemmKernelInfo& k) { return k.sps > kPackScaleGroup ? k.sps : kPackScaleGroup; }

int kernel_index(const char* name) {
  for (int i = 0; i < kGemmKernelCount; ++i)
    if (std::strcmp(kGemmKernels[i].name, name) == 0) return i;
  return -1;
}

bool weights_ok(const PackedWeights& w) {
  if (w.format != Format::nvfp4 && w.format != Format::nvfp4_4over6 &&
      w.format != Format::nvfp4_razer)
    return false;
  if (w.data == nullptr || (reinterpret_cast<uintptr_t>(w.data) & 15) != 0) return false;
  const size_t need = prepack_bytes(w.format, w.N, w.K);
  return need != 0 && w.bytes >= need && std::isfinite(w.global_scale);
}

int64_t m_tiles(const GemmKernelInfo& k, int64_t M) { return (M + k.mt - 1) / k.mt; }

// Split-K workspace: tile counters in a FIXED region at the start that never
// holds anything else, then the fp32 partials. The counters must read zero
// when a call starts; each call leaves them zero, so a workspace zeroed once
// stays valid for every shape. (A counter region sized per shape would let a
// later, larger shape find an earlier shape's partials where its counters are.)
constexpr size_t kCounterRegionBytes = 64 * 1024;
constexpr int64_t kMaxSplitTiles = int64_t(kCounterRegionBytes / sizeof(unsigned));

int64_t output_tiles(const GemmKernelInfo& k, int64_t M, int64_t N) {
  return m_tiles(k, M) * ((N + k.nt - 1) / k.nt);
}

struct WorkspaceLayout {
  size_t counters_bytes = 0, partials_offset = 0, xperm_offset = 0, total = 0;
};

// [counter region][partials, when split][permuted X, for the xperm kernels]
WorkspaceLayout workspace_layout(const GemmKernelInfo& k, int splits, int64_t M, int64_t N,
                                 int64_t K) {
  WorkspaceLayout w;
  if (splits <= 1 && !k.xperm) return w;
  const int64_t tiles = output_tiles(k, M, N);
  w.partials_offset = kCounterRegionBytes;
  w.total = w.partials_offset;
  if (splits > 1) {
    w.counters_bytes = size_t(tiles) * sizeof(unsigned);
    w.total += size_t(tiles) * size_t(splits) * size_t(k.mt) * size_t(k.nt) * sizeof(float);
  }
  if (k.xperm) {
    w.xperm_offset = (w.total + 255) / 256 * 256;
    w.total = w.xperm_offset + x_permute_bytes(M, K, k.mt);
  }
  return w;
}

}  // namespace

int gemm_kernel_count() { return kGemmKernelCount; }

const char* gemm_kernel_name(int kernel) {
  return (kernel >= 0 && kernel < kGemmKernelCount) ? kGemmKernels[kernel].name : "?";
}

GemmPlan gemm_plan_normalize(GemmPlan plan, int64_t M, const PackedWeights& w) {
  if (plan.kernel < 0 || plan.kernel >= kGemmKernelCount || M < 1) return GemmPlan{};
  const PackedLayout l = packed_layout(w.N, w.K);
  const int64_t al = split_align(kGemmKernels[plan.kernel]);
  int64_t s = plan.splits < 1 ? 1 : plan.splits;
  if (s > l.ST) s = l.ST;
  int64_t per = (l.ST + s - 1) / s;
  per = (per + al - 1) / al * al;
  s = (l.ST + per - 1) / per;
  if (s > 65535) s = 65535;  // gridDim.y (never reached: per >= 4, ST < 2^24)
  // More output tiles than the counter region holds: no split (split-K is
  // for shapes with few tiles anyway).
  if (s > 1 && output_tiles(kGemmKernels[plan.kernel], M, w.N) > kMaxSplitTiles) s = 1;
  plan.splits = int(s);
  return plan;
}

// The splits for `kernel` at this shape, and for the wgmma kernels the modelled
// time (in stage times of a 128-row tile) in *cost.
int64_t plan_splits(int kernel, int64_t M, const PackedWeights& w, double* cost) {
  const DeviceInfo d = device_info();
  const GemmKernelInfo& k = kGemmKernels[kernel];
  const PackedLayout l = packed_layout(w.N, w.K);
  // Split K only to fill one wave: with base output tiles and `slots`
  // resident CTAs on the GPU, S = slots / base (a grid of at most one wave,
  // so every CTA starts at once and the load pipeline fills once); at least
  // two stages per split.
  const int64_t base = output_tiles(k, M, w.N);
  const int64_t slots = int64_t(d.sms) * occupancy(kernel, w.format == Format::nvfp4_razer, true);
  int64_t s = base >= slots ? 1 : slots / base;
  // nvfp4_razer GEMV (M <= 16) on tall weights with long K: its decode
  // leaves the CTAs latency-bound, and about 3 waves of CTAs beat one (H100
  // sweeps: 28672 x 8192 M = 1 72 us at 4 splits against 82 us at 1;
  // 57344 x 8192 M = 2 136 us at 2 against 147 us). At K = 4096 the splits
  // are too short to pay (28672 x 4096 M = 16 48.5 us at 4 against 43.8 at
  // 1). nvfp4 is fastest at one wave.
  if (w.format == Format::nvfp4_razer && k.mt <= 16 && s == 1 && l.ST >= 128)
    s = std::min<int64_t>(4, (3 * slots + base - 1) / base);
  // At least two stages per split; one for the GEMV, whose stages are long
  // (8 super-tiles): 4096 x 4096 M = 1 on the H100 took 7.7 us at 8 splits
  // against 8.6 at 4 (nvfp4_razer 8.45 against 11.3).
  const int64_t min_per = (k.mt <= 16 ? 1 : 2) * split_align(k);
  const int64_t max_s = l.ST / min_per > 1 ? l.ST / min_per : 1;
  if (s > max_s) s = max_s;
  if (s < 1) s = 1;
  // The wgmma kernels: each wave of CTAs pays a fixed cost of about `fill`
  // stages (pipeline fill, epilogue, split-K sum), so a second wave can pay
  // when it shortens every CTA's K range enough. S minimizes
  // extra + waves(S) * (fill + stage * stages per split); ties go to fewer
  // splits. Fitted to the H200 sweeps (one CTA per SM; gemm_notes.md): fill
  // ~40 stages for wgmma_n64, ~50 for wgmma_n128; a stage of the 192-row
  // tile (three consumer warpgroups sharing the SM's tensor cores) costs
  // 1.15 stages of a 128-row one, plus a fixed 10 per call. Among the
  // M = 64 shapes it picks the fastest of the two kernels and its best split
  // (8192x8192: wgmma_n64w3 at 3 splits, 33.5 us, against wgmma_n64's best,
  // 35.9 at 2; 28672x8192: wgmma_n64 at 1, 107.5, against 114.1).
  if (k.xperm) {
    const bool w3 = k.nt > 128;
    const double fill = k.mt >= 128 ? 50 : 40, stage = w3 ? 1.15 : 1.0, extra = w3 ? 10 : 0;
    const int64_t al = split_align(k);
    double best = -1;
    for (int64_t c = 1; c <= max_s; ++c) {
      const int64_t per = ((l.ST + c - 1) / c + al - 1) / al * al;
      const int64_t sc = (l.ST + per - 1) / per;  // the splits gemm_plan_normalize keeps
      if (sc != c) continue;
      const int64_t waves = (base * c + slots - 1) / slots;
      const double t = extra + double(waves) * (fill + stage * double(per));
      if (best < 0 || t < best) {
        best = t;
        s = c;
      }
    }
    if (cost) *cost = best;
  }
  return s;
}

GemmPlan gemm_plan(int64_t M, const PackedWeights& w) {
  const DeviceInfo d = device_info();
  GemmPlan p;
  if (M < 1 || d.sm < 80) return p;
  const DispatchRow* row = nullptr;
  for (const DispatchRow& r : kDispatch) {
    if (d.sm >= r.min_sm && d.sm <= r.max_sm && M <= r.max_m && w.N >= r.min_n &&
        w.N * w.K >= r.min_nk) {
      row = &r;
      break;
    }
  }
  if (row == nullptr || (p.kernel = kernel_index(row->kernel)) < 0) return GemmPlan{};
  double cost = 0;
  p.splits = int(plan_splits(p.kernel, M, w, &cost));
  const int alt = row->alt ? kernel_index(row->alt) : -1;
  if (alt >= 0) {
    double alt_cost = 0;
    const int64_t alt_splits = plan_splits(alt, M, w, &alt_cost);
    if (alt_cost < cost) {
      p.kernel = alt;
      p.splits = int(alt_splits);
    }
  }
  return gemm_plan_normalize(p, M, w);
}

size_t gemm_plan_workspace_bytes(GemmPlan plan, int64_t M, const PackedWeights& w) {
  plan = gemm_plan_normalize(plan, M, w);
  if (plan.kernel < 0) return 0;
  return workspace_layout(kGemmKernels[plan.kernel], plan.splits, M, w.N, w.K).total;
}

size_t gemm_workspace_bytes(int64_t M, const PackedWeights& w) {
  return gemm_plan_workspace_bytes(gemm_plan(M, w), M, w);
}

cudaError_t gemm_workspace_init(void* workspace, size_t workspace_bytes, cudaStream_t stream) {
  if (workspace_bytes == 0) return cudaSuccess;
  if (workspace == nullptr) return cudaErrorInvalidValue;
  return cudaMemsetAsync(workspace, 0, workspace_bytes, stream);
}

cudaError_t gemm_w4a16_plan(GemmPlan plan, const void* x, DType x_dtype, int64_t M,
                            const PackedWeights& w, const float* bias, void* y, DType y_dtype,
                            void* workspace, size_t workspace_bytes, cudaStream_t stream) {
  if (x == nullptr || y == nullptr || M < 1 || !weights_ok(w)) return cudaErrorInvalidValue;
  if (x_dtype != DType::f16 && x_dtype != DType::bf16) return cudaErrorInvalidValue;
  if (y_dtype != DType::f32 && y_dtype != DType::f16 && y_dtype != DType::bf16)
    return cudaErrorInvalidValue;
  if ((reinterpret_cast<uintptr_t>(x) & 15) != 0) return cudaErrorInvalidValue;
  if (M > int64_t(65535) * 128) return cudaErrorInvalidValue;  // gridDim.z of the largest M tile
  plan = gemm_plan_normalize(plan, M, w);
  if (plan.kernel < 0) return cudaErrorInvalidValue;
  const GemmKernelInfo& k = kGemmKernels[plan.kernel];
  {
    const DeviceInfo d = device_info();
    if (d.sm < k.min_sm || d.sm > k.max_sm) return cudaErrorNoKernelImageForDevice;
  }
  const int64_t mt = m_tiles(k, M);
  if (mt > 65535) return cudaErrorInvalidValue;
  const WorkspaceLayout wl = workspace_layout(k, plan.splits, M, w.N, w.K);
  if (wl.total > 0 &&
      (workspace == nullptr || workspace_bytes < wl.total ||
       (reinterpret_cast<uintptr_t>(workspace) & 15) != 0))
    return cudaErrorInvalidValue;

  const PackedLayout l = packed_layout(w.N, w.K);
  const bool razer = w.format == Format::nvfp4_razer;
  const bool bf16 = x_dtype == DType::bf16;
  GemmArgs a{};
  a.x = x;
  a.M = M;
  a.K = int(w.K);
  a.N = int(w.N);
  a.codes = static_cast<const uint8_t*>(w.data);
  a.scales = static_cast<const uint8_t*>(w.data) + l.scales_offset;
  a.RG = int(l.RG);
  a.ST = int(l.ST);
  a.SG = int(l.SG);
  a.bias = bias;
  a.y = y;
  a.y_dtype = int(y_dtype);
  a.factor = w.global_scale * 128.0f;  // exact: a power-of-two multiple
  if (razer) {
    // Placed special values: sv * 2^-14 as fp16 bits, sv * 2^-126 as bf16 bits.
    const float s_small = w.params.sv_small, s_big = w.params.sv_big;
    if (bf16) {
      a.r_small = rz_f32_to_bf16(s_small * 0x1p-126f);
      a.r_big = rz_f32_to_bf16(s_big * 0x1p-126f);
    } else {
      a.r_small = rz_f32_to_f16(s_small * 0x1p-14f);
      a.r_big = rz_f32_to_f16(s_big * 0x1p-14f);
    }
  }
  a.splits = plan.splits;
  {
    const int64_t al = split_align(k);
    int64_t per = (l.ST + plan.splits - 1) / plan.splits;
    per = (per + al - 1) / al * al;
    a.st_per_split = int(per);
  }
  if (plan.splits > 1) {
    a.counters = static_cast<unsigned*>(workspace);
    a.partials = reinterpret_cast<float*>(static_cast<char*>(workspace) + wl.partials_offset);
  }
  const bool pdl = pdl_enabled();
  if (k.xperm) {
    void* xp = static_cast<char*>(workspace) + wl.xperm_offset;
    const cudaError_t e = x_permute(x, M, w.K, k.mt, xp, stream, pdl);
    if (e != cudaSuccess) return e;
    a.x = xp;
  }
  const dim3 grid(unsigned((w.N + k.nt - 1) / k.nt), unsigned(plan.splits), unsigned(mt));
  return k.fn[razer ? 1 : 0][bf16 ? 1 : 0](a, grid, stream, pdl);
}

cudaError_t gemm_w4a16(const void* x, DType x_dtype, int64_t M, const PackedWeights& w,
                       const float* bias, void* y, DType y_dtype, void* workspace,
                       size_t workspace_bytes, cudaStream_t stream) {
  const GemmPlan p = gemm_plan(M, w);
  if (p.kernel < 0) return M < 1 ? cudaErrorInvalidValue : cudaErrorNoKernelImageForDevice;
  return gemm_w4a16_plan(p, x, x_dtype, M, w, bias, y, y_dtype, workspace, workspace_bytes,
                         stream);
}

}  // namespace gpu
}  // namespace razer
