/**
 * Hex in and out, the way people paste it: `818f08f6`, `81 8f 08 f6`, `81:8f:08:f6`,
 * `0x818f08f6`, `0x81, 0x8f, 0x08, 0xf6` (a C array).
 */

import { SockeyeError } from '@sockeye/sockeye';

/** Input that is not hex: says what and where, in one line. */
export class HexError extends SockeyeError {
  override readonly name = 'HexError';
  /** Stable code for logs and tests. */
  readonly code = 'ERR_SOCKEYE_HEX';
}

/** Characters people put between hex bytes (Wireshark, xxd, dev tools); they are dropped. */
const SEPARATORS = /[\s:,-]/g;

/** A `0x` at the start or after a separator. */
const PREFIXES = /(^|[\s:,-])0x/gi;

/**
 * Parse hex into bytes. Spaces, tabs, newlines, `:`, `,` and `-` between digits are
 * ignored, and so is `0x` at the start or after a separator.
 * @throws {@link HexError} for a character that is not a hex digit, an odd number of digits, or no digits
 */
export function parseHex(text: string): Buffer {
  const digits = text.trim().replace(PREFIXES, '$1').replace(SEPARATORS, '');
  if (digits.length === 0) throw new HexError('no hex digits given');
  const bad = /[^0-9a-fA-F]/.exec(digits);
  if (bad !== null) {
    throw new HexError(
      `not a hex digit: ${JSON.stringify(bad[0])} (digit ${bad.index + 1} of ${digits.length})`,
    );
  }
  if (digits.length % 2 !== 0) {
    throw new HexError(`odd number of hex digits (${digits.length}): each byte takes two`);
  }
  return Buffer.from(digits, 'hex');
}

/** Bytes as lower-case hex pairs joined by `separator` (a space by default): `81 8f 08 f6`. */
export function formatHex(bytes: Uint8Array, separator = ' '): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    if (i > 0) out += separator;
    out += bytes[i]!.toString(16).padStart(2, '0');
  }
  return out;
}
