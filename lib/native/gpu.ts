// Typed wrappers over the addon's GPU operations (lib/native/addon-types.ts):
// quantizers on device tensors, weights prepacked on the GPU, the W4A16 GEMM
// on device tensors and its CUDA-graph capture.
//
// Each call queues its kernels on the device's stream at once, so stream
// order is call order: a GEMM after a quantizeOnDevice reads its result even
// if the first Promise was not awaited. The Promise forms settle when the GPU
// is done (the event loop never waits); the Sync forms block, for benchmarks.
// Every argument error is found before anything is queued. Errors are
// RazerErrors (ERR_NO_GPU without a usable GPU or a CUDA build).

import { RazerError, describe } from '../errors.js';
import type { QuantizedTensor } from '../formats.js';
import type {
  AddonDeviceQuantizeOptions,
  AddonDeviceQuantized,
  AddonDeviceTensor,
  AddonDeviceWeightParts,
  AddonGemmGraph,
  AddonGpuWeight,
  AddonNativeWeight,
  AddonWeightArg,
  NativeDtype,
  NativeFormat,
  RazerAddon,
} from './addon-types.js';
import { gpuCall, gpuCallAsync, toAddonWeight } from './calls.js';
import { loadAddon } from './loader.js';

type Tensor<D extends NativeDtype | 'u8' = NativeDtype | 'u8'> = AddonDeviceTensor<D>;

// ------------------------------------------------------------- quantize ----

export type DeviceQuantizeOptions = AddonDeviceQuantizeOptions;

/** A quantized tensor on a GPU: QuantizedTensor's fields, with device tensors. */
export interface DeviceQuantizedTensor {
  readonly format: NativeFormat;
  readonly shape: readonly [number, number];
  /** u8 [rows, cols / 2], element 2j in the low nibble of byte j. */
  readonly codes: Tensor<'u8'>;
  /** u8 [rows, cols / 16]. */
  readonly scales: Tensor<'u8'>;
  /** f32 [1]: the global (decode) scale, on the device. */
  readonly globalScale: Tensor<'f32'>;
  readonly blockSize: 16;
  /** nvfp4_razer only. */
  readonly svSmall?: number;
  readonly svBig?: number;
  /** nvfp4_razer_a only. */
  readonly svAct?: number;
  /** Disposes codes, scales and globalScale. */
  dispose(): void;
  [Symbol.dispose](): void;
}

function deviceQuantized(
  x: Tensor,
  format: NativeFormat,
  r: AddonDeviceQuantized,
  options: DeviceQuantizeOptions,
): DeviceQuantizedTensor {
  const [rows, cols] = x.shape;
  const dispose = (): void => {
    r.codes.dispose();
    r.scales.dispose();
    r.globalScale.dispose();
  };
  const params =
    format === 'nvfp4_razer'
      ? { svSmall: options.svSmall ?? 5, svBig: options.svBig ?? 8 }
      : format === 'nvfp4_razer_a'
        ? { svAct: options.svAct ?? 5 }
        : {};
  return {
    format,
    shape: [rows, cols] as const,
    codes: r.codes,
    scales: r.scales,
    globalScale: r.globalScale,
    blockSize: 16,
    ...params,
    dispose,
    [Symbol.dispose]: dispose,
  };
}

/**
 * Quantize a device tensor x [rows, cols] (f32, f16 or bf16) on its GPU,
 * bit-identical to quantize(): codes, scale bytes and G. `kind` 'weights'
 * (nvfp4, nvfp4_4over6, nvfp4_razer) or 'activations' (nvfp4, nvfp4_razer_a,
 * with a static `globalScale` or the dynamic amax / 2688); NaN or ±Inf
 * rejects with ERR_NON_FINITE naming the first bad element.
 */
export async function quantizeOnDevice(
  x: Tensor<'f32' | 'f16' | 'bf16'>,
  format: NativeFormat,
  options: DeviceQuantizeOptions = {},
): Promise<DeviceQuantizedTensor> {
  return gpuCallAsync('quantizeOnDevice', async (addon) =>
    deviceQuantized(x, format, await addon.quantizeOnDevice(x, format, options), options),
  );
}

export function quantizeOnDeviceSync(
  x: Tensor<'f32' | 'f16' | 'bf16'>,
  format: NativeFormat,
  options: DeviceQuantizeOptions = {},
): DeviceQuantizedTensor {
  return gpuCall('quantizeOnDeviceSync', (addon) =>
    deviceQuantized(x, format, addon.quantizeOnDeviceSync(x, format, options), options),
  );
}

// --------------------------------------------------------------- weights ----

/** A weight on a GPU, prepacked for the W4A16 kernels; free it with dispose() (or `using`). */
export type GpuWeight = AddonGpuWeight;

function isNativeWeight(addon: RazerAddon, w: unknown): w is AddonNativeWeight {
  return w instanceof (addon.NativeWeight as unknown as new () => object);
}

