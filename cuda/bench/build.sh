#!/usr/bin/env bash
# Builds the standalone W4A16 tools (correctness harness, benchmark, and the
# weight-stream bandwidth probe stream_pattern).
# usage: cuda/bench/build.sh [OUTDIR] ["ARCH FLAGS"]
#   default OUTDIR build_gemm, default arch -gencode arch=compute_90a,code=sm_90a
# Compiles every translation unit in parallel, then links gemm_check and
# gemm_bench (cuBLAS is dlopen'ed by gemm_bench at run time, never linked).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUTDIR=${1:-build_gemm}
ARCH=${2:--gencode arch=compute_90a,code=sm_90a}
FLAGS="-std=c++17 -O3 $ARCH -I cuda -Xcompiler -ffp-contract=off ${EXTRA_NVCC_FLAGS:-}"
mkdir -p "$OUTDIR"
KOBJ=()
pids=()
for s in kernels/prepack kernels/dispatch kernels/x_permute kernels/gemm_w4a16 kernels/gemm_w4a16_nvfp4_f16 \
         kernels/gemm_w4a16_nvfp4_bf16 kernels/gemm_w4a16_razer_f16 kernels/gemm_w4a16_razer_bf16 \
         tests/gemm_check bench/gemm_bench; do
  o="$OUTDIR/$(basename "$s").o"
  case "$s" in kernels/*) KOBJ+=("$o");; esac
  nvcc $FLAGS -Xptxas -warn-spills -c "cuda/$s.cu" -o "$o" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
nvcc $ARCH "$OUTDIR/gemm_check.o" "${KOBJ[@]}" -o "$OUTDIR/gemm_check"
nvcc $ARCH "$OUTDIR/gemm_bench.o" "${KOBJ[@]}" -ldl -o "$OUTDIR/gemm_bench"
nvcc -std=c++17 -O3 $ARCH cuda/bench/stream_pattern.cu -o "$OUTDIR/stream_pattern"
echo "built $OUTDIR/gemm_check $OUTDIR/gemm_bench $OUTDIR/stream_pattern"
