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

// ------------------------------------------------- GPU operations (CUDA) ----
// Work is queued on the device's stream during the call (stream order is
// call order); the Promise settles when the GPU is done; the Sync forms wait.

export interface AddonDeviceQuantizeOptions {
  /**
   * 'weights': nvfp4, nvfp4_4over6, nvfp4_razer (G = amax(x) / divisor, on the
   * device). 'activations': nvfp4, nvfp4_razer_a, with a static G or the
   * dynamic amax(x) / 2688. Default: 'activations' for nvfp4_razer_a, and
   * for nvfp4 with a globalScale; else 'weights' (for nvfp4 the dynamic
   * results are the same).
   */
  kind?: 'weights' | 'activations';
  svSmall?: number;
  svBig?: number;
  svAct?: number;
  /** Activations: a static global scale (uploaded with the call). */
  globalScale?: number;
  /** Names the tensor in ERR_NON_FINITE messages (default 'x'). */
  name?: string;
}

/** quantizeOnDevice's output, in the canonical layout, on x's device. */
export interface AddonDeviceQuantized {
  /** u8 [rows, cols / 2]. */
  codes: AddonDeviceTensor<'u8'>;
  /** u8 [rows, cols / 16]. */
  scales: AddonDeviceTensor<'u8'>;
  /** f32 [1]: the G used. */
  globalScale: AddonDeviceTensor<'f32'>;
}

/** A weight on the GPU, prepacked for the W4A16 kernels. */
export interface AddonGpuWeight {
  /** The data format: nvfp4_4over6 weights are nvfp4 data. */
  readonly format: 'nvfp4' | 'nvfp4_razer';
  /** N. */
  readonly rows: number;
  /** K. */
  readonly cols: number;
  readonly device: number;
  readonly globalScale: number;
  /** nvfp4_razer only. */
  readonly svSmall: number | undefined;
  readonly svBig: number | undefined;
  /** Device bytes of the prepacked weight. */
  readonly byteLength: number;
  readonly disposed: boolean;
  dispose(): void;
  [Symbol.dispose](): void;
}

/** A weight's canonical tensors on a device (e.g. quantizeOnDevice's output). */
export interface AddonDeviceWeightParts {
  format: NativeFormat;
  codes: AddonDeviceTensor;
  scales: AddonDeviceTensor;
  /** An f32 DeviceTensor of one element (read back once), or the value. */
  globalScale: AddonDeviceTensor | number;
  svSmall?: number;
  svBig?: number;
}

export interface AddonGpuWeightClass {
  /** Uploads codes and scales (off the JS thread), then prepacks on the device. */
  fromQuantized(weight: AddonWeightArg, options?: { device?: number }): Promise<AddonGpuWeight>;
  fromQuantizedSync(weight: AddonWeightArg, options?: { device?: number }): AddonGpuWeight;
  /** Prepacks device tensors (queued after whatever wrote them); G read back once. */
  fromDevice(weight: AddonDeviceWeightParts): Promise<AddonGpuWeight>;
  fromDeviceSync(weight: AddonDeviceWeightParts): AddonGpuWeight;
}

export interface AddonGpuGemmOptions {
  /** f32 DeviceTensor [N] or Float32Array(N) (copied at the call). */
  bias?: AddonDeviceTensor | Float32Array | null;
  /** Default: out's dtype when out is given, else 'f32'. */
  outDtype?: NativeDtype;
  /** [M, N] of outDtype, written in place (not x, not the bias); absent: a new tensor. */
  out?: AddonDeviceTensor | null;
}

/** One GEMM launch captured into a CUDA graph; holds the memory of x, w, bias and out until disposed. */
export interface AddonGemmGraph {
  /** The dispatcher's kernel, e.g. 'gemv_m8_r1w8'. */
  readonly kernel: string;
  /** K splits (1: no split). */
  readonly splits: number;
  /** The graph's own device bytes (split-K workspace, an uploaded bias). */
  readonly byteLength: number;
  readonly disposed: boolean;
  /** Launches the graph on the device's stream; settles when it is done. */
  replay(): Promise<void>;
  replaySync(): void;
  dispose(): void;
  [Symbol.dispose](): void;
}

