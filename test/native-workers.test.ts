// The addon is context-aware: several worker_threads load it at once, each
// with its own instance data (error class, native objects), and run GEMMs
// concurrently with results identical to the main thread's. Workers that end
// with undisposed native objects, or are terminated mid-call, leave the
// process healthy (the environment cleanup hook frees their memory).
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { nativeGemmW4A16Sync, nativeGemmW4A4Sync, nativeMemoryStats } from '../lib/native/index.js';
import { referenceQuantize as quantize } from '../lib/reference/quantize.js';
import { draw } from './helpers/distributions.js';
import { cleanTranspiled, writeScript } from './helpers/native.js';

afterAll(cleanTranspiled);

const workerScript = () =>
  writeScript(
    'gemm-worker.mjs',
    `
import { parentPort, workerData } from 'node:worker_threads';
import { RazerError } from './lib/errors.js';
import { NativeWeight, nativeGemmW4A16, nativeGemmW4A4, nativeQuantize } from './lib/native/index.js';

const { x, M, K, weight, rounds, leak } = workerData;
const w = NativeWeight.fromQuantized(weight);
const results = [];
for (let r = 0; r < rounds; r++) {
  // Both GEMMs in flight at once, on a plain weight and on a NativeWeight.
  const [a, b] = await Promise.all([
    nativeGemmW4A16(x, [M, K], weight, { threads: 2 }),
    nativeGemmW4A4(x, [M, K], w, { threads: 2, activationFormat: 'nvfp4_razer_a' }),
  ]);
  results.push([a, b]);
}
// Errors made in this thread are this thread's RazerError.
let errorOk = false;
try {
  await nativeQuantize(new Float32Array([NaN, ...new Array(15).fill(1)]), [1, 16], 'nvfp4');
} catch (e) {
  errorOk = e instanceof RazerError && e.code === 'ERR_NON_FINITE';
}
if (!leak) w.dispose(); // else: left for the environment's cleanup hook
parentPort.postMessage({ results, errorOk });
`,
  );

function runWorker(data: object): Promise<{ results: [Float32Array, Float32Array][]; errorOk: boolean }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerScript(), { workerData: data });
    let message: unknown;
    worker.on('message', (m) => (message = m));
    worker.on('error', reject);
    worker.on('exit', (code) => (code === 0 ? resolve(message as never) : reject(new Error(`worker exited with ${code}`))));
  });
}

describe('worker_threads', () => {
  it('4 workers run GEMMs at once, each result identical to the main thread one', async () => {
    const [M, N, K] = [8, 96, 512];
    const jobs = Array.from({ length: 4 }, (_, i) => {
      const weight = quantize(draw('studentT3', N, K, 100 + i), [N, K], i % 2 ? 'nvfp4_razer' : 'nvfp4');
      const x = draw('gaussian', M, K, 200 + i);
      return { x, M, K, weight, rounds: 5, leak: i === 3 };
    });
    const expected = jobs.map((j) => [
      nativeGemmW4A16Sync(j.x, [M, K], j.weight),
      nativeGemmW4A4Sync(j.x, [M, K], j.weight, { activationFormat: 'nvfp4_razer_a' }),
    ]);
    const outs = await Promise.all(jobs.map(runWorker));
    outs.forEach((out, i) => {
      expect(out.errorOk, `worker ${i}`).toBe(true);
      expect(out.results).toHaveLength(5);
      for (const [a, b] of out.results) {
        expect(a, `worker ${i} W4A16`).toEqual(expected[i][0]);
        expect(b, `worker ${i} W4A4`).toEqual(expected[i][1]);
      }
    });
    // Main-thread native objects are counted apart from the workers' ones.
    expect(nativeMemoryStats()?.liveObjects).toBe(0);
  });

  it('terminating workers mid-call leaves this process working', async () => {
    const [M, N, K] = [64, 512, 2048];
    const weight = quantize(draw('gaussian', N, K, 300), [N, K], 'nvfp4');
    const x = draw('gaussian', M, K, 301);
    // At several moments: while loading, while GEMMs run, while they complete.
    for (const delay of [0, 30, 100, 250]) {
      const workers = Array.from({ length: 3 }, () => new Worker(workerScript(), { workerData: { x, M, K, weight, rounds: 50, leak: true } }));
      await new Promise((r) => setTimeout(r, delay));
      await Promise.all(workers.map((w) => w.terminate()));
    }
    // Still fine here, and again in new workers.
    const small = quantize(draw('gaussian', 16, 64, 302), [16, 64], 'nvfp4');
    const xs = draw('gaussian', 2, 64, 303);
    const out = await runWorker({ x: xs, M: 2, K: 64, weight: small, rounds: 1, leak: false });
    expect(out.results[0][0]).toEqual(nativeGemmW4A16Sync(xs, [2, 64], small));
  });
});
