// W4A16 GEMM on the GPU (Ampere and Hopper: mma.sync, and wgmma on sm_90a):
// Y = X · Ŵᵀ (+ bias).
//
// X fp16 or bf16 [M, K] row-major (16-byte aligned base), Ŵ an nvfp4 (or
// nvfp4_4over6 data) or nvfp4_razer weight [N, K] in the PREPACKED layout
// (gemm_layout.h), fp32 accumulation, G_w applied to the fp32 accumulator in
// the epilogue, optional fp32 bias[N], Y fp16 / bf16 / fp32 [M, N] row-major.
// Every M >= 1, every N >= 1, every K that is a multiple of 16.
//
// All pointers are device pointers; nothing here synchronizes the host or
// allocates memory. Errors that can be found before queuing work (bad
// shapes, dtypes, formats, alignment, a too-small workspace) are returned as
// cudaErrorInvalidValue and nothing is queued.
//
// Split-K: for shapes with too few output tiles to fill the GPU the kernels
// split K over CTAs; each CTA writes an fp32 partial tile to the workspace
// and the last CTA to arrive (an atomic counter per tile) sums the partials
// in split order 0..S-1 and runs the epilogue: the result is deterministic
// (bit-identical from run to run and independent of CTA scheduling). The
// counters live in the workspace and must be ZERO before the first call on a
// workspace (gemm_workspace_init, or any cudaMemset to 0); every call leaves
// them at zero again, and they sit in a fixed region that partials never
// touch, so one zeroed workspace serves calls of every shape in turn (one
// stream at a time). The wgmma kernel (sm_90a, M > 64) also keeps a K-permuted
// copy of X there (about the size of X, written by each call before its GEMM).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "../cpu/cpu_backend.h"

namespace razer {
namespace gpu {

// A prepacked weight (non-owning view of device memory).
struct PackedWeights {
  Format format = Format::nvfp4;  // nvfp4 (nvfp4_4over6 is stored as nvfp4) or nvfp4_razer
  int64_t N = 0, K = 0;
  const void* data = nullptr;     // device memory, prepack layout
  size_t bytes = 0;
  float global_scale = 0.0f;
  FormatParams params;            // sv_small / sv_big for nvfp4_razer
};

// ---- prepack (device side: one kernel on `stream`) ----
// Bytes of the prepacked layout of an [N, K] weight (0 if the arguments are
// invalid: N < 1, K < 16, K % 16 != 0, or a format without a W4A16 kernel).
size_t prepack_bytes(Format format, int64_t N, int64_t K);

// Rearranges the canonical layout (w.codes / w.scales: DEVICE pointers) into
// `out` (device, >= prepack_bytes, 16-byte aligned) and fills *packed (host
// struct). nvfp4_razer's svSmall / svBig must be finite, positive, and have
// at most 3 significant bits (README), so that SV x scale stays exact.
cudaError_t prepack(const QuantizedView& w, void* out, size_t out_bytes, cudaStream_t stream,
                    PackedWeights* packed);

// ---- GEMM ----
// Workspace the dispatcher's choice for (M, w) needs on the current device
// (0 when it neither splits K nor permutes X). gemm_w4a16 accepts any larger
// workspace.
size_t gemm_workspace_bytes(int64_t M, const PackedWeights& w);

// Zeroes a workspace (once, after allocating it).
cudaError_t gemm_workspace_init(void* workspace, size_t workspace_bytes, cudaStream_t stream);

cudaError_t gemm_w4a16(const void* x, DType x_dtype, int64_t M, const PackedWeights& w,
                       const float* bias, void* y, DType y_dtype, void* workspace,
                       size_t workspace_bytes, cudaStream_t stream);

// ---- the dispatch table, exposed for tests and benchmarks ----
struct GemmPlan {
  int kernel = -1;  // index into the kernel table
  int splits = 1;   // K splits (>= 1); the plan functions round it to what the shape allows
};

int gemm_kernel_count();
const char* gemm_kernel_name(int kernel);
// What the dispatcher picks for (M, w) on the current device.
GemmPlan gemm_plan(int64_t M, const PackedWeights& w);
// The plan with `splits` normalized (clamped and rounded to the scale-group grid).
GemmPlan gemm_plan_normalize(GemmPlan plan, int64_t M, const PackedWeights& w);
size_t gemm_plan_workspace_bytes(GemmPlan plan, int64_t M, const PackedWeights& w);
cudaError_t gemm_w4a16_plan(GemmPlan plan, const void* x, DType x_dtype, int64_t M,
                            const PackedWeights& w, const float* bias, void* y, DType y_dtype,
                            void* workspace, size_t workspace_bytes, cudaStream_t stream);

}  // namespace gpu
}  // namespace razer
