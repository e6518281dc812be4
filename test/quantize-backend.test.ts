// The public quantize(): backend choice (from given facts, so every machine
// is covered without its hardware), errors for a backend that cannot serve,
// and equality of the backends this machine has.
import { describe, expect, it } from 'vitest';
import { type BackendInfo, availableBackends } from '../lib/backend.js';
import { FORMATS } from '../lib/formats.js';
import { backendInfo, loadAddon } from '../lib/native/loader.js';
import { QUANTIZE_BACKENDS, quantize, quantizeAsync, quantizeBackend, quantizeBackendChoice } from '../lib/quantize.js';
import { draw } from './helpers/distributions.js';
import { BARE_MACHINE, CPU_MACHINE, GPU_MACHINE } from './helpers/machines.js';
import { caught, expectCode, rejected } from './helpers/errors.js';

const addon = loadAddon() !== null;
const NATIVE = ['nvfp4', 'nvfp4_4over6', 'nvfp4_razer', 'nvfp4_razer_a'] as const;


describe('quantizeBackendChoice(): the default', () => {
  it('is cuda for the NVFP4 family on a GPU machine, cpu without a GPU, the reference without the addon', () => {
    expect(QUANTIZE_BACKENDS).toEqual(['cuda', 'cpu', 'reference']);
    for (const format of NATIVE) {
      expect(quantizeBackendChoice(format, undefined, { backends: GPU_MACHINE }), format).toEqual({ backend: 'cuda', reason: 'GPU 0' });
      expect(quantizeBackendChoice(format, undefined, { backends: CPU_MACHINE }), format).toEqual({
        backend: 'cpu',
        reason: 'the C++ backend; not cuda: no usable GPU: no driver',
      });
      expect(quantizeBackendChoice(format, undefined, { backends: BARE_MACHINE }).backend, format).toBe('reference');
    }
  });

  it('is the reference for mxfp4 and nf4 everywhere, and the reason says why not the native backends', () => {
    for (const format of ['mxfp4', 'nf4'] as const) {
      const choice = quantizeBackendChoice(format, undefined, { backends: GPU_MACHINE });
      expect(choice.backend).toBe('reference');
      expect(choice.reason).toBe(
        `the TypeScript reference; not cuda: it quantizes nvfp4, nvfp4_4over6, nvfp4_razer, nvfp4_razer_a, got format "${format}"; ` +
          `not cpu: it quantizes nvfp4, nvfp4_4over6, nvfp4_razer, nvfp4_razer_a, got format "${format}"`,
      );
    }
  });

  it("on this machine follows backendInfo(): its backend for the NVFP4 family, the reference for the rest", () => {
    const best = backendInfo().backend;
    for (const format of FORMATS) {
      expect(quantizeBackend(format, undefined), format).toBe((NATIVE as readonly string[]).includes(format) ? best : 'reference');
    }
    expect(quantizeBackendChoice('nvfp4').reason.length).toBeGreaterThan(0);
  });
});

describe('quantizeBackendChoice(): an explicit backend', () => {
  it('is used as asked where it can serve, and the reason says it was asked for', () => {
    expect(quantizeBackendChoice('nvfp4', 'cpu', { backends: GPU_MACHINE })).toEqual({
      backend: 'cpu',
      reason: 'asked for by options.backend; the C++ backend',
    });
    expect(quantizeBackendChoice('nf4', 'reference', { backends: BARE_MACHINE }).backend).toBe('reference');
    expect(quantizeBackend('nvfp4', 'reference')).toBe('reference');
  });

  it('unknown: ERR_ARGUMENT listing the backends', () => {
    expectCode(caught(() => quantizeBackend('nvfp4', 'gpu')), 'ERR_ARGUMENT', 'options.backend: expected one of cuda, cpu, reference, got "gpu"');
    expectCode(caught(() => quantizeBackendChoice('nvfp4', 7, { backends: GPU_MACHINE })), 'ERR_ARGUMENT', /got 7$/);
  });

  it('not available here: ERR_NO_GPU for cuda, ERR_NATIVE for cpu, with the reason', () => {
    expectCode(
      caught(() => quantizeBackendChoice('nvfp4', 'cuda', { backends: CPU_MACHINE })),
      'ERR_NO_GPU',
      'options.backend: the cuda backend is not available here: no usable GPU: no driver',
    );
    expectCode(
      caught(() => quantizeBackendChoice('nvfp4_razer', 'cpu', { backends: BARE_MACHINE })),
      'ERR_NATIVE',
      'options.backend: the cpu backend is not available here: no native addon: not built',
    );
  });

  it('without the format: ERR_ARGUMENT saying what it quantizes, what came, and what to use', () => {
    expectCode(
      caught(() => quantizeBackendChoice('nf4', 'cuda', { backends: GPU_MACHINE })),
      'ERR_ARGUMENT',
      `options.backend: the cuda backend quantizes nvfp4, nvfp4_4over6, nvfp4_razer, nvfp4_razer_a, got format "nf4"; use 'reference', or leave options.backend out for the best that can`,
    );
    expectCode(caught(() => quantizeBackendChoice('mxfp4', 'cpu', { backends: CPU_MACHINE })), 'ERR_ARGUMENT', /^options.backend: the cpu backend quantizes .*got format "mxfp4"/);
    expectCode(caught(() => quantizeBackendChoice('mxfp4', 'cpu', { backends: CPU_MACHINE, argument: '--backend' })), 'ERR_ARGUMENT', /^--backend: .*leave --backend out/);
  });
});

describe('quantize() on this machine', () => {
  it.skipIf(backendInfo().backend === 'cuda')('an explicit cuda backend without a GPU throws (sync) and rejects (async) with ERR_NO_GPU', async () => {
    const x = draw('gaussian', 2, 32, 1);
    const cuda = availableBackends().find((b) => b.name === 'cuda') as BackendInfo;
    const message = `options.backend: the cuda backend is not available here: ${cuda.reason}`;
    expectCode(caught(() => quantize(x, [2, 32], 'nvfp4', { backend: 'cuda' })), 'ERR_NO_GPU', message);
    expectCode(await rejected(quantizeAsync(x, [2, 32], 'nvfp4', { backend: 'cuda' })), 'ERR_NO_GPU', message);
  });

  it('an explicit backend that lacks the format fails before any work', async () => {
    const x = draw('gaussian', 2, 64, 2);
    expectCode(caught(() => quantize(x, [2, 64], 'nf4', { backend: 'cpu' })), addon ? 'ERR_ARGUMENT' : 'ERR_NATIVE', /^options.backend: the cpu backend/);
    expectCode(await rejected(quantizeAsync(x, [2, 64], 'mxfp4', { backend: 'cpu' })), addon ? 'ERR_ARGUMENT' : 'ERR_NATIVE');
  });

  it.skipIf(!addon)('the default, cpu and reference return identical tensors, sync and async', async () => {
    const seed = Math.floor(Math.random() * 2 ** 31);
    const x = draw('studentT3', 7, 512, seed);
    for (const format of NATIVE) {
      const ref = quantize(x, [7, 512], format, { backend: 'reference' });
      expect(quantize(x, [7, 512], format, { backend: 'cpu' }), `${format} seed ${seed}`).toEqual(ref);
      expect(quantize(x, [7, 512], format), `${format} seed ${seed}`).toEqual(ref);
      expect(await quantizeAsync(x, [7, 512], format), `${format} seed ${seed}`).toEqual(ref);
    }
  });
});
