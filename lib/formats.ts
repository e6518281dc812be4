// The quantization formats (SPEC §3), their parameters and the tensor type
// every quantizer returns.

import { E2M1_MAGNITUDES } from './codecs.js';
import { RazerError, describe } from './errors.js';

export const FORMATS = [
  'nvfp4',
  'nvfp4_4over6',
  'nvfp4_razer',
  'nvfp4_razer_a',
  'mxfp4',
  'nf4',
] as const;
export type Format = (typeof FORMATS)[number];

export interface FormatInfo {
  readonly name: Format;
  /** Elements per block (nf4: the default; it is a parameter). */
  readonly blockSize: number;
  /** What one scale byte (or float) holds. */
  readonly scale: string;
  /** Storage cost per element, global scale ignored. */
  readonly bitsPerElement: number;
  readonly summary: string;
}

export const FORMAT_INFO: Readonly<Record<Format, FormatInfo>> = {
  nvfp4: {
    name: 'nvfp4',
    blockSize: 16,
    scale: 'UE4M3 + fp32 global',
    bitsPerElement: 4.5,
    summary: 'NVIDIA FP4: E2M1 elements, one UE4M3 scale per 16, one fp32 scale per tensor',
  },
  nvfp4_4over6: {
    name: 'nvfp4_4over6',
    blockSize: 16,
    scale: 'UE4M3 + fp32 global',
    bitsPerElement: 4.5,
    summary: 'NVFP4 data; each block maps its max to 4 or 6, whichever errs less',
  },
  nvfp4_razer: {
    name: 'nvfp4_razer',
    blockSize: 16,
    scale: 'SV bits + E3M3 + fp32 global',
    bitsPerElement: 4.5,
    summary: 'RaZeR weights: the -0 code becomes ±svSmall or ±svBig, chosen per block',
  },
  nvfp4_razer_a: {
    name: 'nvfp4_razer_a',
    blockSize: 16,
    scale: 'SV bit + UE4M3 + fp32 global',
    bitsPerElement: 4.5,
    summary: 'RaZeR activations: the -0 code becomes ±svAct, chosen per block',
  },
  mxfp4: {
    name: 'mxfp4',
    blockSize: 32,
    scale: 'E8M0',
    bitsPerElement: 4.25,
    summary: 'OCP MX FP4: E2M1 elements, one power-of-two scale per 32',
  },
  nf4: {
    name: 'nf4',
    blockSize: 64,
    scale: 'fp32 absmax',
    bitsPerElement: 4.5,
    summary: 'NormalFloat4 (QLoRA): 16 Gaussian-quantile levels times the block absmax',
  },
};

export function isFormat(name: unknown): name is Format {
  return typeof name === 'string' && (FORMATS as readonly string[]).includes(name);
}

export function checkFormat(name: unknown, argument = 'format'): Format {
  if (!isFormat(name)) {
    throw new RazerError(
      'ERR_FORMAT',
      `${argument}: expected one of ${FORMATS.join(', ')}, got ${describe(name)}`,
    );
  }
  return name;
}

/** Element types accepted as quantizer input. */
export type InputDtype = 'f32' | 'f16' | 'bf16';

export interface QuantizeOptions {
  /** Element type of the input: required ('f16' or 'bf16') for a Uint16Array. */
  dtype?: InputDtype;
  /** nvfp4_razer: the two special-value magnitudes (defaults 5 and 8). */
  svSmall?: number;
  svBig?: number;
  /** nvfp4_razer_a: the special-value magnitude (default 5). */
  svAct?: number;
  /** nf4: elements per block (default 64). */
  blockSize?: number;
  /**
   * nvfp4 and nvfp4_razer_a: a static global (decode) scale, as calibrated
   * checkpoints carry for activations, instead of amax / 2688.
   */
  globalScale?: number;
  /** A name for error messages (e.g. the checkpoint tensor name). */
  name?: string;
}

/** A quantized [rows, cols] tensor in the canonical (interchange) layout. */
export interface QuantizedTensor {
  readonly format: Format;
  readonly shape: readonly [number, number];
  /** Packed E2M1 / NF4 codes, [rows, cols / 2]; element 2j in the low nibble of byte j. */
  readonly codes: Uint8Array;
  /** One scale per block, row-major [rows, cols / blockSize]: bytes, or fp32 absmax for nf4. */
  readonly scales: Uint8Array | Float32Array;
  /** The fp32 global (decode) scale; 1 for formats without one. */
  readonly globalScale: number;
  readonly blockSize: number;
  /** nvfp4_razer only. */
  readonly svSmall?: number;
  readonly svBig?: number;
  /** nvfp4_razer_a only. */
  readonly svAct?: number;
}

/**
 * A special value must not be an E2M1 magnitude (it would duplicate a code)
 * and must have at most 3 significant bits, so that SV x scale stays exact in
 * fp16/bf16 (SPEC §2: at most 7 significant bits with a 4-bit scale).
 */
export function checkSpecialValue(value: unknown, argument: string): number {
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    value > 0 &&
    value <= 64 &&
    !E2M1_MAGNITUDES.includes(value) &&
    significantBits(value) <= 3;
  if (!ok) {
    throw new RazerError(
      'ERR_ARGUMENT',
      `${argument}: expected a positive number up to 64 with at most 3 significant bits that is not an E2M1 magnitude (e.g. 5, 7, 8, 10, 12), got ${describe(value)}`,
    );
  }
  return value as number;
}

function significantBits(v: number): number {
  let m = v;
  while (!Number.isInteger(m)) m *= 2;
  while (m % 2 === 0) m /= 2;
  return Math.floor(Math.log2(m)) + 1;
}

export interface FormatParams {
  blockSize: number;
  svSmall?: number;
  svBig?: number;
  svAct?: number;
}

/** Validate and complete the per-format parameters of an options object. */
export function resolveParams(format: Format, options: QuantizeOptions = {}): FormatParams {
  switch (format) {
    case 'nvfp4_razer': {
      const svSmall = checkSpecialValue(options.svSmall ?? 5, 'options.svSmall');
      const svBig = checkSpecialValue(options.svBig ?? 8, 'options.svBig');
      if (svSmall >= svBig) {
        throw new RazerError(
          'ERR_ARGUMENT',
          `options.svSmall: expected less than options.svBig (${svBig}), got ${svSmall}`,
        );
      }
      return { blockSize: 16, svSmall, svBig };
    }
    case 'nvfp4_razer_a':
      return { blockSize: 16, svAct: checkSpecialValue(options.svAct ?? 5, 'options.svAct') };
    case 'nf4': {
      const bs = options.blockSize ?? 64;
      if (!Number.isInteger(bs) || bs < 2 || bs % 2 !== 0 || bs > 4096) {
        throw new RazerError(
          'ERR_ARGUMENT',
          `options.blockSize: expected an even integer from 2 to 4096, got ${describe(options.blockSize)}`,
        );
      }
      return { blockSize: bs };
    }
    default:
      return { blockSize: FORMAT_INFO[format].blockSize };
  }
}
