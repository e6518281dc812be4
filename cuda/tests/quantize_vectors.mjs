// Reference test vectors for cuda/tests/quantize_check.cu, from the TS
// reference quantizers (lib/reference via quantize()). Writes raw binary
// files and a manifest into OUT (default <repo>/.gpu/qvec, git-ignored; it
// travels to the GPU machine as a `carry` path):
//   <name>.x       input elements (f32 or fp16/bf16 bits, little-endian)
//   <name>.codes   expected packed codes [rows, cols/2]
//   <name>.scales  expected scale bytes [rows, cols/16]
//   <name>.g       expected global scale (4 bytes, binary32)
//   cases.txt      one line per case:
//     name api format dtype rows cols gmode gbits sv_small sv_big sv_act status
//   api W = quantize_weights, A = quantize_activations; gmode dyn|static with
//   gbits the static G's binary32 bits in hex; status the expected first
//   non-finite index, -1 for none (then codes/scales/G are not compared).
// Usage (after `npx tsc -p tsconfig.json`):
//   node cuda/tests/quantize_vectors.mjs [repoRoot] [outDir]
// Deterministic (seeded lib/random.js): the same files every run.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = process.argv[2] ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const out = process.argv[3] ?? path.join(root, '.gpu/qvec');
const { quantize, codecs, outlierChannelGains } = await import(path.join(root, 'dist/lib/index.js'));
const { Random } = await import(path.join(root, 'dist/lib/random.js'));

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
const f32 = Math.fround;
const lines = [];
let totalBytes = 0;

// ---------------------------------------------------------------- data ---
const DISTS = {
  gauss: (r, n) => r.fill(n, (q) => q.gaussian()),
  student3: (r, n) => r.fill(n, (q) => q.studentT(3)),
  laplace: (r, n) => r.fill(n, (q) => q.laplace(0, 1)),
  outlier: (r, n, rows, cols) => {
    const g = outlierChannelGains(r, cols, { count: Math.max(1, cols >> 6), minGain: 10, maxGain: 100 });
    return r.fill(n, (q) => q.gaussian()).map((v, i) => v * g[i % cols]);
  },
  zeros: (r, n) => new Float32Array(n),
  zeroblock: (r, n, rows, cols) => {
    const x = r.fill(n, (q) => q.gaussian());
    for (let b = 0; b < n / 16; b += 7) x.fill(0, b * 16, b * 16 + 16);
    if (rows > 2) x.fill(0, cols, 2 * cols); // a whole zero row
    return x;
  },
  huge: (r, n, rows, cols, dt) => {
    const top = dt === 'f16' ? 65504 : 3e38;
    const x = r.fill(n, (q) => q.gaussian());
    let m = 0;
    for (const v of x) m = Math.max(m, Math.abs(v));
    return x.map((v) => Math.max(-top, Math.min(top, (v / m) * top)));
  },
  tiny40: (r, n) => r.fill(n, (q) => q.gaussian() * 1e-40),
  tiny44: (r, n) => r.fill(n, (q) => q.gaussian() * 1e-44),
  wide: (r, n, rows, cols, dt) => {
    const span = dt === 'f16' ? 6 : 30;
    return r.fill(n, (q) => q.gaussian() * 10 ** q.uniform(-span, span));
  },
  // Values on and between E2M1 grid points times powers of two: ties everywhere.
  grid: (r, n) => r.fill(n, (q) => (q.uniform() < 0.5 ? -1 : 1) * (q.int(25) / 4) * 2 ** (q.int(7) - 3)),
  randbits: (r, n, rows, cols, dt) =>
    r.fill(n, (q) => {
      for (;;) {
        let v;
        if (dt === 'f32') v = codecs.f32FromBits(q.nextUint32());
        else if (dt === 'f16') v = codecs.f16ToF32(q.nextUint32() & 0xffff);
        else v = codecs.bf16ToF32(q.nextUint32() & 0xffff);
        if (Number.isFinite(v)) return v;
      }
    }),
};

function encode(x, dt) {
  if (dt === 'f32') return { data: Float32Array.from(x), bytes: Buffer.from(Float32Array.from(x).buffer) };
  const h = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) h[i] = dt === 'f16' ? codecs.f32ToF16(x[i]) : codecs.f32ToBf16(x[i]);
  return { data: h, bytes: Buffer.from(h.buffer) };
}

