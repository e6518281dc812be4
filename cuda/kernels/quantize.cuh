// GPU quantizers (SPEC §3.1-3.4) for Ampere and Hopper: host launch API.
//
// Everything is enqueued on `stream` and works on device pointers only: no
// host synchronization, no host round trip (the dynamic global scale is
// computed and consumed on the device). Results are bit-exact with the TS
// reference (lib/reference/) and the CPU backend: codes, scale bytes and G.
//
// Layout (SPEC §3.1): x row-major [rows, cols]; codes u8 [rows, cols/2] with
// element 2j in the low nibble of byte j; scales u8 [rows, cols/16]; G one
// fp32 on the device.
//
// Non-finite input: the index (row * cols + col) of the first NaN/±Inf is
// stored into *status with an atomic min, so the caller initializes *status to
// ~0ull and reads it after the stream work (the high-level API turns it into
// an error). The codes/scales/G written then are meaningless but never NaN
// scale bytes (non-finite elements are treated as 0), and nothing hangs.
//
// Requirements checked before anything is enqueued (else an error is returned
// and nothing is queued): cols % 16 == 0, rows, cols >= 0, x 16-byte aligned,
// codes 8-byte aligned, non-null pointers when the tensor is not empty,
// workspace of at least quantize_workspace_bytes() bytes, 16-byte aligned.
//
// Workspace: zero-filled once before its first use (quantize_workspace_init,
// or the cudaMemset that follows its allocation); every call leaves it
// zero-filled again, so no call needs a memset of its own. One workspace per
// stream: two calls in flight at once on different streams must not share it.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "../cpu/cpu_backend.h"  // razer::Format, razer::DType, razer::FormatParams

namespace razer::gpu {

using razer::DType;
using razer::Format;
using razer::FormatParams;

// Scratch bytes the quantizers need (the device-side amax, a completion
// counter and the global scale): a small constant, whatever the shape.
size_t quantize_workspace_bytes(int64_t rows, int64_t cols);

// Zero-fills a workspace (cudaMemsetAsync on `stream`); needed once, before
// the workspace's first use, unless its memory is already zero.
cudaError_t quantize_workspace_init(void* workspace, size_t workspace_bytes, cudaStream_t stream);

// Weights: format nvfp4, nvfp4_4over6 or nvfp4_razer; x f32, f16 or bf16.
// G = amax(x) / (2688 | 1536 | 180) computed on the device (two passes over
// x: an exact amax reduction, then the blocks).
cudaError_t quantize_weights(Format format, const void* x, DType dtype, int64_t rows,
                             int64_t cols, const FormatParams& params, uint8_t* codes,
                             uint8_t* scales, float* global_scale,
                             unsigned long long* status, void* workspace,
                             size_t workspace_bytes, cudaStream_t stream);

// Activations: format nvfp4 or nvfp4_razer_a; x f16 or bf16 (f32 is accepted
// too). static_global_scale: a device pointer to a calibrated G (one pass
// over x), or nullptr for the dynamic G = amax(x) / 2688 (two passes).
// global_scale_out receives the G used.
cudaError_t quantize_activations(Format format, const void* x, DType dtype, int64_t rows,
                                 int64_t cols, float sv_act, const float* static_global_scale,
                                 uint8_t* codes, uint8_t* scales, float* global_scale_out,
                                 unsigned long long* status, void* workspace,
                                 size_t workspace_bytes, cudaStream_t stream);

namespace detail {
// Test hooks (cuda/tests/quantize_check.cu): force the generic per-block
// quantizers everywhere, and choose the block order of the second pass of a
// dynamic quantization (reversed: the first blocks it reads are the last the
// amax pass read, which are still in L2). Not thread-safe; tests only.
struct QuantizeTuning {
  bool force_generic = false;
  bool reverse_second_pass = true;
  // Shape of the nvfp4 / nvfp4_razer_a kernels for f16/bf16 (0: default):
  // blocks per thread 1 or 2, built for min_blocks CTAs of 256 per SM;
  // (1, 4), (2, 4), (1, 3), (2, 3) and (1, 2) exist.
  int min_blocks = 0;
  int blocks_per_thread = 0;
  bool memset_workspace = false;  // memset the workspace in every dynamic call
  bool razer_a_certified = false;  // nvfp4_razer_a (f16/bf16) by the certified-decision
                                   // fast algorithm (slower on the H100 than the default)
};
QuantizeTuning& quantize_tuning();
}  // namespace detail

}  // namespace razer::gpu
