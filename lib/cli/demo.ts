// `razer demo`: a tour for newcomers on synthetic data, with no files and no
// GPU needed: quantize a Llama-like layer in every weight format, compare
// their error, then run and check a W4A16 matrix product on the best backend.

import { Command, Option } from 'commander';
import { type Backend, type BackendChoice, gemmBackend, gemmW4A16 } from '../backend.js';
import { bf16ToF32, f32ToBf16 } from '../codecs.js';
import { RazerError } from '../errors.js';
import type { Format } from '../formats.js';
import { errorMetrics } from '../metrics.js';
import { quantize, quantizeBackend } from '../quantize.js';
import { Random, outlierChannelGains } from '../random.js';
import { referenceGemmW4A16 } from '../reference/gemm.js';
import { type SyntheticLayerConfig, type SyntheticTensor, llamaLikeConfig, syntheticLlamaLayer } from '../synthetic.js';
import { DEFAULT_ERROR_FORMATS } from './error.js';
import { type TensorErrors, measureFormats, renderErrorTable } from './format-errors.js';
import { parseSeed } from './options.js';
import { byteProgress } from './progress.js';
import { renderTable } from './table.js';
import { formatCount, formatDuration, formatShape, formatSci } from './units.js';

/** Sized so the whole demo takes seconds with the TypeScript reference on two cores. */
const FULL = { hidden: 1024, intermediate: 2816 };
const QUICK = { hidden: 256, intermediate: 704 };

/** Rows of X in the matrix product: a handful of tokens, as in decoding. */
const GEMM_M = 16;
const GEMM_FORMATS: readonly Format[] = ['nvfp4_razer', 'nvfp4'];
const GEMM_WEIGHT = 'model.layers.0.mlp.gate_proj.weight';
/** SPEC §4: the bound for a product with fp32 output, against the float64 reference. */
const FP32_OUTPUT_TOLERANCE = 1e-5;

interface DemoFlags {
  seed: number;
  quick?: boolean;
}

const out = (line = '') => process.stdout.write(`${line}\n`);

function timed<T>(fn: () => T): { value: T; ms: number } {
  const t = performance.now();
  const value = fn();
  return { value, ms: performance.now() - t };
}

function describeLayer(c: SyntheticLayerConfig, tensors: readonly SyntheticTensor[], ms: number): void {
  const elements = tensors.reduce((n, t) => n + t.data.length, 0);
  out(`Synthetic Llama-like decoder layer: hidden ${c.hidden}, intermediate ${c.intermediate}, k/v width ${c.kvDim}`);
  out(
    `  ${tensors.length} weights, ${formatCount(elements)} elements: Student-t (${c.tailDof} degrees of freedom), std ${c.std},`,
  );
  out(
    `  ${c.outlierChannels} outlier input channels per weight with gains ${c.outlierMinGain}-${c.outlierMaxGain}x (generated in ${formatDuration(ms)})`,
  );
}

function measureLayer(tensors: readonly SyntheticTensor[], formats: readonly Format[]): TensorErrors[] {
  const progress = byteProgress(tensors.reduce((n, t) => n + t.data.byteLength, 0));
  const results: TensorErrors[] = [];
  let done = 0;
  try {
    for (const t of tensors) {
      progress.update(done, t.name);
      results.push(measureFormats(t.name, t.data, t.shape, formats, {}));
      done += t.data.byteLength;
    }
  } finally {
    progress.stop();
  }
  return results;
}

/** Activations as bf16 bits: gaussian tokens whose hidden state has a few outlier channels. */
function syntheticActivations(rng: Random, rows: number, cols: number): Uint16Array {
  const gains = outlierChannelGains(rng, cols, { count: Math.max(2, Math.round(cols / 200)), minGain: 8, maxGain: 32 });
  const x = new Uint16Array(rows * cols);
  for (let i = 0; i < x.length; i++) x[i] = f32ToBf16(rng.gaussian() * gains[i % cols]);
  return x;
}

/** X · Wᵀ with the unquantized weight, float64: what quantization is judged against. */
function denseProduct(x: Float32Array, w: Float32Array, M: number, N: number, K: number): Float64Array {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += x[m * K + k] * w[n * K + k];
      y[m * N + n] = acc;
    }
  }
  return y;
}

/** Which implementation quantizes the NVFP4-family formats (mxfp4 and nf4 are reference-only). */
const QUANTIZER_NOTES: Readonly<Record<Backend, string>> = {
  cuda: 'GPU quantizer for the NVFP4 formats, TypeScript reference for mxfp4 and nf4',
  cpu: 'C++ CPU backend for the NVFP4 formats, TypeScript reference for mxfp4 and nf4',
  reference: 'TypeScript reference quantizer',
};

