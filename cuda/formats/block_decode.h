// Per-element decoding (SPEC §3): the element value v (E2M1, or the RaZeR
// special value when the code is the sentinel 0x8) times the block scale s.
// v * s is exact in binary32 (at most 7 significant bits), so x̂ = (v * s) * G
// rounds once, in the epilogue, like decodeScaled/dequantize in
// lib/reference/decode.ts.
#pragma once

#include "arith.h"
#include "e2m1.h"
#include "scale_codecs.h"

namespace razer {

// ---- block scale values (what multiplies v) from the scale byte
// nvfp4 / nvfp4_4over6: a UE4M3 byte (a set bit 7 would read as negative).
RZ_HD RZ_FORCEINLINE float rz_scale_nvfp4(uint32_t byte) { return rz_e4m3_decode(byte); }
// nvfp4_razer_a: bit 7 is the SV sign, bits 6..0 the UE4M3 scale.
RZ_HD RZ_FORCEINLINE float rz_scale_razer_a(uint32_t byte) { return rz_e4m3_decode(byte & 0x7fu); }
// nvfp4_razer: bits 7/6 select the SV, bits 5..0 the E3M3 scale.
RZ_HD RZ_FORCEINLINE float rz_scale_razer(uint32_t byte) { return rz_e3m3_decode(byte & 0x3fu); }

// ---- element values v
RZ_HD RZ_FORCEINLINE float rz_value_nvfp4(uint32_t code) { return rz_e2m1_value(code); }

// nvfp4_razer: the sentinel is ±svSmall / ±svBig by bits 7 (sign) and 6 (big).
RZ_HD RZ_FORCEINLINE float rz_value_razer(uint32_t code, uint32_t byte, float sv_small,
                                          float sv_big) {
  if (code != 8u) return rz_e2m1_value(code);
  const float mag = (byte & 0x40u) ? sv_big : sv_small;
  return (byte & 0x80u) ? -mag : mag;
}

// nvfp4_razer_a: the sentinel is ±svAct by bit 7.
RZ_HD RZ_FORCEINLINE float rz_value_razer_a(uint32_t code, uint32_t byte, float sv_act) {
  if (code != 8u) return rz_e2m1_value(code);
  return (byte & 0x80u) ? -sv_act : sv_act;
}

// The 16 products v * s of one block whose scale byte is `byte`, indexed by
// code: a lookup table that decodes the block (exact in binary32).
// kind: 0 = nvfp4 / nvfp4_4over6, 1 = nvfp4_razer, 2 = nvfp4_razer_a.
RZ_HD RZ_FORCEINLINE void rz_block_value_table(int kind, uint32_t byte, float sv_small,
                                               float sv_big, float sv_act, float* table16) {
  float s;
  if (kind == 1) s = rz_scale_razer(byte);
  else if (kind == 2) s = rz_scale_razer_a(byte);
  else s = rz_scale_nvfp4(byte);
  for (uint32_t c = 0; c < 16u; ++c) {
    float v;
    if (kind == 1) v = rz_value_razer(c, byte, sv_small, sv_big);
    else if (kind == 2) v = rz_value_razer_a(c, byte, sv_act);
    else v = rz_value_nvfp4(c);
    table16[c] = rz_mul(v, s);
  }
}

// Decode the 16 elements of one block (8 packed code bytes) to v * s.
RZ_HD RZ_FORCEINLINE void rz_decode_block(int kind, const uint8_t* packed, uint32_t byte,
                                          float sv_small, float sv_big, float sv_act,
                                          float* out16) {
  float t[16];
  rz_block_value_table(kind, byte, sv_small, sv_big, sv_act, t);
  for (int j = 0; j < 8; ++j) {
    out16[2 * j] = t[packed[j] & 0xfu];
    out16[2 * j + 1] = t[packed[j] >> 4];
  }
}

}  // namespace razer