function widen(h, dt) {
  if (dt === 'f32') return h;
  return Float32Array.from(h, (b) => (dt === 'f16' ? codecs.f16ToF32(b) : codecs.bf16ToF32(b)));
}

function hex(g) {
  return codecs.f32Bits(g).toString(16).padStart(8, '0');
}

let seed = 1;
function addCase({ name, api, format, dt, rows, cols, dist, gmode = 'dyn', gfactor, gvalue, sv = {}, poison }) {
  const rng = new Random(seed++);
  const n = rows * cols;
  const raw = DISTS[dist](rng, n, rows, cols, dt);
  const { data, bytes } = encode(raw, dt);
  if (poison) for (const [i, bits] of poison) data[i] = bits;
  const xw = widen(data, dt);
  let status = -1;
  for (let i = 0; i < xw.length; i++) if (!Number.isFinite(xw[i])) { status = i; break; }
  let G = 0;
  if (gmode === 'static') {
    if (gvalue !== undefined) G = f32(gvalue);
    else {
      let m = 0;
      for (const v of xw) if (Number.isFinite(v)) m = Math.max(m, Math.abs(v));
      G = f32(f32(m / 2688) * gfactor);
      if (!(G > 0)) G = 2 ** -149;
    }
  }
  const opts = { dtype: dt, ...sv };
  if (gmode === 'static') opts.globalScale = G;
  const file = (ext) => path.join(out, `${name}.${ext}`);
  fs.writeFileSync(file('x'), poison ? Buffer.from(data.buffer) : bytes);
  let q = null;
  if (status < 0) {
    q = quantize(data, [rows, cols], format, opts);
    fs.writeFileSync(file('codes'), q.codes);
    fs.writeFileSync(file('scales'), q.scales);
    fs.writeFileSync(file('g'), Buffer.from(Float32Array.of(q.globalScale).buffer));
    totalBytes += q.codes.length + q.scales.length + 4;
  }
  totalBytes += bytes.length;
  lines.push(
    [name, api, format, dt, rows, cols, gmode, hex(G), sv.svSmall ?? 5, sv.svBig ?? 8, sv.svAct ?? 5, status].join(' '),
  );
}

// ---------------------------------------------------------------- cases ---
const SHAPES = [
  [33, 256], [7, 1024], [1, 16], [65, 48], [96, 128], [3, 2048], [63, 272], [5, 2048],
];
const ALL = Object.keys(DISTS);
let si = 0;
const nextShape = () => SHAPES[si++ % SHAPES.length];

