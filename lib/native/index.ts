// Typed wrappers over the native addon (lib/native/addon-types.ts), shaped
// like the reference API: nativeQuantize returns the same QuantizedTensor as
// quantize(), the GEMMs take the same (x, xShape, w, options) as
// referenceGemmW4A16/W4A4. The Promise forms run on the libuv pool and
// reject with RazerError; the Sync forms block (for benchmarks) and throw.

import { RazerError, describe } from '../errors.js';
import type { Format, QuantizeOptions, QuantizedTensor } from '../formats.js';
import type { GemmOptions, W4A4Options } from '../reference/gemm.js';
import type {
  AddonDeviceInfo,
  AddonMemoryStats,
  AddonDeviceTensor,
  AddonNativeWeight,
  AddonWeightArg,
  DeviceDtype,
  HostArray,
  NativeDtype,
  NativeFormat,
} from './addon-types.js';
import { asRazerError, call, callAsync, checkFixedBlock, gpuAddon, toAddonWeight, toQuantizedTensor } from './calls.js';
import { loadAddon } from './loader.js';

export type { AddonBuildInfo, AddonDeviceInfo, AddonMemoryStats, DeviceDtype, HostArray, NativeDtype, NativeFormat } from './addon-types.js';
export { toAddonWeight } from './calls.js';
export { addonPath, backendInfo, loadAddon, type NativeBackend, type NativeBackendInfo } from './loader.js';
export {
  GpuWeight,
  captureGemm,
  gemmW4A16Gpu,
  gemmW4A16GpuSync,
  quantizeOnDevice,
  quantizeOnDeviceSync,
  type DeviceQuantizeOptions,
  type DeviceQuantizedTensor,
  type GemmGraph,
  type GpuGemmOptions,
} from './gpu.js';

// ------------------------------------------------------------- quantize ----

export interface NativeQuantizeOptions extends QuantizeOptions {
  /** Worker threads for this call; 0 or absent: one per hardware thread. */
  threads?: number;
}

/** As the reference's checkShape (same message); lengths are the addon's to check. */
function checkShape2D(shape: unknown, argument: string): readonly [number, number] {
  if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new RazerError('ERR_SHAPE', `${argument}: expected [rows, cols] of positive integers, got ${describe(shape)}`);
  }
  return shape as unknown as readonly [number, number];
}

function quantizeArgs(
  shape: readonly [number, number],
  format: Format,
  options: NativeQuantizeOptions,
): [number, number] {
  const [rows, cols] = checkShape2D(shape, 'shape');
  checkFixedBlock(format, options.blockSize);
  return [rows, cols];
}

/** quantize() on the C++ CPU backend: bit-identical codes, scales and global scale. */
export async function nativeQuantize(
  data: Float32Array | Uint16Array,
  shape: readonly [number, number],
  format: NativeFormat,
  options: NativeQuantizeOptions = {},
): Promise<QuantizedTensor> {
  return callAsync('nativeQuantize', async (addon) => {
    const [rows, cols] = quantizeArgs(shape, format, options);
    const r = await addon.quantize(format, data, rows, cols, options);
    return toQuantizedTensor(format, rows, cols, r, options);
  });
}

export function nativeQuantizeSync(
  data: Float32Array | Uint16Array,
  shape: readonly [number, number],
  format: NativeFormat,
  options: NativeQuantizeOptions = {},
): QuantizedTensor {
  return call('nativeQuantizeSync', (addon) => {
    const [rows, cols] = quantizeArgs(shape, format, options);
    return toQuantizedTensor(format, rows, cols, addon.quantizeSync(format, data, rows, cols, options), options);
  });
}

// --------------------------------------------------------------- weights ----

/** A quantized weight held in native memory: pass it to the GEMMs instead of a QuantizedTensor to skip per-call copies and checks. */
export type NativeWeight = AddonNativeWeight;

