import * as crypto from 'node:crypto';
import { HandshakeError } from './errors.js';
import { type HeaderMap, isFieldValue, isToken, isTokenCode as isTokenChar } from './http.js';

/** The GUID that RFC 6455 section 1.3 appends to the key before hashing. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The only protocol version sockeye speaks (RFC 6455). */
export const WEBSOCKET_VERSION = '13';

/** A new `Sec-WebSocket-Key`: 16 random bytes, base64 (RFC 6455 section 4.1). */
export function generateKey(): string {
  return crypto.randomBytes(16).toString('base64');
}

/**
 * base64(SHA-1(text)). The one-shot `crypto.hash` (Node 20.12+) takes about half the time
 * of a `Hash` object (measured ~2.5 µs against ~5 µs per handshake); older Node 20 releases
 * lack it and use `createHash`.
 */
const sha1Base64: (text: string) => string =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha1', text, 'base64')
    : (text) => crypto.createHash('sha1').update(text).digest('base64');

/** The `Sec-WebSocket-Accept` value for a key: base64(SHA-1(key + GUID)). */
export function computeAccept(key: string): string {
  return sha1Base64(key + WEBSOCKET_GUID);
}

/** Whether `key` is base64 for exactly 16 bytes (24 characters, ending in "=="). */
export function isValidKey(key: string): boolean {
  return /^[A-Za-z0-9+/]{21}[AQgw]==$/.test(key);
}

/** One extension from a `Sec-WebSocket-Extensions` header: its name and parameters, in order. */
export interface ExtensionOffer {
  /** The extension token, e.g. `permessage-deflate`. */
  name: string;
  /** Parameters in order; a parameter without a value is `true`. Quoted values are unquoted. */
  params: Array<[name: string, value: string | true]>;
}

/** What {@link validateRequest} found in a valid upgrade request. */
export interface UpgradeRequestInfo {
  /** The client's `Sec-WebSocket-Key`. */
  key: string;
  /** Subprotocols the client offered, in its order of preference. */
  protocols: string[];
  /** Extensions the client offered, in order. */
  extensions: ExtensionOffer[];
  /** The `Origin` header, when a browser sent one. */
  origin: string | undefined;
  /** The `Host` header. */
  host: string;
}

/** The parts of an HTTP request that the opening handshake looks at. */
export interface UpgradeRequest {
  /** The method (must be GET). */
  method: string;
  /** `"1.1"` or later. */
  httpVersion: string;
  /** Header fields by lower-case name. */
  headers: HeaderMap;
}

/**
 * Check a client's opening handshake (RFC 6455 section 4.2.1) and return what it asks for.
 * Beyond RFC 6455, the HTTP/1.1 rules that keep the bytes after the head meaning frames
 * (RFC 9112, RFC 9110): a request that announces a body (`Content-Length` above 0, or any
 * `Transfer-Encoding`) is refused, since its body would be read as WebSocket frames; an
 * `Expect` other than `100-continue` gets 417 (RFC 9110 section 10.1.1); `100-continue`
 * needs no interim response, since a request we accept has no content to wait for.
 * @throws {@link HandshakeError} with the status to answer: 405 (not GET), 400 (HTTP/1.0,
 * no Host or a malformed one, a body, missing or wrong Upgrade/Connection, bad key or
 * header syntax), 417 (an expectation we do not meet), 426 (a version other than 13, with
 * `Sec-WebSocket-Version: 13`)
 */
