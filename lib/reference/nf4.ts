// Reference quantizer for nf4 (SPEC §3.6): 16 Gaussian-quantile levels times
// an unquantized fp32 absmax per block.

import { nf4Encode } from '../codecs.js';
import type { QuantizedTensor } from '../formats.js';
import { amax } from './input.js';
import { setCode } from './packing.js';

const f32 = Math.fround;
const ZERO_LEVEL = 7;

export function quantizeNf4(
  x: Float32Array,
  rows: number,
  cols: number,
  blockSize: number,
): QuantizedTensor {
  const codes = new Uint8Array((rows * cols) / 2);
  const scales = new Float32Array((rows * cols) / blockSize);
  for (let b = 0; b < scales.length; b++) {
    const start = b * blockSize;
    const absmax = amax(x, start, start + blockSize);
    scales[b] = absmax;
    for (let i = 0; i < blockSize; i++) {
      setCode(codes, start + i, absmax === 0 ? ZERO_LEVEL : nf4Encode(f32(x[start + i] / absmax)));
    }
  }
  return { format: 'nf4', shape: [rows, cols], codes, scales, globalScale: 1, blockSize };
}
