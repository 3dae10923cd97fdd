import { isUtf8 } from 'node:buffer';

/**
 * Streaming UTF-8 validation for text messages that arrive in parts (fragments, or one
 * frame split across network reads). It fails at the first byte that cannot be part of a
 * valid sequence, so a connection can be failed with 1007 as soon as the bad byte
 * arrives rather than when the message ends (RFC 6455 section 8.1; Autobahn 6.4.x).
 *
 * The exact byte-by-byte state machine runs only at the edges of each part (at most three
 * bytes carried over a boundary); the bulk in between goes through Node's native
 * `buffer.isUtf8`.
 */
export class Utf8Validator {
  /** Continuation bytes still expected for the sequence in progress. */
  private remaining = 0;
  /** Smallest and largest allowed value of the next continuation byte (RFC 3629 table). */
  private lower = 0x80;
  private upper = 0xbf;

  /** Forget any sequence in progress: call before a new message. */
  reset(): void {
    this.remaining = 0;
    this.lower = 0x80;
    this.upper = 0xbf;
  }

  /** Whether everything fed so far ends on a complete code point. */
  get complete(): boolean {
    return this.remaining === 0;
  }

  /**
   * Feed the next part of the message. Returns false as soon as the bytes so far can no
   * longer be the start of valid UTF-8; true otherwise (the message may still be
   * incomplete: check {@link Utf8Validator.complete} at its end).
   */
  push(data: Uint8Array): boolean {
    const length = data.length;
    let i = 0;
    while (this.remaining > 0 && i < length) {
      if (!this.step(data[i++]!)) return false;
    }
    if (i === length) return true;
    // Find where the last complete code point ends, so that the native validator sees only
    // whole sequences and the state machine carries the incomplete tail.
    let end = length;
    let j = length - 1;
    let continuation = 0;
    while (j > i && continuation < 3 && (data[j]! & 0xc0) === 0x80) {
      j--;
      continuation++;
    }
    const lead = data[j]!;
    if (lead >= 0xc0) {
      const needed = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
      if (length - j < needed) end = j;
    }
    if (end > i && !isUtf8(data.subarray(i, end))) return false;
    for (let k = end; k < length; k++) {
      if (!this.step(data[k]!)) return false;
    }
    return true;
  }

  /** Advance the state machine by one byte; false if the byte is invalid here. */
  private step(byte: number): boolean {
    if (this.remaining === 0) {
      if (byte < 0x80) return true;
      if (byte >= 0xc2 && byte <= 0xdf) return this.expect(1, 0x80, 0xbf);
      if (byte === 0xe0) return this.expect(2, 0xa0, 0xbf); // no overlong 3-byte forms
      if (byte === 0xed) return this.expect(2, 0x80, 0x9f); // no UTF-16 surrogates
      if (byte >= 0xe1 && byte <= 0xef) return this.expect(2, 0x80, 0xbf);
      if (byte === 0xf0) return this.expect(3, 0x90, 0xbf); // no overlong 4-byte forms
      if (byte >= 0xf1 && byte <= 0xf3) return this.expect(3, 0x80, 0xbf);
      if (byte === 0xf4) return this.expect(3, 0x80, 0x8f); // nothing above U+10FFFF
      return false; // 0x80-0xC1 as a lead byte, or 0xF5-0xFF
    }
    if (byte < this.lower || byte > this.upper) return false;
    this.remaining--;
    this.lower = 0x80;
    this.upper = 0xbf;
    return true;
  }

  private expect(count: number, lower: number, upper: number): boolean {
    this.remaining = count;
    this.lower = lower;
    this.upper = upper;
    return true;
  }
}
