// A small seeded PRNG for synthetic tensors (demo, tests, benchmarks): the
// same seed gives the same numbers on every platform and Node version,
// which Math.random() cannot promise.

import { RazerError, describe } from './errors.js';

const TWO_POW_32 = 2 ** 32;
const TWO_POW_53 = 2 ** 53;

/** splitmix32: spreads a small seed (0, 1, 2…) over the whole state space. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export function checkSeed(seed: unknown, argument = 'seed'): number {
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed >= TWO_POW_32) {
    throw new RazerError(
      'ERR_ARGUMENT',
      `${argument}: expected an integer from 0 to 4294967295, got ${describe(seed)}`,
    );
  }
  return seed;
}

/**
 * xoshiro128** (Blackman and Vigna): 32-bit operations only, so it is exact
 * in JS integers and fast; period 2^128 - 1, ample for test data.
 */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  /** Box-Muller makes gaussians in pairs; the second waits here. */
  private spareGaussian: number | undefined;

  constructor(seed: number) {
    const state = { s: checkSeed(seed) };
    this.a = splitmix32(state);
    this.b = splitmix32(state);
    this.c = splitmix32(state);
    this.d = splitmix32(state);
  }

  /** The next raw 32-bit value, as an unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform on [0, 1) with 53 random bits, or on [lo, hi). */
  uniform(lo = 0, hi = 1): number {
    const high = this.nextUint32() >>> 5; // 27 bits
    const low = this.nextUint32() >>> 6; // 26 bits
    const u = (high * 67108864 + low) / TWO_POW_53;
    return lo + (hi - lo) * u;
  }

  /** An integer uniform on [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Normal(mean, std), by the Box-Muller transform. */
  gaussian(mean = 0, std = 1): number {
    let z = this.spareGaussian;
    if (z === undefined) {
      // 1 - u is in (0, 1], so the log is finite.
      const r = Math.sqrt(-2 * Math.log(1 - this.uniform()));
      const theta = 2 * Math.PI * this.uniform();
      z = r * Math.cos(theta);
      this.spareGaussian = r * Math.sin(theta);
    } else {
      this.spareGaussian = undefined;
    }
    return mean + std * z;
  }

  /** Gamma(shape, 1), by Marsaglia and Tsang's method (with the boost for shape < 1). */
  gamma(shape: number): number {
    if (!(shape > 0)) {
      throw new RazerError('ERR_ARGUMENT', `shape: expected a positive number, got ${describe(shape)}`);
    }
    if (shape < 1) {
      return this.gamma(shape + 1) * Math.pow(1 - this.uniform(), 1 / shape);
    }
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      const x = this.gaussian();
      const v0 = 1 + c * x;
      if (v0 <= 0) continue;
      const v = v0 * v0 * v0;
      const u = 1 - this.uniform();
      if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
    }
  }

  /**
   * Student-t with `nu` degrees of freedom: Z / sqrt(V / nu), V ~ chi²(nu).
   * Variance nu / (nu - 2) for nu > 2; small nu gives the heavy tails of
   * LLM weights.
   */
  studentT(nu: number): number {
    if (!(nu > 0)) {
      throw new RazerError('ERR_ARGUMENT', `nu: expected a positive number, got ${describe(nu)}`);
    }
    const chi2 = 2 * this.gamma(nu / 2);
    return this.gaussian() / Math.sqrt(chi2 / nu);
  }

  /** Laplace(mu, b): variance 2b². */
  laplace(mu = 0, b = 1): number {
    const u = this.uniform() - 0.5;
    // |u| < 0.5, so 1 - 2|u| > 0 and the log is finite.
    return mu - b * Math.sign(u) * Math.log(1 - 2 * Math.abs(u));
  }

  /** n samples of `sample` into a new Float32Array. */
  fill(n: number, sample: (rng: Random) => number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = sample(this);
    return out;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export interface OutlierChannelOptions {
  /** How many channels get a large gain. */
  count: number;
  /** Gains are log-uniform in [minGain, maxGain]. */
  minGain: number;
  maxGain: number;
}

/**
 * Per-channel gains: 1 for ordinary channels, a large factor for `count`
 * distinct random ones. Multiplying a weight's input channels (columns) by
 * these mimics the outlier features of LLM hidden states, the case block
 * scales handle worst.
 */
export function outlierChannelGains(
  rng: Random,
  channels: number,
  { count, minGain, maxGain }: OutlierChannelOptions,
): Float32Array {
  if (!Number.isInteger(count) || count < 0 || count > channels) {
    throw new RazerError(
      'ERR_ARGUMENT',
      `count: expected an integer from 0 to ${channels}, got ${describe(count)}`,
    );
  }
  if (!(minGain > 0) || !(maxGain >= minGain)) {
    throw new RazerError(
      'ERR_ARGUMENT',
      `minGain, maxGain: expected 0 < minGain <= maxGain, got ${describe(minGain)} and ${describe(maxGain)}`,
    );
  }
  const gains = new Float32Array(channels).fill(1);
  // Partial Fisher-Yates: the first `count` of a shuffled index list.
  const order = Array.from({ length: channels }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + rng.int(channels - i);
    [order[i], order[j]] = [order[j], order[i]];
    gains[order[i]] = Math.exp(rng.uniform(Math.log(minGain), Math.log(maxGain)));
  }
  return gains;
}
