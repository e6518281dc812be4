// The W4A16 mma.sync kernel template (sm_80+). See gemm_notes.md.
//
// One CTA: WARPS warps along N, each warp RPW row groups of 16 rows (the mma
// A operand: decoded weights, straight from global memory into registers
// with one 16-byte load per thread per row group and super-tile, prefetched
// one stage ahead); an M tile of 8*NB rows of X (the B operand, n8 each),
// staged through shared memory with cp.async in a STAGES-deep ring of
// SPS super-tiles (64 k each); a K range [st0, st1) of super-tiles
// (split-K over blockIdx.y, deterministic reduction through the workspace).
// Grid: x = N tiles (16*RPW*WARPS rows), y = K splits, z = M tiles.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "gemm_decode.cuh"
#include "gemm_layout.h"

// 1: fp32 accumulation in two levels (a fresh mma chain per 64-k super-tile,
// then a binary32 add), needed for SPEC §4's fp32 tolerance at long K.
// 0: one mma chain over the whole K range (faster, drifts at long K).
#ifndef RZ_GEMM_TWO_LEVEL_ACC
#define RZ_GEMM_TWO_LEVEL_ACC 1
#endif

// Stages of code bytes past the first that a CTA prefetches into L2 before
// waiting for the previous kernel (see the kernel's prologue).
#ifndef RZ_GEMM_L2_PREFETCH_STAGES
#define RZ_GEMM_L2_PREFETCH_STAGES 1
#endif

