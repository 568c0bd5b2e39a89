/**
 * Small helpers shared by the unit tests (not part of the build: tsconfig.build.json excludes test/).
 *
 * Hex and byte helpers come from the project's one CBOR writer module (conformance/cbor.ts).
 *
 * @module
 */
import { expect } from 'vitest';
import { isProtocolError, type ProtocolError } from '../src/errors.js';

export { cat, concatBytes, fromHex, toHex } from '../conformance/cbor.js';

/** Run `fn` and return the ProtocolError it throws; fails the test on any other outcome. */
export function thrownProtocolError(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (e) {
    expect(isProtocolError(e), String(e)).toBe(true);
    return e as ProtocolError;
  }
  throw new Error('expected a ProtocolError, nothing was thrown');
}

/** The code of the ProtocolError `fn` throws; fails the test on any other outcome. */
export const errorCode = (fn: () => unknown): string => thrownProtocolError(fn).code;
