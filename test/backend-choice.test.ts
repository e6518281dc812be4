// The backend rule (lib/backend-choice.ts) and the W4A16 product's use of it
// (gemmBackend, gemmW4A16 with no backend or 'auto'), from given facts, so
// that the GPU machine's choices are checked here too.
import { describe, expect, it } from 'vitest';
import { availableBackends, bestBackend, gemmBackend, gemmW4A16 } from '../lib/backend.js';
import { chooseBackend } from '../lib/backend-choice.js';
import { f32ToBf16 } from '../lib/codecs.js';
import type { QuantizedTensor } from '../lib/formats.js';
import { errorMetrics } from '../lib/metrics.js';
import { backendInfo } from '../lib/native/loader.js';
import { referenceGemmW4A16 } from '../lib/reference/gemm.js';
import { referenceQuantize } from '../lib/reference/quantize.js';
import { draw } from './helpers/distributions.js';
import { BARE_MACHINE, CPU_MACHINE, GPU_MACHINE } from './helpers/machines.js';
import { caught, expectCode } from './helpers/errors.js';


describe('chooseBackend()', () => {
  it('takes the first backend that is available and has no gap, naming the ones passed over', () => {
    expect(chooseBackend(GPU_MACHINE, {}, undefined, 'b')).toEqual({ backend: 'cuda', reason: 'GPU 0' });
    expect(chooseBackend(GPU_MACHINE, { cuda: 'takes x, got y' }, undefined, 'b')).toEqual({
      backend: 'cpu',
      reason: 'the C++ backend; not cuda: it takes x, got y',
    });
    expect(chooseBackend(BARE_MACHINE, { cuda: 'takes x, got y' }, undefined, 'b')).toEqual({
      backend: 'reference',
      reason: 'the TypeScript reference; not cuda: no usable GPU: no driver; not cpu: no native addon: not built',
    });
  });

  it('an explicit backend: as asked, or an error naming the argument', () => {
    expect(chooseBackend(CPU_MACHINE, {}, 'reference', 'b')).toEqual({ backend: 'reference', reason: 'asked for by b; the TypeScript reference' });
    expectCode(caught(() => chooseBackend(GPU_MACHINE, {}, 'tpu', 'b')), 'ERR_ARGUMENT', 'b: expected one of cuda, cpu, reference, got "tpu"');
    expectCode(caught(() => chooseBackend(CPU_MACHINE, {}, 'cuda', 'b')), 'ERR_NO_GPU', 'b: the cuda backend is not available here: no usable GPU: no driver');
    expectCode(caught(() => chooseBackend(BARE_MACHINE, {}, 'cpu', 'b')), 'ERR_NATIVE', 'b: the cpu backend is not available here: no native addon: not built');
    expectCode(
      caught(() => chooseBackend(GPU_MACHINE, { cuda: 'takes x, got y' }, 'cuda', 'b')),
      'ERR_ARGUMENT',
      "b: the cuda backend takes x, got y; use 'cpu' or 'reference', or leave b out for the best that can",
    );
  });

  it('bestBackend() is the rule with no gaps on this machine', () => {
    const best = bestBackend();
    expect(best.name).toBe(backendInfo().backend);
    expect(best.available).toBe(true);
    expect(best.reason).toBe(chooseBackend(availableBackends(), {}, undefined, 'backend').reason);
  });
});

// ------------------------------------------------------------ gemmBackend --

const K = 64;
const weight = (format: 'nvfp4' | 'nvfp4_4over6' | 'nvfp4_razer' | 'nvfp4_razer_a' | 'mxfp4' | 'nf4', options = {}): QuantizedTensor =>
  referenceQuantize(draw('laplace', 8, K, 3), [8, K], format, options);
const xF32 = draw('gaussian', 2, K, 4);
const xBf16 = Uint16Array.from(xF32, f32ToBf16);

