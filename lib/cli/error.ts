// `razer error <file>`: how much each format would lose on a checkpoint's
// weights, measured with the reference quantizer (nothing is written).

import { Command, Option } from 'commander';
import { RazerError } from '../errors.js';
import { type Format, resolveParams } from '../formats.js';
import { SafetensorsReader, tensorToFloat32 } from '../safetensors/index.js';
import { type TensorErrors, errorReportJson, measureFormats, renderErrorTable } from './format-errors.js';
import { SELECTION_HELP, type QuantizerFlags, parseFormatList, quantizeOptionsFor, quantizerOptions, selectionOptions } from './options.js';
import { byteProgress } from './progress.js';
import { selectWeights } from './selection.js';
import { formatDuration } from './units.js';

export const DEFAULT_ERROR_FORMATS: readonly Format[] = ['nvfp4', 'nvfp4_4over6', 'nvfp4_razer', 'mxfp4', 'nf4'];

interface ErrorFlags extends QuantizerFlags {
  formats: Format[];
  include?: string[];
  exclude?: string[];
  json?: boolean;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** A K that fits every format's block: the least common multiple of the blocks. */
export function commonBlockSize(formats: readonly Format[], flags: QuantizerFlags): number {
  return formats
    .map((f) => resolveParams(f, quantizeOptionsFor(f, flags, formats)).blockSize)
    .reduce((a, b) => (a * b) / gcd(a, b), 1);
}

async function runError(file: string, flags: ErrorFlags): Promise<void> {
  const started = performance.now();
  const formats = flags.formats;
  const blockSize = commonBlockSize(formats, flags);
  const reader = await SafetensorsReader.open(file);
  const results: TensorErrors[] = [];
  try {
    const selected = selectWeights(reader.tensors, { blockSize, include: flags.include, exclude: flags.exclude });
    if (selected.size === 0) {
      throw new RazerError(
        'ERR_ARGUMENT',
        `${file}: no tensor to measure (by default 2-D F32/F16/BF16 '.weight' tensors whose K is a multiple of ${blockSize}, except embeddings, lm_head and norms; add some with --include)`,
      );
    }
    const infos = reader.tensors.filter((t) => selected.has(t.name));
    const total = infos.reduce((n, t) => n + t.byteLength, 0);
    const progress = byteProgress(total);
    let done = 0;
    try {
      for (const info of infos) {
        progress.update(done, info.name);
        const x = tensorToFloat32(await reader.read(info.name));
        results.push(measureFormats(info.name, x, [info.shape[0], info.shape[1]], formats, flags));
        done += info.byteLength;
      }
    } finally {
      progress.stop();
    }
  } finally {
    await reader.close();
  }
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ file, ...errorReportJson(results, formats) }, null, 2)}\n`);
    return;
  }
  process.stdout.write(`${renderErrorTable(results, formats)}\n`);
  process.stdout.write(`${results.length} tensors of ${file} in ${formats.length} formats, ${formatDuration(performance.now() - started)}\n`);
}

export function errorCommand(): Command {
  const cmd = new Command('error')
    .summary('compare the quantization error of formats on a checkpoint')
    .description(
      "Measure how much each format would lose on a checkpoint's weights: each selected tensor is quantized with the reference quantizer and dequantized, and its MSE and SQNR reported per format, with the overall error and each format's MSE relative to nvfp4. Nothing is written.",
    )
    .argument('<file>', 'a .safetensors checkpoint')
    .addOption(
      new Option('--formats <list>', 'comma-separated formats to compare')
        .argParser(parseFormatList)
        .default([...DEFAULT_ERROR_FORMATS], DEFAULT_ERROR_FORMATS.join(',')),
    )
    .addHelpText('after', SELECTION_HELP);
  for (const o of [...selectionOptions('measure'), ...quantizerOptions()]) cmd.addOption(o);
  return cmd
    .option('--json', 'print JSON instead of a table')
    .action((file: string, flags: ErrorFlags) => runError(file, flags));
}
