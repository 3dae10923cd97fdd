import { ProtocolError } from './errors.js';
import {
  FIN_BIT,
  type FrameHeader,
  MASK_BIT,
  MAX_HEADER_SIZE,
  RSV1_BIT,
  RSV2_BIT,
  RSV3_BIT,
} from './frame.js';
import { MAX_CONTROL_PAYLOAD } from './limits.js';
import { unmask } from './mask.js';
import { isControlOpcode, isKnownOpcode, Opcode } from './opcodes.js';

/** Which end of the connection we are. It decides the masking rule (RFC 6455 section 5.1). */
export type Role = 'client' | 'server';

/** Receives what {@link FrameParser} decodes. */
export interface FrameHandler {
  /**
   * A frame header is complete and passed the framing rules. Called before any of its
   * payload. The header object is reused for the next frame. May throw a
   * {@link ProtocolError} (a size limit, say) to fail the connection.
   */
  onFrameHeader(header: FrameHeader): void;
  /**
   * Part of the current frame's payload, already unmasked. A frame's payload arrives in
   * one or more parts; `last` is true on its final part (a frame with an empty payload
   * gets one empty part). `data` is a view of the chunk passed to `push()`, valid until
   * the caller lets go of that chunk.
   */
  onFramePayload(data: Buffer, last: boolean): void;
  /**
   * Optional: offered each part of a masked payload before it is unmasked. Return true to
   * take the part still masked: the handler unmasks it itself, with `maskKey` from payload
   * position `offset` (while copying it, say: one pass instead of two), and
   * `onFramePayload` is not called for it. Return false, or leave this out, and the parser
   * unmasks the part in place and calls `onFramePayload`. `maskKey` is reused by the next
   * frame. May throw a {@link ProtocolError}, like `onFramePayload`.
   */
  onMaskedFramePayload?(data: Buffer, last: boolean, maskKey: Uint8Array, offset: number): boolean;
}

/** Options of {@link FrameParser}. */
export interface FrameParserOptions {
  /** Our role: a server requires masked frames, a client requires unmasked ones. */
  role: Role;
  /**
   * RSV bits that negotiated extensions allow (`RSV1_BIT` when permessage-deflate is on).
   * A frame with any other RSV bit set fails the connection with 1002.
   * @defaultValue 0
   */
  allowedRsv?: number;
}

const EMPTY = Buffer.alloc(0);

/**
 * The masking key of the frame being unmasked, shared by every parser: each parser keeps
 * its key as a number and writes it here just before unmasking (synchronously), so an idle
 * connection holds no key buffer of its own (a 4-byte `Buffer` costs ~300 bytes with its
 * ArrayBuffer and backing store). It is also the `maskKey` of the headers handed out.
 */
const MASK_KEY = Buffer.alloc(4);

enum State {
  /** Waiting for the start of a header. */
  Header,
  /** Some header bytes are stashed in `headerBytes`; waiting for the rest. */
  PartialHeader,
  /** Inside a payload; `remaining` bytes to go. */
  Payload,
}

/**
 * An incremental RFC 6455 frame decoder. Feed it bytes with {@link FrameParser.push},
 * split anywhere (one byte at a time works); it calls the handler for each header and
 * each part of each payload, and throws a {@link ProtocolError} on the first byte that
 * breaks a framing rule.
 *
 * It enforces the rules that need no more than the frame headers: RSV bits, reserved
 * opcodes, control frames (not fragmented, at most 125 bytes), the role's masking rule,
 * the top bit of a 64-bit length, and the order of fragments (no continuation without a
 * start, no new data frame inside a fragmented message). Everything above that (UTF-8,
 * message size, the close handshake) is the job of `Connection`.
 *
 * It never allocates on a declared length: payload parts are views of the pushed chunks,
 * unmasked in place (so `push()` takes ownership of its chunks).
 */
export class FrameParser {
  private readonly handler: FrameHandler;
  private readonly requireMask: boolean;
  private allowedRsv: number;

  private state = State.Header;
  /** Header bytes stashed while a header straddles chunks (allocated then, released after). */
  private headerBytes: Buffer | null = null;
  private headerHave = 0;
  /** The current frame's masking key, big-endian in a 32-bit number (see {@link MASK_KEY}). */
  private maskWord = 0;
  /** Payload bytes still expected for the current frame, and how many were delivered (for the mask offset). */
  private remaining = 0;
  private delivered = 0;
  /** Inside a fragmented data message (a data frame with FIN clear was seen). */
  private fragmented = false;
  private stopped = false;

