// The prepacked W4A16 weight layout (host + device). See gemm_notes.md.
//
// The canonical layout (codes [N, K/2] low nibble first, one scale byte per
// 16 elements along K) stays the interchange format; prepack() rearranges it
// into what the mma.sync kernels read with one 16-byte load per thread:
//
//   row group rg = 16 rows (n = 16 rg + r), super-tile st = 64 k (4 blocks).
//   Np = round_up(N, 16), ST = ceil(K / 64): rows past N and k past K are
//   zero codes with zero scale bytes (they decode to +0).
//
//   codes : [RG][ST][lane 0..31][16 bytes]. Lane L = 4 g + t (g = L / 4,
//           t = L % 4) holds the 16 elements of block t of the super-tile for
//           row 16 rg + g (words 0, 1) and for row 16 rg + g + 8 (words 2, 3);
//           word 0/2 = elements 0..7, word 1/3 = elements 8..15, each word's
//           8 codes placed by rz_pack_word (decode-friendly bit order).
//   scales: [RG][SG = ceil(ST / 4)][lane][4 super-tiles][2 bytes]:
//           byte 0 = scale of (row g, block t), byte 1 = (row g + 8, block t).
//           Starts at a 256-byte aligned offset after the codes.
//
// The mma (m16n8k16, W as the A operand = 16 rows x 16 k) runs over a
// K-permuted order: in tile tau (0..3) of a super-tile, thread (g, t)'s
// logical k pair {2t, 2t+1} is physical k 16 t + 4 tau + {0, 1} and the pair
// {2t+8, 2t+9} is 16 t + 4 tau + {2, 3}; X (the B operand) is read with the
// same permutation, so each thread's 16 weights of a row come from a single
// block (one scale per 8 half2) and its X fragment is 32 contiguous bytes.
#pragma once

#include <cstdint>
#include <cstring>  // arith.h uses std::memcpy on the host but includes <cstring> only without nvcc

#include "../formats/arith.h"

namespace razer {
namespace gpu {

constexpr int kPackRows = 16;        // rows per row group
constexpr int kPackK = 64;           // k per super-tile
constexpr int kPackTileBytes = 512;  // code bytes per (row group, super-tile)
constexpr int kPackScaleGroup = 4;   // super-tiles per scale group
constexpr int kPackScaleBytes = 256; // scale bytes per (row group, scale group)

struct PackedLayout {
  int64_t N, K;
  int64_t RG;            // row groups = ceil(N / 16)
  int64_t ST;            // super-tiles = ceil(K / 64)
  int64_t SG;            // scale groups = ceil(ST / 4)
  int64_t codes_bytes;   // RG * ST * 512
  int64_t scales_offset; // round_up(codes_bytes, 256)
  int64_t scales_bytes;  // RG * SG * 256
  int64_t total_bytes;   // scales_offset + scales_bytes
};

RZ_HD RZ_FORCEINLINE PackedLayout packed_layout(int64_t N, int64_t K) {
  PackedLayout l;
  l.N = N;
  l.K = K;
  l.RG = (N + kPackRows - 1) / kPackRows;
  l.ST = (K + kPackK - 1) / kPackK;
  l.SG = (l.ST + kPackScaleGroup - 1) / kPackScaleGroup;
  l.codes_bytes = l.RG * l.ST * kPackTileBytes;
  l.scales_offset = (l.codes_bytes + 255) / 256 * 256;
  l.scales_bytes = l.RG * l.SG * kPackScaleBytes;
  l.total_bytes = l.scales_offset + l.scales_bytes;
  return l;
}

// Byte offset of lane L's 16 code bytes of (rg, st).
RZ_HD RZ_FORCEINLINE int64_t packed_code_offset(const PackedLayout& l, int64_t rg, int64_t st,
                                                int lane) {
  return ((rg * l.ST + st) * kPackTileBytes) + int64_t(lane) * 16;
}

// Byte offset of lane L's 2 scale bytes of (rg, st), relative to scales_offset.
RZ_HD RZ_FORCEINLINE int64_t packed_scale_offset(const PackedLayout& l, int64_t rg, int64_t st,
                                                 int lane) {
  return (rg * l.SG + st / kPackScaleGroup) * kPackScaleBytes + int64_t(lane) * 8 +
         (st % kPackScaleGroup) * 2;
}

// Bit positions inside a packed 32-bit word of 8 element codes e0..e7. The
// word decodes as four half2 (e0,e1), (e2,e3), (e4,e5), (e6,e7); output j's
// 3 magnitude bits (code & 7, LSB first) and sign bit (code & 8) sit where
// few shifts move them to the bf16 positions (mag at 6..8 / 22..24, sign at
// 15 / 31) and the fp16 ones (mag 3 bits higher). Chosen by a search over
// all such layouts for the fewest integer-pipe operations (LOP3, and right
// shifts; left shifts become IMAD.SHL on the FMA pipe), which bound the GEMV:
// bf16 8 per word (j = 1 one mask, shift 3 for both parts), fp16 7 (j = 3
// one mask, no shift).
// Code i's magnitude LSB / sign bit: one table for the host, the device
// kernels and the decode's compile-time shifts (a constexpr function, unlike
// a namespace-scope constexpr array, is usable in device code everywhere).
RZ_HD constexpr int rz_word_mag_pos(int i) {
  //            e0  e1  e2  e3  e4  e5  e6  e7
  return i == 0 ? 0 : i == 1 ? 16 : i == 2 ? 3 : i == 3 ? 19
       : i == 4 ? 6 : i == 5 ? 22 : i == 6 ? 9 : 25;
}
RZ_HD constexpr int rz_word_sign_pos(int i) {
  return i == 0 ? 13 : i == 1 ? 29 : i == 2 ? 12 : i == 3 ? 28
       : i == 4 ? 14 : i == 5 ? 30 : i == 6 ? 15 : 31;
}

// The K order of X for the register-A wgmma kernel (gemm_wgmma.cuh,
// x_permute.cu): 4-byte word w (0..31, one k pair) of a permuted super-tile
// holds physical word rz_xperm_word(w) = 8 (w % 4) + w / 4 of the same
// super-tile, so 16-byte chunk c holds words c, 8 + c, 16 + c, 24 + c: the
// pairs {2t, 2t+1} / {2t+8, 2t+9} of k16 step tau are physical elements
// 16 t + 4 tau + {0, 1} / {2, 3}, the order of decode_fragment.
RZ_HD constexpr int rz_xperm_word(int w) { return 8 * (w & 3) + (w >> 2); }

RZ_HD RZ_FORCEINLINE uint32_t rz_pack_word(const uint8_t* code8) {
  uint32_t w = 0;
  for (int i = 0; i < 8; ++i) {
    w |= uint32_t(code8[i] & 7u) << rz_word_mag_pos(i);
    w |= uint32_t((code8[i] >> 3) & 1u) << rz_word_sign_pos(i);
  }
  return w;
}

RZ_HD RZ_FORCEINLINE uint8_t rz_unpack_word(uint32_t w, int i) {
  return uint8_t(((w >> rz_word_mag_pos(i)) & 7u) | (((w >> rz_word_sign_pos(i)) & 1u) << 3));
}

}  // namespace gpu
}  // namespace razer
