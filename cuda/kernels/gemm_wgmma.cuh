// The W4A16 wgmma kernel template (sm_90a only). See gemm_notes.md.
//
// Warp-specialized: PWG producer warpgroups and CWG consumer warpgroups per
// CTA; a load ring of STAGES slots (X tile + W codes of one super-tile, 64 k)
// and a ring of DSTAGES decoded W tiles:
//   producers  one thread loads, with three TMA copies, the X tile (BM x 64,
//              fp16/bf16, with the 128-byte swizzle), the prepacked W codes
//              (BN/16 row groups x 512 bytes) and their scale group (x 256
//              bytes) into every free load slot,
//              up to STAGES stages ahead; all producer threads then decode each W code once (exactly, gemm_decode.cuh)
//              into a BN x 64 fp16/bf16 tile in shared memory;
//   consumers  run wgmma m64n128k16 (A = their 64 X rows, B = the decoded W,
//              both K-major with the 128-byte swizzle) and keep the fp32
//              accumulators.
// The decode is paid once per W element and CTA (BM rows of X share it), and
// the loads of up to STAGES stages are in flight while the tensor cores run.
// The load ring is deep (its slots are small) so that enough bytes are in
// flight; the decoded ring is 4 deep: decoding stage i waits for the
// consumers to release stage i - 4, which they do while running stage i - 3
// (a slot is released one stage after it was read).
// Barriers: loaded (the TMA / bulk copies landed), lempty (consumers done
// with a load slot), full (a decoded tile is written and fenced for the async
// proxy), dempty (consumers done with a decoded tile). The producers issue no
// global loads of their own: the proxy fence before each arrival would wait
// for any still in flight.
// Accumulation: the wgmma of 4 stages (256 k) form one chain whose result is
// added in binary32 RN (as RZ_GEMM_TWO_LEVEL_ACC in the mma.sync kernels): one
// chain over all of K drifts past SPEC §4's 1e-5 at long K.
// Registers: with more than 384 threads the producers give registers to the
// consumers (setmaxnreg): 64 accumulators + a 64-register chain.
// Grid, split-K and epilogue contract: as w4a16_mma_kernel (x = N tiles,
// y = K splits, z = M tiles; partials [tile][split][BM][BN]).
#pragma once

#include "gemm_mma.cuh"

