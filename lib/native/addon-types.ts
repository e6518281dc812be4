// The typed boundary (node-llama-cpp's AddonTypes.ts): exactly what
// build/Release/razer.node exports (binding/addon.cc), and nothing more.
// Everything above this file is ordinary typed TypeScript.
//
// Conventions of the raw addon:
// * Argument errors are thrown synchronously, before any work is queued, as
//   errors with a stable `.code` (RazerError instances once the loader has
//   called setErrorFactory). Failures found while working (ERR_NON_FINITE,
//   CUDA errors) reject the Promise, or throw from the Sync variant.
// * Input buffers are pinned until the work completes; do not detach
//   (transfer) them meanwhile.
// * `threads`: 0 or absent means one per hardware thread.

/** Formats the native backend implements (mxfp4 and nf4 are reference-only). */
export type NativeFormat = 'nvfp4' | 'nvfp4_4over6' | 'nvfp4_razer' | 'nvfp4_razer_a';
/** Element types of tensors given to or returned by the CPU backend. */
export type NativeDtype = 'f32' | 'f16' | 'bf16';
/** Element types a DeviceTensor can hold. */
export type DeviceDtype = NativeDtype | 'u8';

/** The typed array that carries each element type on the host. */
export type HostArray<D extends DeviceDtype> = D extends 'f32'
  ? Float32Array
  : D extends 'u8'
    ? Uint8Array
    : Uint16Array;

/** A typed array of fp32 values, or of fp16/bf16 bits. */
export type TensorData = Float32Array | Uint16Array;

export interface AddonQuantizeOptions {
  /** Required ('f16' or 'bf16') for a Uint16Array; 'f32' or absent for a Float32Array. */
  dtype?: NativeDtype;
  svSmall?: number;
  svBig?: number;
  svAct?: number;
  /** nvfp4 / nvfp4_razer_a only: a static global scale instead of amax-based. */
  globalScale?: number;
  threads?: number;
  /** Names the tensor in ERR_NON_FINITE messages (default 'data'). */
  name?: string;
}

export interface AddonQuantized {
  codes: Uint8Array;
  scales: Uint8Array;
  globalScale: number;
}

/** A quantized weight, [rows, cols] = [N, K], in the canonical layout. */
export interface AddonWeight {
  format: NativeFormat;
  rows: number;
  cols: number;
  codes: Uint8Array;
  scales: Uint8Array;
  globalScale: number;
  /** nvfp4_razer (defaults 5 and 8). */
  svSmall?: number;
  svBig?: number;
  /** nvfp4_razer_a (default 5). */
  svAct?: number;
}

export interface AddonThreadsOptions {
  threads?: number;
}

export interface AddonW4A4Options extends AddonThreadsOptions {
  /** How X is quantized per call (default 'nvfp4'). */
  activationFormat?: 'nvfp4' | 'nvfp4_razer_a';
  svAct?: number;
  /** A static global scale for X; absent: dynamic, amax(X) / 2688. */
  activationGlobalScale?: number;
}

/** A weight copied into native memory once, usable by every GEMM call. */
export interface AddonNativeWeight {
  readonly format: NativeFormat;
  readonly rows: number;
  readonly cols: number;
  readonly globalScale: number;
  readonly byteLength: number;
  readonly disposed: boolean;
  dispose(): void;
  [Symbol.dispose](): void;
}

export interface AddonNativeWeightClass {
  /** Copies codes and scales (nvfp4_4over6 is stored as nvfp4, its data format). */
  fromQuantized(weight: AddonWeight): AddonNativeWeight;
}

export interface AddonDeviceTensor<D extends DeviceDtype = DeviceDtype> {
  readonly device: number;
  readonly dtype: D;
  readonly shape: number[];
  readonly byteLength: number;
  readonly disposed: boolean;
  toHost(): Promise<HostArray<D>>;
  toHostSync(): HostArray<D>;
  dispose(): void;
  [Symbol.dispose](): void;
}

export interface AddonDeviceTensorClass {
  /** Zero-filled device memory. */
  alloc<D extends DeviceDtype>(device: number, dtype: D, shape: readonly number[]): AddonDeviceTensor<D>;
  fromHost<D extends DeviceDtype>(
    array: HostArray<D>,
    dtype: D,
    shape: readonly number[],
    options?: { device?: number },
  ): Promise<AddonDeviceTensor<D>>;
  fromHostSync<D extends DeviceDtype>(
    array: HostArray<D>,
    dtype: D,
    shape: readonly number[],
    options?: { device?: number },
  ): AddonDeviceTensor<D>;
}

export type AddonWeightArg = AddonWeight | AddonNativeWeight;

