/**
 * Build one frame from its fields, with the core's header writer and masking, for
 * tests and hand-made interop cases.
 */
import {
  encodeFrameHeader,
  isControlOpcode,
  isKnownOpcode,
  maskInto,
  Opcode,
  RSV1_BIT,
} from '@sockeye/sockeye/protocol';

/** Fields that cannot make a valid frame; the message says which rule. */
export class FrameEncodeError extends Error {
  override readonly name = 'FrameEncodeError';
}

/** What {@link encodeFrame} builds. */
export interface FrameFields {
  /** The opcode (one RFC 6455 defines: 0x0-0x2, 0x8-0xA). */
  opcode: number;
  /** The payload, before masking. */
  payload: Uint8Array;
  /** FIN. @defaultValue true */
  fin?: boolean;
  /** RSV1 (permessage-deflate's "compressed" bit). @defaultValue false */
  rsv1?: boolean;
  /** A 4-byte masking key (a client's frame); omit for an unmasked (server) frame. */
  maskKey?: Uint8Array;
}

/** Names accepted for `--opcode`. */
export const OPCODES_BY_NAME: Readonly<Record<string, number>> = {
  continuation: Opcode.Continuation,
  text: Opcode.Text,
  binary: Opcode.Binary,
  close: Opcode.Close,
  ping: Opcode.Ping,
  pong: Opcode.Pong,
};

/**
 * Read an opcode given as a name (`text`, `ping`, ...) or a number (`1`, `0x9`).
 * @throws {@link FrameEncodeError} for an unknown name or a reserved opcode
 */
export function parseOpcode(text: string): number {
  const byName = OPCODES_BY_NAME[text.toLowerCase()];
  if (byName !== undefined) return byName;
  if (!/^(0x[0-9a-f]+|[0-9]+)$/i.test(text)) {
    throw new FrameEncodeError(
      `unknown opcode ${JSON.stringify(text)}: use ${Object.keys(OPCODES_BY_NAME).join(', ')} or a number`,
    );
  }
  const opcode = Number(text);
  if (!isKnownOpcode(opcode)) {
    throw new FrameEncodeError(`opcode ${text} is reserved: RFC 6455 defines 0x0-0x2 and 0x8-0xA`);
  }
  return opcode;
}

/** The body of a close frame: the 2-byte code, then the UTF-8 reason. */
export function closePayload(code: number, reason: string): Buffer {
  if (!Number.isInteger(code) || code < 0 || code > 0xffff) {
    throw new FrameEncodeError(`close code ${code} does not fit in 2 bytes`);
  }
  const reasonBytes = Buffer.from(reason, 'utf8');
  const payload = Buffer.allocUnsafe(2 + reasonBytes.length);
  payload.writeUInt16BE(code, 0);
  reasonBytes.copy(payload, 2);
  return payload;
}

/**
 * Encode one frame.
 * @throws {@link FrameEncodeError} for a reserved opcode, a fragmented or oversized control frame, or a key that is not 4 bytes
 */
export function encodeFrame(fields: FrameFields): Buffer {
  const { opcode, payload } = fields;
  const fin = fields.fin ?? true;
  if (!isKnownOpcode(opcode)) throw new FrameEncodeError(`opcode 0x${opcode.toString(16)} is reserved`);
  if (isControlOpcode(opcode) && !fin) {
    throw new FrameEncodeError('a control frame must not be fragmented (RFC 6455 section 5.5)');
  }
  if (isControlOpcode(opcode) && payload.length > 125) {
    throw new FrameEncodeError(
      `a control frame payload is at most 125 bytes (RFC 6455 section 5.5), this one is ${payload.length}`,
    );
  }
  if (fields.maskKey !== undefined && fields.maskKey.length !== 4) {
    throw new FrameEncodeError(`a masking key is 4 bytes, not ${fields.maskKey.length}`);
  }
  const header = encodeFrameHeader({
    opcode,
    fin,
    rsv: fields.rsv1 ? RSV1_BIT : 0,
    length: payload.length,
    ...(fields.maskKey === undefined ? {} : { maskKey: fields.maskKey }),
  });
  const frame = Buffer.allocUnsafe(header.length + payload.length);
  header.copy(frame, 0);
  if (fields.maskKey === undefined) frame.set(payload, header.length);
  else maskInto(payload, fields.maskKey, frame, header.length);
  return frame;
}
