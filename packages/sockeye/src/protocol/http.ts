import { HandshakeError } from './errors.js';
import { DEFAULT_MAX_HANDSHAKE_BYTES, DEFAULT_MAX_HANDSHAKE_HEADERS } from './limits.js';

/**
 * Header fields by lower-case name. Repeated fields are joined with ", " (RFC 9110
 * section 5.3), which is what Node's `IncomingMessage.headers` does for the fields a
 * WebSocket handshake uses; an array is accepted too.
 */
export type HeaderMap = Readonly<Record<string, string | readonly string[] | undefined>>;

/** A parsed HTTP/1.x request head. */
export interface RequestHead {
  /** The method, as sent (methods are case-sensitive). */
  method: string;
  /** The request target (path and query). */
  target: string;
  /** `"1.1"`, `"1.0"`, ... */
  httpVersion: string;
  /** Header fields by lower-case name; repeats joined with ", ". */
  headers: Record<string, string>;
}

/** A parsed HTTP/1.x response head. */
export interface ResponseHead {
  /** `"1.1"`, `"1.0"`, ... */
  httpVersion: string;
  /** The status code. */
  statusCode: number;
  /** The reason phrase. */
  statusMessage: string;
  /** Header fields by lower-case name; repeats joined with ", ". */
  headers: Record<string, string>;
}

/** Options of {@link HttpHeadParser}. */
export interface HttpHeadParserOptions {
  /** Largest head in bytes (start line, fields, final CRLF). @defaultValue 16 KiB */
  maxBytes?: number;
  /** Most header fields. @defaultValue 100 */
  maxHeaders?: number;
}

/** What {@link HttpHeadParser.push} returns once the head is complete. */
export interface ParsedHead<T> {
  /** The head. */
  head: T;
  /** Bytes that followed the head in the same chunk (the first WebSocket frames, say). */
  rest: Buffer;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
/** The bytes after a head that nothing followed (zero bytes: nobody can change it). */
const NOTHING = Buffer.alloc(0);

/**
 * Collects an HTTP/1.x head (request or response) from chunks and parses it, with hard
 * bounds: more than `maxBytes` before the blank line is refused (431) as soon as the
 * bound is passed, without buffering the rest; more than `maxHeaders` fields is 431;
 * anything malformed is 400, a request that does not start like HTTP/1.x (a TLS
 * ClientHello, say) as soon as its first byte arrives. Parsing is a single pass over the
 * bytes, so hostile input costs linear time.
 *
 * Memory: a head that arrives in one chunk (the usual case) is parsed in place. One that
 * arrives in pieces is copied into a single buffer that grows by doubling up to
 * `maxBytes`, so a head trickled one byte per read holds at most `maxBytes` (plus the
 * doubling slack), not one `Buffer` object per read.
 */
export class HttpHeadParser<T extends RequestHead | ResponseHead> {
  /** The head so far, when it arrived in more than one chunk; `size` bytes of it are used. */
  private buffer: Buffer | null = null;
  private size = 0;
  private readonly maxBytes: number;
  private readonly maxHeaders: number;

  /**
   * @param kind - parse a request (server side) or a response (client side)
   */
  constructor(
    private readonly kind: T extends RequestHead ? 'request' : 'response',
    options: HttpHeadParserOptions = {},
  ) {
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_HANDSHAKE_BYTES;
    this.maxHeaders = options.maxHeaders ?? DEFAULT_MAX_HANDSHAKE_HEADERS;
  }

  /** Bytes collected so far (never more than `maxBytes`). */
  get bytesReceived(): number {
    return this.size;
  }

  /** Bytes of memory the parser holds for the head so far (its buffer's capacity). */
  get bytesHeld(): number {
    return this.buffer?.length ?? 0;
  }

  /**
   * Add received bytes. Returns the parsed head and the bytes after it once the blank line
   * has arrived, or null while more is needed.
   * @throws {@link HandshakeError} with 431 (too large) or 400 (malformed)
   */
  push(chunk: Buffer): ParsedHead<T> | null {
    const previous = this.size;
    if (previous === 0 && chunk.length > 0 && this.kind === 'request') checkRequestStart(chunk[0]!);
    if (previous === 0) {
      // Fast path: the whole head in one chunk is parsed where it lies, without a copy.
      const at = chunk.indexOf(CRLFCRLF);
      if (at !== -1) {
        // Nothing after the head (the usual request): one shared empty Buffer, not a view per handshake.
        const rest = at + 4 === chunk.length ? NOTHING : chunk.subarray(at + 4);
        return this.complete(chunk, at, rest);
      }
      if (chunk.length > this.maxBytes) throw new HandshakeError(431, 'request header fields too large');
    }
    // Copy no more than the bound allows: what lies beyond it can only be a 431.
    const take = Math.min(chunk.length, this.maxBytes - previous);
    const buffer = this.reserve(previous + take);
    chunk.copy(buffer, previous, 0, take);
    this.size = previous + take;
    // The blank line may straddle chunks: search from 3 bytes before this chunk.
    const at = buffer.subarray(0, this.size).indexOf(CRLFCRLF, Math.max(0, previous - 3));
    if (at === -1) {
      if (take < chunk.length) throw new HandshakeError(431, 'request header fields too large');
      // A line ended by a bare LF means the blank line we wait for will never come as CRLF
      // CRLF: refuse now rather than hold the connection until the bound or the timeout.
      if (hasBareLf(buffer, previous, this.size))
        throw this.malformed('a line ended by a bare LF (not CRLF)');
      return null;
    }
    const rest = chunk.subarray(at + 4 - previous);
    this.buffer = null;
    return this.complete(buffer, at, rest);
  }

