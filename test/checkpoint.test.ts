import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkpointEntries,
  checkpointEntrySpecs,
  findQuantizedWeights,
  quantizationMetadata,
  readQuantized,
} from '../lib/checkpoint.js';
import { E2M1_VALUES, e4m3Decode, f32ToBf16 } from '../lib/codecs.js';
import { RazerError } from '../lib/errors.js';
import { FORMATS, type Format, type QuantizeOptions, type QuantizedTensor } from '../lib/formats.js';
import { dequantize } from '../lib/quantize.js';
import { referenceQuantize as quantize } from '../lib/reference/quantize.js';
import { SafetensorsReader, type TensorToWrite, writeSafetensors } from '../lib/safetensors/index.js';

let dir: string;
let counter = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'razer-checkpoint-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
const tmpPath = () => join(dir, `ckpt-${counter++}.safetensors`);

/** Deterministic 32-bit integers (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Uniform values in [-1, 1), with a few outliers up to 8x. */
function randomWeights(n: number, seed: number): Float32Array {
  const next = rng(seed);
  return Float32Array.from({ length: n }, () => {
    const v = (next() / 2 ** 32) * 2 - 1;
    return next() % 50 === 0 ? v * 8 : v;
  });
}

/** Uniform bytes in [lo, hi]. */
function randomBytes(n: number, seed: number, lo = 0, hi = 255): Uint8Array {
  const next = rng(seed);
  return Uint8Array.from({ length: n }, () => lo + (next() % (hi - lo + 1)));
}

async function withReader<T>(path: string, fn: (r: SafetensorsReader) => Promise<T>): Promise<T> {
  const reader = await SafetensorsReader.open(path);
  try {
    return await fn(reader);
  } finally {
    await reader.close();
  }
}

async function expectFileError(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RazerError);
  expect((err as RazerError).code).toBe('ERR_FILE');
  expect((err as RazerError).message).toMatch(pattern);
}

const CASES: [Format, QuantizeOptions][] = [
  ['nvfp4', {}],
  ['nvfp4_4over6', {}],
  ['nvfp4_razer', {}],
  ['nvfp4_razer', { svSmall: 7, svBig: 12 }],
  ['nvfp4_razer_a', {}],
  ['nvfp4_razer_a', { svAct: 10 }],
  ['mxfp4', {}],
  ['nf4', {}],
  ['nf4', { blockSize: 32 }],
];

