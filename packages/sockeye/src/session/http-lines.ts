/**
 * The line format of the HTTP transports of `sockeye.session.v1` (SSE + POST and
 * long-polling). Session frames are the WebSocket transport's, unchanged; over HTTP each
 * one travels as one line of text, so that an SSE `data:` field, a POST body and a poll
 * response carry them without any other framing. Pure functions, no Node built-ins
 * (this file runs in browsers).
 *
 * The first character of a line says what it is:
 * - a frame letter (`d h w a p q x`): a text frame as it is, when it holds no CR or LF
 *   (the common case: no overhead);
 * - `"`: a text frame holding CR or LF, as a JSON string;
 * - `#`: a binary frame, in base64;
 * - `l <link>`: the link's id (the first line of every link; POSTs and polls name it);
 * - `c <code> [<reason>]`: the link closes, as a WebSocket close frame would say.
 *
 * `docs/transports.md` is the specification.
 * @module
 */
import { SessionError, type WireMessage } from './wire.js';

/** The first letters of session frames (see `wire.ts`). */
const FRAME_LETTERS = 'dhwapqx';

/**
 * Longest link id, in characters (of `A-Z a-z 0-9 _ -`): room for 22 random ones and the
 * base64url of a broker node id of up to 64 bytes (see `SessionHttpTransportOptions.router`).
 */
export const MAX_LINK_ID_LENGTH = 128;

/** One decoded line: a session frame, the link's id, or the link's close. */
export type HttpLine =
  | { readonly type: 'frame'; readonly frame: WireMessage }
  | { readonly type: 'link'; readonly id: string }
  | { readonly type: 'close'; readonly code: number; readonly reason: string };

/** Encode a session frame as one line (no CR or LF in it). */
export function encodeFrameLine(frame: WireMessage): string {
  if (typeof frame !== 'string') return `#${toBase64(frame)}`;
  for (let i = 0; i < frame.length; i++) {
    const c = frame.charCodeAt(i);
    if (c === 0x0a || c === 0x0d) return JSON.stringify(frame);
  }
  return frame;
}

/** The first line of a link: its id. */
export function encodeLinkLine(id: string): string {
  return `l ${id}`;
}

/** The last line of a link a server closes: the close code and reason (CR and LF dropped). */
export function encodeCloseLine(code: number, reason = ''): string {
  const clean = reason.replace(/[\r\n]/g, ' ');
  return clean === '' ? `c ${code}` : `c ${code} ${clean}`;
}

/**
 * Decode one line.
 * @throws SessionError (`malformed-frame`) for a line that is not of this format (the
 *   frame inside a frame line is checked by `decodeFrame`, not here)
 */
export function decodeLine(line: string): HttpLine {
  const first = line.charCodeAt(0);
  if (first === 0x22 /* " */) {
    let text: unknown;
    try {
      text = JSON.parse(line);
    } catch {
      throw malformed('bad JSON string');
    }
    if (typeof text !== 'string') throw malformed('a JSON line must be a string');
    return { type: 'frame', frame: text };
  }
  if (first === 0x23 /* # */) return { type: 'frame', frame: fromBase64(line.slice(1)) };
  if (first === 0x6c /* l */) {
    const id = line.slice(2);
    if (line.charCodeAt(1) !== 0x20 || !isLinkId(id)) throw malformed('bad link line');
    return { type: 'link', id };
  }
  if (first === 0x63 /* c */) {
    const match = /^c (\d{4})(?: (.*))?$/.exec(line);
    if (match === null) throw malformed('bad close line');
    return { type: 'close', code: Number(match[1]), reason: match[2] ?? '' };
  }
  if (!FRAME_LETTERS.includes(line.charAt(0)) || line.length === 0)
    throw malformed('not a line of this format');
  return { type: 'frame', frame: line };
}

/** Whether `id` can be a link id: 1 to {@link MAX_LINK_ID_LENGTH} characters of `A-Z a-z 0-9 _ -`. */
export function isLinkId(id: string): boolean {
  return id.length > 0 && id.length <= MAX_LINK_ID_LENGTH && /^[A-Za-z0-9_-]+$/.test(id);
}

function malformed(message: string): SessionError {
  return new SessionError('malformed-frame', message);
}

/** Base64 of `bytes` with the browsers' `btoa` (also global in Node 16+). */
function toBase64(bytes: Uint8Array): string {
  let binary = '';
  // In slices: spreading a large array into one call overflows the stack.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw malformed('bad base64');
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
