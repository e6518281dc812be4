// SPEC §2: every code of every codec, and every rounding tie.
import { describe, expect, it } from 'vitest';
import {
  E2M1_VALUES,
  NF4_LEVELS,
  bf16ToF32,
  e2m1Encode,
  e3m3Code,
  e3m3Decode,
  e3m3Round,
  e4m3Code,
  e4m3Decode,
  e4m3Round,
  e8m0Decode,
  f16ToF32,
  f32Bits,
  f32FromBits,
  f32ToBf16,
  f32ToF16,
  floorLog2,
  nf4Encode,
} from '../lib/codecs.js';

const f32 = Math.fround;

/** Independent oracle: nearest grid value by exhaustive search, ties to the even index. */
function nearestEvenIndex(grid: number[], x: number): number {
  let best = 0;
  for (let i = 1; i < grid.length; i++) {
    const d = Math.abs(grid[i] - x);
    const bd = Math.abs(grid[best] - x);
    if (d < bd || (d === bd && i % 2 === 0)) best = i;
  }
  return best;
}

describe('E2M1', () => {
  const mags = [0, 0.5, 1, 1.5, 2, 3, 4, 6];

  it('decodes all 16 codes, bit 3 the sign, 0x8 as -0', () => {
    for (let c = 0; c < 16; c++) {
      const v = E2M1_VALUES[c];
      expect(Math.abs(v)).toBe(mags[c & 7]);
      expect(Object.is(v, -0) || v < 0).toBe((c & 8) !== 0);
    }
  });

  it('encodes every grid value to its own code, zero always as 0x0', () => {
    for (let c = 0; c < 16; c++) {
      const expected = c === 8 ? 0 : c;
      expect(e2m1Encode(E2M1_VALUES[c])).toBe(expected);
    }
    expect(e2m1Encode(-0)).toBe(0);
    expect(e2m1Encode(-1e-30)).toBe(0);
    expect(e2m1Encode(-0.25)).toBe(0);
  });

  it('rounds every midpoint to the even code (SPEC list)', () => {
    const ties: [number, number][] = [
      [0.25, 0], [0.75, 1], [1.25, 1], [1.75, 2], [2.5, 2], [3.5, 4], [5, 4],
    ];
    for (const [y, v] of ties) {
      expect(E2M1_VALUES[e2m1Encode(y)]).toBe(v);
      expect(E2M1_VALUES[e2m1Encode(-y)]).toBe(v === 0 ? 0 : -v);
    }
  });

  it('matches exhaustive nearest-even search around every midpoint, saturates at 6', () => {
    for (let i = 0; i < mags.length - 1; i++) {
      const mid = (mags[i] + mags[i + 1]) / 2;
      for (const y of [f32(mid * (1 - 2 ** -23)), mid, f32(mid * (1 + 2 ** -23))]) {
        expect(mags[e2m1Encode(y) & 7]).toBe(mags[nearestEvenIndex(mags, y)]);
      }
    }
    for (const y of [6, 6.5, 100, 3.4e38, Infinity]) {
      expect(e2m1Encode(y)).toBe(7);
      expect(e2m1Encode(-y)).toBe(0xf);
    }
  });

  it('never emits 0x8, and NaN (0/0 of an underflowed scale) encodes as 0x0', () => {
    for (let y = -8; y <= 8; y += 1 / 64) expect(e2m1Encode(y)).not.toBe(8);
    expect(e2m1Encode(NaN)).toBe(0);
  });
});

/** All values of a small unsigned float format, in code order. */
function gridOf(decode: (c: number) => number, count: number): number[] {
  return Array.from({ length: count }, (_, c) => decode(c));
}

