// Safetensors reading and writing (https://github.com/huggingface/safetensors).

export {
  DTYPES,
  DTYPE_SIZES,
  type Dtype,
  type TensorArray,
  checkDtype,
  dtypeSize,
  isDtype,
} from './dtypes.js';
export { MAX_HEADER_LENGTH, type ParsedHeader, type TensorInfo, parseHeader } from './header.js';
export { SafetensorsReader, type TensorData, tensorToFloat32 } from './reader.js';
export {
  SafetensorsWriter,
  type TensorSpec,
  type TensorToWrite,
  planSafetensors,
  writeSafetensors,
} from './writer.js';
