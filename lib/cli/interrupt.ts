// Ctrl-C during `razer quantize`: stop at the next tensor boundary so the
// temporary output file is removed, instead of leaving gigabytes behind.
// A second Ctrl-C exits at once.

export class Interrupted extends Error {
  constructor(what: string) {
    super(`interrupted; ${what}`);
    this.name = 'Interrupted';
  }
}

/** The shell convention for "terminated by SIGINT". */
export const INTERRUPTED_EXIT_CODE = 130;

export interface InterruptWatch {
  /** Throw Interrupted if a signal arrived since the watch began. */
  check(what: string): void;
  dispose(): void;
}

export function watchInterrupts(): InterruptWatch {
  let signalled = false;
  const onSignal = () => {
    if (signalled) process.exit(INTERRUPTED_EXIT_CODE);
    signalled = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    check(what) {
      if (signalled) throw new Interrupted(what);
    },
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
