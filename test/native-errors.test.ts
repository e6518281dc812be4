// Every error path of the native functions: RazerError instances with stable
// codes, raised before any work is queued (synchronously by the raw addon,
// as rejections by the async wrappers), with the reference's messages where
// the reference has the same check.
import { beforeAll, describe, expect, it } from 'vitest';
import { f32ToBf16, f32ToF16 } from '../lib/codecs.js';
import { RazerError } from '../lib/errors.js';
import type { QuantizeOptions } from '../lib/formats.js';
import {
  DeviceTensor,
  type NativeFormat,
  NativeWeight,
  backendInfo,
  devices,
  loadAddon,
  nativeDequantize,
  nativeGemmW4A16,
  nativeGemmW4A16Sync,
  nativeGemmW4A4,
  nativeQuantize,
  nativeQuantizeSync,
} from '../lib/native/index.js';
import type { RazerAddon } from '../lib/native/addon-types.js';
import { referenceQuantize as quantize } from '../lib/reference/quantize.js';
import { draw } from './helpers/distributions.js';
import { caught, expectCode, rejected } from './helpers/errors.js';
import { gpuGate } from './helpers/native.js';

let addon: RazerAddon;
beforeAll(() => {
  const a = loadAddon();
  expect(a, `native addon not loaded: ${backendInfo().reason}`).not.toBeNull();
  addon = a as RazerAddon;
});


/** The native quantizer fails like the reference: same code, same message. */
async function sameAsReference(
  data: Float32Array | Uint16Array,
  shape: readonly [number, number],
  format: NativeFormat,
  options: QuantizeOptions,
): Promise<RazerError> {
  const ref = caught(() => quantize(data, shape, format, options));
  const sync = caught(() => nativeQuantizeSync(data, shape, format, options));
  const async = await rejected(nativeQuantize(data, shape, format, options));
  for (const e of [sync, async]) {
    expect(e.code, `${format} ${JSON.stringify(options)}`).toBe(ref.code);
    expect(e.message).toBe(ref.message);
  }
  return sync;
}

const x64 = () => draw('gaussian', 2, 32, 1);

