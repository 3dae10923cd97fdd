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

/**
 * Collects an HTTP/1.x head (request or response) from chunks and parses it, with hard
 * bounds: more than `maxBytes` before the blank line is refused (431) as soon as the
 * bound is passed, without buffering the rest; more than `maxHeaders` fields is 431;
 * anything malformed is 400. Parsing is a single pass over the bytes, so hostile input
 * costs linear time.
 */
export class HttpHeadParser<T extends RequestHead | ResponseHead> {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  /** The last bytes received (up to 3) and room for 3 more: a CRLFCRLF may straddle chunks. */
  private readonly tail = Buffer.alloc(6);
  private tailLength = 0;
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

  /** Bytes collected so far. */
  get bytesReceived(): number {
    return this.size;
  }

  /**
   * Add received bytes. Returns the parsed head and the bytes after it once the blank line
   * has arrived, or null while more is needed.
   * @throws {@link HandshakeError} with 431 (too large) or 400 (malformed)
   */
  push(chunk: Buffer): ParsedHead<T> | null {
    const previous = this.size;
    // The blank line may straddle chunks: probe the carried tail plus this chunk's start.
    let end = -1;
    if (this.tailLength > 0) {
      this.tail.set(chunk.subarray(0, 3), this.tailLength);
      const probe = this.tail.subarray(0, this.tailLength + Math.min(3, chunk.length));
      const at = probe.indexOf(CRLFCRLF);
      if (at !== -1) end = previous - this.tailLength + at;
    }
    if (end === -1) {
      const at = chunk.indexOf(CRLFCRLF);
      if (at !== -1) end = previous + at;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (end === -1) {
      if (this.size > this.maxBytes) throw new HandshakeError(431, 'request header fields too large');
      this.keepTail(chunk);
      return null;
    }
    const headLength = end + 4;
    if (headLength > this.maxBytes) throw new HandshakeError(431, 'request header fields too large');
    const joined = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks, this.size);
    this.chunks.length = 0;
    const text = joined.toString('latin1', 0, end);
    const head = (this.kind === 'request' ? this.parseRequest(text) : this.parseResponse(text)) as T;
    return { head, rest: joined.subarray(headLength) };
  }

  /** Remember the last three bytes received, for the straddling probe. */
  private keepTail(chunk: Buffer): void {
    if (chunk.length >= 3) {
      chunk.copy(this.tail, 0, chunk.length - 3);
      this.tailLength = 3;
      return;
    }
    const keep = Math.min(3 - chunk.length, this.tailLength);
    this.tail.copyWithin(0, this.tailLength - keep, this.tailLength);
    chunk.copy(this.tail, keep);
    this.tailLength = keep + chunk.length;
  }

  private parseRequest(text: string): RequestHead {
    const lineEnd = text.indexOf('\r\n');
    const line = lineEnd === -1 ? text : text.slice(0, lineEnd);
    const firstSpace = line.indexOf(' ');
    const lastSpace = line.lastIndexOf(' ');
    if (firstSpace <= 0 || lastSpace === firstSpace) throw new HandshakeError(400, 'malformed request line');
    const method = line.slice(0, firstSpace);
    const target = line.slice(firstSpace + 1, lastSpace);
    const version = line.slice(lastSpace + 1);
    if (!isToken(method) || target === '' || target.includes(' '))
      throw new HandshakeError(400, 'malformed request line');
    const httpVersion = parseVersion(version, 400);
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
      const value = trimOws(text.slice(colon + 1, next));
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

/** `status` is 400 for a request we answer, 0 for a response (the server never sent a usable status). */
function parseVersion(version: string, status: number): string {
  if (!/^HTTP\/[0-9]\.[0-9]$/.test(version)) throw new HandshakeError(status, 'malformed HTTP version');
  return version.slice(5);
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

function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && (value.charCodeAt(start) === 0x20 || value.charCodeAt(start) === 0x09)) start++;
  while (end > start && (value.charCodeAt(end - 1) === 0x20 || value.charCodeAt(end - 1) === 0x09)) end--;
  return value.slice(start, end);
}
