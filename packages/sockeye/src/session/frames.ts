/**
 * The data frames a session server sends and keeps for replay, built once per message.
 *
 * A message a session sends is kept until the client acknowledges it, and written on the
 * link as a data frame (`d` then the payload). Built here, the kept copy **is** the frame:
 * one copy of the payload, behind its `d`, written on the link as it is and again by every
 * replay. Text stays bytes ({@link TextBytes}): a message echoed or relayed as the
 * `Buffer` it arrived in (`decodeText: false`) is copied, not decoded and encoded again.
 *
 * Small frames are carved from a slab of the session's own: an allocation of its own per
 * message costs as much as the rest of the send (an `ArrayBuffer` of its own is about
 * 0.5 to 1 µs; Node's shared pool would pin 8 KiB of it for each message a client leaves
 * unacknowledged). A session's frames leave its replay buffer oldest first, so what its
 * slabs pin beyond the frames it keeps is bounded: the part of the oldest slab already
 * acknowledged, and the unused end of the newest one, each at most {@link MAX_SLAB}, and
 * a slab is sized from what the session keeps (a session that sends now and then uses
 * small ones). The server lets go of a session's slab when its replay buffer is empty
 * (at its sweep, once a second, not at each acknowledgement: the slab is what makes a
 * frame cheap) and when its link breaks.
 * @module
 */
import { Buffer, isUtf8 } from 'node:buffer';
import { TextBytes } from './wire.js';

/** The smallest slab, in bytes. */
export const MIN_SLAB = 256;
/** The largest slab, in bytes; a frame over a quarter of it gets an allocation of its own. */
export const MAX_SLAB = 16 * 1024;

/** The first byte of a data frame: `d`. */
const DATA_BYTE = 0x64;

const EMPTY = Buffer.alloc(0);

/**
 * `Buffer.prototype.utf8Write` (Node's own, undeclared): `write(string, offset, length, 'utf8')`
 * without the argument parsing. Node's documented `Buffer#write` calls it itself (Node 20 to
 * 26), so it lives as long as that does.
 */
type Utf8Writable = Buffer & { utf8Write(string: string, offset: number, length: number): number };

/**
 * Builds one session's data frames (see the module's comment).
 * @internal
 */
export class FrameBuilder {
  /**
   * @param slabs - carve small frames from slabs (one session's frames); false gives each
   *   frame memory of its own (a frame many sessions keep: a topic's message)
   */
  constructor(private readonly slabs = true) {}

  /** The slab small frames are carved from (null until the first, and after {@link release}). */
  private slab: Buffer | null = null;
  /** Bytes of the slab used. */
  private used = 0;
  /** The size of the last slab (the next is at least as large): 0 after {@link release}. */
  private lastSize = 0;
  /** Where {@link reserve} put the last frame: in `target` (the slab, or memory of its own) at `at`. */
  private target: Buffer = EMPTY;
  private at = 0;

  /**
   * The data frame of a text message.
   * @param kept - bytes the session's replay buffer holds now (sizes the next slab)
   */
  text(data: string, kept: number): TextBytes {
    // At most 3 bytes of UTF-8 per UTF-16 unit: a small string is written into room for
    // that many, and what it did not use goes back to the slab (no count first). The hot
    // path: `utf8Write` rather than `write(…, 'utf8')`, which parses its arguments first
    // (70 against 130 ns for 64 characters in a CPU profile of the session bench).
    const bound = data.length * 3 + 1;
    if (this.slabs && bound <= MAX_SLAB / 4) {
      const target = this.reserve(bound, kept);
      const at = this.at;
      target[at] = DATA_BYTE;
      const size = (target as Utf8Writable).utf8Write(data, at + 1, bound - 1) + 1;
      this.used = at + size;
      return new TextBytes(target.buffer as ArrayBuffer, target.byteOffset + at, size);
    }
    const size = Buffer.byteLength(data) + 1;
    const target = this.reserve(size, kept);
    const at = this.at;
    target[at] = DATA_BYTE;
    (target as Utf8Writable).utf8Write(data, at + 1, size - 1);
    return new TextBytes(target.buffer as ArrayBuffer, target.byteOffset + at, size);
  }

  /**
   * The data frame of a text message given as UTF-8 bytes (copied). Bytes that are not
   * valid UTF-8 go as their decoding, each bad sequence replaced by U+FFFD, as a string
   * made of them would: the client must never get a text message it has to refuse.
   * @param valid - they are known to be valid UTF-8 (not checked again)
   */
  textFromBytes(data: Uint8Array, kept: number, valid = false): TextBytes {
    if (!valid && !isUtf8(data)) {
      return this.text(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'), kept);
    }
    const size = data.length + 1;
    const target = this.reserve(size, kept);
    const at = this.at;
    target[at] = DATA_BYTE;
    target.set(data, at + 1);
    return new TextBytes(target.buffer as ArrayBuffer, target.byteOffset + at, size);
  }

  /** The data frame of a binary message (its bytes copied). */
  binary(data: Uint8Array, kept: number): Uint8Array {
    const size = data.length + 1;
    const target = this.reserve(size, kept);
    const at = this.at;
    target[at] = DATA_BYTE;
    target.set(data, at + 1);
    return new Uint8Array(target.buffer, target.byteOffset + at, size);
  }

  /**
   * The session's replay buffer is empty: its frames no longer need the slab, and an idle
   * session keeps none. (Called now and then, not at each acknowledgement: the slab is
   * what makes a frame cheap.)
   */
  release(): void {
    this.slab = null;
    this.used = 0;
    this.lastSize = 0;
  }

  /**
   * Room for a frame of `size` bytes: carved from the slab (a new one when it is full), or
   * memory of its own for a large frame.
   * @returns the buffer it is in; it starts at {@link at}
   */
  private reserve(size: number, kept: number): Buffer {
    if (!this.slabs || size > MAX_SLAB / 4) {
      this.target = Buffer.allocUnsafeSlow(size);
      this.at = 0;
      return this.target;
    }
    let slab = this.slab;
    if (slab === null || this.used + size > slab.length) {
      // Twice what the session keeps (with this frame), and no smaller than the last one:
      // a session that sends steadily takes a slab per many frames, one that sends now and
      // then a small one.
      let length = Math.max(MIN_SLAB, this.lastSize);
      while (length < 2 * (kept + size) && length < MAX_SLAB) length *= 2;
      this.lastSize = length;
      slab = Buffer.allocUnsafeSlow(length);
      this.slab = slab;
      this.used = 0;
    }
    this.target = slab;
    this.at = this.used;
    this.used += size;
    return slab;
  }
}
