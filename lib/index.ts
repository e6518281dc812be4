// nvfp4-razer: public API.

export { RazerError, type RazerErrorCode } from './errors.js';
export {
  FORMATS,
  FORMAT_INFO,
  type Format,
  type FormatInfo,
  type InputDtype,
  type QuantizeOptions,
  type QuantizedTensor,
} from './formats.js';
export {
  quantize,
  quantizeAsync,
  quantizeBackend,
  quantizeBackendChoice,
  dequantize,
  QUANTIZE_BACKENDS,
  type QuantizeBackend,
  type QuantizeBackendContext,
  type BackendQuantizeOptions,
} from './quantize.js';
export { referenceQuantize } from './reference/quantize.js';
export {
  referenceGemmW4A16,
  referenceGemmW4A4,
  type GemmOptions,
  type W4A4Options,
} from './reference/gemm.js';
export { errorMetrics, combineMetrics, type ErrorMetrics } from './metrics.js';
export * as codecs from './codecs.js';
export {
  SafetensorsReader,
  SafetensorsWriter,
  writeSafetensors,
  tensorToFloat32,
  type Dtype,
  type TensorInfo,
  type TensorData,
  type TensorSpec,
  type TensorToWrite,
} from './safetensors/index.js';
export {
  checkpointEntries,
  checkpointEntrySpecs,
  quantizationMetadata,
  findQuantizedWeights,
  readQuantized,
  type QuantizedWeightInfo,
} from './checkpoint.js';
export { Random, outlierChannelGains } from './random.js';
export { availableBackends, bestBackend, type Backend, type BackendChoice, type BackendInfo } from './backend.js';
export {
  backendInfo,
  devices,
  DeviceTensor,
  NativeWeight,
  nativeQuantize,
  nativeQuantizeSync,
  nativeDequantize,
  nativeDequantizeSync,
  nativeGemmW4A16,
  nativeGemmW4A16Sync,
  nativeGemmW4A4,
  nativeGemmW4A4Sync,
  nativeMemoryStats,
  quantizeOnDevice,
  quantizeOnDeviceSync,
  GpuWeight,
  gemmW4A16Gpu,
  gemmW4A16GpuSync,
  captureGemm,
  type DeviceQuantizeOptions,
  type DeviceQuantizedTensor,
  type GemmGraph,
  type GpuGemmOptions,
  type NativeBackend,
  type NativeBackendInfo,
} from './native/index.js';