  /** The current frame's header; reused from frame to frame. */
  private readonly header: FrameHeader = {
    fin: false,
    rsv: 0,
    opcode: 0,
    masked: false,
    length: 0,
    maskKey: MASK_KEY,
  };

  constructor(handler: FrameHandler, options: FrameParserOptions) {
    this.handler = handler;
    this.requireMask = options.role === 'server';
    this.allowedRsv = options.allowedRsv ?? 0;
  }

  /** Change the RSV bits that are allowed (after extensions are negotiated). */
  setAllowedRsv(bits: number): void {
    this.allowedRsv = bits;
  }

  /** Stop delivering: the rest of the current chunk and every later one are ignored. */
  stop(): void {
    this.stopped = true;
  }

  /** Whether a data message is in progress (a non-final data frame was seen). */
  get inFragmentedMessage(): boolean {
    return this.fragmented;
  }

  /**
   * Feed received bytes. The parser takes ownership of `chunk`: masked payloads are
   * unmasked in place and handed out as views of it.
   * @throws {@link ProtocolError} when the bytes break a framing rule
   */
  push(chunk: Buffer): void {
    const length = chunk.length;
    let pos = 0;
    while (pos < length && !this.stopped) {
      if (this.state === State.Payload) {
        pos = this.readPayload(chunk, pos);
      } else if (this.state === State.Header && length - pos >= 2) {
        pos = this.readHeaderInPlace(chunk, pos);
      } else {
        pos = this.readHeaderStashed(chunk, pos);
      }
    }
  }

  /** Fast path: decode a header that starts at `pos`, reading straight from the chunk when it is all there. */
  private readHeaderInPlace(chunk: Buffer, pos: number): number {
    const b0 = chunk[pos]!;
    const b1 = chunk[pos + 1]!;
    const size = this.checkFirstBytes(b0, b1);
    if (chunk.length - pos < size) return this.readHeaderStashed(chunk, pos);
    this.decodeHeader(chunk, pos, b0, b1);
    return this.headerDone(pos + size);
  }

  /** Slow path: collect header bytes across chunks, checking each rule as soon as its byte arrives. */
  private readHeaderStashed(chunk: Buffer, pos: number): number {
    if (this.state === State.Header) {
      this.headerHave = 0;
      this.state = State.PartialHeader;
      this.headerBytes ??= Buffer.allocUnsafe(MAX_HEADER_SIZE);
    }
    const stash = this.headerBytes!;
    if (this.headerHave === 0) {
      stash[0] = chunk[pos++]!;
      this.headerHave = 1;
      this.checkFirstByte(stash[0]!);
      if (pos === chunk.length) return pos;
    }
    if (this.headerHave === 1) {
      stash[1] = chunk[pos++]!;
      this.headerHave = 2;
    }
    const size = this.checkFirstBytes(stash[0]!, stash[1]!);
    const take = Math.min(size - this.headerHave, chunk.length - pos);
    chunk.copy(stash, this.headerHave, pos, pos + take);
    this.headerHave += take;
    pos += take;
    // A 64-bit length with its top bit set can be refused as soon as that byte is here.
    if ((stash[1]! & 0x7f) === 127 && this.headerHave > 2 && stash[2]! & 0x80) {
      throw new ProtocolError('length-top-bit', 'the most significant bit of a 64-bit length must be 0');
    }
    if (this.headerHave < size) return pos;
    this.decodeHeader(stash, 0, stash[0]!, stash[1]!);
    // Most connections never see a header split across reads: keep no stash between them.
    this.headerBytes = null;
    return this.headerDone(pos);
  }

