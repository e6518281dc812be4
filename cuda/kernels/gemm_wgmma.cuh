// The W4A16 wgmma kernel template (sm_90a only). See gemm_notes.md.
//
// Computes the transposed product Yᵀ = Ŵ · Xᵀ so that W is wgmma's A operand,
// which may come from registers: each consumer warpgroup decodes its own 64
// W rows straight into A fragments (the mma.sync m16n8k16 A layout per warp,
// decode_fragment) and issues wgmma m64nMTk16 with B = MT X rows (tokens)
// from shared memory (MT = 128 for prefill; 64 for M <= 64, where a
// 128-token tile would run half empty). There is no decoded tile in shared memory, no proxy
// fence per stage on the decode path, and the decode of stage i + 1 runs
// while the tensor cores work on stage i.
//
// The k order. A thread's A fragment of k16 step tau holds k pairs
// {2t, 2t+1} and {2t+8, 2t+9}; the prepacked layout gives lane (g, t) one
// block t, whose pairs 2 tau, 2 tau + 1 are those of step tau (gemm_layout.h).
// The B operand is read by the hardware in the wgmma's own k order, so X is
// permuted to match once per call (x_permute.cu, into the workspace):
// logical 16-byte chunk c (0..7) of a super-tile holds physical X words
// 8 t + c, t = 0..3 (gemm_layout.h, rz_xperm_word).
//
// CTA = 1 producer warpgroup + CWG consumer warpgroups; tile = NT = 64 CWG W
// rows x MT tokens; a ring of STAGES slots of one super-tile (64 k):
//   producer   cp.async the permuted X tile (MT x 64, 128-byte swizzle) and
//              the tile's prepacked codes LOOK = STAGES - 3 stages ahead;
//              after a stage landed: fence.proxy.async, arrive on full;
//   consumers  issue stage i's 4 wgmma (stage i - 1's may still run), wait
//              for stage i - 1's group and release its slot, then wait full
//              for stage i + 1, read the lane's 16 code bytes (one LDS.128)
//              and decode them while the tensor cores run.
// Accumulation: chains of CHAIN stages added in binary32 RN, as the mma.sync
// kernels do per super-tile (1024 k per chain measured within 1.3e-6 of the
// reference at K = 28672). Split-K and the workspace contract as the mma.sync
// kernels; partials [tile][split][MT][NT].
// (It replaced a kernel whose producer warpgroups decoded W into a shared
// tile for wgmma with both operands in shared memory: 1.2-1.35x slower,
// bound by the producers' per-stage instructions and proxy fences.)
#pragma once

#include "gemm_mma.cuh"

