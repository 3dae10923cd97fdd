/**
 * Option checks shared by every public entry point (the core's `Connection`, the server,
 * the clients). Each is made once, at construction, and names the option it refuses, so
 * that a value that cannot work fails where it is written rather than on the first
 * message (`maxPayload: 0` would fail every message with 1009; `NaN` would disable the
 * limit).
 */
import { constants as bufferConstants } from 'node:buffer';

/**
 * Largest `maxPayload` anywhere: the longest `Buffer` Node can allocate. A larger limit
 * would let a message through the check and then throw from the allocation.
 */
export const MAX_BUFFER_PAYLOAD: number = bufferConstants.MAX_LENGTH;

/**
 * Largest `maxPayload` where text messages are decoded to a `string`: V8's longest
 * string, in UTF-16 units (2^29 - 24 on 64-bit builds). One byte of UTF-8 decodes to at
 * most one unit, so a text message within this limit always decodes; a longer one would
 * throw `ERR_STRING_TOO_LONG` from the decoding.
 */
export const MAX_TEXT_PAYLOAD: number = bufferConstants.MAX_STRING_LENGTH;

/** Longest delay `setTimeout` honours (2^31 - 1 ms, about 24.8 days); a longer one fires at once. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * Check that `value`, when given, is an integer in `[min, max]`.
 * @param name - the option's name, as the caller writes it (e.g. `maxPayload`)
 * @throws TypeError when it is not a number; RangeError when it is not an integer in range
 */
export function checkInteger(name: string, value: unknown, min: number, max: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number') {
    throw new TypeError(`${name} must be a number, not ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, not ${value}`);
  }
}

/**
 * Check that `value`, when given, is a boolean.
 * @throws TypeError otherwise
 */
export function checkBoolean(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'boolean') {
    throw new TypeError(`${name} must be a boolean, not ${describe(value)}`);
  }
}

/**
 * Check that `value`, when given, is a string.
 * @throws TypeError otherwise
 */
export function checkString(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'string') {
    throw new TypeError(`${name} must be a string, not ${describe(value)}`);
  }
}

/**
 * Check that `value`, when given, is a function.
 * @throws TypeError otherwise
 */
export function checkFunction(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') {
    throw new TypeError(`${name} must be a function, not ${describe(value)}`);
  }
}

/**
 * Check that `value`, when given, is an object (not null, not an array).
 * @throws TypeError otherwise
 */
export function checkObject(name: string, value: unknown): void {
  if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    throw new TypeError(`${name} must be an object, not ${describe(value)}`);
  }
}

/**
 * Check a `maxPayload`: an integer of at least 1 that a `Buffer` can hold, and when
 * `decodesText`, one that a `string` can hold (see {@link MAX_TEXT_PAYLOAD}).
 * @throws TypeError when it is not a number; RangeError when out of range, with the reason
 */
export function checkMaxPayload(name: string, value: unknown, decodesText: boolean): void {
  // No upper bound here: past the largest Buffer the message below names the reason (on
  // Node 22 and later that bound is Number.MAX_SAFE_INTEGER itself).
  checkInteger(name, value, 1, Number.POSITIVE_INFINITY);
  if (value === undefined) return;
  const bytes = value as number;
  if (bytes > MAX_BUFFER_PAYLOAD) {
    throw new RangeError(
      `${name} must be at most ${MAX_BUFFER_PAYLOAD} (buffer.constants.MAX_LENGTH, the largest Buffer), not ${bytes}`,
    );
  }
  if (decodesText && bytes > MAX_TEXT_PAYLOAD) {
    throw new RangeError(
      `${name} must be at most ${MAX_TEXT_PAYLOAD} (buffer.constants.MAX_STRING_LENGTH, the longest string) ` +
        `where text messages are decoded to strings, not ${bytes}`,
    );
  }
}

/** A value, described for an error message. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}