export function validateRequest(request: UpgradeRequest): UpgradeRequestInfo {
  if (request.method !== 'GET') {
    throw new HandshakeError(405, `method ${request.method} not allowed; a WebSocket handshake is a GET`, {
      Allow: 'GET',
    });
  }
  if (request.httpVersion !== '1.1') checkHttpVersion(request.httpVersion);
  const headers = request.headers;
  const host = header(headers, 'host');
  if (host === undefined || host === '') throw new HandshakeError(400, 'missing Host header');
  if (!isValidHost(host)) throw new HandshakeError(400, 'invalid Host header');
  checkNoBody(headers);
  const expect = header(headers, 'expect');
  if (expect !== undefined) {
    for (const expectation of parseTokenList(expect)) {
      if (expectation !== '100-continue') {
        throw new HandshakeError(417, `cannot meet the expectation ${JSON.stringify(expectation)}`);
      }
    }
  }
  if (!hasToken(header(headers, 'upgrade'), 'websocket')) {
    throw new HandshakeError(400, "missing or invalid Upgrade header; expected 'websocket'");
  }
  if (!hasToken(header(headers, 'connection'), 'upgrade')) {
    throw new HandshakeError(400, "missing or invalid Connection header; expected 'Upgrade'");
  }
  const version = header(headers, 'sec-websocket-version');
  if (version !== WEBSOCKET_VERSION) {
    throw new HandshakeError(
      426,
      version === undefined
        ? 'missing Sec-WebSocket-Version header'
        : `unsupported WebSocket version ${version}`,
      { 'Sec-WebSocket-Version': WEBSOCKET_VERSION },
    );
  }
  const key = header(headers, 'sec-websocket-key');
  if (key === undefined || !isValidKey(key)) {
    throw new HandshakeError(400, 'missing or invalid Sec-WebSocket-Key header');
  }
  const protocolHeader = header(headers, 'sec-websocket-protocol');
  let protocols: string[] = [];
  if (protocolHeader !== undefined) {
    try {
      protocols = parseProtocols(protocolHeader);
    } catch (error) {
      throw new HandshakeError(400, `invalid Sec-WebSocket-Protocol header: ${(error as Error).message}`);
    }
  }
  const extensionHeader = header(headers, 'sec-websocket-extensions');
  let extensions: ExtensionOffer[] = [];
  if (extensionHeader !== undefined) {
    try {
      extensions = parseExtensions(extensionHeader);
    } catch (error) {
      throw new HandshakeError(400, `invalid Sec-WebSocket-Extensions header: ${(error as Error).message}`);
    }
  }
  return { key, protocols, extensions, origin: header(headers, 'origin'), host };
}

/** A version other than 1.1: HTTP/1.2 and later 1.x may upgrade too; 1.0 and 2+ may not. */
function checkHttpVersion(httpVersion: string): void {
  const [major, minor] = httpVersion.split('.').map(Number);
  if (major !== 1 || minor === undefined || !(minor >= 1)) {
    throw new HandshakeError(400, `HTTP/${httpVersion} cannot upgrade; HTTP/1.1 is required`);
  }
}

/**
 * Refuse a request that announces a body: on an upgrade, the bytes after the head are
 * WebSocket frames, so a body would be read as frames (request smuggling). RFC 9112
 * section 6.3: `Transfer-Encoding` together with `Content-Length` is an error of its own;
 * a `Content-Length` list is valid only when every member is the same number.
 */
function checkNoBody(headers: HeaderMap): void {
  const transferEncoding = header(headers, 'transfer-encoding');
  const contentLength = header(headers, 'content-length');
  if (transferEncoding !== undefined) {
    throw new HandshakeError(
      400,
      contentLength === undefined
        ? 'an upgrade request cannot have a body (Transfer-Encoding)'
        : 'both Transfer-Encoding and Content-Length',
    );
  }
  if (contentLength === undefined) return;
  const lengths = new Set(contentLength.split(',').map((member) => member.trim()));
  const [length] = lengths;
  if (lengths.size !== 1 || length === undefined || !/^[0-9]+$/.test(length)) {
    throw new HandshakeError(400, 'invalid Content-Length header');
  }
  if (!/^0+$/.test(length)) throw new HandshakeError(400, 'an upgrade request cannot have a body');
}

/** RFC 3986 unreserved and sub-delims characters: what a reg-name is made of (with pct-encoded). */
const HOST_CHARS = (() => {
  const table = new Uint8Array(128);
  for (const ch of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=") {
    table[ch.charCodeAt(0)] = 1;
  }
  return table;
})();

