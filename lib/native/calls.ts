// Shared plumbing of the typed wrappers (index.ts, gpu.ts, cuda-host.ts):
// errors out of the addon as RazerErrors, access to the addon for CPU and GPU
// calls, and QuantizedTensors to and from the shape the addon uses.

import { RazerError, type RazerErrorCode, describe } from '../errors.js';
import type { Format, QuantizeOptions, QuantizedTensor } from '../formats.js';
import type { AddonWeight, NativeFormat, RazerAddon } from './addon-types.js';
import { loadAddon, requireAddon } from './loader.js';

/** Any error out of the addon as a RazerError with the same code and message. */
export function asRazerError(e: unknown): RazerError {
  if (e instanceof RazerError) return e;
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    const known = typeof code === 'string' && code.startsWith('ERR_') ? (code as RazerErrorCode) : 'ERR_NATIVE';
    const wrapped = new RazerError(known, e.message);
    wrapped.stack = e.stack;
    return wrapped;
  }
  return new RazerError('ERR_NATIVE', String(e));
}

export function call<T>(what: string, body: (addon: RazerAddon) => T): T {
  try {
    return body(requireAddon(what));
  } catch (e) {
    throw asRazerError(e);
  }
}

export async function callAsync<T>(what: string, body: (addon: RazerAddon) => Promise<T>): Promise<T> {
  try {
    return await body(requireAddon(what));
  } catch (e) {
    throw asRazerError(e);
  }
}

/** The addon for a GPU call: without it there is no GPU path at all, which is ERR_NO_GPU. */
export function gpuAddon(what: string): RazerAddon {
  const addon = loadAddon();
  if (addon === null) {
    // Callers probing for a GPU branch on ERR_NO_GPU.
    try {
      requireAddon(what);
    } catch (e) {
      throw new RazerError('ERR_NO_GPU', (e as Error).message);
    }
  }
  return addon as RazerAddon;
}

/** A GPU call (synchronous): RazerErrors, ERR_NO_GPU without the addon. */
export function gpuCall<T>(what: string, body: (addon: RazerAddon) => T): T {
  try {
    return body(gpuAddon(what));
  } catch (e) {
    throw asRazerError(e);
  }
}

/** A GPU call returning a Promise: every failure, argument errors included, rejects. */
export async function gpuCallAsync<T>(what: string, body: (addon: RazerAddon) => Promise<T>): Promise<T> {
  try {
    return await body(gpuAddon(what));
  } catch (e) {
    throw asRazerError(e);
  }
}

/** A QuantizedTensor as the addon takes it ([rows, cols] spelled out). */
export function toAddonWeight(q: QuantizedTensor, argument = 'w'): AddonWeight {
  if (q === null || typeof q !== 'object' || !Array.isArray(q.shape)) {
    throw new RazerError('ERR_ARGUMENT', `${argument}: expected a QuantizedTensor, got ${describe(q)}`);
  }
  return {
    format: q.format as NativeFormat,
    rows: q.shape[0],
    cols: q.shape[1],
    codes: q.codes,
    scales: q.scales as Uint8Array,
    globalScale: q.globalScale,
    svSmall: q.svSmall,
    svBig: q.svBig,
    svAct: q.svAct,
  };
}

/** The reference's QuantizedTensor for a native quantizer's result (same fields, same order). */
export function toQuantizedTensor(
  format: NativeFormat,
  rows: number,
  cols: number,
  r: { codes: Uint8Array; scales: Uint8Array; globalScale: number },
  options: Pick<QuantizeOptions, 'svSmall' | 'svBig' | 'svAct'>,
): QuantizedTensor {
  const base = { format, shape: [rows, cols] as const, codes: r.codes, scales: r.scales, globalScale: r.globalScale, blockSize: 16 };
  if (format === 'nvfp4_razer') return { ...base, svSmall: options.svSmall ?? 5, svBig: options.svBig ?? 8 };
  if (format === 'nvfp4_razer_a') return { ...base, svAct: options.svAct ?? 5 };
  return base;
}

/** options.blockSize, where given, must be the format's fixed 16 (nf4's is a parameter), as the reference says. */
export function checkFixedBlock(format: Format, blockSize: unknown): void {
  if (blockSize !== undefined && blockSize !== 16 && format !== 'nf4') {
    throw new RazerError('ERR_ARGUMENT', `options.blockSize: ${format} has a fixed block of 16, got ${describe(blockSize)}`);
  }
}
