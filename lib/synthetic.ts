// Synthetic Llama-like weights: the shapes of one decoder layer and the
// statistics that make 4-bit quantization hard (heavy tails, a few input
// channels with large magnitude), built from a seed so results repeat.

import { RazerError, describe } from './errors.js';
import { Random, outlierChannelGains } from './random.js';

export interface SyntheticLayerConfig {
  /** Model width (the K of q/k/v/o/gate/up). */
  hidden: number;
  /** MLP width (the N of gate/up, the K of down). */
  intermediate: number;
  /** Width of k/v: hidden / 4 as with grouped-query attention. */
  kvDim: number;
  /** Student-t degrees of freedom of the weights (3-5 is LLM-like). */
  tailDof: number;
  /** Standard deviation of the weights before the outlier gains. */
  std: number;
  /** Outlier input channels per tensor, and their gain range. */
  outlierChannels: number;
  outlierMinGain: number;
  outlierMaxGain: number;
}

export function llamaLikeConfig(hidden: number, intermediate: number): SyntheticLayerConfig {
  for (const [argument, v] of [['hidden', hidden], ['intermediate', intermediate]] as const) {
    if (!Number.isInteger(v) || v < 64 || v % 64 !== 0) {
      throw new RazerError('ERR_ARGUMENT', `${argument}: expected a positive multiple of 64, got ${describe(v)}`);
    }
  }
  return {
    hidden,
    intermediate,
    kvDim: hidden / 4,
    tailDof: 4,
    std: 0.02,
    // About one channel in 200, as outlier features go in LLM hidden states.
    outlierChannels: Math.max(2, Math.round(hidden / 200)),
    outlierMinGain: 4,
    outlierMaxGain: 16,
  };
}

export interface SyntheticTensor {
  name: string;
  /** [N, K]: rows are output features, blocks run along K. */
  shape: [number, number];
  data: Float32Array;
}

/** [name, N, K] of the seven projections of decoder layer 0. */
export function llamaLayerShapes(c: SyntheticLayerConfig): [string, number, number][] {
  const p = 'model.layers.0';
  return [
    [`${p}.self_attn.q_proj.weight`, c.hidden, c.hidden],
    [`${p}.self_attn.k_proj.weight`, c.kvDim, c.hidden],
    [`${p}.self_attn.v_proj.weight`, c.kvDim, c.hidden],
    [`${p}.self_attn.o_proj.weight`, c.hidden, c.hidden],
    [`${p}.mlp.gate_proj.weight`, c.intermediate, c.hidden],
    [`${p}.mlp.up_proj.weight`, c.intermediate, c.hidden],
    [`${p}.mlp.down_proj.weight`, c.hidden, c.intermediate],
  ];
}

/** One [N, K] weight: scaled Student-t values times per-input-channel outlier gains. */
export function syntheticWeight(
  rng: Random,
  rows: number,
  cols: number,
  c: SyntheticLayerConfig,
): Float32Array {
  // Student-t(nu) has variance nu / (nu - 2); rescale it to c.std.
  const unit = c.tailDof > 2 ? Math.sqrt((c.tailDof - 2) / c.tailDof) : 1;
  const scale = c.std * unit;
  const gains = outlierChannelGains(rng, cols, {
    count: Math.min(c.outlierChannels, cols),
    minGain: c.outlierMinGain,
    maxGain: c.outlierMaxGain,
  });
  const w = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let k = 0; k < cols; k++) w[base + k] = rng.studentT(c.tailDof) * scale * gains[k];
  }
  return w;
}

/** The seven projections of one Llama-like decoder layer. */
export function syntheticLlamaLayer(rng: Random, c: SyntheticLayerConfig): SyntheticTensor[] {
  return llamaLayerShapes(c).map(([name, rows, cols]) => ({
    name,
    shape: [rows, cols],
    data: syntheticWeight(rng, rows, cols, c),
  }));
}
