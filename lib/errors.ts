// One error class for the whole package, with stable codes callers can branch on.

export type RazerErrorCode =
  | 'ERR_ARGUMENT' // a bad option or argument value
  | 'ERR_SHAPE' // shape or length mismatch, K not a multiple of the block
  | 'ERR_DTYPE' // wrong or unsupported element type
  | 'ERR_FORMAT' // unknown quantization format
  | 'ERR_NON_FINITE' // NaN or ±Inf in a tensor being quantized
  | 'ERR_FILE' // malformed, truncated or inconsistent file
  | 'ERR_NO_GPU' // no usable CUDA device (none, no driver, or an addon built without CUDA)
  | 'ERR_ARCH' // the GPU's architecture has no kernel image in this build
  | 'ERR_OOM' // out of device (or host) memory
  | 'ERR_DISPOSED' // a native object used after dispose()
  | 'ERR_CUDA' // any other CUDA error (the message names it, with versions and device)
  | 'ERR_NATIVE'; // the native addon is missing, or failed in an unexpected way

export class RazerError extends Error {
  readonly code: RazerErrorCode;
  constructor(code: RazerErrorCode, message: string) {
    super(message);
    this.name = 'RazerError';
    this.code = code;
  }
}

/** Describe a value briefly for "expected X, got Y" messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `[${value.map(describe).join(', ')}]`;
  if (ArrayBuffer.isView(value)) {
    const len = 'length' in value ? (value as { length: number }).length : value.byteLength;
    return `${value.constructor.name}(${len})`;
  }
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return String(value);
}