/** What the cheap probe learns (no CUDA context is created). */
export interface AddonCudaProbe {
  /** Was the addon compiled with CUDA (nvcc found at build time)? */
  compiled: boolean;
  /** e.g. ['sm_80', 'sm_90a', 'compute_120']. */
  targets: string[];
  /** cudaDriverGetVersion: 0 when no libcuda.so.1 could be loaded. */
  driverVersion: number;
  /** cudaRuntimeGetVersion of the statically linked runtime, e.g. 13000. */
  runtimeVersion: number;
  deviceCount: number;
  /** cudaGetDeviceCount's error name (e.g. 'cudaErrorInsufficientDriver'), or null. */
  error: string | null;
  errorMessage: string | null;
  devices: {
    ordinal: number;
    name: string;
    computeCapability: [number, number];
    /** Does a compiled target match this compute capability? */
    imageExpected: boolean;
  }[];
}

export interface AddonDeviceInfo {
  ordinal: number;
  name: string;
  computeCapability: [number, number];
  totalMemory: number;
  freeMemory: number;
  backend: 'cuda';
  /** Does this build have a kernel image the device can run (checked by CUDA)? */
  kernels: boolean;
  /** Why not, when kernels is false. */
  kernelError?: string;
}

export interface AddonBuildInfo {
  version: string;
  napiVersion: number;
  cuda: boolean;
  cudaTargets: string[];
  cudaRuntimeVersion: number;
  compiler: string;
}

/** Native memory held by this environment's (thread's) live native objects. */
export interface AddonMemoryStats {
  /** NativeWeight and DeviceTensor objects not yet disposed or collected. */
  liveObjects: number;
  /** Their bytes (host and device), as reported to V8. */
  nativeBytes: number;
  /** V8's running total of external memory adjustments (all addons, this isolate). */
  v8ExternalMemory: number;
}

export interface RazerAddon {
  /** How the addon makes its errors (the loader passes RazerError's constructor). */
  setErrorFactory(factory: (code: string, message: string) => Error): void;
  buildInfo(): AddonBuildInfo;
  memoryStats(): AddonMemoryStats;

  quantize(
    format: NativeFormat,
    data: TensorData,
    rows: number,
    cols: number,
    options?: AddonQuantizeOptions,
  ): Promise<AddonQuantized>;
  quantizeSync(
    format: NativeFormat,
    data: TensorData,
    rows: number,
    cols: number,
    options?: AddonQuantizeOptions,
  ): AddonQuantized;

  dequantize(weight: AddonWeightArg, options?: AddonThreadsOptions): Promise<Float32Array>;
  dequantizeSync(weight: AddonWeightArg, options?: AddonThreadsOptions): Float32Array;

  /** Y[M, N] = X[M, K] · Ŵ[N, K]ᵀ * G_w (+ bias); f32 output is a Float32Array, f16/bf16 a Uint16Array. */
  gemmW4A16(
    x: TensorData,
    xDtype: NativeDtype,
    M: number,
    weight: AddonWeightArg,
    bias: Float32Array | null,
    outDtype: NativeDtype,
    options?: AddonThreadsOptions,
  ): Promise<Float32Array | Uint16Array>;
  gemmW4A16Sync(
    x: TensorData,
    xDtype: NativeDtype,
    M: number,
    weight: AddonWeightArg,
    bias: Float32Array | null,
    outDtype: NativeDtype,
    options?: AddonThreadsOptions,
  ): Float32Array | Uint16Array;

  /** X quantized per call, then Y = (Σ x̂ŵ) * (G_x * G_w) (+ bias). */
  gemmW4A4(
    x: TensorData,
    xDtype: NativeDtype,
    M: number,
    weight: AddonWeightArg,
    bias: Float32Array | null,
    outDtype: NativeDtype,
    options?: AddonW4A4Options,
  ): Promise<Float32Array | Uint16Array>;
  gemmW4A4Sync(
    x: TensorData,
    xDtype: NativeDtype,
    M: number,
    weight: AddonWeightArg,
    bias: Float32Array | null,
    outDtype: NativeDtype,
    options?: AddonW4A4Options,
  ): Float32Array | Uint16Array;

  /** Cheap: safe with no driver, no device, or an addon built without CUDA. */
  cudaProbe(): AddonCudaProbe;
  /** Every device, with memory and kernel-image checks; throws ERR_NO_GPU when there is none. */
  devices(): AddonDeviceInfo[];
  /** Launches the probe kernel on a device and waits: true, or throws (ERR_CUDA, ERR_ARCH, ERR_NO_GPU). */
  cudaSelfTest(device?: number): true;

  NativeWeight: AddonNativeWeightClass;
  DeviceTensor: AddonDeviceTensorClass;
}