  /** Rules that the first byte alone decides: RSV bits, reserved opcodes, fragment order. */
  private checkFirstByte(b0: number): void {
    const rsv = b0 & (RSV1_BIT | RSV2_BIT | RSV3_BIT);
    if ((rsv & ~this.allowedRsv) !== 0) {
      throw new ProtocolError('reserved-bits', 'reserved bits set that no extension negotiated');
    }
    const opcode = b0 & 0x0f;
    if (!isKnownOpcode(opcode)) {
      throw new ProtocolError('reserved-opcode', `reserved opcode 0x${opcode.toString(16)}`);
    }
    const fin = (b0 & FIN_BIT) !== 0;
    if (isControlOpcode(opcode)) {
      if (!fin) {
        throw new ProtocolError('fragmented-control-frame', 'control frames must not be fragmented');
      }
    } else if (opcode === Opcode.Continuation) {
      if (!this.fragmented) {
        throw new ProtocolError(
          'unexpected-continuation',
          'continuation frame without a message to continue',
        );
      }
    } else if (this.fragmented) {
      throw new ProtocolError('expected-continuation', 'new data frame inside a fragmented message');
    }
  }

  /** Check the rules of the first two bytes and return the full header size. */
  private checkFirstBytes(b0: number, b1: number): number {
    this.checkFirstByte(b0);
    const masked = (b1 & MASK_BIT) !== 0;
    if (masked !== this.requireMask) {
      throw this.requireMask
        ? new ProtocolError('unmasked-client-frame', 'a client frame must be masked')
        : new ProtocolError('masked-server-frame', 'a server frame must not be masked');
    }
    const length7 = b1 & 0x7f;
    if (isControlOpcode(b0 & 0x0f) && length7 > MAX_CONTROL_PAYLOAD) {
      throw new ProtocolError('control-frame-too-long', 'control frame payload longer than 125 bytes');
    }
    const base = length7 < 126 ? 2 : length7 === 126 ? 4 : 10;
    return masked ? base + 4 : base;
  }

  /** Fill `this.header` from a complete header at `source[offset]`. */
  private decodeHeader(source: Buffer, offset: number, b0: number, b1: number): void {
    const header = this.header;
    header.fin = (b0 & FIN_BIT) !== 0;
    header.rsv = b0 & (RSV1_BIT | RSV2_BIT | RSV3_BIT);
    header.opcode = b0 & 0x0f;
    header.masked = (b1 & MASK_BIT) !== 0;
    let length = b1 & 0x7f;
    let pos = offset + 2;
    if (length === 126) {
      length = (source[pos]! << 8) | source[pos + 1]!;
      pos += 2;
    } else if (length === 127) {
      const high = source.readUInt32BE(pos);
      if (high & 0x80000000) {
        throw new ProtocolError('length-top-bit', 'the most significant bit of a 64-bit length must be 0');
      }
      if (high > 0x1fffff) {
        // Beyond Number.MAX_SAFE_INTEGER: no limit could ever allow it.
        throw new ProtocolError('message-too-big', 'frame length beyond 2^53 bytes');
      }
      length = high * 0x100000000 + source.readUInt32BE(pos + 4);
      pos += 8;
    }
    header.length = length;
    if (header.masked) {
      this.maskWord = source.readUInt32BE(pos);
      MASK_KEY.writeUInt32BE(this.maskWord, 0);
    }
  }

  /** The header is decoded: update fragment state, tell the handler, and go to the payload. */
  private headerDone(pos: number): number {
    const header = this.header;
    if (!isControlOpcode(header.opcode)) this.fragmented = !header.fin;
    this.handler.onFrameHeader(header);
    if (header.length === 0) {
      this.state = State.Header;
      if (!this.stopped) this.handler.onFramePayload(EMPTY, true);
    } else {
      this.state = State.Payload;
      this.remaining = header.length;
      this.delivered = 0;
    }
    return pos;
  }

  private readPayload(chunk: Buffer, pos: number): number {
    const take = Math.min(this.remaining, chunk.length - pos);
    const part = chunk.subarray(pos, pos + take);
    const offset = this.delivered;
    this.remaining -= take;
    this.delivered += take;
    const last = this.remaining === 0;
    if (last) this.state = State.Header;
    if (this.header.masked) {
      // MASK_KEY is shared by every parser: refill it with this frame's key before use.
      MASK_KEY.writeUInt32BE(this.maskWord, 0);
      if (this.handler.onMaskedFramePayload?.(part, last, MASK_KEY, offset)) return pos + take;
      unmask(part, MASK_KEY, offset);
    }
    this.handler.onFramePayload(part, last);
    return pos + take;
  }
}