describe('gemmBackend(): the default for one W4A16 product', () => {
  it('cuda for f16/bf16 X and an nvfp4, nvfp4_4over6 or nvfp4_razer weight on a GPU machine', () => {
    for (const format of ['nvfp4', 'nvfp4_4over6', 'nvfp4_razer'] as const) {
      for (const dtype of ['f16', 'bf16'] as const) {
        expect(gemmBackend(xBf16, weight(format), { dtype }, GPU_MACHINE).backend, `${format} ${dtype}`).toBe('cuda');
      }
    }
    expect(gemmBackend(xBf16, weight('nvfp4_razer', { svSmall: 7, svBig: 12 }), { dtype: 'bf16' }, GPU_MACHINE).backend).toBe('cuda');
  });

  it('cpu, never a conversion, for fp32 X on a GPU machine; the reason says why', () => {
    expect(gemmBackend(xF32, weight('nvfp4_razer'), {}, GPU_MACHINE)).toEqual({
      backend: 'cpu',
      reason: 'the C++ backend; not cuda: it takes X as f16 or bf16 bits, got Float32Array(128) (converting X would change the numerics)',
    });
    expect(gemmBackend(xBf16, weight('nvfp4'), {}, GPU_MACHINE).reason).toMatch(/not cuda: it takes X as f16 or bf16 bits, got Uint16Array\(128\) \(/);
  });

  it('cpu for weights the GPU kernels do not take: nvfp4_razer_a, special values below 1', () => {
    expect(gemmBackend(xBf16, weight('nvfp4_razer_a'), { dtype: 'bf16' }, GPU_MACHINE).reason).toBe(
      'the C++ backend; not cuda: it takes nvfp4, nvfp4_4over6, nvfp4_razer weights, got "nvfp4_razer_a"',
    );
    const small = weight('nvfp4_razer', { svSmall: 0.75, svBig: 5 });
    expect(gemmBackend(xBf16, small, { dtype: 'bf16' }, GPU_MACHINE).reason).toBe(
      'the C++ backend; not cuda: it takes special values of at least 1, got a weight with 0.75',
    );
  });

  it('the reference for mxfp4 and nf4 weights, and wherever the addon is missing', () => {
    for (const format of ['mxfp4', 'nf4'] as const) {
      const choice = gemmBackend(xBf16, weight(format), { dtype: 'bf16' }, GPU_MACHINE);
      expect(choice.backend, format).toBe('reference');
      expect(choice.reason).toMatch(new RegExp(`not cpu: it takes .* weights, got "${format}"$`));
    }
    expect(gemmBackend(xBf16, weight('nvfp4'), { dtype: 'bf16' }, BARE_MACHINE).backend).toBe('reference');
    expect(gemmBackend(xF32, weight('nvfp4'), {}, CPU_MACHINE).backend).toBe('cpu');
  });
});

describe('gemmW4A16 with no backend named', () => {
  it("runs gemmBackend()'s choice (undefined and 'auto' alike), within SPEC §4 of the reference", () => {
    const w = weight('nvfp4_razer');
    for (const [x, opts] of [
      [xBf16, { dtype: 'bf16' }],
      [xF32, {}],
    ] as const) {
      const ref = referenceGemmW4A16(x, [2, K], w, opts);
      const chosen = gemmW4A16(gemmBackend(x, w, opts).backend, x, [2, K], w, opts);
      for (const y of [gemmW4A16(undefined, x, [2, K], w, opts), gemmW4A16('auto', x, [2, K], w, opts)]) {
        expect(y).toEqual(chosen);
        expect(errorMetrics(ref, y).relFrobenius).toBeLessThanOrEqual(1e-5);
      }
    }
  });

  it('an unknown backend is ERR_ARGUMENT', () => {
    expectCode(
      caught(() => gemmW4A16('gpu' as never, xF32, [2, K], weight('nvfp4'))),
      'ERR_ARGUMENT',
      `backend: expected one of cuda, cpu, reference or 'auto', got "gpu"`,
    );
  });
});
