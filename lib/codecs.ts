// Element and scale codecs of SPEC §2, written for clarity and exactness.
// Every function that produces a binary32 result rounds once per operation
// (Math.fround), so it matches the C++ and CUDA codecs bit for bit.

const f32 = Math.fround;

// Scratch views to read the bits of a binary32 value.
const f32Buf = new Float32Array(1);
const u32Buf = new Uint32Array(f32Buf.buffer);

/** The IEEE binary32 bit pattern of `x` (after rounding it to binary32). */
export function f32Bits(x: number): number {
  f32Buf[0] = x;
  return u32Buf[0];
}

/** The binary32 value of a bit pattern. */
export function f32FromBits(bits: number): number {
  u32Buf[0] = bits >>> 0;
  return f32Buf[0];
}

/** floor(log2(x)) for a positive finite binary32 value, exact (subnormals too). */
export function floorLog2(x: number): number {
  const bits = f32Bits(x);
  const exp = (bits >>> 23) & 0xff;
  if (exp !== 0) return exp - 127;
  const mant = bits & 0x7fffff;
  return 31 - Math.clz32(mant) - 149;
}

/** Round to the nearest integer, ties to even. */
export function roundHalfEven(v: number): number {
  const fl = Math.floor(v);
  const diff = v - fl;
  if (diff > 0.5) return fl + 1;
  if (diff < 0.5) return fl;
  return fl % 2 === 0 ? fl : fl + 1;
}

// ---------------------------------------------------------------- E2M1 ----

/** Magnitudes of the E2M1 codes 0..7; code bit 3 is the sign. */
export const E2M1_MAGNITUDES: readonly number[] = [0, 0.5, 1, 1.5, 2, 3, 4, 6];

/** Decoded value of every E2M1 code (0x8 decodes as -0, as in plain formats). */
export const E2M1_VALUES: Float32Array = Float32Array.from({ length: 16 }, (_, c) =>
  c & 8 ? -E2M1_MAGNITUDES[c & 7] : E2M1_MAGNITUDES[c & 7],
);

/** The magnitude code (0..7) of |y|: nearest, ties to the even code, >= 6 saturates. */
function e2m1MagnitudeCode(a: number): number {
  // Midpoints between neighbours; at a midpoint the even code wins,
  // hence `<=` below an even code and `<` below an odd one.
  if (a <= 0.25) return 0;
  if (a < 0.75) return 1;
  if (a <= 1.25) return 2;
  if (a < 1.75) return 3;
  if (a <= 2.5) return 4;
  if (a < 3.5) return 5;
  if (a <= 5) return 6;
  return 7;
}

/**
 * E2M1(y) as a 4-bit code. Never returns 0x8: a zero result is 0x0 whatever
 * the sign. NaN (only reachable as 0/0 when a block's decode scale underflows
 * to zero; NaN inputs are rejected earlier) encodes as 0x0.
 */
export function e2m1Encode(y: number): number {
  if (Number.isNaN(y)) return 0;
  const mag = e2m1MagnitudeCode(Math.abs(y));
  return mag !== 0 && y < 0 ? mag | 8 : mag;
}

// ------------------------------------------------- small float scale grids ---

/**
 * Round a positive binary32 value, already clamped into a grid's range, onto
 * the grid of a small float format with `mantBits` mantissa bits and smallest
 * normal exponent `minExp` (subnormal step 2^(minExp - mantBits)), ties to an
 * even mantissa. Returns the grid value.
 */
function roundToGrid(x: number, mantBits: number, minExp: number): number {
  const e = Math.max(floorLog2(x), minExp);
  const step = 2 ** (e - mantBits);
  return roundHalfEven(x / step) * step;
}

/** Code of a value that lies on a small float grid (bias = 1 - minExp). */
function gridCode(v: number, mantBits: number, minExp: number): number {
  if (v === 0) return 0;
  const e = floorLog2(v);
  if (e < minExp) return v / 2 ** (minExp - mantBits); // subnormal: exponent field 0
  const mant = v / 2 ** (e - mantBits) - (1 << mantBits);
  return ((e - minExp + 1) << mantBits) | mant;
}

/** Value of a small float code (no sign, no NaN). */
function gridValue(code: number, mantBits: number, minExp: number): number {
  const field = code >>> mantBits;
  const mant = code & ((1 << mantBits) - 1);
  if (field === 0) return mant * 2 ** (minExp - mantBits);
  return (1 + mant / (1 << mantBits)) * 2 ** (field - 1 + minExp);
}

