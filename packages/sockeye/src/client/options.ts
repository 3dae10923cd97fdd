import type { SecureContextOptions } from 'node:tls';
import { isFieldValue, isToken } from '../protocol/http.js';
import type { PerMessageDeflateOptions } from '../protocol/permessage-deflate.js';
import {
  checkBoolean,
  checkInteger,
  checkMaxPayload,
  checkObject,
  checkString,
  MAX_TIMEOUT_MS,
} from '../protocol/validate.js';

/**
 * The Node-only options of the client (browsers have none of these). Every field is
 * optional; defaults are documented on each.
 */
export interface ClientOptions {
  /**
   * Subprotocols to offer, most preferred first (the same as the constructor's second
   * argument; used when that argument is this options object).
   */
  protocols?: string | readonly string[] | undefined;
  /**
   * More request headers. Names and values are validated (no CR/LF injection). A `Host`
   * (any case) replaces the one the client derives from the URL: the request carries one.
   * The headers the handshake writes (`Upgrade`, `Connection`, `Sec-WebSocket-*`) are
   * refused, and so is an `Origin` beside the `origin` option.
   */
  headers?: Readonly<Record<string, string>> | undefined;
  /** The `Origin` header. Browsers always send one; Node sends none unless set. */
  origin?: string | undefined;
  /**
   * Milliseconds allowed for the whole opening handshake (proxy, TLS, redirects, HTTP
   * response). Past it the connection fails.
   * @defaultValue 10000 ({@link limits.DEFAULT_HANDSHAKE_TIMEOUT_MS})
   */
  handshakeTimeout?: number | undefined;
  /**
   * Largest HTTP response head accepted during the handshake, in bytes.
   * @defaultValue 16384 ({@link limits.DEFAULT_MAX_HANDSHAKE_BYTES})
   */
  maxHandshakeBytes?: number | undefined;
  /**
   * Largest message accepted, in bytes, after decompression. A bigger one fails the
   * connection (close 1009 on the wire; the `close` event reports 1006 as browsers do).
   * At most `buffer.constants.MAX_STRING_LENGTH` (text messages are decoded to strings).
   * @defaultValue 64 MiB (`DEFAULT_CLIENT_MAX_PAYLOAD`: what a browser script expects to
   * receive; `ws` takes 100 MiB)
   */
  maxPayload?: number | undefined;
  /**
   * Most frames in one message. More fails the connection (close 1009 on the wire).
   * @defaultValue 4096 ({@link limits.DEFAULT_MAX_FRAGMENTS})
   */
  maxFragments?: number | undefined;
  /**
   * Milliseconds to wait, once a close frame was sent, for the server's close frame and
   * then for the server to close TCP (RFC 6455 section 7.1.1). Past it the socket is
   * destroyed.
   * @defaultValue 10000 ({@link limits.DEFAULT_CLOSE_TIMEOUT_MS})
   */
  closeTimeout?: number | undefined;
  /**
   * Follow HTTP redirects (301, 302, 303, 307, 308) during the handshake. `true` follows
   * up to 10; a number sets the limit. As fetch does, a hop to another origin drops the
   * `Authorization`, `Cookie` and `Proxy-Authorization` headers, and a `Host` of yours (for
   * the rest of the redirects), and a redirect from `wss:` to `ws:` is refused (a `HandshakeError` coded
   * `insecure-redirect`). Browsers never follow redirects.
   * @defaultValue false
   */
  followRedirects?: boolean | number | undefined;
  /**
   * An HTTP proxy for a CONNECT tunnel (`http://[user:pass@]host:port`), or `false` for
   * none. When undefined, `HTTPS_PROXY` (wss) or `HTTP_PROXY` (ws) is used, lower case
   * too, unless `NO_PROXY` matches the host.
   * @defaultValue undefined (from the environment)
   */
  proxy?: string | false | undefined;
  /**
   * permessage-deflate (RFC 7692). Offered by default, as browsers do, with the offer
   * `permessage-deflate; client_max_window_bits`; `false` offers nothing; an object sets
   * the offer and our compressor (threshold, level, memLevel, windows, no context
   * takeover: see {@link PerMessageDeflateOptions}). The server's answer is checked: one
   * that does not match the offer fails the connection (`error`, then `close` 1006).
   * Inflation is bounded by `maxPayload` while it runs (a decompression bomb gets 1009).
   * Each client has its own pool of reset zlib streams unless the object brings a `pool`
   * to share. Nothing is offered when zlib cannot be driven in this process
   * (`PerMessageDeflate.driver` is null).
   * @defaultValue true (threshold 1024 bytes, level 1, memLevel 8, both windows 15,
   * context takeover both ways)
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions | undefined;
  /** Aborting it fails the opening handshake (it does nothing once the connection is open). */
  signal?: AbortSignal | undefined;
  /** TLS: trusted CA certificates (instead of Node's bundle). */
  ca?: SecureContextOptions['ca'];
  /** TLS: client certificate chain. */
  cert?: SecureContextOptions['cert'];
  /** TLS: client private key. */
  key?: SecureContextOptions['key'];
  /** TLS: client certificate and key as PKCS#12. */
  pfx?: SecureContextOptions['pfx'];
  /** TLS: passphrase of `key` or `pfx`. */
  passphrase?: string | undefined;
  /**
   * TLS: refuse a server certificate that does not verify.
   * @defaultValue true
   */
  rejectUnauthorized?: boolean | undefined;
  /** TLS: the SNI name and the name checked against the certificate. @defaultValue the URL's host */
  servername?: string | undefined;
}

