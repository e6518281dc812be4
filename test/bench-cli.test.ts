// `razer bench`: the command as users run it (a child process), its option
// parsing, the SVG chart writer and the report (tables, JSON, chart) built
// from a fake result. The real benchmark runs only where there is a GPU.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type BenchDeps, type BenchFlags, parseBenchFormats, parseMList, parseShapeList, runBench } from '../lib/cli/bench.js';
import {
  type BenchMeta,
  CHECK_TOLERANCE,
  FULL_MS,
  FULL_SETTINGS,
  LLAMA_SHAPES,
  QUICK_SETTINGS,
  QUICK_MS,
  QUICK_SHAPES,
  benchHeader,
  benchJson,
  failedChecks,
  geometricMean,
  renderBenchTable,
  renderSummaryTable,
  speedupChart,
  summarize,
} from '../lib/cli/bench-report.js';
import { axisScale, escapeXml, powerOfTwoTicks, renderLineChart } from '../lib/cli/svg-chart.js';
import type { AddonBenchOptions, AddonBenchResult, AddonBenchRow } from '../lib/native/addon-types.js';
import { RazerError } from '../lib/errors.js';
import { loadAddon } from '../lib/native/loader.js';
import { gpuGate, repoRoot, transpileLibTo } from './helpers/native.js';

const gate = gpuGate();
if (!gate.hasGpu) console.warn(`[bench-cli] GPU benchmark test skipped: ${gate.reason}`);

// ------------------------------------------------------------ the CLI ----
// lib/ transpiled into a private folder (not dist/, which cli.test.ts rebuilds
// concurrently). cli.ts reads ../../package.json for --version, so a stand-in
// package.json (another name: the addon loader skips it and finds the real
// package root, with build/Release, further up) sits two levels above cli.js.
const cacheRoot = join(repoRoot, 'node_modules', '.cache', 'nvfp4-razer-bench-cli');
const libRoot = join(cacheRoot, String(process.pid));
let workDir: string;

function transpileLib(): void {
  transpileLibTo(libRoot);
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  writeFileSync(
    join(cacheRoot, 'package.json'),
    JSON.stringify({ name: 'nvfp4-razer-bench-cli-test', private: true, type: 'module', version: pkg.version }),
  );
}

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

