// Loading and backend choice: the package loads and works whatever is
// missing (CUDA, the driver, the addon itself), and backendInfo() says why.
// Each case runs the library in a fresh child process with its own
// environment (LD_LIBRARY_PATH and CUDA_VISIBLE_DEVICES only take effect at
// process start).
import { afterAll, describe, expect, it } from 'vitest';
import { backendInfo, loadAddon } from '../lib/native/index.js';
import { cleanTranspiled, envWithoutCuda, runNode, writeScript } from './helpers/native.js';

afterAll(cleanTranspiled);

const probeScript = () =>
  writeScript(
    'loader-probe.mjs',
    `
import { backendInfo, nativeQuantize, devices } from './lib/native/index.js';
import { quantize } from './lib/quantize.js';
const info = backendInfo();
const x = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * 3);
const ref = quantize(x, [2, 32], 'nvfp4_razer');
let native = null;
try {
  const q = await nativeQuantize(x, [2, 32], 'nvfp4_razer');
  native = { same: q.codes.every((c, i) => c === ref.codes[i]) && q.scales.every((s, i) => s === ref.scales[i]) && q.globalScale === ref.globalScale };
} catch (e) {
  native = { code: e.code, message: e.message };
}
let gpu = null;
try { gpu = { count: devices().length }; } catch (e) { gpu = { code: e.code }; }
process.stdout.write(JSON.stringify({ info, native, gpu, reference: ref.codes.length }));
`,
  );

function probe(env: NodeJS.ProcessEnv) {
  const r = runNode(probeScript(), env);
  expect(r.status, `child failed (${r.signal ?? r.status}): ${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout) as {
    info: ReturnType<typeof backendInfo>;
    native: { same?: boolean; code?: string; message?: string };
    gpu: { count?: number; code?: string };
    reference: number;
  };
}

describe('backendInfo()', () => {
  it('in this process: the addon is loaded and the choice has a reason', () => {
    const info = backendInfo();
    expect(info.addon).toBe(true);
    expect(['cuda', 'cpu']).toContain(info.backend);
    expect(info.reason.length).toBeGreaterThan(10);
    expect(backendInfo()).toBe(info); // computed once
    const probe = loadAddon()?.cudaProbe();
    if (probe?.compiled) {
      expect(info.cuda).toEqual({ driverVersion: probe.driverVersion, runtimeVersion: probe.runtimeVersion, devices: probe.deviceCount });
    } else {
      expect(info.cuda).toBeNull();
    }
  });

  it('with CUDA absent (no libraries on the path, no visible device): the CPU backend, and why', () => {
    const r = probe({ ...envWithoutCuda(), LD_LIBRARY_PATH: '', CUDA_VISIBLE_DEVICES: '' });
    expect(r.info.backend).toBe('cpu');
    expect(r.info.addon).toBe(true);
    expect(r.info.reason).toMatch(/no NVIDIA driver|no CUDA device|cudaErrorNoDevice|built without CUDA/);
    expect(r.native).toEqual({ same: true });
    expect(r.gpu.code).toBe('ERR_NO_GPU');
  });

  it('RAZER_BACKEND=cpu forces the CPU backend (no CUDA probe)', () => {
    const r = probe({ ...envWithoutCuda(), RAZER_BACKEND: 'cpu' });
    expect(r.info).toEqual({ backend: 'cpu', reason: 'forced by RAZER_BACKEND=cpu', addon: true, cuda: null });
    expect(r.native).toEqual({ same: true });
  });

  it('RAZER_BACKEND=reference forces the reference backend', () => {
    const r = probe({ ...envWithoutCuda(), RAZER_BACKEND: 'reference' });
    expect(r.info).toEqual({ backend: 'reference', reason: 'forced by RAZER_BACKEND=reference', addon: false, cuda: null });
    expect(r.reference).toBe(32);
  });

  it('an unknown RAZER_BACKEND is ignored, and the reason says so', () => {
    const r = probe({ ...envWithoutCuda(), RAZER_BACKEND: 'tpu' });
    expect(r.info.backend).not.toBe('reference');
    expect(r.info.reason).toMatch(/RAZER_BACKEND=tpu is not one of .* ignored/);
  });

  it('a missing addon: the reference backend, native calls fail with ERR_NATIVE, GPU calls with ERR_NO_GPU', () => {
    // node-gyp-build's override: look for the addon in an empty folder instead.
    const r = probe({ ...envWithoutCuda(), NVFP4_RAZER_PREBUILD: '/nonexistent-razer-addon' });
    expect(r.info.backend).toBe('reference');
    expect(r.info.addon).toBe(false);
    expect(r.info.reason).toMatch(/the native addon is not available: No native build was found/);
    expect(r.native.code).toBe('ERR_NATIVE');
    expect(r.native.message).toMatch(/nativeQuantize: the native addon is not available/);
    expect(r.gpu.code).toBe('ERR_NO_GPU');
    expect(r.reference).toBe(32); // the reference quantizer still works
  });
});
