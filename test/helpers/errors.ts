// Catching and checking RazerErrors in tests.
import { expect } from 'vitest';
import { RazerError, type RazerErrorCode } from '../../lib/errors.js';

/** The RazerError `body` throws (fails the test when it throws none, or something else). */
export function caught(body: () => unknown): RazerError {
  try {
    body();
  } catch (e) {
    expect(e).toBeInstanceOf(RazerError);
    return e as RazerError;
  }
  throw new Error('expected an error, none was thrown');
}

/** The RazerError a promise rejects with; a function's synchronous throw counts too. */
export async function rejected(p: Promise<unknown> | (() => Promise<unknown>)): Promise<RazerError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(RazerError);
    return e as RazerError;
  }
  throw new Error('expected a rejection, the promise resolved');
}

/** Its code, its class name, and its message (exactly, or matching a pattern). */
export function expectCode(e: RazerError, code: RazerErrorCode, message?: RegExp | string): void {
  expect(e.code, e.message).toBe(code);
  expect(e.name).toBe('RazerError');
  if (typeof message === 'string') expect(e.message).toBe(message);
  else if (message) expect(e.message).toMatch(message);
}
