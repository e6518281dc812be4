// GPU quantizers (SPEC §3.1-3.4): see quantize.cuh for the contract, and
// cuda/tests/quantize_notes.md for the measurements behind the choices here.
//
// Two kernels:
// * amax_kernel: the exact amax of the whole tensor (integer max over the
//   magnitude bit patterns, which order like the values; order-free, so any
//   reduction shape gives the same bits), NaN/Inf detection (atomic min of the
//   first bad index), and, in the last CTA to finish, G = amax / divisor (and
//   RN(1/G) for the fast path) into the workspace and the caller's
//   global_scale; that CTA also zeroes the workspace's counters for the next
//   call. 16-byte loads, a grid of 8 CTAs per SM striding over the tensor,
//   four loads in flight per thread.
// * quantize_kernel: one thread per 16-element block, two blocks per thread
//   for nvfp4 (b and b + 256, so each warp-wide load is still contiguous), one
//   for nvfp4_razer_a (register-bound). A block is two 16-byte loads (bf16 /
//   fp16; four for fp32), one 8-byte code store and one scale byte. nvfp4 and
//   nvfp4_razer_a take the fast path of quantize_fast.cuh (proven-exact
//   shortcuts, checked on the CPU exhaustively where possible); anything it
//   does not cover, and nvfp4_4over6 / nvfp4_razer, uses the shared reference
//   quantizers of cuda/formats/block_quantize.h out of line, so the format
//   arithmetic is written once.
// A dynamic quantization is amax_kernel + quantize_kernel on the stream (the
// second pass walks the tensor backwards, so it starts on what the first pass
// left in L2); a static one is quantize_kernel alone.
//
// Build with --fmad=false (no FMA contraction; the fast path's FMAs are
// explicit __fmaf_rn), and without --use_fast_math (-ftz=false -prec-div=true).
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstring>  // before formats.h: see quantize_fast.cuh

#include "../formats/formats.h"
#include "quantize.cuh"
#include "quantize_block.cuh"
#include "quantize_fast.cuh"

