import { EventEmitter } from 'node:events';
import {
  type ClientRequest,
  type ClientRequestArgs,
  request as httpRequest,
  type IncomingMessage,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type NetConnectOpts, connect as netConnect, type Socket } from 'node:net';
import { type ConnectionOptions as TlsConnectionOptions, connect as tlsConnect } from 'node:tls';
import {
  type AssemblyBudget,
  type CloseInfo,
  Connection,
  type ConnectionHandler,
  computeAccept,
  type Extension,
  generateKey,
  HandshakeError,
  InternalError,
  isValidWireCloseCode,
  type OutputBuffers,
  PerMessageDeflate,
  parseExtensions,
} from '../protocol/index.js';
import { MAX_QUEUED_MESSAGE_BYTES, MAX_QUEUED_MESSAGE_EVENTS } from '../protocol/limits.js';
import { toWsError } from './errors.js';
import {
  addEventListenerTo,
  type EventListenerLike,
  getEventAttribute,
  removeEventListenerFrom,
  setEventAttribute,
  type WsCloseEvent,
  type WsErrorEvent,
  type WsEvent,
  type WsMessageEvent,
} from './event-target.js';
import { toDeflateOptions, type WsPerMessageDeflateOptions } from './options.js';

/** What `binaryType` can be: how binary messages are delivered. */
export type BinaryType = 'nodebuffer' | 'arraybuffer' | 'fragments' | 'blob';

/** A received message as the `message` event gives it (text is always a `Buffer`). */
export type RawData = Buffer | ArrayBuffer | Buffer[] | Blob;

/** What `send()` takes (a number is sent as its decimal string). */
export type WsSendData = string | number | Buffer | ArrayBuffer | ArrayBufferView | Blob | readonly number[];

/** Options of `send()`. */
export interface WsSendOptions {
  /** Send as binary. @defaultValue true unless `data` is a string */
  binary?: boolean;
  /** Compress (when permessage-deflate was negotiated and the message reaches its threshold). @defaultValue true */
  compress?: boolean;
  /** Last fragment of the message; `false` starts or continues a fragmented message. @defaultValue true */
  fin?: boolean;
  /** Accepted for compatibility; a client always masks and a server never does (RFC 6455). */
  mask?: boolean;
}

/** Events of {@link WebSocket}, with their arguments, as `ws` emits them. */
export interface WebSocketEvents {
  /** The handshake completed (client; a server socket is open when `connection` fires). */
  open: [];
  /** A message: text arrives as a `Buffer` of UTF-8 with `isBinary` false. */
  message: [data: RawData, isBinary: boolean];
  /** A ping arrived (already answered when `autoPong` is on). */
  ping: [data: Buffer];
  /** A pong arrived. */
  pong: [data: Buffer];
  /**
   * The TCP connection is gone: `code` and `reason` from the peer's close frame (1005 when
   * it had no code), or 1006 and an empty reason when there was none.
   */
  close: [code: number, reason: Buffer];
  /** The peer broke the protocol or a limit (a `WS_ERR_*` code), or the handshake failed. */
  error: [error: Error];
  /** Client: the server's 101 response (before it is checked). */
  upgrade: [response: IncomingMessage];
  /** Client: the server answered with something other than 101; without a listener that is an error. */
  'unexpected-response': [request: ClientRequest, response: IncomingMessage];
  /** Client (`followRedirects`): about to follow a redirect to `url`. */
  redirect: [url: string, request: ClientRequest];
}

/** The options a server passes to its sockets (see `WebSocketServer`). @internal */
export interface SocketSettings {
  allowSynchronousEvents: boolean;
  autoPong: boolean;
  closeTimeout: number;
  maxFragments: number;
  maxPayload: number;
  maxPendingAutoPongs: number;
  /** The server's output buffers (a client uses the process's default ones). */
  outputBuffers: OutputBuffers;
  /** The server's bound on buffers allocated early (a client uses the process's default one). */
  assemblyBudget: AssemblyBudget;
}

/** Options of the client {@link WebSocket}: `ws`'s, and Node's `http.request` options. */
export interface ClientOptions
  extends Omit<ClientRequestArgs, 'protocol' | 'timeout'>,
    Omit<TlsConnectionOptions, keyof ClientRequestArgs> {
  /** The subprotocols to offer (when not given as the second argument). */
  protocols?: string | readonly string[];
  /** Deliver messages, pings and pongs synchronously as they are parsed. @defaultValue true */
  allowSynchronousEvents?: boolean;
  /** Answer pings automatically. @defaultValue true */
  autoPong?: boolean;
  /** Time for the closing handshake before the TCP connection is destroyed, in ms. @defaultValue 30 000 */
  closeTimeout?: number;
  /** Follow 3xx redirects. @defaultValue false */
  followRedirects?: boolean;
  /** Time for the opening handshake, in ms. @defaultValue none */
  handshakeTimeout?: number;
  /** Most redirects followed. @defaultValue 10 */
  maxRedirects?: number;
  /** Largest message in bytes (close 1009 past it). @defaultValue 100 MiB */
  maxPayload?: number;
  /** Most frames per message (close 1009 past it). @defaultValue 16 384 */
  maxFragments?: number;
  /** The `Origin` header. @defaultValue none */
  origin?: string;
  /** Offer permessage-deflate (`true`, `false` or `ws`'s options object). @defaultValue true */
  perMessageDeflate?: boolean | WsPerMessageDeflateOptions;
  /** `Sec-WebSocket-Version`: 13 or 8. @defaultValue 13 */
  protocolVersion?: number;
  /** Accepted for compatibility: sockeye always validates UTF-8 (see docs/ws-compat.md). */
  skipUTF8Validation?: boolean;
  /**
   * Most automatic pongs queued and not yet written; a ping past it terminates the
   * connection (a peer that pings without reading). 0: no limit. @defaultValue 60
   */
  maxPendingAutoPongs?: number;
  /** Accepted for compatibility (sockeye bounds a message's parts by memory, not count). */
  maxBufferedChunks?: number;
  /** Accepted for compatibility (masks come from sockeye's own generator). */
  generateMask?: (mask: Buffer) => void;
  /** Called with the request instead of `request.end()`, to write a body or headers first. */
  finishRequest?: (request: ClientRequest, websocket: WebSocket) => void;
}