function weightArg(addon: RazerAddon, q: QuantizedTensor | AddonNativeWeight): AddonWeightArg {
  return isNativeWeight(addon, q) ? q : toAddonWeight(q, 'weight');
}

function deviceParts(q: DeviceQuantizedTensor | AddonDeviceWeightParts): AddonDeviceWeightParts {
  if (q === null || typeof q !== 'object') {
    throw new RazerError('ERR_ARGUMENT', `weight: expected quantizeOnDevice's result, got ${describe(q)}`);
  }
  return { format: q.format, codes: q.codes, scales: q.scales, globalScale: q.globalScale, svSmall: q.svSmall, svBig: q.svBig };
}

export const GpuWeight = {
  /**
   * Uploads a host weight (nvfp4, nvfp4_4over6 or nvfp4_razer: a
   * QuantizedTensor or a NativeWeight) to `options.device` (default 0) and
   * prepacks it there. The copies run off the JS thread.
   */
  async fromQuantized(q: QuantizedTensor | AddonNativeWeight, options: { device?: number } = {}): Promise<GpuWeight> {
    return gpuCallAsync('GpuWeight.fromQuantized', (addon) => addon.GpuWeight.fromQuantized(weightArg(addon, q), options));
  },
  fromQuantizedSync(q: QuantizedTensor | AddonNativeWeight, options: { device?: number } = {}): GpuWeight {
    return gpuCall('GpuWeight.fromQuantizedSync', (addon) => addon.GpuWeight.fromQuantizedSync(weightArg(addon, q), options));
  },
  /**
   * Prepacks a weight already on a GPU (quantizeOnDevice's result, kind
   * 'weights'); its G is read back once. The source tensors stay the caller's.
   */
  async fromDevice(q: DeviceQuantizedTensor | AddonDeviceWeightParts): Promise<GpuWeight> {
    return gpuCallAsync('GpuWeight.fromDevice', (addon) => addon.GpuWeight.fromDevice(deviceParts(q)));
  },
  fromDeviceSync(q: DeviceQuantizedTensor | AddonDeviceWeightParts): GpuWeight {
    return gpuCall('GpuWeight.fromDeviceSync', (addon) => addon.GpuWeight.fromDeviceSync(deviceParts(q)));
  },
  [Symbol.hasInstance](value: unknown): boolean {
    const addon = loadAddon();
    return addon !== null && value instanceof (addon.GpuWeight as unknown as new () => object);
  },
};

// ----------------------------------------------------------------- GEMMs ----

export interface GpuGemmOptions<O extends NativeDtype = NativeDtype> {
  /** Added to every row of Y: an f32 DeviceTensor [N], or a Float32Array(N) (copied at the call). */
  bias?: Tensor<'f32'> | Float32Array;
  /** Output element type; default: out's, else 'f32'. */
  outDtype?: O;
  /** Where Y [M, N] goes (not x, not the bias); default: a new tensor. */
  out?: Tensor<O>;
}

/**
 * W4A16 on the GPU: Y[M, N] = X[M, K] · Ŵ[N, K]ᵀ (+ bias), X an f16 or bf16
 * device tensor, fp32 accumulation, G_w applied to the accumulator (SPEC §4).
 * Resolves to `options.out` or a new tensor once the GPU is done.
 */
export async function gemmW4A16Gpu<O extends NativeDtype = 'f32'>(
  x: Tensor<'f16' | 'bf16'>,
  w: GpuWeight,
  options: GpuGemmOptions<O> = {},
): Promise<Tensor<O>> {
  return gpuCallAsync('gemmW4A16Gpu', async (addon) => (await addon.gemmW4A16Gpu(x, w, options)) as Tensor<O>);
}

export function gemmW4A16GpuSync<O extends NativeDtype = 'f32'>(
  x: Tensor<'f16' | 'bf16'>,
  w: GpuWeight,
  options: GpuGemmOptions<O> = {},
): Tensor<O> {
  return gpuCall('gemmW4A16GpuSync', (addon) => addon.gemmW4A16GpuSync(x, w, options) as Tensor<O>);
}

/**
 * One gemmW4A16Gpu(x, w, {bias, out}) launch captured into a CUDA graph:
 * replay() runs it again (same tensors, whatever they hold then) with a
 * single launch, bit-identical to a plain call. The graph keeps the memory
 * of x, w, the bias and out alive until it is disposed.
 */
export type GemmGraph = AddonGemmGraph;

export function captureGemm(
  x: Tensor<'f16' | 'bf16'>,
  w: GpuWeight,
  out: Tensor<NativeDtype>,
  options: { bias?: Tensor<'f32'> | Float32Array } = {},
): GemmGraph {
  return gpuCall('captureGemm', (addon) => addon.GemmGraph.capture(x, w, out, options));
}
