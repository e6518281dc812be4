// Parsing and validation of a safetensors header. The rules follow the
// official Rust crate (huggingface/safetensors, `SafeTensors::read_metadata`
// and `Metadata::validate`): an 8-byte little-endian length, at most
// 100_000_000 bytes of UTF-8 JSON, and tensors that, sorted by offset, cover
// the data section exactly: no overlap, no hole, and the last one ends at the
// end of the file (the crate's `MetadataIncompleteBuffer`), so trailing bytes
// are an error too. A file this module accepts is one the official reader
// accepts. Two deliberate differences: this parser is stricter about unknown
// fields in a tensor entry (serde ignores them) and reports each problem
// separately rather than as one `InvalidOffset`.

import { RazerError, describe } from '../errors.js';
import { DTYPES, type Dtype, dtypeSize, isDtype } from './dtypes.js';

/**
 * The official crate's MAX_HEADER_SIZE (100 MB, not MiB): a longer header is
 * almost certainly not a safetensors file, and reading it would waste memory.
 */
export const MAX_HEADER_LENGTH = 100_000_000;

/** Bytes before the header: its length as a little-endian u64. */
export const PREFIX_LENGTH = 8;

export const METADATA_KEY = '__metadata__';

/** One tensor of a safetensors file. */
export interface TensorInfo {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: number[];
  /** Absolute position of the first byte in the file. */
  readonly byteOffset: number;
  readonly byteLength: number;
}

export interface ParsedHeader {
  readonly metadata: Readonly<Record<string, string>>;
  /** Sorted by offset. */
  readonly tensors: readonly TensorInfo[];
  /** Absolute position of the data section. */
  readonly dataStart: number;
}

function fileError(path: string, problem: string): RazerError {
  return new RazerError('ERR_FILE', `${path}: ${problem}`);
}

/** The header length from the 8-byte prefix, checked against the limit and the file size. */
export function readHeaderLength(prefix: Uint8Array, fileSize: number, path: string): number {
  if (fileSize < PREFIX_LENGTH || prefix.length < PREFIX_LENGTH) {
    throw fileError(
      path,
      `file is ${fileSize} bytes, shorter than the ${PREFIX_LENGTH}-byte header length prefix of a safetensors file`,
    );
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, PREFIX_LENGTH).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_LENGTH)) {
    throw fileError(
      path,
      `header length ${n} bytes exceeds the limit of ${MAX_HEADER_LENGTH} bytes (not a safetensors file?)`,
    );
  }
  const length = Number(n);
  if (PREFIX_LENGTH + length > fileSize) {
    throw fileError(
      path,
      `header length ${length} bytes runs past the end of the file (${fileSize} bytes): truncated file?`,
    );
  }
  return length;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

const FIELDS = ['dtype', 'shape', 'data_offsets'] as const;