describe('quantize argument errors', () => {
  it('bad format names (ERR_FORMAT), reference-only formats named as such', async () => {
    expectCode(await rejected(nativeQuantize(x64(), [2, 32], 'foo' as NativeFormat)), 'ERR_FORMAT', /expected one of nvfp4, .*got "foo"/);
    expectCode(await rejected(nativeQuantize(x64(), [2, 32], 'mxfp4' as NativeFormat)), 'ERR_FORMAT', /mxfp4 has no native implementation/);
    expectCode(caught(() => nativeQuantizeSync(x64(), [2, 32], 42 as unknown as NativeFormat)), 'ERR_FORMAT', /got 42/);
  });

  it('bad dtypes (ERR_DTYPE), as the reference words them', async () => {
    await sameAsReference(x64(), [2, 32], 'nvfp4', { dtype: 'f16' });
    await sameAsReference(new Uint16Array(64), [2, 32], 'nvfp4', {});
    expectCode(caught(() => nativeQuantizeSync(new Int8Array(64) as unknown as Float32Array, [2, 32], 'nvfp4')), 'ERR_DTYPE', /got Int8Array\(64\)/);
    expectCode(caught(() => nativeQuantizeSync([1, 2] as unknown as Float32Array, [1, 2], 'nvfp4')), 'ERR_DTYPE');
  });

  it('shape and length mismatches, K % 16 (ERR_SHAPE), as the reference words them', async () => {
    await sameAsReference(x64(), [2, 33], 'nvfp4', {});
    await sameAsReference(x64(), [4, 8], 'nvfp4_razer', {});
    await sameAsReference(new Float32Array(2 * 24), [2, 24], 'nvfp4_razer_a', {});
    await sameAsReference(x64(), [2, 0], 'nvfp4', {});
    await sameAsReference(x64(), [64] as unknown as [number, number], 'nvfp4', {});
    await sameAsReference(x64(), [2.5, 32], 'nvfp4', {});
    // The raw addon names the argument itself.
    expectCode(caught(() => addon.quantizeSync('nvfp4', x64(), 2, 0)), 'ERR_SHAPE', 'cols: expected a positive integer, got 0');
    expectCode(caught(() => addon.quantizeSync('nvfp4', x64(), 2.5, 32)), 'ERR_SHAPE', 'rows: expected a positive integer, got 2.5');
  });

  it('bad special values (ERR_ARGUMENT), as the reference words them', async () => {
    for (const sv of [6, 9, 0, -5, 65, Number.NaN, 4, 0.1]) {
      await sameAsReference(x64(), [2, 32], 'nvfp4_razer', { svSmall: sv });
      await sameAsReference(x64(), [2, 32], 'nvfp4_razer_a', { svAct: sv });
    }
    await sameAsReference(x64(), [2, 32], 'nvfp4_razer', { svBig: 9 });
    await sameAsReference(x64(), [2, 32], 'nvfp4_razer', { svSmall: 8, svBig: 5 });
    await sameAsReference(x64(), [2, 32], 'nvfp4_razer', { svSmall: 8, svBig: 8 });
    expectCode(caught(() => nativeQuantizeSync(x64(), [2, 32], 'nvfp4_razer_a', { svAct: '5' as unknown as number })), 'ERR_ARGUMENT', /got "5"/);
  });

  it('static global scales: only nvfp4 and nvfp4_razer_a, positive binary32 (ERR_ARGUMENT)', async () => {
    await sameAsReference(x64(), [2, 32], 'nvfp4_razer', { globalScale: 0.5 });
    await sameAsReference(x64(), [2, 32], 'nvfp4_4over6', { globalScale: 0.5 });
    for (const g of [0, -1, 0.1, Number.POSITIVE_INFINITY]) await sameAsReference(x64(), [2, 32], 'nvfp4', { globalScale: g });
  });

  it('a fixed block size other than 16, bad threads, bad options (ERR_ARGUMENT)', async () => {
    await sameAsReference(x64(), [2, 32], 'nvfp4', { blockSize: 32 });
    expectCode(caught(() => nativeQuantizeSync(x64(), [2, 32], 'nvfp4', { threads: -1 })), 'ERR_ARGUMENT', /options.threads: expected an integer from 0 to 1024, got -1/);
    expectCode(caught(() => addon.quantizeSync('nvfp4', x64(), 2, 32, 7 as unknown as object)), 'ERR_ARGUMENT', /options: expected an options object, got 7/);
  });

  it('NaN and ±Inf (ERR_NON_FINITE): the first bad index, as the reference words it', async () => {
    for (const [i, v] of [[0, Number.NaN], [37, Number.POSITIVE_INFINITY], [63, Number.NEGATIVE_INFINITY]] as const) {
      const x = x64();
      x[i] = v;
      if (i !== 63) x[63] = Number.NaN; // a later bad element must not be the one reported
      for (const format of ['nvfp4', 'nvfp4_4over6', 'nvfp4_razer', 'nvfp4_razer_a'] as const) {
        const e = await sameAsReference(x, [2, 32], format, { name: 'layer.weight' });
        expectCode(e, 'ERR_NON_FINITE', new RegExp(`^layer.weight: element ${i} \\(row ${i >> 5}, col ${i % 32}\\) is ${v}`));
      }
    }
    // fp16 / bf16 non-finite bit patterns.
    const h = Uint16Array.from(x64(), f32ToF16);
    h[5] = 0x7e00;
    await sameAsReference(h, [2, 32], 'nvfp4', { dtype: 'f16' });
    const b = Uint16Array.from(x64(), f32ToBf16);
    b[40] = 0xff80;
    await sameAsReference(b, [2, 32], 'nvfp4_razer', { dtype: 'bf16' });
  });

  it('raw addon: the Promise forms reject (never throw) on argument errors and non-finite data', async () => {
    const bad = addon.quantize('nvfp4', x64(), 2, 31);
    expect(bad).toBeInstanceOf(Promise);
    expectCode(await rejected(bad), 'ERR_SHAPE', /shape: \[2, 31\] needs 62 elements/);
    const x = x64();
    x[3] = Number.NaN;
    const p = addon.quantize('nvfp4', x, 2, 32);
    expect(p).toBeInstanceOf(Promise);
    expectCode(await rejected(p), 'ERR_NON_FINITE', /element 3/);
  });
});

