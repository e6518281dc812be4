// The W4A16 wgmma kernel template (sm_90a only). See gemm_notes.md.
//
// Warp-specialized: PWG producer warpgroups and CWG consumer warpgroups per
// CTA, a ring of STAGES slots of one super-tile (64 k) each:
//   producers  cp.async the X tile (BM x 64, fp16/bf16, into the 128-byte
//              swizzled layout) and the prepacked W codes (BN/16 row groups
//              x 512 bytes) LOOK = STAGES - 3 stages ahead, then decode each
//              W code once (exactly, gemm_decode.cuh) into a BN x 64
//              fp16/bf16 tile in shared memory;
//   consumers  run wgmma m64n128k16 (A = their 64 X rows, B = the decoded W,
//              both K-major with the 128-byte swizzle) and keep the fp32
//              accumulators.
// The decode is paid once per W element and CTA (BM rows of X share it), and
// the loads of LOOK stages are in flight while the tensor cores run. LOOK
// leaves two slots of slack: the consumers release a slot one stage after
// reading it, and that release must not hold up the next decode.
// Barriers: full[s] (producers arrive after their cp.async landed and the
// decoded tile is written, fenced for the async proxy), empty[s] (consumers
// arrive once the wgmma that read the slot completed).
// (A variant loading through TMA, one thread issuing tensor copies of X, the
// codes and the scales into a deeper ring, measured 1.5x slower on the H100:
// gemm_notes.md.)
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
  static constexpr int STAGES = STAGES_;
  static constexpr int MT = 64 * CWG;  // M tile
  static constexpr int NT = 128;       // N tile (wgmma n)
  static constexpr int THREADS = 128 * (CWG + PWG);
  static constexpr int X_BYTES = MT * 128;        // X tile of one stage
  static constexpr int W_BYTES = NT * 128;        // decoded W tile
  static constexpr int RAW_BYTES = NT / 16 * 512; // prepacked codes
  static constexpr int SLOT = X_BYTES + W_BYTES + RAW_BYTES;  // a multiple of 1024
  static constexpr int SMEM = STAGES * SLOT + 1024 + 16 * STAGES;  // + alignment + barriers
  // Registers per thread: the launch share, or (setmaxnreg) PREGS for
  // producers and the rest for consumers.
  static constexpr int SHARE = 65536 / THREADS / 8 * 8;
  static constexpr bool REALLOC = SHARE < 168;
  static constexpr int PREGS = 56;
  static constexpr int CREGS = (65536 / 128 - PWG * PREGS) / CWG / 8 * 8 > 256
                                   ? 256 : (65536 / 128 - PWG * PREGS) / CWG / 8 * 8;
  static_assert(SLOT % 1024 == 0, "swizzled tiles need 1024-byte alignment");
  static_assert(STAGES >= 4, "STAGES");
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
__global__ void __launch_bounds__(C::THREADS, 1) w4a16_wgmma_kernel(const GemmArgs a) {
#if RZ_HAVE_WGMMA
  using namespace dev;
  constexpr int STAGES = C::STAGES, LOOK = STAGES - 3, MT = C::MT, NT = C::NT;
  constexpr int PTHREADS = 128 * C::PWG;  // (threads of the producer warpgroups)
  constexpr int RG_PER_WARP = NT / 16 / (4 * C::PWG);
  extern __shared__ uint4 smem_raw[];
  // 1024-byte aligned base for the swizzled tiles; barriers after the ring.
  const uint32_t sbase = (smem_u32(smem_raw) + 1023u) & ~1023u;
  const uint32_t bars = sbase + STAGES * C::SLOT;
  auto x_tile = [&](int slot) { return sbase + slot * C::SLOT; };
  auto w_tile = [&](int slot) { return sbase + slot * C::SLOT + C::X_BYTES; };
  auto raw_tile = [&](int slot) { return sbase + slot * C::SLOT + C::X_BYTES + C::W_BYTES; };
  auto full = [&](int slot) { return bars + 8u * slot; };
  auto empty = [&](int slot) { return bars + 8u * (STAGES + slot); };

  const int tid = threadIdx.x;
  const int n_tile = blockIdx.x, split = blockIdx.y, m_tile = blockIdx.z;
  const int64_t m0 = int64_t(m_tile) * MT;
  const int st0 = split * a.st_per_split;
  const int st1 = min(a.ST, st0 + a.st_per_split);
  const int nst = max(st1 - st0, 0);

  pdl_trigger();
  if (tid == 0) {
    for (int s = 0; s < STAGES; ++s) {
      mbar_init(full(s), PTHREADS);
      mbar_init(empty(s), 128 * C::CWG);
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
    const int rg0 = n_tile * (NT / 16) + rg_local0;

    // This thread's X chunks (16 bytes = 8 k of one row) are the same
    // (row, column) in every stage: their source rows and swizzled offsets
    // are computed once; a stage adds its k offset.
    constexpr int XCHUNKS = MT * 8;
    constexpr int XPT = (XCHUNKS + PTHREADS - 1) / PTHREADS;
    const uint16_t* xsrc[XPT];
    uint32_t xdst[XPT];
    int xklim[XPT];  // the chunk is inside K while the stage's k0 < xklim
#pragma unroll
    for (int u = 0; u < XPT; ++u) {
      const int c = u * PTHREADS + tid;
      const int row = c >> 3, col = c & 7;
      const bool ok = (XCHUNKS % PTHREADS == 0 || c < XCHUNKS) && m0 + row < a.M;
      xsrc[u] = static_cast<const uint16_t*>(a.x) + (ok ? (m0 + row) * a.K + col * 8 : 0);
      xdst[u] = swz(row, col);
      xklim[u] = ok ? a.K - col * 8 : INT32_MIN;
    }

    // The cp.async of stage j: the X tile and this lane's code bytes (chunks
    // outside [0, M) x [0, K) and row groups past RG are zero-filled).
    auto issue_x = [&](int j) {
      const int slot = j % STAGES;
      const int k0 = (st0 + j) * 64;
#pragma unroll
      for (int u = 0; u < XPT; ++u) {
        const bool ok = k0 < xklim[u];
        cp_async16(x_tile(slot) + xdst[u], ok ? xsrc[u] + k0 : xsrc[u], ok ? 16 : 0);
      }
    };
    auto issue_codes = [&](int j) {
      const int slot = j % STAGES;
      const int st = st0 + j;
#pragma unroll
      for (int r = 0; r < RG_PER_WARP; ++r) {
        const int rg = rg0 + r;
        const bool ok = rg < a.RG;
        const uint8_t* src =
            ok ? a.codes + (int64_t(rg) * a.ST + st) * kPackTileBytes + lane * 16 : a.codes;
        cp_async16(raw_tile(slot) + (rg_local0 + r) * kPackTileBytes + lane * 16, src, ok ? 16 : 0);
      }
    };

    // Scale words: 8 bytes per lane, row group and scale group (4 stages);
    // split starts are multiples of 4 super-tiles, so stage j uses group j / 4.
    uint32_t s_cur[RG_PER_WARP][2], s_next[RG_PER_WARP][2];
    auto load_scales = [&](int group, uint32_t (&s)[RG_PER_WARP][2]) {
      const int sg = st0 / kPackScaleGroup + group;
#pragma unroll
      for (int r = 0; r < RG_PER_WARP; ++r) {
        const int rg = rg0 + r;
        s[r][0] = s[r][1] = 0u;
        ldg8_pred(s[r][0], s[r][1],
                  a.scales + (int64_t(rg) * a.SG + sg) * kPackScaleBytes + lane * 8,
                  rg < a.RG && group * 4 < nst);
      }
    };
    load_scales(0, s_next);

    // Prologue: the weights of the first LOOK stages before the wait for the
    // previous kernel (pdl_wait), their X after it. The codes join the first
    // commit group, so group j still completes stage j.
#pragma unroll 1
    for (int j = 0; j < LOOK; ++j)
      if (j < nst) issue_codes(j);
    pdl_wait();
#pragma unroll 1
    for (int j = 0; j < LOOK; ++j) {
      if (j < nst) issue_x(j);
      cp_async_commit();
    }
#pragma unroll 1
    for (int i = 0; i < nst; ++i) {
      const int slot = i % STAGES;
      {
        const int j = i + LOOK;
        if (j < nst) {
          if (j >= STAGES) mbar_wait(empty(j % STAGES), ((j / STAGES) + 1) & 1);
          issue_x(j);
          issue_codes(j);
        }
        cp_async_commit();
      }
      if ((i & 3) == 0) {
#pragma unroll
        for (int r = 0; r < RG_PER_WARP; ++r) {
          s_cur[r][0] = s_next[r][0];
          s_cur[r][1] = s_next[r][1];
        }
        load_scales((i >> 2) + 1, s_next);
      }
      cp_async_wait<LOOK>();  // stage i's group has landed (LOOK newer may be pending)
#pragma unroll
      for (int r = 0; r < RG_PER_WARP; ++r) {
        const int rl = rg_local0 + r;
        const uint4 q = lds128(raw_tile(slot) + rl * kPackTileBytes + lane * 16);
        // The lane's 2 scale bytes of super-tile i % 4 of the group (gemm_layout.h).
        const uint32_t sw = (i & 2) ? s_cur[r][1] : s_cur[r][0];
        const uint32_t sc = (i & 1) ? sw >> 16 : sw;
        uint32_t lo[8], hi[8];
        decode_rows<C::BF16, C::RAZER>(q, sc, a.r_small, a.r_big, lo, hi);
        // Rows 16 rl + g (lo) and 16 rl + g + 8 (hi), k chunks 2t and 2t + 1.
        const int row_lo = rl * 16 + g, row_hi = row_lo + 8;
        const uint32_t wt = w_tile(slot);
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
      // Make this thread's shared writes (the decoded tile and its landed
      // cp.async X chunks) visible to the wgmma (async proxy), then arrive.
      asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
      mbar_arrive(full(slot));
    }
    cp_async_wait<0>();
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
  // once the group that read it has completed. The chain is one unrolled
  // body that ends with every group complete: with the groups of a chain
  // still in flight across the loop's back edge, ptxas inserted a full wait
  // there (C7517) and each stage's wgmma ran alone.
  constexpr int CHAIN = 4;
  auto release = [&](int stage) { mbar_arrive(empty(stage % STAGES)); };
  float acc[64], tmp[64];
#pragma unroll
  for (int r = 0; r < 64; ++r) acc[r] = tmp[r] = 0.0f;

#pragma unroll 1
  for (int i0 = 0; i0 < nst; i0 += CHAIN) {
    const int n = min(CHAIN, nst - i0);
#pragma unroll
    for (int c = 0; c < CHAIN; ++c) {
      if (c < n) {
        const int i = i0 + c;
        const int slot = i % STAGES;
        mbar_wait(full(slot), (i / STAGES) & 1);
        const uint64_t da = smem_desc(x_tile(slot) + cwg * 64 * 128);
        const uint64_t db = smem_desc(w_tile(slot));
        asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
#pragma unroll
        for (int kk = 0; kk < 4; ++kk)  // k16 steps: +32 bytes inside the swizzled rows
          wgmma_n128<C::BF16>(tmp, da + 2 * kk, db + 2 * kk, (c == 0 && kk == 0) ? 0 : 1);
        asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
        if (c > 0) {
          // Stage i - 1's group has completed once at most one (stage i's) is pending.
          asm volatile("wgmma.wait_group.sync.aligned 1;" ::: "memory");
          release(i - 1);
        }
      }
    }
    asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory");
#pragma unroll
    for (int r = 0; r < 64; ++r) reg_fence(tmp[r]);
    release(i0 + n - 1);
#pragma unroll
    for (int r = 0; r < 64; ++r) acc[r] = __fadd_rn(acc[r], tmp[r]);
  }

  pdl_wait();  // (returned long ago in the producers; the stores below need it here too)

  // ---- epilogue. acc[4 j + 2 h + c]: m = m0 + 64 cwg + 16 warp + g + 8 h,
  // n = n_tile * NT + 8 j + 2 t + c. each_pair(f) calls f(ml, nl, i) for
  // this thread's pairs acc[i], acc[i + 1]: tile row ml, columns nl, nl + 1.
  const int ml0 = cwg * 64 + warp * 16 + g;
  auto each_pair = [&](auto&& f) {
#pragma unroll
    for (int j = 0; j < 16; ++j)
#pragma unroll
      for (int h = 0; h < 2; ++h) f(ml0 + 8 * h, 8 * j + 2 * t, 4 * j + 2 * h);
  };
  const int CTH = 128 * C::CWG;
  auto consumer_sync = [&]() { asm volatile("bar.sync 1, %0;" ::"r"(CTH) : "memory"); };
  if (a.splits > 1) {
    const int64_t tile_id = int64_t(m_tile) * gridDim.x + n_tile;
    const int64_t tile_elems = int64_t(MT) * NT;
    float* part = a.partials + tile_id * a.splits * tile_elems;
    each_pair([&](int ml, int nl, int i) {
      if (m0 + ml < a.M)
        __stcg(reinterpret_cast<float2*>(part + split * tile_elems + int64_t(ml) * NT + nl),
               make_float2(acc[i], acc[i + 1]));
    });
    if (!split_k_last(a.counters + tile_id, a.splits, ctid == 0, consumer_sync)) return;
    // The last CTA sums the partials in split order (deterministic).
    each_pair([&](int ml, int nl, int i) {
      float s0 = 0.0f, s1 = 0.0f;
      if (m0 + ml < a.M) {
        for (int sp = 0; sp < a.splits; ++sp) {
          const float2 v =
              __ldcg(reinterpret_cast<const float2*>(part + sp * tile_elems + int64_t(ml) * NT + nl));
          s0 = __fadd_rn(s0, v.x);
          s1 = __fadd_rn(s1, v.y);
        }
      }
      acc[i] = s0;
      acc[i + 1] = s1;
    });
    if (ctid == 0) a.counters[tile_id] = 0u;  // leave the workspace ready for the next call
  }

  each_pair([&](int ml, int nl, int i) {
    const int64_t m = m0 + ml;
    if (m >= a.M) return;
#pragma unroll
    for (int c = 0; c < 2; ++c) {
      const int n = n_tile * NT + nl + c;
      if (n < a.N) {
        const float bias = a.bias ? a.bias[n] : 0.0f;
        store_out(a.y, a.y_dtype, m * a.N + n, __fadd_rn(__fmul_rn(acc[i + c], a.factor), bias));
      }
    }
  });
#else
  // Built for an architecture without wgmma: the dispatcher never selects
  // this kernel there (gemm_w4a16_plan checks the kernel's architecture).
  __trap();
#endif
}

}  // namespace gpu
}  // namespace razer
