// The rule that picks a backend for one call, as a pure function of plain
// facts (which backends this process has, and what keeps each one from
// serving this call), so that it is tested without a GPU and gives the same
// answer and reason to quantize(), gemmW4A16(), the CLI and the demo.

import { RazerError, type RazerErrorCode, describe } from './errors.js';

/** Every backend, best first. */
export const BACKENDS = ['cuda', 'cpu', 'reference'] as const;
export type Backend = (typeof BACKENDS)[number];

export interface BackendInfo {
  readonly name: Backend;
  readonly available: boolean;
  /** Why it is (or is not) available, for logs and the CLI. */
  readonly reason: string;
}

/** The backend that runs a call, and why it was chosen. */
export interface BackendChoice {
  readonly backend: Backend;
  readonly reason: string;
}

/**
 * What keeps a backend from serving one call, phrased to follow "the <name>
 * backend", e.g. { cpu: 'quantizes nvfp4, ..., got format "nf4"' }. A backend
 * absent from it can serve the call (when available).
 */
export type BackendGaps = Partial<Record<Backend, string>>;

/** The error of an explicit backend this process does not have. */
const UNAVAILABLE: Record<Backend, RazerErrorCode> = { cuda: 'ERR_NO_GPU', cpu: 'ERR_NATIVE', reference: 'ERR_NATIVE' };

/**
 * The backend for one call. `asked` undefined: the first of `backends`
 * (best first) that is available and has no gap, its reason naming the
 * better ones passed over and why. `asked` a backend name: that one, or a
 * RazerError naming `argument` when it is unknown, unavailable here, or
 * cannot serve the call.
 */
export function chooseBackend(
  backends: readonly BackendInfo[],
  gaps: BackendGaps,
  asked: unknown,
  argument: string,
): BackendChoice {
  if (asked === undefined) {
    const passed: string[] = [];
    for (const b of backends) {
      const gap = gaps[b.name];
      if (b.available && gap === undefined) {
        return { backend: b.name, reason: passed.length === 0 ? b.reason : `${b.reason}; not ${passed.join('; not ')}` };
      }
      passed.push(b.available ? `${b.name}: it ${gap}` : `${b.name}: ${b.reason}`);
    }
    // The reference is always available and serves every call: only a broken list gets here.
    throw new RazerError('ERR_ARGUMENT', `${argument}: no backend can serve this call (${passed.join('; ')})`);
  }
  const b = backends.find((c) => c.name === asked);
  if (b === undefined) {
    throw new RazerError('ERR_ARGUMENT', `${argument}: expected one of ${BACKENDS.join(', ')}, got ${describe(asked)}`);
  }
  if (!b.available) {
    throw new RazerError(UNAVAILABLE[b.name], `${argument}: the ${b.name} backend is not available here: ${b.reason}`);
  }
  const gap = gaps[b.name];
  if (gap !== undefined) {
    const others = backends.filter((c) => c.available && gaps[c.name] === undefined).map((c) => `'${c.name}'`);
    throw new RazerError(
      'ERR_ARGUMENT',
      `${argument}: the ${b.name} backend ${gap}; use ${others.join(' or ')}, or leave ${argument} out for the best that can`,
    );
  }
  return { backend: b.name, reason: `asked for by ${argument}; ${b.reason}` };
}