describe('checkpoint layout', () => {
  it('covers every format', () => {
    expect(new Set(CASES.map(([f]) => f))).toEqual(new Set(FORMATS));
  });

  it('names, dtypes and shapes of the entries', () => {
    const name = 'model.layers.0.mlp.up_proj.weight';
    expect(checkpointEntrySpecs(name, 'nvfp4', [4, 64])).toEqual([
      { name, dtype: 'U8', shape: [4, 32] },
      { name: `${name}_scale`, dtype: 'F8_E4M3', shape: [4, 4] },
      { name: `${name}_scale_2`, dtype: 'F32', shape: [] },
    ]);
    expect(checkpointEntrySpecs(name, 'nvfp4_razer', [4, 64]).map((e) => e.dtype)).toEqual(['U8', 'U8', 'F32']);
    expect(checkpointEntrySpecs(name, 'nvfp4_razer_a', [4, 64]).map((e) => e.dtype)).toEqual(['U8', 'U8', 'F32']);
    expect(checkpointEntrySpecs(name, 'mxfp4', [4, 64])).toEqual([
      { name, dtype: 'U8', shape: [4, 32] },
      { name: `${name}_scale`, dtype: 'U8', shape: [4, 2] },
    ]);
    expect(checkpointEntrySpecs(name, 'nf4', [4, 64], { blockSize: 16 })).toEqual([
      { name, dtype: 'U8', shape: [4, 32] },
      { name: `${name}_scale`, dtype: 'F32', shape: [4, 4] },
    ]);
    expect(checkpointEntrySpecs(name, 'nf4', [4, 128])[1].shape).toEqual([4, 2]); // default block 64
  });

  it('rejects shapes and parameters that do not fit the format', () => {
    expect(() => checkpointEntrySpecs('w', 'nvfp4', [4, 24])).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    expect(() => checkpointEntrySpecs('w', 'mxfp4', [4, 48])).toThrow(/multiple of 32/);
    expect(() => checkpointEntrySpecs('w', 'nvfp4', [0, 16])).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    expect(() => checkpointEntrySpecs('w', 'nvfp4', [4, 64], { blockSize: 32 })).toThrow(/fixed block of 16/);
    expect(() => checkpointEntrySpecs('w', 'nope' as Format, [4, 64])).toThrow(expect.objectContaining({ code: 'ERR_FORMAT' }));
    expect(() => checkpointEntrySpecs('', 'nvfp4', [4, 64])).toThrow(expect.objectContaining({ code: 'ERR_ARGUMENT' }));
  });

  it('metadata records the format and its parameters as decimal strings', () => {
    expect(quantizationMetadata('nvfp4')).toEqual({ 'quantization.format': 'nvfp4' });
    expect(quantizationMetadata('nvfp4_4over6')).toEqual({ 'quantization.format': 'nvfp4_4over6' });
    expect(quantizationMetadata('nvfp4_razer')).toEqual({
      'quantization.format': 'nvfp4_razer',
      'quantization.sv_small': '5',
      'quantization.sv_big': '8',
    });
    expect(quantizationMetadata('nvfp4_razer', { svSmall: 2.5, svBig: 12 })).toMatchObject({
      'quantization.sv_small': '2.5',
      'quantization.sv_big': '12',
    });
    expect(quantizationMetadata('nvfp4_razer_a', { svAct: 10 })).toEqual({
      'quantization.format': 'nvfp4_razer_a',
      'quantization.sv_act': '10',
    });
    expect(quantizationMetadata('mxfp4')).toEqual({ 'quantization.format': 'mxfp4' });
    expect(quantizationMetadata('nf4', { blockSize: 128 })).toEqual({
      'quantization.format': 'nf4',
      'quantization.block_size': '128',
    });
    expect(() => quantizationMetadata('nvfp4_razer', { svSmall: 6 })).toThrow(expect.objectContaining({ code: 'ERR_ARGUMENT' }));
  });

  it('checkpointEntries are the specs plus q’s arrays', () => {
    const q = quantize(randomWeights(3 * 64, 1), [3, 64], 'nvfp4');
    const entries = checkpointEntries('w', q);
    expect(entries.map(({ name, dtype, shape }) => ({ name, dtype, shape }))).toEqual(
      checkpointEntrySpecs('w', 'nvfp4', [3, 64]),
    );
    expect(entries[0].data).toBe(q.codes);
    expect(entries[1].data).toBe(q.scales);
    expect(entries[2].data).toEqual(Float32Array.of(q.globalScale));
    const broken: QuantizedTensor = { ...q, scales: q.scales.subarray(1) };
    expect(() => checkpointEntries('w', broken)).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    const wrongType: QuantizedTensor = { ...q, scales: new Float32Array(q.scales.length) };
    expect(() => checkpointEntries('w', wrongType)).toThrow(/Uint8Array/);
  });
});

describe('checkpoint round trip', () => {
  it.each(CASES)('%s %j: write, find, read back', async (format, options) => {
    const shape: [number, number] = [5, 128];
    const names = ['model.layers.0.self_attn.q_proj.weight', 'model.layers.0.mlp.up_proj.weight'];
    const qs = names.map((_, i) => quantize(randomWeights(shape[0] * shape[1], 10 + i), shape, format, options));
    const params = { ...options, blockSize: qs[0].blockSize };
    const tensors: TensorToWrite[] = [
      // Unquantized neighbours, as in a real checkpoint.
      { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [4, 8], data: new Uint16Array(32).fill(f32ToBf16(0.5)) },
      ...names.flatMap((n, i) => checkpointEntries(n, qs[i])),
      { name: 'model.norm.weight', dtype: 'F32', shape: [8], data: new Float32Array(8).fill(1) },
    ];
    const path = tmpPath();
    await writeSafetensors(path, tensors, { format: 'pt', ...quantizationMetadata(format, params) });

    await withReader(path, async (reader) => {
      const found = findQuantizedWeights(reader);
      expect(found.map((f) => f.name)).toEqual(names);
      for (const f of found) {
        expect(f.format).toBe(format);
        expect(f.shape).toEqual(shape);
        expect(f.params.blockSize).toBe(qs[0].blockSize);
      }
      for (const [i, name] of names.entries()) {
        const q = await readQuantized(reader, name);
        expect(q).toEqual(qs[i]);
        expect(q.codes).toEqual(qs[i].codes);
        expect(q.scales).toEqual(qs[i].scales);
        expect(q.scales.constructor).toBe(qs[i].scales.constructor);
        expect(Object.is(q.globalScale, qs[i].globalScale)).toBe(true);
        expect(dequantize(q)).toEqual(dequantize(qs[i]));
      }
    });
  });

  it('an all-zero weight (global scale 0) round trips', async () => {
    const q = quantize(new Float32Array(2 * 32), [2, 32], 'nvfp4_razer');
    expect(q.globalScale).toBe(0);
    const path = tmpPath();
    await writeSafetensors(path, checkpointEntries('w', q), quantizationMetadata('nvfp4_razer'));
    await withReader(path, async (r) => expect(await readQuantized(r, 'w')).toEqual(q));
  });
});

