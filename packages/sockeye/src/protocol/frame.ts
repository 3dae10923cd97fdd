/**
 * The frame header (RFC 6455 section 5.2):
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-------+-+-------------+-------------------------------+
 * |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
 * |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
 * |N|V|V|V|       |S|             |   (if payload len==126/127)   |
 * | |1|2|3|       |K|             |                               |
 * +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
 * |     Extended payload length continued, if payload len == 127  |
 * + - - - - - - - - - - - - - - - +-------------------------------+
 * |                               |Masking-key, if MASK set to 1  |
 * +-------------------------------+-------------------------------+
 * ```
 */

/** Bit of the first header byte that marks the final frame of a message. */
export const FIN_BIT = 0x80;
/** RSV1: set by permessage-deflate on the first frame of a compressed message. */
export const RSV1_BIT = 0x40;
/** RSV2 (no extension sockeye knows uses it). */
export const RSV2_BIT = 0x20;
/** RSV3 (no extension sockeye knows uses it). */
export const RSV3_BIT = 0x10;
/** Bit of the second header byte that says a masking key follows. */
export const MASK_BIT = 0x80;

/** The largest frame header: 2 bytes, a 64-bit length, a 4-byte masking key. */
export const MAX_HEADER_SIZE = 14;

/** A decoded frame header. The parser reuses one object per connection: copy what you keep. */
export interface FrameHeader {
  /** This is the last frame of its message. */
  fin: boolean;
  /** The RSV1-3 bits as they sit in the first byte (`RSV1_BIT | RSV2_BIT | RSV3_BIT` mask). */
  rsv: number;
  /** The opcode (0x0-0xF; the parser rejects reserved ones). */
  opcode: number;
  /** Whether the payload is masked. */
  masked: boolean;
  /** Payload length in bytes. */
  length: number;
  /** The masking key (4 bytes) when `masked`; its contents change with the next frame. */
  maskKey: Uint8Array;
}

/** How many bytes the header of a frame with this payload length takes. */
export function headerSize(payloadLength: number, masked: boolean): number {
  const base = payloadLength < 126 ? 2 : payloadLength < 0x10000 ? 4 : 10;
  return masked ? base + 4 : base;
}

/**
 * Write a frame header into `target` at `offset` and return its size. `firstByte` is
 * FIN, RSV and opcode already combined (e.g. `FIN_BIT | Opcode.Text`). When `maskKey` is
 * given, the MASK bit is set and the key follows the length: the 4 bytes at
 * `maskKey[maskKeyAt]` (so a key can be read from a pool without a view of it).
 */
export function writeFrameHeader(
  target: Uint8Array,
  offset: number,
  firstByte: number,
  payloadLength: number,
  maskKey?: Uint8Array,
  maskKeyAt = 0,
): number {
  const maskBit = maskKey === undefined ? 0 : MASK_BIT;
  let pos = offset;
  target[pos++] = firstByte;
  if (payloadLength < 126) {
    target[pos++] = maskBit | payloadLength;
  } else if (payloadLength < 0x10000) {
    target[pos++] = maskBit | 126;
    target[pos++] = payloadLength >>> 8;
    target[pos++] = payloadLength & 0xff;
  } else {
    target[pos++] = maskBit | 127;
    const high = Math.floor(payloadLength / 0x100000000);
    const low = payloadLength >>> 0;
    target[pos++] = high >>> 24;
    target[pos++] = (high >>> 16) & 0xff;
    target[pos++] = (high >>> 8) & 0xff;
    target[pos++] = high & 0xff;
    target[pos++] = low >>> 24;
    target[pos++] = (low >>> 16) & 0xff;
    target[pos++] = (low >>> 8) & 0xff;
    target[pos++] = low & 0xff;
  }
  if (maskKey !== undefined) {
    target[pos++] = maskKey[maskKeyAt]!;
    target[pos++] = maskKey[maskKeyAt + 1]!;
    target[pos++] = maskKey[maskKeyAt + 2]!;
    target[pos++] = maskKey[maskKeyAt + 3]!;
  }
  return pos - offset;
}

/** Options of {@link encodeFrameHeader}. */
export interface EncodeHeaderOptions {
  /** Last frame of the message. @defaultValue true */
  fin?: boolean;
  /** RSV bits as in the first byte. @defaultValue 0 */
  rsv?: number;
  /** The opcode. */
  opcode: number;
  /** Payload length in bytes. */
  length: number;
  /** A 4-byte masking key; omit for an unmasked frame. */
  maskKey?: Uint8Array;
}

/** Build a frame header as a new buffer (for tools and tests; the hot path writes in place). */
export function encodeFrameHeader(options: EncodeHeaderOptions): Buffer {
  const masked = options.maskKey !== undefined;
  const header = Buffer.allocUnsafe(headerSize(options.length, masked));
  const firstByte = (options.fin === false ? 0 : FIN_BIT) | (options.rsv ?? 0) | options.opcode;
  writeFrameHeader(header, 0, firstByte, options.length, options.maskKey);
  return header;
}

/**
 * Build a whole unmasked frame, header and payload, in one new buffer: what a server
 * queues on many connections at once (see `OutputQueue.pushFrame` and
 * `PreparedMessage.frame`). `firstByte` is FIN, RSV and opcode combined.
 */
export function buildFrame(firstByte: number, payload: Uint8Array): Buffer {
  const size = headerSize(payload.length, false);
  const frame = Buffer.allocUnsafe(size + payload.length);
  writeFrameHeader(frame, 0, firstByte, payload.length);
  frame.set(payload, size);
  return frame;
}
