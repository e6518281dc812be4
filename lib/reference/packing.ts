// The canonical packing of 4-bit codes: element 2j in the low nibble of byte j.

export function setCode(codes: Uint8Array, index: number, code: number): void {
  const j = index >>> 1;
  codes[j] = index & 1 ? (codes[j] & 0x0f) | (code << 4) : (codes[j] & 0xf0) | code;
}

export function getCode(codes: Uint8Array, index: number): number {
  const b = codes[index >>> 1];
  return index & 1 ? b >>> 4 : b & 0x0f;
}

/** Pack n codes (n even) from block[0, n) at element index `base` (even). */
export function packBlock(codes: Uint8Array, base: number, block: Uint8Array, n: number): void {
  const j = base >>> 1;
  for (let i = 0; i < n; i += 2) codes[j + (i >>> 1)] = block[i] | (block[i + 1] << 4);
}
