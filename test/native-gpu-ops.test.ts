// The GPU operations from JS: quantizeOnDevice (bit-identical to the
// reference quantizer: codes, scale bytes, G), GpuWeight, gemmW4A16Gpu
// (against the float64 reference within SPEC §4's bounds), GemmGraph
// replays (bit-identical to plain calls), stream order, lifetimes, every
// argument error, and the high-level 'cuda' backend. The argument checks that
// need no device run everywhere; the rest is skipped (with the reason
// printed) where there is no usable CUDA device.
import { beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, availableBackends, bestBackend, gemmW4A16 } from '../lib/backend.js';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../lib/codecs.js';
import { RazerError, type RazerErrorCode } from '../lib/errors.js';
import type { QuantizeOptions, QuantizedTensor } from '../lib/formats.js';
import { errorMetrics } from '../lib/metrics.js';
import type { RazerAddon } from '../lib/native/addon-types.js';
import {
  DeviceTensor,
  type DeviceQuantizeOptions,
  GpuWeight,
  type NativeDtype,
  type NativeFormat,
  NativeWeight,
  backendInfo,
  captureGemm,
  devices,
  gemmW4A16Gpu,
  gemmW4A16GpuSync,
  loadAddon,
  nativeGemmW4A16Sync,
  nativeMemoryStats,
  quantizeOnDevice,
  quantizeOnDeviceSync,
} from '../lib/native/index.js';
import { quantize } from '../lib/quantize.js';
import { referenceGemmW4A16 } from '../lib/reference/gemm.js';
import { referenceQuantize } from '../lib/reference/quantize.js';
import { DISTRIBUTIONS, draw, nonFiniteCases } from './helpers/distributions.js';
import { caught, expectCode, rejected } from './helpers/errors.js';
import { gpuGate } from './helpers/native.js';

const gate = gpuGate();
if (!gate.hasGpu) console.warn(`[native-gpu-ops] GPU tests skipped: ${gate.reason}`);

let addon: RazerAddon;
beforeAll(() => {
  const a = loadAddon();
  expect(a, `native addon not loaded: ${backendInfo().reason}`).not.toBeNull();
  addon = a as RazerAddon;
});

// ----------------------------------------------------------------- helpers --

type XDtype = 'f32' | 'f16' | 'bf16';


/** The host data of x as dtype: fp32 values, or fp16/bf16 bits. */
function hostAs(x: Float32Array, dtype: XDtype): Float32Array | Uint16Array {
  if (dtype === 'f32') return x;
  return Uint16Array.from(x, dtype === 'f16' ? f32ToF16 : f32ToBf16);
}

async function upload<D extends XDtype>(x: Float32Array, dtype: D, shape: readonly number[]): Promise<DeviceTensor<D>> {
  return DeviceTensor.fromHost(hostAs(x, dtype) as never, dtype, shape);
}

