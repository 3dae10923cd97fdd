/**
 * Test helpers for the protocol core: build frames byte by byte (independently of
 * OutputQueue, so serializer and parser are checked against each other), record what a
 * Connection or a FrameParser reports, and decode what a Connection wrote.
 */
import {
  type CloseInfo,
  Connection,
  type ConnectionOptions,
  encodeFrameHeader,
  type FrameHandler,
  type FrameHeader,
  FrameParser,
  maskSlow,
  type Role,
} from '../../src/protocol/index.js';

/** A fixed masking key, so tests can write expected bytes. */
export const KEY = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** Options of {@link frame}. */
export interface FrameSpec {
  fin?: boolean;
  rsv?: number;
  /** Mask with this key (a Buffer of 4) or with {@link KEY} when `true`. */
  mask?: boolean | Uint8Array;
}

/** One frame as bytes: header by encodeFrameHeader, payload masked by the reference maskSlow. */
export function frame(opcode: number, payload: Uint8Array | string = '', spec: FrameSpec = {}): Buffer {
  const body = Buffer.from(typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload);
  const key = spec.mask === true ? KEY : spec.mask === false ? undefined : spec.mask;
  const header = encodeFrameHeader({
    fin: spec.fin ?? true,
    rsv: spec.rsv ?? 0,
    opcode,
    length: body.length,
    ...(key === undefined ? {} : { maskKey: key }),
  });
  if (key !== undefined) maskSlow(body, key);
  return Buffer.concat([header, body]);
}

/** A frame as a peer of `role` would send it to us: masked when we are the server. */
export function peerFrame(role: Role, opcode: number, payload: Uint8Array | string = '', fin = true): Buffer {
  return frame(opcode, payload, { fin, mask: role === 'server' });
}

/** A close payload: the code in network order, then the reason. */
export function closePayload(code: number, reason: Uint8Array | string = ''): Buffer {
  const reasonBytes = typeof reason === 'string' ? Buffer.from(reason, 'utf8') : Buffer.from(reason);
  const payload = Buffer.alloc(2 + reasonBytes.length);
  payload.writeUInt16BE(code, 0);
  reasonBytes.copy(payload, 2);
  return payload;
}

/** Everything a Connection reported, in order. */
export type Event =
  | { type: 'message'; data: Buffer; isText: boolean }
  | { type: 'ping'; data: Buffer }
  | { type: 'pong'; data: Buffer }
  | { type: 'close'; info: CloseInfo }
  | { type: 'output' };

/** A Connection with a handler that records every event (payloads copied). */
export class Recorder {
  readonly events: Event[] = [];
  readonly connection: Connection;

  constructor(options: ConnectionOptions) {
    this.connection = new Connection(
      {
        onMessage: (data, isText) => this.events.push({ type: 'message', data: Buffer.from(data), isText }),
        onPing: (data) => this.events.push({ type: 'ping', data: Buffer.from(data) }),
        onPong: (data) => this.events.push({ type: 'pong', data: Buffer.from(data) }),
        onClose: (info) => this.events.push({ type: 'close', info }),
        onOutput: () => this.events.push({ type: 'output' }),
      },
      options,
    );
  }

  /** Feed bytes (copied, so the caller's buffer survives the in-place unmasking). */
  receive(...chunks: Uint8Array[]): this {
    for (const chunk of chunks) this.connection.receive(Buffer.from(chunk));
    return this;
  }

  /** The messages so far, as [text-or-hex, isText]. */
  messages(): Array<{ data: Buffer; isText: boolean }> {
    return this.events.flatMap((e) => (e.type === 'message' ? [{ data: e.data, isText: e.isText }] : []));
  }

  /** The close event's info, or undefined. */
  closed(): CloseInfo | undefined {
    for (const e of this.events) if (e.type === 'close') return e.info;
    return undefined;
  }

  /** How many times onClose fired. */
  closeCount(): number {
    return this.events.filter((e) => e.type === 'close').length;
  }

  /** Everything written so far, as one buffer. */
  output(): Buffer {
    return Buffer.concat(this.connection.takeOutput());
  }
}

/** A decoded frame, payload unmasked. */
export interface DecodedFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  maskKey: Buffer | null;
  payload: Buffer;
}

/**
 * Decode a byte stream into frames with a straightforward reader written for the tests
 * (not FrameParser), so the serializer is checked by an independent implementation.
 */
