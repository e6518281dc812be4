// Streaming safetensors writer. The header is written first (all shapes are
// known up front), then each tensor's bytes in declared order, so a file
// larger than memory never has to be held whole. Everything goes to a
// temporary file in the destination's directory, renamed over the output
// only by commit(): an existing file is replaced by a complete one or not at
// all (SPEC §6).

import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { RazerError, describe } from '../errors.js';
import { type Dtype, checkDtype, dtypeSize } from './dtypes.js';
import { METADATA_KEY, PREFIX_LENGTH } from './header.js';

export interface TensorSpec {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
}

export interface TensorToWrite extends TensorSpec {
  readonly data: ArrayBufferView;
}

interface Planned {
  readonly name: string;
  readonly dtype: Dtype;
  readonly begin: number;
  readonly byteLength: number;
}

/** Largest single write, as for reads. */
const MAX_CHUNK = 1 << 30;

function checkShape(shape: unknown, argument: string): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new RazerError(
      'ERR_SHAPE',
      `${argument}: expected an array of non-negative integers, got ${describe(shape)}`,
    );
  }
  return [...shape];
}

function checkMetadata(metadata: unknown): Record<string, string> | undefined {
  if (metadata === undefined) return undefined;
  const ok =
    typeof metadata === 'object' &&
    metadata !== null &&
    !Array.isArray(metadata) &&
    Object.values(metadata).every((v) => typeof v === 'string');
  if (!ok) {
    throw new RazerError(
      'ERR_ARGUMENT',
      `metadata: expected an object mapping strings to strings, got ${describe(metadata)}`,
    );
  }
  return { ...(metadata as Record<string, string>) };
}

/**
 * Lay out the tensors in the given order and build the header bytes: JSON
 * padded with spaces so that the data section starts at a multiple of 8, as
 * the official writer does (which keeps every tensor of an 8-aligned layout
 * aligned when the file is memory-mapped).
 */
export function planSafetensors(
  entries: readonly TensorSpec[],
  metadata?: Record<string, string>,
): { header: Uint8Array; planned: Planned[]; dataLength: number } {
  if (!Array.isArray(entries)) {
    throw new RazerError('ERR_ARGUMENT', `entries: expected an array, got ${describe(entries)}`);
  }
  const meta = checkMetadata(metadata);
  const names = new Set<string>();
  const planned: Planned[] = [];
  const json: Record<string, unknown> = {};
  if (meta !== undefined) json[METADATA_KEY] = meta;
  let offset = 0;
  entries.forEach((e, i) => {
    const where = `entries[${i}]`;
    const name: unknown = e?.name;
    if (typeof name !== 'string' || name === '' || name === METADATA_KEY) {
      throw new RazerError(
        'ERR_ARGUMENT',
        `${where}.name: expected a non-empty string other than "${METADATA_KEY}", got ${describe(name)}`,
      );
    }
    if (names.has(name)) {
      throw new RazerError('ERR_ARGUMENT', `${where}.name: duplicate tensor name ${describe(name)}`);
    }
    names.add(name);
    const dtype = checkDtype(e.dtype, `${where}.dtype`);
    const shape = checkShape(e.shape, `${where}.shape`);
    const byteLength = shape.reduce((n, d) => n * d, dtypeSize(dtype));
    if (!Number.isSafeInteger(offset + byteLength)) {
      throw new RazerError('ERR_SHAPE', `${where}.shape: ${describe(shape)} is too large`);
    }
    planned.push({ name, dtype, begin: offset, byteLength });
    json[name] = { dtype, shape, data_offsets: [offset, offset + byteLength] };
    offset += byteLength;
  });
  const text = JSON.stringify(json);
  const padded = text + ' '.repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
  return { header: new TextEncoder().encode(padded), planned, dataLength: offset };
}

async function writeFully(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const length = Math.min(bytes.length - done, MAX_CHUNK);
    const { bytesWritten } = await handle.write(bytes, done, length, position + done);
    done += bytesWritten;
  }
}

function ioError(path: string, what: string, e: unknown): RazerError {
  const err = new RazerError('ERR_FILE', `${path}: cannot ${what}: ${(e as Error).message}`);
  err.cause = e;
  return err;
}

export class SafetensorsWriter {
  /** The final output path. */
  readonly path: string;
  /** The temporary file written until commit(). */
  readonly tempPath: string;
  readonly #planned: readonly Planned[];
  readonly #dataStart: number;
  #handle: FileHandle | undefined;
  /** Index of the next entry write() accepts. */
  #next = 0;
  /** Writes run one after another, in call order. */
  #tail: Promise<void> = Promise.resolve();
  #failed: unknown = undefined;
  #state: 'open' | 'committed' | 'aborted' = 'open';

  private constructor(path: string, tempPath: string, handle: FileHandle, planned: Planned[], dataStart: number) {
    this.path = path;
    this.tempPath = tempPath;
    this.#handle = handle;
    this.#planned = planned;
    this.#dataStart = dataStart;
  }

