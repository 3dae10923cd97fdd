/** Helpers for the permessage-deflate tests: a recording handler and connection pairs. */
import {
  type CloseInfo,
  Connection,
  type ConnectionHandler,
  type ConnectionOptions,
  type Role,
} from '../../src/protocol/index.js';

/** What a connection delivered. */
export interface Recorded {
  messages: Array<{ data: Buffer; isText: boolean }>;
  closes: CloseInfo[];
}

/** A handler that records every message and close. */
export function recorder(): ConnectionHandler & Recorded {
  const messages: Recorded['messages'] = [];
  const closes: CloseInfo[] = [];
  return {
    messages,
    closes,
    onMessage(data, isText) {
      messages.push({ data: Buffer.from(data), isText });
    },
    onPing() {},
    onPong() {},
    onClose(info) {
      closes.push(info);
    },
    onOutput() {},
  };
}

/** A connection with a recorder. */
export function open(
  role: Role,
  options: Omit<ConnectionOptions, 'role'> = {},
): { connection: Connection; seen: Recorded } {
  const seen = recorder();
  return { connection: new Connection(seen, { role, ...options }), seen };
}

/** Move every queued byte from `from` to `to`, optionally split into pieces of `split` bytes. */
export function pump(from: Connection, to: Connection, split = 0): number {
  let moved = 0;
  for (const chunk of from.takeOutput()) {
    const bytes = Buffer.from(chunk);
    moved += bytes.length;
    if (split <= 0) {
      to.receive(bytes);
    } else {
      for (let at = 0; at < bytes.length; at += split)
        to.receive(Buffer.from(bytes.subarray(at, at + split)));
    }
  }
  return moved;
}

/** The frames in a byte stream written by a connection: first byte and (unmasked) payload of each. */
export function frames(bytes: Buffer): Array<{ b0: number; payload: Buffer }> {
  const out: Array<{ b0: number; payload: Buffer }> = [];
  let at = 0;
  while (at < bytes.length) {
    const b0 = bytes[at]!;
    const b1 = bytes[at + 1]!;
    let length = b1 & 0x7f;
    let pos = at + 2;
    if (length === 126) {
      length = bytes.readUInt16BE(pos);
      pos += 2;
    } else if (length === 127) {
      length = Number(bytes.readBigUInt64BE(pos));
      pos += 8;
    }
    let key: Buffer | null = null;
    if (b1 & 0x80) {
      key = bytes.subarray(pos, pos + 4);
      pos += 4;
    }
    const payload = Buffer.from(bytes.subarray(pos, pos + length));
    if (key !== null) for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ key[i & 3]!;
    out.push({ b0, payload });
    at = pos + length;
  }
  return out;
}
