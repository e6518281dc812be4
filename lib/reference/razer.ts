// Reference quantizers for RaZeR (SPEC §3.3 weights, §3.4 activations): the
// E2M1 code 0x8 (-0) is remapped per block to a special value (SV) whose
// choice is recorded in the scale byte's spare bits.

import { E3M3_MAX, E3M3_MIN, e3m3Code, e3m3Round } from '../codecs.js';
import type { QuantizedTensor } from '../formats.js';
import { clamp, encodeBlockRazer } from './block.js';
import { amax } from './input.js';
import { quantizeE4M3Blocks } from './nvfp4.js';
import { packBlock } from './packing.js';

const f32 = Math.fround;
const BLOCK = 16;

/** nvfp4_razer: per block, the best of +svSmall, -svSmall, +svBig, -svBig with an E3M3 scale. */
export function quantizeRazerWeights(
  x: Float32Array,
  rows: number,
  cols: number,
  svSmall: number,
  svBig: number,
): QuantizedTensor {
  const G = f32(amax(x) / 180);
  const codes = new Uint8Array((rows * cols) / 2);
  const scales = new Uint8Array((rows * cols) / BLOCK);
  if (G !== 0) {
    const candidates = [svSmall, -svSmall, svBig, -svBig];
    const trial = new Uint8Array(BLOCK);
    const best = new Uint8Array(BLOCK);
    for (let b = 0; b < scales.length; b++) {
      const start = b * BLOCK;
      const bm = f32(amax(x, start, start + BLOCK) / G);
      let bestErr = Infinity;
      let bestByte = 0;
      for (let c = 0; c < candidates.length; c++) {
        const sv = candidates[c];
        const qmax = Math.max(6, Math.abs(sv));
        const s = e3m3Round(clamp(f32(bm / qmax), E3M3_MIN, E3M3_MAX));
        const err = encodeBlockRazer(x, start, BLOCK, f32(G * s), sv, trial);
        if (c === 0 || err < bestErr) {
          bestErr = err;
          bestByte = ((sv < 0 ? 1 : 0) << 7) | ((c >= 2 ? 1 : 0) << 6) | e3m3Code(s);
          best.set(trial);
        }
      }
      packBlock(codes, start, best, BLOCK);
      scales[b] = bestByte;
    }
  }
  return {
    format: 'nvfp4_razer',
    shape: [rows, cols],
    codes,
    scales,
    globalScale: G,
    blockSize: BLOCK,
    svSmall,
    svBig,
  };
}

/** nvfp4_razer_a: nvfp4's scale, and per block the better of +svAct and -svAct. */
export function quantizeRazerActivations(
  x: Float32Array,
  rows: number,
  cols: number,
  svAct: number,
  staticG?: number,
): QuantizedTensor {
  const G = staticG ?? f32(amax(x) / 2688);
  const minus = new Uint8Array(BLOCK);
  const { codes, scales } = quantizeE4M3Blocks(x, rows, cols, G, (start, d, out) => {
    const errPlus = encodeBlockRazer(x, start, BLOCK, d, svAct, out);
    const errMinus = encodeBlockRazer(x, start, BLOCK, d, -svAct, minus);
    if (!(errMinus < errPlus)) return 0;
    out.set(minus);
    return 0x80;
  });
  return {
    format: 'nvfp4_razer_a',
    shape: [rows, cols],
    codes,
    scales,
    globalScale: G,
    blockSize: BLOCK,
    svAct,
  };
}