namespace razer {
namespace gpu {

template <bool BF16_, bool RAZER_, int CWG_, int PWG_, int STAGES_>
struct WgmmaCfg {
  static constexpr bool WGMMA = true;
  static constexpr bool BF16 = BF16_;
  static constexpr bool RAZER = RAZER_;
  static constexpr int CWG = CWG_;  // consumer warpgroups (64 X rows each)
  static constexpr int PWG = PWG_;  // producer warpgroups
  static constexpr int STAGES = STAGES_;  // load ring (X tile + W codes)
  static constexpr int DSTAGES = 4;       // decoded-W ring
  static constexpr int MT = 64 * CWG;  // M tile
  static constexpr int NT = 128;       // N tile (wgmma n)
  static constexpr int THREADS = 128 * (CWG + PWG);
  static constexpr int X_BYTES = MT * 128;        // X tile of one stage
  static constexpr int W_BYTES = NT * 128;        // decoded W tile
  static constexpr int RAW_BYTES = NT / 16 * 512; // prepacked codes
  static constexpr int SC_BYTES = NT / 16 * 256;  // the scale group holding the stage's scales
  static constexpr int SLOT = X_BYTES + RAW_BYTES + SC_BYTES;  // load slot, a multiple of 1024
  static constexpr int SMEM = STAGES * SLOT + DSTAGES * W_BYTES + 1024 +
                              16 * (STAGES + DSTAGES);  // + alignment + barriers
  // Registers per thread: the launch share, or (setmaxnreg) PREGS for
  // producers and the rest for consumers.
  static constexpr int SHARE = 65536 / THREADS / 8 * 8;
  static constexpr bool REALLOC = SHARE < 168;
  static constexpr int PREGS = 56;
  static constexpr int CREGS = (65536 / 128 - PWG * PREGS) / CWG / 8 * 8 > 256
                                   ? 256 : (65536 / 128 - PWG * PREGS) / CWG / 8 * 8;
  static_assert(SLOT % 1024 == 0, "swizzled tiles need 1024-byte alignment");
  static_assert(STAGES >= 3, "STAGES");
  static_assert((NT / 16) % (4 * PWG) == 0, "row groups split evenly over producer warps");
};

namespace dev {

#if defined(__CUDA_ARCH__) && (__CUDA_ARCH__ == 900) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define RZ_HAVE_WGMMA 1
#else
#define RZ_HAVE_WGMMA 0
#endif

#if RZ_HAVE_WGMMA
__device__ __forceinline__ void mbar_init(uint32_t bar, unsigned count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(bar), "r"(count));
}
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
  asm volatile("{\n .reg .b64 st;\n mbarrier.arrive.shared::cta.b64 st, [%0];\n}" ::"r"(bar)
               : "memory");
}
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
  uint32_t ok = 0;
  do {
    asm volatile(
        "{\n .reg .pred p;\n mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
        " selp.u32 %0, 1, 0, p;\n}"
        : "=r"(ok)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (!ok);
}

__device__ __forceinline__ void mbar_expect_tx(uint32_t bar, uint32_t bytes) {
  asm volatile("{\n .reg .b64 st;\n mbarrier.arrive.expect_tx.shared::cta.b64 st, [%0], %1;\n}" ::"r"(bar),
               "r"(bytes)
               : "memory");
}
// 2D tensor TMA load of box (c0 = k, c1 = row) into shared memory.
__device__ __forceinline__ void tma_load_2d(uint32_t dst, const CUtensorMap* map, int c0, int c1,
                                            uint32_t bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
      " [%0], [%1, {%2, %3}], [%4];" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(bar)
      : "memory");
}
__device__ __forceinline__ uint32_t lds16(uint32_t addr) {
  unsigned short v;
  asm volatile("ld.shared.u16 %0, [%1];" : "=h"(v) : "r"(addr));
  return v;
}
__device__ __forceinline__ bool mbar_test(uint32_t bar, uint32_t parity) {
  uint32_t ok = 0;
  asm volatile(
      "{\n .reg .pred p;\n mbarrier.test_wait.parity.shared::cta.b64 p, [%1], %2;\n"
      " selp.u32 %0, 1, 0, p;\n}"
      : "=r"(ok)
      : "r"(bar), "r"(parity)
      : "memory");
  return ok != 0;
}

// Shared memory matrix descriptor: K-major tile of 128-byte rows with the
// 128-byte swizzle (8-row groups 1024 bytes apart), start address `addr`.
__device__ __forceinline__ uint64_t smem_desc(uint32_t addr) {
  return uint64_t((addr & 0x3FFFF) >> 4) | (uint64_t(16 >> 4) << 16) |
         (uint64_t(1024 >> 4) << 32) | (1ull << 62);
}

#define RZ_F4(i) "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3])
#define RZ_F16(i) RZ_F4(i), RZ_F4(i + 4), RZ_F4(i + 8), RZ_F4(i + 12)
#define RZ_WGMMA_N128(TY)                                                                     \
  asm volatile("{\n .reg .pred p;\n setp.ne.b32 p, %66, 0;\n"                                 \
               " wgmma.mma_async.sync.aligned.m64n128k16.f32." TY "." TY " "                 \
               "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,"                     \
               "%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,"            \
               "%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,"            \
               "%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63},"           \
               " %64, %65, p, 1, 1, 0, 0;\n}\n"                                               \
               : RZ_F16(0), RZ_F16(16), RZ_F16(32), RZ_F16(48)                               \
               : "l"(da), "l"(db), "r"(scale_d))

// d (+)= A(64 x 16) * B(16 x 128); scale_d = 0 starts a fresh chain.
template <bool BF16>
__device__ __forceinline__ void wgmma_n128(float (&d)[64], uint64_t da, uint64_t db, int scale_d) {
  if constexpr (BF16)
    RZ_WGMMA_N128("bf16");
  else
    RZ_WGMMA_N128("f16");
}
#undef RZ_WGMMA_N128
#undef RZ_F16
#undef RZ_F4

// Pins a register after wgmma.wait_group so the compiler does not read it
// earlier (the asm above only tells it the value changed at the issue).
__device__ __forceinline__ void reg_fence(float& r) { asm volatile("" : "+f"(r)::"memory"); }
#endif  // RZ_HAVE_WGMMA

// Byte offset of 16-byte chunk c (0..7) of row r in a 128-byte-swizzled tile.
__device__ __forceinline__ uint32_t swz(int r, int c) {
  return uint32_t(r * 128 + ((c ^ (r & 7)) << 4));
}

}  // namespace dev