// UE4M3: bias 7, 3 mantissa bits, smallest normal 2^-6, subnormal step 2^-9.
const E4M3_MANT = 3;
const E4M3_MIN_EXP = -6;
export const E4M3_MIN = 2 ** -9;
export const E4M3_MAX = 448;

/** E4M3(x) for x already clamped to [2^-9, 448]: the rounded value. */
export function e4m3Round(x: number): number {
  return roundToGrid(x, E4M3_MANT, E4M3_MIN_EXP);
}
/** The UE4M3 byte (bit 7 clear) of a value on the E4M3 grid. */
export function e4m3Code(v: number): number {
  return gridCode(v, E4M3_MANT, E4M3_MIN_EXP);
}
/** Value of an E4M3 byte, sign bit included; 0x7F/0xFF (the NaN codes) give NaN. */
export function e4m3Decode(byte: number): number {
  if ((byte & 0x7f) === 0x7f) return NaN;
  const v = gridValue(byte & 0x7f, E4M3_MANT, E4M3_MIN_EXP);
  return byte & 0x80 ? -v : v;
}

// E3M3 (RaZeR weight scale payload): bias 3, 3 mantissa bits, 0 .. 30.
const E3M3_MANT = 3;
const E3M3_MIN_EXP = -2;
export const E3M3_MIN = 2 ** -5;
export const E3M3_MAX = 30;

/** E3M3(x) for x already clamped to [2^-5, 30]: the rounded value. */
export function e3m3Round(x: number): number {
  return roundToGrid(x, E3M3_MANT, E3M3_MIN_EXP);
}
/** The 6-bit E3M3 payload of a value on the E3M3 grid. */
export function e3m3Code(v: number): number {
  return gridCode(v, E3M3_MANT, E3M3_MIN_EXP);
}
/** Value of a 6-bit E3M3 payload (higher bits ignored). */
export function e3m3Decode(payload: number): number {
  return gridValue(payload & 0x3f, E3M3_MANT, E3M3_MIN_EXP);
}

/** E8M0 (MXFP4 scale): 2^(b - 127); 255 is NaN. */
export function e8m0Decode(byte: number): number {
  return byte === 255 ? NaN : 2 ** (byte - 127);
}

// ------------------------------------------------------------------ NF4 ---

/** The 16 NF4 levels (index = code), as binary32. */
export const NF4_LEVELS: Float32Array = Float32Array.from([
  -1, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
  -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0,
  0.07958029955625534, 0.16093020141124725, 0.24611230194568634,
  0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
  0.7229568362236023, 1,
]);

/** Nearest NF4 level of y (binary32 distances), ties to the lower index. */
export function nf4Encode(y: number): number {
  let best = 0;
  let bestDist = Math.abs(f32(y - NF4_LEVELS[0]));
  for (let i = 1; i < 16; i++) {
    const dist = Math.abs(f32(y - NF4_LEVELS[i]));
    if (dist < bestDist) {
      best = i;
      bestDist = dist;
    }
  }
  return best;
}

// ----------------------------------------------------------- fp16 / bf16 ---

/** fp16 bits to its (exact) value. */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** binary32 value (rounded to binary32 first) to fp16 bits, round-to-nearest-even. */
export function f32ToF16(x: number): number {
  x = f32(x);
  if (Number.isNaN(x)) return 0x7e00 | (f32Bits(x) >>> 31 ? 0x8000 : 0);
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === Infinity) return sign | 0x7c00;
  if (a < 2 ** -14) {
    // Subnormal range: a carry out of the mantissa lands on the smallest
    // normal (0x0400), which is exactly the right code.
    return sign | roundHalfEven(a / 2 ** -24);
  }
  const e = floorLog2(a);
  const q = roundHalfEven(a / 2 ** (e - 10)); // 1024 .. 2048; 2048 carries into the exponent
  const code = ((e + 15) << 10) + (q - 1024);
  return sign | Math.min(code, 0x7c00);
}

/** bf16 bits to its (exact) value. */
export function bf16ToF32(b: number): number {
  return f32FromBits((b & 0xffff) << 16);
}

/** binary32 value (rounded to binary32 first) to bf16 bits, round-to-nearest-even. */
export function f32ToBf16(x: number): number {
  const bits = f32Bits(x);
  if ((bits & 0x7fffffff) > 0x7f800000) return (bits >>> 16) | 0x40; // quiet NaN
  const rounding = 0x7fff + ((bits >>> 16) & 1);
  return ((bits + rounding) >>> 16) & 0xffff;
}