export const NativeWeight = {
  /** Copies the tensor's codes and scales into native memory; free them with dispose(). */
  fromQuantized(q: QuantizedTensor): NativeWeight {
    return call('NativeWeight.fromQuantized', (addon) => addon.NativeWeight.fromQuantized(toAddonWeight(q)));
  },
  [Symbol.hasInstance](value: unknown): boolean {
    const addon = loadAddon();
    return addon !== null && value instanceof (addon.NativeWeight as unknown as new () => object);
  },
};

function isNativeWeight(w: unknown): w is NativeWeight {
  return w instanceof NativeWeight;
}

type WeightInput = QuantizedTensor | NativeWeight;

function weightArg(w: WeightInput): { weight: AddonWeightArg; rows: number; cols: number } {
  if (isNativeWeight(w)) return { weight: w, rows: w.rows, cols: w.cols };
  const weight = toAddonWeight(w);
  return { weight, rows: weight.rows, cols: weight.cols };
}

// ------------------------------------------------------------ dequantize ----

export interface NativeThreadsOptions {
  threads?: number;
}

/** Dequantize to fp32, x̂ = (v * s) * G, exactly as the reference dequantize(). */
export async function nativeDequantize(q: WeightInput, options: NativeThreadsOptions = {}): Promise<Float32Array> {
  return callAsync('nativeDequantize', (addon) => addon.dequantize(weightArg(q).weight, options));
}

export function nativeDequantizeSync(q: WeightInput, options: NativeThreadsOptions = {}): Float32Array {
  return call('nativeDequantizeSync', (addon) => addon.dequantizeSync(weightArg(q).weight, options));
}

// ----------------------------------------------------------------- GEMMs ----

export interface NativeGemmOptions<O extends NativeDtype = NativeDtype> extends GemmOptions {
  /** Output element type (default 'f32'): a Float32Array, or a Uint16Array of fp16/bf16 bits. */
  outDtype?: O;
  threads?: number;
}

export interface NativeW4A4Options<O extends NativeDtype = NativeDtype> extends W4A4Options {
  outDtype?: O;
  threads?: number;
}

function gemmArgs(
  x: Float32Array | Uint16Array,
  xShape: readonly [number, number],
  w: WeightInput,
  options: GemmOptions & { outDtype?: NativeDtype },
): { xDtype: NativeDtype; M: number; weight: AddonWeightArg; bias: Float32Array | null; outDtype: NativeDtype } {
  const [M, K] = checkShape2D(xShape, 'xShape');
  const { weight, rows, cols } = weightArg(w);
  if (cols !== K) {
    throw new RazerError('ERR_SHAPE', `w: expected K = ${K} (X's columns), got a [${rows}, ${cols}] weight`);
  }
  const xDtype: NativeDtype = options.dtype ?? (x instanceof Float32Array ? 'f32' : (undefined as unknown as NativeDtype));
  return { xDtype, M, weight, bias: options.bias ?? null, outDtype: options.outDtype ?? 'f32' };
}

/** W4A16 on the CPU backend: Y = X · Ŵᵀ (+ bias), fp32 accumulation (SPEC §4). */
export async function nativeGemmW4A16<O extends NativeDtype = 'f32'>(
  x: Float32Array | Uint16Array,
  xShape: readonly [number, number],
  w: WeightInput,
  options: NativeGemmOptions<O> = {},
): Promise<HostArray<O>> {
  return callAsync('nativeGemmW4A16', async (addon) => {
    const a = gemmArgs(x, xShape, w, options);
    const y = await addon.gemmW4A16(x, a.xDtype, a.M, a.weight, a.bias, a.outDtype, { threads: options.threads });
    return y as HostArray<O>;
  });
}

export function nativeGemmW4A16Sync<O extends NativeDtype = 'f32'>(
  x: Float32Array | Uint16Array,
  xShape: readonly [number, number],
  w: WeightInput,
  options: NativeGemmOptions<O> = {},
): HostArray<O> {
  return call('nativeGemmW4A16Sync', (addon) => {
    const a = gemmArgs(x, xShape, w, options);
    return addon.gemmW4A16Sync(x, a.xDtype, a.M, a.weight, a.bias, a.outDtype, { threads: options.threads }) as HostArray<O>;
  });
}

