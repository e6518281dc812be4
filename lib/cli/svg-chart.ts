// A small, self-contained SVG line chart (no chart library): log or linear
// axes, grid and tick labels, a dashed reference line, one <polyline> per
// series and a legend. Used by `razer bench` for its speed-up chart; the
// output is plain SVG 1.1 that browsers and GitHub render as an image.

export type AxisKind = 'log' | 'linear';

export interface ChartPoint {
  x: number;
  y: number;
}

export interface ChartSeries {
  name: string;
  points: readonly ChartPoint[];
  color: string;
  /** Stroke width in px (default 2). */
  width?: number;
  /** Stroke opacity (default 1). */
  opacity?: number;
  /** Circles at the points (default false). */
  markers?: boolean;
  /** Listed in the legend (default true). */
  legend?: boolean;
}

export interface LineChartSpec {
  title: string;
  /** Lines of smaller text under the title. */
  subtitle?: readonly string[];
  xLabel: string;
  yLabel: string;
  series: readonly ChartSeries[];
  xAxis?: AxisKind;
  yAxis?: AxisKind;
  /** Tick positions (default: powers of 2 (log) or 6 even steps (linear) over the data). */
  xTicks?: readonly number[];
  yTicks?: readonly number[];
  xTickLabel?: (v: number) => string;
  yTickLabel?: (v: number) => string;
  /** A dashed horizontal line, e.g. parity with a baseline. */
  referenceY?: { value: number; label: string };
  /** Text lines under the legend. */
  notes?: readonly string[];
  width?: number;
  height?: number;
}

/** The plot area inside the margins, in SVG user units (px). */
export interface PlotArea {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/** Maps [lo, hi] onto [from, to], logarithmically or linearly. */
export function axisScale(kind: AxisKind, lo: number, hi: number, from: number, to: number): (v: number) => number {
  if (kind === 'log') {
    if (!(lo > 0 && hi > 0)) throw new RangeError(`a log axis needs a positive range, got [${lo}, ${hi}]`);
    const a = Math.log(lo);
    const span = Math.log(hi) - a || 1;
    return (v) => from + ((Math.log(v) - a) / span) * (to - from);
  }
  const span = hi - lo || 1;
  return (v) => from + ((v - lo) / span) * (to - from);
}

/** Powers of two covering [lo, hi] (lo, hi > 0). */
export function powerOfTwoTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log2(lo)); e <= Math.ceil(Math.log2(hi)); e++) ticks.push(2 ** e);
  return ticks;
}

function linearTicks(lo: number, hi: number): number[] {
  const raw = (hi - lo) / 6 || 1;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) as number;
  const ticks: number[] = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function fmt(v: number): string {
  return Number(v.toFixed(1)).toString();
}

function defaultLabel(v: number): string {
  return Number.isInteger(v) ? String(v) : Number(v.toPrecision(3)).toString();
}

/** The domain of an axis: the data (and ticks and reference) with a little room on a log axis. */
function domain(kind: AxisKind, values: number[]): [number, number] {
  const usable = values.filter((v) => Number.isFinite(v) && (kind === 'linear' || v > 0));
  if (usable.length === 0) return kind === 'log' ? [1, 2] : [0, 1];
  let lo = Math.min(...usable);
  let hi = Math.max(...usable);
  if (lo === hi) {
    lo = kind === 'log' ? lo / 2 : lo - 1;
    hi = kind === 'log' ? hi * 2 : hi + 1;
  }
  return [lo, hi];
}