// Weights: every format x dtype x distribution.
for (const format of ['nvfp4', 'nvfp4_4over6', 'nvfp4_razer']) {
  for (const dt of ['f32', 'f16', 'bf16']) {
    for (const dist of ALL) {
      const [rows, cols] = nextShape();
      addCase({ name: `w_${format}_${dt}_${dist}`, api: 'W', format, dt, rows, cols, dist });
    }
  }
}
// RaZeR weights with other special values.
for (const [svSmall, svBig] of [[7, 12], [0.75, 10], [3.5, 5]]) {
  for (const dist of ['gauss', 'student3', 'grid']) {
    addCase({
      name: `w_razer_sv${svSmall}_${svBig}_${dist}`, api: 'W', format: 'nvfp4_razer', dt: 'bf16',
      rows: 31, cols: 256, dist, sv: { svSmall, svBig },
    });
  }
}
// Activations: nvfp4 and nvfp4_razer_a, f16/bf16, dynamic and static scales.
for (const format of ['nvfp4', 'nvfp4_razer_a']) {
  for (const dt of ['f16', 'bf16']) {
    for (const dist of ALL) {
      const [rows, cols] = nextShape();
      addCase({ name: `a_${format}_${dt}_${dist}_dyn`, api: 'A', format, dt, rows, cols, dist });
    }
    const statics = [
      ['same', 1], ['x037', 0.37], ['x13', 13.3], ['x1e3', 1000], ['x1e-3', 0.001],
    ];
    for (const dist of ['gauss', 'student3', 'outlier', 'grid', 'zeroblock', 'wide', 'randbits']) {
      for (const [tag, gfactor] of statics) {
        const [rows, cols] = nextShape();
        addCase({
          name: `a_${format}_${dt}_${dist}_s${tag}`, api: 'A', format, dt, rows, cols, dist,
          gmode: 'static', gfactor,
        });
      }
    }
    for (const [tag, gvalue] of [['g1e-30', 1e-30], ['gmin', 2 ** -149], ['g1e30', 1e30], ['g1', 1], ['gsub', 3e-39]]) {
      addCase({
        name: `a_${format}_${dt}_gauss_${tag}`, api: 'A', format, dt, rows: 17, cols: 128,
        dist: 'gauss', gmode: 'static', gvalue,
      });
    }
  }
}
// RaZeR activations with other svAct (0.046875 is outside the fast path's range).
for (const svAct of [7, 0.375, 0.046875, 12, 2.5, 64]) {
  for (const dt of ['f16', 'bf16']) {
    for (const dist of ['gauss', 'student3', 'grid']) {
      addCase({
        name: `a_razer_sv${svAct}_${dt}_${dist}`, api: 'A', format: 'nvfp4_razer_a', dt,
        rows: 21, cols: 512, dist, sv: { svAct },
      });
      addCase({
        name: `a_razer_sv${svAct}_${dt}_${dist}_static`, api: 'A', format: 'nvfp4_razer_a', dt,
        rows: 21, cols: 512, dist, sv: { svAct }, gmode: 'static', gfactor: 0.8,
      });
    }
  }
}
// A few larger ones (many CTAs).
for (const format of ['nvfp4', 'nvfp4_razer_a']) {
  addCase({ name: `a_${format}_bf16_big_dyn`, api: 'A', format, dt: 'bf16', rows: 129, cols: 4096, dist: 'outlier' });
  addCase({
    name: `a_${format}_bf16_big_static`, api: 'A', format, dt: 'bf16', rows: 129, cols: 4096,
    dist: 'student3', gmode: 'static', gfactor: 1.1,
  });
}
addCase({ name: 'w_nvfp4_razer_f32_big', api: 'W', format: 'nvfp4_razer', dt: 'f32', rows: 65, cols: 2048, dist: 'laplace' });
addCase({ name: 'w_nvfp4_4over6_bf16_big', api: 'W', format: 'nvfp4_4over6', dt: 'bf16', rows: 65, cols: 4096, dist: 'student3' });

// Non-finite inputs: status = first bad index; never NaN scale bytes.
const INF16 = { f16: 0x7c00, bf16: 0x7f80 };
const NAN16 = { f16: 0x7e00, bf16: 0x7fc0 };
const NINF16 = { f16: 0xfc00, bf16: 0xff80 };
for (const dt of ['f16', 'bf16']) {
  for (const format of ['nvfp4', 'nvfp4_razer_a']) {
    addCase({
      name: `bad_a_${format}_${dt}_dyn`, api: 'A', format, dt, rows: 40, cols: 512, dist: 'gauss',
      poison: [[9000, NAN16[dt]], [777, INF16[dt]], [15000, NINF16[dt]]],
    });
    addCase({
      name: `bad_a_${format}_${dt}_static`, api: 'A', format, dt, rows: 40, cols: 512, dist: 'gauss',
      gmode: 'static', gvalue: 1e-3, poison: [[12345, NINF16[dt]], [20000, NAN16[dt]]],
    });
  }
  addCase({
    name: `bad_w_nvfp4_razer_${dt}`, api: 'W', format: 'nvfp4_razer', dt, rows: 16, cols: 256,
    dist: 'gauss', poison: [[4095, NAN16[dt]]],
  });
}
for (const format of ['nvfp4', 'nvfp4_4over6', 'nvfp4_razer']) {
  addCase({
    name: `bad_w_${format}_f32`, api: 'W', format, dt: 'f32', rows: 33, cols: 512, dist: 'gauss',
    poison: [[16000, 0x7f800000], [5000, 0x7fc00000], [16001, 0xff800000]],
  });
}

fs.writeFileSync(path.join(out, 'cases.txt'), lines.join('\n') + '\n');
console.log(`${lines.length} cases, ${(totalBytes / 1e6).toFixed(2)} MB in ${out}`);
