/**
 * The HTTP transports of sessions, client side: a link over Server-Sent Events with POST,
 * or over long-polling, with the shape of a `WebSocket` (`send`, `close`, `onopen`,
 * `onmessage`, `onerror`, `onclose`), so that the reconnecting client drives it as it
 * drives a WebSocket. Browser-safe: `fetch`, `AbortController`, `TextDecoder` and
 * timers only (global in browsers and in Node 18+).
 * @module
 */
import type { WebSocketLike } from './client.js';
import { decodeLine, encodeFrameLine } from './http-lines.js';
import { SESSION_PROTOCOL, type WireMessage } from './wire.js';

/** The `fetch` function the HTTP links use (the global one by default). */
export type FetchFunction = (input: string, init?: RequestInit) => Promise<Response>;

/** Options of {@link HttpSessionLink}. */
export interface HttpSessionLinkOptions {
  /** @defaultValue `globalThis.fetch` */
  fetch?: FetchFunction;
  /** Largest POST body the client builds, in bytes (frames beyond wait for the next POST). @defaultValue 256 KiB */
  maxPostBytes?: number;
}

/** Longest line taken from a server, in UTF-16 units (a 16 MiB frame in base64 fits). */
const MAX_LINE = 32 * 1024 * 1024;

/**
 * Largest poll answer taken from a server, in bytes: two of the longest lines. A sockeye
 * server answers a poll with what is pending for the link, which it bounds by its
 * `maxBufferedBytes` (1 MiB by default); a larger answer (or one that never ends) fails
 * the link with 1009 rather than grow the client without bound.
 * @internal
 */
export const MAX_POLL_ANSWER_BYTES = 2 * MAX_LINE;

/** A POST without an answer for this long failed (and is sent again), in ms. */
const POST_TIMEOUT = 30_000;
/** The most a browser lets `keepalive` requests carry at once. */
const KEEPALIVE_BYTES = 64 * 1024;

/** What a link's `onclose` receives. */
type CloseLike = Event & { code?: number; reason?: string; wasClean?: boolean };

/**
 * One link of an HTTP transport, shaped like a `WebSocket` that speaks
 * `sockeye.session.v1`. It "opens" at once; its first `send()` must be the session's
 * hello, which opens the link on the server (the SSE stream, or the first poll). Frames
 * up go in POSTs, one at a time and in order (a POST that fails is sent again with the
 * same numbering; the server skips what it already took). Any failure of the link closes
 * it with 1006; the session resumes on the next.
 */
export class HttpSessionLink implements WebSocketLike {
  /** Always `sockeye.session.v1`: the link speaks nothing else. */
  readonly protocol = SESSION_PROTOCOL;
  /** Binary frames are delivered as `ArrayBuffer`s whatever this says (kept for the `WebSocket` shape). */
  binaryType = 'arraybuffer';
  /** Called once, at once: an HTTP link has no handshake of its own (the hello opens it). */
  onopen: ((event: Event) => void) | null = null;
  /** Called for each session frame from the server (`data`: a string, or an `ArrayBuffer` for binary). */
  onmessage: ((event: MessageEvent) => void) | null = null;
  /** Called when the server refused the link with 401 or 403 (`error.status`), before `onclose`. */
  onerror: ((event: Event) => void) | null = null;
  /** Called once when the link ends: the server's close line's code and reason, or 1006. */
  onclose: ((event: CloseLike) => void) | null = null;

  readonly #url: URL;
  readonly #transport: 'sse' | 'long-polling';
  readonly #fetch: FetchFunction;
  readonly #maxPostBytes: number;
  readonly #abort = new AbortController();
  #opened = false;
  #closed = false;
  #linkId = '';
  /** Lines waiting for a POST. */
  #outbox: string[] = [];
  /** Frames the server has taken from this link's POSTs. */
  #posted = 0;
  #posting = false;
  /** Lines received on a long-polling link (the next poll's `since`). */
  #linesReceived = 0;

