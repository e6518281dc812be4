// `razer quantize <in> <out> --format <f>`: quantize a checkpoint's linear
// weights, copying every other tensor byte for byte. It streams: the output's
// layout is planned from the input header, then one tensor at a time is read,
// quantized and written, so memory holds one tensor, not the model. The
// output appears (by rename) only once complete. The quantizer runs on the
// best backend that implements the format (or --backend's), and the summary
// says which and why.

import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import {
  type CheckpointEntrySpec,
  checkpointEntries,
  checkpointEntrySpecs,
  findQuantizedWeights,
  quantizationMetadata,
} from '../checkpoint.js';
import { RazerError } from '../errors.js';
import { FORMATS, type Format, type InputDtype, type QuantizeOptions, resolveParams } from '../formats.js';
import type { Backend } from '../backend-choice.js';
import { QUANTIZE_BACKENDS, quantizeAsync, quantizeBackendChoice } from '../quantize.js';
import { SafetensorsReader, SafetensorsWriter, type TensorInfo } from '../safetensors/index.js';
import { SELECTION_HELP, type QuantizerFlags, quantizeOptionsFor, quantizerOptions, selectionOptions } from './options.js';
import { watchInterrupts } from './interrupt.js';
import { byteProgress } from './progress.js';
import { selectWeights } from './selection.js';
import { formatBytes, formatDuration } from './units.js';

interface QuantizeFlags extends QuantizerFlags {
  format: Format;
  backend?: Backend;
  include?: string[];
  exclude?: string[];
}

const INPUT_DTYPES: Readonly<Record<string, InputDtype>> = { F32: 'f32', F16: 'f16', BF16: 'bf16' };

/** One input tensor and what becomes of it. */
interface PlanStep {
  readonly input: TensorInfo;
  /** The output entries: the quantized triple, or the tensor itself. */
  readonly outputs: readonly CheckpointEntrySpec[];
  readonly quantized: boolean;
}

function planOutput(
  tensors: readonly TensorInfo[],
  selected: ReadonlySet<string>,
  format: Format,
  options: QuantizeOptions,
): PlanStep[] {
  const steps = tensors.map((t) =>
    selected.has(t.name)
      ? { input: t, quantized: true, outputs: checkpointEntrySpecs(t.name, format, [t.shape[0], t.shape[1]], options) }
      : { input: t, quantized: false, outputs: [{ name: t.name, dtype: t.dtype, shape: [...t.shape] }] },
  );
  // A quantized weight's X_scale / X_scale_2 must not collide with an existing tensor.
  const producer = new Map<string, string>();
  for (const step of steps) {
    for (const o of step.outputs) {
      const other = producer.get(o.name);
      if (other !== undefined) {
        const by = step.quantized ? step.input.name : other;
        throw new RazerError(
          'ERR_ARGUMENT',
          `${o.name}: the input already has a tensor of this name, and quantizing ${by} would create another (exclude it with --exclude)`,
        );
      }
      producer.set(o.name, step.input.name);
    }
  }
  return steps;
}

/** Quantizing more weights into a checkpoint that holds some already must not mix formats. */
function checkExistingQuantization(reader: SafetensorsReader, metadata: Record<string, string>): void {
  for (const existing of findQuantizedWeights(reader)) {
    const theirs = quantizationMetadata(existing.format, existing.params);
    if (JSON.stringify(theirs) !== JSON.stringify(metadata)) {
      throw new RazerError(
        'ERR_ARGUMENT',
        `${reader.path}: ${existing.name} is already quantized as ${existing.format}; the output would mix it with ${metadata['quantization.format']} (or other parameters)`,
      );
    }
  }
}