export interface AddonGemmGraphClass {
  capture(
    x: AddonDeviceTensor,
    w: AddonGpuWeight,
    out: AddonDeviceTensor,
    options?: { bias?: AddonDeviceTensor | Float32Array | null; outDtype?: NativeDtype },
  ): AddonGemmGraph;
}

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
  /** NativeWeight, DeviceTensor, GpuWeight and GemmGraph objects not yet disposed or collected. */
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

  /** GPU quantizers on a device tensor x [rows, cols]; ERR_NON_FINITE (first bad index) rejects. */
  quantizeOnDevice(x: AddonDeviceTensor, format: NativeFormat, options?: AddonDeviceQuantizeOptions): Promise<AddonDeviceQuantized>;
  quantizeOnDeviceSync(x: AddonDeviceTensor, format: NativeFormat, options?: AddonDeviceQuantizeOptions): AddonDeviceQuantized;
  /** Y[M, N] = X[M, K] · Ŵᵀ * G_w (+ bias) on the GPU; X f16/bf16. Resolves to out (or a new tensor). */
  gemmW4A16Gpu(x: AddonDeviceTensor, w: AddonGpuWeight, options?: AddonGpuGemmOptions): Promise<AddonDeviceTensor>;
  gemmW4A16GpuSync(x: AddonDeviceTensor, w: AddonGpuWeight, options?: AddonGpuGemmOptions): AddonDeviceTensor;

  /** Cheap: safe with no driver, no device, or an addon built without CUDA. */
  cudaProbe(): AddonCudaProbe;
  /** Every device, with memory and kernel-image checks; throws ERR_NO_GPU when there is none. */
  devices(): AddonDeviceInfo[];
  /** Launches the probe kernel on a device and waits: true, or throws (ERR_CUDA, ERR_ARCH, ERR_NO_GPU). */
  cudaSelfTest(device?: number): true;
  /** The W4A16 GPU benchmark behind `razer bench` (synchronous; ERR_NO_GPU without a usable GPU). */
  benchW4A16(options: AddonBenchOptions): AddonBenchResult;

  NativeWeight: AddonNativeWeightClass;
  DeviceTensor: AddonDeviceTensorClass;
  GpuWeight: AddonGpuWeightClass;
  GemmGraph: AddonGemmGraphClass;
}

// ---- benchW4A16 (binding/bench.cc, binding/bench_gpu.cu) ----

export interface AddonBenchOptions {
  /** [N, K] weight shapes; K a multiple of 16. */
  shapes: readonly (readonly [number, number])[];
  /** Rows of X. */
  ms: readonly number[];
  /** Default both. */
  formats?: readonly ('nvfp4' | 'nvfp4_razer')[];
  /** X and Y element type (default 'bf16'). */
  xDtype?: 'bf16' | 'f16';
  /** Discarded replays before each measurement (default 2). */
  warmup?: number;
  /** Timed replays; the median is reported (default 7). */
  repeats?: number;
  /** Target length of one replay in µs; sets the launches per replay (default 3000). */
  replayUs?: number;
  /** Launches per replay, at most (default 100). */
  maxLaunches?: number;
  /** Time the cuBLAS baseline when a library loads (default true). */
  cublas?: boolean;
  /** A cuBLAS library file to try first (else RAZER_CUBLAS, then the search). */
  cublasPath?: string;
  /** > 0: stop after this many seconds, keeping the rows so far (default 0: none). */
  timeLimitS?: number;
  device?: number;
  /** Called (synchronously) after each row is measured. */
  onRow?: (row: AddonBenchRow, index: number, total: number) => void;
}

export interface AddonBenchRow {
  N: number;
  K: number;
  M: number;
  format: 'nvfp4' | 'nvfp4_razer';
  /** The dispatcher's kernel and K splits (gemm_plan). */
  kernel: string;
  splits: number;
  /** Per launch (median replay / launches per replay). */
  us: number;
  /** That must move: codes + scales + G, X, Y. */
  bytes: number;
  /** 2 M N K. */
  flops: number;
  /** bytes / us (TB/s = 10^12 B/s). */
  tbs: number;
  tflops: number;
  /** bytes / the bandwidth floor. */
  floorUs: number;
  /** 100 floorUs / us. */
  pctFloor: number;
  launches: number;
  weightCopies: number;
  xCopies: number;
  /** Timed as CUDA-graph replays (else plain launches). */
  graph: boolean;
  /** cuBLAS's dense GEMM of the same shape (null: not measured). */
  cublasUs: number | null;
  cublasGraph: boolean | null;
  /** cublasUs / us. */
  speedup: number | null;
  /** ‖Y − Y_cuBLAS‖ / ‖Y_cuBLAS‖ over the first rows (≤ 16); NaN if not finite; null without cuBLAS. */
  relError: number | null;
  /** Why cuBLAS was not timed for this row although a library loaded (no algorithm), else null. */
  cublasError: string | null;
}

export interface AddonBenchResult {
  device: {
    ordinal: number;
    name: string;
    computeCapability: [number, number];
    sms: number;
    l2Bytes: number;
    memoryBytes: number;
    smClockMhz: number;
    memClockMhz: number;
    driverVersion: number;
    runtimeVersion: number;
  };
  /** TB/s; floor = the higher of the copy (read + written) and the read-only reduction. */
  bandwidth: { copyTBs: number; readTBs: number; floorTBs: number; bytes: number };
  cublas: {
    found: boolean;
    library: string | null;
    api: 'cublasLt' | 'cublas' | null;
    version: number | null;
    /** Why not, when not found ('disabled' when options.cublas was false). */
    reason: string | null;
  };
  settings: { xDtype: 'bf16' | 'f16'; warmup: number; repeats: number; replayUs: number; maxLaunches: number };
  rows: AddonBenchRow[];
  /** Why rows are missing (the time limit), else null. */
  stoppedEarly: string | null;
  elapsedS: number;
}