  /**
   * @param url - the session endpoint, `http:` or `https:`
   * @param transport - `sse` or `long-polling`
   * @param options - see {@link HttpSessionLinkOptions}
   */
  constructor(url: string, transport: 'sse' | 'long-polling', options: HttpSessionLinkOptions = {}) {
    this.#url = new URL(url);
    this.#transport = transport;
    const fetchFn = options.fetch ?? (globalThis as { fetch?: FetchFunction }).fetch;
    if (fetchFn === undefined) throw new TypeError('no fetch function: pass options.fetch');
    // Called on its own, never as a method of this object: a browser's `fetch` throws
    // "Illegal invocation" when `this` is not the window.
    this.#fetch = (input, init) => fetchFn(input, init);
    this.#maxPostBytes = options.maxPostBytes ?? 256 * 1024;
    // Opens "at once", as a WebSocket whose handshake succeeded: the hello does the rest.
    setTimeout(() => {
      if (!this.#closed) this.onopen?.(new Event('open'));
    }, 0);
  }

  /** The link id the server gave ('' until the first line arrived). */
  get linkId(): string {
    return this.#linkId;
  }

  /**
   * Send one session frame: the first must be the hello (it opens the link); the others
   * go up in POSTs, in order.
   * @throws DOMException `InvalidStateError` once the link is closed (as a closed
   *   `WebSocket` would, in shape); TypeError for a first frame that is not text
   */
  send(data: string | ArrayBufferView | ArrayBuffer): void {
    if (this.#closed) throw new DOMException('the link is closed', 'InvalidStateError');
    const frame: WireMessage =
      typeof data === 'string'
        ? data
        : data instanceof ArrayBuffer
          ? new Uint8Array(data)
          : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (!this.#opened) {
      // The first frame is the hello: it opens the link.
      this.#opened = true;
      if (typeof frame !== 'string') throw new TypeError('the first frame must be the hello');
      void this.#run(frame);
      return;
    }
    this.#outbox.push(encodeFrameLine(frame));
    this.#pump();
  }

  /**
   * End the link: what waits to go up is sent in a last POST, the stream or poll is
   * aborted once the server answered it, and `onclose` is called at once with `code`
   * and `reason`.
   */
  close(code = 1000, reason = ''): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#linkId !== '' && this.#outbox.length > 0) {
      // The stream (or poll) stays until the server answered: the server ends a link
      // whose stream closed, and a POST arriving after that would find no link.
      void this.#postLast(this.#outbox.slice(), this.#posted).finally(() => this.#abort.abort());
    } else {
      this.#abort.abort();
    }
    this.#closeEvent(code, reason, true);
  }