function w4a4Options(options: NativeW4A4Options) {
  return {
    activationFormat: options.activationFormat,
    svAct: options.svAct,
    activationGlobalScale: options.activationGlobalScale,
    threads: options.threads,
  };
}

/** W4A4 on the CPU backend: X quantized per call, Y = (Σ x̂ŵ) * (G_x * G_w) (+ bias). */
export async function nativeGemmW4A4<O extends NativeDtype = 'f32'>(
  x: Float32Array | Uint16Array,
  xShape: readonly [number, number],
  w: WeightInput,
  options: NativeW4A4Options<O> = {},
): Promise<HostArray<O>> {
  return callAsync('nativeGemmW4A4', async (addon) => {
    const a = gemmArgs(x, xShape, w, options);
    const y = await addon.gemmW4A4(x, a.xDtype, a.M, a.weight, a.bias, a.outDtype, w4a4Options(options));
    return y as HostArray<O>;
  });
}

export function nativeGemmW4A4Sync<O extends NativeDtype = 'f32'>(
  x: Float32Array | Uint16Array,
  xShape: readonly [number, number],
  w: WeightInput,
  options: NativeW4A4Options<O> = {},
): HostArray<O> {
  return call('nativeGemmW4A4Sync', (addon) => {
    const a = gemmArgs(x, xShape, w, options);
    return addon.gemmW4A4Sync(x, a.xDtype, a.M, a.weight, a.bias, a.outDtype, w4a4Options(options)) as HostArray<O>;
  });
}

/** Live native objects and their bytes in this thread, or null without the addon. */
export function nativeMemoryStats(): AddonMemoryStats | null {
  return loadAddon()?.memoryStats() ?? null;
}

// -------------------------------------------------------------- devices ----

/** Every visible CUDA device; throws RazerError ERR_NO_GPU when there is none (or no CUDA build). */
export function devices(): AddonDeviceInfo[] {
  try {
    return gpuAddon('devices()').devices();
  } catch (e) {
    throw asRazerError(e);
  }
}

/** GPU memory holding a typed, shaped tensor; free it with dispose() (or `using`). */
export type DeviceTensor<D extends DeviceDtype = DeviceDtype> = AddonDeviceTensor<D>;

export const DeviceTensor = {
  /** Zero-filled device memory of `shape` elements of `dtype` on `device`. */
  alloc<D extends DeviceDtype>(device: number, dtype: D, shape: readonly number[]): DeviceTensor<D> {
    try {
      return gpuAddon('DeviceTensor.alloc').DeviceTensor.alloc(device, dtype, shape);
    } catch (e) {
      throw asRazerError(e);
    }
  },
  /** Copies a host array to a new device tensor; settles when the copy is complete. */
  async fromHost<D extends DeviceDtype>(
    array: HostArray<D>,
    dtype: D,
    shape: readonly number[],
    options: { device?: number } = {},
  ): Promise<DeviceTensor<D>> {
    try {
      return await gpuAddon('DeviceTensor.fromHost').DeviceTensor.fromHost(array, dtype, shape, options);
    } catch (e) {
      throw asRazerError(e);
    }
  },
  fromHostSync<D extends DeviceDtype>(
    array: HostArray<D>,
    dtype: D,
    shape: readonly number[],
    options: { device?: number } = {},
  ): DeviceTensor<D> {
    try {
      return gpuAddon('DeviceTensor.fromHostSync').DeviceTensor.fromHostSync(array, dtype, shape, options);
    } catch (e) {
      throw asRazerError(e);
    }
  },
  [Symbol.hasInstance](value: unknown): boolean {
    const addon = loadAddon();
    return addon !== null && value instanceof (addon.DeviceTensor as unknown as new () => object);
  },
};
