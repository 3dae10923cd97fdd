import { CloseCode } from './close-codes.js';

/**
 * The base of every error sockeye defines: `code` is a stable string for a program to
 * branch on (the message is for people and may change); `name` is the class. Misuse of
 * the API (an argument or option of the wrong type or out of range) throws the built-in
 * `TypeError` or `RangeError` instead, as Node's own APIs do, and the WHATWG client throws
 * `DOMException`s where its standard says so. docs/errors.md lists every code.
 */
export abstract class SockeyeError extends Error {
  /** What went wrong, as a stable string. */
  abstract readonly code: string;
}

/**
 * Every rule of RFC 6455 (or of a configured limit) a peer can break, and the close code
 * a connection fails with when it does: the one table the parser, the connection and the
 * codec take their close codes from.
 */
export const PROTOCOL_RULES = {
  /** An RSV bit set that no negotiated extension defines (RFC 6455 section 5.2). */
  'reserved-bits': CloseCode.ProtocolError,
  /** An opcode RFC 6455 reserves (3-7, 0xB-0xF). */
  'reserved-opcode': CloseCode.ProtocolError,
  /** A client frame without a mask (section 5.1). */
  'unmasked-client-frame': CloseCode.ProtocolError,
  /** A server frame with a mask (section 5.1). */
  'masked-server-frame': CloseCode.ProtocolError,
  /** A control frame without FIN (section 5.5). */
  'fragmented-control-frame': CloseCode.ProtocolError,
  /** A control frame with more than 125 bytes of payload (section 5.5). */
  'control-frame-too-long': CloseCode.ProtocolError,
  /** A 64-bit length with its top bit set (section 5.2). */
  'length-top-bit': CloseCode.ProtocolError,
  /** A length not in its shortest form (section 5.2). */
  'non-minimal-length': CloseCode.ProtocolError,
  /** A continuation frame with no message to continue (section 5.4). */
  'unexpected-continuation': CloseCode.ProtocolError,
  /** A new data frame while a fragmented message is unfinished (section 5.4). */
  'expected-continuation': CloseCode.ProtocolError,
  /** A text message (or close reason) that is not UTF-8 (section 8.1). */
  'invalid-utf8': CloseCode.InvalidPayload,
  /** A close payload of one byte (section 5.5.1). */
  'invalid-close-payload': CloseCode.ProtocolError,
  /** A close code that may not be sent (section 7.4). */
  'invalid-close-code': CloseCode.ProtocolError,
  /** A message over `maxPayload`. */
  'message-too-big': CloseCode.MessageTooBig,
  /** A message in more frames than `maxFragments`. */
  'too-many-fragments': CloseCode.MessageTooBig,
  /** A frame the negotiated extension refuses (RSV1 on a control or continuation frame). */
  'extension-error': CloseCode.ProtocolError,
  /** A compressed message that does not inflate (RFC 7692). */
  'invalid-compressed-data': CloseCode.InvalidPayload,
} as const satisfies Record<string, CloseCode>;

/**
 * Which rule of RFC 6455 (or of a configured limit) a peer broke. One name per rule,
 * so a test or a log can say exactly what fired (see {@link PROTOCOL_RULES}).
 */
export type ProtocolRule = keyof typeof PROTOCOL_RULES;

/**
 * The peer broke the WebSocket protocol, or a limit. The connection fails with
 * {@link ProtocolError.closeCode}, the rule's in {@link PROTOCOL_RULES}; the I/O layer
 * never sees an exception for it.
 */
export class ProtocolError extends SockeyeError {
  override readonly name = 'ProtocolError';
  /** The rule that fired (the same as {@link ProtocolError.rule}). */
  readonly code: ProtocolRule;
  /** The close code the connection fails with (1002, 1007 or 1009). */
  readonly closeCode: CloseCode;