/** Read, quantize or copy, and write each tensor in turn; commit at the end, abort on any failure. */
async function streamTensors(
  reader: SafetensorsReader,
  writer: SafetensorsWriter,
  steps: readonly PlanStep[],
  format: Format,
  options: QuantizeOptions,
  backend: Backend,
): Promise<void> {
  const progress = byteProgress(reader.tensors.reduce((n, t) => n + t.byteLength, 0));
  const interrupts = watchInterrupts();
  const notWritten = `${writer.path} not written`;
  try {
    let done = 0;
    for (const step of steps) {
      const { name } = step.input;
      interrupts.check(notWritten);
      progress.update(done, name);
      if (step.quantized) {
        const t = await reader.read(name);
        const data = t.data as Float32Array | Uint16Array;
        const q = await quantizeAsync(data, [t.shape[0], t.shape[1]], format, { ...options, dtype: INPUT_DTYPES[t.dtype], name, backend });
        for (const entry of checkpointEntries(name, q)) await writer.write(entry.name, entry.data);
      } else {
        await writer.write(name, await reader.readBytes(name));
      }
      done += step.input.byteLength;
    }
    interrupts.check(notWritten);
    progress.stop();
    await writer.commit();
  } catch (e) {
    progress.stop();
    await writer.abort();
    throw e;
  } finally {
    interrupts.dispose();
  }
}

async function runQuantize(inputPath: string, outputPath: string, flags: QuantizeFlags): Promise<void> {
  const started = performance.now();
  const format = flags.format;
  const options = quantizeOptionsFor(format, flags, [format]);
  const { blockSize } = resolveParams(format, options);
  // Chosen (or --backend checked) once for all tensors, before any file is touched.
  const choice = quantizeBackendChoice(format, flags.backend, { argument: '--backend' });
  if (resolve(inputPath) === resolve(outputPath)) {
    throw new RazerError('ERR_ARGUMENT', `${outputPath}: the output must not be the input file`);
  }
  const reader = await SafetensorsReader.open(inputPath);
  let summary: string;
  try {
    const selected = selectWeights(reader.tensors, { blockSize, include: flags.include, exclude: flags.exclude });
    if (selected.size === 0) {
      throw new RazerError(
        'ERR_ARGUMENT',
        `${inputPath}: no tensor to quantize (by default 2-D F32/F16/BF16 '.weight' tensors whose K is a multiple of ${blockSize}, except embeddings, lm_head and norms; add some with --include)`,
      );
    }
    const quantMeta = quantizationMetadata(format, options);
    checkExistingQuantization(reader, quantMeta);
    const steps = planOutput(reader.tensors, selected, format, options);
    const writer = await SafetensorsWriter.create(outputPath, steps.flatMap((s) => s.outputs), {
      ...reader.metadata,
      ...quantMeta,
    });
    await streamTensors(reader, writer, steps, format, options, choice.backend);
    const quantized = steps.filter((s) => s.quantized).length;
    const inSize = (await stat(inputPath)).size;
    const outSize = (await stat(outputPath)).size;
    summary =
      `${outputPath}: ${quantized} tensors quantized to ${format}, ${steps.length - quantized} copied; ` +
      `${formatBytes(inSize)} -> ${formatBytes(outSize)} in ${formatDuration(performance.now() - started)} ` +
      `on the ${choice.backend} backend (${choice.reason})`;
  } finally {
    await reader.close();
  }
  process.stdout.write(`${summary}\n`);
}

export function quantizeCommand(): Command {
  const cmd = new Command('quantize')
    .summary('quantize the linear-layer weights of a checkpoint')
    .description(
      'Quantize the linear-layer weights of a safetensors checkpoint, one tensor at a time; every other tensor is copied byte for byte. The output file appears only once complete.',
    )
    .argument('<input>', 'the .safetensors checkpoint to read')
    .argument('<output>', 'the .safetensors file to write (replaced only when complete)')
    .addOption(new Option('-f, --format <format>', 'quantization format').choices(FORMATS).makeOptionMandatory())
    .addOption(
      new Option('--backend <name>', 'where to quantize (default: the best available that implements the format)').choices(
        QUANTIZE_BACKENDS,
      ),
    )
    .addHelpText(
      'after',
      `${SELECTION_HELP}\n\nExample:\n  razer quantize model.safetensors model-razer.safetensors --format nvfp4_razer`,
    );
  for (const o of [...selectionOptions('quantize'), ...quantizerOptions()]) cmd.addOption(o);
  return cmd.action((input: string, output: string, flags: QuantizeFlags) => runQuantize(input, output, flags));
}
