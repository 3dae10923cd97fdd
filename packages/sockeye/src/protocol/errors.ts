import type { CloseCode } from './close-codes.js';

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
