// Loads razer.node and decides which backend runs, without ever crashing the
// process (node-llama-cpp's rule): a missing addon, a missing or old driver,
// no device, or a GPU without a kernel image all fall back to a lower
// backend, and backendInfo() says why.
//
//   cuda       the addon, built with CUDA, on a GPU it has kernels for
//   cpu        the addon's C++ CPU backend
//   reference  the TypeScript reference (no addon)
//
// RAZER_BACKEND=cpu or =reference forces a lower one; =cuda or =auto (or
// unset) picks the best available. The CUDA verdict comes from a cheap
// in-process probe (driver and runtime versions, devices and their compute
// capabilities: no CUDA context), then, where that says yes, from a child
// process that loads the addon and launches the probe kernel, so that a
// broken driver can only take the child down. RAZER_CUDA_PROBE=in-process
// skips the child (the same checks run here instead).

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RazerError, type RazerErrorCode } from '../errors.js';
import type { AddonCudaProbe, AddonDeviceInfo, RazerAddon } from './addon-types.js';

export type NativeBackend = 'cuda' | 'cpu' | 'reference';

export interface NativeBackendInfo {
  /** The best backend this process may use. */
  readonly backend: NativeBackend;
  /** Why this backend and not a better one (or why it was forced). */
  readonly reason: string;
  /** Whether the native addon is loaded. */
  readonly addon: boolean;
  /** What the CUDA probe found; null without an addon built with CUDA, or when not probed. */
  readonly cuda: {
    readonly driverVersion: number;
    readonly runtimeVersion: number;
    readonly devices: number;
  } | null;
}

const require = createRequire(import.meta.url);

/** The package root: the nearest folder above this file whose package.json is ours. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'nvfp4-razer') return dir;
      } catch {
        // an unreadable package.json is not ours; keep looking
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`no nvfp4-razer package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

interface NodeGypBuild {
  (dir: string): unknown;
  resolve(dir: string): string;
}

let loaded: { addon: RazerAddon; path: string } | { error: string } | undefined;

/** The addon's path and module, or why it could not be loaded (cached; never throws). */
function load(): { addon: RazerAddon; path: string } | { error: string } {
  if (loaded) return loaded;
  try {
    const nodeGypBuild = require('node-gyp-build') as NodeGypBuild;
    // node-gyp-build looks in build/Release, build/Debug, then prebuilds/<platform>-<arch>.
    const path = nodeGypBuild.resolve(packageRoot());
    const addon = require(path) as RazerAddon;
    addon.setErrorFactory((code, message) => new RazerError(code as RazerErrorCode, message));
    loaded = { addon, path };
  } catch (e) {
    loaded = { error: e instanceof Error ? e.message.split('\n')[0] : String(e) };
  }
  return loaded;
}

/** The native addon, or null when it is missing or failed to load. Never throws. */
export function loadAddon(): RazerAddon | null {
  const l = load();
  return 'addon' in l ? l.addon : null;
}

/** The addon's file, when loaded. */
export function addonPath(): string | null {
  const l = load();
  return 'path' in l ? l.path : null;
}

/** The native addon, or a RazerError (ERR_NATIVE) saying why it is not there. */
export function requireAddon(what: string): RazerAddon {
  const l = load();
  if ('addon' in l) return l.addon;
  throw new RazerError(
    'ERR_NATIVE',
    `${what}: the native addon is not available (${l.error}); build it with \`npx cmake-js compile\` or reinstall the package`,
  );
}

function cudaVersion(v: number): string {
  return v > 0 ? `${Math.floor(v / 1000)}.${(v % 1000) / 10}` : 'none';
}

function summary(p: AddonCudaProbe): NativeBackendInfo['cuda'] {
  return { driverVersion: p.driverVersion, runtimeVersion: p.runtimeVersion, devices: p.deviceCount };
}

interface SelfTestVerdict {
  ok: boolean;
  detail: string;
}

/**
 * Loads the addon in a child process, lists devices (kernel-image check) and
 * launches the probe kernel on the first device with kernels. A crash or hang
 * there costs the child, not us.
 */
function selfTestInChild(path: string): SelfTestVerdict {
  const script = `
    const addon = require(${JSON.stringify(path)});
    let out;
    try {
      const devices = addon.devices();
      const usable = devices.find((d) => d.kernels);
      if (usable) addon.cudaSelfTest(usable.ordinal);
      out = { ok: !!usable, devices };
    } catch (e) {
      out = { ok: false, error: (e && e.code ? e.code + ': ' : '') + (e && e.message) };
    }
    process.stdout.write(JSON.stringify(out));
  `;
  const child = spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, RAZER_BACKEND: 'cpu' },
  });
  if (child.error) return { ok: false, detail: `the CUDA self-test child failed to run: ${child.error.message}` };
  if (child.status !== 0) {
    const how = child.signal ? `was killed by ${child.signal}` : `exited with ${child.status}`;
    return { ok: false, detail: `the CUDA self-test child ${how}: ${child.stderr.trim().split('\n').pop() ?? ''}` };
  }
  try {
    const r = JSON.parse(child.stdout) as { ok: boolean; error?: string; devices?: AddonDeviceInfo[] };
    return verdictFrom(r.ok, r.devices, r.error);
  } catch {
    return { ok: false, detail: `the CUDA self-test child printed no verdict: ${child.stdout.slice(0, 200)}` };
  }
}

