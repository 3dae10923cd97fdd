/**
 * The frame inspector's feed: the JSON messages the demo server sends to the inspector
 * page over its second WebSocket, describing every frame of the page's first one.
 *
 * This module is shared by the server and the browser bundle, so it uses nothing from
 * Node (no `Buffer`): hex strings carry the bytes.
 *
 * The flow:
 * 1. The page opens the feed at {@link INSPECTOR_FEED_PATH}; the server answers with a
 *    {@link SessionMessage} carrying a session id.
 * 2. The page opens the inspected connection at {@link INSPECTED_ECHO_PATH} with
 *    `?session=<id>`. The server echoes on it as the echo page's socket does, and sends on
 *    the feed a {@link HandshakeMessage}, then a {@link FrameMessage} for every frame in
 *    either direction (the client's bytes as received, still masked), then an
 *    {@link EndMessage} when the inspected connection closes.
 * @packageDocumentation
 */

import { ECHO_PATH } from './routes.js';

export { INSPECTOR_FEED_PATH } from './routes.js';
/** Path of the inspected (echo) socket; add `?session=<id>`. */
export const INSPECTED_ECHO_PATH = ECHO_PATH;
/**
 * Payload bytes the server puts in a frame record. Larger frames are shown in part:
 * `shownBytes` says how many, `payloadLength` the real size. This bounds the feed's
 * messages whatever the page sends.
 */
export const MAX_SHOWN_BYTES = 1024;

/** Who sent the frame. */
export type Direction = 'client-to-server' | 'server-to-client';

/** One frame as it crossed the wire. Byte fields are lower-case hex without separators. */
export interface FrameRecord {
  /** Position of the frame on its connection, both directions counted, from 1. */
  seq: number;
  /** Who sent it. */
  direction: Direction;
  /** FIN: the last frame of its message. */
  fin: boolean;
  /** RSV1: compressed (permessage-deflate). */
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  /** The opcode nibble. */
  opcode: number;
  /** `text`, `binary`, `continuation`, `close`, `ping` or `pong`. */
  opcodeName: string;
  /** MASK: set on every client-to-server frame. */
  masked: boolean;
  /**
   * The frame header exactly as it crossed the wire, 2 to 14 bytes: the FIN/RSV/opcode
   * byte, the MASK bit with the 7-bit length, the 16- or 64-bit extended length if any,
   * and the masking key if any (see `frame-header.ts` for the bit-by-bit reading).
   */
  headerHex: string;
  /** Payload length from the header. */
  payloadLength: number;
  /** Payload bytes included below (`min(payloadLength, MAX_SHOWN_BYTES)`). */
  shownBytes: number;
  /** The 4-byte masking key, or null when not masked. */
  maskKeyHex: string | null;
  /** The first `shownBytes` payload bytes as they crossed the wire (masked), or null when not masked. */
  maskedHex: string | null;
  /** The first `shownBytes` payload bytes after unmasking. */
  payloadHex: string;
  /** The shown payload as UTF-8 text (cut at a character boundary), or null if it is not UTF-8. */
  payloadText: string | null;
  /** A close frame's code (null when the close payload is empty), else undefined. */
  closeCode?: number | null;
  /** A close frame's reason, else undefined. */
  closeReason?: string;
}

/** An HTTP head as sent: the start line and the header fields in order, with their case. */
export interface HttpHeadRecord {
  /** `GET /ws/echo?session=... HTTP/1.1` or `HTTP/1.1 101 Switching Protocols`. */
  startLine: string;
  /** `[name, value]` pairs, in the order sent. */
  headers: Array<[string, string]>;
}

/** First message on the feed: the id to put in the inspected socket's URL. */
export interface SessionMessage {
  type: 'session';
  session: string;
}

/**
 * How the server derived `Sec-WebSocket-Accept` from the browser's key (RFC 6455
 * section 4.2.2): base64(SHA-1(key + GUID)).
 */
