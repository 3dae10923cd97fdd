import { formatExtensions } from '../protocol/handshake.js';
import { isToken } from '../protocol/http.js';
import {
  DEFAULT_CLIENT_MAX_PAYLOAD,
  MAX_CLOSE_REASON_BYTES,
  MAX_QUEUED_MESSAGE_BYTES,
  MAX_QUEUED_MESSAGE_EVENTS,
} from '../protocol/limits.js';
import { type HandshakeHandle, type OpenedSocket, openHandshake } from './connect.js';
import { CloseEvent, ErrorEvent } from './events.js';
import { type ClientOptions, checkClientOptions } from './options.js';
import { browserEnd, type ClientEnd, ClientWebSocket } from './session.js';
import { createSessionLink, SESSION_LINK } from './session-link.js';

/** `WebSocket.binaryType` values. */
export type BinaryType = 'blob' | 'arraybuffer';

/** What `send()` accepts: a string, an `ArrayBuffer`, any `ArrayBufferView`, or a `Blob`. */
export type WebSocketData = string | ArrayBufferLike | ArrayBufferView | Blob;

/**
 * The events a {@link WebSocket} dispatches, by type, as lib.dom's `WebSocketEventMap`
 * (with `error` as this client's {@link ErrorEvent}, which carries the cause). It types
 * `addEventListener` and the `on*` handlers, so `event.data`, `event.code` and
 * `event.wasClean` compile under `strict` without the DOM lib.
 */
export interface WebSocketEventMap {
  /** The connection is open. */
  open: Event;
  /** A message: `data` is a `string`, an `ArrayBuffer` or a `Blob` (see `binaryType`). */
  message: MessageEvent;
  /** The connection failed (a `close` event follows). */
  error: ErrorEvent;
  /** The connection is closed. */
  close: CloseEvent;
}

/** An `on*` handler of {@link WebSocket}: a function of the event, or null. */
export type WebSocketEventHandler<K extends keyof WebSocketEventMap> =
  | ((this: WebSocket, event: WebSocketEventMap[K]) => unknown)
  | null;

/** The listener argument of `EventTarget.addEventListener`, as the environment's types define it. */
type AnyListener = Parameters<EventTarget['addEventListener']>[1];
/** The options argument of `EventTarget.addEventListener`. */
type AddListenerOptions = Parameters<EventTarget['addEventListener']>[2];
/** The options argument of `EventTarget.removeEventListener`. */
type RemoveListenerOptions = Parameters<EventTarget['removeEventListener']>[2];

/** What an `on*` handler is stored as, whatever its event type. */
type Handler = ((this: WebSocket, event: Event) => unknown) | null;

/** The clients' default `maxPayload`, 64 MiB (see `limits.DEFAULT_CLIENT_MAX_PAYLOAD` for why). */
export { DEFAULT_CLIENT_MAX_PAYLOAD };

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/**
 * Parse and check a WebSocket URL as the WHATWG standard's constructor does: `http:` and
 * `https:` become `ws:` and `wss:`; another scheme, a fragment, or a URL that does not
 * parse is a `SyntaxError` DOMException.
 */
export function parseWebSocketUrl(input: string | URL): URL {
  let url: URL;
  try {
    url = new URL(String(input));
  } catch {
    throw new DOMException(`Invalid URL: ${String(input)}`, 'SyntaxError');
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new DOMException(
      `The URL's scheme must be ws, wss, http or https, not ${url.protocol}`,
      'SyntaxError',
    );
  }
  if (url.hash !== '' || String(input).includes('#')) {
    throw new DOMException('The URL contains a fragment identifier', 'SyntaxError');
  }
  return url;
}

