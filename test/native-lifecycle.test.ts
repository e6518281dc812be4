// Native object lifetimes under load: 10,000 create/dispose cycles and
// 10,000 objects left to the garbage collector, with RSS and V8's external
// memory (which the addon adjusts by each object's native bytes) staying
// within a small bound. Runs in a child started with --expose-gc, so that the
// measurements are not disturbed by the test runner.
import { afterAll, describe, expect, it } from 'vitest';
import { cleanTranspiled, runNode, writeScript } from './helpers/native.js';

afterAll(cleanTranspiled);

const script = () =>
  writeScript(
    'lifecycle.mjs',
    `
import { NativeWeight, nativeDequantizeSync, nativeMemoryStats } from './lib/native/index.js';
import { quantize } from './lib/quantize.js';

const MiB = 1024 * 1024;
const settle = async () => {
  // Finalizers run after GC, from the event loop: collect, then let them run.
  for (let i = 0; i < 4; i++) {
    globalThis.gc();
    await new Promise((r) => setImmediate(r));
  }
};
// external: V8's external-memory total that the addon adjusts (memoryUsage() omits it).
const mem = () => {
  const s = nativeMemoryStats();
  return { rss: process.memoryUsage().rss, external: s.v8ExternalMemory, live: s.liveObjects, bytes: s.nativeBytes };
};

// A weight of 64 KiB of codes (+ 8 KiB scales) per object.
const [N, K] = [256, 512];
const x = Float32Array.from({ length: N * K }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 7)));
const q = quantize(x, [N, K], 'nvfp4_razer');
const bytes = q.codes.length + q.scales.length;

// External memory follows the native bytes, both ways.
await settle();
const e0 = mem().external;
const one = NativeWeight.fromQuantized(q);
const e1 = mem().external;
one.dispose();
const e2 = mem().external;

// Warm up, then 10,000 create/use/dispose cycles.
for (let i = 0; i < 500; i++) NativeWeight.fromQuantized(q).dispose();
await settle();
const before = mem();
for (let i = 0; i < 10000; i++) {
  const w = NativeWeight.fromQuantized(q);
  if (i % 1000 === 0) nativeDequantizeSync(w, { threads: 1 });
  w[Symbol.dispose]();
}
await settle();
const afterDispose = mem();

// 10,000 objects dropped without dispose(): the finalizers must free them.
// Twice: the allocator keeps the first round's peak (RSS does not shrink
// back), so a leak shows as growth from the first round to the second.
let peakExternal = 0;
const dropRound = async () => {
  for (let i = 0; i < 10000; i++) {
    NativeWeight.fromQuantized(q);
    if (i % 500 === 0) {
      peakExternal = Math.max(peakExternal, mem().external);
      await new Promise((r) => setImmediate(r));
    }
  }
  await settle();
  await settle();
  return mem();
};
const afterGc1 = await dropRound();
const afterGc = await dropRound();

process.stdout.write(JSON.stringify({
  bytes,
  adjustUp: e1 - e0,
  adjustDown: e1 - e2,
  disposeRssGrowth: (afterDispose.rss - before.rss) / MiB,
  disposeExternalGrowth: (afterDispose.external - before.external) / MiB,
  gcRssGrowth: (afterGc.rss - afterGc1.rss) / MiB,
  firstRoundRssGrowth: (afterGc1.rss - before.rss) / MiB,
  gcExternalGrowth: (afterGc.external - before.external) / MiB,
  peakExternalGrowth: (peakExternal - before.external) / MiB,
  liveAfterGc: afterGc.live,
  bytesAfterGc: afterGc.bytes,
}));
`,
  );

describe('native object lifetimes', () => {
  it('10,000 create/dispose cycles and 10,000 GC-driven frees leave RSS and external memory flat', () => {
    const r = runNode(script(), { ...process.env, RAZER_BACKEND: 'cpu' }, ['--expose-gc']);
    expect(r.status, `child failed (${r.signal ?? r.status}): ${r.stderr}`).toBe(0);
    const m = JSON.parse(r.stdout) as Record<string, number>;
    // AdjustExternalMemory: +bytes on creation, -bytes on dispose.
    expect(m.adjustUp).toBeGreaterThanOrEqual(m.bytes);
    expect(m.adjustDown).toBeGreaterThanOrEqual(m.bytes);
    // 10,000 x 72 KiB = 703 MiB go through each round; a leak of even 2% would show.
    expect(m.disposeExternalGrowth, JSON.stringify(m)).toBeLessThan(1);
    expect(m.disposeRssGrowth, JSON.stringify(m)).toBeLessThan(32);
    expect(m.gcExternalGrowth, JSON.stringify(m)).toBeLessThan(2);
    expect(m.gcRssGrowth, JSON.stringify(m)).toBeLessThan(16);
    // The collector really ran the finalizers (a few stragglers may remain).
    expect(m.liveAfterGc, JSON.stringify(m)).toBeLessThan(100);
    expect(m.peakExternalGrowth, JSON.stringify(m)).toBeGreaterThan(1);
  });
});
