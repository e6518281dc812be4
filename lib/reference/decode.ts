// Decoding of every format: the exact per-element values before the global
// scale, and the dequantized tensor (SPEC §3: x̂ = (v * s) * G).

import { E2M1_VALUES, NF4_LEVELS, e3m3Decode, e4m3Decode, e8m0Decode } from '../codecs.js';
import { RazerError } from '../errors.js';
import type { QuantizedTensor } from '../formats.js';
import { getCode } from './packing.js';

const f32 = Math.fround;

/** Element value v of a code within a block whose scale byte is `byte`. */
type ElementDecoder = (code: number, byte: number) => number;

function elementDecoder(q: QuantizedTensor): ElementDecoder {
  switch (q.format) {
    case 'nvfp4_razer': {
      const small = q.svSmall as number;
      const big = q.svBig as number;
      return (code, byte) =>
        code === 0x8 ? (byte & 0x80 ? -1 : 1) * (byte & 0x40 ? big : small) : E2M1_VALUES[code];
    }
    case 'nvfp4_razer_a': {
      const sv = q.svAct as number;
      return (code, byte) => (code === 0x8 ? (byte & 0x80 ? -sv : sv) : E2M1_VALUES[code]);
    }
    case 'nf4':
      return (code) => NF4_LEVELS[code];
    default:
      return (code) => E2M1_VALUES[code];
  }
}

/** Value of a block's scale. */
function scaleDecoder(q: QuantizedTensor): (b: number) => number {
  const scales = q.scales;
  switch (q.format) {
    case 'nvfp4':
    case 'nvfp4_4over6':
      return (b) => e4m3Decode(scales[b]);
    case 'nvfp4_razer_a':
      return (b) => e4m3Decode(scales[b] & 0x7f);
    case 'nvfp4_razer':
      return (b) => e3m3Decode(scales[b]);
    case 'mxfp4':
      return (b) => e8m0Decode(scales[b]);
    case 'nf4':
      return (b) => scales[b];
  }
}

/**
 * The per-element products v * s (exact in binary32 for the FP4 formats)
 * and the factor that completes them: x̂ = fround(values[i] * factor).
 */
export function decodeScaled(q: QuantizedTensor): { values: Float32Array; factor: number } {
  const [rows, cols] = q.shape;
  const n = rows * cols;
  if (q.codes.length * 2 !== n || q.scales.length * q.blockSize !== n) {
    throw new RazerError(
      'ERR_SHAPE',
      `q: [${rows}, ${cols}] ${q.format} needs ${n / 2} code bytes and ${n / q.blockSize} scales, got ${q.codes.length} and ${q.scales.length}`,
    );
  }
  const decodeElement = elementDecoder(q);
  const decodeScale = scaleDecoder(q);
  const values = new Float32Array(n);
  const bs = q.blockSize;
  const byteScales = q.scales instanceof Uint8Array;
  for (let b = 0; b < n / bs; b++) {
    const s = decodeScale(b);
    const byte = byteScales ? q.scales[b] : 0;
    for (let i = b * bs; i < (b + 1) * bs; i++) {
      values[i] = f32(decodeElement(getCode(q.codes, i), byte) * s);
    }
  }
  return { values, factor: q.globalScale };
}

/** Dequantize to fp32: x̂ = (v * s) * G. */
export function dequantize(q: QuantizedTensor): Float32Array {
  const { values, factor } = decodeScaled(q);
  for (let i = 0; i < values.length; i++) values[i] = f32(values[i] * factor);
  return values;
}