/**
 * Request headers the opening handshake writes itself, with where to ask for them
 * instead: a second copy from `headers` would make the request one a server refuses (two
 * keys) or the answer one the client must fail (an extension or subprotocol it did not offer).
 */
const HANDSHAKE_HEADERS = new Map<string, string>([
  ['upgrade', ''],
  ['connection', ''],
  ['sec-websocket-key', ''],
  ['sec-websocket-version', ''],
  ['sec-websocket-protocol', ' (give subprotocols as `protocols`)'],
  ['sec-websocket-extensions', ' (permessage-deflate is the `perMessageDeflate` option)'],
]);

/**
 * Check the Node options of a client, as the `WebSocket` and `WebSocketStream`
 * constructors do: once, naming the option that cannot work.
 * @throws TypeError for a value of the wrong type; RangeError for a number out of range
 * (a `maxPayload` of 0, or longer than the longest string, since text is decoded)
 */
export function checkClientOptions(options: ClientOptions): void {
  checkObject('options', options);
  checkObject('headers', options.headers);
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (!isToken(name)) throw new TypeError(`headers: invalid header name ${JSON.stringify(name)}`);
    if (typeof value !== 'string' || !isFieldValue(value)) {
      throw new TypeError(`headers: invalid value for ${name} (a string without CR, LF or NUL)`);
    }
    const lower = name.toLowerCase();
    const instead = HANDSHAKE_HEADERS.get(lower);
    if (instead !== undefined) throw new TypeError(`headers: ${name} is set by the handshake${instead}`);
    if (lower === 'origin' && options.origin !== undefined) {
      throw new TypeError('headers: Origin is given twice (here and as the `origin` option)');
    }
  }
  checkString('origin', options.origin);
  if (options.origin !== undefined && !isFieldValue(options.origin)) {
    throw new TypeError('origin: a string without CR, LF or NUL');
  }
  checkInteger('handshakeTimeout', options.handshakeTimeout, 1, MAX_TIMEOUT_MS);
  checkInteger('maxHandshakeBytes', options.maxHandshakeBytes, 1, Number.MAX_SAFE_INTEGER);
  // Every text message is decoded to a string: the limit must fit in one.
  checkMaxPayload('maxPayload', options.maxPayload, true);
  checkInteger('maxFragments', options.maxFragments, 1, Number.MAX_SAFE_INTEGER);
  checkInteger('closeTimeout', options.closeTimeout, 1, MAX_TIMEOUT_MS);
  if (typeof options.followRedirects === 'number') {
    checkInteger('followRedirects', options.followRedirects, 0, Number.MAX_SAFE_INTEGER);
  } else {
    checkBoolean('followRedirects', options.followRedirects);
  }
  if (options.proxy !== false) checkString('proxy', options.proxy);
  const deflate = options.perMessageDeflate as unknown;
  if (deflate !== undefined && typeof deflate !== 'boolean') checkObject('perMessageDeflate', deflate);
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new TypeError('signal must be an AbortSignal');
  }
  checkString('passphrase', options.passphrase);
  checkBoolean('rejectUnauthorized', options.rejectUnauthorized);
  checkString('servername', options.servername);
}