/** The four ready states, as numbers (`WebSocket.OPEN` and friends). */
export type ReadyState = 0 | 1 | 2 | 3;

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
const READY_STATE_NAMES = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'] as const;
/** `ws`'s defaults. */
const CLOSE_TIMEOUT = 30_000;
const DEFAULT_MAX_PAYLOAD = 100 * 1024 * 1024;
const DEFAULT_MAX_FRAGMENTS = 16 * 1024;
const DEFAULT_MAX_PENDING_AUTO_PONGS = 60;
const MAX_CONTROL_PAYLOAD = 125;
const MAX_CLOSE_REASON = 123;
const EMPTY = Buffer.alloc(0);
const SUBPROTOCOL = /^[!#$%&'*+\-.0-9A-Z^_`|a-z~]+$/;

/** The socket's back reference to its WebSocket (socket listeners are shared functions). */
const kWebSocket = Symbol('sockeye.ws.websocket');
type TaggedSocket = Socket & { [kWebSocket]?: WebSocket | undefined };

/** A write's completion callback, as `ws` calls it. */
type WriteCallback = (error?: Error | null) => void;

/** Routes the core's callbacks to the socket (methods on a prototype, not closures). */
class CoreEvents implements ConnectionHandler {
  constructor(private readonly ws: WebSocket) {}
  onMessage(data: Buffer, isText: boolean): void {
    this.ws._onMessage(data, isText);
  }
  onPing(data: Buffer): void {
    this.ws._onPing(data);
  }
  onPong(data: Buffer): void {
    this.ws._emitControl('pong', data);
  }
  onClose(info: CloseInfo): void {
    this.ws._onConnectionClose(info);
  }
  onOutput(): void {
    this.ws._scheduleFlush();
  }
}

/**
 * `ws`'s `WebSocket` on sockeye's protocol core: the same events, in the same order and
 * with the same arguments, the same methods and errors. A server hands these out in its
 * `connection` event; `new WebSocket(url, protocols, options)` connects as a client.
 *
 * The bytes go through sockeye's `Connection` (parser, UTF-8 validation, framing,
 * permessage-deflate): what one read and the handlers it runs send leaves in one write
 * at the end of the read, and other sends leave once at the end of the tick, where `ws`
 * writes every frame on its own. The differences that can be observed are listed in
 * docs/ws-compat.md.
 */
export class WebSocket extends EventEmitter<WebSocketEvents> {
  /** The connection is being established. */
  static readonly CONNECTING = CONNECTING;
  /** The connection is open. */
  static readonly OPEN = OPEN;
  /** The closing handshake is in progress. */
  static readonly CLOSING = CLOSING;
  /** The connection is closed. */
  static readonly CLOSED = CLOSED;
  /** The same constant on every instance, as `ws` has it. */
  declare readonly CONNECTING: 0;
  /** The same constant on every instance, as `ws` has it. */
  declare readonly OPEN: 1;
  /** The same constant on every instance, as `ws` has it. */
  declare readonly CLOSING: 2;
  /** The same constant on every instance, as `ws` has it. */
  declare readonly CLOSED: 3;

  /** @internal */ _socket: Socket | null = null;
  /** @internal */ _isServer: boolean;
  /** @internal */ _protocol = '';
  /** @internal */ _extension: Extension | null = null;
  /** @internal */ _req: ClientRequest | null = null;
  private _connection: Connection | null = null;
  private _readyState: ReadyState = CONNECTING;
  private _binaryType: BinaryType = 'nodebuffer';
  private _url: string | undefined;
  private _closeCode = 1006;
  private _closeMessage: Buffer = EMPTY;
  private _closeFrameReceived = false;
  private _closeFrameSent = false;
  private _errorEmitted = false;
  /** The core failed the connection (a broken rule): further bytes are discarded. */
  private _errored = false;
  private _paused = false;
  private _closeTimer: NodeJS.Timeout | null = null;
  private _closeTimeout = CLOSE_TIMEOUT;
  private _autoPong = true;
  /** Automatic pongs not yet written, and the most allowed before the peer is terminated (0: no limit). */
  private _pendingAutoPongs = 0;
  private _maxPendingAutoPongs = DEFAULT_MAX_PENDING_AUTO_PONGS;
  private readonly _autoPongWritten = (): void => {
    this._pendingAutoPongs--;
  };
  private _allowSynchronousEvents = true;
  /** Events deferred to an immediate (`allowSynchronousEvents: false`) and not yet emitted, and their bytes. */
  private _deferredEvents = 0;
  private _deferredBytes = 0;
  /** Reading is stopped until the deferred events are emitted (apart from `pause()`). */
  private _heldForEvents = false;
  private _maxPayload = DEFAULT_MAX_PAYLOAD;
  private _maxFragments = DEFAULT_MAX_FRAGMENTS;
  /** Bytes of sends made after the close, which `ws` counts in `bufferedAmount` forever. */
  private _discardedBytes = 0;
  /** Write callbacks of what is queued in the core, called when its batch is written. */
  private _callbacks: WriteCallback[] | null = null;
  private _flushScheduled = false;
  /** Set while the socket's bytes are fed to the core: the flush happens after them. */
  private _receiving = false;
  /** End TCP once the queued output (our close frame) is written. */
  private _endAfterFlush = false;
  /** A fragmented message (`fin: false`) is in progress, and whether it is text. */
  private _fragmentText: boolean | null = null;
  /** Operations waiting for a Blob being read (their order is kept); null when none. */
  private _waiting: (() => void)[] | null = null;
  /** Client: redirects followed so far, and what the first request was. */
  private _redirects = 0;
  private _original: { ipc: boolean; secure: boolean; hostOrSocketPath: string } | null = null;

  /**
   * Connect to `address` as a client, offering `protocols`. (`ws`'s server creates its
   * sockets with `address` null.)
   * @throws SyntaxError for an invalid URL or subprotocol, RangeError for an unsupported
   *   `protocolVersion`
   */
  constructor(
    address: string | URL | null,
    protocols?: string | readonly string[] | ClientOptions,
    options?: ClientOptions,
  ) {
    super();
    if (address === null) {
      this._isServer = true;
      return;
    }
    this._isServer = false;
    let list: readonly string[];
    if (protocols === undefined) {
      list = toList(options?.protocols);
    } else if (typeof protocols === 'string' || Array.isArray(protocols)) {
      list = typeof protocols === 'string' ? [protocols] : (protocols as readonly string[]);
    } else {
      options = protocols as ClientOptions;
      list = toList(options.protocols);
    }
    initAsClient(this, address, list, options);
  }

  /** How binary messages are delivered: `nodebuffer`, `arraybuffer`, `fragments` or `blob`. */
  get binaryType(): BinaryType {
    return this._binaryType;
  }

  set binaryType(type: BinaryType) {
    if (type === 'nodebuffer' || type === 'arraybuffer' || type === 'fragments' || type === 'blob') {
      this._binaryType = type;
    }
  }

  /** Bytes sent and not yet handed to the kernel (queued in the core or in the socket). */
  get bufferedAmount(): number {
    const connection = this._connection;
    const socket = this._socket;
    if (connection === null || socket === null) return this._discardedBytes;
    return connection.bufferedBytes + socket.writableLength + this._discardedBytes;
  }

  /** The negotiated extensions' names (`'permessage-deflate'` or `''`). */
  get extensions(): string {
    return this._extension === null ? '' : 'permessage-deflate';
  }

  /** Whether `pause()` stopped reading. */
  get isPaused(): boolean {
    return this._paused;
  }

  /** The subprotocol the server selected, or `''`. */
  get protocol(): string {
    return this._protocol;
  }

  /** `CONNECTING` (0), `OPEN` (1), `CLOSING` (2) or `CLOSED` (3). */
  get readyState(): ReadyState {
    return this._readyState;
  }

  /** Client: the URL connected to (after redirects). Undefined on a server socket. */
  get url(): string | undefined {
    return this._url;
  }

  /** The `onopen` attribute (see {@link WebSocket.addEventListener}). */
  get onopen(): EventListenerLike<WsEvent<WebSocket>> | null {
    return getEventAttribute(this, 'open') as EventListenerLike<WsEvent<WebSocket>> | null;
  }
  set onopen(handler: EventListenerLike<WsEvent<WebSocket>> | null) {
    setEventAttribute(this, 'open', handler);
  }
  /** The `onmessage` attribute. */
  get onmessage(): EventListenerLike<WsMessageEvent<WebSocket>> | null {
    return getEventAttribute(this, 'message') as EventListenerLike<WsMessageEvent<WebSocket>> | null;
  }
  set onmessage(handler: EventListenerLike<WsMessageEvent<WebSocket>> | null) {
    setEventAttribute(this, 'message', handler);
  }
  /** The `onclose` attribute. */
  get onclose(): EventListenerLike<WsCloseEvent<WebSocket>> | null {
    return getEventAttribute(this, 'close') as EventListenerLike<WsCloseEvent<WebSocket>> | null;
  }
  set onclose(handler: EventListenerLike<WsCloseEvent<WebSocket>> | null) {
    setEventAttribute(this, 'close', handler);
  }
  /** The `onerror` attribute. */
  get onerror(): EventListenerLike<WsErrorEvent<WebSocket>> | null {
    return getEventAttribute(this, 'error') as EventListenerLike<WsErrorEvent<WebSocket>> | null;
  }
  set onerror(handler: EventListenerLike<WsErrorEvent<WebSocket>> | null) {
    setEventAttribute(this, 'error', handler);
  }

  /**
   * Listen with a DOM-style listener, in `ws`'s flavour: the listener gets an event
   * object (`data`; `code`, `reason`, `wasClean`; `error`, `message`), only `open`,
   * `message`, `close` and `error` are known, and a listener is added once.
   */
  addEventListener(
    type: 'open' | 'message' | 'close' | 'error',
    listener: EventListenerLike<WsEvent<WebSocket>> | EventListenerLike<never>,
    options?: { once?: boolean },
  ): void {
    addEventListenerTo(this, type, listener as EventListenerLike<unknown>, options);
  }

  /** Remove a listener added with {@link WebSocket.addEventListener}. */
  removeEventListener(type: 'open' | 'message' | 'close' | 'error', listener: unknown): void {
    removeEventListenerFrom(this, type, listener);
  }

  /** @internal For `CloseEvent.wasClean`. */
  get _wasClean(): boolean {
    return this._closeFrameReceived && this._closeFrameSent;
  }

  /**
   * Start the closing handshake: send a close frame and wait (up to `closeTimeout`) for
   * the peer's before ending TCP. Without `code` the frame is empty (the peer sees 1005).
   * @throws TypeError for a code that may not be sent; RangeError for a reason over 123 bytes
   */
  close(code?: number, data?: string | Buffer): void {
    if (this._readyState === CLOSED) return;
    if (this._readyState === CONNECTING) {
      abortHandshake(this, this._req, 'WebSocket was closed before the connection was established');
      return;
    }
    if (this._readyState === CLOSING) {
      if (this._closeFrameSent && (this._closeFrameReceived || this._errored)) {
        this.flushNow();
        this._socket!.end();
      }
      return;
    }
    let reason = '';
    if (code !== undefined) {
      if (typeof code !== 'number' || !isValidWireCloseCode(code)) {
        throw new TypeError('First argument must be a valid error code number');
      }
      if (data !== undefined) reason = typeof data === 'string' ? data : Buffer.from(data).toString();
      if (Buffer.byteLength(reason) > MAX_CLOSE_REASON) {
        throw new RangeError('The message must not be greater than 123 bytes');
      }
    }
    this._readyState = CLOSING;
    this.setCloseTimer();
    this.whenReady(() => {
      this._connection!.close(code, reason);
      this._closeFrameSent = true;
      this.afterWrite(() => {
        if (this._closeFrameReceived || this._errored) this._socket!.end();
      });
    });
  }

  /** Stop reading from the socket (messages already read are still delivered). */
  pause(): void {
    if (this._readyState === CONNECTING || this._readyState === CLOSED) return;
    this._paused = true;
    this._socket!.pause();
  }

  /** Read from the socket again. */
  resume(): void {
    if (this._readyState === CONNECTING || this._readyState === CLOSED) return;
    this._paused = false;
    // Still held while deferred events wait (see defer): reading resumes once they are emitted.
    if (!this._heldForEvents) this._socket!.resume();
  }

  /**
   * Send a ping (payload at most 125 bytes). `cb` is called once it is written (or with
   * an error when the connection is closing or closed).
   * @throws Error while connecting; RangeError for a payload over 125 bytes
   */
  ping(data?: WsSendData | WriteCallback, mask?: boolean | WriteCallback, cb?: WriteCallback): void {
    this.control('ping', data, mask, cb);
  }

  /** Send a pong (payload at most 125 bytes). Same as {@link WebSocket.ping} otherwise. */
  pong(data?: WsSendData | WriteCallback, mask?: boolean | WriteCallback, cb?: WriteCallback): void {
    this.control('pong', data, mask, cb);
  }

  /**
   * Send a message. A string goes as text, anything else as binary (unless
   * `options.binary` says otherwise); a `Blob` is read first, and what is sent after it
   * waits for it. `cb` is called once the message is written, or with an error.
   * @throws Error while connecting
   */
  send(data: WsSendData, options?: WsSendOptions | WriteCallback, cb?: WriteCallback): void {
    if (this._readyState === CONNECTING) throw notOpen(this._readyState);
    if (typeof options === 'function') {
      cb = options;
      options = {};
    }
    if (typeof data === 'number') data = data.toString();
    if (this._readyState !== OPEN) {
      this.sendAfterClose(data, cb);
      return;
    }
    const binary = options?.binary ?? typeof data !== 'string';
    const compress = options?.compress ?? true;
    const fin = options?.fin ?? true;
    if (data instanceof Blob) {
      this.sendBlob(data, binary, compress, fin, cb);
      return;
    }
    // ws sends nothing given (undefined, null) as an empty binary message.
    const payload = data == null ? EMPTY : toPayload(data);
    // No closure here: one that captured these arguments would cost every send() a context
    // and a function object, for the rare case where a Blob is being read (see enqueueLater).
    if (this._waiting === null) this.enqueue(payload, binary, compress, fin, cb);
    else this.enqueueLater(payload, binary, compress, fin, cb);
  }

  /** Destroy the TCP connection now, without a closing handshake (`close` reports 1006). */
  terminate(): void {
    if (this._readyState === CLOSED) return;
    if (this._readyState === CONNECTING) {
      abortHandshake(this, this._req, 'WebSocket was closed before the connection was established');
      return;
    }
    if (this._socket !== null) {
      this._readyState = CLOSING;
      this.flushNow(); // ws has written every frame by now: ours go before TCP is dropped
      this._socket.destroy();
    }
  }

  // ---- internals ----

  /**
   * Take over `socket` after a successful handshake: make the core, listen, emit `open`.
   * Bytes that came with the handshake are put back into the socket, so they are parsed
   * once listeners are attached (as with `ws`).
   * @internal
   */
  setSocket(socket: Socket, head: Buffer, settings: Partial<SocketSettings>): void {
    this._allowSynchronousEvents = settings.allowSynchronousEvents ?? true;
    this._autoPong = settings.autoPong ?? this._autoPong;
    this._maxPendingAutoPongs = settings.maxPendingAutoPongs ?? this._maxPendingAutoPongs;
    this._closeTimeout = settings.closeTimeout ?? this._closeTimeout;
    this._maxPayload = settings.maxPayload ?? this._maxPayload;
    this._maxFragments = settings.maxFragments ?? this._maxFragments;
    this._connection = new Connection(new CoreEvents(this), {
      role: this._isServer ? 'server' : 'client',
      // ws sends 0 as "no limit"; the core needs a number, so 0 becomes the largest safe one.
      maxPayload: this._maxPayload > 0 ? this._maxPayload : Number.MAX_SAFE_INTEGER,
      maxFragments: this._maxFragments > 0 ? this._maxFragments : Number.MAX_SAFE_INTEGER,
      autoPong: this._autoPong,
      extensions: this._extension === null ? [] : [this._extension],
      echoCloseReason: true,
      failReason: false,
      outputBuffers: settings.outputBuffers,
      assemblyBudget: settings.assemblyBudget,
    });
    this._socket = socket;
    (socket as TaggedSocket)[kWebSocket] = this;
    socket.setTimeout(0);
    socket.setNoDelay(true);
    if (head.length > 0) socket.unshift(head);
    socket.on('close', onSocketClose);
    socket.on('data', onSocketData);
    socket.on('end', onSocketEnd);
    socket.on('error', onSocketError);
    this._readyState = OPEN;
    this.emit('open');
  }

  /** Client: the URL (set while connecting). @internal */
  _setUrl(url: string): void {
    this._url = url;
  }

  /** @internal */
  _setClientSettings(options: {
    autoPong: boolean;
    closeTimeout: number;
    maxPayload: number;
    maxFragments: number;
    maxPendingAutoPongs: number;
  }): void {
    this._autoPong = options.autoPong;
    this._maxPendingAutoPongs = options.maxPendingAutoPongs;
    this._closeTimeout = options.closeTimeout;
    this._maxPayload = options.maxPayload;
    this._maxFragments = options.maxFragments;
  }

  /** @internal */
  get _redirectCount(): number {
    return this._redirects;
  }

  /** @internal */
  _countRedirect(): number {
    return ++this._redirects;
  }

  /** @internal */
  get _originalTarget(): { ipc: boolean; secure: boolean; hostOrSocketPath: string } | null {
    return this._original;
  }

  /** @internal */
  set _originalTarget(target: { ipc: boolean; secure: boolean; hostOrSocketPath: string } | null) {
    this._original = target;
  }

  /** Bytes from the socket. @internal */
  _receive(chunk: Buffer): void {
    if (this._errored || this._closeFrameReceived) return; // ws discards what follows
    this._receiving = true;
    try {
      this._connection!.receive(chunk);
    } finally {
      // Also when a listener threw (it propagates, as with ws): what was queued still leaves.
      // (The core signals its output at the end of a read, which a throw skips: ask it.)
      this._receiving = false;
      this.flushNow();
    }
  }

  /**
   * A ping (the core has queued its pong when `autoPong` is on). As `ws` does, a peer
   * whose pongs pile up unwritten (it pings and does not read) is terminated.
   * @internal
   */
  _onPing(data: Buffer): void {
    if (this._autoPong && this._readyState === OPEN) {
      if (this._maxPendingAutoPongs > 0 && this._pendingAutoPongs >= this._maxPendingAutoPongs) {
        this.terminate();
      } else {
        this._pendingAutoPongs++;
        this.afterWrite(this._autoPongWritten);
      }
    }
    this._emitControl('ping', data);
  }

  /** A complete message from the core. @internal */
  _onMessage(data: Buffer, isText: boolean): void {
    const payload: RawData = isText ? data : this.toBinaryType(data);
    if (this._allowSynchronousEvents) this.emit('message', payload, !isText);
    else this.defer(data.length, () => this.emit('message', payload, !isText));
  }

  /** A ping or a pong from the core. @internal */
  _emitControl(type: 'ping' | 'pong', data: Buffer): void {
    if (this._allowSynchronousEvents) this.emit(type, data);
    else this.defer(data.length, () => this.emit(type, data));
  }

  /**
   * Emit an event in an immediate of its own. ws parses no further until it is emitted;
   * here the read being processed is parsed whole, so reading stops while more than
   * `MAX_QUEUED_MESSAGE_EVENTS` events (or `MAX_QUEUED_MESSAGE_BYTES`) wait, and resumes
   * once they are emitted: a peer bursting tiny messages cannot grow the queue without bound.
   */
  private defer(size: number, emit: () => void): void {
    this._deferredEvents++;
    this._deferredBytes += size;
    setImmediate(() => {
      this._deferredEvents--;
      this._deferredBytes -= size;
      if (this._deferredEvents === 0 && this._heldForEvents) {
        this._heldForEvents = false;
        if (!this._paused) this._socket?.resume();
      }
      emit();
    });
    if (
      !this._heldForEvents &&
      (this._deferredEvents >= MAX_QUEUED_MESSAGE_EVENTS || this._deferredBytes >= MAX_QUEUED_MESSAGE_BYTES)
    ) {
      this._heldForEvents = true;
      this._socket?.pause();
    }
  }

  /** The core reached `closed`. @internal */
  _onConnectionClose(info: CloseInfo): void {
    if (info.error !== null) {
      // ws: send the close frame (done by the core), end TCP once it is written, emit the error.
      this._errored = true;
      this._closeFrameSent = true;
      if (this._readyState === OPEN) {
        this._readyState = CLOSING;
        this.setCloseTimer();
      }
      this._endAfterFlush = true;
      this._scheduleFlush();
      this._socket?.resume(); // keep reading (and discarding) so that the peer's FIN is seen
      if (!this._errorEmitted) {
        this._errorEmitted = true;
        // An error of our own (a listener or the codec threw while a read was handled)
        // failed the connection with 1011: emit what was thrown, where `ws` would have let
        // it escape to the process.
        const error = info.error instanceof InternalError ? internalCause(info.error) : toWsError(info.error);
        this.emit('error', error);
      }
      return;
    }
    if (info.code === 1006) return; // the transport ended: the socket's 'close' reports it
    // The peer's close frame: the core answered it (if we had not closed first).
    this._closeFrameReceived = true;
    this._closeCode = info.code;
    this._closeMessage = info.reason === '' ? EMPTY : Buffer.from(info.reason);
    this._closeFrameSent = true;
    if (this._readyState === OPEN) {
      this._readyState = CLOSING;
      this.setCloseTimer();
    }
    this._endAfterFlush = true;
    this._scheduleFlush();
    this._socket?.resume();
  }

  /** The core has output: write it at the end of the current read, or of the tick. @internal */
  _scheduleFlush(): void {
    if (this._flushScheduled) return;
    this._flushScheduled = true;
    if (!this._receiving) process.nextTick(flushSocket, this);
  }

  /** Write what the core queued, in one batch, then call its send callbacks. @internal */
  _flush(): void {
    if (!this._flushScheduled) return;
    this._flushScheduled = false;
    const socket = this._socket;
    const connection = this._connection;
    if (socket === null || connection === null) return;
    const chunks = connection.takeOutput();
    const callbacks = this._callbacks;
    this._callbacks = null;
    const done =
      callbacks === null
        ? undefined
        : (error?: Error | null) => {
            for (const callback of callbacks) callback(error);
          };
    if (chunks.length === 0) {
      if (done !== undefined) process.nextTick(done);
    } else if (chunks.length === 1) {
      socket.write(chunks[0]!, done);
    } else {
      socket.cork();
      const last = chunks.length - 1;
      for (let i = 0; i < last; i++) socket.write(chunks[i]!);
      socket.write(chunks[last]!, done);
      socket.uncork();
    }
    if (this._endAfterFlush) {
      this._endAfterFlush = false;
      if (!socket.destroyed) socket.end();
    }
  }

  /** Write what is queued now, rather than at the end of the tick. */
  private flushNow(): void {
    if (this._flushScheduled || (this._connection?.bufferedBytes ?? 0) > 0) {
      this._flushScheduled = true;
      this._flush();
    }
  }

  /** The peer half-closed TCP. @internal */
  _peerEnded(): void {
    this._readyState = CLOSING;
    this._connection!.receiveEof();
    this.flushNow(); // ws has written every frame by now: ours go before our FIN
    this._socket!.end();
  }

  /** The TCP connection is gone: emit `close`. @internal */
  _socketClosed(): void {
    const socket = this._socket!;
    socket.removeListener('close', onSocketClose);
    socket.removeListener('data', onSocketData);
    socket.removeListener('end', onSocketEnd);
    this._readyState = CLOSING;
    // Bytes read but not consumed while paused still count (ws reads them at close).
    if (!this._closeFrameReceived && !this._errored && socket.readableLength > 0) {
      const rest = socket.read() as Buffer | null;
      if (rest !== null) this._receive(rest);
    }
    this._connection!.receiveEof();
    (socket as TaggedSocket)[kWebSocket] = undefined;
    if (this._closeTimer !== null) clearTimeout(this._closeTimer);
    this._closeTimer = null;
    this.emitClose();
  }

  /** Move to CLOSED and emit `close` with what the peer's close frame said (or 1006). @internal */
  emitClose(): void {
    this._readyState = CLOSED;
    this._extension?.close();
    this.emit('close', this._closeCode, this._closeMessage);
  }

  /** The handshake failed before a socket was set: emit `error`, then `close` (1006). @internal */
  _emitErrorAndClose(error: Error): void {
    this._readyState = CLOSING;
    this._errorEmitted = true;
    this.emit('error', error);
    this.emitClose();
  }

  /** @internal */
  _setReadyState(state: ReadyState): void {
    this._readyState = state;
  }

  private setCloseTimer(): void {
    const socket = this._socket!;
    this._closeTimer = setTimeout(() => socket.destroy(), this._closeTimeout);
  }

  private control(
    type: 'ping' | 'pong',
    data: WsSendData | WriteCallback | undefined,
    mask: boolean | WriteCallback | undefined,
    cb: WriteCallback | undefined,
  ): void {
    if (this._readyState === CONNECTING) throw notOpen(this._readyState);
    if (typeof data === 'function') {
      cb = data;
      data = undefined;
    } else if (typeof mask === 'function') {
      cb = mask;
    }
    if (typeof data === 'number') data = data.toString();
    if (this._readyState !== OPEN) {
      this.sendAfterClose(data, cb);
      return;
    }
    if (data instanceof Blob) {
      if (data.size > MAX_CONTROL_PAYLOAD)
        throw new RangeError('The data size must not be greater than 125 bytes');
      this.controlBlob(type, data, cb);
      return;
    }
    const payload = data == null ? EMPTY : toPayload(data);
    const length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    if (length > MAX_CONTROL_PAYLOAD)
      throw new RangeError('The data size must not be greater than 125 bytes');
    // No closure unless a Blob is being read (see send()).
    if (this._waiting === null) this.queueControl(type, payload, cb);
    else this.queueControlLater(type, payload, cb);
  }

  /** Queue a ping or pong behind the Blobs being read (see `whenReady`). */
  private queueControlLater(
    type: 'ping' | 'pong',
    payload: Uint8Array | string,
    cb: WriteCallback | undefined,
  ): void {
    this._waiting!.push(() => this.queueControl(type, payload, cb));
  }

  /** Read `blob` in its turn, then queue its bytes as a ping or pong. */
  private controlBlob(type: 'ping' | 'pong', blob: Blob, cb: WriteCallback | undefined): void {
    this.whenReady(() => this.readBlob(blob, cb, (bytes) => this.queueControl(type, bytes, cb)));
  }

  private queueControl(
    type: 'ping' | 'pong',
    payload: Uint8Array | string,
    cb: WriteCallback | undefined,
  ): void {
    const connection = this._connection!;
    const queued = type === 'ping' ? connection.ping(payload) : connection.pong(payload);
    if (queued) this.afterWrite(cb);
    else if (cb !== undefined) process.nextTick(cb, notOpen(this._readyState));
  }

  private enqueue(
    payload: Uint8Array | string,
    binary: boolean,
    compress: boolean,
    fin: boolean,
    cb: WriteCallback | undefined,
  ): void {
    const connection = this._connection!;
    let queued: boolean;
    if (this._fragmentText !== null || !fin) {
      // A fragmented message: its frames go uncompressed (the type is the first frame's).
      const first = this._fragmentText === null;
      const isText = first ? !binary : this._fragmentText!;
      queued = connection.sendFragment(payload, isText, fin, first);
      this._fragmentText = fin ? null : isText;
    } else if (!compress && this._extension !== null) {
      queued = connection.sendFragment(payload, !binary, true, true); // one uncompressed frame
    } else {
      queued = connection.send(payload, !binary);
    }
    if (queued) this.afterWrite(cb);
    else if (cb !== undefined) process.nextTick(cb, notOpen(this._readyState));
  }

  /** Queue a message behind the Blobs being read (see `whenReady`). */
  private enqueueLater(
    payload: Uint8Array | string,
    binary: boolean,
    compress: boolean,
    fin: boolean,
    cb: WriteCallback | undefined,
  ): void {
    this._waiting!.push(() => this.enqueue(payload, binary, compress, fin, cb));
  }

  /** Read `blob` in its turn, then queue its bytes as one message. */
  private sendBlob(
    blob: Blob,
    binary: boolean,
    compress: boolean,
    fin: boolean,
    cb: WriteCallback | undefined,
  ): void {
    this.whenReady(() => this.readBlob(blob, cb, (bytes) => this.enqueue(bytes, binary, compress, fin, cb)));
  }

  /** Call `cb` once what is queued now has been written. */
  private afterWrite(cb: WriteCallback | undefined): void {
    if (cb === undefined) return;
    if (this._callbacks === null) this._callbacks = [cb];
    else this._callbacks.push(cb);
    this._scheduleFlush();
  }

  /** Run `operation` now, or after the Blobs being read (order kept). */
  private whenReady(operation: () => void): void {
    if (this._waiting === null) operation();
    else this._waiting.push(operation);
  }

  /**
   * Read a Blob, then send it with `send`; what is sent meanwhile waits (see `whenReady`)
   * and goes after it, in order. Called only when nothing else waits.
   */
  private readBlob(blob: Blob, cb: WriteCallback | undefined, send: (bytes: Uint8Array) => void): void {
    this._waiting = [];
    blob.arrayBuffer().then(
      (buffer) => {
        const waiting = this._waiting ?? [];
        this._waiting = null;
        send(new Uint8Array(buffer));
        for (let i = 0; i < waiting.length; i++) {
          if (this._waiting !== null) {
            // A waiting send was a Blob too: the rest waits for it.
            (this._waiting as (() => void)[]).push(...waiting.slice(i));
            return;
          }
          waiting[i]!();
        }
      },
      (error: unknown) => {
        this._waiting = null;
        this.senderError(error instanceof Error ? error : new Error(String(error)), cb);
      },
    );
  }

  private senderError(error: Error, cb: WriteCallback | undefined): void {
    if (cb !== undefined) cb(error);
    if (this._readyState === CLOSED) return;
    if (this._readyState === OPEN) {
      this._readyState = CLOSING;
      this.setCloseTimer();
    }
    this.flushNow();
    this._socket?.end();
    if (!this._errorEmitted) {
      this._errorEmitted = true;
      this.emit('error', error);
    }
  }

  /** `ws`: data sent after the close is counted in `bufferedAmount`, and `cb` gets an error. */
  private sendAfterClose(data: Exclude<WsSendData, number> | undefined, cb: WriteCallback | undefined): void {
    if (data) {
      this._discardedBytes += data instanceof Blob ? data.size : byteLength(toPayload(data));
    }
    if (cb === undefined) return;
    const error = notOpen(this._readyState);
    // After the callbacks of what is still queued, as with ws (its writes complete first).
    if (this._callbacks !== null) this._callbacks.push(() => cb(error));
    else process.nextTick(cb, error);
  }

  private toBinaryType(data: Buffer): RawData {
    switch (this._binaryType) {
      case 'nodebuffer':
        return data;
      case 'arraybuffer':
        return toArrayBuffer(data);
      case 'fragments':
        return [data];
      case 'blob':
        return new Blob([data as Uint8Array<ArrayBuffer>]);
    }
  }
}

for (const [name, value] of [
  ['CONNECTING', CONNECTING],
  ['OPEN', OPEN],
  ['CLOSING', CLOSING],
  ['CLOSED', CLOSED],
] as const) {
  Object.defineProperty(WebSocket.prototype, name, { enumerable: true, value });
}

function flushSocket(ws: WebSocket): void {
  ws._flush();
}

// Socket listeners shared by every connection (`this` is the socket).
function onSocketData(this: Socket, chunk: Buffer): void {
  (this as TaggedSocket)[kWebSocket]?._receive(chunk);
}
function onSocketEnd(this: Socket): void {
  (this as TaggedSocket)[kWebSocket]?._peerEnded();
}
function onSocketClose(this: Socket): void {
  (this as TaggedSocket)[kWebSocket]?._socketClosed();
}
function onSocketError(this: Socket): void {
  // ws: a socket error is not the WebSocket's error; the connection just ends (1006).
  this.removeListener('error', onSocketError);
  this.on('error', noop);
  const ws = (this as TaggedSocket)[kWebSocket];
  if (ws !== undefined) {
    ws._setReadyState(CLOSING);
    this.destroy();
  }
}

function noop(): void {}

function notOpen(state: ReadyState): Error {
  return new Error(`WebSocket is not open: readyState ${state} (${READY_STATE_NAMES[state]})`);
}

function toList(protocols: string | readonly string[] | undefined): readonly string[] {
  if (protocols === undefined) return [];
  return typeof protocols === 'string' ? [protocols] : protocols;
}

/** What the core can send: a string (encoded as UTF-8 by the core) or bytes. */
function toPayload(data: Exclude<WsSendData, Blob | number>): Uint8Array | string {
  if (typeof data === 'string') return data;
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return Buffer.from(data as readonly number[]);
}

function byteLength(payload: Uint8Array | string): number {
  return typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
}

/** The bytes of `data` as an ArrayBuffer: its own when it covers all of it, else a copy. */
function toArrayBuffer(data: Buffer): ArrayBuffer {
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) return data.buffer as ArrayBuffer;
  return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
}