  /** Validate the entries, create the temporary file and write the header. */
  static async create(
    path: string,
    entries: readonly TensorSpec[],
    metadata?: Record<string, string>,
  ): Promise<SafetensorsWriter> {
    if (typeof path !== 'string' || path === '') {
      throw new RazerError('ERR_ARGUMENT', `path: expected a non-empty string, got ${describe(path)}`);
    }
    const { header, planned } = planSafetensors(entries, metadata);
    // Same directory, so the final rename is atomic (never across file systems).
    const tempPath = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
    let handle: FileHandle;
    try {
      handle = await open(tempPath, 'wx');
    } catch (e) {
      throw ioError(tempPath, `create a temporary file in ${dirname(path)}`, e);
    }
    const prefix = new Uint8Array(PREFIX_LENGTH);
    new DataView(prefix.buffer).setBigUint64(0, BigInt(header.length), true);
    try {
      await writeFully(handle, prefix, 0);
      await writeFully(handle, header, PREFIX_LENGTH);
    } catch (e) {
      await handle.close().catch(() => undefined);
      await rm(tempPath, { force: true });
      throw ioError(tempPath, 'write the header', e);
    }
    return new SafetensorsWriter(path, tempPath, handle, planned, PREFIX_LENGTH + header.length);
  }

  #checkOpen(what: string): void {
    if (this.#state !== 'open') {
      throw new RazerError('ERR_ARGUMENT', `${what}: the writer for ${this.path} is already ${this.#state}`);
    }
  }

  /**
   * Write the next tensor's bytes. Calls must follow the declared order; the
   * order and length are checked when called, the bytes are written in turn.
   * Leave `data` unchanged until the returned promise settles.
   */
  write(name: string, data: ArrayBufferView): Promise<void> {
    try {
      return this.#enqueue(name, data);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #enqueue(name: string, data: ArrayBufferView): Promise<void> {
    this.#checkOpen('write');
    const entry = this.#planned[this.#next];
    if (entry === undefined) {
      throw new RazerError('ERR_ARGUMENT', `write: all ${this.#planned.length} declared tensors are written, got another: ${describe(name)}`);
    }
    if (name !== entry.name) {
      throw new RazerError(
        'ERR_ARGUMENT',
        `write: expected tensor ${describe(entry.name)} next (declared order), got ${describe(name)}`,
      );
    }
    if (!ArrayBuffer.isView(data)) {
      throw new RazerError('ERR_ARGUMENT', `${name}: expected a typed array or DataView, got ${describe(data)}`);
    }
    // A typed array of another element width is a mix-up (e.g. fp32 data for an F16 tensor).
    const width = (data as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT;
    if (width !== undefined && width !== 1 && width !== dtypeSize(entry.dtype)) {
      throw new RazerError(
        'ERR_DTYPE',
        `${name}: ${entry.dtype} has ${dtypeSize(entry.dtype)}-byte elements, got ${describe(data)}`,
      );
    }
    if (data.byteLength !== entry.byteLength) {
      throw new RazerError(
        'ERR_SHAPE',
        `${name}: expected ${entry.byteLength} bytes, got ${data.byteLength} (${describe(data)})`,
      );
    }
    this.#next++;
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const position = this.#dataStart + entry.begin;
    const run = this.#tail.then(async () => {
      if (this.#failed !== undefined || this.#handle === undefined) return;
      try {
        await writeFully(this.#handle, bytes, position);
      } catch (e) {
        this.#failed = ioError(this.tempPath, `write tensor ${describe(name)}`, e);
        throw this.#failed;
      }
    });
    // The chain itself never rejects; each caller sees its own write's outcome.
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Check every tensor was written, flush to disk and rename over the output.
   * On any failure the temporary file is removed and the output left as it was.
   */
  async commit(): Promise<void> {
    this.#checkOpen('commit');
    try {
      await this.#tail;
      if (this.#failed !== undefined) throw this.#failed;
      if (this.#next < this.#planned.length) {
        const missing = this.#planned.length - this.#next;
        throw new RazerError(
          'ERR_ARGUMENT',
          `commit: ${missing} of ${this.#planned.length} declared tensors not written (next: ${describe(this.#planned[this.#next].name)}); ${this.path} left unchanged`,
        );
      }
      const handle = this.#handle as FileHandle;
      try {
        await handle.sync();
        this.#handle = undefined;
        await handle.close();
        await rename(this.tempPath, this.path);
      } catch (e) {
        throw ioError(this.path, 'finish writing', e);
      }
      this.#state = 'committed';
      await syncDirectory(dirname(this.path));
    } catch (e) {
      if (this.#state === 'open') await this.abort();
      throw e;
    }
  }

  /** Close and delete the temporary file; the output is not touched. Idempotent. */
  async abort(): Promise<void> {
    if (this.#state !== 'open') return;
    this.#state = 'aborted';
    await this.#tail;
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close().catch(() => undefined);
    await rm(this.tempPath, { force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.abort();
  }
}

/** Make the rename durable; best effort (some platforms cannot open a directory). */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const h = await open(dir, 'r');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  } catch {
    // Not fatal: the file itself is complete and synced.
  }
}

/** Write a whole set of in-memory tensors, in the given order. */
export async function writeSafetensors(
  path: string,
  tensors: readonly TensorToWrite[],
  metadata?: Record<string, string>,
): Promise<void> {
  const writer = await SafetensorsWriter.create(path, tensors, metadata);
  try {
    for (const t of tensors) await writer.write(t.name, t.data);
    await writer.commit();
  } catch (e) {
    await writer.abort();
    throw e;
  }
}
