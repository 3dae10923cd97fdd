/**
 * The wire format of the `sockeye.session.v1` subprotocol: one session frame per
 * WebSocket message. Pure functions, no Node built-ins (this file runs in browsers).
 *
 * - Data: the first character (text message) or byte (binary message) is `d` (0x64),
 *   the rest is the application's payload. A text message stays a text message and a
 *   binary one a binary one. Data messages carry no sequence number on the wire: each
 *   direction numbers its data messages 1, 2, 3, ... and a link resumes at the number
 *   the handshake agreed on, so the receiver counts.
 * - Control frames are text messages of ASCII fields separated by one space:
 *   `h <received> [<id> <epoch>]` (hello, client first), `w <id> <epoch> <received> <r|n>`
 *   (welcome, server's answer), `a <seq>` (cumulative acknowledgement), `p <token>` /
 *   `q <token>` (heartbeat ping and pong), `x [reason]` (the session ends).
 *
 * `docs/sessions.md` is the specification.
 * @module
 */

/** The subprotocol a session client offers and a session server selects. */
export const SESSION_PROTOCOL = 'sockeye.session.v1';

/** The largest sequence number (2^53 - 1): past it a session must end. */
export const MAX_SEQUENCE = Number.MAX_SAFE_INTEGER;
/** Longest session id, in characters (of `A-Z a-z 0-9 _ -`). */
export const MAX_ID_LENGTH = 64;
/** Longest epoch and heartbeat token, in characters (of `A-Z a-z 0-9 _ -`). */
export const MAX_TOKEN_LENGTH = 32;
/** Longest reason of an `x` frame, in characters. */
export const MAX_END_REASON_LENGTH = 123;

/** A WebSocket message: a `string` is a text message, a `Uint8Array` a binary one. */
export type WireMessage = string | Uint8Array;

/**
 * A text data frame held as bytes: `d` (0x64) then the payload's UTF-8, which must be
 * valid. To everything that keeps or moves it, it is a `Uint8Array`; the shell that writes
 * it sends it as a **text** message (`frame instanceof TextBytes`). A server keeps text
 * this way so that a message relayed or echoed is never decoded to a string and encoded
 * again, and is framed without a join (see `session/frames.ts`). The core gives its
 * payload back as a string (see `framePayload`).
 * @internal
 */
export class TextBytes extends Uint8Array {}

/**
 * Every rule of the session protocol, and the close code a link fails with when it is
 * broken: 1002 for a peer's mistake in the protocol, 1008 for a bound or an ended session.
 */
export const SESSION_RULES = {
  /** A session frame that does not parse. */
  'malformed-frame': 1002,
  /** A session frame where it may not come (a second hello, data before the hello). */
  'unexpected-frame': 1002,
  /** An acknowledgement of messages that were never sent. */
  'ack-out-of-range': 1002,
  /** A sequence number past 2^53. */
  'sequence-overflow': 1002,
  /** More unacknowledged messages than the session keeps. */
  'queue-full': 1008,
  /** A step on a session that has ended. */
  'session-ended': 1008,
} as const;

/** Why a session frame or a session step was refused. One name per rule (see {@link SESSION_RULES}). */
export type SessionRule = keyof typeof SESSION_RULES;

/**
 * A session frame was malformed, arrived where it may not, or a bound was hit. A peer's
 * mistake closes the link with {@link SessionError.closeCode} (1002); it never escapes to
 * the process. It has a stable `code` like every `SockeyeError`, but extends `Error`
 * itself: this module runs in browsers without the rest of the library.
 */
export class SessionError extends Error {
  override readonly name = 'SessionError';
  /** The rule that fired (the same as {@link SessionError.rule}). */
  readonly code: SessionRule;
  /** The close code a link fails with on this error: the rule's in {@link SESSION_RULES}. */
  readonly closeCode: number;

  /**
   * @param rule - the rule that fired (a stable code)
   * @param message - what happened, in words a person can read
   */
  constructor(
    readonly rule: SessionRule,
    message: string,
  ) {
    super(message);
    this.code = rule;
    this.closeCode = SESSION_RULES[rule];
  }
}

/** One decoded session frame, by kind. */
export type SessionFrame =
  | { readonly type: 'data'; readonly data: WireMessage }
  | {
      readonly type: 'hello';
      readonly received: number;
      readonly id: string | undefined;
      readonly epoch: string | undefined;
    }
  | {
      readonly type: 'welcome';
      readonly id: string;
      readonly epoch: string;
      readonly received: number;
      readonly resumed: boolean;
    }
  | { readonly type: 'ack'; readonly seq: number }
  | { readonly type: 'ping'; readonly token: string }
  | { readonly type: 'pong'; readonly token: string }
  | { readonly type: 'end'; readonly reason: string };

const DATA = 0x64; // 'd'

/** A data frame carrying `data` (a text message for a string, binary otherwise). */
export function encodeData(data: WireMessage): WireMessage {
  if (typeof data === 'string') return `d${data}`;
  const frame = new Uint8Array(data.length + 1);
  frame[0] = DATA;
  frame.set(data, 1);
  return frame;
}

const utf8 = new TextDecoder();

/**
 * The payload of a data frame made by {@link encodeData} (or a {@link TextBytes} frame,
 * given back as a string): what the application sent.
 */