namespace razer {
namespace gpu {

struct GemmArgs {
  const void* x;  // [M, K] fp16 / bf16
  int64_t M;
  int K;
  int N;
  const uint8_t* codes;   // prepacked codes
  const uint8_t* scales;  // prepacked scales
  int RG, ST, SG;
  const float* bias;      // [N] or null
  void* y;                // [M, N]
  int y_dtype;            // DType
  float factor;           // G * 2^7
  uint32_t r_small, r_big;
  int splits;             // gridDim.y
  int st_per_split;       // multiple of 4
  float* partials;        // split-K workspace (splits > 1)
  unsigned* counters;     // one per (m tile, n tile)
};

namespace dev {

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(src_bytes));
}
__device__ __forceinline__ void prefetch_l2(const void* p) {
  asm volatile("prefetch.global.L2 [%0];" ::"l"(p));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

// Streaming loads (no L1 allocation), predicated without a branch: when
// `pred` is false nothing is read and the destination keeps its value.
__device__ __forceinline__ void ldg16_pred(uint4& v, const void* p, bool pred) {
  asm volatile(
      "{\n .reg .pred q;\n setp.ne.b32 q, %5, 0;\n"
      " @q ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];\n}\n"
      : "+r"(v.x), "+r"(v.y), "+r"(v.z), "+r"(v.w)
      : "l"(p), "r"(int(pred)));
}
__device__ __forceinline__ void ldg8_pred(uint32_t& a, uint32_t& b, const void* p, bool pred) {
  asm volatile(
      "{\n .reg .pred q;\n setp.ne.b32 q, %3, 0;\n"
      " @q ld.global.nc.L1::no_allocate.v2.u32 {%0,%1}, [%2];\n}\n"
      : "+r"(a), "+r"(b)
      : "l"(p), "r"(int(pred)));
}
__device__ __forceinline__ void ldg4_pred(uint32_t& a, const void* p, bool pred) {
  asm volatile(
      "{\n .reg .pred q;\n setp.ne.b32 q, %2, 0;\n"
      " @q ld.global.nc.L1::no_allocate.u32 %0, [%1];\n}\n"
      : "+r"(a)
      : "l"(p), "r"(int(pred)));
}
__device__ __forceinline__ void ldg2_pred(uint32_t& a, const void* p, bool pred) {
  unsigned short h = 0;
  asm volatile(
      "{\n .reg .pred q;\n setp.ne.b32 q, %2, 0;\n"
      " @q ld.global.nc.L1::no_allocate.u16 %0, [%1];\n}\n"
      : "+h"(h)
      : "l"(p), "r"(int(pred)));
  a = h;
}

// Programmatic dependent launch (sm_90+; no-ops before). The GEMM kernels
// let the next kernel of the stream launch early (trigger), and read only the
// packed weights before waiting for the previous kernel (wait): every other
// global access (X, bias, Y, the split-K workspace) comes after the wait.
// Weights are never written by a kernel that triggers early (only these GEMM
// kernels and x_permute trigger, and none of them writes weights), so reading
// them early is safe; a non-triggering predecessor (prepack, a copy)
// completes before this kernel starts at all.
__device__ __forceinline__ void pdl_trigger() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ uint2 lds64(uint32_t addr) {
  uint2 v;
  asm volatile("ld.shared.v2.u32 {%0,%1}, [%2];" : "=r"(v.x), "=r"(v.y) : "r"(addr));
  return v;
}
__device__ __forceinline__ uint4 lds128(uint32_t addr) {
  uint4 v;
  asm volatile("ld.shared.v4.u32 {%0,%1,%2,%3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "r"(addr));
  return v;
}

template <bool BF16>
__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                         uint32_t b1) {
  if constexpr (BF16) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, "
        "{%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, "
        "{%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

// Split-K: called by every thread of the group that wrote the CTA's partials
// (sync() is that group's barrier, leader one of its threads). Returns true
// in the last CTA of the tile to arrive, which then sums the partials; the
// fences make every CTA's partials visible to it. The counter is reset by
// that CTA after its sum (the workspace contract: zero between calls).
template <class Sync>
__device__ __forceinline__ bool split_k_last(unsigned* counter, int splits, bool leader,
                                             Sync&& sync) {
  __shared__ unsigned s_last;
  __threadfence();
  sync();
  if (leader) s_last = atomicAdd(counter, 1u) == unsigned(splits - 1) ? 1u : 0u;
  sync();
  const bool last = s_last != 0u;
  if (last) __threadfence();
  return last;
}

__device__ __forceinline__ void store_out(void* y, int y_dtype, int64_t idx, float v) {
  if (y_dtype == 0) {
    static_cast<float*>(y)[idx] = v;
  } else if (y_dtype == 1) {
    static_cast<__half*>(y)[idx] = __float2half_rn(v);
  } else {
    static_cast<__nv_bfloat16*>(y)[idx] = __float2bfloat16_rn(v);
  }
}

}  // namespace dev

template <bool BF16_, bool RAZER_, int NB_, int RPW_, int WARPS_, int SPS_, int STAGES_,
          int MINB_>
struct GemmCfg {
  static constexpr bool WGMMA = false;
  static constexpr bool BF16 = BF16_;
  static constexpr bool RAZER = RAZER_;
  static constexpr int NB = NB_;          // n8 groups of X rows (M tile = 8 NB)
  static constexpr int RPW = RPW_;        // row groups per warp
  static constexpr int WARPS = WARPS_;    // warps per CTA (all along N)
  static constexpr int SPS = SPS_;        // super-tiles per stage (1, 2, 4 or 8)
  static constexpr int STAGES = STAGES_;  // X ring depth (>= 2)
  static constexpr int MINB = MINB_;      // __launch_bounds__ min blocks
  static constexpr int THREADS = WARPS * 32;
  static constexpr int MT = NB * 8;                 // M tile
  static constexpr int NT = WARPS * RPW * 16;       // N tile
  static constexpr int XS = SPS * 64 + 8;           // smem row stride (halves), +16 B pad
  static constexpr int SMEM = STAGES * MT * XS * 2; // bytes
  static constexpr int REGS = RPW * NB * 4;         // accumulators per thread
  static_assert(SPS == 1 || SPS == 2 || SPS == 4 || SPS == 8, "SPS");
  static_assert(STAGES >= 2, "STAGES");
};

template <class C>
__global__ void __launch_bounds__(C::THREADS, C::MINB) w4a16_mma_kernel(const GemmArgs a) {
  using namespace dev;
  constexpr int NB = C::NB, RPW = C::RPW, SPS = C::SPS, STAGES = C::STAGES, MT = C::MT,
                XS = C::XS, THREADS = C::THREADS;
  extern __shared__ uint4 smem_raw[];
  uint16_t* xs = reinterpret_cast<uint16_t*>(smem_raw);

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
  const int n_tile = blockIdx.x, split = blockIdx.y, m_tile = blockIdx.z;
  const int64_t m0 = int64_t(m_tile) * MT;
  const int st0 = split * a.st_per_split;
  const int st1 = min(a.ST, st0 + a.st_per_split);
  const int nst = st1 - st0;  // >= 1 in practice; <= 0 leaves acc = 0
  const int nstage = nst > 0 ? (nst + SPS - 1) / SPS : 0;
  const int rg_base = (n_tile * C::WARPS + warp) * RPW;

  // ---- X stage loader (cp.async, zero fill outside [0, M) x [st0*64, min(K, st1*64)))
  auto load_x = [&](int stage, int slot) {
    const int kst = st0 + stage * SPS;
    constexpr int CHUNKS = MT * SPS * 8;
#pragma unroll
    for (int c0 = 0; c0 < CHUNKS; c0 += THREADS) {
      const int c = c0 + tid;
      if (CHUNKS % THREADS == 0 || c < CHUNKS) {
        const int row = c / (SPS * 8), col = c % (SPS * 8);
        const int64_t m = m0 + row;
        const int k = kst * 64 + col * 8;
        const bool ok = (m < a.M) && (k < a.K) && (kst + col / 8 < st1);
        const void* src = ok ? static_cast<const void*>(static_cast<const uint16_t*>(a.x) +
                                                        (m * a.K + k))
                             : a.x;
        cp_async16(smem_u32(xs + (slot * MT + row) * XS + col * 8), src, ok ? 16 : 0);
      }
    }
  };

  // ---- W loader: codes (16 B per lane, row group, super-tile) and scales
  // (SPS * 2 bytes per lane and row group) straight into registers. Loads
  // outside [0, RG) x [st0, st1) are skipped (predicated, no branch); their
  // registers hold stale data that is never used (rows past RG are never
  // stored, super-tiles past st1 never computed).
  constexpr int SW = SPS >= 4 ? SPS / 2 : 1;  // 32-bit scale words per row group
  struct WStage {
    uint4 q[SPS][RPW];
    uint32_t s[RPW][SW];
  };
  auto load_q = [&](int stage, int j, int r, uint4& dst, bool pred) {
    const int rg = rg_base + r;
    const int st = st0 + stage * SPS + j;
    ldg16_pred(dst, a.codes + (int64_t(rg) * a.ST + st) * kPackTileBytes + lane * 16,
               pred && rg < a.RG && st < st1);
  };
  auto load_s = [&](int stage, WStage& w, bool pred) {
    const int kst = st0 + stage * SPS;
#pragma unroll
    for (int r = 0; r < RPW; ++r) {
      const int rg = rg_base + r;
      // kst is a multiple of SPS and split starts are multiples of
      // max(4, SPS), so the stage's scale bytes are whole aligned pieces.
      const bool ok = pred && rg < a.RG && kst < st1;
      const uint8_t* sp = a.scales +
                          (int64_t(rg) * a.SG + kst / kPackScaleGroup) * kPackScaleBytes +
                          lane * 8 + (kst % kPackScaleGroup) * 2;
      if constexpr (SPS >= 4) {
#pragma unroll
        for (int gi = 0; gi < SPS / 4; ++gi)
          ldg8_pred(w.s[r][2 * gi], w.s[r][2 * gi + 1], sp + gi * kPackScaleBytes,
                    ok && kst + 4 * gi < st1);
      } else if constexpr (SPS == 2) {
        ldg4_pred(w.s[r][0], sp, ok);
      } else {
        ldg2_pred(w.s[r][0], sp, ok);
      }
    }
  };

  float acc[RPW][NB][4];
#pragma unroll
  for (int r = 0; r < RPW; ++r)
#pragma unroll
    for (int nb = 0; nb < NB; ++nb)
#pragma unroll
      for (int i = 0; i < 4; ++i) acc[r][nb][i] = 0.0f;

  // ---- pipeline prologue. W for stage 0 first (before the wait for the
  // previous kernel: see pdl_wait); afterwards each fragment's registers are
  // refilled with the next stage's data right after they are decoded (one
  // stage in flight). Then the X ring.
  pdl_trigger();
  WStage w;
#pragma unroll
  for (int r = 0; r < RPW; ++r)
#pragma unroll
    for (int i = 0; i < SW; ++i) w.s[r][i] = 0u;
  load_s(0, w, true);
#pragma unroll
  for (int j = 0; j < SPS; ++j)
#pragma unroll
    for (int r = 0; r < RPW; ++r) load_q(0, j, r, w.q[j][r], true);
  // Stage 1's code bytes (the super-tiles after stage 0 are contiguous per
  // row group) into L2, so that while the previous kernel drains this CTA
  // streams two stages. (Prefetching the CTA's whole K range measured slower
  // on the tall shapes: more than the L2 holds, evicted before use.)
#pragma unroll 1
  for (int r = 0; r < RPW; ++r) {
    const int rg = rg_base + r;
    if (rg >= a.RG || nst <= SPS) break;
    const char* p = reinterpret_cast<const char*>(a.codes) +
                    (int64_t(rg) * a.ST + st0 + SPS) * kPackTileBytes;
    const int bytes = min(nst - SPS, RZ_GEMM_L2_PREFETCH_STAGES * SPS) * kPackTileBytes;
#pragma unroll 1
    for (int off = lane * 128; off < bytes; off += 32 * 128) prefetch_l2(p + off);
  }
  pdl_wait();
#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) {
    if (s < nstage) load_x(s, s);
    cp_async_commit();
  }

  for (int stage = 0; stage < nstage; ++stage) {
    const bool more = stage + 1 < nstage;
    uint32_t sc[RPW][SW];
#pragma unroll
    for (int r = 0; r < RPW; ++r)
#pragma unroll
      for (int i = 0; i < SW; ++i) sc[r][i] = w.s[r][i];
    load_s(stage + 1, w, more);
    cp_async_wait<STAGES - 2>();
    __syncthreads();
    {
      const int s2 = stage + STAGES - 1;
      if (s2 < nstage) load_x(s2, s2 % STAGES);
      cp_async_commit();
    }
    const int slot = stage % STAGES;
    const uint32_t xbase = smem_u32(xs + (slot * MT + g) * XS + 16 * t);
#pragma unroll
    for (int j = 0; j < SPS; ++j) {
      if (SPS > 1 && stage * SPS + j >= nst) break;  // last stage only (more == false)
      uint32_t af[RPW][4][4];
#pragma unroll
      for (int r = 0; r < RPW; ++r) {
        const uint32_t sw = sc[r][j >> 1] >> (16 * (j & 1));
        decode_fragment<C::BF16, C::RAZER>(w.q[j][r], sw, a.r_small, a.r_big, af[r]);
        load_q(stage + 1, j, r, w.q[j][r], more);
      }
#pragma unroll
      for (int nb = 0; nb < NB; ++nb) {
        const uint32_t addr = xbase + (nb * 8 * XS + j * 64) * 2;
        const uint4 b01 = lds128(addr);
        const uint4 b23 = lds128(addr + 16);
#pragma unroll
        for (int r = 0; r < RPW; ++r) {
#if RZ_GEMM_TWO_LEVEL_ACC
          // The tensor cores' fp32 accumulation does not round to nearest:
          // one chain over all of K drifts (rel. error 3.9e-5 at K = 28672 on
          // the H100, over SPEC §4's 1e-5 for fp32 output). Each super-tile
          // (64 k) is summed by a fresh 4-mma chain and added in binary32 RN.
          float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
          mma16816<C::BF16>(t, af[r][0], b01.x, b01.y);
          mma16816<C::BF16>(t, af[r][1], b01.z, b01.w);
          mma16816<C::BF16>(t, af[r][2], b23.x, b23.y);
          mma16816<C::BF16>(t, af[r][3], b23.z, b23.w);
#pragma unroll
          for (int i = 0; i < 4; ++i) acc[r][nb][i] = __fadd_rn(acc[r][nb][i], t[i]);
#else
          mma16816<C::BF16>(acc[r][nb], af[r][0], b01.x, b01.y);
          mma16816<C::BF16>(acc[r][nb], af[r][1], b01.z, b01.w);
          mma16816<C::BF16>(acc[r][nb], af[r][2], b23.x, b23.y);
          mma16816<C::BF16>(acc[r][nb], af[r][3], b23.z, b23.w);
#endif
        }
      }
    }
  }
  cp_async_wait<0>();

  // ---- epilogue
  // Fragment element i of acc[r][nb]: n = 16 (rg_base + r) + g + 8 (i >> 1),
  // m = m0 + 8 nb + 2 t + (i & 1).
  if (a.splits > 1) {
    const int64_t tile_id = int64_t(m_tile) * gridDim.x + n_tile;
    const int64_t tile_elems = int64_t(MT) * C::NT;
    float* part = a.partials + tile_id * a.splits * tile_elems;
    const int n_local0 = (warp * RPW) * 16 + g;
    // f(ml, nl, v) for each of this thread's accumulators v: tile row ml, column nl.
    auto each_acc = [&](auto&& f) {
#pragma unroll
      for (int r = 0; r < RPW; ++r)
#pragma unroll
        for (int nb = 0; nb < NB; ++nb)
#pragma unroll
          for (int i = 0; i < 4; ++i)
            f(nb * 8 + 2 * t + (i & 1), n_local0 + r * 16 + 8 * (i >> 1), acc[r][nb][i]);
    };
    each_acc([&](int ml, int nl, float& v) {
      if (m0 + ml < a.M) __stcg(part + split * tile_elems + int64_t(ml) * C::NT + nl, v);
    });
    if (!split_k_last(a.counters + tile_id, a.splits, tid == 0, [] { __syncthreads(); })) return;
    // The last CTA sums the partials in split order (deterministic); the split
    // loop is the outer one, so each split's loads are in flight together.
    each_acc([](int, int, float& v) { v = 0.0f; });
#pragma unroll 1
    for (int sp = 0; sp < a.splits; ++sp)
      each_acc([&](int ml, int nl, float& v) {
        if (m0 + ml < a.M)
          v = __fadd_rn(v, __ldcg(part + sp * tile_elems + int64_t(ml) * C::NT + nl));
      });
    if (tid == 0) a.counters[tile_id] = 0u;  // leave the workspace ready for the next call
  }

#pragma unroll
  for (int r = 0; r < RPW; ++r) {
    const int rg = rg_base + r;
#pragma unroll
    for (int hi = 0; hi < 2; ++hi) {
      const int n = rg * 16 + g + 8 * hi;
      if (n >= a.N) continue;
      const float bias = a.bias ? a.bias[n] : 0.0f;
#pragma unroll
      for (int nb = 0; nb < NB; ++nb)
#pragma unroll
        for (int lo = 0; lo < 2; ++lo) {
          const int64_t m = m0 + nb * 8 + 2 * t + lo;
          if (m < a.M) {
            const float v = __fadd_rn(__fmul_rn(acc[r][nb][2 * hi + lo], a.factor), bias);
            store_out(a.y, a.y_dtype, m * a.N + n, v);
          }
        }
    }
  }
}

}  // namespace gpu
}  // namespace razer