describe('UE4M3', () => {
  const grid = gridOf(e4m3Decode, 127); // 0x00 .. 0x7E (0x7F is NaN)

  it('decodes every byte: subnormals, normals, 448 max, NaN, sign bit', () => {
    expect(grid[1]).toBe(2 ** -9);
    expect(grid[7]).toBe(7 * 2 ** -9);
    expect(grid[8]).toBe(2 ** -6);
    expect(grid[0x7e]).toBe(448);
    expect(e4m3Decode(0x7f)).toBeNaN();
    expect(e4m3Decode(0xff)).toBeNaN();
    for (let c = 1; c < 127; c++) {
      expect(grid[c]).toBeGreaterThan(grid[c - 1]);
      expect(e4m3Decode(c | 0x80)).toBe(-grid[c]);
      expect(e4m3Code(grid[c])).toBe(c);
    }
  });

  it('rounds every value and every midpoint in [2^-9, 448] to nearest, ties to even', () => {
    for (let c = 1; c < 126; c++) {
      const lo = grid[c];
      const hi = grid[c + 1];
      const mid = (lo + hi) / 2;
      expect(e4m3Round(lo)).toBe(lo);
      expect(e4m3Round(mid)).toBe(c % 2 === 0 ? lo : hi);
      expect(e4m3Round(f32(mid - (hi - lo) / 1024))).toBe(lo);
      expect(e4m3Round(f32(mid + (hi - lo) / 1024))).toBe(hi);
    }
    expect(e4m3Round(448)).toBe(448);
    expect(e4m3Code(e4m3Round(f32(44.8)))).toBe(0x63); // SPEC §5.3
  });
});

describe('E3M3', () => {
  const grid = gridOf(e3m3Decode, 64);

  it('decodes every payload: subnormals m * 2^-5, normals up to 30', () => {
    for (let m = 0; m < 8; m++) expect(grid[m]).toBe(m * 2 ** -5);
    expect(grid[8]).toBe(0.25);
    expect(grid[63]).toBe(30);
    for (let c = 1; c < 64; c++) {
      expect(grid[c]).toBeGreaterThan(grid[c - 1]);
      expect(e3m3Code(grid[c])).toBe(c);
      expect(e3m3Decode(c | 0xc0)).toBe(grid[c]); // SV bits are not part of the value
    }
  });

  it('rounds every midpoint in [2^-5, 30] to even, and the SPEC examples', () => {
    for (let c = 1; c < 63; c++) {
      const lo = grid[c];
      const hi = grid[c + 1];
      const mid = (lo + hi) / 2;
      expect(e3m3Round(mid)).toBe(c % 2 === 0 ? lo : hi);
      expect(e3m3Round(f32(mid * (1 - 2 ** -20)))).toBe(lo);
      expect(e3m3Round(f32(mid * (1 + 2 ** -20)))).toBe(hi);
    }
    expect(e3m3Round(f32(0.1))).toBe(0.09375);
    expect(e3m3Code(e3m3Round(f32(0.1)))).toBe(0x03);
    expect(e3m3Round(f32(29.9))).toBe(30);
    expect(e3m3Code(30)).toBe(0x3f);
    expect(e3m3Code(e3m3Round(1.5))).toBe(0x1c);
  });
});

describe('E8M0', () => {
  it('decodes every byte as 2^(b-127), 255 as NaN', () => {
    for (let b = 0; b < 255; b++) expect(e8m0Decode(b)).toBe(2 ** (b - 127));
    expect(e8m0Decode(255)).toBeNaN();
  });
});

describe('NF4', () => {
  it('has the 16 SPEC levels, ascending, each encoding to itself', () => {
    expect(NF4_LEVELS.length).toBe(16);
    expect(NF4_LEVELS[0]).toBe(-1);
    expect(NF4_LEVELS[7]).toBe(0);
    expect(NF4_LEVELS[15]).toBe(1);
    for (let i = 0; i < 16; i++) {
      if (i > 0) expect(NF4_LEVELS[i]).toBeGreaterThan(NF4_LEVELS[i - 1]);
      expect(nf4Encode(NF4_LEVELS[i])).toBe(i);
    }
  });

  it('takes the nearest level and the lower index at a binary32 tie', () => {
    for (let i = 0; i < 15; i++) {
      const lo = NF4_LEVELS[i];
      const hi = NF4_LEVELS[i + 1];
      const below = f32(lo + (hi - lo) * 0.49);
      const above = f32(lo + (hi - lo) * 0.51);
      expect(nf4Encode(below)).toBe(i);
      expect(nf4Encode(above)).toBe(i + 1);
      // Search the binary32 values near the midpoint for exact distance ties.
      let y = f32((lo + hi) / 2);
      for (let k = 0; k < 8; k++, y = f32FromBits(f32Bits(y) + 1)) {
        const dl = Math.abs(f32(y - lo));
        const dh = Math.abs(f32(y - hi));
        expect(nf4Encode(y)).toBe(dh < dl ? i + 1 : i);
      }
    }
    expect(nf4Encode(-5)).toBe(0);
    expect(nf4Encode(5)).toBe(15);
  });
});