function razer(args: string[], timeout = 60_000): Result {
  const r = spawnSync(process.execPath, [join(libRoot, 'lib', 'cli.js'), ...args], {
    cwd: workDir,
    encoding: 'utf8',
    timeout,
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function expectOneLineError(r: Result, pattern: RegExp): void {
  expect(r.status, r.stderr).toBe(1);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^razer: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

beforeAll(() => {
  transpileLib();
  workDir = mkdtempSync(join(tmpdir(), 'razer-bench-'));
}, 120_000);

afterAll(() => {
  rmSync(libRoot, { recursive: true, force: true });
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('razer bench (command line)', () => {
  it('--help shows the options', () => {
    const r = razer(['bench', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: razer bench');
    for (const o of ['--quick', '--shapes', '--m ', '--formats', '--dtype', '--runs', '--json', '--svg', '--no-cublas', '--time-limit']) {
      expect(r.stdout).toContain(o);
    }
  });

  it('is listed by razer --help', () => {
    const r = razer(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\bbench\b/);
  });

  it.each([
    [['--shapes', '4096x100'], /--shapes.*multiple of 16/],
    [['--shapes', '4096'], /--shapes.*N x K/],
    [['--m', '0,4'], /--m.*M values from 1/],
    [['--formats', 'nvfp4_4over6'], /--formats.*nvfp4, nvfp4_razer/],
    [['--dtype', 'f32'], /--dtype/],
    [['--runs', '0'], /--runs.*from 1/],
  ])('rejects bad options in one line: %j', (args, pattern) => {
    expectOneLineError(razer(['bench', ...args]), pattern);
  });

  it.skipIf(gate.hasGpu)('fails in one line with exit code 1 without a usable GPU, writing nothing', () => {
    const r = razer(['bench', '--quick']);
    const pattern = loadAddon() ? /^razer: bench: no usable NVIDIA GPU .*: \S/ : /native addon is not available/;
    expectOneLineError(r, pattern);
    expect(r.stdout).toBe('');
    expect(existsSync(join(workDir, 'razer-bench.json'))).toBe(false);
    expect(existsSync(join(workDir, 'razer-bench.svg'))).toBe(false);
  });
});

describe('razer bench option parsers', () => {
  it('parses shape lists, annotating the Llama shapes', () => {
    expect(parseShapeList('6144x4096, 4096X14336,64*32')).toEqual([
      { N: 6144, K: 4096, model: 'Llama-3.1-8B', layer: 'qkv_proj' },
      { N: 4096, K: 14336, model: 'Llama-3.1-8B', layer: 'down_proj' },
      { N: 64, K: 32 },
    ]);
    expect(parseShapeList('8x16,8x16')).toHaveLength(1);
    expect(() => parseShapeList('4096x4090')).toThrow(/multiple of 16/);
    expect(() => parseShapeList('0x16')).toThrow(/N x K/);
    expect(() => parseShapeList('')).toThrow(/N x K/);
  });

  it('parses M lists (sorted, no repeats) and formats', () => {
    expect(parseMList('16,1,4096,16')).toEqual([1, 16, 4096]);
    expect(() => parseMList('1.5')).toThrow(/M values/);
    expect(() => parseMList(String(2 ** 21))).toThrow(/M values/);
    expect(parseBenchFormats('nvfp4_razer,nvfp4,nvfp4')).toEqual(['nvfp4_razer', 'nvfp4']);
    expect(() => parseBenchFormats('mxfp4')).toThrow(/nvfp4, nvfp4_razer/);
  });

  it('sweeps the Llama 3.1 8B and 70B shapes over M 1..4096', () => {
    expect(LLAMA_SHAPES.map((s) => `${s.N}x${s.K}`)).toEqual([
      '6144x4096',
      '4096x4096',
      '28672x4096',
      '4096x14336',
      '10240x8192',
      '8192x8192',
      '57344x8192',
      '8192x28672',
    ]);
    expect(FULL_MS).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096]);
    expect(QUICK_SHAPES.length).toBeLessThan(LLAMA_SHAPES.length);
    expect(QUICK_MS.length).toBeLessThan(FULL_MS.length);
  });
});

// -------------------------------------------------------- the SVG writer ----

/** Checks that every element is closed in order (an XML-ish well-formedness test). */
function expectBalancedTags(svg: string): void {
  const body = svg.replace(/^<\?xml[^>]*\?>\s*/, '');
  const stack: string[] = [];
  for (const m of body.matchAll(/<(\/?)([a-zA-Z][\w:-]*)([^>]*?)(\/?)>/g)) {
    const [, closing, name, , self] = m;
    if (self) continue;
    if (closing) expect(stack.pop(), `closing </${name}>`).toBe(name);
    else stack.push(name);
  }
  expect(stack).toEqual([]);
  // No raw ampersands or angle brackets in text.
  expect(body.replace(/<[^>]*>/g, '')).not.toMatch(/[<>]|&(?!(lt|gt|amp|quot|apos);)/);
}

function polylines(svg: string): { series: string; points: [number, number][] }[] {
  return [...svg.matchAll(/<polyline class="series" data-series="([^"]*)" points="([^"]*)"/g)].map((m) => ({
    series: m[1],
    points: m[2]
      .split(' ')
      .filter((p) => p !== '')
      .map((p) => p.split(',').map(Number) as [number, number]),
  }));
}

describe('SVG line chart', () => {
  const spec = {
    title: 'Speed-up <A & B>',
    subtitle: ['a "quoted" subtitle'],
    xLabel: 'M',
    yLabel: 'x',
    xAxis: 'log' as const,
    yAxis: 'log' as const,
    xTicks: [1, 4, 64, 4096],
    series: [
      { name: 'first', color: '#ff0000', points: [{ x: 1, y: 2 }, { x: 64, y: 1 }, { x: 4096, y: 0.5 }], markers: true },
      { name: 'second', color: '#0000ff', points: [{ x: 4096, y: 0.25 }, { x: 1, y: 4 }, { x: 16, y: Number.NaN }] },
    ],
    referenceY: { value: 1, label: 'baseline' },
    width: 800,
    height: 500,
  };
  const svg = renderLineChart(spec);

  it('is a well-formed SVG document with escaped text', () => {
    expect(svg.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('width="800" height="500" viewBox="0 0 800 500"');
    expect(svg).toContain('Speed-up &lt;A &amp; B&gt;');
    expect(svg).toContain('a &quot;quoted&quot; subtitle');
    expectBalancedTags(svg);
  });

  it('draws axes with tick labels, a reference line and a legend', () => {
    expect(svg).toContain('<g class="x-axis">');
    expect(svg).toContain('<g class="y-axis">');
    for (const t of ['1', '4', '64', '4096']) expect(svg).toMatch(new RegExp(`<text class="tick"[^>]*>${t}</text>`));
    expect(svg).toMatch(/<line class="reference"/);
    expect(svg).toContain('>baseline</text>');
    expect(svg).toMatch(/<g class="legend">[\s\S]*>first<\/text>[\s\S]*>second<\/text>/);
  });

  it('draws one polyline per series, skipping non-finite points, with markers where asked', () => {
    const lines = polylines(svg);
    expect(lines.map((l) => l.series).sort()).toEqual(['first', 'second']);
    expect(lines.find((l) => l.series === 'first')?.points).toHaveLength(3);
    expect(lines.find((l) => l.series === 'second')?.points).toHaveLength(2);
    expect(svg.match(/<circle /g)).toHaveLength(3);
  });

  it('places x on a log scale: M = 64 halfway between 1 and 4096', () => {
    const first = polylines(svg).find((l) => l.series === 'first')?.points ?? [];
    const [x1, x64, x4096] = first.map((p) => p[0]);
    expect(x64 - x1).toBeCloseTo(x4096 - x64, 0);
    // and y too: 2, 1, 0.5 are evenly spaced, 1 lies on the reference line
    const [y2, y1, yHalf] = first.map((p) => p[1]);
    expect(y1 - y2).toBeCloseTo(yHalf - y1, 0);
    const ref = /<line class="reference" x1="[^"]*" y1="([^"]*)"/.exec(svg);
    expect(Number(ref?.[1])).toBeCloseTo(y1, 0);
    // the series sorted by x, whatever order the points came in
    const second = polylines(svg).find((l) => l.series === 'second')?.points ?? [];
    expect(second[0][0]).toBeLessThan(second[1][0]);
  });

  it('has log and linear scales and power-of-two ticks', () => {
    const log = axisScale('log', 1, 4096, 0, 1200);
    expect(log(1)).toBeCloseTo(0, 9);
    expect(log(64)).toBeCloseTo(600, 9);
    expect(log(4096)).toBeCloseTo(1200, 9);
    const lin = axisScale('linear', 0, 10, 100, 0);
    expect(lin(2.5)).toBeCloseTo(75, 9);
    expect(() => axisScale('log', 0, 10, 0, 1)).toThrow(RangeError);
    expect(powerOfTwoTicks(0.3, 3.1)).toEqual([0.25, 0.5, 1, 2, 4]);
    expect(escapeXml(`<'&">`)).toBe('&lt;&apos;&amp;&quot;&gt;');
  });
});

// ------------------------------------------------------------ the report ----

function fakeRow(N: number, K: number, M: number, format: 'nvfp4' | 'nvfp4_razer', us: number, cublasUs: number | null): AddonBenchRow {
  const bytes = (N * K) / 2 + (N * K) / 16 + 4 + 2 * M * K + 2 * M * N;
  const flops = 2 * M * N * K;
  const floorUs = bytes / 3e6;
  return {
    N,
    K,
    M,
    format,
    kernel: M <= 8 ? 'gemv_m8_r1w8' : 'tile_m128_r2w8',
    splits: M <= 8 ? 4 : 1,
    us,
    bytes,
    flops,
    tbs: bytes / us / 1e6,
    tflops: flops / us / 1e6,
    floorUs,
    pctFloor: (100 * floorUs) / us,
    launches: 100,
    weightCopies: 22,
    xCopies: 22,
    graph: true,
    cublasUs,
    cublasGraph: cublasUs === null ? null : true,
    speedup: cublasUs === null ? null : cublasUs / us,
    relError: cublasUs === null ? null : 2e-3,
    cublasError: null,
  };
}

function fakeResult(withCublas = true): AddonBenchResult {
  const rows: AddonBenchRow[] = [];
  for (const [N, K] of [
    [4096, 4096],
    [8192, 28672],
  ]) {
    for (const format of ['nvfp4', 'nvfp4_razer'] as const) {
      for (const M of [1, 16, 4096]) {
        const us = (format === 'nvfp4' ? 10 : 15) * (N / 4096) * (M === 4096 ? 20 : 1);
        rows.push(fakeRow(N, K, M, format, us, withCublas ? 2 * us * (M === 4096 ? 0.2 : 1) : null));
      }
    }
  }
  return {
    device: {
      ordinal: 0,
      name: 'NVIDIA H100 80GB HBM3',
      computeCapability: [9, 0],
      sms: 132,
      l2Bytes: 50 * 2 ** 20,
      memoryBytes: 80 * 2 ** 30,
      smClockMhz: 1980,
      memClockMhz: 2619,
      driverVersion: 13000,
      runtimeVersion: 13000,
    },
    bandwidth: { copyTBs: 2.436, readTBs: 3.085, floorTBs: 3.085, bytes: 1600 * 2 ** 20 },
    cublas: withCublas
      ? { found: true, library: '/usr/local/cuda/lib64/libcublasLt.so.13', api: 'cublasLt', version: 130100, reason: null }
      : { found: false, library: null, api: null, version: null, reason: 'no libcublasLt.so.13/.12 found' },
    settings: { xDtype: 'bf16', warmup: 3, repeats: 15, replayUs: 4000, maxLaunches: 100 },
    rows,
    stoppedEarly: null,
    elapsedS: 42.5,
  };
}

const META: BenchMeta = {
  date: '2026-11-23T18:00:00Z',
  commit: '0b8af29d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b',
  dirty: false,
  version: '0.1.0',
  node: 'v20.20.2',
  host: 'gpu-host',
  quick: false,
  shapes: [
    { N: 4096, K: 4096, model: 'Llama-3.1-8B', layer: 'o_proj' },
    { N: 8192, K: 28672, model: 'Llama-3.1-70B', layer: 'down_proj' },
  ],
  ms: [1, 16, 4096],
  formats: ['nvfp4', 'nvfp4_razer'],
  settings: FULL_SETTINGS,
};

describe('razer bench report', () => {
  it('heads the output with the GPU, date, commit, bandwidth and cuBLAS', () => {
    const header = benchHeader(fakeResult(), META).join('\n');
    expect(header).toContain('NVIDIA H100 80GB HBM3 (device 0, sm_90, 132 SMs, 50 MiB L2');
    expect(header).toContain('2026-11-23T18:00:00Z, commit 0b8af29d1e2f');
    expect(header).toContain('floor 3.085 TB/s');
    expect(header).toContain('cublasLt 130100 (/usr/local/cuda/lib64/libcublasLt.so.13)');
    const without = benchHeader(fakeResult(false), { ...META, commit: null, dirty: null }).join('\n');
    expect(without).toContain('commit unknown');
    expect(without).toContain('cuBLAS:    not used: no libcublasLt.so.13/.12 found');
  });

  it('tabulates every row with µs, TB/s, TFLOP/s, % of floor and the speed-up', () => {
    const result = fakeResult();
    const table = renderBenchTable(result.rows);
    const lines = table.split('\n');
    expect(lines[0]).toMatch(/^N x K\s+format\s+M\s+kernel\/splits\s+µs\s+TB\/s\s+TFLOP\/s\s+% floor\s+cuBLAS µs\s+x cuBLAS$/);
    // header, rule, 12 rows, one rule between the two shapes
    expect(lines).toHaveLength(2 + 12 + 1);
    const first = result.rows[0];
    expect(lines[2]).toMatch(
      new RegExp(
        `^4096x4096\\s+nvfp4\\s+1\\s+gemv_m8_r1w8/s4\\s+10\\.0\\s+${first.tbs.toFixed(2)}\\s+${first.tflops.toFixed(2)}\\s+${first.pctFloor.toFixed(0)}%\\s+20\\.0\\s+2\\.00x$`,
      ),
    );
    expect(renderBenchTable(fakeResult(false).rows)).toMatch(/\s-\s+-$/m);
  });

  it('summarizes each format and M by geometric means over the shapes', () => {
    const result = fakeResult();
    const summary = summarize(result.rows);
    expect(summary).toHaveLength(2 * 3);
    const at = summary.find((e) => e.format === 'nvfp4_razer' && e.M === 4096);
    expect(at?.shapes).toBe(2);
    expect(at?.speedup).toBeCloseTo(0.4, 12);
    const rows = result.rows.filter((r) => r.format === 'nvfp4' && r.M === 16);
    expect(summary.find((e) => e.format === 'nvfp4' && e.M === 16)?.pctFloor).toBeCloseTo(
      Math.sqrt(rows[0].pctFloor * rows[1].pctFloor),
      9,
    );
    expect(geometricMean([])).toBeNull();
    expect(geometricMean([2, 8])).toBeCloseTo(4, 12);
    const table = renderSummaryTable(summary);
    expect(table.split('\n')[0]).toMatch(/^format\s+geomean of 2 shapes\s+M=1\s+M=16\s+M=4096$/);
    expect(table).toMatch(/nvfp4_razer\s+x cuBLAS\s+2\.00x\s+2\.00x\s+0\.40x/);
  });

  it('assembles the JSON document', () => {
    const result = fakeResult();
    result.rows[3].relError = 0.5; // a failed check
    result.rows[4].relError = Number.NaN;
    const doc = JSON.parse(JSON.stringify(benchJson(result, META))) as ReturnType<typeof benchJson>;
    expect(doc.schema).toBe('nvfp4-razer/bench-w4a16/1');
    expect(doc.commit).toBe(META.commit);
    expect(doc.date).toBe(META.date);
    expect(doc.run).toMatchObject({ quick: false, shapes: [[4096, 4096], [8192, 28672]], ms: [1, 16, 4096], xDtype: 'bf16', repeats: 15 });
    expect(doc.device.name).toBe('NVIDIA H100 80GB HBM3');
    expect(doc.bandwidth.floorTBs).toBe(3.085);
    expect(doc.cublas.api).toBe('cublasLt');
    expect(doc.rows).toHaveLength(12);
    expect(doc.rows[0]).toMatchObject({ shape: '4096x4096', model: 'Llama-3.1-8B', layer: 'o_proj', M: 1, format: 'nvfp4', us: 10, check: 'pass' });
    expect(doc.rows[3].check).toBe('fail');
    expect(doc.rows[4]).toMatchObject({ check: 'fail', relError: null });
    expect(doc.failedChecks).toBe(2);
    expect(doc.checkTolerance).toBe(CHECK_TOLERANCE);
    expect(failedChecks(result.rows)).toHaveLength(2);
    expect(doc.summary).toHaveLength(6);
    expect(doc.stoppedEarly).toBeNull();
    const plain = JSON.parse(JSON.stringify(benchJson(fakeResult(false), META))) as ReturnType<typeof benchJson>;
    expect(plain.rows.every((r) => r.check === null && r.speedup === null)).toBe(true);
  });

  it('charts the speed-up over cuBLAS by M: one bold line per format, one thin line per shape', () => {
    const svg = speedupChart(fakeResult(), META) as string;
    expectBalancedTags(svg);
    const lines = polylines(svg);
    expect(lines).toHaveLength(2 + 2 * 2);
    expect(lines.filter((l) => l.series.endsWith('(geomean)')).map((l) => l.series)).toEqual([
      'nvfp4 (geomean)',
      'nvfp4_razer (geomean)',
    ]);
    expect(svg).toContain('NVIDIA H100 80GB HBM3');
    expect(svg).toContain('commit 0b8af29d1e2f');
    for (const t of ['1', '16', '4096']) expect(svg).toMatch(new RegExp(`<text class="tick"[^>]*>${t}</text>`));
    expect(svg).toMatch(/<text class="tick"[^>]*>1x<\/text>/);
    expect(speedupChart(fakeResult(false), META)).toBeNull();
  });
});

// ------------------------------------------- the command, with a fake addon ----

/** Captures what is written to a stream while `body` runs. */
async function captured(body: () => Promise<void>): Promise<{ stdout: string; stderr: string; error: unknown }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  let error: unknown = null;
  try {
    await body();
  } catch (e) {
    error = e;
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return { stdout, stderr, error };
}

function fakeDeps(result: AddonBenchResult, calls: AddonBenchOptions[] = []): BenchDeps {
  return {
    bench: () => ({
      benchW4A16: (options: AddonBenchOptions) => {
        calls.push(options);
        result.rows.forEach((row, i) => options.onRow?.(row, i, result.rows.length));
        return result;
      },
    }),
    noGpu: () => null,
    commit: () => ({ commit: META.commit, dirty: false }),
    now: () => new Date(META.date),
  };
}

function flags(name: string, extra: Partial<BenchFlags> = {}): BenchFlags {
  return {
    shapes: parseShapeList('4096x4096,8192x28672'),
    m: [1, 16, 4096],
    dtype: 'bf16',
    json: join(workDir, `${name}.json`),
    svg: join(workDir, `${name}.svg`),
    device: 0,
    ...extra,
  };
}

describe('razer bench, end to end with a fake addon', () => {
  it('reports progress, prints the header, the table and the summary last, writes JSON and SVG', async () => {
    const calls: AddonBenchOptions[] = [];
    const r = await captured(() => runBench(flags('e2e'), fakeDeps(fakeResult(), calls)));
    expect(r.error).toBeNull();
    // the options handed to the addon
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      shapes: [[4096, 4096], [8192, 28672]],
      ms: [1, 16, 4096],
      formats: ['nvfp4', 'nvfp4_razer'],
      xDtype: 'bf16',
      repeats: FULL_SETTINGS.repeats,
      warmup: FULL_SETTINGS.warmup,
      cublas: true,
      cublasPath: undefined,
      timeLimitS: FULL_SETTINGS.timeLimitS,
      device: 0,
    });
    // progress: one line per row on a non-terminal stderr
    const progress = r.stderr.trimEnd().split('\n');
    expect(progress[0]).toMatch(/^razer bench: 12 measurements \(2 shapes x 3 M x 2 formats\)/);
    expect(progress).toHaveLength(1 + 12);
    expect(progress[1]).toMatch(/^\[ 1\/12\] 4096x4096\s+nvfp4\s+M=1\s+10\.0 µs .* 2\.00x cuBLAS$/);
    // stdout: header, table, files, summary last
    expect(r.stdout).toMatch(/^razer bench: W4A16 GEMM, bf16 X and Y/);
    expect(r.stdout).toContain('GPU:       NVIDIA H100 80GB HBM3');
    expect(r.stdout).toContain(`Run:       ${META.date}, commit 0b8af29d1e2f`);
    expect(r.stdout).toMatch(/^4096x4096\s+nvfp4\s+1\s+gemv_m8_r1w8\/s4\s+10\.0/m);
    expect(r.stdout).toContain(`12 measurements in 42.5 s; wrote ${join(workDir, 'e2e.json')}, ${join(workDir, 'e2e.svg')}`);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.at(-1)).toMatch(/^nvfp4_razer\s+% floor/);
    expect(lines.at(-6)).toMatch(/^format\s+geomean of 2 shapes\s+M=1\s+M=16\s+M=4096$/);
    // the files
    const doc = JSON.parse(readFileSync(join(workDir, 'e2e.json'), 'utf8')) as ReturnType<typeof benchJson>;
    expect(doc.rows).toHaveLength(12);
    expect(doc.commit).toBe(META.commit);
    expect(doc.run.quick).toBe(false);
    const svg = readFileSync(join(workDir, 'e2e.svg'), 'utf8');
    expectBalancedTags(svg);
    expect(polylines(svg)).toHaveLength(6);
  });

  it('passes --quick, --runs, --warmup, --time-limit, --dtype, --cublas and --no-cublas through', async () => {
    const calls: AddonBenchOptions[] = [];
    const deps = fakeDeps(fakeResult(), calls);
    await captured(() => runBench(flags('q', { quick: true, shapes: undefined, m: undefined, dtype: 'f16', cublas: '/x/libcublasLt.so.12' }), deps));
    expect(calls[0]).toMatchObject({
      shapes: QUICK_SHAPES.map((s) => [s.N, s.K]),
      ms: [...QUICK_MS],
      xDtype: 'f16',
      repeats: QUICK_SETTINGS.repeats,
      warmup: QUICK_SETTINGS.warmup,
      replayUs: QUICK_SETTINGS.replayUs,
      timeLimitS: QUICK_SETTINGS.timeLimitS,
      cublas: true,
      cublasPath: '/x/libcublasLt.so.12',
    });
    await captured(() => runBench(flags('n', { runs: 3, warmup: 0, timeLimit: 0, cublas: false, formats: ['nvfp4_razer'] }), deps));
    expect(calls[1]).toMatchObject({ repeats: 3, warmup: 0, timeLimitS: 0, cublas: false, formats: ['nvfp4_razer'] });
  });

  it('writes no chart without cuBLAS timings, and nothing with --no-json --no-svg', async () => {
    const r = await captured(() => runBench(flags('plain'), fakeDeps(fakeResult(false))));
    expect(r.error).toBeNull();
    expect(r.stdout).toContain('No chart: no cuBLAS timings (no libcublasLt.so.13/.12 found)');
    expect(existsSync(join(workDir, 'plain.json'))).toBe(true);
    expect(existsSync(join(workDir, 'plain.svg'))).toBe(false);
    const none = await captured(() => runBench(flags('none', { json: false, svg: false }), fakeDeps(fakeResult())));
    expect(none.error).toBeNull();
    expect(existsSync(join(workDir, 'none.json'))).toBe(false);
    expect(existsSync(join(workDir, 'none.svg'))).toBe(false);
    expect(none.stdout).toContain('12 measurements in 42.5 s\n');
  });

  it('says when the time limit stopped it early', async () => {
    const result = fakeResult();
    result.rows = result.rows.slice(0, 5);
    result.stoppedEarly = 'time limit of 120 s reached after 5 of 12 rows';
    const r = await captured(() => runBench(flags('early'), fakeDeps(result)));
    expect(r.error).toBeNull();
    expect(r.stdout).toContain('Stopped early: time limit of 120 s reached after 5 of 12 rows');
  });

  it('fails, after writing the results, when the output disagrees with cuBLAS', async () => {
    const result = fakeResult();
    result.rows[7].relError = 0.3;
    const r = await captured(() => runBench(flags('bad'), fakeDeps(result)));
    expect(r.error).toBeInstanceOf(RazerError);
    expect((r.error as Error).message).toMatch(/differs from cuBLAS's by more than 0\.01 .* in 1 of 12 measurements, first 8192x28672 nvfp4 M=16 \(0\.3\)/);
    expect(existsSync(join(workDir, 'bad.json'))).toBe(true);
  });

  it('stops before measuring when there is no GPU', async () => {
    const deps: BenchDeps = { ...fakeDeps(fakeResult()), noGpu: () => new RazerError('ERR_NO_GPU', 'bench: no usable NVIDIA GPU (...): none') };
    const r = await captured(() => runBench(flags('nogpu'), deps));
    expect((r.error as RazerError).code).toBe('ERR_NO_GPU');
    expect(r.stdout + r.stderr).toBe('');
  });
});

// ------------------------------------------------------- on a real GPU ----

describe.skipIf(!gate.hasGpu)('razer bench on the GPU', () => {
  it('runs --quick, writes the JSON and the chart, every figure finite and positive', () => {
    const r = razer(['bench', '--quick', '--json', 'quick.json', '--svg', 'quick.svg'], 300_000);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/razer bench: W4A16 GEMM/);
    const doc = JSON.parse(readFileSync(join(workDir, 'quick.json'), 'utf8')) as ReturnType<typeof benchJson>;
    expect(doc.stoppedEarly, 'the quick run hit its time limit').toBeNull();
    expect(doc.rows).toHaveLength(QUICK_SHAPES.length * QUICK_MS.length * 2);
    expect(doc.bandwidth.floorTBs).toBeGreaterThan(0);
    for (const row of doc.rows) {
      for (const v of [row.us, row.tbs, row.tflops, row.pctFloor, row.floorUs, row.bytes, row.flops]) {
        expect(Number.isFinite(v) && v > 0, `${row.shape} ${row.format} M=${row.M}: ${v}`).toBe(true);
      }
      if (doc.cublas.found) {
        expect(Number.isFinite(row.speedup) && (row.speedup as number) > 0).toBe(true);
        expect(row.check, `${row.shape} ${row.format} M=${row.M} relError ${row.relError}`).toBe('pass');
      }
    }
    if (doc.cublas.found) {
      const svg = readFileSync(join(workDir, 'quick.svg'), 'utf8');
      expectBalancedTags(svg);
      expect(polylines(svg).length).toBeGreaterThan(0);
    } else {
      console.warn(`[bench-cli] no cuBLAS on this machine: ${doc.cublas.reason}`);
    }
  }, 360_000);
});
