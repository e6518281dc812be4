// The cuda backend for host arrays, what quantize() and gemmW4A16() run on a
// GPU: upload the inputs, run the device operation (gpu.ts), copy the result
// back into ordinary host arrays, and free every device allocation before
// returning, whether the call succeeded or not.

import { RazerError, describe } from '../errors.js';
import type { QuantizeOptions, QuantizedTensor } from '../formats.js';
import type { GemmOptions } from '../reference/gemm.js';
import { checkBlocks, checkShape, inputDtype } from '../reference/input.js';
import type { NativeFormat } from './addon-types.js';
import { checkFixedBlock, toQuantizedTensor } from './calls.js';
import { type DeviceQuantizeOptions, GpuWeight, gemmW4A16GpuSync, quantizeOnDevice, quantizeOnDeviceSync } from './gpu.js';
import { DeviceTensor } from './index.js';
import { backendInfo, loadAddon } from './loader.js';

interface Owned {
  dispose(): void;
}
type Own = <O extends Owned>(o: O) => O;

/** Runs `body`, then disposes what it passed to `own` (newest first), also when it throws. */
function owning<T>(body: (own: Own) => T): T {
  const owned: Owned[] = [];
  try {
    return body((o) => (owned.push(o), o));
  } finally {
    for (const o of owned.reverse()) o.dispose();
  }
}

/** owning() for a body that returns a Promise: disposes once it settles. */
async function owningAsync<T>(body: (own: Own) => Promise<T>): Promise<T> {
  const owned: Owned[] = [];
  try {
    return await body((o) => (owned.push(o), o));
  } finally {
    for (const o of owned.reverse()) o.dispose();
  }
}

/** The first device this build has kernels for (the cheap probe: no CUDA context). */
function cudaDevice(): number {
  const probe = loadAddon()?.cudaProbe();
  return probe?.devices.find((d) => d.imageExpected)?.ordinal ?? 0;
}

// ------------------------------------------------------------- quantize ----

/** The host-side checks, with the reference's messages, before anything is uploaded. */
function quantizeArgs(data: Float32Array | Uint16Array, shape: readonly [number, number], format: NativeFormat, options: QuantizeOptions) {
  const dtype = inputDtype(data, options.dtype);
  const [rows, cols] = checkShape(shape, data.length);
  checkFixedBlock(format, options.blockSize);
  checkBlocks(cols, 16, format);
  // No `kind`: the device quantizer infers quantize()'s meaning from the
  // format and globalScale. The name defaults as the reference's does, so a
  // non-finite element is reported in the same words.
  const device: DeviceQuantizeOptions = {
    svSmall: options.svSmall,
    svBig: options.svBig,
    svAct: options.svAct,
    globalScale: options.globalScale,
    name: options.name ?? 'data',
  };
  return { dtype, rows, cols, device };
}

/** quantize() on the GPU: bit-identical to the reference (SPEC §6: a non-finite element is ERR_NON_FINITE naming it). */
export function quantizeCudaSync(
  data: Float32Array | Uint16Array,
  shape: readonly [number, number],
  format: NativeFormat,
  options: QuantizeOptions = {},
): QuantizedTensor {
  const a = quantizeArgs(data, shape, format, options);
  return owning((own) => {
    const x = own(DeviceTensor.fromHostSync(data, a.dtype, [a.rows, a.cols], { device: cudaDevice() }));
    const q = own(quantizeOnDeviceSync(x, format, a.device));
    const r = { codes: q.codes.toHostSync(), scales: q.scales.toHostSync(), globalScale: q.globalScale.toHostSync()[0] };
    return toQuantizedTensor(format, a.rows, a.cols, r, options);
  });
}

/** quantizeCudaSync() as a Promise: the copies and the kernels never block the event loop. */
export async function quantizeCuda(
  data: Float32Array | Uint16Array,
  shape: readonly [number, number],
  format: NativeFormat,
  options: QuantizeOptions = {},
): Promise<QuantizedTensor> {
  const a = quantizeArgs(data, shape, format, options);
  return owningAsync(async (own) => {
    const x = own(await DeviceTensor.fromHost(data, a.dtype, [a.rows, a.cols], { device: cudaDevice() }));
    const q = own(await quantizeOnDevice(x, format, a.device));
    const [codes, scales, g] = await Promise.all([q.codes.toHost(), q.scales.toHost(), q.globalScale.toHost()]);
    return toQuantizedTensor(format, a.rows, a.cols, { codes, scales, globalScale: g[0] }, options);
  });
}

// ----------------------------------------------------------------- GEMM ----

/**
 * W4A16 on the GPU for host arrays: uploads X (f16 or bf16 bits) and the
 * weight (then prepacks it), runs the kernel with fp32 output and copies Y
 * back.
 */
export function gemmW4A16CudaSync(
  x: Float32Array | Uint16Array,
  xShape: readonly [number, number],
  w: QuantizedTensor,
  opts: GemmOptions,
): Float32Array {
  if (!(x instanceof Uint16Array) || (opts.dtype !== 'f16' && opts.dtype !== 'bf16')) {
    throw new RazerError(
      'ERR_DTYPE',
      `x: the cuda backend takes X as f16 or bf16 bits (a Uint16Array with options.dtype 'f16' or 'bf16'), got ${describe(x)}${opts.dtype === undefined ? '' : ` with dtype ${describe(opts.dtype)}`}; convert X (codecs.f32ToBf16) or use the cpu backend`,
    );
  }
  if (!Array.isArray(xShape) || xShape.length !== 2 || !xShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new RazerError('ERR_SHAPE', `xShape: expected [rows, cols] of positive integers, got ${describe(xShape)}`);
  }
  const [M, K] = xShape;
  if (x.length !== M * K) {
    throw new RazerError('ERR_SHAPE', `x: [M, K] = [${M}, ${K}] needs ${M * K} elements, got ${x.length}`);
  }
  if (w === null || typeof w !== 'object' || !Array.isArray(w.shape)) {
    throw new RazerError('ERR_ARGUMENT', `w: expected a QuantizedTensor, got ${describe(w)}`);
  }
  if (w.shape[1] !== K) {
    throw new RazerError('ERR_SHAPE', `w: expected K = ${K} (X's columns), got a [${w.shape[0]}, ${w.shape[1]}] weight`);
  }
  const native = backendInfo();
  if (native.backend !== 'cuda') {
    throw new RazerError('ERR_NO_GPU', `backend: cuda is not available here: ${native.reason}`);
  }
  const device = cudaDevice();
  const dtype = opts.dtype;
  return owning((own) => {
    const xt = own(DeviceTensor.fromHostSync(x, dtype, xShape, { device }));
    const wt = own(GpuWeight.fromQuantizedSync(w, { device }));
    const y = own(gemmW4A16GpuSync(xt, wt, { bias: opts.bias, outDtype: 'f32' }));
    return y.toHostSync();
  });
}
