// The public quantize(): backend choice and equality of the backends.
import { describe, expect, it } from 'vitest';
import { RazerError } from '../lib/errors.js';
import { loadAddon } from '../lib/native/loader.js';
import { quantize, quantizeAsync, quantizeBackend } from '../lib/quantize.js';
import { draw } from './helpers/distributions.js';

const addon = loadAddon() !== null;

describe('quantize() backends', () => {
  it('defaults to the cpu backend where the addon loaded, the reference for mxfp4/nf4', () => {
    expect(quantizeBackend('nvfp4_razer', undefined)).toBe(addon ? 'cpu' : 'reference');
    expect(quantizeBackend('mxfp4', undefined)).toBe('reference');
    expect(quantizeBackend('nf4', undefined)).toBe('reference');
    expect(quantizeBackend('nvfp4', 'reference')).toBe('reference');
  });

  it('rejects an unknown backend and cpu for formats it lacks', () => {
    expect(() => quantizeBackend('nvfp4', 'gpu')).toThrow(RazerError);
    expect(() => quantizeBackend('nvfp4', 'gpu')).toThrow(/options.backend: expected one of reference, cpu, got "gpu"/);
    expect(() => quantizeBackend('nf4', 'cpu')).toThrow(/use 'reference' for "nf4"/);
  });

  it.skipIf(!addon)('cpu and reference return identical tensors, sync and async', async () => {
    const seed = Math.floor(Math.random() * 2 ** 31);
    const x = draw('studentT3', 7, 512, seed);
    for (const format of ['nvfp4', 'nvfp4_4over6', 'nvfp4_razer', 'nvfp4_razer_a'] as const) {
      const ref = quantize(x, [7, 512], format, { backend: 'reference' });
      expect(quantize(x, [7, 512], format, { backend: 'cpu' }), `${format} seed ${seed}`).toEqual(ref);
      expect(await quantizeAsync(x, [7, 512], format), `${format} seed ${seed}`).toEqual(ref);
    }
  });
});