describe('formats inferred without __metadata__', () => {
  async function writeWithout(format: Format, options: QuantizeOptions = {}): Promise<[string, QuantizedTensor]> {
    const q = quantize(randomWeights(4 * 64, 3), [4, 64], format, options);
    const path = tmpPath();
    await writeSafetensors(path, checkpointEntries('w', q));
    return [path, q];
  }

  it.each([
    ['nvfp4', {}],
    ['mxfp4', {}],
    ['nf4', { blockSize: 16 }],
  ] as [Format, QuantizeOptions][])('%s', async (format, options) => {
    const [path, q] = await writeWithout(format, options);
    await withReader(path, async (r) => {
      expect(findQuantizedWeights(r)).toEqual([
        { name: 'w', format, shape: [4, 64], params: { blockSize: q.blockSize } },
      ]);
      expect(await readQuantized(r, 'w')).toEqual(q);
    });
  });

  it('RaZeR data without its metadata is an error, not a guess', async () => {
    for (const format of ['nvfp4_razer', 'nvfp4_razer_a'] as const) {
      const [path] = await writeWithout(format);
      await withReader(path, async (r) => {
        const re = /format and special values are missing from __metadata__/;
        expect(() => findQuantizedWeights(r)).toThrow(re);
        await expectFileError(readQuantized(r, 'w'), re);
      });
    }
  });
});

describe('inconsistent checkpoints are rejected with ERR_FILE', () => {
  const q = quantize(randomWeights(4 * 64, 4), [4, 64], 'nvfp4');
  const base = () => checkpointEntries('w', q) as TensorToWrite[];

  async function check(
    tensors: TensorToWrite[],
    metadata: Record<string, string> | undefined,
    pattern: RegExp,
  ): Promise<void> {
    const path = tmpPath();
    await writeSafetensors(path, tensors, metadata);
    await withReader(path, async (r) => {
      await expectFileError(readQuantized(r, 'w'), pattern);
    });
  }

  it('a scale tensor of the wrong shape', async () => {
    const t = base();
    t[1] = { ...t[1], shape: [4, 2, 2] };
    await check(t, undefined, /w_scale: a \[4, 64\] nvfp4 weight needs F8_E4M3 \[4, 4\], got F8_E4M3 \[4, 2, 2\]/);
  });

  it('a scale tensor of the wrong dtype for the recorded format', async () => {
    await check(base(), quantizationMetadata('nvfp4_razer'), /w_scale: .* needs U8 \[4, 4\], got F8_E4M3 \[4, 4\]/);
  });

  it('a missing global scale', async () => {
    await check(base().slice(0, 2), undefined, /w_scale_2, the fp32 global scale, is missing/);
    await check(base().slice(0, 2), quantizationMetadata('nvfp4'), /w_scale_2: missing/);
  });

  it('a global scale of the wrong shape, or not finite', async () => {
    const t = base();
    t[2] = { ...t[2], shape: [2], data: Float32Array.of(1, 2) };
    await check(t, undefined, /w_scale_2: .* needs F32 \[\], got F32 \[2\]/);
    const u = base();
    u[2] = { ...u[2], data: Float32Array.of(NaN) };
    await check(u, undefined, /w_scale_2: expected a finite non-negative global scale, got NaN/);
  });

  it('codes that are not a U8 matrix', async () => {
    const t = base();
    t[0] = { ...t[0], shape: [4 * 32] };
    await check(t, undefined, /w: packed codes must be a non-empty U8 \[N, K\/2\] tensor, got U8 \[128\]/);
  });

  it('an unknown format or bad parameters in __metadata__', async () => {
    await check(base(), { 'quantization.format': 'int4' }, /quantization.format: expected one of .*got "int4"/);
    const rz = quantize(randomWeights(4 * 64, 5), [4, 64], 'nvfp4_razer');
    const entries = checkpointEntries('w', rz) as TensorToWrite[];
    await check(entries, { 'quantization.format': 'nvfp4_razer', 'quantization.sv_small': '5' }, /needs quantization.sv_big/);
    await check(
      entries,
      { 'quantization.format': 'nvfp4_razer', 'quantization.sv_small': 'five', 'quantization.sv_big': '8' },
      /quantization.sv_small: expected a decimal number, got "five"/,
    );
    await check(
      entries,
      { 'quantization.format': 'nvfp4_razer', 'quantization.sv_small': '6', 'quantization.sv_big': '8' },
      /__metadata__ for w: options.svSmall/,
    );
  });

  it('nf4 with a block size that does not match the scales', async () => {
    const n = quantize(randomWeights(4 * 64, 6), [4, 64], 'nf4', { blockSize: 32 });
    await check(
      checkpointEntries('w', n) as TensorToWrite[],
      quantizationMetadata('nf4', { blockSize: 16 }),
      /w_scale: a \[4, 64\] nf4 weight needs F32 \[4, 4\], got F32 \[4, 2\]/,
    );
  });

  it('a name that is not in the file', async () => {
    const path = tmpPath();
    await writeSafetensors(path, base());
    await withReader(path, async (r) => {
      await expect(readQuantized(r, 'other')).rejects.toThrow(/no tensor named "other"/);
    });
  });
});