/** Check the `protocols` argument: tokens (RFC 6455 section 4.1), no duplicates, else `SyntaxError`. */
export function checkProtocols(protocols: readonly string[]): void {
  const seen = new Set<string>();
  for (const protocol of protocols) {
    if (!isToken(protocol)) {
      throw new DOMException(`Invalid subprotocol ${JSON.stringify(protocol)}`, 'SyntaxError');
    }
    if (seen.has(protocol)) {
      throw new DOMException(`Duplicate subprotocol ${JSON.stringify(protocol)}`, 'SyntaxError');
    }
    seen.add(protocol);
  }
}

/** A string as a WebIDL USVString: lone surrogates become U+FFFD. */
function toUSVString(value: unknown): string {
  // String.prototype.toWellFormed (Node 20) is missing from TypeScript's es2023 lib.
  return (String(value) as string & { toWellFormed(): string }).toWellFormed();
}

/** WebIDL `[Clamp] unsigned short`. */
function clampUnsignedShort(value: unknown): number {
  const n = Number(value);
  if (Number.isNaN(n)) return 0;
  const clamped = Math.min(Math.max(n, 0), 65535);
  // Round half to even, as [Clamp] says.
  const floor = Math.floor(clamped);
  const fraction = clamped - floor;
  if (fraction > 0.5 || (fraction === 0.5 && floor % 2 === 1)) return floor + 1;
  return floor;
}

function isIterable(value: object): value is Iterable<unknown> {
  return typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
}

/**
 * A new `ArrayBuffer` holding `data`'s bytes: the `data` of a binary message event, which
 * the application owns (`data` may be a view of a socket read, or of a buffer the core
 * reuses). Measured hot path: `new ArrayBuffer` and a typed-array `set` cost about a third
 * less per message than `ArrayBuffer.prototype.slice` (a C++ builtin with a species lookup)
 * for 8 B to 1 KiB messages on Node 20 (e.g. 340 against 600 ns at 32 B, 610 against
 * 920 ns at 1 KiB, garbage collection included), and the same for large ones.
 */
function copyToArrayBuffer(data: Uint8Array): ArrayBuffer {
  const copy = new ArrayBuffer(data.byteLength);
  new Uint8Array(copy).set(data);
  return copy;
}

/**
 * The browser's `WebSocket` (WHATWG WebSockets standard) for Node, on sockeye's protocol
 * core. Code written for a browser runs unchanged; a third argument (or the second, as an
 * object) takes Node-only {@link ClientOptions}: headers, TLS, proxy, redirects, limits.
 *
 * Events are dispatched in order, each in a task of the event loop, never inside a call
 * of yours: `open` in the one that finished the handshake, before the messages that came
 * with the `101`; a message in the callback of the socket read that completed it, unless
 * events wait to be dispatched before it (a `close`, say); then it waits behind them, in
 * a task queued after the read (one `setImmediate` per batch). Reading stops while more
 * than 1024 message events (or 1 MiB of their payloads) wait, and resumes once they are
 * dispatched: a server bursting messages cannot grow the queue without bound.
 */
export class WebSocket extends EventTarget {
  /** The connection is not yet open. */
  static readonly CONNECTING = CONNECTING;
  /** The connection is open and ready to communicate. */
  static readonly OPEN = OPEN;
  /** The connection is going through the closing handshake, or `close()` was called. */
  static readonly CLOSING = CLOSING;
  /** The connection is closed or could not be opened. */
  static readonly CLOSED = CLOSED;

  #url: URL;
  /** The origin every `MessageEvent` carries (the URL's, serialized once: the getter builds a string per call). */
  #origin: string;
  #readyState: number = CONNECTING;
  #protocol = '';
  #extensions = '';
  #binaryType: BinaryType = 'blob';
  #bufferedAmount = 0;
  #handshake: HandshakeHandle | null;
  #session: ClientWebSocket | null = null;
  #failedWhileConnecting = false;
  /**
   * Tasks waiting for the next batch, in order. A message event is two entries, its
   * payload then its size in bytes (what `#queuedBytes` counted), not a closure: one
   * allocation less per message on the hot path.
   */
  #tasks: Array<(() => void) | Buffer | string | number> = [];
  #tasksScheduled = false;
  /** A batch of tasks is being run: a message arriving meanwhile (a nested read) queues behind it. */
  #runningTasks = false;
  /** Message events queued and not yet dispatched, and their payload bytes. */
  #queuedMessages = 0;
  #queuedBytes = 0;
  /** Reading is paused until the queued message events are dispatched. */
  #readingPaused = false;
  #handlers = new Map<string, { handler: Handler; listener: (event: Event) => void }>();
  readonly #options: ClientOptions;

