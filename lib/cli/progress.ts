// A byte-based progress bar on stderr, shown only on a terminal: redirected
// output and CI logs stay free of carriage-return noise.

import cliProgress from 'cli-progress';
import { formatBytes, formatDuration } from './units.js';

export interface Progress {
  /** `label` is starting; `doneBytes` are finished so far. */
  update(doneBytes: number, label: string): void;
  /** Remove the bar (the caller prints its own summary). */
  stop(): void;
}

const QUIET: Progress = { update() {}, stop() {} };

export function byteProgress(
  totalBytes: number,
  stream: NodeJS.WriteStream = process.stderr,
): Progress {
  if (!stream.isTTY) return QUIET;
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: '{bar} {percentage}% | {done} / {all} | {rate} | ETA {remaining} | {label}',
      barsize: 24,
      clearOnComplete: true,
      linewrap: true, // trimmed to the terminal width, so it never scrolls
    },
    cliProgress.Presets.shades_classic,
  );
  const start = performance.now();
  const payload = (done: number, label: string) => {
    const seconds = (performance.now() - start) / 1000;
    // Our own rate and ETA: cli-progress's show 'NF' until the first update lands.
    const known = seconds > 0 && done > 0;
    return {
      done: formatBytes(done),
      all: formatBytes(totalBytes),
      rate: known ? `${formatBytes(done / seconds)}/s` : '-',
      remaining: known ? formatDuration(((totalBytes - done) / done) * seconds * 1000) : '-',
      label,
    };
  };
  bar.start(Math.max(totalBytes, 1), 0, payload(0, ''));
  return {
    update(done, label) {
      bar.update(done, payload(done, label));
      // Tensors are processed synchronously, so the bar's timer cannot fire:
      // draw now, before the next long computation starts.
      bar.render();
    },
    stop() {
      bar.stop();
    },
  };
}
