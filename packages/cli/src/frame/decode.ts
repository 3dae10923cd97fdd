/**
 * A lenient frame decoder for people: it reads any sequence of complete frames and
 * reports what each one says, including what RFC 6455 forbids (a reserved opcode, a
 * fragmented ping), instead of refusing it the way a connection's `FrameParser` must.
 * It refuses only bytes that are not a frame at all: a truncated header or payload, or
 * a 64-bit length with its top bit set.
 */
import { isUtf8 } from 'node:buffer';
import {
  FIN_BIT,
  isControlOpcode,
  isKnownOpcode,
  isValidWireCloseCode,
  opcodeName as knownOpcodeName,
  MASK_BIT,
  maskSlow,
  Opcode,
  RSV1_BIT,
  RSV2_BIT,
  RSV3_BIT,
} from '@sockeye/sockeye/protocol';

/** Bytes that cannot be decoded as frames; `offset` is where the problem starts. */
export class FrameDecodeError extends Error {
  override readonly name = 'FrameDecodeError';
  constructor(
    message: string,
    /** Byte offset in the input of the frame that failed. */
    readonly offset: number,
  ) {
    super(message);
  }
}

/** The code and reason of a close frame's payload (RFC 6455 section 5.5.1). */
export interface ClosePayload {
  /** The status code, or null for an empty close payload. */
  code: number | null;
  /** The reason (UTF-8), empty when absent. */
  reason: string;
  /** Why the payload breaks RFC 6455 (a 1-byte body, a code never sent on the wire, a reason that is not UTF-8), or null. */
  problem: string | null;
}

/** One decoded frame. */
export interface DecodedFrame {
  /** Where the frame starts in the input. */
  offset: number;
  /** Header size in bytes. */
  headerSize: number;
  /** Header and payload size in bytes. */
  size: number;
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  /** The opcode nibble (0x0-0xF). */
  opcode: number;
  /** Whether MASK is set. */
  masked: boolean;
  /** The payload length the header declares. */
  payloadLength: number;
  /** The masking key when masked. */
  maskKey: Buffer | null;
  /** The payload as it crossed the wire (masked) when masked. */
  maskedPayload: Buffer | null;
  /** The payload after unmasking (the payload itself when not masked). */
  payload: Buffer;
  /** The payload as text when it is valid UTF-8, else null. */
  text: string | null;
  /** The parsed body of a close frame, else null. */
  close: ClosePayload | null;
  /** Rules of RFC 6455 this frame breaks on its own (reserved opcode, control frame rules). */
  violations: string[];
}

/** `text`, `binary`, ..., or `reserved control`/`reserved data` for the opcodes RFC 6455 leaves unassigned. */
export function opcodeName(opcode: number): string {
  return knownOpcodeName(opcode) ?? (isControlOpcode(opcode) ? 'reserved control' : 'reserved data');
}

/** Parse a close frame's payload (already unmasked). */
export function parseClosePayload(payload: Uint8Array): ClosePayload {
  if (payload.length === 0) return { code: null, reason: '', problem: null };
  if (payload.length === 1) {
    return { code: null, reason: '', problem: 'a 1-byte close payload: the status code takes 2 bytes' };
  }
  const code = (payload[0]! << 8) | payload[1]!;
  const reasonBytes = payload.subarray(2);
  const validText = isUtf8(reasonBytes);
  const reason = Buffer.from(reasonBytes).toString('utf8');
  let problem: string | null = null;
  if (!isValidWireCloseCode(code)) problem = `close code ${code} must never be sent on the wire`;
  else if (!validText) problem = 'the close reason is not valid UTF-8';
  return { code, reason, problem };
}

/** Decode the frame that starts at `offset` of `input`. */
export function decodeFrameAt(input: Uint8Array, offset: number): DecodedFrame {
  const available = input.length - offset;
  if (available < 2) {
    throw new FrameDecodeError(
      `incomplete frame header at byte ${offset}: ${available} byte given, at least 2 needed`,
      offset,
    );
  }
  const b0 = input[offset]!;
  const b1 = input[offset + 1]!;
  const masked = (b1 & MASK_BIT) !== 0;
  const length7 = b1 & 0x7f;
  const lengthBytes = length7 < 126 ? 0 : length7 === 126 ? 2 : 8;
  const needed = 2 + lengthBytes + (masked ? 4 : 0);
  if (available < needed) {
    throw new FrameDecodeError(
      `incomplete frame header at byte ${offset}: ${available} bytes given, this header takes ${needed}`,
      offset,
    );
  }
  let payloadLength = length7;
  if (lengthBytes === 2) {
    payloadLength = (input[offset + 2]! << 8) | input[offset + 3]!;
  } else if (lengthBytes === 8) {
    if (input[offset + 2]! & 0x80) {
      throw new FrameDecodeError(
        `bad frame at byte ${offset}: the most significant bit of a 64-bit length must be 0`,
        offset,
      );
    }
    const high = Buffer.from(input.subarray(offset + 2, offset + 6)).readUInt32BE(0);
    const low = Buffer.from(input.subarray(offset + 6, offset + 10)).readUInt32BE(0);
    payloadLength = high * 0x100000000 + low;
  }
  const size = needed + payloadLength;
  if (available < size) {
    throw new FrameDecodeError(
      `incomplete frame at byte ${offset}: the header declares ${payloadLength} payload bytes, ` +
        `${available - needed} given`,
      offset,
    );
  }
  const maskKey = masked ? Buffer.from(input.subarray(offset + needed - 4, offset + needed)) : null;
  const wirePayload = Buffer.from(input.subarray(offset + needed, offset + size));
  const payload = Buffer.from(wirePayload);
  if (maskKey !== null) maskSlow(payload, maskKey);

  const opcode = b0 & 0x0f;
  const fin = (b0 & FIN_BIT) !== 0;
  const violations: string[] = [];
  if (!isKnownOpcode(opcode)) violations.push(`opcode 0x${opcode.toString(16)} is reserved`);
  if (isControlOpcode(opcode) && !fin) violations.push('a control frame must not be fragmented (FIN is 0)');
  if (isControlOpcode(opcode) && payloadLength > 125) {
    violations.push('a control frame payload is at most 125 bytes');
  }
  const minimal = payloadLength < 126 ? 0 : payloadLength < 0x10000 ? 2 : 8;
  if (lengthBytes !== minimal) violations.push('the length is not in its shortest form');
  const close = opcode === Opcode.Close ? parseClosePayload(payload) : null;
  if (close?.problem) violations.push(close.problem);
  return {
    offset,
    headerSize: needed,
    size,
    fin,
    rsv1: (b0 & RSV1_BIT) !== 0,
    rsv2: (b0 & RSV2_BIT) !== 0,
    rsv3: (b0 & RSV3_BIT) !== 0,
    opcode,
    masked,
    payloadLength,
    maskKey,
    maskedPayload: masked ? wirePayload : null,
    payload,
    text: isUtf8(payload) ? payload.toString('utf8') : null,
    close,
    violations,
  };
}

/**
 * Decode `input` as one or more complete frames, back to back.
 * @throws {@link FrameDecodeError} when the bytes end inside a frame or a length is invalid
 */
export function decodeFrames(input: Uint8Array): DecodedFrame[] {
  if (input.length === 0) throw new FrameDecodeError('no bytes to decode', 0);
  const frames: DecodedFrame[] = [];
  let offset = 0;
  while (offset < input.length) {
    const frame = decodeFrameAt(input, offset);
    frames.push(frame);
    offset += frame.size;
  }
  return frames;
}
