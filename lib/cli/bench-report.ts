// `razer bench`'s report, from the addon's benchW4A16() result: the shape
// lists, the text tables, the JSON document and the speed-up chart. Pure
// functions of the result and a few facts about the run (date, commit), so
// they are tested without a GPU.

import type { AddonBenchResult, AddonBenchRow } from '../native/addon-types.js';
import { type ChartSeries, renderLineChart } from './svg-chart.js';
import { type Row, renderTable } from './table.js';

export type BenchFormat = 'nvfp4' | 'nvfp4_razer';
export const BENCH_FORMATS: readonly BenchFormat[] = ['nvfp4', 'nvfp4_razer'];

export interface BenchShape {
  N: number;
  K: number;
  /** Where the shape comes from, when it is a known one. */
  model?: string;
  layer?: string;
}

/**
 * The linear layers of Llama 3.1 8B (hidden 4096, 32 query and 8 key/value
 * heads of 128, intermediate 14336) and 70B (hidden 8192, 64 and 8 heads,
 * intermediate 28672), as [N, K] = [outputs, inputs], with q/k/v and
 * gate/up fused as inference engines run them.
 */
export const LLAMA_SHAPES: readonly BenchShape[] = [
  { N: 6144, K: 4096, model: 'Llama-3.1-8B', layer: 'qkv_proj' },
  { N: 4096, K: 4096, model: 'Llama-3.1-8B', layer: 'o_proj' },
  { N: 28672, K: 4096, model: 'Llama-3.1-8B', layer: 'gate_up_proj' },
  { N: 4096, K: 14336, model: 'Llama-3.1-8B', layer: 'down_proj' },
  { N: 10240, K: 8192, model: 'Llama-3.1-70B', layer: 'qkv_proj' },
  { N: 8192, K: 8192, model: 'Llama-3.1-70B', layer: 'o_proj' },
  { N: 57344, K: 8192, model: 'Llama-3.1-70B', layer: 'gate_up_proj' },
  { N: 8192, K: 28672, model: 'Llama-3.1-70B', layer: 'down_proj' },
];

export const FULL_MS: readonly number[] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096];

/** --quick: one shape of each kind, five M from decoding to prefill. */
export const QUICK_SHAPES: readonly BenchShape[] = LLAMA_SHAPES.filter((s) =>
  ['6144x4096', '28672x4096', '4096x14336', '8192x8192'].includes(shapeName(s)),
);
export const QUICK_MS: readonly number[] = [1, 16, 64, 256, 4096];

/** How each measurement is taken, per mode (the addon's option names). */
export interface BenchSettings {
  warmup: number;
  repeats: number;
  replayUs: number;
  maxLaunches: number;
  /** Seconds; 0: no limit. */
  timeLimitS: number;
}

export const FULL_SETTINGS: BenchSettings = { warmup: 3, repeats: 15, replayUs: 4000, maxLaunches: 100, timeLimitS: 900 };
export const QUICK_SETTINGS: BenchSettings = { warmup: 2, repeats: 5, replayUs: 2000, maxLaunches: 50, timeLimitS: 120 };

/** Output differing from cuBLAS's (relative Frobenius) by more than this is a failed check. */
export const CHECK_TOLERANCE = 1e-2;

export function shapeName(s: { N: number; K: number }): string {
  return `${s.N}x${s.K}`;
}

export function knownShape(N: number, K: number): BenchShape {
  return LLAMA_SHAPES.find((s) => s.N === N && s.K === K) ?? { N, K };
}

/** Facts about the run that the addon does not know. */
export interface BenchMeta {
  /** ISO 8601. */
  date: string;
  /** `git rev-parse HEAD` of the package, when it is a git checkout. */
  commit: string | null;
  /** Uncommitted changes to tracked files (null: unknown). */
  dirty: boolean | null;
  version: string;
  node: string;
  host: string;
  quick: boolean;
  shapes: readonly BenchShape[];
  ms: readonly number[];
  formats: readonly BenchFormat[];
  settings: BenchSettings;
}