template <class C>
__global__ void __launch_bounds__(C::THREADS, 1) w4a16_wgmma_kernel(const __grid_constant__ GemmArgs a) {
#if RZ_HAVE_WGMMA
  using namespace dev;
  constexpr int STAGES = C::STAGES, DSTAGES = C::DSTAGES, MT = C::MT, NT = C::NT;
  constexpr int PTHREADS = 128 * C::PWG;  // (threads of the producer warpgroups)
  constexpr int RG_PER_WARP = NT / 16 / (4 * C::PWG);
  extern __shared__ uint4 smem_raw[];
  // 1024-byte aligned base for the swizzled tiles; barriers after the ring.
  const uint32_t sbase = (smem_u32(smem_raw) + 1023u) & ~1023u;
  // Load slots (X tile, codes) indexed by stage % STAGES; decoded-W slots by
  // stage % DSTAGES. Barriers: loaded / lempty per load slot, full / dempty
  // per decoded slot.
  const uint32_t wbase = sbase + STAGES * C::SLOT;
  const uint32_t bars = wbase + DSTAGES * C::W_BYTES;
  auto x_tile = [&](int slot) { return sbase + slot * C::SLOT; };
  auto raw_tile = [&](int slot) { return sbase + slot * C::SLOT + C::X_BYTES; };
  auto sc_tile = [&](int slot) { return sbase + slot * C::SLOT + C::X_BYTES + C::RAW_BYTES; };
  auto w_tile = [&](int dslot) { return wbase + dslot * C::W_BYTES; };
  auto loaded = [&](int slot) { return bars + 8u * slot; };
  auto lempty = [&](int slot) { return bars + 8u * (STAGES + slot); };
  auto full = [&](int dslot) { return bars + 8u * (2 * STAGES + dslot); };
  auto dempty = [&](int dslot) { return bars + 8u * (2 * STAGES + DSTAGES + dslot); };

  const int tid = threadIdx.x;
  const int n_tile = blockIdx.x, split = blockIdx.y, m_tile = blockIdx.z;
  const int64_t m0 = int64_t(m_tile) * MT;
  const int st0 = split * a.st_per_split;
  const int st1 = min(a.ST, st0 + a.st_per_split);
  const int nst = max(st1 - st0, 0);

  if (tid == 0) {
    for (int s = 0; s < STAGES; ++s) {
      mbar_init(loaded(s), 1);
      mbar_init(lempty(s), 128 * C::CWG);
    }
    for (int s = 0; s < DSTAGES; ++s) {
      mbar_init(full(s), PTHREADS);
      mbar_init(dempty(s), 128 * C::CWG);
    }
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  __syncthreads();

  // The warpgroup index, broadcast so that the compiler sees the role branch
  // as warp-uniform (wgmma in a path it thinks divergent gets serialized).
  const int wg = __shfl_sync(0xffffffffu, tid / 128, 0);
  if (wg < C::PWG) {
    // ===================== producers =====================
    if constexpr (C::REALLOC) asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;" ::"n"(C::PREGS));
    const int lane = tid & 31, pwarp = tid >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int rg_local0 = pwarp * RG_PER_WARP;
    const int rg_tile0 = n_tile * (NT / 16);

    // Thread 0 loads stage j: the X tile by TMA (zero-filled outside
    // [0, M) x [0, K), swizzled by the tensor map) and the code bytes of the
    // tile's row groups by bulk copies, all completing on loaded[slot]. These
    // writes are async-proxy writes: the wgmma needs no proxy fence for them.
    auto issue = [&](int j) {
      const int slot = j % STAGES;
      const int st = st0 + j;
      mbar_expect_tx(loaded(slot), C::SLOT);
      tma_load_2d(x_tile(slot), &a.xmap, st * 64, int(m0), loaded(slot));
      tma_load_2d(raw_tile(slot), &a.wmap, st * (kPackTileBytes / 4), rg_tile0, loaded(slot));
      tma_load_2d(sc_tile(slot), &a.smap, (st / kPackScaleGroup) * (kPackScaleBytes / 4),
                  rg_tile0, loaded(slot));
    };

    // Thread 0 keeps the load ring full without waiting on the consumers:
    // before each stage it issues every stage whose slot is already free
    // (test_wait), and blocks only when the stage about to be decoded has
    // not been issued yet.
    int next = 0;  // next stage to issue (thread 0)
#pragma unroll 1
    for (int i = 0; i < nst; ++i) {
      const int slot = i % STAGES;
      if (tid == 0) {
        while (next < nst && next < i + STAGES) {
          if (next >= STAGES) {
            const uint32_t b = lempty(next % STAGES), par = ((next / STAGES) + 1) & 1;
            if (next > i) {
              if (!mbar_test(b, par)) break;
            } else {
              mbar_wait(b, par);
            }
          }
          issue(next++);
        }
      }
      const int dslot = i % DSTAGES;
      if (i >= DSTAGES) mbar_wait(dempty(dslot), ((i / DSTAGES) + 1) & 1);
      mbar_wait(loaded(slot), (i / STAGES) & 1);
#pragma unroll
      for (int r = 0; r < RG_PER_WARP; ++r) {
        const int rl = rg_local0 + r;
        // (Row groups past the weight's end read as zeros: TMA fills them.)
        const uint4 q = lds128(raw_tile(slot) + rl * kPackTileBytes + lane * 16);
        // The lane's 2 scale bytes of this super-tile (gemm_layout.h).
        const uint32_t sc =
            lds16(sc_tile(slot) + rl * kPackScaleBytes + lane * 8 + ((st0 + i) & 3) * 2);
        uint32_t lo[8], hi[8];
        decode_rows<C::BF16, C::RAZER>(q, sc, a.r_small, a.r_big, lo, hi);
        // Rows 16 rl + g (lo) and 16 rl + g + 8 (hi), k chunks 2t and 2t + 1.
        const int row_lo = rl * 16 + g, row_hi = row_lo + 8;
        const uint32_t wt = w_tile(dslot);
#pragma unroll
        for (int c = 0; c < 2; ++c) {
          asm volatile("st.shared.v4.u32 [%0], {%1,%2,%3,%4};" ::"r"(wt + swz(row_lo, 2 * t + c)),
                       "r"(lo[4 * c]), "r"(lo[4 * c + 1]), "r"(lo[4 * c + 2]), "r"(lo[4 * c + 3])
                       : "memory");
          asm volatile("st.shared.v4.u32 [%0], {%1,%2,%3,%4};" ::"r"(wt + swz(row_hi, 2 * t + c)),
                       "r"(hi[4 * c]), "r"(hi[4 * c + 1]), "r"(hi[4 * c + 2]), "r"(hi[4 * c + 3])
                       : "memory");
        }
      }
      // Make this thread's decoded tile visible to the wgmma (async proxy).
      asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
      mbar_arrive(full(dslot));
    }
    return;
  }

  // ===================== consumers =====================
  if constexpr (C::REALLOC) asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;" ::"n"(C::CREGS));
  const int ctid = tid - PTHREADS;
  const int cwg = wg - C::PWG;             // consumer warpgroup: X rows 64 cwg ..
  const int warp = (ctid >> 5) & 3, lane = ctid & 31, g = lane >> 2, t = lane & 3;
  // The 4 wgmma of a stage accumulate into tmp, a chain over CHAIN stages
  // (256 k) that is then added to acc in binary32 RN. One stage's wgmma group
  // stays in flight while the next is issued; a slot is released (empty)
  // once the group that read it has completed.
  constexpr int CHAIN = 4;
  auto release = [&](int stage) {
    mbar_arrive(lempty(stage % STAGES));
    mbar_arrive(dempty(stage % DSTAGES));
  };
  float acc[64], tmp[64];
#pragma unroll
  for (int r = 0; r < 64; ++r) acc[r] = tmp[r] = 0.0f;

#pragma unroll 1
  for (int i = 0; i < nst; ++i) {
    const int slot = i % STAGES;
    const int dslot = i % DSTAGES;
    mbar_wait(full(dslot), (i / DSTAGES) & 1);
    mbar_wait(loaded(slot), (i / STAGES) & 1);  // (already complete: the producers waited)
    const uint64_t da = smem_desc(x_tile(slot) + cwg * 64 * 128);
    const uint64_t db = smem_desc(w_tile(dslot));
    const bool fresh = i % CHAIN == 0;
#pragma unroll
    for (int r = 0; r < 64; ++r) reg_fence(tmp[r]);
    asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
#pragma unroll
    for (int kk = 0; kk < 4; ++kk)  // k16 steps: +32 bytes inside the swizzled rows
      wgmma_n128<C::BF16>(tmp, da + 2 * kk, db + 2 * kk, (fresh && kk == 0) ? 0 : 1);
    asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
#pragma unroll
    for (int r = 0; r < 64; ++r) reg_fence(tmp[r]);
    const bool chain_end = (i + 1) % CHAIN == 0 || i + 1 == nst;
    if (chain_end) {
      asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory");
#pragma unroll
      for (int r = 0; r < 64; ++r) reg_fence(tmp[r]);
      if (!fresh) release(i - 1);
      release(i);
#pragma unroll
      for (int r = 0; r < 64; ++r) acc[r] = __fadd_rn(acc[r], tmp[r]);
    } else if (!fresh) {
      // Stage i - 1's group has completed once at most one (stage i's) is pending.
      asm volatile("wgmma.wait_group.sync.aligned 1;" ::: "memory");
      release(i - 1);
    }
  }

  // ---- epilogue. acc[4 j + 2 h + c]: m = m0 + 64 cwg + 16 warp + g + 8 h,
  // n = n_tile * NT + 8 j + 2 t + c.
  const int ml0 = cwg * 64 + warp * 16 + g;
  const int CTH = 128 * C::CWG;
  auto consumer_sync = [&]() { asm volatile("bar.sync 1, %0;" ::"r"(CTH) : "memory"); };
  if (a.splits > 1) {
    const int64_t tile_id = int64_t(m_tile) * gridDim.x + n_tile;
    const int64_t tile_elems = int64_t(MT) * NT;
    float* part = a.partials + tile_id * a.splits * tile_elems;
#pragma unroll
    for (int j = 0; j < 16; ++j)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int ml = ml0 + 8 * h;
        const int nl = 8 * j + 2 * t;
        if (m0 + ml < a.M)
          __stcg(reinterpret_cast<float2*>(part + split * tile_elems + int64_t(ml) * NT + nl),
                 make_float2(acc[4 * j + 2 * h], acc[4 * j + 2 * h + 1]));
      }
    __threadfence();
    consumer_sync();
    __shared__ unsigned s_last;
    if (ctid == 0) {
      const unsigned old = atomicAdd(a.counters + tile_id, 1u);
      s_last = (old == unsigned(a.splits - 1)) ? 1u : 0u;
    }
    consumer_sync();
    if (s_last == 0u) return;
    __threadfence();
#pragma unroll
    for (int j = 0; j < 16; ++j)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int ml = ml0 + 8 * h;
        const int nl = 8 * j + 2 * t;
        float s0 = 0.0f, s1 = 0.0f;
        if (m0 + ml < a.M) {
          for (int sp = 0; sp < a.splits; ++sp) {
            const float2 v = __ldcg(
                reinterpret_cast<const float2*>(part + sp * tile_elems + int64_t(ml) * NT + nl));
            s0 = __fadd_rn(s0, v.x);
            s1 = __fadd_rn(s1, v.y);
          }
        }
        acc[4 * j + 2 * h] = s0;
        acc[4 * j + 2 * h + 1] = s1;
      }
    if (ctid == 0) a.counters[tile_id] = 0u;  // leave the workspace ready for the next call
  }

#pragma unroll
  for (int j = 0; j < 16; ++j) {
#pragma unroll
    for (int c = 0; c < 2; ++c) {
      const int n = n_tile * NT + 8 * j + 2 * t + c;
      if (n >= a.N) continue;
      const float bias = a.bias ? a.bias[n] : 0.0f;
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int64_t m = m0 + ml0 + 8 * h;
        if (m < a.M) {
          const float v = __fadd_rn(__fmul_rn(acc[4 * j + 2 * h + c], a.factor), bias);
          store_out(a.y, a.y_dtype, m * a.N + n, v);
        }
      }
    }
  }
#else
  // Built for an architecture without wgmma: the dispatcher never selects
  // this kernel there (gemm_w4a16_plan checks the kernel's architecture).
  __trap();
#endif
}

}  // namespace gpu
}  // namespace razer
