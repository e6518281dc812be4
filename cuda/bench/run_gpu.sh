#!/usr/bin/env bash
# Device-side session for the W4A16 path, logs under $OUT.
# usage: MODE=final|tune cuda/bench/run_gpu.sh [BINDIR (default .gpu/gemm)]
#   final: correctness harness, compute-sanitizer memcheck, racecheck, initcheck,
#          benchmark table vs cuBLAS, SASS opcode histogram.
#   tune:  correctness harness, kernel/split sweep (no cuBLAS), ncu profiles.
set -u
B=${1:-.gpu/gemm}
MODE=${MODE:-final}
O=${OUT:-/tmp/gemm_out}
mkdir -p "$O"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,power.draw,temperature.gpu \
  --format=csv > "$O/env.txt" 2>&1
cat "$O/env.txt"

start=$(date +%s)
timeout 240 "$B/gemm_check" > "$O/check.log" 2>&1
echo "== gemm_check rc=$? ($(( $(date +%s) - start ))s)"
tail -14 "$O/check.log"

if [ "$MODE" = tune ]; then
  start=$(date +%s)
  timeout 300 "$B/gemm_bench" "$O/sweep.json" --sweep-only > "$O/sweep.log" 2>&1
  echo "== sweep rc=$? ($(( $(date +%s) - start ))s)"
  grep -E "^(bandwidth|best|plan)" "$O/sweep.log"
  start=$(date +%s)
  {
    for args in "1 8192 8192 1" "64 8192 8192 0" "1024 8192 8192 0"; do
      echo "######## --one $args"
      timeout 60 ncu --clock-control none --section SpeedOfLight --section Occupancy \
        --section WarpStateStats --section SchedulerStats --section MemoryWorkloadAnalysis \
        -k regex:w4a16_mma -c 1 "$B/gemm_bench" x --one $args
    done
  } > "$O/ncu.txt" 2>&1
  echo "== ncu ($(( $(date +%s) - start ))s)"
  exit 0
fi

start=$(date +%s)
timeout 150 compute-sanitizer --tool memcheck --leak-check no "$B/gemm_check" --quick > "$O/memcheck.log" 2>&1
echo "== memcheck rc=$? ($(( $(date +%s) - start ))s)"; grep -E "ERROR SUMMARY|checks passed" "$O/memcheck.log"

start=$(date +%s)
timeout 120 compute-sanitizer --tool racecheck "$B/gemm_check" --tiny > "$O/racecheck.log" 2>&1
echo "== racecheck rc=$? ($(( $(date +%s) - start ))s)"; grep -E "RACECHECK SUMMARY|ERROR SUMMARY|checks passed" "$O/racecheck.log"

start=$(date +%s)
timeout 120 compute-sanitizer --tool initcheck "$B/gemm_check" --tiny > "$O/initcheck.log" 2>&1
echo "== initcheck rc=$? ($(( $(date +%s) - start ))s)"; grep -E "ERROR SUMMARY|checks passed" "$O/initcheck.log"

# SASS opcode histogram of the M <= 8 kernel (razer, bf16): decode cost
{
  f=$(cuobjdump -symbols "$B/gemm_bench" 2>/dev/null | grep -oE '_ZN5razer3gpu16w4a16_mma_kernelINS0_7GemmCfgILb1ELb1ELi1ELi1ELi8ELi8[A-Za-z0-9_]*' | head -1)
  echo "### $f"
  cuobjdump -sass -fun "$f" "$B/gemm_bench" | grep -oE '^\s+/\*[0-9a-f]{4,}\*/\s+[A-Z0-9_.]+' \
    | awk '{print $2}' | sed 's/\..*//' | sort | uniq -c | sort -rn
  cuobjdump -sass -fun "$f" "$B/gemm_bench"
} > "$O/sass.txt" 2>&1

start=$(date +%s)
timeout 300 "$B/gemm_bench" "$O/bench.json" > "$O/bench.log" 2>&1
echo "== gemm_bench rc=$? ($(( $(date +%s) - start ))s)"
grep -E "^(bandwidth|cuBLAS)" "$O/bench.log"
sed -n '/== W4A16 vs cuBLAS/,$p' "$O/bench.log"
