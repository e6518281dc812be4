// GPU-only: devices(), DeviceTensor round trips, dispose and finalizers,
// external-memory accounting, OOM. Skipped (with the reason printed) where
// there is no usable CUDA device; the tests in this file run one at a time.
import { describe, expect, it } from 'vitest';
import { RazerError } from '../lib/errors.js';
import {
  DeviceTensor,
  type DeviceDtype,
  backendInfo,
  devices,
  loadAddon,
  nativeMemoryStats,
} from '../lib/native/index.js';
import { gpuGate } from './helpers/native.js';

const gate = gpuGate();
if (!gate.hasGpu) console.warn(`[native-gpu] GPU tests skipped: ${gate.reason}`);

function hostArray(dtype: DeviceDtype, n: number, seed: number): Float32Array | Uint16Array | Uint8Array {
  switch (dtype) {
    case 'f32':
      return Float32Array.from({ length: n }, (_, i) => Math.sin(i + seed) * 1e3);
    case 'u8':
      return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
    default:
      return Uint16Array.from({ length: n }, (_, i) => (i * 2654435761 + seed) & 0xffff);
  }
}

/** Byte equality without vitest's element-by-element deep equality (slow on large arrays). */
function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<RazerError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(RazerError);
    expect((e as RazerError).code, (e as Error).message).toBe(code);
    return e as RazerError;
  }
  throw new Error(`expected ${code}, the promise resolved`);
}

const settle = async (gc: () => void) => {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
};

describe.skipIf(!gate.hasGpu)('CUDA devices and DeviceTensor', () => {
  it('backendInfo() picks cuda, and devices() describes each GPU', () => {
    const info = backendInfo();
    expect(info.backend, info.reason).toBe('cuda');
    const list = devices();
    expect(list.length).toBeGreaterThan(0);
    for (const d of list) {
      expect(d.backend).toBe('cuda');
      expect(d.name.length).toBeGreaterThan(0);
      expect(d.computeCapability[0]).toBeGreaterThanOrEqual(8);
      expect(d.totalMemory).toBeGreaterThan(d.freeMemory);
      expect(d.freeMemory).toBeGreaterThan(0);
    }
    expect(list.some((d) => d.kernels)).toBe(true);
    expect(loadAddon()?.cudaSelfTest(0)).toBe(true);
  });

  it('round trips every dtype, async and sync, with the right metadata', async () => {
    for (const dtype of ['f32', 'f16', 'bf16', 'u8'] as const) {
      const shape = [3, 5, 7];
      const host = hostArray(dtype, 105, 1);
      const t = await DeviceTensor.fromHost(host as never, dtype, shape);
      expect(t instanceof DeviceTensor).toBe(true);
      expect([t.device, t.dtype, t.shape, t.disposed]).toEqual([0, dtype, shape, false]);
      expect(t.byteLength).toBe(host.byteLength);
      const back = await t.toHost();
      expect(back.constructor).toBe(host.constructor);
      expect(back).toEqual(host);
      expect(t.toHostSync()).toEqual(host);
      const s = DeviceTensor.fromHostSync(host as never, dtype, shape, { device: 0 });
      expect(s.toHostSync()).toEqual(host);
      t.dispose();
      s[Symbol.dispose]();
    }
  });

  it('alloc() gives zeros; a large tensor round trips', async () => {
    const z = DeviceTensor.alloc(0, 'f32', [1024, 1024]);
    expect((await z.toHost()).every((v) => v === 0)).toBe(true);
    z.dispose();
    // 256 MiB plus a few bytes: many 8 MiB staging chunks and a ragged tail.
    const big = new Uint8Array(256 * 1024 * 1024 + 5);
    for (let i = 0; i < big.length; i += 4099) big[i] = (i >>> 12) & 0xff;
    big[big.length - 1] = 0xab;
    const t = await DeviceTensor.fromHost(big, 'u8', [big.length]);
    expect(sameBytes(await t.toHost(), big)).toBe(true);
    expect(sameBytes(t.toHostSync(), big)).toBe(true);
    t.dispose();
  });

  it('use after dispose is ERR_DISPOSED; dispose during a copy lets the copy finish', async () => {
    const host = hostArray('f32', 1 << 22, 3) as Float32Array;
    const t = await DeviceTensor.fromHost(host, 'f32', [host.length]);
    const pending = t.toHost();
    t.dispose();
    expect(sameBytes(await pending, host)).toBe(true);
    expect(t.disposed).toBe(true);
    t.dispose(); // idempotent
    const late = t.toHost();
    expect(late).toBeInstanceOf(Promise); // a rejection, not a throw
    await rejectsWith(late, 'ERR_DISPOSED');
    expect(() => t.toHostSync()).toThrow(/DeviceTensor was disposed/);
  });

  it('bad device ordinals and shapes fail before any allocation', async () => {
    const n = devices().length;
    expect(() => DeviceTensor.alloc(n, 'f32', [4])).toThrow(RazerError);
    await rejectsWith(DeviceTensor.fromHost(new Float32Array(4), 'f32', [4], { device: n + 3 }), 'ERR_ARGUMENT');
    await rejectsWith(DeviceTensor.fromHost(new Float32Array(4), 'f32', [2, 3]), 'ERR_SHAPE');
  });

  it('out of memory is ERR_OOM naming the bytes asked and free/total, and the device stays usable', () => {
    const d = devices()[0];
    const ask = Math.floor(d.totalMemory * 1.5);
    let e: RazerError | undefined;
    try {
      DeviceTensor.alloc(0, 'u8', [ask]);
    } catch (err) {
      e = err as RazerError;
    }
    expect(e).toBeInstanceOf(RazerError);
    expect(e?.code).toBe('ERR_OOM');
    expect(e?.message).toMatch(new RegExp(`asked for ${ask} bytes, \\d+ of ${d.totalMemory} bytes free`));
    expect(e?.message).toMatch(/device 0: .*compute capability \d+\.\d+; CUDA driver \d+\.\d+, runtime \d+\.\d+/);
    const ok = DeviceTensor.alloc(0, 'f32', [16]);
    expect(ok.toHostSync().length).toBe(16);
    ok.dispose();
  });

  it('10,000 alloc/dispose cycles and GC-freed tensors return device and external memory', async () => {
    const { setFlagsFromString } = await import('node:v8');
    const { runInNewContext } = await import('node:vm');
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    await settle(gc);
    const before = devices()[0].freeMemory;
    const stats0 = nativeMemoryStats();
    for (let i = 0; i < 10000; i++) DeviceTensor.alloc(0, 'f32', [16384]).dispose();
    for (let i = 0; i < 64; i++) DeviceTensor.alloc(0, 'u8', [32 * 1024 * 1024]); // 2 GiB, never disposed
    const during = nativeMemoryStats();
    expect((during?.nativeBytes ?? 0) - (stats0?.nativeBytes ?? 0)).toBeGreaterThanOrEqual(64 * 32 * 1024 * 1024);
    await settle(gc);
    await settle(gc);
    const after = devices()[0].freeMemory;
    expect(nativeMemoryStats()?.liveObjects).toBe(stats0?.liveObjects);
    expect(before - after, `free ${before} -> ${after}`).toBeLessThan(64 * 1024 * 1024);
  });
});
