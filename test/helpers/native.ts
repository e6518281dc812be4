// Helpers for the native-addon tests: running the library in a child process
// or a worker thread (plain Node cannot load .ts files, so lib/ is transpiled
// once into a cache folder inside the package, where the loader still finds
// the package root and its build/Release/razer.node), and the GPU gate.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { loadAddon } from '../../lib/native/loader.js';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

let transpiled: string | undefined;

/** lib/ as plain ESM JavaScript; returns the folder holding lib/. Cached per test file. */
export function transpiledLib(): string {
  if (transpiled) return transpiled;
  const out = join(repoRoot, 'node_modules', '.cache', 'nvfp4-razer-tests', `${process.pid}`);
  transpileLibTo(out);
  transpiled = out;
  return out;
}

/** Writes every .ts file under lib/ as plain ESM JavaScript under `out` (as out/lib/...), replacing what was there. */
export function transpileLibTo(out: string): void {
  rmSync(out, { recursive: true, force: true });
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) {
        const js = ts.transpileModule(readFileSync(path, 'utf8'), {
          compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
        }).outputText;
        const dest = join(out, relative(repoRoot, path)).replace(/\.ts$/, '.js');
        mkdirSync(dirname(dest), { recursive: true });
        writeFileSync(dest, js);
      }
    }
  };
  walk(join(repoRoot, 'lib'));
}

export function cleanTranspiled(): void {
  if (transpiled) rmSync(transpiled, { recursive: true, force: true });
  transpiled = undefined;
}

/** Writes an ESM script beside the transpiled lib/ (import from './lib/...'). */
export function writeScript(name: string, source: string): string {
  const path = join(transpiledLib(), name);
  writeFileSync(path, source);
  return path;
}

export interface ChildResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs an ESM script (see writeScript) in a fresh node with `env` replacing the environment. */
export function runNode(script: string, env: NodeJS.ProcessEnv, args: string[] = []): ChildResult {
  const r = spawnSync(process.execPath, [...args, script], { env, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** The environment less everything that could point at CUDA or force a backend. */
export function envWithoutCuda(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(RAZER_|CUDA_|LD_LIBRARY_PATH$|NVFP4_RAZER_)/.test(k)) env[k] = v;
  }
  return env;
}

/** Is there a GPU these tests can use? With the reason, printed once per file when not. */
export function gpuGate(): { hasGpu: boolean; reason: string } {
  const addon = loadAddon();
  if (!addon) return { hasGpu: false, reason: 'the native addon is not loaded' };
  const probe = addon.cudaProbe();
  if (!probe.compiled) return { hasGpu: false, reason: 'the addon was built without CUDA' };
  if (probe.deviceCount === 0) {
    return {
      hasGpu: false,
      reason: `no CUDA device (${probe.error ?? 'none'}; driver ${probe.driverVersion}, runtime ${probe.runtimeVersion})`,
    };
  }
  if (!probe.devices.some((d) => d.imageExpected)) {
    return { hasGpu: false, reason: `no kernel image for the device(s); built for ${probe.targets.join(', ')}` };
  }
  return { hasGpu: true, reason: '' };
}