describe('fp16 and bf16', () => {
  it('every fp16 code decodes exactly and re-encodes to itself', () => {
    for (let h = 0; h < 0x10000; h++) {
      const v = f16ToF32(h);
      if (Number.isNaN(v)) {
        expect((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0).toBe(true);
        expect(Number.isNaN(f16ToF32(f32ToF16(v)))).toBe(true);
        continue;
      }
      expect(f32(v)).toBe(v);
      expect(f32ToF16(v)).toBe(h);
    }
  });

  it('every bf16 code decodes exactly and re-encodes to itself', () => {
    for (let b = 0; b < 0x10000; b++) {
      const v = bf16ToF32(b);
      if (Number.isNaN(v)) {
        expect(Number.isNaN(bf16ToF32(f32ToBf16(v)))).toBe(true);
        continue;
      }
      expect(f32ToBf16(v)).toBe(b);
    }
  });

  it('fp16 rounds every tie between neighbours to the even code (normals and subnormals)', () => {
    for (let h = 0; h < 0x7bff; h += 7) {
      const lo = f16ToF32(h);
      const hi = f16ToF32(h + 1);
      const mid = (lo + hi) / 2; // exact in binary32
      expect(f32ToF16(mid)).toBe(h % 2 === 0 ? h : h + 1);
      expect(f32ToF16(-mid)).toBe((h % 2 === 0 ? h : h + 1) | 0x8000);
      expect(f32ToF16(f32FromBits(f32Bits(mid) - 1))).toBe(h);
      expect(f32ToF16(f32FromBits(f32Bits(mid) + 1))).toBe(h + 1);
    }
  });

  it('fp16 overflow, underflow and specials', () => {
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(f32(65519.99))).toBe(0x7bff);
    expect(f32ToF16(65520)).toBe(0x7c00); // the tie above max rounds to even: Inf
    expect(f32ToF16(-1e10)).toBe(0xfc00);
    expect(f32ToF16(2 ** -25)).toBe(0); // tie with 0 and 2^-24: even is 0
    expect(f32ToF16(f32(2 ** -25 * 1.0001))).toBe(1);
    expect(f32ToF16(-0)).toBe(0x8000);
    expect(f32ToF16(Infinity)).toBe(0x7c00);
  });

  it('bf16 rounds every tie to even', () => {
    for (let b = 0; b < 0x7f7f; b += 13) {
      const lo = bf16ToF32(b);
      const mid = f32FromBits(((b << 16) | 0x8000) >>> 0);
      expect(f32ToBf16(mid)).toBe(b % 2 === 0 ? b : b + 1);
      expect(f32ToBf16(f32FromBits(f32Bits(mid) - 1))).toBe(b);
      expect(f32ToBf16(f32FromBits(f32Bits(mid) + 1))).toBe(b + 1);
      expect(f32ToBf16(lo)).toBe(b);
    }
    expect(f32ToBf16(3.4e38)).toBe(0x7f80); // rounds up to Inf
  });
});

describe('floorLog2', () => {
  it('is exact for normals and subnormals at and around powers of two', () => {
    for (let e = -149; e <= 127; e++) {
      const p = 2 ** e;
      expect(floorLog2(p)).toBe(e);
      if (e > -149) expect(floorLog2(f32FromBits(f32Bits(p) - 1))).toBe(e - 1);
    }
  });
});