  /**
   * @param url - `ws:`, `wss:`, `http:` or `https:` URL
   * @param protocols - a subprotocol or a list of them (most preferred first); or, as an
   * object, the Node options (then `protocols` is one of its fields)
   * @param options - Node-only options (browsers have no third argument)
   * @throws DOMException `SyntaxError` for a bad URL or subprotocol list; TypeError or
   * RangeError for a Node option that cannot work, naming it (see {@link checkClientOptions})
   */
  constructor(
    url: string | URL,
    protocols?: string | readonly string[] | ClientOptions,
    options?: ClientOptions,
  ) {
    super();
    // biome-ignore lint/complexity/noArguments: WebIDL counts the arguments actually passed.
    if (arguments.length === 0) throw new TypeError("Failed to construct 'WebSocket': 1 argument required");
    let opts: ClientOptions = options ?? {};
    let list: unknown = protocols;
    if (protocols !== null && typeof protocols === 'object' && !isIterable(protocols)) {
      opts = { ...(protocols as ClientOptions), ...opts };
      list = (protocols as ClientOptions).protocols;
    }
    this.#url = parseWebSocketUrl(url);
    this.#origin = this.#url.origin;
    const offered: string[] =
      list === undefined
        ? []
        : typeof list === 'object' && list !== null && isIterable(list)
          ? Array.from(list, (p) => String(p))
          : [String(list)];
    checkProtocols(offered);
    checkClientOptions(opts);
    this.#options = { ...opts, maxPayload: opts.maxPayload ?? DEFAULT_CLIENT_MAX_PAYLOAD };
    this.#handshake = openHandshake(this.#url, offered, opts);
    this.#handshake.result.then(
      (opened) => this.#opened(opened),
      (error: Error) => this.#failed(error),
    );
  }

  get CONNECTING(): 0 {
    return CONNECTING;
  }
  get OPEN(): 1 {
    return OPEN;
  }
  get CLOSING(): 2 {
    return CLOSING;
  }
  get CLOSED(): 3 {
    return CLOSED;
  }

  /** The URL, serialized (after the http-to-ws mapping; redirects do not change it). */
  get url(): string {
    return this.#url.href;
  }

  /** `CONNECTING` (0), `OPEN` (1), `CLOSING` (2) or `CLOSED` (3). */
  get readyState(): number {
    return this.#readyState;
  }

  /** The subprotocol the server selected, `''` until open or when none. */
  get protocol(): string {
    return this.#protocol;
  }

  /** The extensions the server accepted (`Sec-WebSocket-Extensions`), `''` when none. */
  get extensions(): string {
    return this.#extensions;
  }

  /** Bytes of application data handed to `send()` and not yet written to the socket. */
  get bufferedAmount(): number {
    return this.#bufferedAmount;
  }

  /** How binary messages are exposed: `"blob"` (default) or `"arraybuffer"`. Other values are ignored. */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }
  set binaryType(value: BinaryType) {
    if (value === 'blob' || value === 'arraybuffer') this.#binaryType = value;
  }

  /** The `open` event handler. */
  get onopen(): WebSocketEventHandler<'open'> {
    return this.#getHandler('open') as WebSocketEventHandler<'open'>;
  }
  set onopen(handler: WebSocketEventHandler<'open'>) {
    this.#setHandler('open', handler as Handler);
  }
  /** The `message` event handler. */
  get onmessage(): WebSocketEventHandler<'message'> {
    return this.#getHandler('message') as WebSocketEventHandler<'message'>;
  }
  set onmessage(handler: WebSocketEventHandler<'message'>) {
    this.#setHandler('message', handler as Handler);
  }
  /** The `error` event handler. */
  get onerror(): WebSocketEventHandler<'error'> {
    return this.#getHandler('error') as WebSocketEventHandler<'error'>;
  }
  set onerror(handler: WebSocketEventHandler<'error'>) {
    this.#setHandler('error', handler as Handler);
  }
  /** The `close` event handler. */
  get onclose(): WebSocketEventHandler<'close'> {
    return this.#getHandler('close') as WebSocketEventHandler<'close'>;
  }
  set onclose(handler: WebSocketEventHandler<'close'>) {
    this.#setHandler('close', handler as Handler);
  }

  /**
   * Listen to an event; the listener gets the event's type from {@link WebSocketEventMap}.
   */
  override addEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: ((this: WebSocket, event: WebSocketEventMap[K]) => unknown) | null,
    options?: AddListenerOptions,
  ): void;
  override addEventListener(type: string, listener: AnyListener, options?: AddListenerOptions): void;
  override addEventListener(type: string, listener: unknown, options?: AddListenerOptions): void {
    super.addEventListener(type, listener as AnyListener, options);
  }

  /** Stop listening to an event. */
  override removeEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: ((this: WebSocket, event: WebSocketEventMap[K]) => unknown) | null,
    options?: RemoveListenerOptions,
  ): void;
  override removeEventListener(type: string, listener: AnyListener, options?: RemoveListenerOptions): void;
  override removeEventListener(type: string, listener: unknown, options?: RemoveListenerOptions): void {
    super.removeEventListener(type, listener as AnyListener, options);
  }

  /**
   * Send a message: a string as text; an `ArrayBuffer`, `ArrayBufferView` or `Blob` as
   * binary. Once closing, data is not sent and only `bufferedAmount` grows.
   * @throws DOMException `InvalidStateError` while `CONNECTING`
   */
  send(data: WebSocketData): void {
    // biome-ignore lint/complexity/noArguments: WebIDL counts the arguments actually passed.
    if (arguments.length === 0)
      throw new TypeError("Failed to execute 'send' on 'WebSocket': 1 argument required");
    if (this.#readyState === CONNECTING) {
      throw new DOMException(
        "Failed to execute 'send' on 'WebSocket': Still in CONNECTING state.",
        'InvalidStateError',
      );
    }
    let payload: Blob | Uint8Array | string;
    let length: number;
    if (data instanceof Blob) {
      length = data.size;
      payload = data;
    } else if (
      data instanceof ArrayBuffer ||
      (typeof SharedArrayBuffer === 'function' && data instanceof SharedArrayBuffer)
    ) {
      length = data.byteLength;
      payload = new Uint8Array(data);
    } else if (data instanceof Uint8Array) {
      // The common case (a Buffer too): no view of our own, the session copies it (masked
      // into the frame, or as a snapshot behind a Blob) before send() returns.
      length = data.byteLength;
      payload = data;
    } else if (ArrayBuffer.isView(data)) {
      length = data.byteLength;
      payload = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } else {
      payload = toUSVString(data);
      length = Buffer.byteLength(payload);
    }
    this.#bufferedAmount += length;
    if (this.#readyState !== OPEN || this.#session === null) return;
    // In order, behind any Blob still being read (the driver keeps the line).
    this.#session.send(payload, typeof payload === 'string');
  }

  /**
   * Start the closing handshake (or fail a connection still opening).
   * @param code - 1000 or 3000-4999
   * @param reason - at most 123 bytes of UTF-8
   * @throws DOMException `InvalidAccessError` for another code, `SyntaxError` for a longer reason
   */
  close(code?: number, reason?: string): void {
    let closeCode: number | undefined;
    if (code !== undefined) {
      closeCode = clampUnsignedShort(code);
      if (closeCode !== 1000 && (closeCode < 3000 || closeCode > 4999)) {
        throw new DOMException(
          `The close code must be either 1000, or between 3000 and 4999. ${closeCode} is neither.`,
          'InvalidAccessError',
        );
      }
    }
    let closeReason = '';
    if (reason !== undefined) {
      closeReason = toUSVString(reason);
      if (Buffer.byteLength(closeReason) > MAX_CLOSE_REASON_BYTES) {
        throw new DOMException(
          `The close reason must not be longer than ${MAX_CLOSE_REASON_BYTES} bytes.`,
          'SyntaxError',
        );
      }
    }
    if (this.#readyState === CLOSING || this.#readyState === CLOSED) return;
    if (this.#readyState === CONNECTING) {
      this.#readyState = CLOSING;
      this.#failedWhileConnecting = true;
      const error = new Error('WebSocket was closed before the connection was established');
      // A session exists once the handshake completed (its open event follows at once).
      if (this.#session !== null) this.#session.terminate(error);
      else this.#handshake?.cancel(error);
      return;
    }
    this.#readyState = CLOSING;
    if (closeCode === undefined && closeReason !== '') closeCode = 1000;
    this.#session?.close(closeCode, closeReason);
  }

  #opened(opened: OpenedSocket): void {
    if (this.#failedWhileConnecting) {
      opened.socket.destroy();
      this.#failed(new Error('WebSocket was closed before the connection was established'));
      return;
    }
    this.#handshake = null;
    const protocol = opened.protocol;
    const extensions = formatExtensions(opened.extensions);
    const session = ClientWebSocket._create(opened, this.#options);
    this.#session = session;
    session.start({
      // The open event, in the task that finished the handshake (a read's callback and the
      // promise it settled), before the messages that came with the 101: their handlers
      // then run in their read too, and what they send goes out before anything a later
      // frame of that read does (such as a protocol error that fails the connection).
      started: () => {
        if (this.#readyState !== CONNECTING) return;
        this.#readyState = OPEN;
        this.#protocol = protocol;
        this.#extensions = extensions;
        this.dispatchEvent(new Event('open'));
      },
      message: (data, isText) => {
        // Text is decoded here, inside the read, not in the task: a decoding that fails
        // (a string longer than V8 allows) then fails this connection with 1011, like
        // any error of the read, instead of throwing from a task into the process.
        const payload = isText ? data.toString('utf8') : data;
        if (this.#tasks.length === 0 && !this.#runningTasks) {
          // Nothing waits before it (earlier messages, a close): dispatch
          // it in this read's callback, itself a task of the event loop. A task of its own
          // would cost a setImmediate per read: 3-5 µs of every round trip, and a turn of
          // the loop in which the peer waits for the answers.
          this.#dispatchMessage(payload);
          return;
        }
        const size = data.length;
        this.#queuedMessages++;
        this.#queuedBytes += size;
        this.#tasks.push(payload, size);
        this.#scheduleTasks();
        // A burst of messages (tiny ones, or compressed ones) would otherwise queue an
        // event per message of every read until the handlers catch up: stop reading past
        // the bound (TCP flow control then holds the server back), as ws does.
        if (
          !this.#readingPaused &&
          (this.#queuedMessages >= MAX_QUEUED_MESSAGE_EVENTS || this.#queuedBytes >= MAX_QUEUED_MESSAGE_BYTES)
        ) {
          this.#readingPaused = true;
          session.pause();
        }
      },
      closing: () =>
        this.#queueTask(() => {
          if (this.#readyState === OPEN) this.#readyState = CLOSING;
        }),
      written: (bytes) => {
        this.#bufferedAmount -= bytes;
      },
      closed: (end) => this.#queueTask(() => this.#dispatchClose(browserEnd(end))),
    });
  }

  #failed(error: Error): void {
    this.#handshake = null;
    this.#queueTask(() =>
      this.#dispatchClose({ code: 1006, reason: '', wasClean: false, error, failed: true }),
    );
  }

  #dispatchMessage(data: Buffer | string): void {
    if (this.#readyState !== OPEN) return;
    let payload: string | ArrayBuffer | Blob;
    if (typeof data === 'string') {
      payload = data;
    } else {
      // A Blob copies the bytes of the view it is given (no copy of our own needed); a
      // socket's reads are never shared memory.
      payload =
        this.#binaryType === 'blob' ? new Blob([data as Uint8Array<ArrayBuffer>]) : copyToArrayBuffer(data);
    }
    this.dispatchEvent(new MessageEvent('message', { data: payload, origin: this.#origin }));
  }

  #dispatchClose(end: ClientEnd): void {
    if (this.#readyState === CLOSED) return;
    this.#readyState = CLOSED;
    this.#session = null;
    if ((end.failed || this.#failedWhileConnecting) && end.error !== null) {
      this.dispatchEvent(new ErrorEvent('error', { message: end.error.message, error: end.error }));
    }
    this.dispatchEvent(
      new CloseEvent('close', { wasClean: end.wasClean, code: end.code, reason: end.reason }),
    );
  }

  /** Queue a task: run after the current I/O callback, in order, one `setImmediate` per batch. */
  #queueTask(task: () => void): void {
    this.#tasks.push(task);
    this.#scheduleTasks();
  }

  #scheduleTasks(): void {
    if (this.#tasksScheduled) return;
    this.#tasksScheduled = true;
    setImmediate(() => this.#runTasks());
  }

  #runTasks(): void {
    // Tasks queued by these tasks run in the next batch, as a new task would.
    const tasks = this.#tasks;
    this.#tasks = [];
    this.#tasksScheduled = false;
    this.#runningTasks = true;
    try {
      for (let i = 0; i < tasks.length; i++) {
        const task = tasks[i]!;
        if (typeof task === 'function') {
          task();
          continue;
        }
        // A message event: its payload, then its size.
        this.#queuedMessages--;
        this.#queuedBytes -= tasks[++i] as number;
        this.#dispatchMessage(task as Buffer | string);
      }
    } finally {
      this.#runningTasks = false;
    }
    // The queued message events are dispatched: read again.
    if (this.#readingPaused && this.#queuedMessages === 0) {
      this.#readingPaused = false;
      this.#session?.resume();
    }
  }

  #getHandler(type: string): Handler {
    return this.#handlers.get(type)?.handler ?? null;
  }

  #setHandler(type: string, handler: Handler): void {
    const value = typeof handler === 'function' ? handler : null;
    const entry = this.#handlers.get(type);
    if (value === null) {
      if (entry !== undefined) {
        this.removeEventListener(type, entry.listener);
        this.#handlers.delete(type);
      }
      return;
    }
    if (entry !== undefined) {
      entry.handler = value;
      return;
    }
    const created = {
      handler: value as Handler,
      listener: (event: Event) => {
        created.handler?.call(this, event);
      },
    };
    this.#handlers.set(type, created);
    this.addEventListener(type, created.listener);
  }
}

for (const [name, value] of [
  ['CONNECTING', CONNECTING],
  ['OPEN', OPEN],
  ['CLOSING', CLOSING],
  ['CLOSED', CLOSED],
] as const) {
  Object.defineProperty(WebSocket.prototype, name, {
    value,
    enumerable: true,
    writable: false,
    configurable: false,
  });
}

// The reconnecting client (`session/client.ts`, which imports nothing of Node) drives its
// links from the low-level client's callbacks when it is given this very constructor.
Object.defineProperty(WebSocket, SESSION_LINK, { value: createSessionLink });
