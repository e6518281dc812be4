// Option-argument parsers shared by the sub-commands. They throw commander's
// InvalidArgumentError, so a bad value is reported in one line naming the
// option, before any file is touched.

import { InvalidArgumentError, Option } from 'commander';
import { RazerError } from '../errors.js';
import { FORMATS, type Format, type QuantizeOptions, checkSpecialValue, isFormat, resolveParams } from '../formats.js';
import { checkSeed } from '../random.js';

/** Run a library check; turn its RazerError into commander's error (minus the argument-name prefix). */
function asOptionError<T>(check: () => T): T {
  try {
    return check();
  } catch (e) {
    if (e instanceof RazerError) throw new InvalidArgumentError(e.message.replace(/^[^:]*: /, ''));
    throw e;
  }
}

export function parseNumber(value: string): number {
  const n = value.trim() === '' ? NaN : Number(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got ${JSON.stringify(value)}`);
  return n;
}

export function parseInteger(value: string): number {
  const n = parseNumber(value);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`expected an integer, got ${JSON.stringify(value)}`);
  return n;
}

export function parseSpecialValue(value: string): number {
  const n = parseNumber(value);
  return asOptionError(() => checkSpecialValue(n, 'sv'));
}

/** nf4's block size (the only format whose block is a parameter). */
export function parseBlockSize(value: string): number {
  const n = parseInteger(value);
  return asOptionError(() => resolveParams('nf4', { blockSize: n }).blockSize);
}

export function parseSeed(value: string): number {
  const n = parseInteger(value);
  return asOptionError(() => checkSeed(n));
}

/** A comma-separated list of formats, e.g. 'nvfp4,nvfp4_razer'. */
export function parseFormatList(value: string): Format[] {
  const names = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new InvalidArgumentError(`expected one or more of ${FORMATS.join(', ')}`);
  for (const name of names) {
    if (!isFormat(name)) {
      throw new InvalidArgumentError(`unknown format ${JSON.stringify(name)}; expected one or more of ${FORMATS.join(', ')}`);
    }
  }
  return [...new Set(names as Format[])];
}

/** For repeatable options: each occurrence appends to the list. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The quantizer options every quantizing command accepts. */
export function quantizerOptions(): Option[] {
  return [
    new Option('--sv-small <v>', 'nvfp4_razer: the smaller special value (default 5)').argParser(parseSpecialValue),
    new Option('--sv-big <v>', 'nvfp4_razer: the larger special value (default 8)').argParser(parseSpecialValue),
    new Option('--sv-act <v>', 'nvfp4_razer_a: the special value (default 5)').argParser(parseSpecialValue),
    new Option('--block-size <n>', 'nf4: elements per block (default 64)').argParser(parseBlockSize),
  ];
}

/** --include / --exclude; `verb` says what selection means for the command ('quantize', 'measure'). */
export function selectionOptions(verb: string): Option[] {
  return [
    new Option('--include <glob>', `also ${verb} tensors whose name matches (repeatable)`).argParser(collect),
    new Option('--exclude <glob>', `do not ${verb} tensors whose name matches (repeatable; wins over --include)`).argParser(
      collect,
    ),
  ];
}

/** Help text on the default selection, shared by quantize and error. */
export const SELECTION_HELP = `
Selection: by default every 2-D F32/F16/BF16 tensor named *.weight whose K (last
dimension) is a multiple of the block size, except names containing "embed",
"lm_head" or "norm". Patterns are globs on the full tensor name (picomatch):
  --include 'lm_head.weight'  --exclude '*.mlp.down_proj.*'  --exclude 'model.layers.0.*'`;

export interface QuantizerFlags {
  svSmall?: number;
  svBig?: number;
  svAct?: number;
  blockSize?: number;
}

/**
 * QuantizeOptions for one format from the flags. A flag that does not apply
 * to the format is ignored, except --block-size, which would silently mean
 * nothing for a fixed-block format.
 */
export function quantizeOptionsFor(format: Format, flags: QuantizerFlags, formatsInUse: readonly Format[]): QuantizeOptions {
  if (flags.blockSize !== undefined && !formatsInUse.includes('nf4')) {
    throw new RazerError(
      'ERR_ARGUMENT',
      `--block-size: only nf4 has a configurable block, not ${formatsInUse.join(', ')}`,
    );
  }
  const svSmall = flags.svSmall ?? 5;
  const svBig = flags.svBig ?? 8;
  if (formatsInUse.includes('nvfp4_razer') && svSmall >= svBig) {
    throw new RazerError('ERR_ARGUMENT', `--sv-small: expected less than --sv-big (${svBig}), got ${svSmall}`);
  }
  switch (format) {
    case 'nvfp4_razer':
      return { svSmall, svBig };
    case 'nvfp4_razer_a':
      return { svAct: flags.svAct };
    case 'nf4':
      return { blockSize: flags.blockSize };
    default:
      return {};
  }
}