interface GemmCheck {
  format: Format;
  /** The backend gemmW4A16 picks for this product, and why. */
  choice: BackendChoice;
  ms: number;
  relError: number;
  pass: boolean;
  /** ‖Y_quantized - Y_dense‖ / ‖Y_dense‖: the cost of 4-bit weights on this product. */
  vsDense: number;
}

/** Each format's product on the backend gemmW4A16 picks for it, checked against the reference. */
function checkGemm(rng: Random, weight: SyntheticTensor): GemmCheck[] {
  const [N, K] = weight.shape;
  const x = syntheticActivations(rng, GEMM_M, K);
  const xf = Float32Array.from(x, bf16ToF32);
  const dense = denseProduct(xf, weight.data, GEMM_M, N, K);
  return GEMM_FORMATS.map((format) => {
    const w = quantize(weight.data, weight.shape, format, { name: weight.name });
    const choice = gemmBackend(x, w, { dtype: 'bf16' });
    const run = timed(() => gemmW4A16(choice.backend, x, [GEMM_M, K], w, { dtype: 'bf16' }));
    const reference = referenceGemmW4A16(x, [GEMM_M, K], w, { dtype: 'bf16' });
    const { relFrobenius } = errorMetrics(reference, run.value);
    // NaN fails the comparison, so a NaN anywhere in the output fails the check.
    const pass = relFrobenius <= FP32_OUTPUT_TOLERANCE;
    return { format, choice, ms: run.ms, relError: relFrobenius, pass, vsDense: errorMetrics(dense, reference).relFrobenius };
  });
}

async function runDemo(flags: DemoFlags): Promise<void> {
  const started = performance.now();
  const size = flags.quick ? QUICK : FULL;
  const config = llamaLikeConfig(size.hidden, size.intermediate);
  const rng = new Random(flags.seed);
  out(`razer demo (seed ${flags.seed}${flags.quick ? ', quick' : ''})`);
  out();
  const layer = timed(() => syntheticLlamaLayer(rng, config));
  describeLayer(config, layer.value, layer.ms);
  out();

  const formats = DEFAULT_ERROR_FORMATS;
  const measured = timed(() => measureLayer(layer.value, formats));
  out(`Quantization error per weight (${QUANTIZER_NOTES[quantizeBackend('nvfp4', undefined)]}, ${formatDuration(measured.ms)}):`);
  out(renderErrorTable(measured.value, formats));
  out('MSE: mean squared error of the dequantized weight; SQNR: signal-to-noise in dB (higher is better).');
  out();

  const weight = layer.value.find((t) => t.name === GEMM_WEIGHT) as SyntheticTensor;
  out(`W4A16 matrix product: X [${GEMM_M}, ${weight.shape[1]}] bf16 x ${weight.name} ${formatShape(weight.shape)}`);
  const checks = checkGemm(rng, weight);
  // The formats share a backend here (bf16 X, default special values): say it once.
  out(`  backend: ${checks[0].choice.backend} (${checks[0].choice.reason})`);
  out(
    renderTable(
      [
        { header: 'weights' },
        { header: 'backend' },
        { header: 'time', align: 'right' },
        { header: 'error vs reference', align: 'right' },
        { header: 'tolerance', align: 'right' },
        { header: 'check' },
        { header: 'error vs unquantized', align: 'right' },
      ],
      checks.map((c) => [
        c.format,
        c.choice.backend,
        formatDuration(c.ms),
        formatSci(c.relError),
        formatSci(FP32_OUTPUT_TOLERANCE),
        c.pass ? 'pass' : 'FAIL',
        `${(c.vsDense * 100).toFixed(2)}%`,
      ]),
    ),
  );
  out('Errors are relative Frobenius norms of Y; the tolerance is SPEC §4\'s for fp32 output.');
  out();
  const failed = checks.filter((c) => !c.pass);
  if (failed.length > 0) {
    throw new RazerError(
      'ERR_ARGUMENT',
      `demo: the W4A16 product is off for ${failed.map((c) => `${c.format} (${c.choice.backend} backend)`).join(', ')} (relative error above ${FP32_OUTPUT_TOLERANCE})`,
    );
  }
  out(`All checks passed in ${formatDuration(performance.now() - started)}.`);
}

export function demoCommand(): Command {
  return new Command('demo')
    .summary('compare the formats on synthetic weights and check a matrix product')
    .description(
      'A tour with no files needed: build a synthetic Llama-like decoder layer (heavy-tailed weights with outlier input channels), quantize it in every weight format, print the error table, then run a W4A16 matrix product on the best available backend and check it against the reference.',
    )
    .addOption(new Option('--seed <n>', 'seed of the synthetic weights and activations').argParser(parseSeed).default(1))
    .option('--quick', `a smaller layer (hidden ${QUICK.hidden}, intermediate ${QUICK.intermediate}) for a fast check`)
    .action((flags: DemoFlags) => runDemo(flags));
}