export interface AcceptDerivation {
  /** The request's `Sec-WebSocket-Key`: 16 random bytes, base64. */
  key: string;
  /** The fixed GUID every WebSocket server appends. */
  guid: string;
  /** `key + guid`, the 60 characters that are hashed. */
  concatenated: string;
  /** SHA-1 of `concatenated` (as ASCII), 20 bytes in lower-case hex. */
  sha1Hex: string;
  /** Those 20 bytes in base64: the `Sec-WebSocket-Accept` value. */
  accept: string;
}

/** The inspected connection's opening handshake. */
export interface HandshakeMessage {
  type: 'handshake';
  request: HttpHeadRecord;
  response: HttpHeadRecord;
  /** The `Sec-WebSocket-Accept` derivation, step by step. */
  derivation: AcceptDerivation;
  /** The extensions the server agreed to (its `Sec-WebSocket-Extensions`), or `''`. */
  extensions: string;
}

/**
 * A whole message of a compressed inspected connection, after inflating: the frames
 * carry DEFLATE bytes, this is what they stand for. Sent only when permessage-deflate
 * was negotiated, after the frames of the message.
 */
export interface InflatedMessage {
  type: 'message';
  direction: Direction;
  /** Text or binary. */
  isBinary: boolean;
  /** Length of the inflated payload in bytes. */
  length: number;
  /** The first {@link MAX_SHOWN_BYTES} inflated bytes, lower-case hex. */
  payloadHex: string;
  /** A text message's shown bytes as text, else null. */
  payloadText: string | null;
}

/** One frame of the inspected connection. */
export interface FrameMessage {
  type: 'frame';
  frame: FrameRecord;
}

/** The inspected connection is gone (closed, failed, or the session id was unknown). */
export interface EndMessage {
  type: 'end';
  /** What happened, for people. */
  reason: string;
}

/** Everything the feed carries, server to page. */
export type InspectorMessage =
  | SessionMessage
  | HandshakeMessage
  | FrameMessage
  | InflatedMessage
  | EndMessage;

/** Query parameter of the inspected socket's URL that lets it negotiate permessage-deflate (`=1`). */
export const DEFLATE_PARAM = 'deflate';
/** Most fragments a {@link FragmentCommand} may ask for. */
export const MAX_FRAGMENTS = 8;
/** Longest text, in characters, a {@link FragmentCommand} may carry. */
export const MAX_FRAGMENT_TEXT = 200;
/** Payload the server puts in the pings it sends on request (a heartbeat ping carries none). */
export const REQUESTED_PING_PREFIX = 'ping from the page';

/**
 * Page to server, on the feed: send `text` on the inspected connection as one text
 * message cut into `fragments` frames (a text frame, continuation frames, the last with
 * FIN), with a ping between the first two when `interleavePing` is set.
 */
export interface FragmentCommand {
  type: 'fragment';
  text: string;
  fragments: number;
  interleavePing: boolean;
}

/** Page to server, on the feed: ping the inspected connection now. */
export interface PingCommand {
  type: 'ping';
}

/**
 * Page to server, on the feed: start the closing handshake from the server's side with
 * this code and reason (1000 to 1003, 1007 to 1014 or 3000 to 4999; at most 123 bytes).
 */
export interface CloseCommand {
  type: 'close';
  code: number;
  reason: string;
}

/** What a page may ask of the server on the feed. */
export type FeedCommand = FragmentCommand | PingCommand | CloseCommand;

/** Whether a server may send `code` in a close frame (RFC 6455 section 7.4; 1004 to 1006 and 1015 are never sent). */
export function isSendableCloseCode(code: number): boolean {
  return (
    Number.isInteger(code) &&
    ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999))
  );
}

/**
 * The {@link FeedCommand} in `value` (parsed JSON from a page), or null when it is not one
 * or is out of bounds (2 to {@link MAX_FRAGMENTS} fragments, at most
 * {@link MAX_FRAGMENT_TEXT} characters and at least one per fragment).
 */
