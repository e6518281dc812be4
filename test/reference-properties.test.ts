// Properties of the reference quantizers over random data (SPEC §3), checked
// against independent oracles: exhaustive nearest-value search, a plain
// re-statement of the RaZeR/4-over-6 error rules, scale invariance, and
// cross-format identities.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  E2M1_VALUES,
  e3m3Decode,
  e3m3Round,
  e4m3Decode,
  e4m3Round,
  floorLog2,
} from '../lib/codecs.js';
import { FORMATS, type Format } from '../lib/formats.js';
import { errorMetrics } from '../lib/metrics.js';
import { dequantize } from '../lib/quantize.js';
import { referenceQuantize as quantize } from '../lib/reference/quantize.js';
import { getCode } from '../lib/reference/packing.js';
import { DISTRIBUTIONS, type Distribution, draw } from './helpers/distributions.js';

const f32 = Math.fround;
const RUNS = 12;

/** Random (distribution, seed, rows, cols with cols a multiple of 64). */
const tensorArb = fc.record({
  dist: fc.constantFrom(...DISTRIBUTIONS),
  seed: fc.integer({ min: 0, max: 2 ** 31 }),
  rows: fc.integer({ min: 1, max: 6 }),
  blocks64: fc.integer({ min: 1, max: 6 }),
  scale: fc.constantFrom(1, 0.02, 300, 1e-3),
});
type TensorCase = { dist: Distribution; seed: number; rows: number; blocks64: number; scale: number };
function tensorOf(c: TensorCase): { x: Float32Array; shape: [number, number] } {
  const cols = 64 * c.blocks64;
  return { x: draw(c.dist, c.rows, cols, c.seed, c.scale), shape: [c.rows, cols] };
}

/** Oracle: the E2M1 value nearest y, ties to the even code, saturating — by exhaustive search. */
function nearestE2M1(y: number): number {
  let best = 0;
  for (let c = 1; c < 8; c++) {
    const d = Math.abs(Math.abs(y) - E2M1_VALUES[c]);
    const bd = Math.abs(Math.abs(y) - E2M1_VALUES[best]);
    if (d < bd || (d === bd && c % 2 === 0)) best = c;
  }
  return y < 0 ? -E2M1_VALUES[best] : E2M1_VALUES[best];
}