export function renderLineChart(spec: LineChartSpec): string {
  const width = spec.width ?? 960;
  const height = spec.height ?? 560;
  const xKind = spec.xAxis ?? 'log';
  const yKind = spec.yAxis ?? 'linear';
  const legendWidth = 230;
  const subtitleLines = spec.subtitle?.length ?? 0;
  const area: PlotArea = { left: 80, top: 56 + 18 * subtitleLines, right: width - legendWidth, bottom: height - 64 };

  const valid = (p: ChartPoint) =>
    Number.isFinite(p.x) && Number.isFinite(p.y) && (xKind === 'linear' || p.x > 0) && (yKind === 'linear' || p.y > 0);
  const points = spec.series.flatMap((s) => s.points.filter(valid));
  const [x0, x1] = domain(xKind, [...points.map((p) => p.x), ...(spec.xTicks ?? [])]);
  const yData = domain(yKind, [...points.map((p) => p.y), ...(spec.referenceY ? [spec.referenceY.value] : [])]);
  const yTicks = spec.yTicks ?? (yKind === 'log' ? powerOfTwoTicks(yData[0], yData[1]) : linearTicks(yData[0], yData[1]));
  const [y0, y1] = domain(yKind, [yData[0], yData[1], ...yTicks]);
  const xTicks = (spec.xTicks ?? (xKind === 'log' ? powerOfTwoTicks(x0, x1) : linearTicks(x0, x1))).filter((v) => v >= x0 && v <= x1);
  const sx = axisScale(xKind, x0, x1, area.left, area.right);
  const sy = axisScale(yKind, y0, y1, area.bottom, area.top);
  const xLabel = spec.xTickLabel ?? defaultLabel;
  const yLabel = spec.yTickLabel ?? defaultLabel;

  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="13">`,
  );
  out.push(`<title>${escapeXml(spec.title)}</title>`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${area.left}" y="28" font-size="17" font-weight="600">${escapeXml(spec.title)}</text>`);
  (spec.subtitle ?? []).forEach((line, i) => {
    out.push(`<text x="${area.left}" y="${48 + 18 * i}" fill="#555555">${escapeXml(line)}</text>`);
  });

  // Grid and ticks.
  out.push(`<g class="grid" stroke="#e3e3e3" stroke-width="1">`);
  for (const v of xTicks) out.push(`<line x1="${fmt(sx(v))}" y1="${area.top}" x2="${fmt(sx(v))}" y2="${area.bottom}"/>`);
  for (const v of yTicks) out.push(`<line x1="${area.left}" y1="${fmt(sy(v))}" x2="${area.right}" y2="${fmt(sy(v))}"/>`);
  out.push(`</g>`);
  out.push(`<g class="x-axis">`);
  out.push(`<line x1="${area.left}" y1="${area.bottom}" x2="${area.right}" y2="${area.bottom}" stroke="#333333"/>`);
  for (const v of xTicks) {
    out.push(
      `<text class="tick" x="${fmt(sx(v))}" y="${area.bottom + 18}" text-anchor="middle">${escapeXml(xLabel(v))}</text>`,
    );
  }
  out.push(
    `<text class="label" x="${fmt((area.left + area.right) / 2)}" y="${area.bottom + 44}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`,
  );
  out.push(`</g>`);
  out.push(`<g class="y-axis">`);
  out.push(`<line x1="${area.left}" y1="${area.top}" x2="${area.left}" y2="${area.bottom}" stroke="#333333"/>`);
  for (const v of yTicks) {
    out.push(
      `<text class="tick" x="${area.left - 8}" y="${fmt(sy(v) + 4)}" text-anchor="end">${escapeXml(yLabel(v))}</text>`,
    );
  }
  const yMid = fmt((area.top + area.bottom) / 2);
  out.push(
    `<text class="label" x="22" y="${yMid}" text-anchor="middle" transform="rotate(-90 22 ${yMid})">${escapeXml(spec.yLabel)}</text>`,
  );
  out.push(`</g>`);

  if (spec.referenceY && spec.referenceY.value >= y0 && spec.referenceY.value <= y1) {
    const y = fmt(sy(spec.referenceY.value));
    out.push(
      `<line class="reference" x1="${area.left}" y1="${y}" x2="${area.right}" y2="${y}" stroke="#333333" stroke-width="1.5" stroke-dasharray="6 4"/>`,
    );
    out.push(
      `<text x="${area.right - 4}" y="${Number(y) - 6}" text-anchor="end" fill="#333333">${escapeXml(spec.referenceY.label)}</text>`,
    );
  }

  // Series: faint ones first, so the bold ones are drawn on top.
  const order = [...spec.series].sort((a, b) => (a.opacity ?? 1) - (b.opacity ?? 1));
  for (const s of order) {
    const pts = [...s.points.filter(valid)].sort((a, b) => a.x - b.x);
    const coords = pts.map((p) => `${fmt(sx(p.x))},${fmt(sy(p.y))}`).join(' ');
    out.push(
      `<polyline class="series" data-series="${escapeXml(s.name)}" points="${coords}" fill="none" stroke="${escapeXml(s.color)}" stroke-width="${s.width ?? 2}" stroke-opacity="${s.opacity ?? 1}" stroke-linejoin="round" stroke-linecap="round"/>`,
    );
    if (s.markers) {
      out.push(`<g class="markers" fill="${escapeXml(s.color)}">`);
      for (const p of pts) out.push(`<circle cx="${fmt(sx(p.x))}" cy="${fmt(sy(p.y))}" r="3.5"/>`);
      out.push(`</g>`);
    }
  }

  // Legend.
  const lx = area.right + 24;
  let ly = area.top + 6;
  out.push(`<g class="legend">`);
  for (const s of spec.series.filter((s) => s.legend ?? true)) {
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 28}" y2="${ly}" stroke="${escapeXml(s.color)}" stroke-width="${s.width ?? 2}" stroke-opacity="${s.opacity ?? 1}"/>`,
    );
    out.push(`<text x="${lx + 36}" y="${ly + 4}">${escapeXml(s.name)}</text>`);
    ly += 22;
  }
  for (const note of spec.notes ?? []) {
    ly += 4;
    out.push(`<text x="${lx}" y="${ly + 4}" fill="#555555" font-size="12">${escapeXml(note)}</text>`);
    ly += 16;
  }
  out.push(`</g>`);
  out.push(`</svg>`);
  return `${out.join('\n')}\n`;
}
