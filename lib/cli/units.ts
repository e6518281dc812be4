// Human-readable numbers for CLI output.

/** Bytes in decimal units (as disk sizes and download pages show them). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[u]}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Small positive quantities such as MSE: 3 significant digits, exponent form. */
export function formatSci(v: number): string {
  if (v === 0) return '0';
  if (!Number.isFinite(v)) return String(v);
  return v.toExponential(2).replace('e+', 'e');
}

/** Decibels with two decimals; Infinity (exact) shown as 'inf'. */
export function formatDb(db: number): string {
  if (db === Infinity) return 'inf';
  if (db === -Infinity) return '-inf';
  return db.toFixed(2);
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}