// ---- the client's opening handshake (ws's initAsClient, on sockeye's handshake helpers) ----

/** A failed handshake: `ws` emits `error` then `close` (1006). */
function abortHandshake(ws: WebSocket, stream: ClientRequest | Socket | null, message: string): void {
  ws._setReadyState(CLOSING);
  const error = new Error(message);
  if (stream !== null && 'setHeader' in stream) {
    (stream as ClientRequest & { [kAborted]?: boolean })[kAborted] = true;
    stream.destroy();
    if (stream.socket !== null && !stream.socket.destroyed) stream.socket.destroy();
    process.nextTick(() => ws._emitErrorAndClose(error));
  } else if (stream !== null) {
    stream.destroy(error);
    stream.once('error', (e: Error) => ws.emit('error', e));
    stream.once('close', () => ws.emitClose());
  } else {
    process.nextTick(() => ws._emitErrorAndClose(error));
  }
}

const kAborted = Symbol('sockeye.ws.aborted');

function initAsClient(
  ws: WebSocket,
  address: string | URL,
  protocols: readonly string[],
  options: ClientOptions | undefined,
): void {
  const opts = {
    allowSynchronousEvents: true,
    autoPong: true,
    closeTimeout: CLOSE_TIMEOUT,
    protocolVersion: 13,
    maxPayload: DEFAULT_MAX_PAYLOAD,
    maxFragments: DEFAULT_MAX_FRAGMENTS,
    maxPendingAutoPongs: DEFAULT_MAX_PENDING_AUTO_PONGS,
    perMessageDeflate: true as boolean | WsPerMessageDeflateOptions,
    followRedirects: false,
    maxRedirects: 10,
    ...options,
    socketPath: undefined as string | undefined,
    hostname: undefined,
    protocol: undefined,
    timeout: undefined as number | undefined,
    method: 'GET',
    host: undefined as string | undefined,
    path: undefined as string | undefined,
    port: undefined as string | number | undefined,
  } as ClientOptions & {
    allowSynchronousEvents: boolean;
    autoPong: boolean;
    closeTimeout: number;
    protocolVersion: number;
    maxPayload: number;
    maxFragments: number;
    maxPendingAutoPongs: number;
    followRedirects: boolean;
    maxRedirects: number;
    headers: Record<string, string | number | string[]>;
    defaultPort?: number;
    timeout?: number;
  };
  if (opts.protocolVersion !== 8 && opts.protocolVersion !== 13) {
    throw new RangeError(`Unsupported protocol version: ${opts.protocolVersion} (supported versions: 8, 13)`);
  }
  let url: URL;
  if (address instanceof URL) {
    url = address;
  } else {
    try {
      url = new URL(address);
    } catch {
      throw new SyntaxError(`Invalid URL: ${address}`);
    }
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    url = new URL(url);
    url.protocol = url.protocol === 'http:' ? 'ws:' : 'wss:';
  }
  ws._setUrl(url.href);
  const secure = url.protocol === 'wss:';
  const ipc = url.protocol === 'ws+unix:';
  let invalid: string | undefined;
  if (url.protocol !== 'ws:' && !secure && !ipc) {
    invalid = 'The URL\'s protocol must be one of "ws:", "wss:", "http:", "https:", or "ws+unix:"';
  } else if (ipc && !url.pathname) {
    invalid = "The URL's pathname is empty";
  } else if (url.hash) {
    invalid = 'The URL contains a fragment identifier';
  }
  if (invalid !== undefined) {
    const error = new SyntaxError(invalid);
    if (ws._redirectCount === 0) throw error;
    ws._emitErrorAndClose(error);
    return;
  }
  ws._setClientSettings(opts);
  const key = generateKey();
  const defaultPort = secure ? 443 : 80;
  let deflate: PerMessageDeflate | null = null;
  const connect = opts.createConnection ?? (secure ? tlsConnectFor : netConnectFor);
  opts.createConnection = connect;
  opts.defaultPort = opts.defaultPort ?? defaultPort;
  opts.port = url.port || defaultPort;
  opts.host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  opts.headers = {
    ...(opts.headers as Record<string, string>),
    'Sec-WebSocket-Version': opts.protocolVersion,
    'Sec-WebSocket-Key': key,
    Connection: 'Upgrade',
    Upgrade: 'websocket',
  };
  opts.path = url.pathname + url.search;
  opts.timeout = opts.handshakeTimeout;
  if (opts.perMessageDeflate !== false) {
    deflate = new PerMessageDeflate(
      toDeflateOptions(typeof opts.perMessageDeflate === 'object' ? opts.perMessageDeflate : {}, 'client'),
    );
    opts.headers['Sec-WebSocket-Extensions'] = deflate.offer();
  }
  const offered = new Set<string>();
  if (protocols.length > 0) {
    for (const protocol of protocols) {
      if (typeof protocol !== 'string' || !SUBPROTOCOL.test(protocol) || offered.has(protocol)) {
        throw new SyntaxError('An invalid or duplicated subprotocol was specified');
      }
      offered.add(protocol);
    }
    opts.headers['Sec-WebSocket-Protocol'] = protocols.join(',');
  }
  if (opts.origin) {
    if (opts.protocolVersion < 13) opts.headers['Sec-WebSocket-Origin'] = opts.origin;
    else opts.headers.Origin = opts.origin;
  }
  if (url.username || url.password) {
    opts.auth = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  }
  if (ipc) {
    const path = opts.path;
    const colon = path.indexOf(':');
    if (colon === -1) {
      opts.socketPath = path;
      opts.path = '';
    } else {
      opts.socketPath = path.slice(0, colon);
      opts.path = path.slice(colon + 1);
    }
  }
  const request = secure ? httpsRequest : httpRequest;
  let req: ClientRequest;
  if (opts.followRedirects) {
    const original = ws._originalTarget;
    if (ws._redirectCount === 0 || original === null) {
      ws._originalTarget = {
        ipc,
        secure,
        hostOrSocketPath: ipc ? opts.socketPath! : url.host,
      };
    } else if (ws.listenerCount('redirect') === 0) {
      // Credentials go only to the host they were given for, and never from wss: to ws:.
      const sameHost = ipc
        ? original.ipc && opts.socketPath === original.hostOrSocketPath
        : !original.ipc && url.host === original.hostOrSocketPath;
      if (!sameHost || (original.secure && !secure)) {
        for (const name of Object.keys(opts.headers)) {
          const lower = name.toLowerCase();
          if (lower === 'authorization' || lower === 'cookie' || (!sameHost && lower === 'host')) {
            delete opts.headers[name];
          }
        }
        opts.auth = undefined;
      }
    }
    req = request(opts as ClientRequestArgs);
    ws._req = req;
    if (ws._redirectCount > 0) ws.emit('redirect', ws.url!, req);
  } else {
    req = request(opts as ClientRequestArgs);
    ws._req = req;
  }
  if (opts.timeout) {
    req.on('timeout', () => abortHandshake(ws, req, 'Opening handshake has timed out'));
  }
  req.on('error', (error: Error) => {
    if ((req as ClientRequest & { [kAborted]?: boolean })[kAborted] === true || ws._req !== req) return;
    ws._req = null;
    ws._emitErrorAndClose(error);
  });
  req.on('response', (res: IncomingMessage) => {
    const location = res.headers.location;
    const status = res.statusCode ?? 0;
    if (location && opts.followRedirects && status >= 300 && status < 400) {
      if (ws._countRedirect() > opts.maxRedirects) {
        abortHandshake(ws, req, 'Maximum redirects exceeded');
        return;
      }
      (req as ClientRequest & { [kAborted]?: boolean })[kAborted] = true;
      req.destroy();
      let next: URL;
      try {
        next = new URL(location, address);
      } catch {
        ws._emitErrorAndClose(new SyntaxError(`Invalid URL: ${location}`));
        return;
      }
      initAsClient(ws, next, protocols, options);
    } else if (!ws.emit('unexpected-response', req, res)) {
      abortHandshake(ws, req, `Unexpected server response: ${res.statusCode}`);
    }
  });
  req.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
    ws.emit('upgrade', res);
    if (ws.readyState !== CONNECTING) return;
    ws._req = null;
    const fail = (message: string) => abortHandshake(ws, socket, message);
    const upgrade = res.headers.upgrade;
    if (upgrade === undefined || upgrade.toLowerCase() !== 'websocket') {
      fail('Invalid Upgrade header');
      return;
    }
    if (res.headers['sec-websocket-accept'] !== computeAccept(key)) {
      fail('Invalid Sec-WebSocket-Accept header');
      return;
    }
    const selected = res.headers['sec-websocket-protocol'];
    if (selected !== undefined) {
      if (offered.size === 0) {
        fail('Server sent a subprotocol but none was requested');
        return;
      }
      if (!offered.has(selected)) {
        fail('Server sent an invalid subprotocol');
        return;
      }
      ws._protocol = selected;
    } else if (offered.size > 0) {
      fail('Server sent no subprotocol');
      return;
    }
    const extensions = res.headers['sec-websocket-extensions'];
    if (extensions !== undefined) {
      if (deflate === null) {
        fail('Server sent a Sec-WebSocket-Extensions header but no extension was requested');
        return;
      }
      let parsed: ReturnType<typeof parseExtensions>;
      try {
        parsed = parseExtensions(extensions);
      } catch {
        fail('Invalid Sec-WebSocket-Extensions header');
        return;
      }
      if (parsed.length !== 1 || parsed[0]!.name !== 'permessage-deflate') {
        fail('Server indicated an extension that was not requested');
        return;
      }
      try {
        ws._extension = deflate.accept(parsed);
      } catch (error) {
        if (!(error instanceof HandshakeError)) throw error;
        fail('Invalid Sec-WebSocket-Extensions header');
        return;
      }
    }
    ws.setSocket(socket, head, opts);
  });
  if (opts.finishRequest !== undefined) opts.finishRequest(req, ws);
  else req.end();
}

function netConnectFor(options: ClientRequestArgs): Socket {
  const netOptions = { ...options, path: options.socketPath } as unknown as NetConnectOpts;
  return netConnect(netOptions);
}

function tlsConnectFor(options: ClientRequestArgs): Socket {
  const tlsOptions = { ...(options as TlsConnectionOptions & { host?: string }) } as TlsConnectionOptions & {
    host?: string;
    path?: string;
  };
  tlsOptions.path = undefined;
  if (!tlsOptions.servername && tlsOptions.servername !== '') {
    tlsOptions.servername = isIP(tlsOptions.host ?? '') ? '' : tlsOptions.host;
  }
  return tlsConnect(tlsOptions);
}

/** What an {@link InternalError} wraps, when it is an `Error`; otherwise the InternalError itself. */
function internalCause(error: InternalError): Error {
  return error.cause instanceof Error ? error.cause : error;
}