  /** A buffer of at least `needed` bytes holding what was collected (grown by doubling, capped at `maxBytes`). */
  private reserve(needed: number): Buffer {
    const current = this.buffer;
    if (current !== null && current.length >= needed) return current;
    const capacity = Math.min(this.maxBytes, Math.max(needed, 2 * (current?.length ?? 0), 1024));
    const grown = Buffer.allocUnsafe(capacity);
    if (current !== null) current.copy(grown, 0, 0, this.size);
    this.buffer = grown;
    return grown;
  }

  /** The blank line starts at `end` in `bytes`: check the bound and parse. */
  private complete(bytes: Buffer, end: number, rest: Buffer): ParsedHead<T> {
    if (end + 4 > this.maxBytes) throw new HandshakeError(431, 'request header fields too large');
    this.size = end + 4;
    const text = bytes.toString('latin1', 0, end);
    const head = (this.kind === 'request' ? this.parseRequest(text) : this.parseResponse(text)) as T;
    return { head, rest };
  }

  private parseRequest(text: string): RequestHead {
    // RFC 9112 section 2.2: a server SHOULD ignore at least one empty line before the
    // request line (some clients send a CRLF after a POST body). One, not any number.
    const start = text.startsWith('\r\n') ? 2 : 0;
    const lineEnd = text.indexOf('\r\n', start);
    // The request line's parts are cut out of the head by index (no copy of the line first).
    const end = lineEnd === -1 ? text.length : lineEnd;
    const firstSpace = text.indexOf(' ', start);
    const lastSpace = text.lastIndexOf(' ', end - 1);
    if (firstSpace <= start || firstSpace >= end || lastSpace === firstSpace) {
      throw new HandshakeError(400, 'malformed request line');
    }
    const method = text.slice(start, firstSpace);
    const target = text.slice(firstSpace + 1, lastSpace);
    if (!isToken(method)) throw new HandshakeError(400, 'malformed request line');
    // RFC 9112 section 3.2: the request-target is visible ASCII (RFC 3986), so a NUL, a
    // bare CR or LF, DEL, ESC or a space in it is malformed, never passed on.
    if (!isRequestTarget(target) || !hasTargetForm(target, method)) {
      throw new HandshakeError(400, 'malformed request target');
    }
    // The version every client sends, without a copy or the regular expression.
    const httpVersion =
      end - lastSpace === 9 && text.startsWith('HTTP/1.1', lastSpace + 1)
        ? '1.1'
        : parseVersion(text.slice(lastSpace + 1, end), 400);
    return { method, target, httpVersion, headers: this.parseFields(text, lineEnd) };
  }

  private parseResponse(text: string): ResponseHead {
    const lineEnd = text.indexOf('\r\n');
    const line = lineEnd === -1 ? text : text.slice(0, lineEnd);
    const firstSpace = line.indexOf(' ');
    if (firstSpace === -1) throw new HandshakeError(0, 'malformed status line');
    const httpVersion = parseVersion(line.slice(0, firstSpace), 0);
    const code = line.slice(firstSpace + 1, firstSpace + 4);
    if (!/^[1-5][0-9][0-9]$/.test(code) || (line.length > firstSpace + 4 && line[firstSpace + 4] !== ' ')) {
      throw new HandshakeError(0, 'malformed status line');
    }
    const statusMessage = line.slice(firstSpace + 5);
    // RFC 9112 section 4: reason-phrase = *( HTAB / SP / VCHAR / obs-text ).
    if (!isFieldValue(statusMessage)) throw new HandshakeError(0, 'malformed status line');
    return { httpVersion, statusCode: Number(code), statusMessage, headers: this.parseFields(text, lineEnd) };
  }

