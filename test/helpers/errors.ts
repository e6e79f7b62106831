/** Typed-error assertions shared by the tests. */
import { expect } from 'vitest';
import { AnimefyError } from '#src/errors.ts';

/** Awaits a promise that must reject with an AnimefyError, and returns that error. */
export async function rejection(promise: Promise<unknown>): Promise<AnimefyError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AnimefyError);
  return err as AnimefyError;
}
