import { mkdtemp, readFile, readdir, rm, writeFile, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RazerError } from '../lib/errors.js';
import {
  type Dtype,
  MAX_HEADER_LENGTH,
  SafetensorsReader,
  SafetensorsWriter,
  type TensorArray,
  tensorToFloat32,
  writeSafetensors,
} from '../lib/safetensors/index.js';

let dir: string;
let counter = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'razer-safetensors-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
const tmpPath = (stem = 'file') => join(dir, `${stem}-${counter++}.safetensors`);

/** Deterministic bytes (mulberry32). */
function randomBytes(n: number, seed: number): Uint8Array {
  let a = seed >>> 0;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (t ^ (t >>> 14)) & 0xff;
  }
  return out;
}

const FULL: readonly Dtype[] = ['F32', 'F16', 'BF16', 'F8_E4M3', 'U8', 'I8'];
const SIZE: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F8_E4M3: 1, U8: 1, I8: 1 };

function typedFromBytes(dtype: Dtype, bytes: Uint8Array): TensorArray {
  const copy = bytes.slice().buffer;
  switch (dtype) {
    case 'F32':
      return new Float32Array(copy);
    case 'F16':
    case 'BF16':
      return new Uint16Array(copy);
    case 'I8':
      return new Int8Array(copy);
    default:
      return new Uint8Array(copy);
  }
}

const ARRAY_TYPE: Record<string, unknown> = {
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  F8_E4M3: Uint8Array,
  U8: Uint8Array,
  I8: Int8Array,
};

function bytesOf(v: ArrayBufferView): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** A file built by hand: u64 header length, header text, data bytes. */
function rawFile(header: string | Uint8Array, data: Uint8Array | number = 0, length?: bigint): Uint8Array {
  const h = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  const d = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + h.length + d.length);
  new DataView(out.buffer).setBigUint64(0, length ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(d, 8 + h.length);
  return out;
}

async function writeRaw(bytes: Uint8Array): Promise<string> {
  const path = tmpPath('raw');
  await writeFile(path, bytes);
  return path;
}

async function expectFileError(bytes: Uint8Array, pattern: RegExp): Promise<void> {
  const path = await writeRaw(bytes);
  const err = await SafetensorsReader.open(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RazerError);
  expect((err as RazerError).code).toBe('ERR_FILE');
  expect((err as RazerError).message).toContain(path);
  expect((err as RazerError).message).toMatch(pattern);
}

const entry = (dtype: string, shape: unknown, offsets: unknown) => ({ dtype, shape, data_offsets: offsets });
const header = (obj: unknown) => JSON.stringify(obj);

