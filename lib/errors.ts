// One error class for the whole package, with stable codes callers can branch on.

export type RazerErrorCode =
  | 'ERR_ARGUMENT' // a bad option or argument value
  | 'ERR_SHAPE' // shape or length mismatch, K not a multiple of the block
  | 'ERR_DTYPE' // wrong or unsupported element type
  | 'ERR_FORMAT' // unknown quantization format
  | 'ERR_NON_FINITE' // NaN or ±Inf in a tensor being quantized
  | 'ERR_FILE'; // malformed, truncated or inconsistent file

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
