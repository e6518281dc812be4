// Reference quantizers for nvfp4 (SPEC §3.1) and nvfp4_4over6 (§3.2): E2M1
// elements, one UE4M3 scale per 16, an fp32 global scale.

import { E4M3_MAX, E4M3_MIN, e4m3Code, e4m3Round } from '../codecs.js';
import type { QuantizedTensor } from '../formats.js';
import { clamp, encodeBlockE2M1 } from './block.js';
import { amax } from './input.js';
import { packBlock } from './packing.js';

const f32 = Math.fround;
const BLOCK = 16;

/** s = E4M3(clamp(bm / q, 2^-9, 448)) */
export function e4m3BlockScale(bm: number, q: number): number {
  return e4m3Round(clamp(f32(bm / q), E4M3_MIN, E4M3_MAX));
}

/**
 * Picks a block's codes, given its start and decode scale d = G * s, into
 * `out`; returns the scale byte's extra bits (RaZeR's SV bit, else 0).
 */
export type E4M3BlockEncoder = (start: number, d: number, out: Uint8Array) => number;

/**
 * The frame shared by nvfp4 and nvfp4_razer_a: per block s = E4M3(clamp(bm / 6)),
 * then `encode` picks the codes. A global scale G of 0 (all-zero input, or an
 * amax so small that amax / 2688 underflows binary32) gives zero scales and codes.
 */
export function quantizeE4M3Blocks(
  x: Float32Array,
  rows: number,
  cols: number,
  G: number,
  encode: E4M3BlockEncoder,
): { codes: Uint8Array; scales: Uint8Array } {
  const codes = new Uint8Array((rows * cols) / 2);
  const scales = new Uint8Array((rows * cols) / BLOCK);
  if (G !== 0) {
    const block = new Uint8Array(BLOCK);
    for (let b = 0; b < scales.length; b++) {
      const start = b * BLOCK;
      const s = e4m3BlockScale(f32(amax(x, start, start + BLOCK) / G), 6);
      const extraBits = encode(start, f32(G * s), block);
      packBlock(codes, start, block, BLOCK);
      scales[b] = extraBits | e4m3Code(s);
    }
  }
  return { codes, scales };
}

/** nvfp4. `staticG`, when given, replaces amax / 2688 (activations with a calibrated scale). */
export function quantizeNvfp4(
  x: Float32Array,
  rows: number,
  cols: number,
  staticG?: number,
): QuantizedTensor {
  const G = staticG ?? f32(amax(x) / 2688);
  const { codes, scales } = quantizeE4M3Blocks(x, rows, cols, G, (start, d, out) => {
    encodeBlockE2M1(x, start, BLOCK, d, out);
    return 0;
  });
  return { format: 'nvfp4', shape: [rows, cols], codes, scales, globalScale: G, blockSize: BLOCK };
}

/** nvfp4_4over6: per block, the scale mapping the max to 4 replaces the one mapping it to 6 when strictly better. */
export function quantizeNvfp4FourOverSix(x: Float32Array, rows: number, cols: number): QuantizedTensor {
  const G = f32(amax(x) / 1536);
  const codes = new Uint8Array((rows * cols) / 2);
  const scales = new Uint8Array((rows * cols) / BLOCK);
  if (G !== 0) {
    const block6 = new Uint8Array(BLOCK);
    const block4 = new Uint8Array(BLOCK);
    for (let b = 0; b < scales.length; b++) {
      const start = b * BLOCK;
      const bm = f32(amax(x, start, start + BLOCK) / G);
      const s6 = e4m3BlockScale(bm, 6);
      const s4 = e4m3BlockScale(bm, 4);
      const err6 = encodeBlockE2M1(x, start, BLOCK, f32(G * s6), block6);
      const err4 = encodeBlockE2M1(x, start, BLOCK, f32(G * s4), block4);
      const four = err4 < err6;
      packBlock(codes, start, four ? block4 : block6, BLOCK);
      scales[b] = e4m3Code(four ? s4 : s6);
    }
  }
  return {
    format: 'nvfp4_4over6',
    shape: [rows, cols],
    codes,
    scales,
    globalScale: G,
    blockSize: BLOCK,
  };
}
