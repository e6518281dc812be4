// Quantization error of tensors in several formats (reference quantizer,
// dequantize, compare), and its rendering as a table or JSON. Shared by
// `razer error` and `razer demo`.

import type { Format } from '../formats.js';
import { type ErrorMetrics, combineMetrics, errorMetrics } from '../metrics.js';
import { dequantize, quantize } from '../quantize.js';
import { type QuantizerFlags, quantizeOptionsFor } from './options.js';
import { type Column, type ColumnGroup, type Row, renderTable } from './table.js';
import { formatDb, formatSci, formatShape } from './units.js';

export interface TensorErrors {
  readonly name: string;
  readonly shape: readonly [number, number];
  readonly byFormat: ReadonlyMap<Format, ErrorMetrics>;
}

/** Quantize `x` (exact fp32) in each format, dequantize, and measure. */
export function measureFormats(
  name: string,
  x: Float32Array,
  shape: readonly [number, number],
  formats: readonly Format[],
  flags: QuantizerFlags,
): TensorErrors {
  const byFormat = new Map<Format, ErrorMetrics>();
  for (const format of formats) {
    const q = quantize(x, shape, format, { ...quantizeOptionsFor(format, flags, formats), name });
    byFormat.set(format, errorMetrics(x, dequantize(q)));
  }
  return { name, shape, byFormat };
}

export function overallErrors(tensors: readonly TensorErrors[], formats: readonly Format[]): Map<Format, ErrorMetrics> {
  return new Map(
    formats.map((f) => [f, combineMetrics(tensors.map((t) => t.byFormat.get(f) as ErrorMetrics))]),
  );
}

/** The format others are compared with: plain NVFP4 when it was measured. */
const BASELINE: Format = 'nvfp4';

/**
 * One row per tensor, MSE and SQNR per format, then the overall row and,
 * when nvfp4 is among the formats, each format's MSE relative to it (and
 * the SQNR gain in dB).
 */
export function renderErrorTable(tensors: readonly TensorErrors[], formats: readonly Format[]): string {
  const columns: Column[] = [{ header: 'tensor' }, { header: 'shape' }];
  const groups: ColumnGroup[] = [{ title: '', span: 2 }];
  for (const f of formats) {
    columns.push({ header: 'MSE', align: 'right' }, { header: 'SQNR dB', align: 'right' });
    groups.push({ title: f, span: 2 });
  }
  const cells = (m: ErrorMetrics) => [formatSci(m.mse), formatDb(m.sqnrDb)];
  const rows: Row[] = tensors.map((t) => [
    t.name,
    formatShape(t.shape),
    ...formats.flatMap((f) => cells(t.byFormat.get(f) as ErrorMetrics)),
  ]);
  const overall = overallErrors(tensors, formats);
  rows.push('rule', ['overall', '', ...formats.flatMap((f) => cells(overall.get(f) as ErrorMetrics))]);
  const base = overall.get(BASELINE);
  if (base) {
    rows.push([
      `relative to ${BASELINE}`,
      '',
      ...formats.flatMap((f) => {
        const m = overall.get(f) as ErrorMetrics;
        const gain = m.sqnrDb - base.sqnrDb;
        return [`${relativeMse(m, base).toFixed(3)}x`, Number.isNaN(gain) ? '-' : `${gain >= 0 ? '+' : ''}${formatDb(gain)}`];
      }),
    ]);
  }
  return renderTable(columns, rows, groups);
}

function relativeMse(m: ErrorMetrics, base: ErrorMetrics): number {
  return base.mse === 0 ? (m.mse === 0 ? 1 : Infinity) : m.mse / base.mse;
}

function metricsJson(m: ErrorMetrics) {
  // JSON has no Infinity: an exact reconstruction's SQNR becomes null.
  return {
    mse: m.mse,
    sqnrDb: Number.isFinite(m.sqnrDb) ? m.sqnrDb : null,
    relFrobenius: m.relFrobenius,
    maxAbs: m.maxAbs,
  };
}

export function errorReportJson(tensors: readonly TensorErrors[], formats: readonly Format[]) {
  const overall = overallErrors(tensors, formats);
  const base = overall.get(BASELINE);
  return {
    formats,
    tensors: tensors.map((t) => ({
      name: t.name,
      shape: t.shape,
      errors: Object.fromEntries(formats.map((f) => [f, metricsJson(t.byFormat.get(f) as ErrorMetrics)])),
    })),
    overall: Object.fromEntries(
      formats.map((f) => {
        const m = overall.get(f) as ErrorMetrics;
        return [f, { ...metricsJson(m), ...(base ? { mseRelativeToNvfp4: relativeMse(m, base) } : {}) }];
      }),
    ),
  };
}