namespace razer {
namespace gpu {

template <bool BF16_, bool RAZER_, int MT_, int CWG_, int STAGES_, int CHAIN_>
struct WgmmaCfg {
  static constexpr bool WGMMA = true;
  static constexpr bool BF16 = BF16_;
  static constexpr bool RAZER = RAZER_;
  static constexpr int MT = MT_;    // tokens per tile (wgmma n: 64 or 128)
  static constexpr int CWG = CWG_;  // consumer warpgroups (64 W rows each)
  static constexpr int STAGES = STAGES_;
  static constexpr int CHAIN = CHAIN_;  // stages per accumulation chain (a multiple of 4)
  static constexpr int ACC = MT / 2;    // fp32 accumulators per consumer thread and level
  static constexpr int NT = 64 * CWG;  // W rows per tile
  static constexpr int THREADS = 128 * (CWG + 1);
  static constexpr int X_BYTES = MT * 128;         // X tile of one stage
  static constexpr int RAW_BYTES = NT / 16 * 512;  // prepacked codes
  static constexpr int SLOT = X_BYTES + RAW_BYTES; // a multiple of 1024
  // + alignment, barriers, and the 256-entry scale table (scale_pair per byte)
  static constexpr int SMEM = STAGES * SLOT + 1024 + 16 * STAGES + 256 * 8;
  static constexpr int PREGS = 56;
  static constexpr int CREGS = (512 - PREGS) / CWG / 8 * 8 > 256 ? 256 : (512 - PREGS) / CWG / 8 * 8;
  static_assert(SLOT % 1024 == 0, "swizzled tiles need 1024-byte alignment");
  static_assert(STAGES >= 5, "STAGES");
  static_assert(MT == 64 || MT == 128, "wgmma n");
  static_assert(CHAIN % 4 == 0, "chains start on scale groups");
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
// The suspend-time hint lets a waiting warp sleep until the phase completes
// instead of spinning (the producer waits on `empty` most of the time; its
// spin loop was about an eighth of the instructions issued; removing it
// measured ~1% faster).
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
  uint32_t ok = 0;
  do {
    asm volatile(
        "{\n .reg .pred p;\n mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2, %3;\n"
        " selp.u32 %0, 1, 0, p;\n}"
        : "=r"(ok)
        : "r"(bar), "r"(parity), "r"(0x989680)
        : "memory");
  } while (!ok);
}


// Shared memory matrix descriptor: K-major tile of 128-byte rows with the
// 128-byte swizzle (8-row groups 1024 bytes apart), start address `addr`.
__device__ __forceinline__ uint64_t smem_desc(uint32_t addr) {
  return uint64_t((addr & 0x3FFFF) >> 4) | (uint64_t(16 >> 4) << 16) |
         (uint64_t(1024 >> 4) << 32) | (1ull << 62);
}

// Pins a register after wgmma.wait_group so the compiler does not read it
// earlier (the asm above only tells it the value changed at the issue).
__device__ __forceinline__ void reg_fence(float& r) { asm volatile("" : "+f"(r)::"memory"); }

#define RZ_F4(i) "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3])
#define RZ_F16(i) RZ_F4(i), RZ_F4(i + 4), RZ_F4(i + 8), RZ_F4(i + 12)
#define RZ_D16 "%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15"
#define RZ_D32 RZ_D16 ",%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31"
#define RZ_D64 RZ_D32 ",%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63"
// One wgmma m64nNk16 with A = 4 registers, B from shared memory; the operands
// after the N / 2 accumulators: a[0..3], the B descriptor, scale_d.
#define RZ_WGMMA_RS(N, TY, DREGS, A0, A1, A2, A3, DB, SC, ...)                         \
  asm volatile("{\n .reg .pred p;\n setp.ne.b32 p, " SC ", 0;\n"                         \
               " wgmma.mma_async.sync.aligned.m64n" N "k16.f32." TY "." TY " {" DREGS "}," \
               " {" A0 "," A1 "," A2 "," A3 "}, " DB ", p, 1, 1, 0;\n}\n"                  \
               : __VA_ARGS__                                                              \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(scale_d))
#define RZ_WGMMA_RS_N(TY)                                                                     \
  if constexpr (N == 64)                                                                 \
    RZ_WGMMA_RS("64", TY, RZ_D32, "%32", "%33", "%34", "%35", "%36", "%37", RZ_F16(0),      \
                RZ_F16(16));                                                                  \
  else                                                                                        \
    RZ_WGMMA_RS("128", TY, RZ_D64, "%64", "%65", "%66", "%67", "%68", "%69", RZ_F16(0),     \
                RZ_F16(16), RZ_F16(32), RZ_F16(48))

// d (+)= A(64 x 16, registers) * B(16 x N, shared memory); d holds N / 2
// accumulators per thread.
template <bool BF16, int N>
__device__ __forceinline__ void wgmma_rs(float (&d)[N / 2], const uint32_t (&a)[4], uint64_t db,
                                         int scale_d) {
  if constexpr (BF16) {
    RZ_WGMMA_RS_N("bf16");
  } else {
    RZ_WGMMA_RS_N("f16");
  }
}
#undef RZ_WGMMA_RS_N
#undef RZ_WGMMA_RS
#undef RZ_D64
#undef RZ_D32
#undef RZ_D16
#undef RZ_F16
#undef RZ_F4
#endif  // RZ_HAVE_WGMMA

}  // namespace dev

template <class C>
__global__ void __launch_bounds__(C::THREADS, 1) w4a16_wgmma_kernel(const GemmArgs a) {
#if RZ_HAVE_WGMMA
  using namespace dev;
  constexpr int STAGES = C::STAGES, LOOK = STAGES - 3, MT = C::MT, NT = C::NT;
  extern __shared__ uint4 smem_raw[];
  const uint32_t sbase = (smem_u32(smem_raw) + 1023u) & ~1023u;
  const uint32_t bars = sbase + STAGES * C::SLOT;
  auto x_tile = [&](unsigned slot) { return sbase + slot * C::SLOT; };
  auto raw_tile = [&](unsigned slot) { return sbase + slot * C::SLOT + C::X_BYTES; };
  auto full = [&](unsigned slot) { return bars + 8u * slot; };
  auto empty = [&](unsigned slot) { return bars + 8u * (STAGES + slot); };

  const int tid = threadIdx.x;
  const int n_tile = blockIdx.x, split = blockIdx.y, m_tile = blockIdx.z;
  const int64_t m0 = int64_t(m_tile) * MT;
  const int st0 = split * a.st_per_split;
  const int st1 = min(a.ST, st0 + a.st_per_split);
  const int nst = max(st1 - st0, 0);

  pdl_trigger();
  if (tid == 0) {
    for (int s = 0; s < STAGES; ++s) {
      mbar_init(full(s), 128);
      mbar_init(empty(s), 128 * C::CWG);
    }
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  __syncthreads();

  const int wg = __shfl_sync(0xffffffffu, tid / 128, 0);
  if (wg == 0) {
    // ===================== producer =====================
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;" ::"n"(C::PREGS));
    // X: stage j's tile is MT * 128 contiguous bytes of the permuted copy (its
    // shared-memory image, x_permute.cu); thread tid copies chunks tid + 128 u.
    const int64_t mp = int64_t(gridDim.z) * MT;  // rows of the permuted copy
    const uint8_t* xtile0 = static_cast<const uint8_t*>(a.x) + (int64_t(st0) * mp + m0) * 128 + tid * 16;
    constexpr int XPT = MT * 8 / 128;
    // Codes: chunk u * 128 + tid is lane tid % 32 of the tile's row group
    // 4 u + tid / 32; its source advances 512 bytes per stage.
    constexpr int CPT = NT / 16 * 32 / 128;
    static_assert(MT * 8 % 128 == 0 && NT / 16 * 32 % 128 == 0, "even chunk split");
    const uint8_t* csrc[CPT];
    bool cok[CPT];
#pragma unroll
    for (int u = 0; u < CPT; ++u) {
      const int rg = n_tile * (NT / 16) + 4 * u + (tid >> 5);
      cok[u] = rg < a.RG;
      csrc[u] = a.codes + (cok[u] ? (int64_t(rg) * a.ST + st0) * kPackTileBytes + (tid & 31) * 16 : 0);
    }
    auto issue = [&](int j) {
      const uint32_t xdst = x_tile(j % STAGES) + tid * 16;
      const uint8_t* xsrc = xtile0 + int64_t(j) * mp * 128;
#pragma unroll
      for (int u = 0; u < XPT; ++u) cp_async16(xdst + u * 2048, xsrc + u * 2048, 16);
      const uint32_t cdst = raw_tile(j % STAGES) + tid * 16;
#pragma unroll
      for (int u = 0; u < CPT; ++u)
        cp_async16(cdst + u * 2048, cok[u] ? csrc[u] + j * kPackTileBytes : a.codes, cok[u] ? 16 : 0);
    };
    // Codes may be read before the previous kernel finished (pdl_wait), X not:
    // the prologue's stages are issued whole after the wait.
    pdl_wait();
#pragma unroll 1
    for (int j = 0; j < LOOK; ++j) {
      if (j < nst) issue(j);
      cp_async_commit();
    }
    // Stage i is published (full) as soon as it landed, before the wait for
    // the slot of stage i + LOOK: that slot held stage i + LOOK - STAGES =
    // i - 3, which the consumers released long ago (they hold at most the
    // stage whose wgmma runs and the one they decode), so the producer never
    // holds a landed stage back.
#pragma unroll 1
    for (int i = 0; i < nst; ++i) {
      cp_async_wait<LOOK - 1>();  // stage i has landed
      asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
      mbar_arrive(full(i % STAGES));
      const int j = i + LOOK;
      if (j < nst) {
        if (j >= STAGES) mbar_wait(empty(j % STAGES), ((j / STAGES) + 1) & 1);
        issue(j);
      }
      cp_async_commit();
    }
    return;
  }

  // ===================== consumers =====================
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;" ::"n"(C::CREGS));
  const int ctid = tid - 128;
  const int cwg = wg - 1;
  const int warp = (ctid >> 5) & 3, lane = ctid & 31, g = lane >> 2, t = lane & 3;
  const int rl = cwg * 4 + warp;  // the warp's row group in the tile
  // The scales decode through a table: S and R * S of every scale byte,
  // computed once per CTA (the same arithmetic, so bit-identical), one LDS.64
  // per scale instead of ~5-8 instructions on the decode's issue slots.
  const uint32_t scale_lut = bars + 16u * STAGES;
  for (int b = ctid; b < 256; b += 128 * C::CWG) {
    const uint2 v = scale_pair<C::BF16, C::RAZER>(uint32_t(b), a.r_small, a.r_big);
    asm volatile("st.shared.v2.u32 [%0], {%1, %2};" ::"r"(scale_lut + 8u * b), "r"(v.x), "r"(v.y)
                 : "memory");
  }
  asm volatile("bar.sync 1, %0;" ::"r"(128 * C::CWG) : "memory");
  const int rg = n_tile * (NT / 16) + rl;

  // Scale words: 8 bytes per lane and scale group (4 stages); chains start
  // on scale groups (split starts are multiples of 4 super-tiles).
  uint32_t s_cur[2], s_next[2];
  auto load_scales = [&](int group, uint32_t (&s)[2]) {
    s[0] = s[1] = 0u;
    ldg8_pred(s[0], s[1],
              a.scales + (int64_t(rg) * a.SG + st0 / kPackScaleGroup + group) * kPackScaleBytes +
                  lane * 8,
              rg < a.RG && group * 4 < nst);
  };
  load_scales(0, s_next);

  // Software pipeline: stage i's wgmma group is issued while stage i - 1's
  // may still run (two in flight: the tensor cores always have the next group
  // queued; 1-5% faster than waiting for each group before the next issue);
  // then stage i - 1's group is waited for, its slot released, and stage
  // i + 1 decoded into the fragment buffer stage i - 1 used. The 4 wgmma of
  // a stage accumulate into tmp, a chain over CHAIN stages that is then added
  // to acc in binary32 RN
  // (one chain over all of K drifts past SPEC §4's 1e-5 at long K). The chain
  // is one unrolled body: ptxas then keeps both fragment buffers in registers
  // and no wgmma group crosses the loop's back edge (which made it serialize
  // the wgmma, C7517, in the shared-memory kernel).
  constexpr int CHAIN = C::CHAIN;
  constexpr int ACC = C::ACC;
  float acc[ACC], tmp[ACC];
#pragma unroll
  for (int r = 0; r < ACC; ++r) acc[r] = tmp[r] = 0.0f;
  uint32_t fa[2][4][4];
  // Waits for stage i, decodes it into f; c = i % CHAIN (compile-time).
  auto decode_stage = [&](int i, int c, uint32_t (&f)[4][4]) {
    if (c % 4 == 0) {  // a new scale group
      s_cur[0] = s_next[0];
      s_cur[1] = s_next[1];
      load_scales(i / 4 + 1, s_next);
    }
    const unsigned slot = unsigned(i) % STAGES;
    mbar_wait(full(slot), (unsigned(i) / STAGES) & 1u);
    const uint4 q = lds128(raw_tile(slot) + rl * kPackTileBytes + lane * 16);
    const uint32_t sc = s_cur[(c >> 1) & 1] >> (16 * (c & 1));
    decode_fragment_scaled<C::BF16, C::RAZER>(q, lds64(scale_lut + (sc & 0xFFu) * 8),
                                              lds64(scale_lut + ((sc >> 8) & 0xFFu) * 8), f);
  };
  const uint64_t desc0 = smem_desc(x_tile(0));
  if (nst > 0) decode_stage(0, 0, fa[0]);

#pragma unroll 1
  for (int i0 = 0; i0 < nst; i0 += CHAIN) {
    const int n = min(CHAIN, nst - i0);
#pragma unroll
    for (int c = 0; c < CHAIN; ++c) {
      if (c < n) {
        const int i = i0 + c;
        const unsigned slot = unsigned(i) % STAGES;
        const uint64_t db = desc0 + slot * (C::SLOT >> 4);  // (the start address field, in 16 bytes)
        asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
#pragma unroll
        for (int kk = 0; kk < 4; ++kk)  // k16 steps: +32 bytes inside the swizzled rows
          wgmma_rs<C::BF16, MT>(tmp, fa[c & 1][kk], db + 2 * kk, (c == 0 && kk == 0) ? 0 : 1);
        asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
        if (c > 0) {  // stage i - 1's group is complete once at most stage i's is pending
          asm volatile("wgmma.wait_group.sync.aligned 1;" ::: "memory");
          mbar_arrive(empty((slot + STAGES - 1) % STAGES));
        }
        if (i + 1 < nst) decode_stage(i + 1, (c + 1) % CHAIN, fa[(c + 1) & 1]);
      }
    }
    asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory");
    mbar_arrive(empty(unsigned(i0 + n - 1) % STAGES));
#pragma unroll
    for (int r = 0; r < ACC; ++r) reg_fence(tmp[r]);
#pragma unroll
    for (int r = 0; r < ACC; ++r) acc[r] = __fadd_rn(acc[r], tmp[r]);
  }

  pdl_wait();  // (done in the producer; the stores below need it in this thread too)

  // ---- epilogue, through shared memory: the accumulators go to a [MT][TS]
  // fp32 tile (token-major, the layout of Y), then rolled loops move whole
  // rows: coalesced partials and outputs, and little code. (Unrolled
  // per-register epilogues were most of the time on small shapes: their cold
  // code missed the instruction cache, and the split-K sum waited on one
  // load chain per register pair.) acc[4 j + 2 h + c] is W row (n)
  // nl = 64 cwg + 16 warp + g + 8 h, token (m) 8 j + 2 t + c.
  constexpr int TS = NT + 4;  // row stride in floats: conflict-free stores below
  static_assert(MT * TS * 4 <= STAGES * C::SLOT, "the tile fits in the ring");
  const int CTH = 128 * C::CWG;
  auto consumer_sync = [&]() { asm volatile("bar.sync 1, %0;" ::"r"(CTH) : "memory"); };
  float* tile = reinterpret_cast<float*>(smem_raw) + (sbase - smem_u32(smem_raw)) / 4;
  consumer_sync();  // every consumer's wgmma is complete: the ring is free
  {
    const int nl0 = cwg * 64 + warp * 16 + g;
#pragma unroll
    for (int j = 0; j < MT / 8; ++j)
#pragma unroll
      for (int h = 0; h < 2; ++h)
#pragma unroll
        for (int c = 0; c < 2; ++c) tile[(8 * j + 2 * t + c) * TS + nl0 + 8 * h] = acc[4 * j + 2 * h + c];
  }
  consumer_sync();
  // Row-major float4 chunks of the MT x NT tile: chunk q = row q / (NT / 4).
  constexpr int QROW = NT / 4, QN = MT * QROW;
  if (a.splits > 1) {
    const int64_t tile_id = int64_t(m_tile) * gridDim.x + n_tile;
    const int64_t tile_elems = int64_t(MT) * NT;
    float4* part = reinterpret_cast<float4*>(a.partials + tile_id * a.splits * tile_elems);
#pragma unroll 1
    for (int q = ctid; q < QN; q += CTH) {
      const float* src = tile + (q / QROW) * TS + (q % QROW) * 4;
      __stcg(part + split * (tile_elems / 4) + q, make_float4(src[0], src[1], src[2], src[3]));
    }
    if (!split_k_last(a.counters + tile_id, a.splits, ctid == 0, consumer_sync)) return;
    // The last CTA sums the partials in split order (deterministic).
#pragma unroll 1
    for (int q = ctid; q < QN; q += CTH) {
      float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
#pragma unroll 1
      for (int sp = 0; sp < a.splits; ++sp) {
        const float4 p = __ldcg(part + sp * (tile_elems / 4) + q);
        v = make_float4(__fadd_rn(v.x, p.x), __fadd_rn(v.y, p.y), __fadd_rn(v.z, p.z),
                        __fadd_rn(v.w, p.w));
      }
      float* dst = tile + (q / QROW) * TS + (q % QROW) * 4;
      dst[0] = v.x;
      dst[1] = v.y;
      dst[2] = v.z;
      dst[3] = v.w;
    }
    if (ctid == 0) a.counters[tile_id] = 0u;  // leave the workspace ready for the next call
    consumer_sync();
  }
  // Y: a thread writes 4 consecutive n of one token per step (a warp 128).
#pragma unroll 1
  for (int q = ctid; q < QN; q += CTH) {
    const int ml = q / QROW, nl = (q % QROW) * 4;
    const int64_t m = m0 + ml;
    const int n = n_tile * NT + nl;
    if (m >= a.M) continue;
    const float* src = tile + ml * TS + nl;
#pragma unroll
    for (int c = 0; c < 4; ++c)
      if (n + c < a.N)
        store_out(a.y, a.y_dtype, m * a.N + n + c,
                  __fadd_rn(__fmul_rn(src[c], a.factor), a.bias ? a.bias[n + c] : 0.0f));
  }
#else
  __trap();
#endif
}

}  // namespace gpu
}  // namespace razer
