/**
 * Raw frame bytes to the inspector's {@link FrameRecord}s, on the sockeye core's own
 * `FrameParser` (header decoding, the framing rules, unmasking). The demo server feeds a
 * {@link FrameRecorder} a copy of every chunk it reads from the inspected socket (the
 * client's frames, still masked) and of every chunk it writes to it (its own frames).
 *
 * Node only (it uses `Buffer`); the browser gets the records as JSON.
 */
import { isUtf8 } from 'node:buffer';
import {
  type FrameHeader,
  FrameParser,
  HttpHeadParser,
  maskSlow,
  Opcode,
  opcodeName,
  type RequestHead,
  type ResponseHead,
  RSV1_BIT,
  RSV2_BIT,
  RSV3_BIT,
} from '@sockeye/sockeye/protocol';
import {
  type Direction,
  type FrameRecord,
  type HttpHeadRecord,
  MAX_SHOWN_BYTES,
} from '../shared/inspector.js';

/** Options of {@link FrameRecorder}. */
export interface FrameRecorderOptions {
  /** Whose frames these are: client-to-server frames must be masked, the others must not. */
  direction: Direction;
  /** RSV bits the connection allows (`RSV1_BIT` with permessage-deflate). @defaultValue 0 */
  allowedRsv?: number;
  /** Payload bytes kept per record. @defaultValue {@link MAX_SHOWN_BYTES} */
  maxShownBytes?: number;
  /** Numbers the records; share one counter between the two directions of a connection. */
  nextSeq?: () => number;
}

/**
 * Decodes one direction of a connection into {@link FrameRecord}s, incrementally: chunks
 * may split frames anywhere. Memory is bounded: at most `maxShownBytes` of each payload
 * are kept, whatever its length.
 */
export class FrameRecorder {
  private readonly parser: FrameParser;
  private readonly direction: Direction;
  private readonly maxShown: number;
  private readonly nextSeq: () => number;
  private readonly onRecord: (record: FrameRecord) => void;
  private current: {
    header: FrameHeader;
    key: Buffer;
    headerHex: string;
    shown: Buffer[];
    shownLength: number;
  } | null = null;
  /** Reads the same bytes as the parser, only to keep each header as it was sent. */
  private readonly headers = new HeaderCapture();

  /** @param onRecord - called with each frame once its last payload byte has arrived */
  constructor(options: FrameRecorderOptions, onRecord: (record: FrameRecord) => void) {
    this.direction = options.direction;
    this.maxShown = options.maxShownBytes ?? MAX_SHOWN_BYTES;
    let seq = 0;
    this.nextSeq = options.nextSeq ?? (() => ++seq);
    this.onRecord = onRecord;
    this.parser = new FrameParser(
      {
        onFrameHeader: (header) => {
          // The parser reuses its header object and key buffer: copy what the record needs.
          this.current = {
            header: { ...header },
            key: Buffer.from(header.maskKey),
            headerHex: this.headers.take(),
            shown: [],
            shownLength: 0,
          };
        },
        onFramePayload: (data, last) => this.payload(data, last),
      },
      {
        role: options.direction === 'client-to-server' ? 'server' : 'client',
        allowedRsv: options.allowedRsv ?? 0,
      },
    );
  }

  /** Change the allowed RSV bits (after permessage-deflate is negotiated). */
  setAllowedRsv(bits: number): void {
    this.parser.setAllowedRsv(bits);
  }

  /**
   * Feed bytes of this direction. The chunk is copied (the parser unmasks in place, and
   * the caller's bytes still have to reach the real connection).
   * @throws ProtocolError when the bytes break a framing rule (the real connection fails on them too)
   */
  push(chunk: Uint8Array): void {
    this.headers.push(chunk);
    this.parser.push(Buffer.from(chunk));
  }

  private payload(data: Buffer, last: boolean): void {
    const current = this.current!;
    const room = this.maxShown - current.shownLength;
    if (room > 0 && data.length > 0) {
      const part = Buffer.from(data.subarray(0, room));
      current.shown.push(part);
      current.shownLength += part.length;
    }
    if (!last) return;
    this.current = null;
    this.onRecord(
      toRecord(
        this.nextSeq(),
        this.direction,
        current.header,
        current.key,
        current.headerHex,
        Buffer.concat(current.shown),
      ),
    );
  }
}

/**
 * Splits a byte stream into frames only far enough to keep each header's bytes (the
 * parser decodes headers but does not hand back their encoding: a 16-bit length of 5 is
 * legal and must show as sent). Headers are queued until the parser reports them.
 * Memory: at most one partial header (14 bytes) plus the queue, which the parser drains
 * in the same `push`.
 */
class HeaderCapture {
  private partial: number[] = [];
  private payloadLeft = 0;
  private readonly done: string[] = [];

