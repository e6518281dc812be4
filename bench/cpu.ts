// The C++ CPU backend on 4096x4096: quantize per format and W4A16 at M = 1
// and 64, each against the time to stream the same bytes with a plain copy
// measured in the same run. Weights are rotated over several copies so that
// neither the GEMM nor the copy runs from cache.
// Usage: node dist/bench/cpu.js [--json out.json] [--threads n]
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { execSync } from 'node:child_process';
import { f32ToBf16 } from '../lib/codecs.js';
import { backendInfo, nativeGemmW4A16Sync, nativeQuantizeSync } from '../lib/native/index.js';
import type { NativeFormat } from '../lib/native/addon-types.js';
import { Random } from '../lib/random.js';

const N = 4096;
const K = 4096;
const COPIES = 8; // 8 x 9 MiB of weights: beyond any L3 here
const RUNS = 15;
const FORMATS: NativeFormat[] = ['nvfp4', 'nvfp4_4over6', 'nvfp4_razer', 'nvfp4_razer_a'];

const argv = process.argv.slice(2);
const threadsAt = argv.indexOf('--threads');
const threads = threadsAt >= 0 ? Number(argv[threadsAt + 1]) : 0;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/** Median ms of `fn(i)` over RUNS calls after 2 warm-ups, i rotating over COPIES. */
function time(fn: (i: number) => void): number {
  for (let i = 0; i < 2; i++) fn(i % COPIES);
  const t: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const s = performance.now();
    fn(r % COPIES);
    t.push(performance.now() - s);
  }
  return median(t);
}

const info = backendInfo();
if (!info.addon) {
  console.error(`bench/cpu: the native addon is not loaded: ${info.reason}`);
  process.exit(1);
}
const rng = new Random(7);
const x = rng.fill(N * K, (r) => 0.02 * r.studentT(4));
const xCopies = Array.from({ length: 2 }, (_, i) => (i === 0 ? x : x.map((v) => -v)));

// Streaming floors: a plain copy of the same bytes.
const inBytes = x.byteLength;
const copyDst = new Float32Array(N * K);
const copyIn = time((i) => copyDst.set(xCopies[i % 2]));

const rows: Record<string, number | string>[] = [];
for (const format of FORMATS) {
  const ms = time((i) => nativeQuantizeSync(xCopies[i % 2], [N, K], format, { threads }));
  rows.push({ op: `quantize ${format}`, ms, streamMs: copyIn, ratio: ms / copyIn });
}

for (const format of ['nvfp4', 'nvfp4_razer'] as const) {
  const weights = Array.from({ length: COPIES }, (_, i) =>
    nativeQuantizeSync(i % 2 ? xCopies[1] : xCopies[0], [N, K], format),
  );
  // Make the copies distinct buffers even where the data repeats.
  const w = weights.map((q) => ({ ...q, codes: new Uint8Array(q.codes), scales: new Uint8Array(q.scales) }));
  const wBytes = w[0].codes.byteLength + w[0].scales.byteLength;
  const dst = new Uint8Array(wBytes);
  const copyW = time((i) => {
    dst.set(w[i].codes);
    dst.set(w[i].scales, w[i].codes.byteLength);
  });
  for (const M of [1, 64]) {
    const a = Uint16Array.from(rng.fill(M * K, (r) => r.gaussian()), f32ToBf16);
    const ms = time((i) => nativeGemmW4A16Sync(a, [M, K], w[i], { dtype: 'bf16', threads }));
    const gflops = (2 * M * N * K) / (ms * 1e6);
    rows.push({ op: `W4A16 ${format} M=${M}`, ms, streamMs: copyW, ratio: ms / copyW, gflops });
  }
}

const cpu = `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} threads`;
let commit = 'unknown';
try {
  commit = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
} catch {
  // not a git checkout
}
console.log(`C++ CPU backend, ${N}x${K}, ${cpu}, node ${process.version}, commit ${commit}, median of ${RUNS}`);
console.log(`copy floors: input ${inBytes / 2 ** 20} MiB fp32, weights 9 MiB (codes + scales)`);
console.log('| operation | ms | stream same bytes (ms) | ratio | GFLOP/s |');
console.log('|---|---:|---:|---:|---:|');
for (const r of rows) {
  const g = r.gflops === undefined ? '' : (r.gflops as number).toFixed(0);
  console.log(`| ${r.op} | ${(r.ms as number).toFixed(2)} | ${(r.streamMs as number).toFixed(2)} | ${(r.ratio as number).toFixed(2)}x | ${g} |`);
}
const jsonAt = argv.indexOf('--json');
if (jsonAt >= 0) writeFileSync(argv[jsonAt + 1], JSON.stringify({ cpu, commit, node: process.version, rows }, null, 2));
