// The C++ CPU backend: multi-threaded quantize, dequantize and GEMMs over the
// canonical layout (SPEC §3-4), built on the shared host/device codecs in
// cuda/formats/. No N-API here: binding/ converts JS arguments into these calls.
#pragma once
#include <cstdint>

namespace razer {

enum class Format : int { nvfp4 = 0, nvfp4_4over6 = 1, nvfp4_razer = 2, nvfp4_razer_a = 3 };
enum class DType : int { f32 = 0, f16 = 1, bf16 = 2 };

struct FormatParams {
  float sv_small = 5.0f;  // nvfp4_razer
  float sv_big = 8.0f;    // nvfp4_razer
  float sv_act = 5.0f;    // nvfp4_razer_a
};

// A quantized [rows, cols] tensor in the canonical layout (views, not owned).
struct QuantizedView {
  Format format;
  int64_t rows, cols;
  const uint8_t* codes;   // [rows, cols/2], element 2j in the low nibble of byte j
  const uint8_t* scales;  // [rows, cols/16]
  float global_scale;
  FormatParams params;
};

// Quantize x ([rows, cols], row-major, dtype given) into codes/scales/global
// scale. static_global_scale > 0 replaces amax-based G (nvfp4, nvfp4_razer_a
// only; the other formats ignore it, so the caller rejects it for them).
// Returns -1 on success, else the index of the first non-finite element (the
// smallest such index, whatever the thread count; nothing meaningful is
// written then). Output is bit-identical to lib/reference for any thread
// count. Requires cols % 16 == 0 (checked by the caller). threads <= 0:
// hardware count.
int64_t cpu_quantize(Format format, const void* x, DType dtype, int64_t rows, int64_t cols,
                     const FormatParams& params, float static_global_scale, uint8_t* codes,
                     uint8_t* scales, float* global_scale, int threads);

// x̂ = (v * s) * G into out[rows * cols].
void cpu_dequantize(const QuantizedView& w, float* out, int threads);

// W4A16: y[M, N] = x[M, K] · Ŵ[N, K]ᵀ * G_w (+ bias[N]); x f32/f16/bf16, y f32/f16/bf16.
void cpu_gemm_w4a16(const void* x, DType x_dtype, int64_t M, const QuantizedView& w,
                    const float* bias, void* y, DType y_dtype, int threads);

// W4A4: x quantized per call in act_format (nvfp4 or nvfp4_razer_a; dynamic
// amax unless act_static_global_scale > 0), then y = (Σ x̂ŵ) * (G_x * G_w) (+ bias).
// Returns -1 on success, else the first non-finite index of x.
int64_t cpu_gemm_w4a4(const void* x, DType x_dtype, int64_t M, Format act_format,
                      float sv_act, float act_static_global_scale, const QuantizedView& w,
                      const float* bias, void* y, DType y_dtype, int threads);

}  // namespace razer