function blockAmax(x: Float32Array, start: number, n: number): number {
  let m = 0;
  for (let i = start; i < start + n; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
}

/** SPEC §3.3's error of one candidate, restated plainly. */
function candidateError(x: Float32Array, start: number, d: number, sv: number): number {
  let err = 0;
  for (let i = start; i < start + 16; i++) {
    const y = f32(x[i] / d);
    const f = nearestE2M1(y);
    const v = Math.abs(f32(y - sv)) <= Math.abs(f32(y - f)) ? sv : f;
    const e = f32(f32(v * d) - x[i]);
    err = f32(err + f32(e * e));
  }
  return err;
}

describe('nvfp4', () => {
  it('G = amax/2688, scales on the UE4M3 grid (bit 7 clear), every code the nearest-even E2M1 of x/d', () => {
    fc.assert(
      fc.property(tensorArb, (c) => {
        const { x, shape } = tensorOf(c);
        const q = quantize(x, shape, 'nvfp4');
        let amax = 0;
        for (const v of x) amax = Math.max(amax, Math.abs(v));
        expect(q.globalScale).toBe(f32(amax / 2688));
        for (let b = 0; b < q.scales.length; b++) {
          const byte = q.scales[b];
          expect(byte & 0x80).toBe(0);
          const s = e4m3Decode(byte);
          expect(s).toBe(e4m3Round(Math.min(Math.max(f32(f32(blockAmax(x, b * 16, 16) / q.globalScale) / 6), 2 ** -9), 448)));
          const d = f32(q.globalScale * s);
          for (let i = b * 16; i < b * 16 + 16; i++) {
            const code = getCode(q.codes, i);
            expect(code).not.toBe(8);
            expect(E2M1_VALUES[code] === 0 ? 0 : E2M1_VALUES[code]).toBe(nearestE2M1(f32(x[i] / d)) || 0);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe('nvfp4_razer', () => {
  it('keeps the first candidate of least error, records it in the scale bits, sentinel exactly where SV wins', () => {
    fc.assert(
      fc.property(tensorArb, (c) => {
        const { x, shape } = tensorOf(c);
        const q = quantize(x, shape, 'nvfp4_razer');
        const G = q.globalScale;
        const deq = dequantize(q);
        const cands = [5, -5, 8, -8];
        for (let b = 0; b < q.scales.length; b++) {
          const bm = f32(blockAmax(x, b * 16, 16) / G);
          const errs = cands.map((sv) => {
            const s = e3m3Round(Math.min(Math.max(f32(bm / Math.max(6, Math.abs(sv))), 2 ** -5), 30));
            return { sv, s, err: candidateError(x, b * 16, f32(G * s), sv) };
          });
          let best = 0;
          for (let k = 1; k < 4; k++) if (errs[k].err < errs[best].err) best = k;
          const byte = q.scales[b];
          expect(byte >> 7, `block ${b}`).toBe(errs[best].sv < 0 ? 1 : 0);
          expect((byte >> 6) & 1).toBe(Math.abs(errs[best].sv) === 8 ? 1 : 0);
          expect(e3m3Decode(byte)).toBe(errs[best].s);
          for (let i = b * 16; i < b * 16 + 16; i++) {
            if (getCode(q.codes, i) === 8) {
              expect(deq[i]).toBe(f32(f32(errs[best].sv * errs[best].s) * G));
            }
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('honours custom special values', () => {
    const x = draw('studentT3', 4, 256, 7);
    const q = quantize(x, [4, 256], 'nvfp4_razer', { svSmall: 7, svBig: 10 });
    expect([q.svSmall, q.svBig]).toEqual([7, 10]);
    const deq = dequantize(q);
    const G = q.globalScale;
    let sentinels = 0;
    for (let i = 0; i < x.length; i++) {
      if (getCode(q.codes, i) !== 8) continue;
      sentinels++;
      const byte = q.scales[i >> 4];
      const sv = (byte & 0x80 ? -1 : 1) * (byte & 0x40 ? 10 : 7);
      expect(deq[i]).toBe(f32(f32(sv * e3m3Decode(byte)) * G));
    }
    expect(sentinels).toBeGreaterThan(0);
  });
});

describe('nvfp4_razer_a', () => {
  it('shares nvfp4 G and scale payload; codes differ from nvfp4 only at sentinels; bit 6 never set', () => {
    fc.assert(
      fc.property(tensorArb, (c) => {
        const { x, shape } = tensorOf(c);
        const a = quantize(x, shape, 'nvfp4_razer_a');
        const n = quantize(x, shape, 'nvfp4');
        expect(a.globalScale).toBe(n.globalScale);
        for (let b = 0; b < a.scales.length; b++) {
          expect(a.scales[b] & 0x7f).toBe(n.scales[b]);
          const d = f32(a.globalScale * e4m3Decode(n.scales[b]));
          const errPlus = candidateError(x, b * 16, d, 5);
          const errMinus = candidateError(x, b * 16, d, -5);
          expect(a.scales[b] >> 7).toBe(errMinus < errPlus ? 1 : 0);
        }
        for (let i = 0; i < x.length; i++) {
          const code = getCode(a.codes, i);
          if (code !== 8) expect(code).toBe(getCode(n.codes, i));
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe('nvfp4_4over6', () => {
  it('each block takes s4 only when its error is strictly below s6', () => {
    fc.assert(
      fc.property(tensorArb, (c) => {
        const { x, shape } = tensorOf(c);
        const q = quantize(x, shape, 'nvfp4_4over6');
        let amax = 0;
        for (const v of x) amax = Math.max(amax, Math.abs(v));
        const G = f32(amax / 1536);
        expect(q.globalScale).toBe(G);
        for (let b = 0; b < q.scales.length; b++) {
          const bm = f32(blockAmax(x, b * 16, 16) / G);
          const sOf = (m: number) => e4m3Round(Math.min(Math.max(f32(bm / m), 2 ** -9), 448));
          const errOf = (s: number) => {
            const d = f32(G * s);
            let err = 0;
            for (let i = b * 16; i < b * 16 + 16; i++) {
              const e = f32(f32(nearestE2M1(f32(x[i] / d)) * d) - x[i]);
              err = f32(err + f32(e * e));
            }
            return err;
          };
          const s6 = sOf(6);
          const s4 = sOf(4);
          expect(e4m3Decode(q.scales[b])).toBe(errOf(s4) < errOf(s6) ? s4 : s6);
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe('mxfp4 and nf4', () => {
  it('mxfp4 scale byte is floor(log2(block amax)) - 2 + 127 and codes are nearest-even of x / 2^e', () => {
    fc.assert(
      fc.property(tensorArb, (c) => {
        const { x, shape } = tensorOf(c);
        const q = quantize(x, shape, 'mxfp4');
        for (let b = 0; b < q.scales.length; b++) {
          const m = blockAmax(x, b * 32, 32);
          const e = m === 0 ? -127 : floorLog2(m) - 2;
          expect(q.scales[b]).toBe(e + 127);
          for (let i = b * 32; i < b * 32 + 32; i++) {
            expect(E2M1_VALUES[getCode(q.codes, i)] || 0).toBe(nearestE2M1(f32(x[i] / 2 ** e)) || 0);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('nf4 keeps the fp32 absmax per block and decodes within half the widest level gap', () => {
    const x = draw('laplace', 3, 256, 11);
    for (const blockSize of [32, 64, 128]) {
      const q = quantize(x, [3, 256], 'nf4', { blockSize });
      expect(q.scales).toBeInstanceOf(Float32Array);
      const deq = dequantize(q);
      for (let b = 0; b < q.scales.length; b++) {
        const absmax = blockAmax(x, b * blockSize, blockSize);
        expect(q.scales[b]).toBe(absmax);
        for (let i = b * blockSize; i < (b + 1) * blockSize; i++) {
          expect(Math.abs(deq[i] - x[i])).toBeLessThanOrEqual(absmax * 0.3039 * 0.5 + 1e-6 * absmax);
        }
      }
    }
  });
});

describe('every format', () => {
  it('is invariant under power-of-two scaling: same codes, scales shifted, G (or absmax) scaled', () => {
    fc.assert(
      fc.property(tensorArb, fc.integer({ min: -8, max: 8 }), fc.constantFrom(...FORMATS), (c, k, format: Format) => {
        const { x, shape } = tensorOf(c);
        const p = 2 ** k;
        const q1 = quantize(x, shape, format);
        const q2 = quantize(x.map((v) => v * p), shape, format);
        expect(q2.codes).toEqual(q1.codes);
        if (format === 'mxfp4') expect(q2.scales).toEqual(q1.scales.map((b) => b + k));
        else if (format === 'nf4') expect(q2.scales).toEqual(q1.scales.map((s) => s * p));
        else {
          expect(q2.scales).toEqual(q1.scales);
          expect(q2.globalScale).toBe(q1.globalScale * p);
        }
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('dequantizes every element within one decode step d, or its overshoot past the largest value', () => {
    fc.assert(
      fc.property(tensorArb, fc.constantFrom('nvfp4', 'nvfp4_4over6', 'nvfp4_razer', 'nvfp4_razer_a') as fc.Arbitrary<Format>, (c, format) => {
        const { x, shape } = tensorOf(c);
        const q = quantize(x, shape, format);
        const deq = dequantize(q);
        for (let b = 0; b < q.scales.length; b++) {
          const s = format === 'nvfp4_razer' ? e3m3Decode(q.scales[b]) : e4m3Decode(q.scales[b] & 0x7f);
          const d = q.globalScale * s;
          // Half the widest grid gap is 1 (between 4 and 6); beyond the largest
          // value (6, or an SV of the other sign) the error is the overshoot,
          // which a scale rounded down (coarse subnormal E3M3/E4M3 steps) makes larger.
          const bound = d * Math.max(1, blockAmax(x, b * 16, 16) / d - 6);
          for (let i = b * 16; i < b * 16 + 16; i++) {
            expect(Math.abs(deq[i] - x[i])).toBeLessThanOrEqual(bound * (1 + 1e-5));
          }
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe('quality (64x4096)', () => {
  for (const dist of ['gaussian', 'studentT3'] as const) {
    it(`${dist}: nvfp4_razer MSE < 0.70x and nvfp4_4over6 < 0.95x that of nvfp4`, () => {
      const seed = Math.floor(Math.random() * 2 ** 31); // fresh data each run
      const x = draw(dist, 64, 4096, seed);
      const mse = (format: Format) => errorMetrics(x, dequantize(quantize(x, [64, 4096], format))).mse;
      const base = mse('nvfp4');
      const razer = mse('nvfp4_razer') / base;
      const fourOverSix = mse('nvfp4_4over6') / base;
      expect(razer, `seed ${seed}`).toBeLessThan(0.7);
      expect(fourOverSix, `seed ${seed}`).toBeLessThan(0.95);
    });
  }
});