export function parseFeedCommand(value: unknown): FeedCommand | null {
  if (typeof value !== 'object' || value === null) return null;
  const command = value as Record<string, unknown>;
  if (command.type === 'ping') return { type: 'ping' };
  if (command.type === 'close') {
    const { code, reason } = command;
    if (typeof code !== 'number' || !isSendableCloseCode(code) || typeof reason !== 'string') return null;
    if (new TextEncoder().encode(reason).length > 123) return null;
    return { type: 'close', code, reason };
  }
  if (command.type !== 'fragment') return null;
  const { text, fragments, interleavePing } = command;
  if (typeof text !== 'string' || typeof fragments !== 'number' || typeof interleavePing !== 'boolean')
    return null;
  const length = [...text].length;
  if (!Number.isInteger(fragments) || fragments < 2 || fragments > MAX_FRAGMENTS) return null;
  if (length > MAX_FRAGMENT_TEXT || length < fragments) return null;
  return { type: 'fragment', text, fragments, interleavePing };
}

/** `text` cut into `count` pieces of whole characters, as even as they come (the first ones longer). */
export function splitText(text: string, count: number): string[] {
  const chars = [...text];
  const base = Math.floor(chars.length / count);
  const extra = chars.length % count;
  const pieces: string[] = [];
  let start = 0;
  for (let i = 0; i < count; i++) {
    const end = start + base + (i < extra ? 1 : 0);
    pieces.push(chars.slice(start, end).join(''));
    start = end;
  }
  return pieces;
}

/** One step of the masking walkthrough: `masked XOR key = unmasked` for payload byte `index`. */
export interface XorStep {
  index: number;
  /** The byte on the wire, two hex digits. */
  masked: string;
  /** `key[index mod 4]`, two hex digits. */
  key: string;
  /** The payload byte, two hex digits. */
  unmasked: string;
}

/** Split lower-case hex into two-digit bytes: `'e688'` becomes `['e6', '88']`. */
export function hexBytes(hex: string): string[] {
  const bytes: string[] = [];
  for (let i = 0; i + 1 < hex.length; i += 2) bytes.push(hex.slice(i, i + 2));
  return bytes;
}

/**
 * The masking walkthrough of RFC 6455 section 5.3 for a masked frame: for each shown
 * payload byte i, `masked[i] XOR key[i mod 4] = unmasked[i]`. Empty when not masked.
 * Recomputes each XOR from the masked bytes and the key rather than trusting `payloadHex`.
 */
export function xorSteps(frame: FrameRecord): XorStep[] {
  if (frame.maskKeyHex === null || frame.maskedHex === null) return [];
  const key = hexBytes(frame.maskKeyHex);
  return hexBytes(frame.maskedHex).map((masked, index) => {
    const k = key[index % 4]!;
    const unmasked = (Number.parseInt(masked, 16) ^ Number.parseInt(k, 16)).toString(16).padStart(2, '0');
    return { index, masked, key: k, unmasked };
  });
}

/** Whether `value` (parsed JSON from the feed) has the shape of an {@link InspectorMessage}. */
export function isInspectorMessage(value: unknown): value is InspectorMessage {
  if (typeof value !== 'object' || value === null) return false;
  const message = value as Record<string, unknown>;
  switch (message.type) {
    case 'session':
      return typeof message.session === 'string';
    case 'handshake':
      return (
        isHead(message.request) &&
        isHead(message.response) &&
        typeof message.derivation === 'object' &&
        message.derivation !== null &&
        typeof message.extensions === 'string'
      );
    case 'message':
      return typeof message.payloadHex === 'string' && typeof message.length === 'number';
    case 'frame':
      return typeof message.frame === 'object' && message.frame !== null;
    case 'end':
      return typeof message.reason === 'string';
    default:
      return false;
  }
}

function isHead(value: unknown): value is HttpHeadRecord {
  if (typeof value !== 'object' || value === null) return false;
  const head = value as Record<string, unknown>;
  return typeof head.startLine === 'string' && Array.isArray(head.headers);
}
