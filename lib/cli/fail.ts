// One-line error messages for the CLI: a user who passes a wrong path or
// option should read what is wrong, not a stack trace.

import { RazerError } from '../errors.js';
import { INTERRUPTED_EXIT_CODE, Interrupted } from './interrupt.js';

/** Node's system errors (ENOENT, EACCES, ...) carry a code and often a path. */
function isSystemError(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && 'syscall' in e;
}

const SYSTEM_MESSAGES: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
  ENOSPC: 'no space left on device',
  EEXIST: 'already exists',
};

/** The message to print after 'razer: ' (a single line). */
export function errorMessage(e: unknown): string {
  let message: string;
  if (e instanceof RazerError || e instanceof Interrupted) {
    message = e.message;
  } else if (isSystemError(e)) {
    const what = SYSTEM_MESSAGES[e.code as string] ?? e.message;
    message = e.path ? `${e.path}: ${what}` : what;
  } else if (e instanceof Error) {
    // Not an expected failure: say so, and point at the stack trace switch.
    message = `unexpected error: ${e.message} (set RAZER_DEBUG=1 for the stack trace)`;
  } else {
    message = `unexpected error: ${String(e)}`;
  }
  return message.replace(/\s*\n\s*/g, ' ');
}

/** Print the error on stderr and set a failing exit code (no process.exit: stdout may still be flushing). */
export function reportFailure(e: unknown): void {
  process.stderr.write(`razer: ${errorMessage(e)}\n`);
  if (process.env.RAZER_DEBUG && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  process.exitCode = e instanceof Interrupted ? INTERRUPTED_EXIT_CODE : 1;
}