// ------------------------------------------------------------- numbers ----

export function formatUs(us: number): string {
  return us.toFixed(us < 10 ? 2 : us < 1000 ? 1 : 0);
}

function formatTflops(t: number): string {
  return t.toFixed(t < 10 ? 2 : t < 100 ? 1 : 0);
}

export function formatSpeedup(x: number | null): string {
  return x === null || !Number.isFinite(x) ? '-' : `${x.toFixed(2)}x`;
}

function formatPct(p: number | null): string {
  return p === null || !Number.isFinite(p) ? '-' : `${p.toFixed(0)}%`;
}

function version(v: number): string {
  return v > 0 ? `${Math.floor(v / 1000)}.${(v % 1000) / 10}` : 'none';
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

export function geometricMean(values: readonly number[]): number | null {
  const usable = values.filter((v) => Number.isFinite(v) && v > 0);
  if (usable.length === 0) return null;
  return Math.exp(usable.reduce((a, v) => a + Math.log(v), 0) / usable.length);
}

// -------------------------------------------------------------- summary ----

export interface BenchSummaryEntry {
  format: string;
  M: number;
  /** Shapes measured at this format and M. */
  shapes: number;
  /** Geometric means over those shapes (null: nothing to average). */
  speedup: number | null;
  pctFloor: number | null;
}

/** Per format and M, the geometric means over the shapes. */
export function summarize(rows: readonly AddonBenchRow[]): BenchSummaryEntry[] {
  const out: BenchSummaryEntry[] = [];
  const formats = [...new Set(rows.map((r) => r.format))];
  const ms = [...new Set(rows.map((r) => r.M))].sort((a, b) => a - b);
  for (const format of formats) {
    for (const M of ms) {
      const group = rows.filter((r) => r.format === format && r.M === M);
      if (group.length === 0) continue;
      out.push({
        format,
        M,
        shapes: group.length,
        speedup: geometricMean(group.flatMap((r) => (r.speedup === null ? [] : [r.speedup]))),
        pctFloor: geometricMean(group.map((r) => r.pctFloor)),
      });
    }
  }
  return out;
}

/** Rows whose output disagrees with cuBLAS's (or is not finite). */
export function failedChecks(rows: readonly AddonBenchRow[]): AddonBenchRow[] {
  return rows.filter((r) => r.relError !== null && !(r.relError <= CHECK_TOLERANCE));
}

// --------------------------------------------------------------- text ----

export function benchHeader(result: AddonBenchResult, meta: BenchMeta): string[] {
  const d = result.device;
  const bw = result.bandwidth;
  const dtype = result.settings.xDtype;
  const commit = meta.commit ? `commit ${meta.commit.slice(0, 12)}${meta.dirty ? ' (with uncommitted changes)' : ''}` : 'commit unknown';
  const cublas = result.cublas.found
    ? `${result.cublas.api}${result.cublas.version ? ` ${result.cublas.version}` : ''} (${result.cublas.library})`
    : `not used: ${result.cublas.reason ?? 'unknown'}`;
  const s = result.settings;
  return [
    `razer bench: W4A16 GEMM, ${dtype} X and Y, fp32 accumulation, against cuBLAS's dense ${dtype} GEMM`,
    `GPU:       ${d.name} (device ${d.ordinal}, sm_${d.computeCapability.join('')}, ${d.sms} SMs, ${mib(d.l2Bytes)} L2, ${(d.memoryBytes / 2 ** 30).toFixed(1)} GiB; CUDA driver ${version(d.driverVersion)}, runtime ${version(d.runtimeVersion)})`,
    `Run:       ${meta.date}, ${commit}, nvfp4-razer ${meta.version}, Node ${meta.node}${meta.quick ? ', --quick' : ''}`,
    `Bandwidth: floor ${bw.floorTBs.toFixed(3)} TB/s (read-only reduction ${bw.readTBs.toFixed(3)} TB/s; device-to-device copy ${bw.copyTBs.toFixed(3)} TB/s, bytes read + written; ${mib(bw.bytes)} buffers)`,
    `cuBLAS:    ${cublas}`,
    `Timing:    median of ${s.repeats} replays (CUDA graphs of back-to-back launches, ${s.warmup} warm-up), weights and X rotated over copies of at least 4x the L2`,
  ];
}

export function renderBenchTable(rows: readonly AddonBenchRow[]): string {
  const body: Row[] = [];
  let last = '';
  for (const r of rows) {
    const shape = shapeName(r);
    if (last !== '' && shape !== last) body.push('rule');
    last = shape;
    body.push([
      shape,
      r.format,
      String(r.M),
      `${r.kernel}/s${r.splits}`,
      formatUs(r.us),
      r.tbs.toFixed(2),
      formatTflops(r.tflops),
      formatPct(r.pctFloor),
      r.cublasUs === null ? '-' : formatUs(r.cublasUs),
      formatSpeedup(r.speedup),
    ]);
  }
  return renderTable(
    [
      { header: 'N x K' },
      { header: 'format' },
      { header: 'M', align: 'right' },
      { header: 'kernel/splits' },
      { header: 'µs', align: 'right' },
      { header: 'TB/s', align: 'right' },
      { header: 'TFLOP/s', align: 'right' },
      { header: '% floor', align: 'right' },
      { header: 'cuBLAS µs', align: 'right' },
      { header: 'x cuBLAS', align: 'right' },
    ],
    body,
  );
}

/** The short table printed last: per format, the geometric means over the shapes, by M. */
export function renderSummaryTable(summary: readonly BenchSummaryEntry[]): string {
  const ms = [...new Set(summary.map((e) => e.M))].sort((a, b) => a - b);
  const formats = [...new Set(summary.map((e) => e.format))];
  const shapes = Math.max(0, ...summary.map((e) => e.shapes));
  const body: Row[] = [];
  for (const format of formats) {
    const at = (M: number) => summary.find((e) => e.format === format && e.M === M);
    body.push([format, 'x cuBLAS', ...ms.map((M) => formatSpeedup(at(M)?.speedup ?? null))]);
    body.push([format, '% floor', ...ms.map((M) => formatPct(at(M)?.pctFloor ?? null))]);
  }
  return renderTable(
    [{ header: 'format' }, { header: `geomean of ${shapes} shape${shapes === 1 ? '' : 's'}` }, ...ms.map((M) => ({ header: `M=${M}`, align: 'right' as const }))],
    body,
  );
}

// --------------------------------------------------------------- JSON ----

export interface BenchJson {
  schema: 'nvfp4-razer/bench-w4a16/1';
  tool: 'razer bench';
  version: string;
  date: string;
  commit: string | null;
  dirty: boolean | null;
  node: string;
  host: string;
  run: {
    quick: boolean;
    shapes: [number, number][];
    ms: number[];
    formats: string[];
    xDtype: string;
    device: number;
  } & BenchSettings;
  device: AddonBenchResult['device'];
  bandwidth: AddonBenchResult['bandwidth'];
  cublas: AddonBenchResult['cublas'];
  rows: (AddonBenchRow & {
    shape: string;
    model: string | null;
    layer: string | null;
    /** Our output against cuBLAS's: relError <= checkTolerance (null: no cuBLAS). */
    check: 'pass' | 'fail' | null;
  })[];
  summary: BenchSummaryEntry[];
  checkTolerance: number;
  failedChecks: number;
  stoppedEarly: string | null;
  elapsedS: number;
}

export function benchJson(result: AddonBenchResult, meta: BenchMeta): BenchJson {
  return {
    schema: 'nvfp4-razer/bench-w4a16/1',
    tool: 'razer bench',
    version: meta.version,
    date: meta.date,
    commit: meta.commit,
    dirty: meta.dirty,
    node: meta.node,
    host: meta.host,
    run: {
      quick: meta.quick,
      shapes: meta.shapes.map((s) => [s.N, s.K]),
      ms: [...meta.ms],
      formats: [...meta.formats],
      xDtype: result.settings.xDtype,
      device: result.device.ordinal,
      ...meta.settings,
    },
    device: result.device,
    bandwidth: result.bandwidth,
    cublas: result.cublas,
    rows: result.rows.map((r) => {
      const known = knownShape(r.N, r.K);
      // A NaN relError (non-finite output) becomes null in JSON; `check` keeps the verdict.
      const check = r.relError === null ? null : r.relError <= CHECK_TOLERANCE ? 'pass' : 'fail';
      return { shape: shapeName(r), model: known.model ?? null, layer: known.layer ?? null, ...r, check };
    }),
    summary: summarize(result.rows),
    checkTolerance: CHECK_TOLERANCE,
    failedChecks: failedChecks(result.rows).length,
    stoppedEarly: result.stoppedEarly,
    elapsedS: result.elapsedS,
  };
}

// -------------------------------------------------------------- chart ----

const FORMAT_COLORS: Record<string, string> = { nvfp4: '#1f6fb4', nvfp4_razer: '#d1402a' };
const FALLBACK_COLORS = ['#2a9d4b', '#8e44ad', '#e69500'];

function speedupLabel(v: number): string {
  return `${Number(v.toPrecision(3))}x`;
}

/**
 * Speed-up over cuBLAS (y, log scale) against M (x, log scale): per format,
 * the geometric mean over the shapes as a bold line with markers, and each
 * shape as a thin faint line of the same colour. Null without cuBLAS rows.
 */
export function speedupChart(result: AddonBenchResult, meta: BenchMeta): string | null {
  const rows = result.rows.filter((r) => r.speedup !== null && Number.isFinite(r.speedup) && (r.speedup as number) > 0);
  if (rows.length === 0) return null;
  const formats = [...new Set(rows.map((r) => r.format))];
  const shapes = [...new Set(rows.map((r) => shapeName(r)))];
  const colorOf = (f: string, i: number) => FORMAT_COLORS[f] ?? FALLBACK_COLORS[i % FALLBACK_COLORS.length];
  const series: ChartSeries[] = [];
  formats.forEach((format, i) => {
    for (const shape of shapes) {
      const points = rows.filter((r) => r.format === format && shapeName(r) === shape).map((r) => ({ x: r.M, y: r.speedup as number }));
      if (points.length > 0) {
        series.push({ name: `${format} ${shape}`, points, color: colorOf(format, i), width: 1.2, opacity: 0.3, legend: false });
      }
    }
  });
  const summary = summarize(rows);
  formats.forEach((format, i) => {
    const points = summary
      .filter((e) => e.format === format && e.speedup !== null)
      .map((e) => ({ x: e.M, y: e.speedup as number }));
    series.push({ name: `${format} (geomean)`, points, color: colorOf(format, i), width: 3, markers: true });
  });
  const ms = [...new Set(rows.map((r) => r.M))].sort((a, b) => a - b);
  const commit = meta.commit ? `commit ${meta.commit.slice(0, 12)}${meta.dirty ? '+' : ''}` : 'commit unknown';
  const dtype = result.settings.xDtype;
  return renderLineChart({
    title: `W4A16 speed-up over cuBLAS ${dtype} GEMM, ${result.device.name}`,
    subtitle: [
      `${dtype} X and Y; ${shapes.length} weight shape${shapes.length === 1 ? '' : 's'} (N x K); ${meta.date.slice(0, 10)}, ${commit}, nvfp4-razer ${meta.version}`,
    ],
    xLabel: 'M (rows of X, tokens)',
    yLabel: 'speed-up over cuBLAS (x, log scale)',
    series,
    xAxis: 'log',
    yAxis: 'log',
    xTicks: ms,
    xTickLabel: (v) => String(v),
    yTickLabel: speedupLabel,
    referenceY: { value: 1, label: `cuBLAS ${dtype} (1x)` },
    notes: [`thin lines: each of ${shapes.length} shapes`, 'bold: geometric mean'],
  });
}