describe('a ModelOpt-style NVFP4 file built byte by byte', () => {
  const N = 3;
  const K = 48;
  const prefix = 'model.layers.0.mlp.down_proj';
  const codes = randomBytes((N * K) / 2, 21);
  // Valid positive UE4M3 scale bytes (0x7F would be NaN).
  const scales = randomBytes((N * K) / 16, 22, 0x20, 0x7e);
  const G = Math.fround(0.0123);
  const inputScale = Math.fround(0.5);
  const norm = Uint16Array.from({ length: K }, (_, i) => f32ToBf16(1 + i / 64));

  /** The file, with its header keys and its data in two different orders. */
  function modelOptFile(withFrameworkMetadata: boolean): Uint8Array {
    const parts: { name: string; dtype: string; shape: number[]; bytes: Uint8Array }[] = [
      { name: `${prefix}.weight`, dtype: 'U8', shape: [N, K / 2], bytes: codes },
      { name: 'model.norm.weight', dtype: 'BF16', shape: [K], bytes: new Uint8Array(norm.buffer) },
      { name: `${prefix}.weight_scale`, dtype: 'F8_E4M3', shape: [N, K / 16], bytes: scales },
      { name: `${prefix}.weight_scale_2`, dtype: 'F32', shape: [1], bytes: new Uint8Array(Float32Array.of(G).buffer) },
      { name: `${prefix}.input_scale`, dtype: 'F32', shape: [], bytes: new Uint8Array(Float32Array.of(inputScale).buffer) },
    ];
    const offsets = new Map<string, [number, number]>();
    let at = 0;
    for (const p of parts) {
      offsets.set(p.name, [at, at + p.bytes.length]);
      at += p.bytes.length;
    }
    // Header keys in yet another order, no quantization.* metadata.
    const header: Record<string, unknown> = {};
    if (withFrameworkMetadata) header.__metadata__ = { format: 'pt' };
    for (const i of [4, 3, 1, 2, 0]) {
      const p = parts[i];
      header[p.name] = { dtype: p.dtype, shape: p.shape, data_offsets: offsets.get(p.name) };
    }
    const json = new TextEncoder().encode(JSON.stringify(header));
    const out = new Uint8Array(8 + json.length + at);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    let pos = 8 + json.length;
    for (const p of parts) {
      out.set(p.bytes, pos);
      pos += p.bytes.length;
    }
    return out;
  }

  it.each([false, true])('reads as nvfp4 and dequantizes correctly (framework metadata: %s)', async (meta) => {
    const path = tmpPath();
    await writeFile(path, modelOptFile(meta));
    const byHand: QuantizedTensor = {
      format: 'nvfp4',
      shape: [N, K],
      codes,
      scales,
      globalScale: G,
      blockSize: 16,
    };
    await withReader(path, async (reader) => {
      expect(findQuantizedWeights(reader)).toEqual([
        { name: `${prefix}.weight`, format: 'nvfp4', shape: [N, K], params: { blockSize: 16 } },
      ]);
      const q = await readQuantized(reader, `${prefix}.weight`);
      expect(q).toEqual(byHand);
      const got = dequantize(q);
      expect(got).toEqual(dequantize(byHand));
      // Independently of dequantize: element 2j is the low nibble of byte j,
      // x = (E2M1 value * E4M3 block scale) * G.
      const f32 = Math.fround;
      for (let i = 0; i < N * K; i++) {
        const byte = codes[i >> 1];
        const nibble = i & 1 ? byte >> 4 : byte & 0xf;
        const expected = f32(f32(E2M1_VALUES[nibble] * e4m3Decode(scales[Math.floor(i / 16)])) * G);
        expect(Object.is(got[i], expected) || got[i] === expected).toBe(true);
      }
    });
  });
});