describe('weight and GEMM argument errors', () => {
  const [M, N, K] = [3, 8, 32];
  const q = () => quantize(draw('gaussian', N, K, 2), [N, K], 'nvfp4_razer');
  const x = () => draw('gaussian', M, K, 3);

  it('K mismatch between X and the weight (ERR_SHAPE)', async () => {
    expectCode(await rejected(nativeGemmW4A16(draw('gaussian', M, 48, 4), [M, 48], q())), 'ERR_SHAPE', "w: expected K = 48 (X's columns), got a [8, 32] weight");
    expectCode(await rejected(nativeGemmW4A16(x(), [M + 1, K], q())), 'ERR_SHAPE', /x: \[M, K\] = \[4, 32\] .* needs 128 elements, got 96/);
  });

  it('corrupt weights: buffer lengths, formats, scales, SVs', async () => {
    const bad = (patch: object) => ({ ...q(), ...patch });
    expectCode(await rejected(nativeGemmW4A16(x(), [M, K], bad({ codes: new Uint8Array(10) }))), 'ERR_SHAPE', /weight.codes: a \[8, 32\] weight needs 128 code bytes, got 10/);
    expectCode(await rejected(nativeGemmW4A16(x(), [M, K], bad({ scales: new Uint8Array(3) }))), 'ERR_SHAPE', /weight.scales: .* needs 16 scale bytes, got 3/);
    expectCode(await rejected(nativeGemmW4A16(x(), [M, K], bad({ scales: new Float32Array(16) }))), 'ERR_DTYPE', /weight.scales: expected a Uint8Array/);
    expectCode(await rejected(nativeGemmW4A16(x(), [M, K], bad({ format: 'nf4' }))), 'ERR_FORMAT', /weight.format: nf4 has no native implementation/);
    expectCode(await rejected(nativeGemmW4A16(x(), [M, K], bad({ globalScale: Number.NaN }))), 'ERR_ARGUMENT', /weight.globalScale/);
    expectCode(await rejected(nativeGemmW4A16(x(), [M, K], bad({ svBig: 9 }))), 'ERR_ARGUMENT', /weight.svBig/);
    expectCode(await rejected(nativeGemmW4A16(x(), [M, K], bad({ shape: [N, 24] }))), 'ERR_SHAPE');
    expectCode(await rejected(nativeDequantize(quantize(draw('gaussian', 2, 64, 5), [2, 64], 'mxfp4'))), 'ERR_FORMAT');
    expectCode(caught(() => addon.gemmW4A16Sync(x(), 'f32', M, null as never, null, 'f32')), 'ERR_ARGUMENT', /weight: expected a NativeWeight or/);
  });

  it('dtypes: X, output, bias (ERR_DTYPE), bias length (ERR_SHAPE)', async () => {
    const xs = x();
    expectCode(await rejected(nativeGemmW4A16(xs, [M, K], q(), { dtype: 'bf16' })), 'ERR_DTYPE', /a Float32Array is 'f32'/);
    expectCode(await rejected(nativeGemmW4A16(new Uint16Array(M * K), [M, K], q())), 'ERR_DTYPE', /a Uint16Array needs dtype 'f16' or 'bf16'/);
    expectCode(await rejected(nativeGemmW4A16(xs, [M, K], q(), { outDtype: 'f64' as never })), 'ERR_DTYPE', /outDtype: expected 'f32', 'f16' or 'bf16', got "f64"/);
    expectCode(await rejected(nativeGemmW4A16(xs, [M, K], q(), { bias: new Float32Array(N + 1) })), 'ERR_SHAPE', /bias: expected a Float32Array\(8\)/);
    expectCode(await rejected(nativeGemmW4A16(xs, [M, K], q(), { bias: new Float64Array(N) as never })), 'ERR_DTYPE', /bias: expected a Float32Array or null, got Float64Array\(8\)/);
  });

  it('W4A4 options and non-finite X', async () => {
    const xs = x();
    expectCode(await rejected(nativeGemmW4A4(xs, [M, K], q(), { activationFormat: 'nvfp4_razer' as never })), 'ERR_FORMAT', /options.activationFormat: expected 'nvfp4' or 'nvfp4_razer_a'/);
    expectCode(await rejected(nativeGemmW4A4(xs, [M, K], q(), { activationFormat: 'nvfp4_razer_a', svAct: 6 })), 'ERR_ARGUMENT', /options.svAct/);
    expectCode(await rejected(nativeGemmW4A4(xs, [M, K], q(), { activationGlobalScale: -1 })), 'ERR_ARGUMENT', /options.activationGlobalScale/);
    xs[40] = Number.NaN;
    expectCode(await rejected(nativeGemmW4A4(xs, [M, K], q())), 'ERR_NON_FINITE', 'x: element 40 (row 1, col 8) is NaN; quantized tensors must be finite');
  });
});

