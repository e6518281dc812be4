// Speed of the TypeScript reference quantizer on a 4096x4096 fp32 matrix,
// per format (median of a few runs). Usage: node dist/bench/reference.js [--json out.json]
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { FORMATS } from '../lib/formats.js';
import { dequantize } from '../lib/quantize.js';
import { referenceQuantize as quantize } from '../lib/reference/quantize.js';
import { Random } from '../lib/random.js';

const ROWS = 4096;
const COLS = 4096;
const RUNS = 3;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

const rng = new Random(1);
const x = rng.fill(ROWS * COLS, (r) => 0.02 * r.studentT(4));
const rows: { format: string; quantizeMs: number; dequantizeMs: number; melemPerS: number }[] = [];
for (const format of FORMATS) {
  const qTimes: number[] = [];
  const dTimes: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    let t = performance.now();
    const q = quantize(x, [ROWS, COLS], format);
    qTimes.push(performance.now() - t);
    t = performance.now();
    dequantize(q);
    dTimes.push(performance.now() - t);
  }
  const quantizeMs = median(qTimes);
  rows.push({
    format,
    quantizeMs,
    dequantizeMs: median(dTimes),
    melemPerS: (ROWS * COLS) / quantizeMs / 1e3,
  });
}

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
console.log(`reference quantizer, ${ROWS}x${COLS} fp32, ${cpu}, node ${process.version}, median of ${RUNS}`);
console.log('| format | quantize (ms) | Melem/s | dequantize (ms) |');
console.log('|---|---:|---:|---:|');
for (const r of rows) {
  console.log(`| ${r.format} | ${r.quantizeMs.toFixed(0)} | ${r.melemPerS.toFixed(1)} | ${r.dequantizeMs.toFixed(0)} |`);
}
const jsonAt = process.argv.indexOf('--json');
if (jsonAt > 0) writeFileSync(process.argv[jsonAt + 1], JSON.stringify({ cpu, node: process.version, rows }, null, 2));
