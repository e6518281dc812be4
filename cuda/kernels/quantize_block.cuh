// One 16-element block of a quantize kernel, from its raw input words to its
// packed codes and scale byte: element access, the exact block amax, the sign
// nibbles and the choice between the fast path (quantize_fast.cuh) and the
// generic reference quantizers. __host__ __device__, so the kernels and the
// CPU emulation in cuda/tests/quantize_fast_test.cpp run the same decisions.
#pragma once

#include <cstdint>
#include <cstring>  // before formats.h: see quantize_fast.cuh

#include "../cpu/cpu_backend.h"
#include "../formats/formats.h"
#include "quantize_fast.cuh"

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#endif

namespace razer {
namespace qblock {

// Kinds of block quantizer. nvfp4_razer_a has two fast algorithms (see
// quantize_fast.cuh): kRazerA sums both candidates' errors in the main loop
// (faster on the H100, the default); kRazerACert decides from the window
// elements with a certified bound (kept as a tested alternative).
constexpr int kNvfp4 = 0, kRazerA = 1, kFourOverSix = 2, kRazerW = 3, kRazerACert = 4;
RZ_HD constexpr bool is_razer_a(int kind) { return kind == kRazerA || kind == kRazerACert; }

template <DType DT>
struct Elem {
  // 32-bit words per 16-element block, magnitude mask and the first
  // non-finite magnitude, in the element's own bits.
  static constexpr int kWords = DT == DType::f32 ? 16 : 8;
  static constexpr uint32_t kAbs = DT == DType::f32 ? 0x7fffffffu : 0x7fffu;
  static constexpr uint32_t kInf =
      DT == DType::f32 ? 0x7f800000u : (DT == DType::f16 ? 0x7c00u : 0x7f80u);
};

// ---- device intrinsics, with host equivalents
RZ_HD RZ_FORCEINLINE uint32_t vmaxu2(uint32_t a, uint32_t b) {
#if defined(__CUDA_ARCH__)
  return __vmaxu2(a, b);
#else
  const uint32_t lo = (a & 0xffffu) > (b & 0xffffu) ? (a & 0xffffu) : (b & 0xffffu);
  const uint32_t hi = (a >> 16) > (b >> 16) ? (a >> 16) : (b >> 16);
  return lo | (hi << 16);
#endif
}

RZ_HD RZ_FORCEINLINE uint32_t byte_perm(uint32_t x, uint32_t y, uint32_t s) {
#if defined(__CUDA_ARCH__)
  return __byte_perm(x, y, s);
#else
  const uint64_t pool = uint64_t(x) | (uint64_t(y) << 32);
  uint32_t r = 0;
  for (int k = 0; k < 4; ++k) r |= uint32_t((pool >> (8 * ((s >> (4 * k)) & 7u))) & 0xffu) << (8 * k);
  return r;
#endif
}

RZ_HD RZ_FORCEINLINE float f16_bits_to_float(uint32_t h) {
#if defined(__CUDA_ARCH__)
  return __half2float(__ushort_as_half(static_cast<unsigned short>(h)));  // exact
#else
  return rz_f16_to_f32(uint16_t(h));
#endif
}

// Read-only loads (the read-only data cache on the device).
RZ_HD RZ_FORCEINLINE uint32_t load_u16(const uint16_t* p) {
#if defined(__CUDA_ARCH__)
  return __ldg(reinterpret_cast<const unsigned short*>(p));
#else
  return *p;
#endif
}
RZ_HD RZ_FORCEINLINE uint32_t load_u32(const uint32_t* p) {
#if defined(__CUDA_ARCH__)
  return __ldg(reinterpret_cast<const unsigned int*>(p));
#else
  return *p;
#endif
}

// The bits of element i (0..15) of a block held as words.
template <DType DT>
RZ_HD RZ_FORCEINLINE uint32_t elem_bits(const uint32_t* w, int i) {
  if constexpr (DT == DType::f32) return w[i];
  else return (i & 1) ? (w[i >> 1] >> 16) : (w[i >> 1] & 0xffffu);
}

// Exact widening to binary32 (SPEC §1).
template <DType DT>
RZ_HD RZ_FORCEINLINE float widen(const uint32_t* w, int i) {
  if constexpr (DT == DType::f32) return rz_from_bits(w[i]);
  else if constexpr (DT == DType::bf16)
    return rz_from_bits((i & 1) ? (w[i >> 1] & 0xffff0000u) : (w[i >> 1] << 16));
  else return f16_bits_to_float(elem_bits<DT>(w, i));
}

// A magnitude in the element's bits (not NaN) as a binary32 value.
template <DType DT>
RZ_HD RZ_FORCEINLINE float magnitude_to_float(uint32_t raw) {
  if constexpr (DT == DType::f32) return rz_from_bits(raw);
  else if constexpr (DT == DType::bf16) return rz_from_bits(raw << 16);
  else return f16_bits_to_float(raw);
}

// Max magnitude bits over the 16 elements of a block: per-half unsigned max
// for 16-bit types (|x| orders like its bits for non-NaN values). At or above
// Elem<DT>::kInf means the block holds a NaN or an infinity.
template <DType DT>
RZ_HD RZ_FORCEINLINE uint32_t block_absmax_raw(const uint32_t* w) {
  uint32_t m = 0;
  if constexpr (DT == DType::f32) {
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      const uint32_t a = w[i] & 0x7fffffffu;
      m = a > m ? a : m;
    }
    return m;
  } else {
#pragma unroll
    for (int j = 0; j < 8; ++j) m = vmaxu2(m, w[j] & 0x7fff7fffu);
    return (m & 0xffffu) > (m >> 16) ? (m & 0xffffu) : (m >> 16);
  }
}

// The sign nibbles (fastq::sign_nibbles) of 8 16-bit elements held in 4
// words, by byte permutes: element 2k's sign is bit 7 of byte 1 of word k and
// goes to bit 8k + 3; element 2k + 1's is bit 7 of byte 3 and goes to bit
// 8k + 7. So gather bytes 1 of the 4 words (shifted right by 4) and bytes 3
// (in place).
RZ_HD RZ_FORCEINLINE uint32_t sign_nibbles16(uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3) {
  const uint32_t p01 = byte_perm(w0, w1, 0x7531);      // w0.b1 w0.b3 w1.b1 w1.b3
  const uint32_t p23 = byte_perm(w2, w3, 0x7531);
  const uint32_t even = byte_perm(p01, p23, 0x6420);  // bytes 1 of w0..w3
  const uint32_t odd = byte_perm(p01, p23, 0x7531);   // bytes 3 of w0..w3
  return ((even >> 4) & 0x08080808u) | (odd & 0x80808080u);
}

// Element i of a block, read again from memory (global memory on the
// device, where the block was just loaded, so mostly an L1 hit). The fast
// path uses it outside its unrolled loop, where indexing the words in
// registers with a run-time index would move them to local memory.
template <DType DT>
struct BlockReader {
  const void* p;  // the block's first element
  RZ_HD RZ_FORCEINLINE float operator()(int i) const {
    if constexpr (DT == DType::f32) {
      return rz_from_bits(load_u32(static_cast<const uint32_t*>(p) + i));
    } else {
      const uint32_t h = load_u16(static_cast<const uint16_t*>(p) + i);
      if constexpr (DT == DType::bf16) return rz_from_bits(h << 16);
      else return f16_bits_to_float(h);
    }
  }
};

// What a block needs besides its words.
struct BlockParams {
  float G;             // the tensor's global scale
  float g_hi, g_lo;    // fastq::make_divisor(G) (when have_g_divisor)
  bool have_g_divisor;
  float d6_hi, d6_lo;  // fastq::make_divisor(6)
  float sv_a, sv_b;    // svAct (razer_a) or svSmall (razer); svBig
  float win_lo, win_hi;
  bool sv_fast;        // the SV is in the fast path's proven range
  bool force_generic;
};

struct BlockOut {
  uint32_t c0, c1, sb;
};

// Per-thread setup from BlockParams, once for all the blocks a thread does.
struct TensorSetup {
  bool usable;  // G finite and non-zero (else codes and scales are all zero)
  bool fast;    // the fast path may be tried (then k is set)
  fastq::FastConsts k;
};

template <int KIND>
RZ_HD RZ_FORCEINLINE TensorSetup setup_tensor(const BlockParams& p) {
  TensorSetup t;
  t.usable = p.G != 0.0f && rz_abs(p.G) <= 3.40282347e38f;
  t.fast = (KIND == kNvfp4 || (is_razer_a(KIND) && p.sv_fast)) && !p.force_generic &&
           p.G >= fastq::kMinG && p.G <= fastq::kMaxG;
  if (t.fast) {
    t.k.G = p.G;
    t.k.G4096 = rz_mul(p.G, 4096.0f);
    if (p.have_g_divisor) {
      t.k.GD.d = p.G;
      t.k.GD.hi = p.g_hi;
      t.k.GD.lo = p.g_lo;
    } else {
      t.k.GD = fastq::make_divisor(p.G);
    }
    t.k.D6.d = 6.0f;
    t.k.D6.hi = p.d6_hi;
    t.k.D6.lo = p.d6_lo;
    t.k.sv = p.sv_a;
    t.k.lo = p.win_lo;
    t.k.hi = p.win_hi;
  }
  return t;
}

// Codes and scale of a block by the fast path, when it applies. Returns
// false when the caller must use the generic path (no fast path for the
// format or this G, a non-finite element, or a block whose quotients reach
// 15). Requires t.usable.
// block: the block's first element in memory (see BlockReader).
template <DType DT, int KIND>
RZ_HD RZ_FORCEINLINE bool fast_block(const uint32_t* w, uint32_t amax_raw, const TensorSetup& t,
                                     const void* block, BlockOut* o) {
  if constexpr (KIND != kNvfp4 && !is_razer_a(KIND)) {
    return false;
  } else {
    if (!t.fast || amax_raw >= Elem<DT>::kInf) return false;
    float xf[RZ_BLOCK];
#pragma unroll
    for (int i = 0; i < RZ_BLOCK; ++i) xf[i] = widen<DT>(w, i);
    uint32_t sgn[2];
    if constexpr (DT == DType::f32) {
      fastq::sign_nibbles(xf, sgn);
    } else {
      sgn[0] = sign_nibbles16(w[0], w[1], w[2], w[3]);
      sgn[1] = sign_nibbles16(w[4], w[5], w[6], w[7]);
    }
    constexpr int alg = KIND == kNvfp4   ? fastq::kAlgNvfp4
                        : KIND == kRazerA ? fastq::kAlgRazerSums
                                          : fastq::kAlgRazerCert;
    uint32_t cw[2], sb;
    if (!fastq::quantize_block_fast<alg>(xf, BlockReader<DT>{block}, sgn,
                                         magnitude_to_float<DT>(amax_raw), t.k, cw, &sb))
      return false;
    o->c0 = cw[0];
    o->c1 = cw[1];
    o->sb = sb;
    return true;
  }
}

// The generic path: the shared reference quantizers of cuda/formats/, with
// non-finite elements read as 0. G must be finite and non-zero.
template <DType DT, int KIND>
RZ_HD RZ_FORCEINLINE BlockOut generic_block_words(const uint32_t* w, float G, float sv_a,
                                                  float sv_b) {
  float xf[RZ_BLOCK];
#pragma unroll
  for (int i = 0; i < RZ_BLOCK; ++i) {
    const bool bad = (elem_bits<DT>(w, i) & Elem<DT>::kAbs) >= Elem<DT>::kInf;
    xf[i] = bad ? 0.0f : widen<DT>(w, i);
  }
  uint8_t packed[8];
  uint8_t byte;
  if constexpr (KIND == kNvfp4) byte = rz_quantize_block_nvfp4(xf, G, packed);
  else if constexpr (is_razer_a(KIND)) byte = rz_quantize_block_razer_a(xf, G, sv_a, packed);
  else if constexpr (KIND == kFourOverSix) byte = rz_quantize_block_4over6(xf, G, packed);
  else byte = rz_quantize_block_razer(xf, G, sv_a, sv_b, packed);
  BlockOut o;
  o.c0 = uint32_t(packed[0]) | uint32_t(packed[1]) << 8 | uint32_t(packed[2]) << 16 |
         uint32_t(packed[3]) << 24;
  o.c1 = uint32_t(packed[4]) | uint32_t(packed[5]) << 8 | uint32_t(packed[6]) << 16 |
         uint32_t(packed[7]) << 24;
  o.sb = byte;
  return o;
}


}  // namespace qblock
}  // namespace razer
