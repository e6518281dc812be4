// Reference quantizer for mxfp4 (SPEC §3.5, OCP MX v1.0): E2M1 elements, one
// power-of-two (E8M0) scale per 32, no global scale.

import { e2m1Encode, floorLog2 } from '../codecs.js';
import type { QuantizedTensor } from '../formats.js';
import { amax } from './input.js';
import { setCode } from './packing.js';

const f32 = Math.fround;
const BLOCK = 32;

export function quantizeMxfp4(x: Float32Array, rows: number, cols: number): QuantizedTensor {
  const codes = new Uint8Array((rows * cols) / 2);
  const scales = new Uint8Array((rows * cols) / BLOCK);
  for (let b = 0; b < scales.length; b++) {
    const start = b * BLOCK;
    const m = amax(x, start, start + BLOCK);
    const e = m === 0 ? -127 : Math.min(Math.max(floorLog2(m) - 2, -127), 127);
    const scale = 2 ** e;
    for (let i = 0; i < BLOCK; i++) setCode(codes, start + i, e2m1Encode(f32(x[start + i] / scale)));
    scales[b] = e + 127;
  }
  return { format: 'mxfp4', shape: [rows, cols], codes, scales, globalScale: 1, blockSize: BLOCK };
}