  /**
   * Ask the server to end this link and keep the session in its store, before the
   * session moves to another link (which may reach another process). Resolves when the
   * server answered, failed, or `timeout` ms passed; the link ends either way.
   */
  async release(timeout: number): Promise<void> {
    if (this.#linkId === '' || this.#closed) return;
    const url = new URL(this.#url);
    url.searchParams.set('link', this.#linkId);
    url.searchParams.set('release', '1');
    try {
      const response = await this.#fetch(url.href, {
        method: 'POST',
        body: '',
        signal: AbortSignal.timeout(timeout),
      });
      await response.body?.cancel();
    } catch {
      // The session moves anyway: at worst the next link finds it later, or starts anew.
    }
  }

  // ---- down: the SSE stream or the polls ----

  async #run(hello: string): Promise<void> {
    const url = new URL(this.#url);
    url.searchParams.set('transport', this.#transport);
    url.searchParams.set('hello', hello);
    try {
      if (this.#transport === 'sse') await this.#stream(url.href);
      else await this.#poll(url.href, true);
    } catch {
      // The network failed, or the link was closed (aborted): either way it is over.
    }
    this.#fail(1006, 'link lost');
  }

  async #stream(url: string): Promise<void> {
    const response = await this.#fetch(url, {
      headers: { accept: 'text/event-stream' },
      cache: 'no-store',
      signal: this.#abort.signal,
    });
    if (!this.#accepted(response, 'text/event-stream')) return;
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let data: string[] = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done || this.#closed) return;
      buffer += value;
      // SSE lines end with CR LF, LF or CR; the server writes LF.
      let end = buffer.search(/[\r\n]/);
      while (end !== -1) {
        const line = buffer.slice(0, end);
        const skip = buffer[end] === '\r' && buffer[end + 1] === '\n' ? 2 : 1;
        if (buffer[end] === '\r' && end + 1 === buffer.length) break; // maybe CR LF split
        buffer = buffer.slice(end + skip);
        if (line === '') {
          if (data.length > 0 && !this.#line(data.join('\n'))) return;
          data = [];
        } else if (line.startsWith('data:')) {
          data.push(line.charCodeAt(5) === 0x20 ? line.slice(6) : line.slice(5));
          // A sockeye server sends one data line per event.
          if (data.length > 1) return;
        }
        // `:` comments (heartbeats), `id:` and `retry:` are for an `EventSource`.
        end = buffer.search(/[\r\n]/);
      }
      if (buffer.length > MAX_LINE) return; // a line without end: not a sockeye server
    }
  }

  async #poll(url: string, opening: boolean): Promise<void> {
    let next = url;
    let first = opening;
    while (!this.#closed) {
      const response = await this.#fetch(next, { cache: 'no-store', signal: this.#abort.signal });
      if (!this.#accepted(response, 'text/plain')) return;
      const body = await readBounded(response, MAX_POLL_ANSWER_BYTES);
      if (body === null) return this.#fail(1009, 'poll answer too large');
      for (const line of body.split('\n')) {
        if (line === '') continue;
        const isLinkLine = first && line.startsWith('l ');
        if (!isLinkLine) this.#linesReceived++;
        if (!this.#line(line)) return;
      }
      if (first && this.#linkId === '') return;
      first = false;
      const poll = new URL(this.#url);
      poll.searchParams.set('link', this.#linkId);
      poll.searchParams.set('since', String(this.#linesReceived));
      next = poll.href;
    }
  }

  /** Whether the answer is the stream or the poll answer; otherwise the link fails (401 and 403 say so). */
  #accepted(response: Response, type: string): boolean {
    if (response.ok && (response.headers.get('content-type') ?? '').startsWith(type)) return true;
    if (response.status === 401 || response.status === 403) {
      // As sockeye's WebSocket reports a refused handshake: the reconnecting client stops.
      this.onerror?.(Object.assign(new Event('error'), { error: { status: response.status } }));
    }
    void response.body?.cancel().catch(() => undefined);
    return false;
  }

  /** One line from the server. @returns false when the link is over */
  #line(text: string): boolean {
    if (this.#closed) return false;
    let line: ReturnType<typeof decodeLine>;
    try {
      line = decodeLine(text);
    } catch {
      this.#fail(1002, 'malformed line');
      return false;
    }
    switch (line.type) {
      case 'link':
        if (this.#linkId === '') {
          this.#linkId = line.id;
          this.#pump();
        }
        return true;
      case 'close':
        this.#fail(line.code, line.reason, true);
        return false;
      case 'frame': {
        const data = typeof line.frame === 'string' ? line.frame : (line.frame.slice().buffer as ArrayBuffer);
        this.onmessage?.(new MessageEvent('message', { data }));
        return !this.#closed;
      }
    }
  }

  // ---- up: POSTs ----

  #postUrl(from: number): string {
    const url = new URL(this.#url);
    url.searchParams.set('link', this.#linkId);
    url.searchParams.set('from', String(from));
    return url.href;
  }

  /** Send what waits in one POST at a time, in order. */
  #pump(): void {
    if (this.#posting || this.#closed || this.#linkId === '' || this.#outbox.length === 0) return;
    this.#posting = true;
    void this.#postLoop().finally(() => {
      this.#posting = false;
    });
  }

  async #postLoop(): Promise<void> {
    let retries = 0;
    while (!this.#closed && this.#outbox.length > 0) {
      const n = this.#batchLength(this.#outbox, 0);
      const batch = this.#outbox.slice(0, n);
      let response: Response;
      try {
        // Not aborted by close(): the last POST may carry the `x` that ends the session.
        response = await this.#fetch(this.#postUrl(this.#posted), {
          method: 'POST',
          // text/plain: a "simple" request, no CORS preflight.
          headers: { 'content-type': 'text/plain;charset=UTF-8' },
          body: batch.join('\n'),
          signal: AbortSignal.timeout(POST_TIMEOUT),
        });
        void response.body?.cancel().catch(() => undefined);
      } catch {
        // The POST may or may not have arrived: sending it again is safe (the server
        // skips frames it took), a few times; then the link is given up.
        if (this.#closed || ++retries > 2) return this.#fail(1006, 'post failed');
        continue;
      }
      if (response.status === 429) {
        const wait = Number(response.headers.get('retry-after') ?? '1');
        await new Promise((resolve) => setTimeout(resolve, Math.min(Math.max(wait, 0.05), 30) * 1000));
        continue;
      }
      if (!response.ok)
        return this.#fail(response.status === 400 ? 1002 : 1006, `post refused: ${response.status}`);
      retries = 0;
      this.#posted += n;
      this.#outbox.splice(0, n);
    }
  }

  /** How many lines from `start` one POST carries: at least one, then up to `maxPostBytes`. */
  #batchLength(lines: readonly string[], start: number): number {
    let size = 0;
    let n = 0;
    while (start + n < lines.length && (n === 0 || size + lines[start + n]!.length < this.#maxPostBytes)) {
      size += lines[start + n]!.length + 1;
      n++;
    }
    return n;
  }

  /**
   * The last POSTs, after `close()`: what waited to go up (an `x` ending the session, an
   * acknowledgement), numbered from `from`, one POST after another, each tried once.
   * The lines of a POST still in flight are among them: the server skips frames it took,
   * so it does not matter which arrives first (sent after it, numbered past it, they
   * could arrive first and be refused as a gap).
   */
  async #postLast(lines: readonly string[], from: number): Promise<void> {
    for (let at = 0; at < lines.length; ) {
      const n = this.#batchLength(lines, at);
      const body = lines.slice(at, at + n).join('\n');
      try {
        const response = await this.#fetch(this.#postUrl(from + at), {
          method: 'POST',
          body,
          headers: { 'content-type': 'text/plain;charset=UTF-8' },
          // Outlives the page (a tab closed right after close()), within what a browser
          // lets such requests carry.
          keepalive:
            body.length * 3 <= KEEPALIVE_BYTES || new TextEncoder().encode(body).length <= KEEPALIVE_BYTES,
          signal: AbortSignal.timeout(POST_TIMEOUT),
        });
        void response.body?.cancel().catch(() => undefined);
        if (!response.ok) return;
      } catch {
        return;
      }
      at += n;
    }
  }

  // ---- ending ----

  #fail(code: number, reason: string, wasClean = false): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    this.#closeEvent(code, reason, wasClean);
  }

  #closeEvent(code: number, reason: string, wasClean: boolean): void {
    const handler = this.onclose;
    if (handler === null) return;
    const event = Object.assign(new Event('close'), { code, reason, wasClean });
    handler(event);
  }
}

/**
 * A response's body as text, or null (and the body cancelled) once it is longer than
 * `maxBytes`, as its `Content-Length` says or as its bytes arrive.
 */
async function readBounded(response: Response, maxBytes: number): Promise<string | null> {
  const body = response.body;
  if (body === null) return '';
  if (Number(response.headers.get('content-length') ?? 0) > maxBytes) {
    void body.cancel().catch(() => undefined);
    return null;
  }
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      void reader.cancel().catch(() => undefined);
      return null;
    }
    parts.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.byteLength;
  }
  return new TextDecoder().decode(bytes);
}
