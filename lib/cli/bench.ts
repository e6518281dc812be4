// `razer bench`: times the W4A16 GPU kernels on the Llama 3.1 8B and 70B
// linear-layer shapes against cuBLAS's dense GEMM, with the bandwidth floor
// measured in the same run (the addon's benchW4A16). Prints a table (the
// short summary last), writes JSON and an SVG chart of the speed-up.

import { spawnSync } from 'node:child_process';
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { RazerError } from '../errors.js';
import type { AddonBenchResult, AddonBenchRow, RazerAddon } from '../native/addon-types.js';
import { backendInfo, requireAddon } from '../native/loader.js';
import {
  BENCH_FORMATS,
  type BenchFormat,
  type BenchMeta,
  type BenchSettings,
  type BenchShape,
  CHECK_TOLERANCE,
  FULL_MS,
  FULL_SETTINGS,
  LLAMA_SHAPES,
  QUICK_MS,
  QUICK_SETTINGS,
  QUICK_SHAPES,
  benchHeader,
  benchJson,
  failedChecks,
  formatSpeedup,
  formatUs,
  knownShape,
  renderBenchTable,
  renderSummaryTable,
  shapeName,
  speedupChart,
  summarize,
} from './bench-report.js';
import { parseInteger, parseNumber } from './options.js';
import { formatDuration } from './units.js';

export const DEFAULT_JSON = 'razer-bench.json';
export const DEFAULT_SVG = 'razer-bench.svg';

export interface BenchFlags {
  quick?: boolean;
  shapes?: BenchShape[];
  m?: number[];
  formats?: BenchFormat[];
  dtype: 'bf16' | 'f16';
  runs?: number;
  warmup?: number;
  /** undefined: search for it; a string: that file; false: --no-cublas. */
  cublas?: string | boolean;
  json: string | false;
  svg: string | false;
  device: number;
  timeLimit?: number;
}

// ------------------------------------------------------------ parsers ----

/** '6144x4096,4096x4096' (N x K). */
export function parseShapeList(value: string): BenchShape[] {
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new InvalidArgumentError('expected N x K shapes such as 6144x4096,4096x14336');
  const shapes: BenchShape[] = [];
  for (const item of items) {
    const m = /^(\d+)\s*[xX*]\s*(\d+)$/.exec(item);
    const N = m ? Number(m[1]) : NaN;
    const K = m ? Number(m[2]) : NaN;
    if (!(Number.isSafeInteger(N) && Number.isSafeInteger(K) && N >= 1 && K >= 16)) {
      throw new InvalidArgumentError(`expected N x K shapes such as 6144x4096, got ${JSON.stringify(item)}`);
    }
    if (K % 16 !== 0) {
      throw new InvalidArgumentError(`K (the input dimension) must be a multiple of 16, got ${JSON.stringify(item)}`);
    }
    if (!shapes.some((s) => s.N === N && s.K === K)) shapes.push(knownShape(N, K));
  }
  return shapes;
}

/** '1,16,128' (rows of X), sorted, without repeats. */
export function parseMList(value: string): number[] {
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new InvalidArgumentError('expected M values such as 1,16,128');
  const ms = items.map((item) => {
    const n = Number(item);
    if (!(Number.isSafeInteger(n) && n >= 1 && n <= 1 << 20)) {
      throw new InvalidArgumentError(`expected M values from 1 to ${1 << 20}, got ${JSON.stringify(item)}`);
    }
    return n;
  });
  return [...new Set(ms)].sort((a, b) => a - b);
}

export function parseBenchFormats(value: string): BenchFormat[] {
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new InvalidArgumentError(`expected one or both of ${BENCH_FORMATS.join(', ')}`);
  for (const item of items) {
    if (!(BENCH_FORMATS as readonly string[]).includes(item)) {
      throw new InvalidArgumentError(
        `expected one or both of ${BENCH_FORMATS.join(', ')} (the W4A16 weight formats), got ${JSON.stringify(item)}`,
      );
    }
  }
  return [...new Set(items as BenchFormat[])];
}