export function framePayload(frame: WireMessage): WireMessage {
  if (typeof frame === 'string') return frame.slice(1);
  if (frame instanceof TextBytes) return utf8.decode(frame.subarray(1));
  return frame.subarray(1);
}

/** A hello frame: the client's received count, and the session it asks to resume. */
export function encodeHello(received: number, id?: string, epoch?: string): string {
  if (id === undefined || epoch === undefined) return `h ${received}`;
  return `h ${received} ${id} ${epoch}`;
}

/** A welcome frame: the session, the server's received count, whether it resumed. */
export function encodeWelcome(id: string, epoch: string, received: number, resumed: boolean): string {
  return `w ${id} ${epoch} ${received} ${resumed ? 'r' : 'n'}`;
}

/** A cumulative acknowledgement of every data message up to `seq`. */
export function encodeAck(seq: number): string {
  return `a ${seq}`;
}

/** A heartbeat ping carrying `token`. */
export function encodePing(token: string): string {
  return `p ${token}`;
}

/** The pong answering a ping's `token`. */
export function encodePong(token: string): string {
  return `q ${token}`;
}

/** The end of a session, with a reason a person can read (truncated to {@link MAX_END_REASON_LENGTH}). */
export function encodeEnd(reason = ''): string {
  const clipped = reason.length > MAX_END_REASON_LENGTH ? reason.slice(0, MAX_END_REASON_LENGTH) : reason;
  return clipped === '' ? 'x' : `x ${clipped}`;
}

/**
 * Decode one WebSocket message as a session frame.
 * @throws SessionError (`malformed-frame`) for anything that is not a frame of this format
 */
export function decodeFrame(message: WireMessage): SessionFrame {
  if (typeof message !== 'string') {
    if (message.length === 0 || message[0] !== DATA) throw malformed('a binary message must start with "d"');
    return { type: 'data', data: message.subarray(1) };
  }
  const kind = message.charCodeAt(0);
  if (kind === DATA) return { type: 'data', data: message.slice(1) };
  if (message.length > 1 && message.charCodeAt(1) !== 0x20)
    throw malformed('fields are separated by a space');
  const fields = message.length > 2 ? message.slice(2).split(' ') : [];
  switch (message[0]) {
    case 'a':
      expectFields(fields, 1, 1);
      return { type: 'ack', seq: sequence(fields[0]!) };
    case 'p':
    case 'q':
      expectFields(fields, 1, 1);
      return { type: message[0] === 'p' ? 'ping' : 'pong', token: token(fields[0]!, MAX_TOKEN_LENGTH) };
    case 'h':
      if (fields.length !== 1 && fields.length !== 3) throw malformed('hello has 1 or 3 fields');
      return {
        type: 'hello',
        received: sequence(fields[0]!),
        id: fields.length === 3 ? token(fields[1]!, MAX_ID_LENGTH) : undefined,
        epoch: fields.length === 3 ? token(fields[2]!, MAX_TOKEN_LENGTH) : undefined,
      };
    case 'w': {
      expectFields(fields, 4, 4);
      const flag = fields[3];
      if (flag !== 'r' && flag !== 'n') throw malformed('welcome ends with "r" or "n"');
      return {
        type: 'welcome',
        id: token(fields[0]!, MAX_ID_LENGTH),
        epoch: token(fields[1]!, MAX_TOKEN_LENGTH),
        received: sequence(fields[2]!),
        resumed: flag === 'r',
      };
    }
    case 'x': {
      const reason = message.length > 2 ? message.slice(2) : '';
      if (reason.length > MAX_END_REASON_LENGTH) throw malformed('end reason too long');
      return { type: 'end', reason };
    }
    default:
      throw malformed(`unknown frame kind ${JSON.stringify(message.slice(0, 1))}`);
  }
}

function malformed(message: string): SessionError {
  return new SessionError('malformed-frame', message);
}

function expectFields(fields: readonly string[], min: number, max: number): void {
  if (fields.length < min || fields.length > max) throw malformed('wrong number of fields');
}

/** A decimal sequence number: digits only, no leading zero, at most {@link MAX_SEQUENCE}. */
function sequence(field: string): number {
  if (field.length === 0 || field.length > 16) throw malformed('bad sequence number');
  for (let i = 0; i < field.length; i++) {
    const c = field.charCodeAt(i);
    if (c < 0x30 || c > 0x39) throw malformed('bad sequence number');
  }
  if (field.length > 1 && field.charCodeAt(0) === 0x30) throw malformed('leading zero in a sequence number');
  const value = Number(field);
  if (value > MAX_SEQUENCE) throw malformed('sequence number too large');
  return value;
}

/** An id, epoch or token: 1 to `max` characters of `A-Z a-z 0-9 _ -`. */
function token(field: string, max: number): string {
  if (field.length === 0 || field.length > max) throw malformed('bad token length');
  for (let i = 0; i < field.length; i++) {
    const c = field.charCodeAt(i);
    const ok =
      (c >= 0x30 && c <= 0x39) ||
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x61 && c <= 0x7a) ||
      c === 0x5f ||
      c === 0x2d;
    if (!ok) throw malformed('bad character in a token');
  }
  return field;
}

/** Whether `value` can be a session id or an epoch (for ids that come from a store or an option). */
export function isSessionToken(value: string, max = MAX_ID_LENGTH): boolean {
  try {
    token(value, max);
    return true;
  } catch {
    return false;
  }
}
