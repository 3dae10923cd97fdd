import { CloseCode } from './close-codes.js';

/**
 * Which rule of RFC 6455 (or of a configured limit) a peer broke. One name per rule,
 * so a test or a log can say exactly what fired.
 */
export type ProtocolRule =
  | 'reserved-bits'
  | 'reserved-opcode'
  | 'unmasked-client-frame'
  | 'masked-server-frame'
  | 'fragmented-control-frame'
  | 'control-frame-too-long'
  | 'length-top-bit'
  | 'non-minimal-length'
  | 'unexpected-continuation'
  | 'expected-continuation'
  | 'invalid-utf8'
  | 'invalid-close-payload'
  | 'invalid-close-code'
  | 'message-too-big'
  | 'too-many-fragments'
  | 'extension-error'
  | 'invalid-compressed-data';

/**
 * The peer broke the WebSocket protocol, or a limit. The connection fails with
 * {@link ProtocolError.closeCode}; the I/O layer never sees an exception for it.
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';

  /**
   * @param rule - the rule that fired
   * @param closeCode - the close code the connection fails with (1002, 1007, 1009, ...)
   * @param message - what happened, in words a person can read
   */
  constructor(
    readonly rule: ProtocolRule,
    readonly closeCode: CloseCode,
    message: string,
  ) {
    super(message);
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
export class HandshakeError extends Error {
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
export class InternalError extends Error {
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
export class MessageWriterError extends Error {
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
