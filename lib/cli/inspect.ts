// `razer inspect <file>`: what a safetensors checkpoint holds, with each
// quantized weight (X, X_scale, X_scale_2) shown as one row with its format.

import { Command } from 'commander';
import { GLOBAL_SCALE_SUFFIX, SCALE_SUFFIX, type QuantizedWeightInfo, findQuantizedWeights } from '../checkpoint.js';
import { RazerError } from '../errors.js';
import { SafetensorsReader, type TensorInfo } from '../safetensors/index.js';
import { renderTable } from './table.js';
import { formatBytes, formatShape } from './units.js';

interface InspectRow {
  name: string;
  /** The stored dtype, or 'packed' for a quantized weight. */
  dtype: string;
  /** The logical shape: [N, K] for a quantized weight, not its packed [N, K/2]. */
  shape: number[];
  bytes: number;
  format?: string;
  /** The stored tensors of a quantized weight. */
  parts?: { name: string; dtype: string; shape: number[]; bytes: number }[];
}

function inspectRows(tensors: readonly TensorInfo[], quantized: readonly QuantizedWeightInfo[]): InspectRow[] {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const grouped = new Map<string, QuantizedWeightInfo>();
  const member = new Set<string>();
  for (const q of quantized) {
    grouped.set(q.name, q);
    for (const suffix of ['', SCALE_SUFFIX, GLOBAL_SCALE_SUFFIX]) member.add(q.name + suffix);
  }
  const rows: InspectRow[] = [];
  for (const t of tensors) {
    const q = grouped.get(t.name);
    if (q) {
      const parts = ['', SCALE_SUFFIX, GLOBAL_SCALE_SUFFIX]
        .map((s) => byName.get(q.name + s))
        .filter((p): p is TensorInfo => p !== undefined)
        .map((p) => ({ name: p.name, dtype: p.dtype, shape: [...p.shape], bytes: p.byteLength }));
      rows.push({
        name: q.name,
        dtype: 'packed',
        shape: [...q.shape],
        bytes: parts.reduce((n, p) => n + p.bytes, 0),
        format: q.format,
        parts,
      });
    } else if (!member.has(t.name)) {
      rows.push({ name: t.name, dtype: t.dtype, shape: [...t.shape], bytes: t.byteLength });
    }
  }
  return rows;
}

/**
 * The quantized weights, or none when their entries are inconsistent: inspect
 * is the tool for looking at such a file, so it lists the raw tensors instead
 * of failing, and says why on stderr.
 */
function quantizedWeightsOrNone(reader: SafetensorsReader): QuantizedWeightInfo[] {
  try {
    return findQuantizedWeights(reader);
  } catch (e) {
    if (!(e instanceof RazerError)) throw e;
    process.stderr.write(`razer: warning: quantized weights not grouped: ${e.message}\n`);
    return [];
  }
}

async function runInspect(file: string, flags: { json?: boolean }): Promise<void> {
  const reader = await SafetensorsReader.open(file);
  let rows: InspectRow[];
  let metadata: Readonly<Record<string, string>>;
  try {
    rows = inspectRows(reader.tensors, quantizedWeightsOrNone(reader));
    metadata = reader.metadata;
  } finally {
    await reader.close();
  }
  const totalBytes = rows.reduce((n, r) => n + r.bytes, 0);
  const quantizedCount = rows.filter((r) => r.format !== undefined).length;
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ file, metadata, totalBytes, tensors: rows }, null, 2)}\n`);
    return;
  }
  const table = renderTable(
    [{ header: 'name' }, { header: 'dtype' }, { header: 'shape' }, { header: 'size', align: 'right' }, { header: 'format' }],
    rows.map((r) => [r.name, r.dtype, formatShape(r.shape), formatBytes(r.bytes), r.format ?? '']),
  );
  process.stdout.write(`${table}\n`);
  process.stdout.write(`${rows.length} tensors (${quantizedCount} quantized), ${formatBytes(totalBytes)}\n`);
  const keys = Object.keys(metadata);
  if (keys.length > 0) {
    process.stdout.write(`metadata: ${keys.map((k) => `${k}=${metadata[k]}`).join(', ')}\n`);
  }
}

export function inspectCommand(): Command {
  return new Command('inspect')
    .summary('list the tensors of a safetensors file')
    .description(
      'List the tensors of a safetensors file: name, dtype, shape and size. A quantized weight (X, X_scale, X_scale_2) is one row with its logical [N, K] shape and its format.',
    )
    .argument('<file>', 'a .safetensors file')
    .option('--json', 'print JSON instead of a table')
    .action((file: string, flags: { json?: boolean }) => runInspect(file, flags));
}
