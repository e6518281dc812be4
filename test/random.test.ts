// lib/random.ts: the same seed gives the same numbers, and each distribution
// has roughly the moments it should.
import { describe, expect, it } from 'vitest';
import { Random, checkSeed, outlierChannelGains } from '../lib/random.js';

const N = 200_000;

function moments(x: ArrayLike<number>): { mean: number; variance: number } {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  const mean = s / x.length;
  let v = 0;
  for (let i = 0; i < x.length; i++) v += (x[i] - mean) ** 2;
  return { mean, variance: v / x.length };
}

function sample(seed: number, draw: (r: Random) => number, n = N): Float64Array {
  const r = new Random(seed);
  return Float64Array.from({ length: n }, () => draw(r));
}

describe('Random: determinism', () => {
  it('repeats a sequence for a seed and differs across seeds', () => {
    const a = sample(42, (r) => r.uniform(), 1000);
    const b = sample(42, (r) => r.uniform(), 1000);
    const c = sample(43, (r) => r.uniform(), 1000);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('repeats every distribution for a seed', () => {
    const draw = (r: Random) => [r.gaussian(), r.studentT(4), r.laplace(), r.gamma(0.7), r.int(10)];
    const one = sample(7, (r) => draw(r).reduce((a, b) => a + b), 2000);
    expect(sample(7, (r) => draw(r).reduce((a, b) => a + b), 2000)).toEqual(one);
  });

  it('pins the first values of seed 0 (a change here changes every synthetic tensor)', () => {
    const r = new Random(0);
    const first = [r.nextUint32(), r.nextUint32(), r.nextUint32()];
    const again = new Random(0);
    expect([again.nextUint32(), again.nextUint32(), again.nextUint32()]).toEqual(first);
    expect(first.every((v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32)).toBe(true);
    expect(new Set(first).size).toBe(3);
  });

  it('rejects seeds that are not 32-bit unsigned integers', () => {
    for (const bad of [-1, 1.5, 2 ** 32, NaN, '1']) {
      expect(() => checkSeed(bad)).toThrow(/seed: expected an integer/);
    }
    expect(() => new Random(-1)).toThrow();
    expect(checkSeed(0)).toBe(0);
    expect(checkSeed(2 ** 32 - 1)).toBe(2 ** 32 - 1);
  });
});

describe('Random: distributions', () => {
  it('uniform is on [0, 1) with mean 1/2 and variance 1/12', () => {
    const x = sample(1, (r) => r.uniform());
    expect(x.every((v) => v >= 0 && v < 1)).toBe(true);
    const { mean, variance } = moments(x);
    expect(mean).toBeCloseTo(0.5, 2);
    expect(variance).toBeCloseTo(1 / 12, 3);
  });

  it('uniform(lo, hi) and int(n) stay in range', () => {
    const r = new Random(2);
    for (let i = 0; i < 10_000; i++) {
      const u = r.uniform(-3, 5);
      expect(u >= -3 && u < 5).toBe(true);
      const k = r.int(7);
      expect(Number.isInteger(k) && k >= 0 && k < 7).toBe(true);
    }
  });

  it('gaussian has mean 0, variance 1 and the normal tail mass', () => {
    const x = sample(3, (r) => r.gaussian());
    const { mean, variance } = moments(x);
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(variance).toBeCloseTo(1, 1);
    // P(|z| > 2) = 4.55%
    const tail = x.filter((v) => Math.abs(v) > 2).length / x.length;
    expect(tail).toBeGreaterThan(0.042);
    expect(tail).toBeLessThan(0.049);
    const shifted = moments(sample(4, (r) => r.gaussian(3, 2)));
    expect(shifted.mean).toBeCloseTo(3, 1);
    expect(shifted.variance).toBeCloseTo(4, 0);
  });

  it('gamma(k) has mean and variance k', () => {
    for (const k of [0.5, 2, 5]) {
      const { mean, variance } = moments(sample(5, (r) => r.gamma(k)));
      expect(mean).toBeCloseTo(k, 1);
      expect(Math.abs(variance / k - 1)).toBeLessThan(0.05);
    }
  });

  it('studentT(nu) has variance nu / (nu - 2) and heavier tails than a gaussian', () => {
    for (const nu of [5, 8]) {
      const x = sample(6, (r) => r.studentT(nu));
      const { mean, variance } = moments(x);
      expect(Math.abs(mean)).toBeLessThan(0.02);
      expect(Math.abs(variance / (nu / (nu - 2)) - 1)).toBeLessThan(0.06);
    }
    // nu = 3: infinite kurtosis; compare the tail mass instead. P(|t3| > 3.182) = 5%.
    const t3 = sample(8, (r) => r.studentT(3));
    const tail = t3.filter((v) => Math.abs(v) > 3.182).length / t3.length;
    expect(tail).toBeGreaterThan(0.045);
    expect(tail).toBeLessThan(0.055);
  });

  it('laplace(mu, b) has mean mu and variance 2b²', () => {
    const { mean, variance } = moments(sample(9, (r) => r.laplace(1, 0.5)));
    expect(mean).toBeCloseTo(1, 2);
    expect(Math.abs(variance / 0.5 - 1)).toBeLessThan(0.03);
  });

  it('fill draws n samples into a Float32Array', () => {
    const x = new Random(10).fill(5, (r) => r.uniform());
    expect(x).toBeInstanceOf(Float32Array);
    expect(x.length).toBe(5);
  });

  it('rejects non-positive shape and degrees of freedom', () => {
    const r = new Random(11);
    expect(() => r.gamma(0)).toThrow(/shape/);
    expect(() => r.studentT(-1)).toThrow(/nu/);
  });
});

describe('outlierChannelGains', () => {
  it('gives `count` distinct channels a gain in range and leaves the rest at 1', () => {
    const g = outlierChannelGains(new Random(12), 1000, { count: 7, minGain: 5, maxGain: 20 });
    const big = [...g].filter((v) => v !== 1);
    expect(big.length).toBe(7);
    for (const v of big) {
      expect(v).toBeGreaterThanOrEqual(5 * 0.9999);
      expect(v).toBeLessThanOrEqual(20 * 1.0001);
    }
    expect(outlierChannelGains(new Random(12), 1000, { count: 7, minGain: 5, maxGain: 20 })).toEqual(g);
  });

  it('rejects a count or gains out of range', () => {
    const r = new Random(13);
    expect(() => outlierChannelGains(r, 10, { count: 11, minGain: 2, maxGain: 4 })).toThrow(/count/);
    expect(() => outlierChannelGains(r, 10, { count: 1, minGain: 4, maxGain: 2 })).toThrow(/minGain/);
  });
});
