// The quantized checkpoint layout: how a QuantizedTensor is stored as
// safetensors entries, and how such entries (ours, or NVIDIA ModelOpt's NVFP4
// export) are found and read back.
//
// For a weight `X` of shape [N, K] (e.g. `model.layers.0.mlp.up_proj.weight`):
//   X          U8 [N, K/2]            packed codes, element 2j in the low nibble
//   X_scale    [N, K/blockSize]       F8_E4M3 (nvfp4, nvfp4_4over6), U8 (RaZeR:
//                                     the SV bits are not E4M3; mxfp4: E8M0),
//                                     F32 (nf4 absmax)
//   X_scale_2  F32 []                 the global (decode) scale, NVFP4 family only
// The file's __metadata__ records the format and its parameters, since RaZeR
// bytes cannot be told apart from plain ones.

import { RazerError, describe } from './errors.js';
import {
  type Format,
  type FormatParams,
  type QuantizedTensor,
  FORMAT_INFO,
  checkFormat,
  isFormat,
  resolveParams,
} from './formats.js';
import type { Dtype } from './safetensors/dtypes.js';
import type { TensorInfo } from './safetensors/header.js';
import type { SafetensorsReader } from './safetensors/reader.js';

export interface CheckpointEntrySpec {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: number[];
}

export interface CheckpointEntry extends CheckpointEntrySpec {
  readonly data: Uint8Array | Float32Array;
}

/** The parameters a format needs; missing ones take the quantizer's defaults. */
export type CheckpointParams = Partial<FormatParams>;

export interface QuantizedWeightInfo {
  /** The codes tensor, i.e. the original weight name. */
  readonly name: string;
  readonly format: Format;
  readonly shape: [number, number];
  readonly params: FormatParams;
}

export const SCALE_SUFFIX = '_scale';
export const GLOBAL_SCALE_SUFFIX = '_scale_2';

export const METADATA_FORMAT = 'quantization.format';
export const METADATA_SV_SMALL = 'quantization.sv_small';
export const METADATA_SV_BIG = 'quantization.sv_big';
export const METADATA_SV_ACT = 'quantization.sv_act';
export const METADATA_BLOCK_SIZE = 'quantization.block_size';

const SCALE_DTYPE: Readonly<Record<Format, Dtype>> = {
  nvfp4: 'F8_E4M3',
  nvfp4_4over6: 'F8_E4M3',
  nvfp4_razer: 'U8',
  nvfp4_razer_a: 'U8',
  mxfp4: 'U8',
  nf4: 'F32',
};

function hasGlobalScale(format: Format): boolean {
  return format !== 'mxfp4' && format !== 'nf4';
}

/** resolveParams, plus the check quantize() makes that a fixed block size is not overridden. */
function completeParams(format: Format, params: CheckpointParams): FormatParams {
  const p = resolveParams(format, params);
  if (params.blockSize !== undefined && params.blockSize !== p.blockSize) {
    throw new RazerError(
      'ERR_ARGUMENT',
      `params.blockSize: ${format} has a fixed block of ${p.blockSize}, got ${describe(params.blockSize)}`,
    );
  }
  return p;
}

/** The entries (no data) storing one quantized [N, K] weight named `name`. */
export function checkpointEntrySpecs(
  name: string,
  format: Format,
  shape: readonly [number, number],
  params: CheckpointParams = {},
): CheckpointEntrySpec[] {
  if (typeof name !== 'string' || name === '') {
    throw new RazerError('ERR_ARGUMENT', `name: expected a non-empty tensor name, got ${describe(name)}`);
  }
  const fmt = checkFormat(format);
  const { blockSize } = completeParams(fmt, params);
  if (
    !Array.isArray(shape) ||
    shape.length !== 2 ||
    !shape.every((d) => Number.isSafeInteger(d) && d > 0)
  ) {
    throw new RazerError('ERR_SHAPE', `${name}: expected a shape [N, K] of positive integers, got ${describe(shape)}`);
  }
  const [n, k] = shape;
  if (k % blockSize !== 0) {
    throw new RazerError(
      'ERR_SHAPE',
      `${name}: ${fmt} needs K to be a multiple of ${blockSize}, got shape [${n}, ${k}]`,
    );
  }
  const specs: CheckpointEntrySpec[] = [
    { name, dtype: 'U8', shape: [n, k / 2] },
    { name: name + SCALE_SUFFIX, dtype: SCALE_DTYPE[fmt], shape: [n, k / blockSize] },
  ];
  if (hasGlobalScale(fmt)) specs.push({ name: name + GLOBAL_SCALE_SUFFIX, dtype: 'F32', shape: [] });
  return specs;
}

function paramsOf(q: QuantizedTensor): CheckpointParams {
  return { blockSize: q.blockSize, svSmall: q.svSmall, svBig: q.svBig, svAct: q.svAct };
}