describe('safetensors round trip', () => {
  const SHAPES: number[][] = [[], [0], [2, 0, 3], [7], [3, 5], [1, 1, 3], [2, 3, 1, 5]];

  it.each(FULL)('%s: every shape, including a 0-sized dim and a scalar', async (dtype) => {
    const tensors = SHAPES.map((shape, i) => {
      const n = shape.reduce((a, b) => a * b, 1);
      return { name: `t${i}`, dtype, shape, data: typedFromBytes(dtype, randomBytes(n * SIZE[dtype], i + 1)) };
    });
    const path = tmpPath();
    await writeSafetensors(path, tensors);
    const reader = await SafetensorsReader.open(path);
    try {
      expect(reader.tensors.map((t) => t.name)).toEqual(tensors.map((t) => t.name));
      for (const t of tensors) {
        const got = await reader.read(t.name);
        expect(got.dtype).toBe(dtype);
        expect(got.shape).toEqual(t.shape);
        expect(got.data).toBeInstanceOf(ARRAY_TYPE[dtype] as never);
        expect(got.data.length).toBe(t.data.length);
        expect(bytesOf(got.data)).toEqual(bytesOf(t.data));
      }
    } finally {
      await reader.close();
    }
  });

  it('random sets of tensors (property)', async () => {
    const tensorArb = fc.record({
      dtype: fc.constantFrom(...FULL),
      shape: fc.array(fc.nat({ max: 6 }), { maxLength: 4 }),
      seed: fc.integer(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(tensorArb, { maxLength: 6 }), fc.string(), async (specs, metaValue) => {
        const tensors = specs.map((s, i) => {
          const n = s.shape.reduce((a, b) => a * b, 1);
          return {
            name: `layer.${i}.w`,
            dtype: s.dtype,
            shape: s.shape,
            data: typedFromBytes(s.dtype, randomBytes(n * SIZE[s.dtype], s.seed)),
          };
        });
        const path = tmpPath('prop');
        await writeSafetensors(path, tensors, { note: metaValue });
        const reader = await SafetensorsReader.open(path);
        try {
          expect(reader.metadata).toEqual({ note: metaValue });
          expect(reader.tensors[0]?.byteOffset ?? 8).toSatisfy((o: number) => o % 8 === 0);
          for (const t of tensors) {
            const got = await reader.read(t.name);
            expect(got.shape).toEqual(t.shape);
            expect(bytesOf(got.data)).toEqual(bytesOf(t.data));
          }
        } finally {
          await reader.close();
          await rm(path);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('keeps metadata, including non-ASCII text and empty values', async () => {
    const metadata = { format: 'pt', 'quantization.format': 'nvfp4', unicode: 'é ✓ 量子化', empty: '' };
    const path = tmpPath();
    await writeSafetensors(path, [{ name: 'x', dtype: 'U8', shape: [3], data: Uint8Array.of(1, 2, 3) }], metadata);
    const reader = await SafetensorsReader.open(path);
    expect(reader.metadata).toEqual(metadata);
    await reader.close();
  });

  it('writes an empty file the official way and reads it', async () => {
    const path = tmpPath();
    await writeSafetensors(path, []);
    // {} padded with spaces to 8 bytes, as the Rust crate writes it.
    expect(new Uint8Array(await readFile(path))).toEqual(rawFile('{}      '));
    const reader = await SafetensorsReader.open(path);
    expect(reader.tensors).toEqual([]);
    expect(reader.metadata).toEqual({});
    await reader.close();
  });

  it('matches the byte layout of the official writer', async () => {
    const data = Float32Array.of(0, 1, 2, 3, 4, 5);
    // A 64-byte header needs no padding; a 57-byte one gets 7 spaces.
    for (const [name, shape, pad] of [
      ['attn.0', [1, 2, 3], ''],
      ['attn0', [1, 1, 2, 3], '       '],
    ] as const) {
      const path = tmpPath();
      await writeSafetensors(path, [{ name, dtype: 'F32', shape: [...shape], data }]);
      const json = `{"${name}":{"dtype":"F32","shape":${JSON.stringify(shape)},"data_offsets":[0,24]}}${pad}`;
      expect(new Uint8Array(await readFile(path))).toEqual(rawFile(json, bytesOf(data)));
    }
  });

  it('aligns the data section to 8 bytes for any name length, multi-byte names included', async () => {
    for (const name of ['a', 'ab', 'abc', 'é', 'éé', 'weight.量子', 'x'.repeat(13)]) {
      const path = tmpPath();
      await writeSafetensors(path, [{ name, dtype: 'F32', shape: [2], data: Float32Array.of(1.5, -2) }]);
      const reader = await SafetensorsReader.open(path);
      expect(reader.get(name)?.byteOffset ?? -1).toSatisfy((o: number) => o >= 8 && o % 8 === 0);
      expect(Array.from((await reader.read(name)).data)).toEqual([1.5, -2]);
      await reader.close();
    }
  });

  it('reads files whose header lists tensors in any order, and sorts them by offset', async () => {
    const json = header({
      c: entry('U8', [2], [6, 8]),
      __metadata__: { k: 'v' },
      a: entry('F16', [1], [0, 2]),
      empty: entry('F32', [0, 4], [2, 2]),
      b: entry('I8', [4], [2, 6]),
    });
    const path = await writeRaw(rawFile(json, Uint8Array.of(0x00, 0x3c, 1, 0xff, 3, 4, 9, 8)));
    const reader = await SafetensorsReader.open(path);
    expect(reader.tensors.map((t) => t.name)).toEqual(['a', 'empty', 'b', 'c']);
    expect(Array.from((await reader.read('b')).data)).toEqual([1, -1, 3, 4]);
    expect(tensorToFloat32(await reader.read('a'))).toEqual(Float32Array.of(1));
    expect((await reader.read('empty')).data).toEqual(new Float32Array(0));
    await reader.close();
  });
});

describe('SafetensorsReader', () => {
  it('reads tensors on demand, not at open', async () => {
    const path = tmpPath();
    const big = randomBytes(1 << 16, 7);
    await writeSafetensors(path, [
      { name: 'small', dtype: 'F32', shape: [2], data: Float32Array.of(3, 4) },
      { name: 'big', dtype: 'U8', shape: [big.length], data: big },
    ]);
    const reader = await SafetensorsReader.open(path);
    try {
      const info = reader.get('big');
      expect(info).toBeDefined();
      // Change the big tensor's bytes after open: read() sees the new bytes,
      // so nothing of it was read (or cached) by open().
      const patch = randomBytes(big.length, 8);
      const h = await open(path, 'r+');
      await h.write(patch, 0, patch.length, info?.byteOffset);
      await h.close();
      const bytes = await reader.readBytes('big');
      expect(Buffer.from(bytes).equals(Buffer.from(patch))).toBe(true);
      // A fresh buffer of exactly the tensor (aligned, not a view of the file).
      expect(bytes.byteOffset).toBe(0);
      expect(bytes.buffer.byteLength).toBe(big.length);
      const small = await reader.read('small');
      expect(small.data).toEqual(Float32Array.of(3, 4));
      expect(small.data.byteOffset).toBe(0);
    } finally {
      await reader.close();
    }
  });

  it('rejects unknown names and use after close', async () => {
    const path = tmpPath();
    await writeSafetensors(path, [{ name: 'x', dtype: 'U8', shape: [1], data: Uint8Array.of(1) }]);
    const reader = await SafetensorsReader.open(path);
    expect(reader.get('nope')).toBeUndefined();
    await expect(reader.read('nope')).rejects.toThrow(/no tensor named "nope"/);
    await reader[Symbol.asyncDispose]();
    await reader.close(); // idempotent
    await expect(reader.read('x')).rejects.toThrow(/closed/);
  });

  it('reports a missing file as ERR_FILE', async () => {
    const path = join(dir, 'does-not-exist.safetensors');
    await expect(SafetensorsReader.open(path)).rejects.toMatchObject({ code: 'ERR_FILE' });
  });
});

describe('tensorToFloat32', () => {
  it('widens F16, BF16 and F8_E4M3 exactly and passes F32 through', () => {
    const base = { name: 't', shape: [4] };
    expect(tensorToFloat32({ ...base, dtype: 'F16', data: Uint16Array.of(0x3c00, 0xc000, 0x0001, 0x7bff) })).toEqual(
      Float32Array.of(1, -2, 2 ** -24, 65504),
    );
    expect(tensorToFloat32({ ...base, dtype: 'BF16', data: Uint16Array.of(0x3f80, 0xbfc0, 0x0000, 0x4049) })).toEqual(
      Float32Array.of(1, -1.5, 0, 3.140625),
    );
    expect(tensorToFloat32({ ...base, dtype: 'F8_E4M3', data: Uint8Array.of(0x63, 0x7e, 0x01, 0xb8) })).toEqual(
      Float32Array.of(44, 448, 2 ** -9, -1),
    );
    const f = Float32Array.of(1, 2, 3, 4);
    expect(tensorToFloat32({ ...base, dtype: 'F32', data: f })).toBe(f);
    expect(() => tensorToFloat32({ ...base, dtype: 'U8', data: new Uint8Array(4) })).toThrow(
      expect.objectContaining({ code: 'ERR_DTYPE' }),
    );
  });
});

describe('SafetensorsWriter', () => {
  const specs = [
    { name: 'a', dtype: 'F32' as const, shape: [2] },
    { name: 'b', dtype: 'U8' as const, shape: [3] },
  ];
  const noTempFiles = async () => expect((await readdir(dir)).filter((f) => f.includes('.tmp-'))).toEqual([]);

  it('replaces an existing output only on commit', async () => {
    const path = tmpPath();
    await writeFile(path, 'old');
    const w = await SafetensorsWriter.create(path, specs, { m: '1' });
    expect(w.tempPath.startsWith(`${path}.tmp-${process.pid}-`)).toBe(true);
    await w.write('a', Float32Array.of(1, 2));
    await w.write('b', Uint8Array.of(7, 8, 9));
    expect(await readFile(path, 'utf8')).toBe('old');
    await w.commit();
    await noTempFiles();
    const r = await SafetensorsReader.open(path);
    expect(r.metadata).toEqual({ m: '1' });
    expect(Array.from((await r.read('b')).data)).toEqual([7, 8, 9]);
    await r.close();
    await expect(w.write('a', Float32Array.of(1, 2))).rejects.toThrow(/committed/);
  });

  it('leaves an existing output untouched on abort()', async () => {
    const path = tmpPath();
    await writeFile(path, 'old');
    const w = await SafetensorsWriter.create(path, specs);
    await w.write('a', Float32Array.of(1, 2));
    await w.abort();
    await w.abort(); // idempotent
    expect(await readFile(path, 'utf8')).toBe('old');
    await noTempFiles();
    await expect(w.commit()).rejects.toThrow(/aborted/);
  });

  it('refuses to commit with a tensor missing, and leaves the output untouched', async () => {
    const path = tmpPath();
    await writeFile(path, 'old');
    const w = await SafetensorsWriter.create(path, specs);
    await w.write('a', Float32Array.of(1, 2));
    const err = await w.commit().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'ERR_ARGUMENT' });
    expect((err as Error).message).toMatch(/1 of 2 declared tensors not written \(next: "b"\)/);
    expect(await readFile(path, 'utf8')).toBe('old');
    await noTempFiles();
  });

  it('checks the order, byte length and element width of each write', async () => {
    const w = await SafetensorsWriter.create(tmpPath(), specs);
    await expect(w.write('b', Uint8Array.of(1, 2, 3))).rejects.toThrow(/expected tensor "a" next/);
    await expect(w.write('a', Float32Array.of(1))).rejects.toMatchObject({ code: 'ERR_SHAPE' });
    await expect(w.write('a', Uint16Array.of(1, 2, 3, 4))).rejects.toMatchObject({ code: 'ERR_DTYPE' });
    // Raw bytes of the right length are fine for any dtype.
    await w.write('a', new Uint8Array(8));
    await w.write('b', Uint8Array.of(1, 2, 3));
    await expect(w.write('c', Uint8Array.of(1))).rejects.toThrow(/all 2 declared tensors/);
    await w.abort();
    await noTempFiles();
  });

  it('writes in call order even without awaiting each write', async () => {
    const path = tmpPath();
    const w = await SafetensorsWriter.create(path, specs);
    const p1 = w.write('a', Float32Array.of(5, 6));
    const p2 = w.write('b', Uint8Array.of(1, 2, 3));
    await w.commit();
    await Promise.all([p1, p2]);
    const r = await SafetensorsReader.open(path);
    expect(Array.from((await r.read('a')).data)).toEqual([5, 6]);
    await r.close();
  });

  it('validates names, dtypes, shapes and metadata before creating anything', async () => {
    const path = tmpPath();
    const bad: [unknown, unknown, RegExp][] = [
      [[{ name: '', dtype: 'U8', shape: [1] }], undefined, /non-empty string/],
      [[{ name: '__metadata__', dtype: 'U8', shape: [1] }], undefined, /__metadata__/],
      [[specs[0], { ...specs[1], name: 'a' }], undefined, /duplicate tensor name "a"/],
      [[{ name: 'x', dtype: 'F4', shape: [1] }], undefined, /dtype/],
      [[{ name: 'x', dtype: 'U8', shape: [-1] }], undefined, /shape/],
      [[{ name: 'x', dtype: 'U8', shape: [1] }], { k: 1 }, /metadata/],
    ];
    for (const [entries, meta, re] of bad) {
      await expect(
        SafetensorsWriter.create(path, entries as never, meta as never),
      ).rejects.toSatisfy((e: unknown) => e instanceof RazerError && re.test(e.message));
    }
    await noTempFiles();
  });

  it('writeSafetensors leaves no file behind when a tensor is wrong', async () => {
    const path = tmpPath();
    await writeFile(path, 'old');
    await expect(
      writeSafetensors(path, [{ name: 'a', dtype: 'F32', shape: [3], data: Float32Array.of(1, 2) }]),
    ).rejects.toMatchObject({ code: 'ERR_SHAPE' });
    expect(await readFile(path, 'utf8')).toBe('old');
    await noTempFiles();
  });
});

describe('corrupted files are rejected with ERR_FILE', () => {
  const u8 = (offsets: [number, number], shape = [offsets[1] - offsets[0]]) => entry('U8', shape, offsets);

  it('a file shorter than 8 bytes', async () => {
    await expectFileError(new Uint8Array(0), /0 bytes, shorter than the 8-byte/);
    await expectFileError(Uint8Array.of(2, 0, 0, 0, 0), /5 bytes, shorter than the 8-byte/);
  });

  it('a header length over the limit', async () => {
    await expectFileError(rawFile('{}', 0, BigInt(MAX_HEADER_LENGTH + 1)), /exceeds the limit of 100000000 bytes/);
    await expectFileError(rawFile('{}', 0, 2n ** 63n), /exceeds the limit/);
  });

  it('a header running past the end of the file', async () => {
    await expectFileError(rawFile('{}', 0, 1000n), /header length 1000 bytes runs past the end of the file \(10 bytes\)/);
  });

  it('a header that is not UTF-8', async () => {
    await expectFileError(rawFile(Uint8Array.of(0x7b, 0xff, 0xfe, 0x7d)), /not valid UTF-8/);
  });

  it('a header that is not JSON', async () => {
    await expectFileError(rawFile('{"a": '), /not valid JSON/);
    await expectFileError(rawFile('{"a":{}} trailing'), /not valid JSON/);
  });

  it('a header that is not a JSON object', async () => {
    await expectFileError(rawFile('[1, 2]'), /must be a JSON object, got \[1, 2\]/);
    await expectFileError(rawFile('"text"'), /must be a JSON object/);
    await expectFileError(rawFile('null'), /must be a JSON object, got null/);
  });

  it('__metadata__ that is not a string-to-string map', async () => {
    await expectFileError(rawFile(header({ __metadata__: { a: 1 } })), /__metadata__ must map strings to strings, but "a" maps to 1/);
    await expectFileError(rawFile(header({ __metadata__: ['a'] })), /__metadata__ must be an object/);
    await expectFileError(rawFile(header({ __metadata__: 'a' })), /__metadata__ must be an object/);
  });

  it('a tensor entry that is not an object', async () => {
    await expectFileError(rawFile(header({ t: 5 })), /tensor "t": expected an object/);
    await expectFileError(rawFile(header({ t: [1] })), /tensor "t": expected an object/);
  });

  it('a tensor entry with a missing field', async () => {
    await expectFileError(rawFile(header({ t: { dtype: 'U8', shape: [1] } }), 1), /tensor "t": missing field "data_offsets"/);
    await expectFileError(rawFile(header({ t: { shape: [1], data_offsets: [0, 1] } }), 1), /missing field "dtype"/);
  });

  it('a tensor entry with an extra field', async () => {
    await expectFileError(
      rawFile(header({ t: { ...u8([0, 1]), offsets: [0, 1] } }), 1),
      /tensor "t": unexpected field "offsets"/,
    );
  });

  it('an unknown dtype', async () => {
    await expectFileError(rawFile(header({ t: entry('F4', [2], [0, 1]) }), 1), /tensor "t": unknown dtype "F4"/);
    await expectFileError(rawFile(header({ t: entry('float32', [1], [0, 4]) }), 4), /unknown dtype "float32"/);
  });

  it('a shape that is not an array of non-negative integers', async () => {
    for (const shape of [[-1], [1.5], '3', [null], { 0: 1 }]) {
      await expectFileError(rawFile(header({ t: entry('U8', shape, [0, 1]) }), 1), /tensor "t": shape must be an array of non-negative integers/);
    }
  });

  it('data_offsets that are not two non-negative integers with begin <= end', async () => {
    for (const offsets of [[0], [0, 1, 2], [2, 1], [-1, 0], [0, 1.5], 'x', [0, 2 ** 60]]) {
      await expectFileError(
        rawFile(header({ t: entry('U8', [1], offsets) }), 1),
        /tensor "t": data_offsets must be \[begin, end\]/,
      );
    }
  });

  it('a byte length that does not match the shape and dtype', async () => {
    await expectFileError(
      rawFile(header({ t: entry('F32', [2], [0, 4]) }), 4),
      /tensor "t": byte length mismatch: shape \[2\] of F32 needs 8 bytes, data_offsets \[0, 4\] hold 4/,
    );
    await expectFileError(
      rawFile(header({ t: entry('U8', [2 ** 30, 2 ** 30, 2 ** 30], [0, 1]) }), 1),
      /too large/,
    );
  });

  it('offsets beyond the data section (a truncated file)', async () => {
    await expectFileError(
      rawFile(header({ a: u8([0, 4]), t: u8([4, 16]) }), 10),
      /tensor "t": data_offsets \[4, 16\] run past the end of the data section \(10 bytes\): truncated/,
    );
  });

  it('tensors that overlap', async () => {
    await expectFileError(
      rawFile(header({ a: u8([0, 8]), b: u8([4, 12]) }), 12),
      /tensors "a" \[0, 8\] and "b" \[4, 12\] overlap/,
    );
    // Two names for the same bytes.
    await expectFileError(rawFile(header({ a: u8([0, 4]), b: u8([0, 4]) }), 4), /overlap/);
  });

  it('a hole in the data section', async () => {
    await expectFileError(
      rawFile(header({ a: u8([0, 4]), b: u8([8, 12]) }), 12),
      /hole in the data section: bytes \[4, 8\) before tensor "b"/,
    );
    await expectFileError(rawFile(header({ a: u8([4, 8]) }), 8), /hole in the data section: bytes \[0, 4\)/);
  });

  it('trailing bytes after the last tensor', async () => {
    await expectFileError(rawFile(header({ a: u8([0, 4]) }), 8), /4 trailing bytes after the last tensor/);
    await expectFileError(rawFile(header({}), 3), /3 trailing bytes/);
  });
});
