// On-demand reading of a safetensors file: open() reads only the prefix and
// the header; each tensor is read by offset when asked for, so checkpoints
// larger than memory can be processed one tensor at a time.

import { open, type FileHandle } from 'node:fs/promises';
import { bf16ToF32, e4m3Decode, f16ToF32 } from '../codecs.js';
import { RazerError, describe } from '../errors.js';
import type { Dtype, TensorArray } from './dtypes.js';
import { viewAs } from './dtypes.js';
import { PREFIX_LENGTH, type TensorInfo, parseHeader, readHeaderLength } from './header.js';

export interface TensorData {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: number[];
  /** See TensorArray: F32 → Float32Array, F16/BF16 → raw bits, I8 → Int8Array, else bytes. */
  readonly data: TensorArray;
}

/** Largest single read: fs reads are limited to about 2 GiB per call. */
const MAX_CHUNK = 1 << 30;

/** Wrap an fs error in ERR_FILE, naming the file and the operation. */
function ioError(path: string, what: string, e: unknown): RazerError {
  const err = new RazerError('ERR_FILE', `${path}: cannot ${what}: ${(e as Error).message}`);
  err.cause = e;
  return err;
}

/** Fill `out` from `position`, looping over short reads; a premature end is an error. */
async function readFully(
  handle: FileHandle,
  out: Uint8Array,
  position: number,
  path: string,
): Promise<void> {
  let done = 0;
  while (done < out.length) {
    const length = Math.min(out.length - done, MAX_CHUNK);
    let bytesRead: number;
    try {
      ({ bytesRead } = await handle.read(out, done, length, position + done));
    } catch (e) {
      throw ioError(path, 'read', e);
    }
    if (bytesRead === 0) {
      throw new RazerError(
        'ERR_FILE',
        `${path}: unexpected end of file at byte ${position + done} (the file shrank after it was opened?)`,
      );
    }
    done += bytesRead;
  }
}

export class SafetensorsReader {
  readonly path: string;
  readonly metadata: Readonly<Record<string, string>>;
  /** Every tensor, sorted by offset. */
  readonly tensors: readonly TensorInfo[];
  #handle: FileHandle | undefined;
  readonly #byName: ReadonlyMap<string, TensorInfo>;

  private constructor(
    path: string,
    handle: FileHandle,
    metadata: Readonly<Record<string, string>>,
    tensors: readonly TensorInfo[],
  ) {
    this.path = path;
    this.#handle = handle;
    this.metadata = metadata;
    this.tensors = tensors;
    this.#byName = new Map(tensors.map((t) => [t.name, t]));
  }

  /** Open a file and validate its header; tensor data is not read. */
  static async open(path: string): Promise<SafetensorsReader> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (e) {
      throw ioError(path, 'open', e);
    }
    try {
      const { size } = await handle.stat();
      const prefix = new Uint8Array(PREFIX_LENGTH);
      if (size >= PREFIX_LENGTH) await readFully(handle, prefix, 0, path);
      const length = readHeaderLength(prefix, size, path);
      const json = new Uint8Array(length);
      await readFully(handle, json, PREFIX_LENGTH, path);
      const header = parseHeader(json, size, path);
      return new SafetensorsReader(path, handle, header.metadata, header.tensors);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  get(name: string): TensorInfo | undefined {
    return this.#byName.get(name);
  }

  has(name: string): boolean {
    return this.#byName.has(name);
  }

  #info(name: string): TensorInfo {
    const info = this.#byName.get(name);
    if (info === undefined) {
      throw new RazerError('ERR_ARGUMENT', `name: ${this.path} has no tensor named ${describe(name)}`);
    }
    return info;
  }

  /** The tensor's bytes, in a fresh buffer of their own (so typed views are aligned). */
  async readBytes(name: string): Promise<Uint8Array> {
    const info = this.#info(name);
    const handle = this.#handle;
    if (handle === undefined) {
      throw new RazerError('ERR_ARGUMENT', `${this.path}: the reader is closed`);
    }
    const out = new Uint8Array(info.byteLength);
    await readFully(handle, out, info.byteOffset, this.path);
    return out;
  }

  async read(name: string): Promise<TensorData> {
    const info = this.#info(name);
    const bytes = await this.readBytes(name);
    return { name, dtype: info.dtype, shape: [...info.shape], data: viewAs(info.dtype, bytes) };
  }

  /** Close the file; idempotent. */
  async close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Widen a floating-point tensor to fp32 (exact for every accepted dtype).
 * An F32 tensor's own array is returned, not a copy.
 */
export function tensorToFloat32(t: TensorData): Float32Array {
  const decode = (fn: (v: number) => number): Float32Array => {
    const src = t.data;
    const out = new Float32Array(src.length);
    for (let i = 0; i < src.length; i++) out[i] = fn(src[i]);
    return out;
  };
  switch (t.dtype) {
    case 'F32':
      return t.data as Float32Array;
    case 'F16':
      return decode(f16ToF32);
    case 'BF16':
      return decode(bf16ToF32);
    case 'F8_E4M3':
      return decode(e4m3Decode);
    default:
      throw new RazerError(
        'ERR_DTYPE',
        `${t.name}: expected a floating-point tensor (F32, F16, BF16 or F8_E4M3), got ${t.dtype}`,
      );
  }
}