  push(chunk: Uint8Array): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.payloadLeft > 0) {
        const skip = Math.min(this.payloadLeft, chunk.length - offset);
        this.payloadLeft -= skip;
        offset += skip;
        continue;
      }
      this.partial.push(chunk[offset++]!);
      const size = this.headerSize();
      if (size === null || this.partial.length < size) continue;
      const header = this.partial;
      const length7 = header[1]! & 0x7f;
      let length = length7;
      if (length7 >= 126) {
        length = 0;
        for (let i = 2; i < (length7 === 126 ? 4 : 10); i++) length = length * 256 + header[i]!;
      }
      this.done.push(Buffer.from(header).toString('hex'));
      this.partial = [];
      this.payloadLeft = length;
    }
  }

  /** The oldest complete header not yet taken, as hex. */
  take(): string {
    return this.done.shift() ?? '';
  }

  private headerSize(): number | null {
    if (this.partial.length < 2) return null;
    const second = this.partial[1]!;
    const length7 = second & 0x7f;
    return 2 + (length7 === 126 ? 2 : length7 === 127 ? 8 : 0) + (second & 0x80 ? 4 : 0);
  }
}

/** The longest prefix of `bytes` that is valid UTF-8 when the end cuts a character, or null. */
function textOf(bytes: Buffer, complete: boolean): string | null {
  if (isUtf8(bytes)) return bytes.toString('utf8');
  if (complete) return null;
  // A shown prefix may end inside a character (at most 3 bytes of it).
  for (let cut = 1; cut <= 3 && cut < bytes.length; cut++) {
    const prefix = bytes.subarray(0, bytes.length - cut);
    if (isUtf8(prefix)) return prefix.toString('utf8');
  }
  return null;
}

function toRecord(
  seq: number,
  direction: Direction,
  header: FrameHeader,
  key: Buffer,
  headerHex: string,
  payload: Buffer,
): FrameRecord {
  const complete = payload.length === header.length;
  let masked: Buffer | null = null;
  if (header.masked) {
    masked = Buffer.from(payload);
    maskSlow(masked, key); // masking is its own inverse: the bytes as they crossed the wire
  }
  const record: FrameRecord = {
    seq,
    direction,
    fin: header.fin,
    rsv1: (header.rsv & RSV1_BIT) !== 0,
    rsv2: (header.rsv & RSV2_BIT) !== 0,
    rsv3: (header.rsv & RSV3_BIT) !== 0,
    opcode: header.opcode,
    opcodeName: opcodeName(header.opcode) ?? 'reserved',
    masked: header.masked,
    headerHex,
    payloadLength: header.length,
    shownBytes: payload.length,
    maskKeyHex: header.masked ? key.toString('hex') : null,
    maskedHex: masked === null ? null : masked.toString('hex'),
    payloadHex: payload.toString('hex'),
    payloadText: textOf(payload, complete),
  };
  if (header.opcode === Opcode.Close) {
    record.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : null;
    record.closeReason = payload.length > 2 ? payload.subarray(2).toString('utf8') : '';
  }
  return record;
}

/** Whether `bytes` is a whole number of frames, by walking their headers (length encoding as sent). */
function endsOnFrameBoundary(bytes: Uint8Array): boolean {
  let offset = 0;
  while (offset + 2 <= bytes.length) {
    const length7 = bytes[offset + 1]! & 0x7f;
    const lengthBytes = length7 < 126 ? 0 : length7 === 126 ? 2 : 8;
    const header = 2 + lengthBytes + (bytes[offset + 1]! & 0x80 ? 4 : 0);
    if (offset + header > bytes.length) return false;
    let length = length7;
    if (lengthBytes > 0) {
      length = 0;
      for (let i = 0; i < lengthBytes; i++) length = length * 256 + bytes[offset + 2 + i]!;
    }
    offset += header + length;
  }
  return offset === bytes.length;
}

/**
 * Records for `bytes` holding complete frames of one direction (a convenience over
 * {@link FrameRecorder} for tests and tools).
 * @throws Error when the bytes end inside a frame; ProtocolError when they break a framing rule
 */
export function recordFrames(bytes: Uint8Array, options: FrameRecorderOptions): FrameRecord[] {
  if (!endsOnFrameBoundary(bytes)) throw new Error('the bytes end inside a frame');
  const records: FrameRecord[] = [];
  new FrameRecorder(options, (record) => records.push(record)).push(bytes);
  return records;
}

/**
 * An HTTP head (request or response, up to and including the blank line) as the
 * inspector shows it: the start line and the fields in order with their case. The head
 * is first checked by the core's bounded `HttpHeadParser`.
 * @throws HandshakeError (400, 431) when the head is malformed or too large
 */
export function recordHead(head: Uint8Array | string, kind: 'request' | 'response'): HttpHeadRecord {
  const bytes = typeof head === 'string' ? Buffer.from(head, 'latin1') : Buffer.from(head);
  const parser =
    kind === 'request'
      ? new HttpHeadParser<RequestHead>('request')
      : new HttpHeadParser<ResponseHead>('response');
  const parsed = parser.push(bytes);
  if (parsed === null) throw new Error('the HTTP head is incomplete (no blank line)');
  const text = bytes.subarray(0, bytes.length - parsed.rest.length).toString('latin1');
  const [startLine = '', ...lines] = text.split('\r\n').filter((line) => line !== '');
  const headers = lines.map((line): [string, string] => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon), line.slice(colon + 1).trim()];
  });
  return { startLine, headers };
}
