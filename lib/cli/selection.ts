// Which tensors of a checkpoint get quantized: linear-layer weights by
// default, adjusted with --include / --exclude name patterns.

import picomatch from 'picomatch';
import { RazerError } from '../errors.js';
import { formatShape } from './units.js';

export interface TensorDescription {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
}

export interface SelectionOptions {
  /** Every selected tensor's K (last dimension) must be a multiple of this. */
  blockSize: number;
  /** Glob patterns (picomatch) adding tensors to the default selection. */
  include?: readonly string[];
  /** Glob patterns removing tensors; they win over --include. */
  exclude?: readonly string[];
}

const FLOAT_DTYPES: readonly string[] = ['F32', 'F16', 'BF16'];

/**
 * Embeddings and the LM head are lookup tables / the last projection, and
 * are conventionally kept in high precision; norms are vectors anyway.
 */
const KEPT_BY_DEFAULT = ['embed', 'lm_head', 'norm'];

/** Why a tensor cannot be quantized at all, or undefined when it can. */
export function unquantizableReason(t: TensorDescription, blockSize: number): string | undefined {
  if (!FLOAT_DTYPES.includes(t.dtype)) return `its dtype is ${t.dtype}, not F32, F16 or BF16`;
  if (t.shape.length !== 2) return `it is not 2-D (shape ${formatShape(t.shape)})`;
  if (t.shape[0] === 0 || t.shape[1] === 0) return `it is empty (shape ${formatShape(t.shape)})`;
  if (t.shape[1] % blockSize !== 0) {
    return `its K = ${t.shape[1]} (last dimension) is not a multiple of the block size ${blockSize}`;
  }
  return undefined;
}

function isDefaultWeight(t: TensorDescription, blockSize: number): boolean {
  return (
    t.name.endsWith('.weight') &&
    !KEPT_BY_DEFAULT.some((part) => t.name.includes(part)) &&
    unquantizableReason(t, blockSize) === undefined
  );
}

function matcher(patterns: readonly string[] | undefined): (name: string) => boolean {
  if (!patterns || patterns.length === 0) return () => false;
  // dot: a name like '.x' is unusual but should still match '*'.
  return picomatch([...patterns], { dot: true });
}

/**
 * The names to quantize, in the tensors' order. An --include that names an
 * unquantizable tensor, or that matches nothing, is an error: silently
 * skipping it would hide a typo or a wrong expectation.
 */
export function selectWeights(tensors: readonly TensorDescription[], opts: SelectionOptions): Set<string> {
  const included = matcher(opts.include);
  const excluded = matcher(opts.exclude);
  for (const pattern of opts.include ?? []) {
    const one = picomatch(pattern, { dot: true });
    if (!tensors.some((t) => one(t.name))) {
      throw new RazerError('ERR_ARGUMENT', `--include ${JSON.stringify(pattern)}: matches no tensor`);
    }
  }
  const selected = new Set<string>();
  for (const t of tensors) {
    if (excluded(t.name)) continue;
    if (included(t.name)) {
      const reason = unquantizableReason(t, opts.blockSize);
      if (reason !== undefined) {
        throw new RazerError('ERR_ARGUMENT', `--include: tensor ${JSON.stringify(t.name)} cannot be quantized: ${reason}`);
      }
      selected.add(t.name);
    } else if (isDefaultWeight(t, opts.blockSize)) {
      selected.add(t.name);
    }
  }
  return selected;
}