function selfTestInProcess(addon: RazerAddon): SelfTestVerdict {
  try {
    const devices = addon.devices();
    const usable = devices.find((d) => d.kernels);
    if (usable) addon.cudaSelfTest(usable.ordinal);
    return verdictFrom(!!usable, devices);
  } catch (e) {
    return verdictFrom(false, undefined, e instanceof Error ? e.message : String(e));
  }
}

function verdictFrom(ok: boolean, devices: AddonDeviceInfo[] | undefined, error?: string): SelfTestVerdict {
  if (error) return { ok: false, detail: `the CUDA self-test failed: ${error}` };
  const list = (devices ?? [])
    .map((d) => `${d.ordinal}: ${d.name} (sm_${d.computeCapability.join('')})${d.kernels ? '' : `, no kernel image: ${d.kernelError ?? '?'}`}`)
    .join('; ');
  return { ok, detail: list };
}

function decide(): NativeBackendInfo {
  const asked = (process.env.RAZER_BACKEND ?? '').trim().toLowerCase();
  let note = '';
  if (asked === 'reference') {
    return { backend: 'reference', reason: 'forced by RAZER_BACKEND=reference', addon: false, cuda: null };
  }
  if (asked !== '' && asked !== 'cpu' && asked !== 'cuda' && asked !== 'auto') {
    note = ` (RAZER_BACKEND=${process.env.RAZER_BACKEND} is not one of cuda, cpu, reference, auto: ignored)`;
  }
  const l = load();
  if (!('addon' in l)) {
    return { backend: 'reference', reason: `the native addon is not available: ${l.error}${note}`, addon: false, cuda: null };
  }
  if (asked === 'cpu') return { backend: 'cpu', reason: 'forced by RAZER_BACKEND=cpu', addon: true, cuda: null };

  const cpu = (reason: string, cuda: NativeBackendInfo['cuda'] = null): NativeBackendInfo => ({
    backend: 'cpu',
    reason: reason + note,
    addon: true,
    cuda,
  });
  let probe: AddonCudaProbe;
  try {
    probe = l.addon.cudaProbe();
  } catch (e) {
    return cpu(`the CUDA probe failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!probe.compiled) {
    return cpu('the addon was built without CUDA (nvcc was not found at build time, or RAZER_CUDA_ARCHS=off)');
  }
  const cuda = summary(probe);
  const versions = `CUDA driver ${cudaVersion(probe.driverVersion)}, runtime ${cudaVersion(probe.runtimeVersion)}`;
  if (probe.driverVersion === 0) {
    return cpu(`no NVIDIA driver: libcuda.so.1 could not be loaded (${probe.error ?? 'no error'}; ${versions})`, cuda);
  }
  if (probe.error !== null) {
    const old =
      probe.error === 'cudaErrorInsufficientDriver'
        ? `the driver (CUDA ${cudaVersion(probe.driverVersion)}) is older than the runtime this addon was built with (${cudaVersion(probe.runtimeVersion)}); update the driver: `
        : '';
    return cpu(`CUDA is unusable: ${old}${probe.error}: ${probe.errorMessage ?? ''} (${versions})`, cuda);
  }
  if (probe.deviceCount === 0) {
    const visible = process.env.CUDA_VISIBLE_DEVICES;
    return cpu(`no CUDA device is visible${visible !== undefined ? ` (CUDA_VISIBLE_DEVICES=${JSON.stringify(visible)})` : ''}; ${versions}`, cuda);
  }
  const expected = probe.devices.filter((d) => d.imageExpected);
  if (expected.length === 0) {
    const seen = probe.devices.map((d) => `${d.name} (sm_${d.computeCapability.join('')})`).join(', ');
    return cpu(
      `no kernel image for ${seen}: this build has ${probe.targets.join(', ')}; rebuild with RAZER_CUDA_ARCHS=${probe.devices[0].computeCapability.join('')}`,
      cuda,
    );
  }
  const inProcess = (process.env.RAZER_CUDA_PROBE ?? '').toLowerCase() === 'in-process';
  const verdict = inProcess ? selfTestInProcess(l.addon) : selfTestInChild(l.path);
  if (!verdict.ok) return cpu(`${verdict.detail}; ${versions}`, cuda);
  return {
    backend: 'cuda',
    reason: `${verdict.detail}; targets ${probe.targets.join(', ')}; ${versions}${note}`,
    addon: true,
    cuda,
  };
}

let info: NativeBackendInfo | undefined;

/**
 * The one authoritative answer to "which backend runs here, and why",
 * computed once per process (per thread) at first call. Never throws.
 */
export function backendInfo(): NativeBackendInfo {
  info ??= decide();
  return info;
}