  /**
   * @param rule - the rule that fired
   * @param message - what happened, in words a person can read
   */
  constructor(
    readonly rule: ProtocolRule,
    message: string,
  ) {
    super(message);
    this.code = rule;
    this.closeCode = PROTOCOL_RULES[rule];
  }
}

/**
 * What went wrong in an opening handshake, for a program to branch on (the message is
 * for people and may change):
 * - `refused`: the default; the server refused (its `status` says why) or the request or
 *   response broke RFC 6455 / HTTP (the message says which rule);
 * - `not-websocket`: the server answered with an HTTP status but no upgrade (a 2xx: a web
 *   page or an API, not a WebSocket endpoint);
 * - `not-tls`: a `wss:` URL met a server that did not speak TLS (a plain `ws:` endpoint);
 * - `tls-expected`: a `ws:` URL met a server that answered in TLS (a `wss:` endpoint);
 * - `insecure-redirect`: a redirect from `wss:` to `ws:`, refused (it would send the
 *   request, credentials included, in clear);
 * - `too-many-redirects`: more redirects than `followRedirects` allows;
 * - `redirect-not-followed`: a redirect, with `followRedirects` off;
 * - `timeout`: the handshake did not finish within `handshakeTimeout`;
 * - `aborted`: the `signal` aborted it.
 */
export type HandshakeErrorCode =
  | 'refused'
  | 'not-websocket'
  | 'not-tls'
  | 'tls-expected'
  | 'insecure-redirect'
  | 'too-many-redirects'
  | 'redirect-not-followed'
  | 'timeout'
  | 'aborted';

/**
 * An opening handshake was refused. On the server, {@link HandshakeError.status} is the
 * HTTP status to answer with and `message` goes in the body; on the client, `status` is
 * the status the server answered with (or 0 when it never answered with one), and
 * {@link HandshakeError.code} says what kind of failure it was.
 */
export class HandshakeError extends SockeyeError {
  override readonly name = 'HandshakeError';

  /**
   * @param status - the HTTP status (400, 403, 404, 405, 426, 431, 503, ...) or 0
   * @param message - the reason, in words a person can read
   * @param headers - extra response headers the refusal must carry (e.g. `Sec-WebSocket-Version` on 426)
   * @param code - what kind of failure, stable across versions. @defaultValue `'refused'`
   */
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
    readonly code: HandshakeErrorCode = 'refused',
  ) {
    super(message);
  }
}

/**
 * Something failed on our side while a connection was being served: a codec (zlib), the
 * decoding of a text message, a write to the socket, or code called back from the
 * connection. The connection fails with 1011 and the peer is told nothing more (RFC 6455
 * section 7.4.1 lets an endpoint keep the details to itself); the shell reports this
 * error, with the original one as `cause` (and its stack), through its error reporting.
 */
export class InternalError extends SockeyeError {
  override readonly name = 'InternalError';
  /** A stable code for logs and tests. */
  readonly code = 'ERR_SOCKEYE_INTERNAL';
  /** In the place of a {@link ProtocolError}'s rule: no rule of the peer's was broken. */
  readonly rule = 'internal-error';
  /** Always 1011 (internal error). */
  readonly closeCode = CloseCode.InternalError;

  /**
   * @param cause - what was thrown
   */
  constructor(cause: unknown) {
    super(`internal error: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** What was done wrong with a fragmented message (see `Connection.startMessage`). */
export type MessageWriterMisuse = 'message-in-progress' | 'message-ended';

/**
 * A fragmented message was misused: a second one started before the first ended
 * (`message-in-progress`), or a writer used after its `end()` (`message-ended`). Thrown
 * synchronously to the caller: it is a bug in the calling code, never the peer's doing.
 */
export class MessageWriterError extends SockeyeError {
  override readonly name = 'MessageWriterError';

  /**
   * @param code - what was done wrong
   * @param message - the same, in words a person can read
   */
  constructor(
    readonly code: MessageWriterMisuse,
    message: string,
  ) {
    super(message);
  }
}
