#!/bin/bash
# Device-machine run of the GPU quantizer checks (the `run` tool, with carry
# [".gpu/qvec"] made by cuda/tests/quantize_vectors.mjs): build,
# bit-exactness vs the TS vectors, the large random check, timing,
# compute-sanitizer memcheck, racecheck and initcheck, and a SASS instruction summary of
# the hot kernels. Everything also lands in $OUT. About 30 s once warm.
set -o pipefail
OUT=${OUT:-/tmp/quantize_out}
mkdir -p build "$OUT"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,clocks.mem,power.draw,temperature.gpu --format=csv | tee "$OUT/gpu.txt"
t0=$(date +%s)
if ! nvcc -std=c++17 -O3 --fmad=false -gencode arch=compute_90a,code=sm_90a -I cuda \
    -Xcompiler -ffp-contract=off,-pthread -Xptxas -v \
    cuda/tests/quantize_check.cu cuda/kernels/quantize.cu -o build/quantize_check 2> "$OUT/ptxas.txt"; then
  echo "BUILD FAILED"; grep -i error "$OUT/ptxas.txt" | head -20
  exit 1
fi
echo "build: $(( $(date +%s) - t0 )) s"
build/quantize_check --vectors .gpu/qvec 2>&1 | tee "$OUT/check.txt"
status=$?
t0=$(date +%s)
compute-sanitizer --tool memcheck --leak-check full build/quantize_check --vectors .gpu/qvec --small --subset 9 > "$OUT/memcheck.txt" 2>&1
echo "memcheck exit $? in $(( $(date +%s) - t0 )) s:"; grep -E "ERROR SUMMARY|vectors \[|quantize_check:" "$OUT/memcheck.txt"
t0=$(date +%s)
compute-sanitizer --tool racecheck build/quantize_check --vectors .gpu/qvec --small --subset 41 > "$OUT/racecheck.txt" 2>&1
echo "racecheck exit $? in $(( $(date +%s) - t0 )) s:"; grep -E "RACECHECK SUMMARY|ERROR SUMMARY|quantize_check:" "$OUT/racecheck.txt"
t0=$(date +%s)
compute-sanitizer --tool initcheck build/quantize_check --vectors .gpu/qvec --small --subset 9 > "$OUT/initcheck.txt" 2>&1
echo "initcheck exit $? in $(( $(date +%s) - t0 )) s:"; grep -E "ERROR SUMMARY|vectors \[|quantize_check:" "$OUT/initcheck.txt"
cuobjdump -sass build/quantize_check > /tmp/quantize_all.sass 2>/dev/null
python3 - /tmp/quantize_all.sass > "$OUT/sass_summary.txt" <<'PY'
import re, sys, collections
text = open(sys.argv[1]).read()
parts = re.split(r'\n\s*Function : ', text)
for p in parts[1:]:
    name = p.split('\n', 1)[0].strip()
    m = re.search(r'quantize_kernelILNS_5DTypeE(\d)ELi(\d)ELb(\d)ELi(\d)ELi(\d)', name)
    if not m or m.group(1) != '2' or m.group(2) not in '01' or m.group(3) != '1':
        continue
    ops = collections.Counter()
    for line in p.split('\n'):
        mm = re.match(r'\s+/\*[0-9a-f]{4,}\*/\s+(@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)', line)
        if mm:
            ops[mm.group(2).split('.')[0]] += 1
    total = sum(ops.values())
    print(f"bf16 static kind {m.group(2)} blocks/thread {m.group(4)} minblocks {m.group(5)}: {total} SASS instructions")
    print('   ', ' '.join(f'{k}:{v}' for k, v in ops.most_common(40)))
PY
cat "$OUT/sass_summary.txt"
grep -A40 "^floors" "$OUT/check.txt"
tail -1 "$OUT/check.txt"
exit $status