namespace razer::gpu {

namespace detail {
QuantizeTuning& quantize_tuning() {
  static QuantizeTuning t;
  return t;
}
}  // namespace detail

namespace {

constexpr int kThreads = 256;
constexpr size_t kWorkspaceBytes = 256;

// Workspace words.
constexpr int kWsAmax = 0;     // u32: max magnitude bits as binary32
constexpr int kWsCount = 1;    // u32: CTAs of amax_kernel done
constexpr int kWsG = 2;        // f32: the global scale G, then RN(1/G) and the
                               // low part of 1/G (fastq::Divisor) at 3 and 4

using qblock::BlockOut;
using qblock::BlockParams;
using qblock::Elem;
using qblock::elem_bits;
using qblock::kFourOverSix;
using qblock::kNvfp4;
using qblock::kRazerA;
using qblock::kRazerW;
using qblock::magnitude_to_float;


template <DType DT>
__device__ __forceinline__ void load_block(const void* __restrict__ x, int64_t blk, uint32_t* w) {
  const uint4* p = reinterpret_cast<const uint4*>(x) + blk * (Elem<DT>::kWords / 4);
#pragma unroll
  for (int j = 0; j < Elem<DT>::kWords / 4; ++j) {
    const uint4 v = __ldg(p + j);
    w[4 * j] = v.x;
    w[4 * j + 1] = v.y;
    w[4 * j + 2] = v.z;
    w[4 * j + 3] = v.w;
  }
}

// The rare path: report the index of a block's first non-finite element
// (re-reading the block, so that the caller's words stay in registers).
template <DType DT>
__device__ __noinline__ void report_nonfinite(const void* __restrict__ x, int64_t b,
                                              unsigned long long* status) {
  uint32_t w[Elem<DT>::kWords];
  load_block<DT>(x, b, w);
  for (int i = 0; i < RZ_BLOCK; ++i) {
    if ((elem_bits<DT>(w, i) & Elem<DT>::kAbs) >= Elem<DT>::kInf) {
      atomicMin(status, static_cast<unsigned long long>(b * RZ_BLOCK + i));
      return;
    }
  }
}

// The generic (reference) block quantizers, out of line so that their
// registers and stack do not weigh on the fast path; they re-read the block
// from global memory (rare: blocks outside the fast path's range, and every
// block of nvfp4_4over6 / nvfp4_razer weights).
template <DType DT, int KIND>
__device__ __noinline__ BlockOut generic_block(const void* __restrict__ x, int64_t b, float G,
                                               float sv_a, float sv_b) {
  uint32_t w[Elem<DT>::kWords];
  load_block<DT>(x, b, w);
  return qblock::generic_block_words<DT, KIND>(w, G, sv_a, sv_b);
}

// ---------------------------------------------------------------- amax ----
// ws[kWsAmax] and ws[kWsCount] must be zero on entry; the last CTA sets them
// back to zero, so a workspace zero-filled once stays ready for the next call
// (no memset on the stream: that would be one more launch per call).
template <DType DT>
__global__ void __launch_bounds__(kThreads)
    amax_kernel(const void* __restrict__ x, int64_t nvec, uint32_t* ws, float divisor,
                float* g_out, unsigned long long* status) {
  constexpr int kElemsPerVec = 16 / (DT == DType::f32 ? 4 : 2);
  const uint4* p = reinterpret_cast<const uint4*>(x);
  const int64_t stride = int64_t(gridDim.x) * kThreads;
  const int64_t start = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  // Packed per-half maxima (16-bit types) or the plain max (f32).
  const uint32_t mask = DT == DType::f32 ? 0x7fffffffu : 0x7fff7fffu;
  auto fold = [&](uint32_t m, const uint4& v) {
    if constexpr (DT == DType::f32) {
      return max(max(m, v.x & mask), max(max(v.y & mask, v.z & mask), v.w & mask));
    } else {
      return __vmaxu2(__vmaxu2(m, v.x & mask),
                      __vmaxu2(__vmaxu2(v.y & mask, v.z & mask), v.w & mask));
    }
  };
  uint32_t m0 = 0, m1 = 0;
  int64_t i = start;
  for (; i + 3 * stride < nvec; i += 4 * stride) {
    const uint4 a = __ldg(p + i), b = __ldg(p + i + stride);
    const uint4 c = __ldg(p + i + 2 * stride), d = __ldg(p + i + 3 * stride);
    m0 = fold(fold(m0, a), b);
    m1 = fold(fold(m1, c), d);
  }
  for (; i < nvec; i += stride) m0 = fold(m0, __ldg(p + i));
  uint32_t m = DT == DType::f32 ? max(m0, m1) : __vmaxu2(m0, m1);
  if constexpr (DT != DType::f32) m = max(m & 0xffffu, m >> 16);

  if (m >= Elem<DT>::kInf) {
    // Rare: rescan this thread's vectors, report the first non-finite index
    // and take the max over the finite elements only.
    m = 0;
    unsigned long long bad = ~0ull;
    for (int64_t j = start; j < nvec; j += stride) {
      const uint4 v = __ldg(p + j);
      const uint32_t words[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
      for (int e = 0; e < kElemsPerVec; ++e) {
        const uint32_t raw = (DT == DType::f32 ? words[e]
                                               : (words[e >> 1] >> (16 * (e & 1)))) &
                             Elem<DT>::kAbs;
        if (raw >= Elem<DT>::kInf) {
          const unsigned long long idx = static_cast<unsigned long long>(j) * kElemsPerVec + e;
          bad = idx < bad ? idx : bad;
        } else {
          m = max(m, raw);
        }
      }
    }
    if (bad != ~0ull) atomicMin(status, bad);
  }
  uint32_t u = __float_as_uint(magnitude_to_float<DT>(m));
  u = __reduce_max_sync(0xffffffffu, u);
  if ((threadIdx.x & 31) == 0 && u != 0) atomicMax(ws + kWsAmax, u);
  __syncthreads();
  if (threadIdx.x == 0) {
    __threadfence();
    const unsigned done = atomicAdd(ws + kWsCount, 1u);
    if (done == gridDim.x - 1) {
      // The last CTA: every other CTA's atomicMax is visible.
      __threadfence();
      const uint32_t a = atomicMax(ws + kWsAmax, 0u);
      ws[kWsAmax] = 0u;  // every CTA is done with both words: reset them
      ws[kWsCount] = 0u;
      const float G = rz_div(__uint_as_float(a), divisor);
      const fastq::Divisor D = fastq::make_divisor(G);
      float* f = reinterpret_cast<float*>(ws);
      f[kWsG] = G;
      f[kWsG + 1] = D.hi;
      f[kWsG + 2] = D.lo;
      *g_out = G;
    }
  }
}

// ------------------------------------------------------------ quantize ----
struct QuantArgs {
  const void* x;
  int64_t nblocks;
  const float* g_src;  // the static G, or the workspace's G, 1/G hi, lo
  float sv_a, sv_b;    // svAct (razer_a) or svSmall (razer); svBig
  float win_lo, win_hi;
  float d6_hi, d6_lo;  // fastq::make_divisor(6)
  bool sv_fast, force_generic, reverse;
  uint8_t* codes;
  uint8_t* scales;
  float* g_out;  // STATIC: the static G is copied here
  unsigned long long* status;
};

// BPT blocks per thread (b, b + 256, ...: each load instruction of a warp
// still covers contiguous memory); all their loads are issued first. STATIC:
// G is the caller's, and a NaN/Inf is reported here (a dynamic quantization's
// amax_kernel already did).
template <DType DT, int KIND, bool STATIC, int BPT, int MINB>
__global__ void __launch_bounds__(kThreads, MINB)
    quantize_kernel(const __grid_constant__ QuantArgs a) {
  const int64_t cta = a.reverse ? int64_t(gridDim.x) - 1 - blockIdx.x : int64_t(blockIdx.x);
  const int64_t base = cta * (kThreads * BPT) + threadIdx.x;
  const float G = a.g_src[0];
  if (STATIC && base == 0) *a.g_out = G;

  uint32_t w[BPT][Elem<DT>::kWords];
#pragma unroll
  for (int j = 0; j < BPT; ++j)
    if (base + j * kThreads < a.nblocks) load_block<DT>(a.x, base + j * kThreads, w[j]);

  BlockParams p;
  p.G = G;
  p.have_g_divisor = !STATIC;
  if (!STATIC) {
    p.g_hi = a.g_src[1];
    p.g_lo = a.g_src[2];
  }
  p.d6_hi = a.d6_hi;
  p.d6_lo = a.d6_lo;
  p.sv_a = a.sv_a;
  p.sv_b = a.sv_b;
  p.win_lo = a.win_lo;
  p.win_hi = a.win_hi;
  p.sv_fast = a.sv_fast;
  p.force_generic = a.force_generic;
  const qblock::TensorSetup t = qblock::setup_tensor<KIND>(p);

#pragma unroll
  for (int j = 0; j < BPT; ++j) {
    const int64_t b = base + j * kThreads;
    if (b >= a.nblocks) break;
    const uint32_t amax_raw = qblock::block_absmax_raw<DT>(w[j]);
    // A NaN/Inf in the block: the generic path reads it as 0.
    if (STATIC && amax_raw >= Elem<DT>::kInf) report_nonfinite<DT>(a.x, b, a.status);
    BlockOut o{0u, 0u, 0u};
    // G == 0 (all-zero tensor, or amax / divisor underflowed): zero codes and
    // scales. A non-finite static G is treated the same (no NaN scale bytes).
    const void* block = static_cast<const char*>(a.x) + b * RZ_BLOCK * int64_t(sizeof(uint16_t)) *
                                                          (DT == DType::f32 ? 2 : 1);
    if (t.usable && !qblock::fast_block<DT, KIND>(w[j], amax_raw, t, block, &o))
      o = generic_block<DT, KIND>(a.x, b, G, a.sv_a, a.sv_b);
    reinterpret_cast<uint2*>(a.codes)[b] = make_uint2(o.c0, o.c1);
    a.scales[b] = static_cast<uint8_t>(o.sb);
  }
}

// ---------------------------------------------------------------- host ----
int sm_count() {
  int dev = 0, n = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return 132;
  if (cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess || n <= 0)
    return 132;
  return n;
}

bool aligned(const void* p, size_t a) { return (reinterpret_cast<uintptr_t>(p) % a) == 0; }

cudaError_t check_common(const void* x, int64_t rows, int64_t cols, const uint8_t* codes,
                         const uint8_t* scales, const float* g, const unsigned long long* status,
                         const void* ws, size_t ws_bytes) {
  if (rows < 0 || cols < 0 || cols % RZ_BLOCK != 0) return cudaErrorInvalidValue;
  if (g == nullptr || status == nullptr || ws == nullptr || ws_bytes < kWorkspaceBytes)
    return cudaErrorInvalidValue;
  if (!aligned(ws, 16)) return cudaErrorMisalignedAddress;
  if (rows > 0 && cols > 0) {
    if (x == nullptr || codes == nullptr || scales == nullptr) return cudaErrorInvalidValue;
    if (!aligned(x, 16) || !aligned(codes, 8)) return cudaErrorMisalignedAddress;
  }
  return cudaSuccess;
}

// Kernel shape: blocks per thread and the register budget (CTAs of 256
// threads per SM that must fit), per kind. Defaults from the H100
// measurements of cuda/tests/quantize_check.cu; the other shapes of the
// nvfp4 / nvfp4_razer_a kernels for f16/bf16 exist for that comparison.
struct Shape {
  int bpt, minb;
};
template <int KIND>
constexpr Shape kDefaultShape = qblock::is_razer_a(KIND) ? Shape{1, 4} : Shape{2, 4};

template <DType DT, int KIND, bool STATIC, int BPT, int MINB>
cudaError_t launch_shape(cudaStream_t stream, const QuantArgs& a) {
  const int64_t per_cta = int64_t(kThreads) * BPT;
  const dim3 grid(unsigned((a.nblocks + per_cta - 1) / per_cta));
  quantize_kernel<DT, KIND, STATIC, BPT, MINB><<<grid, kThreads, 0, stream>>>(a);
  return cudaGetLastError();
}

template <DType DT, int KIND, bool STATIC>
cudaError_t launch_dt(cudaStream_t stream, const QuantArgs& a) {
  constexpr Shape def = kDefaultShape<KIND>;
  if constexpr ((KIND == kNvfp4 || KIND == kRazerA) && DT != DType::f32) {
    // (kRazerACert only in its default shape.)
    const auto& tune = detail::quantize_tuning();
    const int bpt = tune.blocks_per_thread ? tune.blocks_per_thread : def.bpt;
    const int minb = tune.min_blocks ? tune.min_blocks : def.minb;
    if (bpt == 1 && minb == 4) return launch_shape<DT, KIND, STATIC, 1, 4>(stream, a);
    if (bpt == 2 && minb == 4) return launch_shape<DT, KIND, STATIC, 2, 4>(stream, a);
    if (bpt == 1 && minb == 3) return launch_shape<DT, KIND, STATIC, 1, 3>(stream, a);
    if (bpt == 2 && minb == 3) return launch_shape<DT, KIND, STATIC, 2, 3>(stream, a);
    if (bpt == 1 && minb == 2) return launch_shape<DT, KIND, STATIC, 1, 2>(stream, a);
  }
  return launch_shape<DT, KIND, STATIC, def.bpt, def.minb>(stream, a);
}

template <int KIND, bool STATIC>
cudaError_t launch_quantize(DType dt, int64_t nblocks, cudaStream_t stream, QuantArgs a) {
  a.nblocks = nblocks;
  const fastq::Divisor d6 = fastq::make_divisor(6.0f);  // host: IEEE, the same bits
  a.d6_hi = d6.hi;
  a.d6_lo = d6.lo;
  switch (dt) {
    case DType::f32:
      return launch_dt<DType::f32, KIND, STATIC>(stream, a);
    case DType::f16:
      return launch_dt<DType::f16, KIND, STATIC>(stream, a);
    case DType::bf16:
      return launch_dt<DType::bf16, KIND, STATIC>(stream, a);
    default:
      return cudaErrorInvalidValue;
  }
}

// amax_kernel: G = amax(x) / divisor into ws[kWsG] and *g_out.
cudaError_t launch_amax(DType dt, const void* x, int64_t n_elems, float divisor, uint32_t* ws,
                        float* g_out, unsigned long long* status, cudaStream_t stream) {
  if (detail::quantize_tuning().memset_workspace) {
    const cudaError_t e = cudaMemsetAsync(ws, 0, 2 * sizeof(uint32_t), stream);
    if (e != cudaSuccess) return e;
  }
  const int64_t bytes = n_elems * (dt == DType::f32 ? 4 : 2);
  const int64_t nvec = bytes / 16;
  int64_t want = (nvec + int64_t(kThreads) * 4 - 1) / (int64_t(kThreads) * 4);
  const int64_t cap = int64_t(sm_count()) * (2048 / kThreads);
  const int grid = int(want < 1 ? 1 : (want > cap ? cap : want));
  switch (dt) {
    case DType::f32:
      amax_kernel<DType::f32><<<grid, kThreads, 0, stream>>>(x, nvec, ws, divisor, g_out, status);
      break;
    case DType::f16:
      amax_kernel<DType::f16><<<grid, kThreads, 0, stream>>>(x, nvec, ws, divisor, g_out, status);
      break;
    case DType::bf16:
      amax_kernel<DType::bf16><<<grid, kThreads, 0, stream>>>(x, nvec, ws, divisor, g_out, status);
      break;
    default:
      return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

bool valid_dtype(DType dt) { return dt == DType::f32 || dt == DType::f16 || dt == DType::bf16; }

}  // namespace

size_t quantize_workspace_bytes(int64_t, int64_t) { return kWorkspaceBytes; }

cudaError_t quantize_weights(Format format, const void* x, DType dtype, int64_t rows,
                             int64_t cols, const FormatParams& params, uint8_t* codes,
                             uint8_t* scales, float* global_scale,
                             unsigned long long* status, void* workspace,
                             size_t workspace_bytes, cudaStream_t stream) {
  if (!valid_dtype(dtype)) return cudaErrorInvalidValue;
  if (format != Format::nvfp4 && format != Format::nvfp4_4over6 && format != Format::nvfp4_razer)
    return cudaErrorInvalidValue;
  cudaError_t e = check_common(x, rows, cols, codes, scales, global_scale, status, workspace,
                               workspace_bytes);
  if (e != cudaSuccess) return e;
  const float divisor =
      format == Format::nvfp4 ? 2688.0f : (format == Format::nvfp4_4over6 ? 1536.0f : 180.0f);
  uint32_t* ws = static_cast<uint32_t*>(workspace);
  const int64_t n = rows * cols;
  e = launch_amax(dtype, x, n, divisor, ws, global_scale, status, stream);
  if (e != cudaSuccess || n == 0) return e;
  const auto& tune = detail::quantize_tuning();
  QuantArgs a{};
  a.x = x;
  a.g_src = reinterpret_cast<const float*>(ws + kWsG);
  a.codes = codes;
  a.scales = scales;
  a.status = status;
  a.force_generic = tune.force_generic;
  a.reverse = tune.reverse_second_pass;
  const int64_t nblocks = n / RZ_BLOCK;
  switch (format) {
    case Format::nvfp4:
      return launch_quantize<kNvfp4, false>(dtype, nblocks, stream, a);
    case Format::nvfp4_4over6:
      return launch_quantize<kFourOverSix, false>(dtype, nblocks, stream, a);
    default:
      a.sv_a = params.sv_small;
      a.sv_b = params.sv_big;
      return launch_quantize<kRazerW, false>(dtype, nblocks, stream, a);
  }
}

cudaError_t quantize_activations(Format format, const void* x, DType dtype, int64_t rows,
                                 int64_t cols, float sv_act, const float* static_global_scale,
                                 uint8_t* codes, uint8_t* scales, float* global_scale_out,
                                 unsigned long long* status, void* workspace,
                                 size_t workspace_bytes, cudaStream_t stream) {
  if (!valid_dtype(dtype)) return cudaErrorInvalidValue;
  if (format != Format::nvfp4 && format != Format::nvfp4_razer_a) return cudaErrorInvalidValue;
  cudaError_t e = check_common(x, rows, cols, codes, scales, global_scale_out, status, workspace,
                               workspace_bytes);
  if (e != cudaSuccess) return e;
  const bool razer = format == Format::nvfp4_razer_a;
  const auto& tune = detail::quantize_tuning();
  QuantArgs a{};
  a.x = x;
  a.codes = codes;
  a.scales = scales;
  a.status = status;
  a.force_generic = tune.force_generic;
  if (razer) {
    const fastq::SvWindow win = fastq::sv_window(sv_act);
    a.sv_a = sv_act;
    a.win_lo = win.lo;
    a.win_hi = win.hi;
    a.sv_fast = win.fast;
  }
  uint32_t* ws = static_cast<uint32_t*>(workspace);
  const int64_t n = rows * cols;
  const int64_t nblocks = n / RZ_BLOCK;
  if (static_global_scale != nullptr) {
    // One pass; the kernel also copies the static G to global_scale_out.
    if (n == 0) {
      return cudaMemcpyAsync(global_scale_out, static_global_scale, sizeof(float),
                             cudaMemcpyDeviceToDevice, stream);
    }
    a.g_src = static_global_scale;
    a.g_out = global_scale_out;
    if (razer && tune.razer_a_certified && dtype != DType::f32)
      return launch_quantize<qblock::kRazerACert, true>(dtype, nblocks, stream, a);
    if (razer) return launch_quantize<kRazerA, true>(dtype, nblocks, stream, a);
    return launch_quantize<kNvfp4, true>(dtype, nblocks, stream, a);
  }
  e = launch_amax(dtype, x, n, 2688.0f, ws, global_scale_out, status, stream);
  if (e != cudaSuccess || n == 0) return e;
  a.reverse = tune.reverse_second_pass;
  a.g_src = reinterpret_cast<const float*>(ws + kWsG);
  if (razer && tune.razer_a_certified && dtype != DType::f32)
    return launch_quantize<qblock::kRazerACert, false>(dtype, nblocks, stream, a);
  if (razer) return launch_quantize<kRazerA, false>(dtype, nblocks, stream, a);
  return launch_quantize<kNvfp4, false>(dtype, nblocks, stream, a);
}

cudaError_t quantize_workspace_init(void* workspace, size_t workspace_bytes, cudaStream_t stream) {
  if (workspace == nullptr || workspace_bytes < kWorkspaceBytes) return cudaErrorInvalidValue;
  return cudaMemsetAsync(workspace, 0, kWorkspaceBytes, stream);
}

}  // namespace razer::gpu