function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): string | null {
  if (a.length !== b.length) return `lengths ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) return `index ${i}: ${a[i]} vs ${b[i]}`;
  }
  return null;
}

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

const NAN_BITS = { f16: 0x7e00, bf16: 0x7fc0 } as const;

/** A device tensor [M, N] of dtype full of NaN: whatever the kernel does not write stays NaN. */
async function poisoned<D extends NativeDtype>(dtype: D, shape: readonly [number, number]): Promise<DeviceTensor<D>> {
  const n = shape[0] * shape[1];
  const host = dtype === 'f32' ? new Float32Array(n).fill(Number.NaN) : new Uint16Array(n).fill(NAN_BITS[dtype as "f16" | "bf16"]);
  return DeviceTensor.fromHost(host as never, dtype, shape);
}

function widen(y: Float32Array | Uint16Array, dtype: NativeDtype): Float64Array {
  if (dtype === 'f32') return Float64Array.from(y as Float32Array);
  return Float64Array.from(y as Uint16Array, dtype === 'f16' ? f16ToF32 : bf16ToF32);
}

/** SPEC §4: fp32 output 1e-5, bf16 8e-3; fp16 (11-bit significand) 2e-3; never NaN. */
const TOLERANCE: Record<NativeDtype, number> = { f32: 1e-5, f16: 2e-3, bf16: 8e-3 };

function expectClose(y: Float32Array | Uint16Array, dtype: NativeDtype, ref: Float64Array, what: string): void {
  expect(y.length, what).toBe(ref.length);
  const got = widen(y, dtype);
  const nan = got.findIndex(Number.isNaN);
  expect(nan, `${what}: NaN at ${nan} (an output element not written?)`).toBe(-1);
  const rel = errorMetrics(ref, got).relFrobenius;
  expect(rel, `${what}: relative error ${rel}`).toBeLessThanOrEqual(TOLERANCE[dtype]);
}

function addBias(y: Float64Array, bias: Float32Array, M: number, N: number): Float64Array {
  const out = new Float64Array(y.length);
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) out[m * N + n] = y[m * N + n] + bias[n];
  return out;
}

/** The reference's options for a quantizeOnDevice call (it has no `kind`). */
function referenceOptions(options: DeviceQuantizeOptions, dtype: XDtype): QuantizeOptions {
  const { kind: _kind, ...rest } = options;
  return { ...rest, dtype: dtype === 'f32' ? undefined : dtype };
}

/** quantizeOnDevice(x as dtype) equals referenceQuantize, bit for bit. */
async function expectQuantizeExact(
  x: Float32Array,
  shape: readonly [number, number],
  dtype: XDtype,
  format: NativeFormat,
  options: DeviceQuantizeOptions,
  what: string,
): Promise<QuantizedTensor> {
  const data = hostAs(x, dtype);
  const ref = referenceQuantize(data, shape, format, referenceOptions(options, dtype));
  const xt = await DeviceTensor.fromHost(data as never, dtype, shape);
  const q = await quantizeOnDevice(xt, format, options);
  try {
    expect([q.format, q.shape, q.blockSize], what).toEqual([format, shape, 16]);
    expect([q.codes.dtype, q.codes.shape, q.scales.dtype, q.scales.shape, q.globalScale.dtype, q.globalScale.shape], what).toEqual([
      'u8',
      [shape[0], shape[1] / 2],
      'u8',
      [shape[0], shape[1] / 16],
      'f32',
      [1],
    ]);
    const [codes, scales, g] = await Promise.all([q.codes.toHost(), q.scales.toHost(), q.globalScale.toHost()]);
    expect(firstDiff(codes, ref.codes), `${what}: codes`).toBeNull();
    expect(firstDiff(scales, ref.scales as Uint8Array), `${what}: scale bytes`).toBeNull();
    expect(Object.is(g[0], ref.globalScale), `${what}: G ${g[0]} vs ${ref.globalScale}`).toBe(true);
    expect([q.svSmall, q.svBig, q.svAct], what).toEqual([ref.svSmall, ref.svBig, ref.svAct]);
  } finally {
    q.dispose();
    xt.dispose();
  }
  return ref;
}

// ------------------------------------------------ checks that need no GPU --

describe('GPU operations: argument checks that need no device', () => {
  const q = () => quantize(draw('gaussian', 8, 32, 1), [8, 32], 'nvfp4_razer');
  const lookalike = { device: 0, dtype: 'bf16', shape: [2, 32], byteLength: 128, disposed: false };
  /** An addon built without CUDA answers every GPU entry point with ERR_NO_GPU, before looking at its arguments. */
  const expectNative = (e: RazerError, code: RazerErrorCode, message?: RegExp | string): void => {
    if (addon.buildInfo().cuda) expectCode(e, code, message);
    else expectCode(e, 'ERR_NO_GPU', /built without CUDA/);
  };

  it('the addon exports the GPU operations and classes', () => {
    for (const name of ['quantizeOnDevice', 'quantizeOnDeviceSync', 'gemmW4A16Gpu', 'gemmW4A16GpuSync'] as const) {
      expect(typeof addon[name], name).toBe('function');
    }
    for (const name of ['fromQuantized', 'fromQuantizedSync', 'fromDevice', 'fromDeviceSync'] as const) {
      expect(typeof addon.GpuWeight[name], name).toBe('function');
    }
    expect(typeof addon.GemmGraph.capture).toBe('function');
    expectCode(caught(() => new (addon.GpuWeight as unknown as new () => object)()), 'ERR_ARGUMENT', /use GpuWeight.fromQuantized/);
    expectCode(caught(() => new (addon.GemmGraph as unknown as new () => object)()), 'ERR_ARGUMENT', /use GemmGraph.capture/);
    expect({} instanceof GpuWeight).toBe(false);
    expect(q() instanceof GpuWeight).toBe(false);
  });

  it('tensor arguments must be DeviceTensors (type-tagged, not look-alikes): ERR_ARGUMENT', async () => {
    expectNative(caught(() => quantizeOnDeviceSync(new Float32Array(64) as never, 'nvfp4')), 'ERR_ARGUMENT', 'x: expected a DeviceTensor (DeviceTensor.fromHost or .alloc), got Float32Array(64)');
    expectNative(await rejected(quantizeOnDevice(lookalike as never, 'nvfp4')), 'ERR_ARGUMENT', /^x: expected a DeviceTensor .*got Object$/);
    expectNative(await rejected(gemmW4A16Gpu(lookalike as never, {} as never)), 'ERR_ARGUMENT', /^x: expected a DeviceTensor/);
    expectNative(caught(() => gemmW4A16GpuSync(undefined as never, undefined as never)), 'ERR_ARGUMENT', /^x: expected a DeviceTensor .*got undefined$/);
    expectNative(caught(() => captureGemm(lookalike as never, {} as never, lookalike as never)), 'ERR_ARGUMENT', /^x: expected a DeviceTensor/);
    expectNative(await rejected(GpuWeight.fromDevice({ format: 'nvfp4', codes: new Uint8Array(16), scales: new Uint8Array(2), globalScale: 1 } as never)), 'ERR_ARGUMENT', /^weight.codes: expected a DeviceTensor .*got Uint8Array\(16\)$/);
    expectCode(caught(() => GpuWeight.fromDeviceSync(null as never)), 'ERR_ARGUMENT', /^weight: expected quantizeOnDevice's result, got null$/);
  });

  it('GpuWeight.fromQuantized checks the weight before the device', async () => {
    expectCode(await rejected(GpuWeight.fromQuantized(null as never)), 'ERR_ARGUMENT', 'weight: expected a QuantizedTensor, got null');
    const act = quantize(draw('gaussian', 4, 32, 2), [4, 32], 'nvfp4_razer_a');
    expectNative(await rejected(GpuWeight.fromQuantized(act)), 'ERR_FORMAT', /^weight.format: nvfp4_razer_a is an activation format/);
    const small = quantize(draw('gaussian', 4, 32, 3), [4, 32], 'nvfp4_razer', { svSmall: 0.75 });
    expectNative(caught(() => GpuWeight.fromQuantizedSync(small)), 'ERR_ARGUMENT', 'weight.svSmall: the GPU kernels take special values of at least 1, got 0.75');
    expectNative(await rejected(GpuWeight.fromQuantized({ ...q(), codes: new Uint8Array(3) })), 'ERR_SHAPE', /weight.codes: a \[8, 32\] weight needs 128 code bytes, got 3/);
    expectNative(await rejected(GpuWeight.fromQuantized(q(), { device: -1 })), 'ERR_ARGUMENT', 'options.device: expected an integer from 0 to 65536, got -1');
    if (!gate.hasGpu) {
      expectCode(await rejected(GpuWeight.fromQuantized(q())), 'ERR_NO_GPU');
      expectCode(caught(() => GpuWeight.fromQuantizedSync(q(), { device: 0 })), 'ERR_NO_GPU');
    }
    expectNative(await rejected(GpuWeight.fromDevice({ format: 'nvfp4_razer_a', codes: {}, scales: {}, globalScale: 1 } as never)), 'ERR_FORMAT', /activation format/);
  });

  it("the 'cuda' backend is listed first, available exactly when backendInfo() says cuda; f32 X is refused", () => {
    expect(BACKENDS[0]).toBe('cuda');
    const cuda = availableBackends().find((b) => b.name === 'cuda');
    expect(cuda?.available).toBe(backendInfo().backend === 'cuda');
    expect(cuda?.reason.length).toBeGreaterThan(0);
    if (backendInfo().backend !== 'cuda') expect(bestBackend().name).not.toBe('cuda');
    const w = q();
    expectCode(caught(() => gemmW4A16('cuda', draw('gaussian', 2, 32, 4), [2, 32], w)), 'ERR_DTYPE', /^x: the cuda backend takes X as f16 or bf16 bits .*got Float32Array\(64\); convert X/);
    expectCode(caught(() => gemmW4A16('cuda', new Uint16Array(64), [2, 32], w)), 'ERR_DTYPE', /options.dtype/);
    expectCode(caught(() => gemmW4A16('cuda', new Uint16Array(64), [2, 48], w, { dtype: 'bf16' })), 'ERR_SHAPE', 'x: [M, K] = [2, 48] needs 96 elements, got 64');
    expectCode(caught(() => gemmW4A16('cuda', new Uint16Array(96), [2, 48], w, { dtype: 'bf16' })), 'ERR_SHAPE', "w: expected K = 48 (X's columns), got a [8, 32] weight");
    if (backendInfo().backend !== 'cuda') {
      expectCode(caught(() => gemmW4A16('cuda', new Uint16Array(64), [2, 32], w, { dtype: 'bf16' })), 'ERR_NO_GPU', /^backend: cuda is not available here/);
    }
  });
});

// ------------------------------------------------------------ GPU: quantize --

const WEIGHT_FORMATS = ['nvfp4', 'nvfp4_4over6', 'nvfp4_razer'] as const;
const ACT_FORMATS = ['nvfp4', 'nvfp4_razer_a'] as const;
const DTYPES: readonly XDtype[] = ['f32', 'f16', 'bf16'];

describe.skipIf(!gate.hasGpu)('quantizeOnDevice: bit-identical to the reference', () => {
  it('weights (nvfp4, nvfp4_4over6, nvfp4_razer) from f32/f16/bf16, every distribution', async () => {
    for (const [d, dist] of DISTRIBUTIONS.entries()) {
      const shape = [37, 320] as const; // odd rows, several 64-column super-tiles
      const x = draw(dist, shape[0], shape[1], 100 + d, 0.02);
      for (const dtype of DTYPES) {
        for (const format of WEIGHT_FORMATS) {
          await expectQuantizeExact(x, shape, dtype, format, { kind: 'weights' }, `${dist} ${dtype} ${format}`);
        }
        await expectQuantizeExact(x, shape, dtype, 'nvfp4_razer', { svSmall: 7, svBig: 12 }, `${dist} ${dtype} razer 7/12`);
      }
    }
  });

  it('activations (nvfp4, nvfp4_razer_a) from f16/bf16 (and f32), dynamic and static global scale', async () => {
    for (const [d, dist] of DISTRIBUTIONS.entries()) {
      const shape = [17, 256] as const;
      const x = draw(dist, shape[0], shape[1], 200 + d, 3);
      let amax = 0;
      for (const v of x) amax = Math.max(amax, Math.abs(v));
      // A calibrated scale that fits, and one 4x too small (scales clamp at 448, elements saturate).
      const statics = [Math.fround((amax / 2688) * 1.5), Math.fround(amax / 2688 / 4)];
      for (const dtype of DTYPES) {
        for (const format of ACT_FORMATS) {
          const what = `${dist} ${dtype} ${format}`;
          await expectQuantizeExact(x, shape, dtype, format, { kind: 'activations' }, `${what} dynamic`);
          for (const g of statics) {
            await expectQuantizeExact(x, shape, dtype, format, { kind: 'activations', globalScale: g }, `${what} static ${g}`);
          }
        }
        await expectQuantizeExact(x, shape, dtype, 'nvfp4_razer_a', { svAct: 8 }, `${dist} ${dtype} razer_a svAct 8`);
      }
    }
  });

  it('edge cases: zeros, a zero block, ±3e38, tiny values, rows 1 and 3', async () => {
    const cases: [string, Float32Array, readonly [number, number], readonly XDtype[]][] = [];
    cases.push(['all zeros', new Float32Array(3 * 32), [3, 32], DTYPES]);
    const zeroBlock = draw('gaussian', 3, 64, 7);
    zeroBlock.fill(0, 16, 32);
    zeroBlock.fill(-0, 64 + 48, 128);
    cases.push(['a zero block', zeroBlock, [3, 64], DTYPES]);
    const huge = draw('laplace', 1, 64, 8);
    huge[3] = 3e38;
    huge[40] = -3e38;
    huge[41] = 1e-30;
    cases.push(['±3e38', huge, [1, 64], ['f32', 'bf16']]); // fp16 cannot hold them (they would be ±Inf)
    cases.push(['tiny 1e-40', new Float32Array(3 * 16).map((_, i) => (i % 3 === 0 ? 1e-40 : -i * 1e-41)), [3, 16], ['f32', 'bf16']]);
    cases.push(['G underflows to 0', new Float32Array(16).fill(1e-44), [1, 16], ['f32']]);
    cases.push(['fp16 subnormals', new Float32Array(32).map((_, i) => (i - 16) * 2 ** -24), [1, 32], ['f16']]);
    for (const [name, x, shape, dtypes] of cases) {
      for (const dtype of dtypes) {
        for (const format of WEIGHT_FORMATS) await expectQuantizeExact(x, shape, dtype, format, {}, `${name} ${dtype} ${format}`);
        for (const format of ACT_FORMATS) {
          await expectQuantizeExact(x, shape, dtype, format, { kind: 'activations' }, `${name} ${dtype} ${format} act`);
          await expectQuantizeExact(x, shape, dtype, format, { globalScale: 0.25 }, `${name} ${dtype} ${format} static`);
        }
      }
    }
  });

  it('NaN and ±Inf: ERR_NON_FINITE naming the first bad element, as the reference words it', async () => {
    const runs: [NativeFormat, DeviceQuantizeOptions][] = [
      ['nvfp4', {}],
      ['nvfp4_4over6', {}],
      ['nvfp4_razer', {}],
      ['nvfp4', { kind: 'activations' }],
      ['nvfp4_razer_a', {}],
      ['nvfp4', { globalScale: Math.fround(0.01) }],
      ['nvfp4_razer_a', { globalScale: Math.fround(0.01) }],
    ];
    for (const dtype of DTYPES) {
      for (const { bad, value, x } of nonFiniteCases()) {
        const data = hostAs(x, dtype);
        const xt = await DeviceTensor.fromHost(data as never, dtype, [3, 64]);
        for (const [format, options] of runs) {
          const what = `${dtype} ${format} ${JSON.stringify(options)} bad at ${bad}`;
          const ref = caught(() => referenceQuantize(data, [3, 64], format, { ...referenceOptions(options, dtype), name: 'layer.act' }));
          const e = await rejected(quantizeOnDevice(xt, format, { ...options, name: 'layer.act' }));
          expectCode(e, 'ERR_NON_FINITE', ref.message);
          expect(e.message, what).toMatch(new RegExp(`^layer.act: element ${bad} \\(row ${bad >> 6}, col ${bad % 64}\\)`));
          expectCode(caught(() => quantizeOnDeviceSync(xt, format, options)), 'ERR_NON_FINITE', ref.message.replace('layer.act', 'x'));
        }
        xt.dispose();
      }
    }
  });

  it('many calls in flight at once keep their own status and results', async () => {
    const xs = Array.from({ length: 8 }, (_, i) => draw('studentT3', 5, 128, 300 + i));
    xs[5][77] = Number.NaN;
    const tensors = await Promise.all(xs.map((x) => upload(x, 'bf16', [5, 128])));
    const results = await Promise.allSettled(tensors.map((t) => quantizeOnDevice(t, 'nvfp4_razer_a')));
    for (const [i, r] of results.entries()) {
      if (i === 5) {
        expect(r.status).toBe('rejected');
        expect(((r as PromiseRejectedResult).reason as RazerError).message).toMatch(/^x: element 77 \(row 0, col 77\) is NaN/);
        continue;
      }
      expect(r.status).toBe('fulfilled');
      const q = (r as PromiseFulfilledResult<Awaited<ReturnType<typeof quantizeOnDevice>>>).value;
      const ref = referenceQuantize(hostAs(xs[i], 'bf16'), [5, 128], 'nvfp4_razer_a', { dtype: 'bf16' });
      expect(firstDiff(await q.codes.toHost(), ref.codes), `call ${i}`).toBeNull();
      expect(firstDiff(await q.scales.toHost(), ref.scales as Uint8Array), `call ${i}`).toBeNull();
      q.dispose();
    }
    for (const t of tensors) t.dispose();
  });

  it('argument errors: dtype, shape, format vs kind, SVs, static scale, disposed x', async () => {
    const x = await upload(draw('gaussian', 2, 32, 10), 'bf16', [2, 32]);
    const u8 = await DeviceTensor.fromHost(new Uint8Array(64), 'u8', [2, 32]);
    const x3 = await upload(draw('gaussian', 2, 32, 11), 'f16', [1, 2, 32]);
    const x24 = await upload(draw('gaussian', 2, 24, 12), 'f32', [2, 24]);
    expectCode(caught(() => quantizeOnDeviceSync(u8 as never, 'nvfp4')), 'ERR_DTYPE', 'x: expected an f32, f16 or bf16 DeviceTensor, got u8');
    expectCode(caught(() => quantizeOnDeviceSync(x3 as never, 'nvfp4')), 'ERR_SHAPE', 'x: expected a [rows, cols] DeviceTensor, got shape [1, 2, 32]');
    expectCode(await rejected(quantizeOnDevice(x24 as never, 'nvfp4')), 'ERR_SHAPE', 'x: nvfp4 needs cols (K) to be a multiple of 16, got 24 (pad with zeros explicitly)');
    expectCode(await rejected(quantizeOnDevice(x as never, 'mxfp4' as never)), 'ERR_FORMAT', /mxfp4 has no native implementation/);
    expectCode(await rejected(quantizeOnDevice(x as never, 'nvfp4_razer_a', { kind: 'weights' })), 'ERR_FORMAT', /nvfp4_razer_a is an activation format/);
    expectCode(await rejected(quantizeOnDevice(x as never, 'nvfp4_razer', { kind: 'activations' })), 'ERR_FORMAT', "format: kind 'activations' takes nvfp4 or nvfp4_razer_a, got nvfp4_razer");
    expectCode(await rejected(quantizeOnDevice(x as never, 'nvfp4', { kind: 'both' as never })), 'ERR_ARGUMENT', `options.kind: expected 'weights' or 'activations', got "both"`);
    expectCode(await rejected(quantizeOnDevice(x as never, 'nvfp4_razer', { svSmall: 6 })), 'ERR_ARGUMENT', /options.svSmall/);
    expectCode(await rejected(quantizeOnDevice(x as never, 'nvfp4_razer', { svSmall: 8, svBig: 5 })), 'ERR_ARGUMENT', /expected less than options.svBig/);
    expectCode(await rejected(quantizeOnDevice(x as never, 'nvfp4_razer_a', { svAct: 4 })), 'ERR_ARGUMENT', /options.svAct/);
    expectCode(await rejected(quantizeOnDevice(x as never, 'nvfp4_razer', { globalScale: 0.5 })), 'ERR_ARGUMENT', /only nvfp4 and nvfp4_razer_a take a static global scale/);
    expectCode(await rejected(quantizeOnDevice(x as never, 'nvfp4', { kind: 'weights', globalScale: 0.5 })), 'ERR_ARGUMENT', /for kind 'activations'/);
    for (const g of [0, -1, 0.1, Number.NaN]) {
      expectCode(await rejected(quantizeOnDevice(x as never, 'nvfp4', { globalScale: g })), 'ERR_ARGUMENT', /options.globalScale: expected a positive finite binary32 value/);
    }
    x.dispose();
    expectCode(await rejected(quantizeOnDevice(x as never, 'nvfp4')), 'ERR_DISPOSED', 'x: the DeviceTensor was disposed');
    for (const t of [u8, x3, x24]) t.dispose();
  });
});

// ----------------------------------------------------------- GPU: weights --

describe.skipIf(!gate.hasGpu)('GpuWeight', () => {
  it('from a QuantizedTensor, a NativeWeight and device tensors: the same weight, metadata, memory accounting', async () => {
    const [N, K] = [37, 4112];
    const wf = draw('outlierChannels', N, K, 20, 0.02);
    for (const format of ['nvfp4', 'nvfp4_4over6', 'nvfp4_razer'] as const) {
      const q = quantize(wf, [N, K], format);
      const before = nativeMemoryStats();
      const a = await GpuWeight.fromQuantized(q);
      expect(a instanceof GpuWeight).toBe(true);
      expect([a.format, a.rows, a.cols, a.device, a.globalScale]).toEqual([format === 'nvfp4_razer' ? 'nvfp4_razer' : 'nvfp4', N, K, 0, q.globalScale]);
      expect([a.svSmall, a.svBig]).toEqual(format === 'nvfp4_razer' ? [5, 8] : [undefined, undefined]);
      expect(a.byteLength).toBeGreaterThanOrEqual((N * K) / 2 + (N * K) / 16);
      expect((nativeMemoryStats()?.nativeBytes ?? 0) - (before?.nativeBytes ?? 0)).toBe(a.byteLength);
      const nw = NativeWeight.fromQuantized(q);
      const b = GpuWeight.fromQuantizedSync(nw, { device: 0 });
      nw.dispose();
      const xt = await upload(draw('gaussian', 3, K, 21), 'bf16', [3, K]);
      const wt = await upload(wf, 'f32', [N, K]);
      const dq = await quantizeOnDevice(wt, format, { kind: 'weights' });
      wt.dispose();
      const c = await GpuWeight.fromDevice(dq);
      expect(c.globalScale).toBe(q.globalScale);
      const d = GpuWeight.fromDeviceSync({ ...dq, globalScale: q.globalScale });
      const ys = [];
      for (const w of [a, b, c, d]) {
        const y = await gemmW4A16Gpu(xt, w);
        ys.push(await y.toHost());
        y.dispose();
      }
      for (const y of ys.slice(1)) expect(sameBytes(y, ys[0]), format).toBe(true);
      dq.dispose();
      for (const w of [a, b, c, d]) {
        w.dispose();
        w[Symbol.dispose](); // idempotent
        expect(w.disposed).toBe(true);
      }
      expect(a.rows).toBe(N); // metadata stays readable
      expectCode(await rejected(gemmW4A16Gpu(xt, a)), 'ERR_DISPOSED', 'w: the GpuWeight was disposed');
      xt.dispose();
      expect(nativeMemoryStats()?.nativeBytes).toBe(before?.nativeBytes);
    }
  });

  it('fromDevice argument errors', async () => {
    const dq = await quantizeOnDevice(await upload(draw('gaussian', 4, 64, 22), 'f32', [4, 64]), 'nvfp4_razer');
    const f32 = await upload(new Float32Array(4 * 32), 'f32', [4, 32]);
    expectCode(await rejected(GpuWeight.fromDevice({ ...dq, codes: f32 as never })), 'ERR_DTYPE', /^weight.codes: expected a u8 DeviceTensor \[N, K\/2\], got f32 \[4, 32\]/);
    expectCode(await rejected(GpuWeight.fromDevice({ ...dq, scales: dq.codes })), 'ERR_SHAPE', 'weight.scales: expected a u8 DeviceTensor [4, 4] (codes are [4, 32]), got u8 [4, 32]');
    expectCode(await rejected(GpuWeight.fromDevice({ ...dq, globalScale: Number.NaN as never })), 'ERR_ARGUMENT', /weight.globalScale: expected a finite binary32 value >= 0, got NaN/);
    expectCode(await rejected(GpuWeight.fromDevice({ ...dq, globalScale: f32 as never })), 'ERR_SHAPE', /weight.globalScale: expected an f32 DeviceTensor of one element/);
    expectCode(await rejected(GpuWeight.fromDevice({ ...dq, svBig: 9 })), 'ERR_ARGUMENT', /weight.svBig/);
    expectCode(await rejected(GpuWeight.fromDevice({ ...dq, svSmall: 0.75 })), 'ERR_ARGUMENT', /at least 1, got 0.75/);
    const n = devices().length;
    expectCode(await rejected(GpuWeight.fromQuantized(quantize(draw('gaussian', 4, 64, 23), [4, 64], 'nvfp4'), { device: n })), 'ERR_ARGUMENT', /options.device: expected a device ordinal from 0 to/);
    dq.codes.dispose();
    expectCode(await rejected(GpuWeight.fromDevice(dq)), 'ERR_DISPOSED', 'weight.codes: the DeviceTensor was disposed');
    dq.dispose();
    f32.dispose();
  });
});

// -------------------------------------------------------------- GPU: GEMM --

const MS = [1, 3, 16, 17, 64, 200];
const NK: readonly [number, number][] = [
  [37, 16],
  [37, 48],
  [37, 4112],
  [200, 16],
  [200, 48],
  [200, 4112],
];
const OUT: readonly NativeDtype[] = ['f32', 'f16', 'bf16'];

describe.skipIf(!gate.hasGpu)('gemmW4A16Gpu vs referenceGemmW4A16 (SPEC §4)', () => {
  for (const format of ['nvfp4', 'nvfp4_razer'] as const) {
    it(`${format}: M in ${MS.join('/')}, N x K in ${NK.map((s) => s.join('x')).join(' ')}, f16/bf16 X, bias, every out dtype, poisoned out`, async () => {
      for (const [s, [N, K]] of NK.entries()) {
        const wq = quantize(draw('studentT3', N, K, 400 + s, 0.05), [N, K], format);
        const w = await GpuWeight.fromQuantized(wq);
        const biasHost = draw('laplace', 1, N, 500 + s);
        const biasDevice = await DeviceTensor.fromHost(biasHost, 'f32', [N]);
        for (const M of MS) {
          const xf = draw('gaussian', M, K, 600 + M);
          for (const xDtype of ['f16', 'bf16'] as const) {
            const xh = hostAs(xf, xDtype) as Uint16Array;
            const xt = await DeviceTensor.fromHost(xh, xDtype, [M, K]);
            const ref = referenceGemmW4A16(xh, [M, K], wq, { dtype: xDtype });
            const refBias = addBias(ref, biasHost, M, N);
            for (const withBias of [false, true]) {
              for (const outDtype of OUT) {
                const what = `${format} M${M} N${N} K${K} x ${xDtype} out ${outDtype}${withBias ? ' +bias' : ''}`;
                const out = await poisoned(outDtype, [M, N]);
                // Alternate: bias as a device tensor / a Float32Array; outDtype given / taken from out.
                const bias = withBias ? (M % 2 === 1 ? biasDevice : biasHost) : undefined;
                const y = await gemmW4A16Gpu(xt, w, { bias, out, outDtype: M % 3 === 0 ? undefined : outDtype });
                expect(y, what).toBe(out);
                expect([y.dtype, y.shape], what).toEqual([outDtype, [M, N]]);
                expectClose(await y.toHost(), outDtype, withBias ? refBias : ref, what);
                out.dispose();
              }
            }
            xt.dispose();
          }
        }
        biasDevice.dispose();
        w.dispose();
      }
    });
  }

  it('Sync and async, a new output or a given one, split-K or not: the same bits', async () => {
    for (const [M, N, K] of [
      [1, 37, 4112],
      [5, 200, 512],
      [130, 37, 64],
    ] as const) {
      const wq = quantize(draw('laplace', N, K, 700 + M), [N, K], 'nvfp4_razer');
      const w = GpuWeight.fromQuantizedSync(wq);
      const xt = await upload(draw('gaussian', M, K, 710 + M), 'bf16', [M, K]);
      const bias = draw('gaussian', 1, N, 720 + M);
      const a = await gemmW4A16Gpu(xt, w, { bias, outDtype: 'bf16' });
      const b = gemmW4A16GpuSync(xt, w, { bias, outDtype: 'bf16' });
      const c = await poisoned('bf16', [M, N]);
      expect(gemmW4A16GpuSync(xt, w, { bias, out: c })).toBe(c);
      const [ha, hb, hc] = [await a.toHost(), b.toHostSync(), c.toHostSync()];
      expect(sameBytes(ha, hb) && sameBytes(ha, hc), `M${M} N${N} K${K}`).toBe(true);
      expect(a.shape).toEqual([M, N]);
      const f = await gemmW4A16Gpu(xt, w);
      expect([f.dtype, f.shape]).toEqual(['f32', [M, N]]);
      expectClose(await f.toHost(), 'f32', referenceGemmW4A16(await xt.toHost(), [M, K], wq, { dtype: 'bf16' }), `M${M} default f32`);
      for (const t of [a, b, c, f, xt, w]) t.dispose();
    }
  });

  it('stream order is call order: a GEMM reads what the previous call wrote, without awaiting it', async () => {
    const [M, K, N] = [4, 64, 48];
    const w1q = quantize(draw('gaussian', K, 32, 801), [K, 32], 'nvfp4');
    const w2q = quantize(draw('gaussian', N, K, 802), [N, K], 'nvfp4_razer');
    const [w1, w2] = [GpuWeight.fromQuantizedSync(w1q), GpuWeight.fromQuantizedSync(w2q)];
    const x0 = await upload(draw('gaussian', M, 32, 803), 'bf16', [M, 32]);
    const x1 = await poisoned('bf16', [M, K]);
    const y = await poisoned('f32', [M, N]);
    const first = gemmW4A16Gpu(x0, w1, { out: x1 }); // x1 = x0 · w1ᵀ, queued now
    const second = gemmW4A16Gpu(x1, w2, { out: y }); // reads x1 after the first wrote it
    const read = y.toHost(); // queued after both
    const [, , got] = await Promise.all([first, second, read]);
    const x1h = (await x1.toHost()) as Uint16Array;
    expectClose(got, 'f32', referenceGemmW4A16(x1h, [M, K], w2q, { dtype: 'bf16' }), 'chained');
    for (const t of [w1, w2, x0, x1, y]) t.dispose();
  });

  it('back-to-back GEMMs ping-ponging two buffers (each reads what the last wrote, and overwrites what it read) match awaiting every call', async () => {
    // Stream order through the API, read-after-write and write-after-read,
    // for the split-K GEMV (M = 3) and the tile kernels (M = 150). (The
    // kernels' programmatic-dependent-launch waits are checked by the C++
    // harness's back-to-back chain, cuda/tests/gemm_check.cu: through the
    // API the next kernel does not start early, as each call records its
    // completion event after its kernel; a kernel that read X before its
    // wait passed this test on the H100, at 8192 x 8192 too, and failed the
    // harness.)
    const K = 1024;
    for (const [M, format] of [
      [3, 'nvfp4'],
      [150, 'nvfp4_razer'],
    ] as const) {
      const wq = quantize(draw('gaussian', K, K, 820 + M), [K, K], format);
      const w = GpuWeight.fromQuantizedSync(wq);
      const x0 = await upload(draw('gaussian', M, K, 830 + M), 'bf16', [M, K]);
      const chain = async (awaitEach: boolean) => {
        const buf = [await poisoned('bf16', [M, K]), await poisoned('bf16', [M, K])];
        const pending: Promise<unknown>[] = [];
        for (let i = 0; i < 6; i++) {
          const call = gemmW4A16Gpu(i === 0 ? x0 : buf[(i + 1) & 1], w, { out: buf[i & 1] });
          if (awaitEach) await call;
          else pending.push(call);
        }
        await Promise.all(pending);
        const out = await buf[1].toHost(); // step 5 wrote buf[1]
        for (const b of buf) b.dispose();
        return out;
      };
      const want = await chain(true);
      for (let rep = 0; rep < 3; rep++) expect(sameBytes(await chain(false), want), `M=${M} ${format} rep ${rep}`).toBe(true);
      expect([...(want as Uint16Array)].every((v) => Number.isFinite(bf16ToF32(v))), 'every output written, finite').toBe(true);
      for (const t of [w, x0]) t.dispose();
    }
  });

  it('disposing inputs while a call is in flight lets it finish', async () => {
    const [M, N, K] = [16, 200, 4112];
    const wq = quantize(draw('studentT3', N, K, 900), [N, K], 'nvfp4');
    const w = await GpuWeight.fromQuantized(wq);
    const xh = hostAs(draw('gaussian', M, K, 901), 'f16') as Uint16Array;
    const xt = await DeviceTensor.fromHost(xh, 'f16', [M, K]);
    const bias = await DeviceTensor.fromHost(draw('gaussian', 1, N, 902), 'f32', [N]);
    const pending = gemmW4A16Gpu(xt, w, { bias });
    xt.dispose();
    w.dispose();
    bias.dispose();
    const y = await pending;
    const ref = referenceGemmW4A16(xh, [M, K], wq, { dtype: 'f16', bias: draw('gaussian', 1, N, 902) });
    expectClose(await y.toHost(), 'f32', ref, 'after dispose');
    y.dispose();
  });

  it('argument errors, before anything is queued', async () => {
    const [M, N, K] = [3, 8, 32];
    const wq = quantize(draw('gaussian', N, K, 1000), [N, K], 'nvfp4_razer');
    const w = GpuWeight.fromQuantizedSync(wq);
    const x = await upload(draw('gaussian', M, K, 1001), 'bf16', [M, K]);
    const x32 = await upload(draw('gaussian', M, K, 1002), 'f32', [M, K]);
    const x1 = await upload(draw('gaussian', 1, K, 1003), 'bf16', [K]);
    const x48 = await upload(draw('gaussian', M, 48, 1004), 'bf16', [M, 48]);
    const nw = NativeWeight.fromQuantized(wq);
    expectCode(await rejected(gemmW4A16Gpu(x32 as never, w)), 'ERR_DTYPE', 'x: the GPU W4A16 GEMM takes an f16 or bf16 DeviceTensor, got f32 (convert X to bf16 or f16 first)');
    expectCode(await rejected(gemmW4A16Gpu(x1 as never, w)), 'ERR_SHAPE', 'x: expected a [M, K] DeviceTensor, got shape [32]');
    expectCode(await rejected(gemmW4A16Gpu(x as never, nw as never)), 'ERR_ARGUMENT', 'w: expected a GpuWeight (GpuWeight.fromQuantized or .fromDevice), got NativeWeight');
    expectCode(await rejected(gemmW4A16Gpu(x as never, wq as never)), 'ERR_ARGUMENT', /^w: expected a GpuWeight/);
    expectCode(await rejected(gemmW4A16Gpu(x48 as never, w)), 'ERR_SHAPE', "w: expected K = 48 (x's columns), got a [8, 32] GpuWeight");
    const b9 = await upload(new Float32Array(9), 'f32', [9]);
    const b16 = await upload(new Float32Array(8), 'f16', [8]);
    expectCode(await rejected(gemmW4A16Gpu(x as never, w, { bias: b9 as never })), 'ERR_SHAPE', 'options.bias: expected shape [8] (N, the weight\'s rows), got [9]');
    expectCode(await rejected(gemmW4A16Gpu(x as never, w, { bias: b16 as never })), 'ERR_DTYPE', 'options.bias: expected an f32 DeviceTensor [8], got f16');
    expectCode(await rejected(gemmW4A16Gpu(x as never, w, { bias: new Float32Array(9) })), 'ERR_SHAPE', "options.bias: expected a Float32Array(8) (N, the weight's rows), got Float32Array(9)");
    expectCode(await rejected(gemmW4A16Gpu(x as never, w, { bias: new Float64Array(8) as never })), 'ERR_DTYPE', 'options.bias: expected an f32 DeviceTensor [8] or a Float32Array(8), got Float64Array(8)');
    expectCode(await rejected(gemmW4A16Gpu(x as never, w, { outDtype: 'f64' as never })), 'ERR_DTYPE', `options.outDtype: expected 'f32', 'f16' or 'bf16', got "f64"`);
    const outF32 = await poisoned('f32', [M, N]);
    const outWrong = await poisoned('bf16', [M, N + 1]);
    const outU8 = await DeviceTensor.fromHost(new Uint8Array(M * N), 'u8', [M, N]);
    expectCode(await rejected(gemmW4A16Gpu(x as never, w, { out: outF32, outDtype: 'bf16' })), 'ERR_DTYPE', 'options.out: expected a bf16 DeviceTensor (options.outDtype), got f32');
    expectCode(await rejected(gemmW4A16Gpu(x as never, w, { out: outU8 as never })), 'ERR_DTYPE', 'options.out: expected an f32 DeviceTensor, got u8');
    expectCode(await rejected(gemmW4A16Gpu(x as never, w, { out: outWrong })), 'ERR_SHAPE', 'options.out: expected shape [M, N] = [3, 8], got [3, 9]');
    expectCode(await rejected(gemmW4A16Gpu(x as never, w, { out: {} as never })), 'ERR_ARGUMENT', /^options.out: expected a DeviceTensor/);
    // out must not alias x: a weight with N = K makes the shapes match.
    const sq = GpuWeight.fromQuantizedSync(quantize(draw('gaussian', K, K, 1005), [K, K], 'nvfp4'));
    const xs = await upload(draw('gaussian', M, K, 1006), 'bf16', [M, K]);
    expectCode(await rejected(gemmW4A16Gpu(xs as never, sq, { out: xs })), 'ERR_ARGUMENT', 'options.out: must not be x (the kernel reads x while it writes the output)');
    expectCode(caught(() => captureGemm(xs as never, sq, xs)), 'ERR_ARGUMENT', 'out: must not be x (the kernel reads x while it writes the output)');
    expectCode(caught(() => captureGemm(x as never, w, undefined as never)), 'ERR_ARGUMENT', /^out: expected a DeviceTensor \[M, N\] = \[3, 8\], got undefined/);
    expectCode(await rejected(gemmW4A16Gpu(x as never, w, 7 as never)), 'ERR_ARGUMENT', 'options: expected an options object, got 7');
    // Disposed operands.
    b9.dispose();
    expectCode(await rejected(gemmW4A16Gpu(x as never, w, { bias: b9 as never })), 'ERR_DISPOSED', 'options.bias: the DeviceTensor was disposed');
    outF32.dispose();
    expectCode(caught(() => gemmW4A16GpuSync(x as never, w, { out: outF32 })), 'ERR_DISPOSED', 'options.out: the DeviceTensor was disposed');
    x.dispose();
    expectCode(await rejected(gemmW4A16Gpu(x as never, w)), 'ERR_DISPOSED', 'x: the DeviceTensor was disposed');
    if (devices().length > 1) {
      const w1 = GpuWeight.fromQuantizedSync(wq, { device: 1 });
      expectCode(await rejected(gemmW4A16Gpu(xs as never, w1)), 'ERR_ARGUMENT', "w: expected a GpuWeight on device 0 (x's device), got one on device 1");
      w1.dispose();
    }
    for (const t of [w, x32, x1, x48, nw, b16, outWrong, outU8, sq, xs]) t.dispose();
  });
});

// ------------------------------------------------------------- GPU: graphs --

describe.skipIf(!gate.hasGpu)('the shared split-K workspace', () => {
  it('a shape with more output tiles after one with more partials gets the right result', async () => {
    // A: few tiles, many K splits (large partials); B: more tiles (its
    // counters reach past 256 bytes), fewer splits, partials that fit in A's
    // workspace. A counter region sized per shape would put B's counters on
    // A's leftover partials (seen once in a razer bench sweep as a 0.64 error).
    const M = 64;
    const shapes = [[4096, 28672], [10240, 8192]].map(([N, K]) => {
      const wq = quantize(draw('gaussian', N, K, N + K, 0.02), [N, K], 'nvfp4_razer', { backend: 'cpu' });
      const xh = hostAs(draw('gaussian', M, K, N + K + 1), 'bf16') as Uint16Array;
      return { N, K, wq, xh, cpu: nativeGemmW4A16Sync(xh, [M, K], wq, { dtype: 'bf16' }) };
    });
    for (const { N, K, wq, xh, cpu } of [...shapes, ...shapes]) {
      const w = await GpuWeight.fromQuantized(wq);
      const x = await DeviceTensor.fromHost(xh, 'bf16', [M, K]);
      const out = await poisoned('f32', [M, N]);
      await gemmW4A16Gpu(x, w, { outDtype: 'f32', out });
      const y = await out.toHost();
      expect(y.every(Number.isFinite), `${N}x${K}: no NaN left`).toBe(true);
      expect(errorMetrics(cpu, y).relFrobenius, `${N}x${K} vs the CPU backend`).toBeLessThan(2e-5);
      for (const t of [w, x, out]) t.dispose();
    }
  });
});

describe.skipIf(!gate.hasGpu)('GemmGraph (captureGemm)', () => {
  it('replays bit for bit like a plain call, reads its tensors as they are at replay, keeps them alive', async () => {
    for (const [M, N, K, format] of [
      [1, 37, 4112, 'nvfp4_razer'], // split-K: the graph's own workspace
      [17, 200, 48, 'nvfp4'],
      [64, 200, 4112, 'nvfp4_razer'],
    ] as const) {
      const what = `M${M} N${N} K${K} ${format}`;
      const wq = quantize(draw('studentT3', N, K, 1100 + M), [N, K], format);
      const w = await GpuWeight.fromQuantized(wq);
      const xt = await upload(draw('gaussian', M, K, 1110 + M), 'bf16', [M, K]);
      const bias = draw('laplace', 1, N, 1120 + M);
      const out = await poisoned('bf16', [M, N]);
      const before = nativeMemoryStats()?.nativeBytes ?? 0;
      const graph = captureGemm(xt, w, out, { bias });
      expect(graph.kernel, what).toMatch(/^(gemv|skinny|tile|wgmma)_/);
      expect(graph.splits, what).toBeGreaterThanOrEqual(1);
      expect((nativeMemoryStats()?.nativeBytes ?? 0) - before, what).toBe(graph.byteLength);
      expect(graph.byteLength).toBeGreaterThanOrEqual(N * 4); // the uploaded bias at least
      await graph.replay();
      const plain = await gemmW4A16Gpu(xt, w, { bias, outDtype: 'bf16' });
      const p = await plain.toHost();
      expect(sameBytes(await out.toHost(), p), `${what}: replay vs plain`).toBe(true);
      graph.replaySync();
      expect(sameBytes(out.toHostSync(), p), `${what}: replaySync`).toBe(true);
      expectClose(p, 'bf16', addBias(referenceGemmW4A16(await xt.toHost(), [M, K], wq, { dtype: 'bf16' }), bias, M, N), what);

      // New contents of x (written in place by a GEMM whose out is x), then a
      // replay, queued back to back: the replay sees them.
      const k0 = 64;
      const wxq = quantize(draw('gaussian', K, k0, 1130 + M), [K, k0], 'nvfp4');
      const wx = GpuWeight.fromQuantizedSync(wxq);
      const x0 = await upload(draw('gaussian', M, k0, 1140 + M), 'bf16', [M, k0]);
      const write = gemmW4A16Gpu(x0, wx, { out: xt });
      const replay = graph.replay();
      await Promise.all([write, replay]);
      const fresh = gemmW4A16GpuSync(xt, w, { bias, outDtype: 'bf16' });
      const f = fresh.toHostSync();
      expect(sameBytes(out.toHostSync(), f), `${what}: replay after x changed`).toBe(true);
      expect(sameBytes(f, p), `${what}: x did change`).toBe(false);

      // The graph holds x's and w's memory: disposing them does not break it.
      const xNow = await xt.toHost();
      xt.dispose();
      w.dispose();
      await graph.replay();
      expect(sameBytes(await out.toHost(), f), `${what}: replay after x and w were disposed`).toBe(true);
      expectClose(f, 'bf16', addBias(referenceGemmW4A16(xNow, [M, K], wq, { dtype: 'bf16' }), bias, M, N), `${what}: new x`);

      graph.dispose();
      graph[Symbol.dispose]();
      expect(graph.disposed).toBe(true);
      const late = graph.replay();
      expect(late).toBeInstanceOf(Promise); // a rejection, not a throw
      expectCode(await rejected(late), 'ERR_DISPOSED', 'replay(): the GemmGraph was disposed');
      expectCode(caught(() => graph.replaySync()), 'ERR_DISPOSED', 'replaySync(): the GemmGraph was disposed');
      for (const t of [out, plain, wx, x0, fresh]) t.dispose();
    }
  });

  it('a device-tensor bias, f32 and f16 outputs; many replays in flight', async () => {
    const [M, N, K] = [8, 64, 256];
    const wq = quantize(draw('gaussian', N, K, 1200), [N, K], 'nvfp4');
    const w = GpuWeight.fromQuantizedSync(wq);
    const xh = hostAs(draw('gaussian', M, K, 1201), 'f16') as Uint16Array;
    const xt = DeviceTensor.fromHostSync(xh, 'f16', [M, K]);
    const biasHost = draw('gaussian', 1, N, 1202);
    const bias = DeviceTensor.fromHostSync(biasHost, 'f32', [N]);
    const ref = referenceGemmW4A16(xh, [M, K], wq, { dtype: 'f16', bias: biasHost });
    for (const outDtype of ['f32', 'f16'] as const) {
      const out = await poisoned(outDtype, [M, N]);
      const graph = captureGemm(xt, w, out, { bias });
      if (graph.splits === 1) expect(graph.byteLength).toBe(0); // no workspace, the bias is the caller's
      await Promise.all(Array.from({ length: 16 }, () => graph.replay()));
      expectClose(await out.toHost(), outDtype, ref, `graph out ${outDtype}`);
      graph.dispose();
      out.dispose();
    }
    for (const t of [w, xt, bias]) t.dispose();
  });
});

// ------------------------------------------------------ GPU: the backend --

describe.skipIf(!gate.hasGpu)("the 'cuda' backend", () => {
  it('is the best backend, and gemmW4A16("cuda", ...) matches the reference (fp32 output)', () => {
    expect(bestBackend().name).toBe('cuda');
    for (const [M, N, K, format, dtype] of [
      [16, 200, 1024, 'nvfp4_razer', 'bf16'],
      [3, 37, 48, 'nvfp4', 'f16'],
    ] as const) {
      const wq = quantize(draw('outlierChannels', N, K, 1300 + M, 0.02), [N, K], format);
      const x = hostAs(draw('gaussian', M, K, 1310 + M), dtype) as Uint16Array;
      const bias = draw('gaussian', 1, N, 1320 + M);
      const before = nativeMemoryStats()?.nativeBytes;
      const y = gemmW4A16('cuda', x, [M, K], wq, { dtype, bias });
      expect(y).toBeInstanceOf(Float32Array);
      expectClose(y as Float32Array, 'f32', referenceGemmW4A16(x, [M, K], wq, { dtype, bias }), `${format} ${dtype}`);
      // Everything it uploaded is freed (disposed wrappers stay counted as live objects until GC).
      expect(nativeMemoryStats()?.nativeBytes).toBe(before);
    }
  });
});