/** The entries, with data, storing `q` as the weight `name`. The arrays are q's own, not copies. */
export function checkpointEntries(name: string, q: QuantizedTensor): CheckpointEntry[] {
  const specs = checkpointEntrySpecs(name, q.format, q.shape, paramsOf(q));
  const [codes, scale, global] = specs;
  const count = (s: CheckpointEntrySpec) => s.shape.reduce((a, b) => a * b, 1);
  const scaleType = scale.dtype === 'F32' ? Float32Array : Uint8Array;
  if (!(q.codes instanceof Uint8Array) || q.codes.length !== count(codes)) {
    throw new RazerError(
      'ERR_SHAPE',
      `${name}: a [${q.shape.join(', ')}] ${q.format} tensor has ${count(codes)} code bytes, got ${describe(q.codes)}`,
    );
  }
  if (!(q.scales instanceof scaleType) || q.scales.length !== count(scale)) {
    throw new RazerError(
      'ERR_SHAPE',
      `${name}: a [${q.shape.join(', ')}] ${q.format} tensor has ${count(scale)} scales in a ${scaleType.name}, got ${describe(q.scales)}`,
    );
  }
  const entries: CheckpointEntry[] = [
    { ...codes, data: q.codes },
    { ...scale, data: q.scales },
  ];
  if (global !== undefined) {
    if (!Number.isFinite(q.globalScale) || Math.fround(q.globalScale) !== q.globalScale) {
      throw new RazerError(
        'ERR_ARGUMENT',
        `${name}: expected a finite binary32 global scale, got ${describe(q.globalScale)}`,
      );
    }
    entries.push({ ...global, data: Float32Array.of(q.globalScale) });
  }
  return entries;
}

/** The __metadata__ entries recording a format and its parameters. */
export function quantizationMetadata(format: Format, params: CheckpointParams = {}): Record<string, string> {
  const fmt = checkFormat(format);
  const p = completeParams(fmt, params);
  const meta: Record<string, string> = { [METADATA_FORMAT]: fmt };
  if (fmt === 'nvfp4_razer') {
    meta[METADATA_SV_SMALL] = String(p.svSmall);
    meta[METADATA_SV_BIG] = String(p.svBig);
  }
  if (fmt === 'nvfp4_razer_a') meta[METADATA_SV_ACT] = String(p.svAct);
  if (fmt === 'nf4') meta[METADATA_BLOCK_SIZE] = String(p.blockSize);
  return meta;
}

// ------------------------------------------------------------- reading ---

function fileError(reader: SafetensorsReader, problem: string): RazerError {
  return new RazerError('ERR_FILE', `${reader.path}: ${problem}`);
}

/** Run a validation step, reporting whatever it rejects as a problem with the file. */
function inFile<T>(reader: SafetensorsReader, context: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof RazerError && e.code !== 'ERR_FILE') {
      const err = fileError(reader, `${context}: ${e.message}`);
      err.cause = e;
      throw err;
    }
    throw e;
  }
}

/** The format recorded in __metadata__, if any. */
function metadataFormat(reader: SafetensorsReader): Format | undefined {
  const value = reader.metadata[METADATA_FORMAT];
  if (value === undefined) return undefined;
  if (!isFormat(value)) {
    throw fileError(
      reader,
      `__metadata__ ${METADATA_FORMAT}: expected one of ${Object.keys(FORMAT_INFO).join(', ')}, got ${describe(value)}`,
    );
  }
  return value;
}

function metadataNumber(reader: SafetensorsReader, key: string): number | undefined {
  const value = reader.metadata[key];
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) {
    throw fileError(reader, `__metadata__ ${key}: expected a decimal number, got ${describe(value)}`);
  }
  return n;
}

/** The format of weight `w` from __metadata__, or else from its scale dtypes. */
function weightFormat(
  reader: SafetensorsReader,
  w: TensorInfo,
  scale: TensorInfo,
  global: TensorInfo | undefined,
): Format {
  const recorded = metadataFormat(reader);
  if (recorded !== undefined) return recorded;
  const where = `${w.name}`;
  switch (scale.dtype) {
    case 'F8_E4M3':
      if (global === undefined) {
        throw fileError(
          reader,
          `${where}: ${scale.name} is F8_E4M3 (nvfp4) but ${w.name + GLOBAL_SCALE_SUFFIX}, the fp32 global scale, is missing`,
        );
      }
      return 'nvfp4';
    case 'F32':
      return 'nf4';
    case 'U8':
      if (global !== undefined) {
        throw fileError(
          reader,
          `${where}: U8 block scales with a global scale are RaZeR data, but the format and special values are missing from __metadata__ (expected ${METADATA_FORMAT}, and ${METADATA_SV_SMALL}/${METADATA_SV_BIG} or ${METADATA_SV_ACT})`,
        );
      }
      return 'mxfp4';
    default:
      throw fileError(
        reader,
        `${where}: ${scale.name} has dtype ${scale.dtype}; expected F8_E4M3 (nvfp4), U8 (mxfp4 or RaZeR) or F32 (nf4)`,
      );
  }
}