function parseCount(min: number, max: number) {
  return (value: string): number => {
    const n = parseInteger(value);
    if (n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got ${value}`);
    return n;
  };
}

function parseSeconds(value: string): number {
  const n = parseNumber(value);
  if (n < 0) throw new InvalidArgumentError(`expected seconds (0: no limit), got ${value}`);
  return n;
}

// ---------------------------------------------------------- the run ----

const packageDir = (() => {
  // The nearest folder above this file with our package.json (lib/cli/ in a
  // checkout, dist/lib/cli/ when built).
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'nvfp4-razer') return { dir, version: pkg.version ?? 'unknown' };
    } catch {
      // not here
    }
    dir = dirname(dir);
  }
  return { dir: null, version: 'unknown' };
})();

/** The package's commit, when it runs from a git checkout of itself (never throws). */
export function gitCommit(dir: string | null = packageDir.dir): { commit: string | null; dirty: boolean | null } {
  if (dir === null) return { commit: null, dirty: null };
  const git = (...args: string[]) => {
    const r = spawnSync('git', args, { cwd: dir, encoding: 'utf8', timeout: 10_000 });
    return r.status === 0 ? r.stdout.trim() : null;
  };
  const top = git('rev-parse', '--show-toplevel');
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return p;
    }
  };
  // An installed package inside someone else's repository is not a checkout of ours.
  if (top === null || real(top) !== real(dir)) return { commit: null, dirty: null };
  const commit = git('rev-parse', 'HEAD');
  const status = git('status', '--porcelain', '--untracked-files=no');
  return { commit, dirty: status === null ? null : status !== '' };
}

/** Why no GPU benchmark can run here, as a RazerError (ERR_NO_GPU), or null when one can. */
function noGpuError(): RazerError | null {
  const info = backendInfo();
  if (info.backend === 'cuda') return null;
  return new RazerError(
    'ERR_NO_GPU',
    `bench: no usable NVIDIA GPU (it times the CUDA kernels; compute capability 8.0 or newer): ${info.reason}`,
  );
}

function progressLine(row: AddonBenchRow, index: number, total: number): string {
  const width = String(total).length;
  return (
    `[${String(index + 1).padStart(width)}/${total}] ${shapeName(row).padEnd(11)} ${row.format.padEnd(11)} ` +
    `M=${String(row.M).padEnd(5)} ${formatUs(row.us).padStart(8)} µs ${row.tbs.toFixed(2).padStart(5)} TB/s ` +
    `${row.pctFloor.toFixed(0).padStart(3)}% floor` +
    (row.speedup === null ? '' : `  ${formatSpeedup(row.speedup)} cuBLAS`)
  );
}

/** What runBench needs from outside (replaced in tests). */
export interface BenchDeps {
  /** The addon's benchmark entry, or a throw saying why there is none. */
  bench: () => Pick<RazerAddon, 'benchW4A16'>;
  /** Why no GPU benchmark can run here, or null. */
  noGpu: () => RazerError | null;
  commit: () => { commit: string | null; dirty: boolean | null };
  now: () => Date;
}

const DEFAULT_DEPS: BenchDeps = {
  bench: () => requireAddon('bench'),
  noGpu: noGpuError,
  commit: () => gitCommit(),
  now: () => new Date(),
};

export async function runBench(flags: BenchFlags, deps: BenchDeps = DEFAULT_DEPS): Promise<void> {
  const addon = deps.bench();
  const noGpu = deps.noGpu();
  if (noGpu) throw noGpu;
  const started = deps.now();

  const quick = flags.quick === true;
  const shapes = flags.shapes ?? [...(quick ? QUICK_SHAPES : LLAMA_SHAPES)];
  const ms = flags.m ?? [...(quick ? QUICK_MS : FULL_MS)];
  const formats = flags.formats ?? [...BENCH_FORMATS];
  const base = quick ? QUICK_SETTINGS : FULL_SETTINGS;
  const settings: BenchSettings = {
    ...base,
    repeats: flags.runs ?? base.repeats,
    warmup: flags.warmup ?? base.warmup,
    timeLimitS: flags.timeLimit ?? base.timeLimitS,
  };
  const total = shapes.length * ms.length * formats.length;

  const err = process.stderr;
  const tty = err.isTTY === true;
  err.write(
    `razer bench: ${total} measurements (${shapes.length} shapes x ${ms.length} M x ${formats.length} formats)` +
      `${settings.timeLimitS > 0 ? `, at most ${formatDuration(settings.timeLimitS * 1000)}` : ''}; measuring the bandwidth first\n`,
  );
  const onRow = (row: AddonBenchRow, index: number, count: number) => {
    const line = progressLine(row, index, count);
    // One line per row in logs; a single updating line on a terminal (cut to
    // its width: a wrapped line could not be overwritten).
    err.write(tty ? `\r\x1b[K${line.slice(0, Math.max(20, (err.columns ?? 80) - 1))}` : `${line}\n`);
  };
  let result: AddonBenchResult;
  try {
    result = addon.benchW4A16({
      shapes: shapes.map((s) => [s.N, s.K] as const),
      ms,
      formats,
      xDtype: flags.dtype,
      warmup: settings.warmup,
      repeats: settings.repeats,
      replayUs: settings.replayUs,
      maxLaunches: settings.maxLaunches,
      cublas: flags.cublas !== false,
      cublasPath: typeof flags.cublas === 'string' ? flags.cublas : undefined,
      timeLimitS: settings.timeLimitS,
      device: flags.device,
      onRow,
    });
  } finally {
    if (tty) err.write('\r\x1b[K');
  }

  const { commit, dirty } = deps.commit();
  const meta: BenchMeta = {
    date: started.toISOString().replace(/\.\d+Z$/, 'Z'),
    commit,
    dirty,
    version: packageDir.version,
    node: process.version,
    host: hostname(),
    quick,
    shapes,
    ms,
    formats,
    settings,
  };

  const out = (line = '') => process.stdout.write(`${line}\n`);
  for (const line of benchHeader(result, meta)) out(line);
  out();
  out(renderBenchTable(result.rows));
  out();
  if (result.stoppedEarly) out(`Stopped early: ${result.stoppedEarly} (raise --time-limit, or measure fewer shapes or M).`);
  const written: string[] = [];
  if (flags.json !== false) {
    writeFileSync(flags.json, `${JSON.stringify(benchJson(result, meta), null, 2)}\n`);
    written.push(flags.json);
  }
  if (flags.svg !== false) {
    const svg = speedupChart(result, meta);
    if (svg === null) {
      out(`No chart: no cuBLAS timings (${result.cublas.reason ?? 'none measured'}).`);
    } else {
      writeFileSync(flags.svg, svg);
      written.push(flags.svg);
    }
  }
  out(
    `${result.rows.length} measurements in ${formatDuration(result.elapsedS * 1000)}` +
      (written.length > 0 ? `; wrote ${written.join(', ')}` : ''),
  );
  out(`% floor: the time the bytes that must move (weights, X, Y) take at the floor bandwidth, over the time taken.`);
  out();
  out(renderSummaryTable(summarize(result.rows)));

  const failed = failedChecks(result.rows);
  if (failed.length > 0) {
    const first = failed[0];
    throw new RazerError(
      'ERR_CUDA',
      `bench: the W4A16 output differs from cuBLAS's by more than ${CHECK_TOLERANCE} (relative) in ${failed.length} of ${result.rows.length} measurements, first ${shapeName(first)} ${first.format} M=${first.M} (${first.relError}); the timings were written but the kernel is suspect`,
    );
  }
}

export function benchCommand(): Command {
  return new Command('bench')
    .summary('time the W4A16 GPU kernels against cuBLAS on Llama 3.1 shapes')
    .description(
      "Time the W4A16 GEMM (4-bit weights, 16-bit X) on an NVIDIA GPU, for the Llama 3.1 8B and 70B linear-layer shapes (N x K) and M (rows of X) from 1 to 4096, in nvfp4 and nvfp4_razer, against cuBLAS's dense GEMM of the same shape (loaded at run time when present) and against the bandwidth floor measured in the same run. Prints a table, writes the results as JSON and a chart of the speed-up over cuBLAS as SVG. The full sweep takes a few minutes; --quick about a minute.",
    )
    .option('--quick', `fewer shapes (${QUICK_SHAPES.map(shapeName).join(', ')}), M (${QUICK_MS.join(', ')}) and runs`)
    .addOption(
      new Option('--shapes <list>', 'weight shapes N x K, comma-separated (default: the 8 Llama 3.1 8B/70B shapes)').argParser(
        parseShapeList,
      ),
    )
    .addOption(new Option('--m <list>', `M values (rows of X), comma-separated (default ${FULL_MS.join(',')})`).argParser(parseMList))
    .addOption(new Option('--formats <list>', 'weight formats (default nvfp4,nvfp4_razer)').argParser(parseBenchFormats))
    .addOption(new Option('--dtype <type>', 'element type of X and Y').choices(['bf16', 'f16']).default('bf16'))
    .addOption(
      new Option('--runs <n>', `timed replays per measurement, median reported (default ${FULL_SETTINGS.repeats}; --quick ${QUICK_SETTINGS.repeats})`).argParser(
        parseCount(1, 1000),
      ),
    )
    .addOption(
      new Option('--warmup <n>', `discarded replays before each measurement (default ${FULL_SETTINGS.warmup}; --quick ${QUICK_SETTINGS.warmup})`).argParser(
        parseCount(0, 100),
      ),
    )
    .addOption(new Option('--cublas <path>', 'the cuBLAS library file to load (default: search the library path and CUDA folders; env RAZER_CUBLAS)'))
    .option('--no-cublas', 'skip the cuBLAS baseline')
    .addOption(new Option('--json <path>', 'where to write the results as JSON').default(DEFAULT_JSON))
    .option('--no-json', 'do not write JSON')
    .addOption(new Option('--svg <path>', 'where to write the speed-up chart (SVG)').default(DEFAULT_SVG))
    .option('--no-svg', 'do not write the chart')
    .addOption(new Option('--device <n>', 'CUDA device ordinal').argParser(parseCount(0, 1 << 16)).default(0))
    .addOption(
      new Option(
        '--time-limit <seconds>',
        `stop measuring after this long, keeping the rows so far; 0: no limit (default ${FULL_SETTINGS.timeLimitS}; --quick ${QUICK_SETTINGS.timeLimitS})`,
      ).argParser(parseSeconds),
    )
    .addHelpText(
      'after',
      `
Each measurement: random valid weights generated and prepacked on the GPU, in
copies whose total exceeds 4x the L2 cache (X too), timed as CUDA-graph
replays of back-to-back launches after warm-up; the median replay over its
launches. TB/s counts the bytes that must move (weights, X, Y); the floor is
the higher of a device-to-device copy and a read-only reduction measured in
the same run. cuBLAS (libcublasLt.so.13/.12, else libcublas.so.13/.12) is
found at run time; its weight is the decoded 4-bit weight, so the outputs are
also compared (relative error <= ${CHECK_TOLERANCE}).

JSON: ${DEFAULT_JSON} by default; rows have shape, N, K, M, format, kernel,
splits, us, tbs, tflops, pctFloor, cublasUs, speedup, relError, check.
Chart: speed-up over cuBLAS against M (both log scale); per format the
geometric mean over the shapes (bold) and each shape (thin).`,
    )
    .action((flags: BenchFlags) => runBench(flags));
}
