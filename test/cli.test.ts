// The `razer` CLI, run as users run it: the built dist/lib/cli.js in a child
// process, against small checkpoints written here.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readQuantized } from '../lib/checkpoint.js';
import { f32ToBf16, f32ToF16 } from '../lib/codecs.js';
import type { Format } from '../lib/formats.js';
import { dequantize, quantize, quantizeBackendChoice } from '../lib/quantize.js';
import { Random } from '../lib/random.js';
import { SafetensorsReader, type TensorToWrite, writeSafetensors } from '../lib/safetensors/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'lib', 'cli.js');

let dir: string;

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

function razer(...args: string[]): Result {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A failure: exit code 1 and exactly one line on stderr, 'razer: …', no stack trace. */
function expectOneLineError(r: Result, pattern: RegExp): void {
  expect(r.status).toBe(1);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^razer: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

const rng = new Random(2024);
const gaussian = (n: number, std = 0.02) => rng.fill(n, (r) => r.gaussian(0, std));

/** Weights of a tiny model, as F32 values (BF16/F16 ones are stored rounded). */
const F32_VALUES = {
  q: gaussian(32 * 64),
  up: gaussian(64 * 64),
  down: gaussian(64 * 64),
};
const UP_BF16 = Uint16Array.from(F32_VALUES.up, f32ToBf16);
const DOWN_F16 = Uint16Array.from(F32_VALUES.down, f32ToF16);

const TENSORS: TensorToWrite[] = [
  { name: 'model.embed_tokens.weight', dtype: 'F32', shape: [50, 64], data: gaussian(50 * 64) },
  { name: 'model.layers.0.self_attn.q_proj.weight', dtype: 'F32', shape: [32, 64], data: F32_VALUES.q },
  { name: 'model.layers.0.self_attn.q_proj.bias', dtype: 'F32', shape: [32], data: gaussian(32) },
  { name: 'model.layers.0.mlp.up_proj.weight', dtype: 'BF16', shape: [64, 64], data: UP_BF16 },
  { name: 'model.layers.0.mlp.down_proj.weight', dtype: 'F16', shape: [64, 64], data: DOWN_F16 },
  { name: 'model.layers.0.mlp.odd_proj.weight', dtype: 'F32', shape: [8, 24], data: gaussian(8 * 24) },
  { name: 'model.layers.0.input_layernorm.weight', dtype: 'F32', shape: [64], data: gaussian(64) },
  { name: 'model.norm.weight', dtype: 'F32', shape: [64], data: gaussian(64) },
  { name: 'lm_head.weight', dtype: 'F32', shape: [50, 64], data: gaussian(50 * 64) },
];
const INPUT_METADATA = { format: 'pt', source: 'cli.test' };

const DEFAULT_QUANTIZED = [
  'model.layers.0.self_attn.q_proj.weight',
  'model.layers.0.mlp.up_proj.weight',
  'model.layers.0.mlp.down_proj.weight',
];

beforeAll(async () => {
  // The CLI under test is the compiled one, so build it from the current sources.
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], {
    cwd: ROOT,
    stdio: 'pipe',
  });
  dir = mkdtempSync(join(tmpdir(), 'razer-cli-'));
  await writeSafetensors(join(dir, 'model.safetensors'), TENSORS, INPUT_METADATA);
}, 120_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface InspectJson {
  metadata: Record<string, string>;
  tensors: { name: string; dtype: string; shape: number[]; bytes: number; format?: string }[];
}

function inspect(file: string): InspectJson {
  const r = razer('inspect', file, '--json');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as InspectJson;
}

function quantizedNames(file: string): string[] {
  return inspect(file)
    .tensors.filter((t) => t.format !== undefined)
    .map((t) => t.name);
}

describe('razer --help', () => {
  it('lists the commands', () => {
    const r = razer('--help');
    expect(r.status).toBe(0);
    for (const cmd of ['quantize', 'inspect', 'error', 'demo']) expect(r.stdout).toContain(cmd);
  });

  it.each([
    ['quantize', ['--format', '--include', '--exclude', '--sv-small', '--sv-big', '--sv-act', '--block-size', '--backend']],
    ['inspect', ['--json']],
    ['error', ['--formats', '--include', '--exclude', '--json']],
    ['demo', ['--seed', '--quick']],
  ])('%s --help shows its options', (cmd, options) => {
    const r = razer(cmd, '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`Usage: razer ${cmd}`);
    for (const o of options) expect(r.stdout).toContain(o);
  });

  it('--version prints the package version', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = razer('--version');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });
});

describe('razer quantize', () => {
  it('quantizes the default selection and copies the rest', async () => {
    const r = razer('quantize', 'model.safetensors', 'razer.safetensors', '--format', 'nvfp4_razer');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // One summary line, saying which backend quantized and why.
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stdout).toMatch(/3 tensors quantized to nvfp4_razer, 6 copied/);
    expect(r.stdout).toContain(` on the ${quantizeBackendChoice('nvfp4_razer').backend} backend (${quantizeBackendChoice('nvfp4_razer').reason})`);

    const info = inspect('razer.safetensors');
    expect(quantizedNames('razer.safetensors')).toEqual(DEFAULT_QUANTIZED);
    for (const t of info.tensors.filter((row) => row.format !== undefined)) {
      expect(t.format).toBe('nvfp4_razer');
    }
    // Grouped rows: the logical [N, K] shape, no separate _scale rows.
    expect(info.tensors.find((t) => t.name === 'model.layers.0.self_attn.q_proj.weight')?.shape).toEqual([32, 64]);
    expect(info.tensors.some((t) => t.name.endsWith('_scale'))).toBe(false);
    expect(info.tensors).toHaveLength(TENSORS.length);
    expect(info.metadata).toMatchObject({ ...INPUT_METADATA, 'quantization.format': 'nvfp4_razer' });

    const input = await SafetensorsReader.open(join(dir, 'model.safetensors'));
    const output = await SafetensorsReader.open(join(dir, 'razer.safetensors'));
    try {
      for (const t of TENSORS) {
        if (DEFAULT_QUANTIZED.includes(t.name)) continue;
        expect(output.get(t.name)?.dtype).toBe(t.dtype);
        expect(await output.readBytes(t.name)).toEqual(await input.readBytes(t.name));
      }
      const sources: [string, Float32Array | Uint16Array, 'f32' | 'bf16' | 'f16', [number, number]][] = [
        ['model.layers.0.self_attn.q_proj.weight', F32_VALUES.q, 'f32', [32, 64]],
        ['model.layers.0.mlp.up_proj.weight', UP_BF16, 'bf16', [64, 64]],
        ['model.layers.0.mlp.down_proj.weight', DOWN_F16, 'f16', [64, 64]],
      ];
      for (const [name, data, dtype, shape] of sources) {
        const expected = quantize(data, shape, 'nvfp4_razer', { dtype });
        const stored = await readQuantized(output, name);
        expect(stored.codes).toEqual(expected.codes);
        expect(stored.scales).toEqual(expected.scales);
        expect(stored.globalScale).toBe(expected.globalScale);
        expect(dequantize(stored)).toEqual(dequantize(expected));
      }
    } finally {
      await input.close();
      await output.close();
    }
  });

  it.each(['nvfp4', 'nvfp4_4over6', 'mxfp4', 'nf4'] as Format[])('round-trips %s', async (format) => {
    const out = `${format}.safetensors`;
    const r = razer('quantize', 'model.safetensors', out, '-f', format);
    expect(r.status).toBe(0);
    expect(quantizedNames(out)).toEqual(DEFAULT_QUANTIZED);
    const reader = await SafetensorsReader.open(join(dir, out));
    try {
      const stored = await readQuantized(reader, 'model.layers.0.self_attn.q_proj.weight');
      expect(stored.format).toBe(format);
      expect(dequantize(stored)).toEqual(dequantize(quantize(F32_VALUES.q, [32, 64], format)));
    } finally {
      await reader.close();
    }
  });

  it('--backend: the one asked for, the same bits; one that lacks the format is a one-line error', async () => {
    const r = razer('quantize', 'model.safetensors', 'ref.safetensors', '-f', 'nvfp4_razer', '--backend', 'reference');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/ on the reference backend \(asked for by --backend; /);
    expect(readFileSync(join(dir, 'ref.safetensors'))).toEqual(readFileSync(join(dir, 'razer.safetensors')));
    expect(razer('quantize', 'model.safetensors', 'nf4.safetensors', '-f', 'nf4').stdout).toMatch(/ on the reference backend \(.*not cpu: it quantizes nvfp4, /);
    expectOneLineError(razer('quantize', 'model.safetensors', 'o.safetensors', '-f', 'nf4', '--backend', 'cpu'), /^razer: --backend: the cpu backend /);
    expectOneLineError(razer('quantize', 'model.safetensors', 'o.safetensors', '-f', 'nvfp4', '--backend', 'gpu'), /'gpu' is invalid. Allowed choices are cuda, cpu, reference/);
    expect(existsSync(join(dir, 'o.safetensors'))).toBe(false);
  });

  it('passes the special values and the nf4 block size on', async () => {
    expect(razer('quantize', 'model.safetensors', 'sv.safetensors', '-f', 'nvfp4_razer', '--sv-small', '7', '--sv-big', '12').status).toBe(0);
    expect(inspect('sv.safetensors').metadata).toMatchObject({ 'quantization.sv_small': '7', 'quantization.sv_big': '12' });
    expect(razer('quantize', 'model.safetensors', 'nf4-32.safetensors', '-f', 'nf4', '--block-size', '32').status).toBe(0);
    const reader = await SafetensorsReader.open(join(dir, 'nf4-32.safetensors'));
    try {
      const stored = await readQuantized(reader, 'model.layers.0.self_attn.q_proj.weight');
      expect(stored.blockSize).toBe(32);
      expect(stored.codes).toEqual(quantize(F32_VALUES.q, [32, 64], 'nf4', { blockSize: 32 }).codes);
    } finally {
      await reader.close();
    }
  });

  it('--include adds and --exclude removes tensors', () => {
    const r = razer(
      'quantize', 'model.safetensors', 'sel.safetensors', '-f', 'nvfp4',
      '--include', 'lm_head.*', '--exclude', '*.mlp.*',
    );
    expect(r.status).toBe(0);
    expect(quantizedNames('sel.safetensors')).toEqual(['model.layers.0.self_attn.q_proj.weight', 'lm_head.weight']);
    // Repeated patterns accumulate; exclude wins over include.
    const r2 = razer(
      'quantize', 'model.safetensors', 'sel2.safetensors', '-f', 'nvfp4',
      '--include', 'lm_head.weight', '--include', 'model.embed_tokens.weight', '--exclude', 'lm_head.weight',
    );
    expect(r2.status).toBe(0);
    expect(quantizedNames('sel2.safetensors')).toEqual(['model.embed_tokens.weight', ...DEFAULT_QUANTIZED]);
  });

  it('refuses an --include that cannot be quantized or matches nothing', () => {
    expectOneLineError(
      razer('quantize', 'model.safetensors', 'bad1.safetensors', '-f', 'nvfp4', '--include', '*.odd_proj.*'),
      /odd_proj.*K = 24.*multiple of the block size 16/,
    );
    expectOneLineError(
      razer('quantize', 'model.safetensors', 'bad2.safetensors', '-f', 'nvfp4', '--include', '*.input_layernorm.*'),
      /not 2-D/,
    );
    expectOneLineError(
      razer('quantize', 'model.safetensors', 'bad3.safetensors', '-f', 'nvfp4', '--include', 'nothing.*'),
      /matches no tensor/,
    );
    for (const f of ['bad1', 'bad2', 'bad3']) expect(existsSync(join(dir, `${f}.safetensors`))).toBe(false);
  });

  it('on bad input leaves an existing output untouched and no temporary file behind', async () => {
    const nan = gaussian(16 * 32);
    nan[100] = NaN;
    await writeSafetensors(join(dir, 'nan.safetensors'), [
      { name: 'a.weight', dtype: 'F32', shape: [16, 32], data: gaussian(16 * 32) },
      { name: 'b.weight', dtype: 'F32', shape: [16, 32], data: nan },
    ]);
    writeFileSync(join(dir, 'keep.safetensors'), 'previous contents');
    const before = readdirSync(dir).sort();

    expectOneLineError(razer('quantize', 'nan.safetensors', 'keep.safetensors', '-f', 'nvfp4'), /b\.weight: element 100 .* NaN/);
    expect(readFileSync(join(dir, 'keep.safetensors'), 'utf8')).toBe('previous contents');

    writeFileSync(join(dir, 'truncated.safetensors'), readFileSync(join(dir, 'model.safetensors')).subarray(0, 500));
    expectOneLineError(razer('quantize', 'truncated.safetensors', 'keep.safetensors', '-f', 'nvfp4'), /truncated/);
    expect(readFileSync(join(dir, 'keep.safetensors'), 'utf8')).toBe('previous contents');

    expectOneLineError(razer('quantize', 'missing.safetensors', 'keep.safetensors', '-f', 'nvfp4'), /missing\.safetensors.*(ENOENT|no such file)/);
    expect(readFileSync(join(dir, 'keep.safetensors'), 'utf8')).toBe('previous contents');
    expect(readdirSync(dir).sort()).toEqual([...before, 'truncated.safetensors'].sort());
  });

  it('rejects bad options in one line with exit code 1', () => {
    expectOneLineError(razer('quantize', 'model.safetensors', 'o.safetensors', '-f', 'nvfp5'), /nvfp5.*Allowed choices/);
    expectOneLineError(razer('quantize', 'model.safetensors', 'o.safetensors'), /required option .*--format/);
    expectOneLineError(razer('quantize', 'model.safetensors', 'o.safetensors', '-f', 'nvfp4_razer', '--sv-small', 'x'), /--sv-small.*expected a number/);
    expectOneLineError(razer('quantize', 'model.safetensors', 'o.safetensors', '-f', 'nvfp4_razer', '--sv-small', '6'), /E2M1 magnitude/);
    expectOneLineError(razer('quantize', 'model.safetensors', 'o.safetensors', '-f', 'nvfp4_razer', '--sv-small', '10'), /--sv-small: expected less than --sv-big/);
    expectOneLineError(razer('quantize', 'model.safetensors', 'o.safetensors', '-f', 'nvfp4', '--block-size', '32'), /--block-size: only nf4/);
    expectOneLineError(razer('quantize', 'model.safetensors', 'model.safetensors', '-f', 'nvfp4'), /must not be the input/);
    expectOneLineError(razer('quantize', 'model.safetensors', 'o.safetensors', '-f', 'nvfp4', '--bogus'), /unknown option '--bogus'/);
    expect(existsSync(join(dir, 'o.safetensors'))).toBe(false);
  });
});

describe('razer inspect', () => {
  it('prints a table with a row per tensor and a total', () => {
    const r = razer('inspect', 'model.safetensors');
    expect(r.status).toBe(0);
    for (const t of TENSORS) expect(r.stdout).toContain(t.name);
    expect(r.stdout).toMatch(/^name\s+dtype\s+shape\s+size\s+format/m);
    expect(r.stdout).toMatch(/9 tensors \(0 quantized\)/);
  });

  it('lists the raw tensors, with a warning, when quantized entries are inconsistent', async () => {
    await writeSafetensors(join(dir, 'weird.safetensors'), [
      { name: 'a.weight', dtype: 'U8', shape: [4, 8], data: new Uint8Array(32) },
      { name: 'a.weight_scale', dtype: 'I32', shape: [4, 1], data: new Int32Array(4) },
    ]);
    const r = razer('inspect', 'weird.safetensors');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('a.weight_scale');
    expect(r.stderr).toMatch(/^razer: warning: .*I32/);
  });

  it('fails in one line on a missing or malformed file', () => {
    expectOneLineError(razer('inspect', 'missing.safetensors'), /missing\.safetensors/);
    writeFileSync(join(dir, 'junk.safetensors'), 'this is not a safetensors file at all');
    expectOneLineError(razer('inspect', 'junk.safetensors'), /junk\.safetensors/);
  });
});

describe('razer error', () => {
  it('--json reports every selected tensor in every format, and the overall error', () => {
    const r = razer('error', 'model.safetensors', '--json', '--formats', 'nvfp4,nvfp4_razer,mxfp4');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as {
      formats: string[];
      tensors: { name: string; errors: Record<string, { mse: number; sqnrDb: number }> }[];
      overall: Record<string, { mse: number; sqnrDb: number; mseRelativeToNvfp4: number }>;
    };
    expect(report.formats).toEqual(['nvfp4', 'nvfp4_razer', 'mxfp4']);
    // mxfp4's block of 32 and nvfp4's 16 both fit K = 64.
    expect(report.tensors.map((t) => t.name)).toEqual(DEFAULT_QUANTIZED);
    for (const t of report.tensors) {
      for (const f of report.formats) {
        expect(t.errors[f].mse).toBeGreaterThan(0);
        expect(t.errors[f].sqnrDb).toBeGreaterThan(10);
      }
    }
    expect(report.overall.nvfp4.mseRelativeToNvfp4).toBe(1);
    // Checked against the library directly for one tensor.
    const q = quantize(F32_VALUES.q, [32, 64], 'nvfp4_razer');
    const d = dequantize(q);
    let e = 0;
    for (let i = 0; i < d.length; i++) e += (d[i] - F32_VALUES.q[i]) ** 2;
    expect(report.tensors[0].errors.nvfp4_razer.mse).toBeCloseTo(e / d.length, 15);
  });

  it('prints an aligned table with overall and relative rows', () => {
    const r = razer('error', 'model.safetensors', '--exclude', '*.mlp.*');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('model.layers.0.self_attn.q_proj.weight');
    expect(r.stdout).not.toContain('up_proj');
    expect(r.stdout).toMatch(/^overall\s/m);
    expect(r.stdout).toMatch(/^relative to nvfp4\s+1\.000x/m);
    for (const f of ['nvfp4', 'nvfp4_4over6', 'nvfp4_razer', 'mxfp4', 'nf4']) expect(r.stdout).toContain(f);
  });

  it('rejects an unknown format and a file without weights', () => {
    expectOneLineError(razer('error', 'model.safetensors', '--formats', 'nvfp4,foo'), /unknown format "foo"/);
    expectOneLineError(razer('error', 'model.safetensors', '--exclude', '*'), /no tensor to measure/);
  });
});

describe('razer demo', () => {
  it('--quick prints the error table and a passing GEMM check', () => {
    const r = razer('demo', '--quick', '--seed', '3');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^overall\s/m);
    expect(r.stdout).toMatch(/^relative to nvfp4\s/m);
    expect(r.stdout).toMatch(/^nvfp4_razer\s+(cuda|cpu|reference)\s.*\spass\s/m);
    expect(r.stdout).toMatch(/^nvfp4\s+(cuda|cpu|reference)\s.*\spass\s/m);
    expect(r.stdout).not.toContain('FAIL');
    expect(r.stdout).toContain('All checks passed');
  });

  it('is deterministic for a seed (apart from timings)', () => {
    // Timings change the padding of their column too: compare words, not spacing.
    const strip = (s: string) => s.replace(/\d+(\.\d+)? (ms|s)\b/g, 'T').replace(/[\s-]+/g, ' ');
    expect(strip(razer('demo', '--quick', '--seed', '5').stdout)).toBe(strip(razer('demo', '--quick', '--seed', '5').stdout));
  });

  it('rejects a bad seed', () => {
    expectOneLineError(razer('demo', '--seed', 'abc'), /--seed.*expected a number/);
    expectOneLineError(razer('demo', '--seed', '-3'), /--seed.*expected an integer from 0/);
  });
});