export function decodeFrames(bytes: Buffer): DecodedFrame[] {
  const frames: DecodedFrame[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const b0 = bytes[pos]!;
    const b1 = bytes[pos + 1]!;
    let length = b1 & 0x7f;
    pos += 2;
    if (length === 126) {
      length = bytes.readUInt16BE(pos);
      pos += 2;
    } else if (length === 127) {
      length = Number(bytes.readBigUInt64BE(pos));
      pos += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    let maskKey: Buffer | null = null;
    if (masked) {
      maskKey = Buffer.from(bytes.subarray(pos, pos + 4));
      pos += 4;
    }
    const payload = Buffer.from(bytes.subarray(pos, pos + length));
    if (payload.length !== length) throw new Error(`truncated frame: ${payload.length} of ${length}`);
    if (maskKey !== null) maskSlow(payload, maskKey);
    pos += length;
    frames.push({ fin: (b0 & 0x80) !== 0, rsv: b0 & 0x70, opcode: b0 & 0x0f, masked, maskKey, payload });
  }
  return frames;
}

/** What a FrameParser reported: headers (copied) and payload parts. */
export interface ParsedFrame {
  header: Omit<FrameHeader, 'maskKey'> & { maskKey: Buffer };
  payload: Buffer;
  parts: number;
}

/** A FrameParser that collects whole frames. */
export function collectingParser(role: Role, allowedRsv = 0): { parser: FrameParser; frames: ParsedFrame[] } {
  const frames: ParsedFrame[] = [];
  let current: ParsedFrame | null = null;
  let parts: Buffer[] = [];
  const handler: FrameHandler = {
    onFrameHeader(header) {
      current = {
        header: { ...header, maskKey: Buffer.from(header.maskKey) },
        payload: Buffer.alloc(0),
        parts: 0,
      };
      parts = [];
    },
    onFramePayload(data, last) {
      parts.push(Buffer.from(data));
      if (last && current !== null) {
        current.payload = Buffer.concat(parts);
        current.parts = parts.length;
        frames.push(current);
        current = null;
      }
    },
  };
  return { parser: new FrameParser(handler, { role, allowedRsv }), frames };
}

/** Run `fn` and return the sizes passed to Buffer.allocUnsafe meanwhile (how the core allocates message buffers). */
export function allocations(fn: () => void): number[] {
  const original = Buffer.allocUnsafe;
  const sizes: number[] = [];
  Buffer.allocUnsafe = (size: number) => {
    sizes.push(size);
    return original(size);
  };
  try {
    fn();
  } finally {
    Buffer.allocUnsafe = original;
  }
  return sizes;
}

/** Split `bytes` into chunks of `size` bytes (the last may be shorter). */
export function chunksOf(bytes: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(Buffer.from(bytes.subarray(i, i + size)));
  return chunks;
}

/**
 * Assert that the connection failed with `rule` and `closeCode`: onClose fired once with
 * the error, the state is closed, and the bytes written are exactly one close frame with
 * that code and the error message as reason (masked when we are the client).
 */
export function assertFailed(rec: Recorder, rule: string, closeCode: number): void {
  const info = rec.closed();
  if (info === undefined) throw new Error(`expected a failure (${rule}), got no close`);
  if (info.error === null) throw new Error(`expected a failure (${rule}), got a clean close ${info.code}`);
  if (info.error.rule !== rule || info.error.closeCode !== closeCode || info.code !== closeCode) {
    throw new Error(
      `expected ${rule}/${closeCode}, got ${info.error.rule}/${info.error.closeCode} (${info.error.message})`,
    );
  }
  if (rec.closeCount() !== 1) throw new Error('onClose fired more than once');
  if (rec.connection.state !== 'closed') throw new Error(`state ${rec.connection.state}`);
  if (info.reason !== info.error.message) throw new Error('the reason is not the error message');
  const out = rec.output();
  const expected = frame(0x8, closePayload(closeCode, info.reason));
  if (rec.connection.role === 'server') {
    if (!out.equals(expected))
      throw new Error(`wrote ${out.toString('hex')}, expected ${expected.toString('hex')}`);
  } else {
    const frames = decodeFrames(out);
    if (frames.length !== 1 || !frames[0]!.masked || frames[0]!.opcode !== 0x8)
      throw new Error('bad close frame');
    if (!frames[0]!.payload.equals(closePayload(closeCode, info.reason)))
      throw new Error('bad close payload');
  }
}

/**
 * `size` bytes from xorshift32 seeded with `seed`: deterministic, and nothing deflate can
 * shrink (stored blocks), so compressed output is larger than the input.
 */
export function noiseBytes(size: number, seed: number): Buffer {
  const data = Buffer.allocUnsafe(size);
  let x = seed | 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data[i] = x & 0xff;
  }
  return data;
}