  /** Parse the header fields that follow the start line (RFC 9112 section 5). */
  private parseFields(text: string, lineEnd: number): Record<string, string> {
    const headers: Record<string, string> = Object.create(null);
    let count = 0;
    let pos = lineEnd === -1 ? text.length : lineEnd + 2;
    while (pos < text.length) {
      let next = text.indexOf('\r\n', pos);
      if (next === -1) next = text.length;
      const colon = text.indexOf(':', pos);
      if (colon === -1 || colon > next || colon === pos) throw this.malformed('malformed header field');
      if (++count > this.maxHeaders)
        throw new HandshakeError(431, `more than ${this.maxHeaders} header fields`);
      const name = text.slice(pos, colon);
      // No whitespace before the colon and no obsolete line folding: both enable request smuggling.
      if (!isToken(name)) throw this.malformed(`malformed header field name`);
      // The value without its optional whitespace, cut out once (not sliced, then trimmed).
      let valueStart = colon + 1;
      let valueEnd = next;
      while (valueStart < valueEnd && isOws(text.charCodeAt(valueStart))) valueStart++;
      while (valueEnd > valueStart && isOws(text.charCodeAt(valueEnd - 1))) valueEnd--;
      const value = text.slice(valueStart, valueEnd);
      if (!isFieldValue(value)) throw this.malformed(`invalid characters in header field ${name}`);
      const key = name.toLowerCase();
      const existing = headers[key];
      if (existing === undefined) headers[key] = value;
      else if (key === 'host' && this.kind === 'request')
        throw this.malformed('more than one Host header field');
      else headers[key] = `${existing}, ${value}`;
      pos = next + 2;
    }
    return headers;
  }

  private malformed(message: string): HandshakeError {
    return new HandshakeError(this.kind === 'request' ? 400 : 0, message);
  }
}

/** Whether an LF not preceded by CR lies in `bytes[from, to)`. */
function hasBareLf(bytes: Buffer, from: number, to: number): boolean {
  const view = bytes.subarray(0, to);
  for (let lf = view.indexOf(0x0a, from); lf !== -1; lf = view.indexOf(0x0a, lf + 1)) {
    if (lf === 0 || view[lf - 1] !== 0x0d) return true;
  }
  return false;
}

/** The TLS record type of a handshake message: the first byte of a ClientHello. */
const TLS_HANDSHAKE_RECORD = 0x16;

/**
 * A request starts with a method (a token) or the one empty line RFC 9112 2.2 lets us skip:
 * any other first byte is not HTTP/1.x, and waiting for a blank line that will never come
 * would hold the connection until the handshake timeout. A TLS ClientHello (a `wss:` client
 * at a plain port) is the common case and gets a message of its own.
 */
function checkRequestStart(first: number): void {
  if (first === TLS_HANDSHAKE_RECORD) {
    throw new HandshakeError(400, 'a TLS handshake on a plain-text port: this endpoint is ws:, not wss:');
  }
  if (first !== 0x0d && !isTokenCode(first)) throw new HandshakeError(400, 'not an HTTP/1.x request');
}

/** `status` is 400 for a request we answer, 0 for a response (the server never sent a usable status). */
function parseVersion(version: string, status: number): string {
  if (!/^HTTP\/[0-9]\.[0-9]$/.test(version)) throw new HandshakeError(status, 'malformed HTTP version');
  return version.slice(5);
}

/** Whether `target` is a non-empty run of visible ASCII (0x21 to 0x7E): what RFC 9112 3.2 allows in a request-target. */
function isRequestTarget(target: string): boolean {
  if (target.length === 0) return false;
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/**
 * Whether `target` has one of the four forms of RFC 9112 section 3.2: origin-form (`/path`),
 * absolute-form (`scheme://...`), asterisk-form (`*`), or authority-form (`host:port`, for
 * CONNECT only). `chat` or `../x` is none of them.
 */
function hasTargetForm(target: string, method: string): boolean {
  if (target.charCodeAt(0) === 0x2f || target === '*') return true;
  if (method === 'CONNECT') return true;
  return /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(target);
}

/** RFC 9110 token characters: ! # $ % & ' * + - . ^ _ ` | ~ DIGIT ALPHA. */
const TOKEN_CHARS = (() => {
  const table = new Uint8Array(128);
  for (const ch of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
    table[ch.charCodeAt(0)] = 1;
  }
  return table;
})();

/** Whether the character code `c` may appear in an RFC 9110 token. */
export function isTokenCode(c: number): boolean {
  return c < 128 && TOKEN_CHARS[c] === 1;
}

/** Whether `text` is a non-empty RFC 9110 token. */
export function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || TOKEN_CHARS[c] === 0) return false;
  }
  return true;
}

/** Whether `value` may be a header field value: visible characters, spaces, tabs, obs-text; no CR, LF or NUL. */
export function isFieldValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) return false;
  }
  return true;
}

/** Whether `c` is optional whitespace (RFC 9110 section 5.6.3: SP or HTAB). */
function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}