function isHexCode(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/**
 * Whether `value` is a valid `Host` field value (RFC 9110 section 7.2: `uri-host [ ":" port ]`,
 * with RFC 3986's `IP-literal / IPv4address / reg-name`). A Host like `a b@c/d?e` would
 * otherwise reach the origin check and the application as if it named a host.
 */
export function isValidHost(value: string): boolean {
  const length = value.length;
  let i = 0;
  if (value.charCodeAt(0) === 0x5b) {
    // IP-literal: "[" ( IPv6address / IPvFuture ) "]"
    const close = value.indexOf(']');
    if (close < 2) return false;
    for (i = 1; i < close; i++) {
      const c = value.charCodeAt(i);
      if (c >= 128 || (HOST_CHARS[c] === 0 && c !== 0x3a)) return false;
    }
    i = close + 1;
  } else {
    for (; i < length; i++) {
      const c = value.charCodeAt(i);
      if (c === 0x3a) break;
      if (c === 0x25) {
        if (!isHexCode(value.charCodeAt(i + 1)) || !isHexCode(value.charCodeAt(i + 2))) return false;
        i += 2;
      } else if (c >= 128 || HOST_CHARS[c] === 0) {
        return false;
      }
    }
    if (i === 0) return false;
  }
  if (i === length) return true;
  if (value.charCodeAt(i) !== 0x3a) return false;
  for (i++; i < length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** Options of {@link buildAcceptResponse}. */
export interface AcceptResponseOptions {
  /** The client's key. */
  key: string;
  /** The selected subprotocol, if any. */
  protocol?: string | undefined;
  /** The negotiated extensions, already formatted (see {@link formatExtensions}). */
  extensions?: string | undefined;
  /** More headers to send (validated: no CR/LF injection). */
  headers?: Readonly<Record<string, string>> | undefined;
}

/**
 * The `101 Switching Protocols` response head, ready to write.
 * @throws TypeError if the protocol is not a token or a value could break the head (CR, LF, NUL)
 */
export function buildAcceptResponse(options: AcceptResponseOptions): string {
  if (options.protocol && !isToken(options.protocol)) {
    throw new TypeError(`invalid subprotocol ${JSON.stringify(options.protocol)}`);
  }
  if (options.extensions && !isFieldValue(options.extensions)) throw new TypeError('invalid extensions');
  let head =
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${computeAccept(options.key)}\r\n`;
  if (options.protocol) head += `Sec-WebSocket-Protocol: ${options.protocol}\r\n`;
  if (options.extensions) head += `Sec-WebSocket-Extensions: ${options.extensions}\r\n`;
  head += formatHeaders(options.headers);
  return `${head}\r\n`;
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  417: 'Expectation Failed',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/**
 * A complete HTTP response that refuses a handshake: the status, `Connection: close`, the
 * error's extra headers, and its message as a plain-text body.
 */
export function buildRejectResponse(error: HandshakeError): string {
  const status = error.status >= 400 && error.status <= 599 ? error.status : 400;
  const body = `${error.message}\n`;
  return (
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n` +
    'Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    formatHeaders(error.headers) +
    `\r\n${body}`
  );
}

/** Options of {@link buildRequest}. */
export interface ClientRequestOptions {
  /** The `Host` header value (host, and port when not the default). */
  host: string;
  /** The request target: path and query. */
  path: string;
  /** The `Sec-WebSocket-Key` (see {@link generateKey}). */
  key: string;
  /** Subprotocols to offer, most preferred first. */
  protocols?: readonly string[] | undefined;
  /** Extension offers, already formatted. */
  extensions?: string | undefined;
  /** The `Origin` header. */
  origin?: string | undefined;
  /** More headers (validated: no CR/LF injection). */
  headers?: Readonly<Record<string, string>> | undefined;
}

/**
 * The client's opening handshake request head, ready to write.
 * @throws TypeError if a value could break the head (CR, LF, NUL; a path with spaces);
 * SyntaxError if a subprotocol is not a token
 */
export function buildRequest(options: ClientRequestOptions): string {
  if (!/^\/[\x21-\x7e]*$/.test(options.path))
    throw new TypeError(`invalid request path ${JSON.stringify(options.path)}`);
  if (!isFieldValue(options.host)) throw new TypeError('invalid Host');
  if (!isFieldValue(options.key)) throw new TypeError('invalid Sec-WebSocket-Key');
  if (options.extensions && !isFieldValue(options.extensions)) throw new TypeError('invalid extensions');
  let head =
    `GET ${options.path} HTTP/1.1\r\nHost: ${options.host}\r\n` +
    'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Key: ${options.key}\r\nSec-WebSocket-Version: ${WEBSOCKET_VERSION}\r\n`;
  if (options.protocols !== undefined && options.protocols.length > 0) {
    for (const protocol of options.protocols) {
      if (!isToken(protocol)) throw new SyntaxError(`invalid subprotocol ${JSON.stringify(protocol)}`);
    }
    head += `Sec-WebSocket-Protocol: ${options.protocols.join(', ')}\r\n`;
  }
  if (options.extensions) head += `Sec-WebSocket-Extensions: ${options.extensions}\r\n`;
  if (options.origin !== undefined) {
    if (!isFieldValue(options.origin)) throw new TypeError('invalid Origin');
    head += `Origin: ${options.origin}\r\n`;
  }
  head += formatHeaders(options.headers);
  return `${head}\r\n`;
}

/** What the client offered, to check the server's answer against. */
export interface OfferedHandshake {
  /** The key the client sent. */
  key: string;
  /** Subprotocols offered (empty for none). */
  protocols: readonly string[];
  /** Names of the extensions offered. */
  extensions: readonly string[];
}

/** What a valid server response agreed to. */
export interface AcceptedHandshake {
  /** The selected subprotocol, or `''`. */
  protocol: string;
  /** The extensions the server accepted, with their parameters. */
  extensions: ExtensionOffer[];
}

/** The parts of an HTTP response that the client checks. */
export interface UpgradeResponse {
  /** The status code. */
  statusCode: number;
  /** The reason phrase, for the error message. */
  statusMessage?: string | undefined;
  /** Header fields by lower-case name. */
  headers: HeaderMap;
}

/**
 * Check the server's answer to our opening handshake (RFC 6455 section 4.1, and the
 * WHATWG rule that offering subprotocols requires the server to pick one).
 * @throws {@link HandshakeError} carrying the status the server sent
 */
export function validateResponse(response: UpgradeResponse, offered: OfferedHandshake): AcceptedHandshake {
  const status = response.statusCode;
  if (status !== 101) {
    const reason = response.statusMessage ? ` ${response.statusMessage}` : '';
    // A 2xx is a complete answer without an upgrade: an HTTP resource, not a WebSocket endpoint.
    if (status >= 200 && status <= 299) {
      throw new HandshakeError(
        status,
        `Not a WebSocket endpoint (HTTP ${status}${reason})`,
        {},
        'not-websocket',
      );
    }
    throw new HandshakeError(status, `Unexpected server response: ${status}${reason}`);
  }
  const headers = response.headers;
  // RFC 6455 section 4.1: the Upgrade value is `websocket`, not a list that contains it
  // (`websocket, h2c`, or a second Upgrade line): the server switched to one protocol.
  const upgrade = parseTokenList(header(headers, 'upgrade') ?? '');
  if (upgrade.length !== 1 || upgrade[0] !== 'websocket') {
    throw new HandshakeError(status, "Invalid 'Upgrade' header value; expected 'websocket'");
  }
  if (!hasToken(header(headers, 'connection'), 'upgrade')) {
    throw new HandshakeError(status, "Invalid 'Connection' header value; expected 'Upgrade'");
  }
  if (header(headers, 'sec-websocket-accept') !== computeAccept(offered.key)) {
    throw new HandshakeError(status, "Incorrect 'Sec-WebSocket-Accept' header value");
  }
  const protocol = header(headers, 'sec-websocket-protocol') ?? '';
  if (protocol !== '') {
    if (!offered.protocols.includes(protocol)) {
      throw new HandshakeError(status, `Server selected a subprotocol that was not offered: ${protocol}`);
    }
  } else if (offered.protocols.length > 0) {
    throw new HandshakeError(status, 'Server sent no subprotocol');
  }
  const extensionHeader = header(headers, 'sec-websocket-extensions');
  let extensions: ExtensionOffer[] = [];
  if (extensionHeader !== undefined) {
    try {
      extensions = parseExtensions(extensionHeader);
    } catch (error) {
      throw new HandshakeError(
        status,
        `Invalid 'Sec-WebSocket-Extensions' header: ${(error as Error).message}`,
      );
    }
    const seen = new Set<string>();
    for (const extension of extensions) {
      if (!offered.extensions.includes(extension.name)) {
        throw new HandshakeError(
          status,
          `Server accepted an extension that was not offered: ${extension.name}`,
        );
      }
      if (seen.has(extension.name)) {
        throw new HandshakeError(status, `Server accepted extension ${extension.name} more than once`);
      }
      seen.add(extension.name);
    }
  }
  return { protocol, extensions };
}

/**
 * Parse a comma-separated list of tokens (`Connection`, `Upgrade`), lower-cased. Empty
 * elements are skipped (RFC 9110 section 5.6.1).
 */
export function parseTokenList(value: string): string[] {
  const tokens: string[] = [];
  for (const part of value.split(',')) {
    const token = part.trim();
    if (token !== '') tokens.push(token.toLowerCase());
  }
  return tokens;
}

/**
 * Parse `Sec-WebSocket-Protocol`: comma-separated tokens, kept in order, case preserved
 * (subprotocol names are case-sensitive). One pass, no regular expression. Empty list
 * elements (`chat,`, `chat,,x`) are skipped (RFC 9110 section 5.6.1), but the list must
 * name at least one subprotocol.
 * @throws SyntaxError on an invalid or repeated token, or a list without one
 */
export function parseProtocols(value: string): string[] {
  const protocols: string[] = [];
  const seen = new Set<string>();
  let start = -1;
  let end = -1;
  for (let i = 0; i <= value.length; i++) {
    const c = i === value.length ? 0x2c : value.charCodeAt(i);
    if (c === 0x20 || c === 0x09) {
      if (start !== -1 && end === -1) end = i;
    } else if (c === 0x2c) {
      if (start === -1) continue; // an empty element
      const protocol = value.slice(start, end === -1 ? i : end);
      if (seen.has(protocol)) throw new SyntaxError(`subprotocol ${protocol} repeated`);
      seen.add(protocol);
      protocols.push(protocol);
      start = -1;
      end = -1;
    } else if (isTokenChar(c)) {
      if (end !== -1) throw new SyntaxError(`unexpected character at index ${i}`);
      if (start === -1) start = i;
    } else {
      throw new SyntaxError(`unexpected character at index ${i}`);
    }
  }
  if (protocols.length === 0) throw new SyntaxError('no subprotocol in the list');
  return protocols;
}

/**
 * Parse `Sec-WebSocket-Extensions` (RFC 6455 section 9.1):
 * `extension *( "," extension )`, `extension = token *( ";" token [ "=" ( token / quoted-string ) ] )`.
 * A character-by-character state machine in one pass, as `ws` learned to do after the 2021
 * ReDoS: a megabyte of hostile input costs a megabyte of steps. Empty list elements
 * (`a,`, `a,,b`) are skipped (RFC 9110 section 5.6.1), but the list must name at least one
 * extension.
 * @throws SyntaxError at the first character that does not fit the grammar, or on a list
 * without an extension
 */
export function parseExtensions(value: string): ExtensionOffer[] {
  const offers: ExtensionOffer[] = [];
  let offer: ExtensionOffer | null = null;
  let paramName = '';
  // 0 extension name, 1 parameter name, 2 parameter value (token), 3 quoted value, 4 after a quoted value
  let state = 0;
  let start = -1;
  let end = -1;
  let quoted = '';
  let escaped = false;
  const fail = (i: number): never => {
    throw new SyntaxError(
      i === value.length ? 'unexpected end of header' : `unexpected character at index ${i}`,
    );
  };
  const finishParam = (paramValue: string | true) => {
    offer!.params.push([paramName, paramValue]);
  };
  for (let i = 0; i <= value.length; i++) {
    const atEnd = i === value.length;
    const c = atEnd ? 0x2c : value.charCodeAt(i);
    if (state === 3) {
      if (atEnd) fail(i);
      if (escaped) {
        if (!isTokenChar(c)) fail(i);
        quoted += value[i];
        escaped = false;
      } else if (c === 0x5c) {
        escaped = true;
      } else if (c === 0x22) {
        if (quoted === '') fail(i);
        finishParam(quoted);
        state = 4;
      } else if (isTokenChar(c)) {
        quoted += value[i];
      } else {
        fail(i);
      }
      continue;
    }
    if (c === 0x20 || c === 0x09) {
      if (start !== -1 && end === -1) end = i;
      continue;
    }
    if (isTokenChar(c)) {
      if (state === 4 || end !== -1) fail(i);
      if (start === -1) start = i;
      continue;
    }
    const token = start === -1 ? '' : value.slice(start, end === -1 ? i : end);
    start = -1;
    end = -1;
    if (state === 0) {
      if (token === '' && c === 0x2c) continue; // an empty element
      if (token === '' || (c !== 0x3b && c !== 0x2c)) fail(i);
      offer = { name: token, params: [] };
      offers.push(offer);
      state = c === 0x3b ? 1 : 0;
    } else if (state === 1) {
      if (token === '') fail(i);
      paramName = token;
      if (c === 0x3d) {
        state = 2;
      } else if (c === 0x3b || c === 0x2c) {
        finishParam(true);
        state = c === 0x3b ? 1 : 0;
      } else {
        fail(i);
      }
    } else if (state === 2) {
      if (token === '') {
        if (c !== 0x22) fail(i);
        quoted = '';
        state = 3;
        continue;
      }
      if (c !== 0x3b && c !== 0x2c) fail(i);
      finishParam(token);
      state = c === 0x3b ? 1 : 0;
    } else {
      // state 4: after a quoted value only ";" or "," may follow
      if (token !== '' || (c !== 0x3b && c !== 0x2c)) fail(i);
      state = c === 0x3b ? 1 : 0;
    }
  }
  if (offers.length === 0) throw new SyntaxError('no extension in the list');
  return offers;
}

/** Format extensions for a `Sec-WebSocket-Extensions` header (the inverse of {@link parseExtensions}). */
export function formatExtensions(extensions: readonly ExtensionOffer[]): string {
  return extensions
    .map(({ name, params }) =>
      [name, ...params.map(([key, value]) => (value === true ? key : `${key}=${value}`))].join('; '),
    )
    .join(', ');
}

/** One header's value as a string (arrays joined with ", "), or undefined. */
function header(headers: HeaderMap, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : value.join(', ');
}

/** Whether a comma-separated token list contains `token` (case-insensitive). */
function hasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  // A value as long as the token (`Upgrade`, `websocket`: what most clients send) holds
  // it only as its whole self: compared without building the list (the common case).
  if (value.length === token.length) return value.toLowerCase() === token;
  return parseTokenList(value).includes(token);
}

function formatHeaders(headers: Readonly<Record<string, string>> | undefined): string {
  if (headers === undefined) return '';
  let out = '';
  for (const [name, value] of Object.entries(headers)) {
    if (!isToken(name) || !isFieldValue(value)) throw new TypeError(`invalid header ${JSON.stringify(name)}`);
    out += `${name}: ${value}\r\n`;
  }
  return out;
}