/** Validate one tensor entry; returns it with offsets relative to the data section. */
function parseEntry(
  path: string,
  name: string,
  entry: unknown,
): { dtype: Dtype; shape: number[]; begin: number; end: number } {
  const where = `tensor ${JSON.stringify(name)}`;
  if (!isPlainObject(entry)) {
    throw fileError(path, `${where}: expected an object with ${FIELDS.join(', ')}, got ${describe(entry)}`);
  }
  for (const field of FIELDS) {
    if (!Object.prototype.hasOwnProperty.call(entry, field)) {
      throw fileError(path, `${where}: missing field "${field}"`);
    }
  }
  for (const key of Object.keys(entry)) {
    if (!(FIELDS as readonly string[]).includes(key)) {
      throw fileError(path, `${where}: unexpected field ${JSON.stringify(key)} (expected only ${FIELDS.join(', ')})`);
    }
  }
  const { dtype, shape, data_offsets: offsets } = entry;
  if (!isDtype(dtype)) {
    throw fileError(path, `${where}: unknown dtype ${describe(dtype)} (expected one of ${DTYPES.join(', ')})`);
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw fileError(path, `${where}: shape must be an array of non-negative integers, got ${describe(shape)}`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every(isCount) ||
    offsets[0] > offsets[1]
  ) {
    throw fileError(
      path,
      `${where}: data_offsets must be [begin, end], two non-negative integers with begin <= end, got ${describe(offsets)}`,
    );
  }
  const [begin, end] = offsets as [number, number];
  // Product of the dims times the element size, refusing anything past 2^53.
  let bytes = dtypeSize(dtype);
  for (const d of shape as number[]) {
    bytes *= d;
    if (!Number.isSafeInteger(bytes)) {
      throw fileError(path, `${where}: shape ${describe(shape)} of ${dtype} is too large`);
    }
  }
  if (end - begin !== bytes) {
    throw fileError(
      path,
      `${where}: byte length mismatch: shape ${describe(shape)} of ${dtype} needs ${bytes} bytes, data_offsets [${begin}, ${end}] hold ${end - begin}`,
    );
  }
  return { dtype, shape: [...(shape as number[])], begin, end };
}

function parseMetadata(path: string, value: unknown): Record<string, string> {
  // serde reads `"__metadata__": null` as no metadata; so do we.
  if (value === null || value === undefined) return {};
  if (!isPlainObject(value)) {
    throw fileError(path, `${METADATA_KEY} must be an object mapping strings to strings, got ${describe(value)}`);
  }
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      throw fileError(
        path,
        `${METADATA_KEY} must map strings to strings, but ${JSON.stringify(k)} maps to ${describe(v)}`,
      );
    }
  }
  return { ...(value as Record<string, string>) };
}

/**
 * Parse the header bytes (the `headerLength` bytes after the prefix) of a
 * file of `fileSize` bytes, and check that the tensors tile the data section.
 */
export function parseHeader(json: Uint8Array, fileSize: number, path: string): ParsedHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(json);
  } catch {
    throw fileError(path, 'header is not valid UTF-8');
  }
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (e) {
    throw fileError(path, `header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(root)) {
    throw fileError(path, `header must be a JSON object, got ${describe(root)}`);
  }

  const dataStart = PREFIX_LENGTH + json.length;
  const dataLength = fileSize - dataStart;
  let metadata: Record<string, string> = {};
  const entries: { name: string; dtype: Dtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, value] of Object.entries(root)) {
    if (name === METADATA_KEY) {
      metadata = parseMetadata(path, value);
      continue;
    }
    const entry = parseEntry(path, name, value);
    if (entry.end > dataLength) {
      throw fileError(
        path,
        `tensor ${JSON.stringify(name)}: data_offsets [${entry.begin}, ${entry.end}] run past the end of the data section (${dataLength} bytes): truncated file?`,
      );
    }
    entries.push({ name, ...entry });
  }

  // Sorted by offset, each tensor must start where the previous one ended.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end || (a.name < b.name ? -1 : 1));
  let covered = 0;
  let previous: (typeof entries)[number] | undefined;
  for (const e of entries) {
    if (e.begin < covered) {
      const p = previous as (typeof entries)[number];
      throw fileError(
        path,
        `tensors ${JSON.stringify(p.name)} [${p.begin}, ${p.end}] and ${JSON.stringify(e.name)} [${e.begin}, ${e.end}] overlap`,
      );
    }
    if (e.begin > covered) {
      throw fileError(
        path,
        `hole in the data section: bytes [${covered}, ${e.begin}) before tensor ${JSON.stringify(e.name)} belong to no tensor`,
      );
    }
    covered = e.end;
    previous = e;
  }
  if (covered !== dataLength) {
    throw fileError(
      path,
      `${dataLength - covered} trailing bytes after the last tensor: the data section is ${dataLength} bytes, the tensors cover ${covered}`,
    );
  }

  const tensors = entries.map((e) =>
    Object.freeze<TensorInfo>({
      name: e.name,
      dtype: e.dtype,
      shape: Object.freeze(e.shape) as number[],
      byteOffset: dataStart + e.begin,
      byteLength: e.end - e.begin,
    }),
  );
  return { metadata: Object.freeze(metadata), tensors: Object.freeze(tensors), dataStart };
}