describe('native object lifetimes', () => {
  it('a disposed NativeWeight fails with ERR_DISPOSED; dispose is idempotent; Symbol.dispose works', async () => {
    const q = quantize(draw('gaussian', 4, 32, 6), [4, 32], 'nvfp4');
    const w = NativeWeight.fromQuantized(q);
    w[Symbol.dispose]();
    w.dispose();
    expect(w.disposed).toBe(true);
    expect(w.rows).toBe(4); // metadata stays readable
    expectCode(await rejected(nativeGemmW4A16(draw('gaussian', 1, 32, 7), [1, 32], w)), 'ERR_DISPOSED', /weight: the NativeWeight was disposed/);
    expectCode(caught(() => nativeGemmW4A16Sync(draw('gaussian', 1, 32, 7), [1, 32], w)), 'ERR_DISPOSED');
  });

  it('native classes cannot be constructed from JS, and look-alikes are not unwrapped', () => {
    expectCode(caught(() => new (addon.NativeWeight as unknown as new () => object)()), 'ERR_ARGUMENT', /use NativeWeight.fromQuantized/);
    expectCode(caught(() => new (addon.DeviceTensor as unknown as new () => object)()), 'ERR_ARGUMENT', /use DeviceTensor.alloc/);
    // An object with the right prototype but no native half: a plain (bad) weight, not a crash.
    const fake = Object.create((addon.NativeWeight as unknown as { prototype: object }).prototype) as object;
    expect(() => addon.gemmW4A16Sync(new Float32Array(32), 'f32', 1, fake as never, null, 'f32')).toThrow();
    expect(() => nativeGemmW4A16Sync(new Float32Array(32), [1, 32], fake as never)).toThrow(RazerError);
    expect(fake instanceof NativeWeight).toBe(true); // prototype-based, as instanceof always is
  });
});

describe('GPU entry points without a GPU', () => {
  const gate = gpuGate();
  it.skipIf(gate.hasGpu)('devices() and DeviceTensor throw ERR_NO_GPU, after argument checks', async () => {
    expectCode(caught(() => devices()), 'ERR_NO_GPU');
    expectCode(caught(() => DeviceTensor.alloc(0, 'f32', [4])), 'ERR_NO_GPU');
    expectCode(await rejected(DeviceTensor.fromHost(new Float32Array(4), 'f32', [4])), 'ERR_NO_GPU');
    // Argument errors come first, GPU or not.
    expectCode(caught(() => DeviceTensor.alloc(0, 'f64' as never, [4])), 'ERR_DTYPE');
    expectCode(caught(() => DeviceTensor.alloc(0, 'f32', [4, 0])), 'ERR_SHAPE');
    expectCode(caught(() => DeviceTensor.alloc(-1, 'f32', [4])), 'ERR_ARGUMENT');
    expectCode(await rejected(DeviceTensor.fromHost(new Float32Array(5), 'f32', [4])), 'ERR_SHAPE');
    expectCode(await rejected(DeviceTensor.fromHost(new Uint16Array(4) as never, 'f32', [4])), 'ERR_DTYPE');
  });
});