/** The parameters of `format` from __metadata__; nf4's block size may be inferred from the scale shape. */
function weightParams(
  reader: SafetensorsReader,
  format: Format,
  w: TensorInfo,
  scale: TensorInfo,
): FormatParams {
  const required = (key: string): number => {
    const v = metadataNumber(reader, key);
    if (v === undefined) {
      throw fileError(reader, `${w.name}: ${format} needs ${key} in __metadata__, which is missing`);
    }
    return v;
  };
  const params: CheckpointParams = {};
  if (format === 'nvfp4_razer') {
    params.svSmall = required(METADATA_SV_SMALL);
    params.svBig = required(METADATA_SV_BIG);
  } else if (format === 'nvfp4_razer_a') {
    params.svAct = required(METADATA_SV_ACT);
  } else if (format === 'nf4') {
    params.blockSize = metadataNumber(reader, METADATA_BLOCK_SIZE);
    if (params.blockSize === undefined) {
      const k = 2 * w.shape[1];
      const cols = scale.shape.length === 2 ? scale.shape[1] : 0;
      if (cols === 0 || k % cols !== 0) {
        throw fileError(
          reader,
          `${scale.name}: nf4 scales must be [N, K / blockSize] with K = ${k}, got shape ${describe(scale.shape)}`,
        );
      }
      params.blockSize = k / cols;
    }
  }
  return inFile(reader, `__metadata__ for ${w.name}`, () => completeParams(format, params));
}

function sameShape(actual: readonly number[], expected: readonly number[]): boolean {
  // A scalar may be stored as [] (ours) or [1] (ModelOpt, older PyTorch exports).
  if (expected.length === 0) return actual.length === 0 || (actual.length === 1 && actual[0] === 1);
  return actual.length === expected.length && actual.every((d, i) => d === expected[i]);
}

/** Identify a stored quantized weight and check its entries' dtypes and shapes (no data is read). */
export function describeQuantizedWeight(reader: SafetensorsReader, name: string): QuantizedWeightInfo {
  const w = reader.get(name);
  if (w === undefined) {
    throw new RazerError('ERR_ARGUMENT', `name: ${reader.path} has no tensor named ${describe(name)}`);
  }
  const scale = reader.get(name + SCALE_SUFFIX);
  if (scale === undefined) {
    throw fileError(reader, `${name}: its block scales ${describe(name + SCALE_SUFFIX)} are missing`);
  }
  if (w.dtype !== 'U8' || w.shape.length !== 2 || w.shape[0] === 0 || w.shape[1] === 0) {
    throw fileError(
      reader,
      `${name}: packed codes must be a non-empty U8 [N, K/2] tensor, got ${w.dtype} ${describe(w.shape)}`,
    );
  }
  const global = reader.get(name + GLOBAL_SCALE_SUFFIX);
  const format = weightFormat(reader, w, scale, global);
  const params = weightParams(reader, format, w, scale);
  const shape: [number, number] = [w.shape[0], 2 * w.shape[1]];
  const specs = inFile(reader, name, () => checkpointEntrySpecs(name, format, shape, params));
  for (const spec of specs) {
    const t = reader.get(spec.name);
    if (t === undefined) {
      throw fileError(reader, `${spec.name}: missing (a ${format} weight ${name} needs it)`);
    }
    if (t.dtype !== spec.dtype || !sameShape(t.shape, spec.shape)) {
      throw fileError(
        reader,
        `${spec.name}: a [${shape.join(', ')}] ${format} weight needs ${spec.dtype} ${describe(spec.shape)}, got ${t.dtype} ${describe(t.shape)}`,
      );
    }
  }
  return { name, format, shape, params };
}

/**
 * Every weight stored in this layout: a U8 tensor `X` with a sibling
 * `X_scale`. The format is taken from __metadata__ when recorded, else
 * inferred (ModelOpt NVFP4 files carry none).
 */
export function findQuantizedWeights(reader: SafetensorsReader): QuantizedWeightInfo[] {
  return reader.tensors
    .filter((t) => t.dtype === 'U8' && reader.has(t.name + SCALE_SUFFIX))
    .map((t) => describeQuantizedWeight(reader, t.name));
}

/** Read a stored quantized weight back into a QuantizedTensor. */
export async function readQuantized(reader: SafetensorsReader, name: string): Promise<QuantizedTensor> {
  const { format, shape, params } = describeQuantizedWeight(reader, name);
  const codes = (await reader.read(name)).data as Uint8Array;
  const scales = (await reader.read(name + SCALE_SUFFIX)).data as Uint8Array | Float32Array;
  let globalScale = 1;
  if (hasGlobalScale(format)) {
    const g = (await reader.read(name + GLOBAL_SCALE_SUFFIX)).data as Float32Array;
    globalScale = g[0];
    if (!Number.isFinite(globalScale) || globalScale < 0) {
      throw fileError(
        reader,
        `${name + GLOBAL_SCALE_SUFFIX}: expected a finite non-negative global scale, got ${globalScale}`,
      );
    }
  }
  return {
    format,
    shape,
    codes,
    scales,
    globalScale,
    blockSize: params.blockSize,
    ...(format === 'nvfp4_razer' ? { svSmall: params.svSmall, svBig: params.svBig } : {}),
    ...(format === 'nvfp4_razer_a' ? { svAct: params.svAct } : {}),
  };
}
