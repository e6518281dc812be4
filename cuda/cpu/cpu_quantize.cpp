// CPU quantize and dequantize (SPEC §3): parallel exact amax and finiteness
// scan, then blocks in parallel with the shared block quantizers of
// cuda/formats/block_quantize.h, run on L = 8 or 16 blocks at a time (one
// vector lane per block). Must be compiled with -ffp-contract=off and without
// -ffast-math (bit-exact binary32, subnormals kept).
#include <algorithm>
#include <cstring>
#include <vector>

#include "../formats/formats.h"
#include "cpu_backend.h"
#include "cpu_dispatch.h"
#include "thread_pool.h"

namespace razer {
namespace {

constexpr int64_t kScanGrain = int64_t(1) << 16;   // elements per scan chunk
constexpr int64_t kBlockGrain = 512;               // blocks per quantize chunk (a multiple of L)

// ---------------------------------------------------------------- scan ----
// For non-NaN values |x| orders like (bits & ~sign), so the max of the
// masked patterns is the exact amax, and a masked pattern at or above the
// all-ones exponent flags NaN/Inf. Integer max vectorizes at any ISA level.

struct ScanChunk {
  uint32_t max_abs = 0;   // masked bit pattern of the chunk's amax
  int64_t bad = -1;       // first non-finite index in the chunk
};

template <typename T, uint32_t ABS_MASK, uint32_t INF>
RZ_FORCEINLINE ScanChunk scan_impl(const T* x, int64_t b, int64_t e) {
  uint32_t m = 0;
  for (int64_t i = b; i < e; ++i) {
    const uint32_t a = uint32_t(x[i]) & ABS_MASK;
    m = a > m ? a : m;
  }
  ScanChunk r;
  r.max_abs = m;
  if (m >= INF) {
    for (int64_t i = b; i < e; ++i)
      if ((uint32_t(x[i]) & ABS_MASK) >= INF) {
        r.bad = i;
        break;
      }
  }
  return r;
}

ScanChunk scan_chunk(const void* x, DType dt, int64_t b, int64_t e) {
  switch (dt) {
    case DType::f16:
      return scan_impl<uint16_t, 0x7fffu, 0x7c00u>(static_cast<const uint16_t*>(x), b, e);
    case DType::bf16:
      return scan_impl<uint16_t, 0x7fffu, 0x7f80u>(static_cast<const uint16_t*>(x), b, e);
    default:
      return scan_impl<uint32_t, 0x7fffffffu, 0x7f800000u>(static_cast<const uint32_t*>(x), b,
                                                             e);
  }
}

float widen_bits(uint32_t bits, DType dt) {
  if (dt == DType::f16) return rz_f16_to_f32(uint16_t(bits));
  if (dt == DType::bf16) return rz_bf16_to_f32(uint16_t(bits));
  return rz_from_bits(bits);
}

// ---------------------------------------------------------------- blocks --

// Load L consecutive blocks (from block b) transposed: xt[i * L + l] is
// element i of block b + l, widened to fp32.
template <DType DT, int L>
RZ_FORCEINLINE void load_lanes(const void* x, int64_t b, float* xt) {
  for (int l = 0; l < L; ++l) {
    const int64_t start = (b + l) * RZ_BLOCK;
    for (int i = 0; i < RZ_BLOCK; ++i) {
      float v;
      if (DT == DType::f32) v = static_cast<const float*>(x)[start + i];
      else if (DT == DType::f16) v = rz_f16_to_f32(static_cast<const uint16_t*>(x)[start + i]);
      else v = rz_bf16_to_f32(static_cast<const uint16_t*>(x)[start + i]);
      xt[i * L + l] = v;
    }
  }
}

struct BlockArgs {
  const void* x;
  float G;
  FormatParams p;
  uint8_t* codes;
  uint8_t* scales;
};

template <Format F, DType DT, int L>
RZ_FORCEINLINE void quantize_lanes(const BlockArgs& a, int64_t b) {
  float xt[RZ_BLOCK * L];
  load_lanes<DT, L>(a.x, b, xt);
  uint8_t* packed = a.codes + b * (RZ_BLOCK / 2);
  uint8_t* scale = a.scales + b;
  if (F == Format::nvfp4) rz_quantize_lanes_nvfp4<L>(xt, a.G, packed, scale);
  else if (F == Format::nvfp4_4over6) rz_quantize_lanes_4over6<L>(xt, a.G, packed, scale);
  else if (F == Format::nvfp4_razer)
    rz_quantize_lanes_razer<L>(xt, a.G, a.p.sv_small, a.p.sv_big, packed, scale);
  else rz_quantize_lanes_razer_a<L>(xt, a.G, a.p.sv_act, packed, scale);
}

// Blocks [b0, b1): L at a time (one vector lane per block), then one by one.
template <Format F, DType DT, int L>
RZ_FORCEINLINE void quantize_blocks_impl(const BlockArgs& a, int64_t b0, int64_t b1) {
  int64_t b = b0;
  for (; b + L <= b1; b += L) quantize_lanes<F, DT, L>(a, b);
  for (; b < b1; ++b) quantize_lanes<F, DT, 1>(a, b);
}

// Each (format, dtype) loop is its own function, compiled three times: for
// the baseline ISA (L = 8: two SSE vectors per step), AVX2 (L = 8) and
// AVX-512 (L = 16). The copies differ only in vector width: binary32
// operations are IEEE-exact in all of them, and no FMA is used (the
// quantizer needs none, and -ffp-contract=off forbids contracting).
template <Format F, DType DT>
RZ_NOINLINE void blocks_baseline(const BlockArgs& a, int64_t b0, int64_t b1) {
  quantize_blocks_impl<F, DT, 8>(a, b0, b1);
}
#if RZ_X86_DISPATCH
template <Format F, DType DT>
RZ_TARGET_AVX2 RZ_NOINLINE void blocks_avx2(const BlockArgs& a, int64_t b0, int64_t b1) {
  quantize_blocks_impl<F, DT, 8>(a, b0, b1);
}
template <Format F, DType DT>
RZ_TARGET_AVX512_WIDE RZ_NOINLINE void blocks_avx512(const BlockArgs& a, int64_t b0, int64_t b1) {
  quantize_blocks_impl<F, DT, 16>(a, b0, b1);
}
#endif

using BlocksFn = void (*)(const BlockArgs&, int64_t, int64_t);

template <Format F, DType DT>
BlocksFn pick_blocks(CpuIsa isa) {
#if RZ_X86_DISPATCH
  if (isa == CpuIsa::avx512) return &blocks_avx512<F, DT>;
  if (isa == CpuIsa::avx2) return &blocks_avx2<F, DT>;
#endif
  (void)isa;
  return &blocks_baseline<F, DT>;
}

template <Format F>
BlocksFn pick_blocks(DType dt, CpuIsa isa) {
  switch (dt) {
    case DType::f16: return pick_blocks<F, DType::f16>(isa);
    case DType::bf16: return pick_blocks<F, DType::bf16>(isa);
    default: return pick_blocks<F, DType::f32>(isa);
  }
}

BlocksFn pick_blocks(Format f, DType dt, CpuIsa isa) {
  switch (f) {
    case Format::nvfp4_4over6: return pick_blocks<Format::nvfp4_4over6>(dt, isa);
    case Format::nvfp4_razer: return pick_blocks<Format::nvfp4_razer>(dt, isa);
    case Format::nvfp4_razer_a: return pick_blocks<Format::nvfp4_razer_a>(dt, isa);
    default: return pick_blocks<Format::nvfp4>(dt, isa);
  }
}

// ------------------------------------------------------------ dequantize --

int decode_kind(Format f) {
  return f == Format::nvfp4_razer ? 1 : f == Format::nvfp4_razer_a ? 2 : 0;
}

}  // namespace

int64_t cpu_quantize(Format format, const void* x, DType dtype, int64_t rows, int64_t cols,
                     const FormatParams& params, float static_global_scale, uint8_t* codes,
                     uint8_t* scales, float* global_scale, int threads) {
  const int64_t n = rows * cols;
  const int64_t nblocks = n / RZ_BLOCK;
  threads = resolve_threads(threads);

  // 1. amax and the first non-finite index (per-chunk results, reduced in
  //    chunk order: exact and independent of the thread count).
  const int64_t nchunks = (n + kScanGrain - 1) / kScanGrain;
  std::vector<ScanChunk> chunk(size_t(std::max<int64_t>(nchunks, 1)));
  parallel_for(n, kScanGrain, threads, [&](int64_t b, int64_t e) {
    chunk[size_t(b / kScanGrain)] = scan_chunk(x, dtype, b, e);
  });
  uint32_t max_abs = 0;
  for (const ScanChunk& c : chunk) {
    if (c.bad >= 0) return c.bad;
    max_abs = std::max(max_abs, c.max_abs);
  }
  const float amax = widen_bits(max_abs, dtype);

  // 2. the global scale
  float G;
  const bool static_ok = format == Format::nvfp4 || format == Format::nvfp4_razer_a;
  if (static_global_scale > 0.0f && static_ok) G = static_global_scale;
  else if (format == Format::nvfp4_4over6) G = rz_global_scale_4over6(amax);
  else if (format == Format::nvfp4_razer) G = rz_global_scale_razer(amax);
  else G = rz_global_scale_nvfp4(amax);
  *global_scale = G;

  // 3. blocks. G == 0 (all-zero input, or amax / q underflowing) gives zero
  //    codes and scales, like the reference.
  if (G == 0.0f) {
    std::memset(codes, 0, size_t(n / 2));
    std::memset(scales, 0, size_t(nblocks));
    return -1;
  }
  BlockArgs a{x, G, params, codes, scales};
  const BlocksFn blocks = pick_blocks(format, dtype, cpu_isa());
  parallel_for(nblocks, kBlockGrain, threads, [&](int64_t b0, int64_t b1) { blocks(a, b0, b1); });
  return -1;
}

void cpu_dequantize(const QuantizedView& w, float* out, int threads) {
  const int64_t nblocks = w.rows * w.cols / RZ_BLOCK;
  const int kind = decode_kind(w.format);
  const float G = w.global_scale;
  // The 16 values v * s depend only on the scale byte: one table per byte.
  std::vector<float> tables(256 * 16);
  for (uint32_t byte = 0; byte < 256; ++byte)
    rz_block_value_table(kind, byte, w.params.sv_small, w.params.sv_big, w.params.sv_act,
                         &tables[byte * 16]);
  parallel_for(nblocks, 4096, threads, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const float* t = &tables[size_t(w.scales[b]) * 16];
      const uint8_t* packed = w.codes + b * 8;
      float* o = out + b * RZ_BLOCK;
      for (int j = 0; j < 8; ++j) {
        o[2 * j] = rz_mul(t[packed[j] & 0xfu], G);       // x̂ = (v * s) * G
        o[2 * j + 1] = rz_mul(t[packed[j] >> 4], G);
      }
    }
  });
}

}  // namespace razer
