import type { Socket } from 'node:net';
import {
  CloseCode,
  type CloseInfo,
  Connection,
  type ConnectionHandler,
  type Extension,
  InternalError,
  isValidWireCloseCode,
  limits,
  type OutputBuffers,
  type Payload,
  type PreparedMessage,
} from '../protocol/index.js';
import type { TopicRegistry } from '../pubsub/index.js';
import { ConnectionInfo, channels } from './diagnostics.js';
import type { ConnectionOps } from './limits.js';
import {
  type PublishData,
  type PublishOptions,
  type SendData,
  SendStatus,
  type WebSocketHandlers,
  type WireDirection,
} from './types.js';

/**
 * What a {@link ServerWebSocket} needs from its server: the shared handlers and limits,
 * the sweep's deadlines, and the once-per-tick flush. One object per server, so a
 * connection holds one reference instead of a copy of every option.
 * @internal
 */
export interface ConnectionHost<Data> {
  readonly handlers: WebSocketHandlers<Data>;
  readonly decodeText: boolean;
  readonly maxBufferedBytes: number;
  readonly highWaterMark: number;
  readonly closeOnBackpressureLimit: boolean;
  readonly wiretap:
    | ((ws: ServerWebSocket<Data>, direction: WireDirection, bytes: Buffer) => void)
    | undefined;
  /** The connection is closing: drop its TCP connection if the peer has not closed it by the close timeout. */
  startCloseDeadline(ws: ServerWebSocket<Data>): void;
  /** A pong arrived: the heartbeat starts over. */
  pongReceived(ws: ServerWebSocket<Data>): void;
  /** Flush this connection at the end of the current tick. */
  scheduleFlush(ws: ServerWebSocket<Data>): void;
  /** The WebSocket connection reached `closed` (called before `handlers.close`). */
  connectionClosed(ws: ServerWebSocket<Data>, info: CloseInfo): void;
  /** A message arrived on a connection with {@link ConnectionOps}: whether to deliver it. */
  admitMessage(ws: ServerWebSocket<Data>, ops: ConnectionOps, size: number): boolean;
  /** A message was queued on a connection with {@link ConnectionOps}. */
  countMessageOut(): void;
  /** Publish on `sockeye:message` (only called when it has subscribers). */
  observeMessage(ws: ServerWebSocket<Data>, direction: 'in' | 'out', bytes: number, isBinary: boolean): void;
  /** Publish on `sockeye:backpressure` (only called when it has subscribers). */
  observeBackpressure(ws: ServerWebSocket<Data>, state: 'reached' | 'drained'): void;
  /** The TCP connection is gone. */
  socketClosed(ws: ServerWebSocket<Data>): void;
  /** A handler failed: report it. */
  reportError(ws: ServerWebSocket<Data>, error: unknown): void;
  /** The server's local topic subscriptions. */
  readonly topicRegistry: TopicRegistry<ServerWebSocket<Data>>;
  /** Publish to `topic`: every local subscriber but `sender`, then the broker. */
  publishFrom(
    sender: ServerWebSocket<Data> | null,
    topic: string,
    data: PublishData,
    options: PublishOptions | undefined,
  ): number;
}

/** The socket's back reference to its connection, so socket listeners can be shared functions, not closures. */
/**
 * The socket's back reference to what owns it: the server's pending handshake, then the
 * WebSocket. One property for both phases: a second one would push a socket's properties
 * out of the object into a separate array (40 more bytes per connection).
 * @internal
 */
export const kSocketOwner = Symbol('sockeye.socket');
type TaggedSocket = Socket & { [kSocketOwner]: ServerWebSocket<unknown> };

/** The identity of a connection the server has not introduced yet (never seen by users). */
const UNKNOWN_CONNECTION = new ConnectionInfo(0, '', '', 0);

/** A message waiting behind a Blob being read (the order of sends is kept). */
interface Deferred {
  data: Payload | null;
  isText: boolean;
  size: number;
}

/**
 * Routes the core's callbacks to the connection. One small object per connection with
 * its methods on the prototype (cheaper than five closures).
 */
class CoreEvents<Data> implements ConnectionHandler {
  constructor(private readonly ws: ServerWebSocket<Data>) {}
  onMessage(data: Buffer, isText: boolean): void {
    this.ws._onMessage(data, isText);
  }
  onPing(data: Buffer): void {
    this.ws._call('ping', data);
  }
  onPong(data: Buffer): void {
    this.ws._onPong(data);
  }
  onClose(info: CloseInfo): void {
    this.ws._onClose(info);
  }
  onOutput(): void {
    this.ws._onOutput();
  }
}

/**
 * One accepted WebSocket connection on a {@link WebSocketServer}. Created by the server;
 * events arrive through the server's handlers, not on this object.
 *
 * Writes are batched: sends made while a read is processed leave in one write after it,
 * sends made elsewhere leave once at the end of the tick, and `cork(fn)` batches
 * explicitly.
 *
 * @typeParam Data - what the server's `authenticate` hook returned for this connection
 */
export class ServerWebSocket<Data = undefined> {
  /** What `authenticate` returned for this connection (yours to change). */
  data: Data;
  /** The subprotocol selected in the handshake, or `''`. */
  readonly protocol: string;
  /** The extensions negotiated in the handshake, as sent in `Sec-WebSocket-Extensions`, or `''`. */
  readonly extensions: string;

  /** @internal */
  readonly _socket: Socket;
  private readonly host: ConnectionHost<Data>;
  private readonly connection: Connection;
  /** Depth of the batch (a read being processed, `cork`, opening): flush when it returns to 0. */
  private batch = 0;
  /** A `send()` returned `queued`: call `drain` when the buffer empties. */
  private needDrain = false;
  /** Reading is paused because the output is above the high-water mark. */
  private readPaused = false;
  /** A handler (or the connection) failed and was reported: deliver nothing more, report nothing more. */
  private failed = false;
  /** Messages waiting behind a Blob (null when none: the common case costs nothing). */
  private deferred: Deferred[] | null = null;
  private deferredBytes = 0;
  /** `close()` was called while messages waited behind a Blob: close once they are sent. */
  private deferredClose: [code: number | undefined, reason: string | undefined] | null = null;
  /** @internal Identity (id, client address, path) and what diagnostics keep; set by the server. */
  _info: ConnectionInfo = UNKNOWN_CONNECTION;
  /**
   * @internal Message limits, lifetime, idle timeout, message counts: null unless the
   * server has one configured, so that the receive path tests this one field and no more.
   */
  _ops: ConnectionOps | null = null;

  /** @internal Created by {@link WebSocketServer}. */
  constructor(
    host: ConnectionHost<Data>,
    socket: Socket,
    options: { maxPayload: number; maxFragments: number; outputBuffers: OutputBuffers },
    data: Data,
    protocol: string,
    extensions: string,
    extension: Extension | null = null,
  ) {
    this.host = host;
    this._socket = socket;
    this.data = data;
    this.protocol = protocol;
    this.extensions = extensions;
    this.connection = new Connection(new CoreEvents(this), {
      role: 'server',
      maxPayload: options.maxPayload,
      maxFragments: options.maxFragments,
      extensions: extension === null ? [] : [extension],
      outputBuffers: options.outputBuffers,
    });
  }

  /** `open`, `closing` (a close frame was sent, waiting for the peer's), or `closed`. */
  get readyState(): 'open' | 'closing' | 'closed' {
    return this.connection.state;
  }

  /** The peer's IP address (read at the handshake, so still known after the close). */
  get remoteAddress(): string | undefined {
    return this._socket.remoteAddress;
  }

  /** The peer's TCP port. */
  get remotePort(): number | undefined {
    return this._socket.remotePort;
  }

  /** The connection's id: unique in the process, as diagnostics channels report it. */
  get id(): number {
    return this._info.id;
  }

  /**
   * The real client address: the PROXY header's (with `proxyProtocol`), or, from a
   * trusted proxy, the one its `Forwarded` / `X-Forwarded-For` header gives (see the
   * server's `trustProxy`); otherwise `remoteAddress`. IPv4-mapped IPv6 addresses are
   * given as IPv4. Every limit and diagnostics message uses it.
   */
  get clientAddress(): string {
    return this._info.clientAddress;
  }

  /** The path of the upgrade request, without the query. */
  get path(): string {
    return this._info.path;
  }

  /**
   * Bytes accepted by `send()` and not yet handed to the kernel: queued in the protocol
   * core, waiting behind a Blob, or buffered in the socket.
   */
  get bufferedAmount(): number {
    return this.connection.bufferedBytes + this.deferredBytes + this._socket.writableLength;
  }

  /**
   * Send a message. A `string` goes as text and anything else as binary, unless
   * `isBinary` says otherwise (a `Buffer` of UTF-8 can go as text with `false`; it is
   * not re-validated). Returns what happened to it (see {@link SendStatus}).
   * A large `Buffer` is sent by reference: do not change it until it has been written.
   */
  send(data: SendData, isBinary: boolean = typeof data !== 'string'): SendStatus {
    if (this.connection.state !== 'open' || this.deferredClose !== null) return SendStatus.Dropped;
    if (typeof data === 'string') return this.enqueue(data, !isBinary, -1);
    if (data instanceof Uint8Array) return this.enqueue(data, !isBinary, -1); // Buffer: the echo path
    if (data instanceof Blob) return this.sendBlob(data, !isBinary);
    return this.enqueue(toBytes(data), !isBinary, -1);
  }

  /** Send a ping (payload at most 125 bytes). Returns false when the connection is closing or closed. */
  ping(data: string | Buffer | ArrayBufferView = ''): boolean {
    if (this.connection.state !== 'open') return false;
    return this.connection.ping(typeof data === 'string' ? data : toBytes(data));
  }

  /** Send an unsolicited pong (payload at most 125 bytes). Returns false when closing or closed. */
  pong(data: string | Buffer | ArrayBufferView = ''): boolean {
    if (this.connection.state !== 'open') return false;
    return this.connection.pong(typeof data === 'string' ? data : toBytes(data));
  }

  /**
   * Start the closing handshake. The peer has `closeTimeout` to answer before the TCP
   * connection is dropped. Without a code the close frame is empty (the peer sees 1005).
   * Does nothing when already closing or closed.
   * @throws RangeError for a code that may not be sent, or a reason over 123 bytes
   */
  close(code?: number, reason?: string): void {
    if (this.connection.state !== 'open' || this.deferredClose !== null) return;
    if (this.deferred !== null) {
      // Messages are waiting behind a Blob: the close frame goes after them, in order.
      checkCloseArguments(code, reason);
      this.deferredClose = [code, reason];
    } else {
      this.connection.close(code, reason);
    }
    this._info.sentCode = code ?? CloseCode.NoStatusReceived;
    this.host.startCloseDeadline(this);
  }

  /** Drop the TCP connection now, without a closing handshake. `close` reports 1006. */
  terminate(): void {
    this._socket.destroy();
    this.connection.receiveEof();
  }

  /**
   * Run `fn` and write everything it sends in one batch (one `writev`), e.g. a burst of
   * messages from a timer. Calls nest. Returns what `fn` returns.
   */
  cork<T>(fn: () => T): T {
    this.batch++;
    try {
      return fn();
    } finally {
      if (--this.batch === 0) this._flush();
    }
  }

  // ---- topics ----

  /**
   * Subscribe this connection to `topic`: it receives what `server.publish(topic)` and
   * other connections' `publish(topic)` send, from this server and, through the server's
   * broker, from the other servers of the application. Subscriptions end with the
   * connection.
   * @returns true if it was not subscribed yet; false if it was, or if the connection is
   *   closing or closed (nothing is subscribed then)
   * @throws `TopicError` (close code 1008) for an empty or too long topic name, or past
   *   the most topics per connection (see the server's `topics` option)
   */
  subscribe(topic: string): boolean {
    if (this.connection.state !== 'open') return false;
    return this.host.topicRegistry.subscribe(this, topic);
  }

  /**
   * Unsubscribe this connection from `topic`.
   * @returns true if it was subscribed
   */
  unsubscribe(topic: string): boolean {
    return this.host.topicRegistry.unsubscribe(this, topic);
  }

  /** Whether this connection is subscribed to `topic`. */
  isSubscribed(topic: string): boolean {
    return this.host.topicRegistry.topicsOf(this).has(topic);
  }

  /** The topics this connection is subscribed to (a copy). */
  get topics(): ReadonlySet<string> {
    return new Set(this.host.topicRegistry.topicsOf(this));
  }

  /**
   * Publish a message to every subscriber of `topic` except this connection (subscribed
   * or not), here and on the other servers of the application. Same as
   * `server.publish()` otherwise.
   * @returns how many local subscribers it was queued for (see `server.publish()`)
   * @throws `TopicError` (close code 1008) for an empty or too long topic name
   */
  publish(topic: string, data: PublishData, options?: PublishOptions): number {
    return this.host.publishFrom(this, topic, data, options);
  }

  // ---- internals used by the server ----

  /**
   * Queue a message framed once for many connections, under the same backpressure policy
   * as `send()`: past `maxBufferedBytes` it is dropped for this connection (and with
   * `closeOnBackpressureLimit` the connection closes with 1008).
   * @internal
   */
  _sendPrepared(message: PreparedMessage): SendStatus {
    if (this.connection.state !== 'open') return SendStatus.Dropped;
    const size = message.data.length;
    const buffered = this.bufferedAmount;
    if (buffered + size > this.host.maxBufferedBytes) return this.overflow();
    if (this.deferred !== null) {
      // Behind a Blob being read: wait in line (the payload is the server's own copy).
      this.deferred.push({ data: message.data, isText: message.isText, size });
      this.deferredBytes += size;
      this.needDrain = true;
      return SendStatus.Queued;
    }
    if (!this.connection.sendPrepared(message)) return SendStatus.Dropped;
    if (this._ops !== null) this.host.countMessageOut();
    if (channels.message.hasSubscribers) this.host.observeMessage(this, 'out', size, !message.isText);
    if (buffered + size > this.host.highWaterMark) {
      this.needDrain = true;
      return SendStatus.Queued;
    }
    return SendStatus.Sent;
  }

  /**
   * Start the connection: listen to the socket, run `open`, process bytes that came with
   * the handshake, write the 101 response and the first output together.
   * @internal
   */
  _start(response: string, head: Buffer): void {
    const socket = this._socket as TaggedSocket;
    socket[kSocketOwner] = this as ServerWebSocket<unknown>;
    socket.on('data', onSocketData);
    // Without half-open connections (standalone mode) Node ends our side itself when the
    // peer's FIN arrives, and 'close' follows: no 'end' listener needed (Node has one, and a
    // second turns the socket's listener slot into an array, per connection).
    if (socket.allowHalfOpen) socket.on('end', onSocketEnd);
    socket.on('close', onSocketClose);
    socket.on('drain', onSocketDrain);
    socket.cork();
    socket.write(response);
    this.batch++;
    try {
      this._call('open');
      if (head.length > 0 && this.connection.state !== 'closed') this.receiveChunk(head);
    } finally {
      this.batch--;
      this._flush();
      socket.uncork();
    }
    socket.resume();
    if (this.connection.state !== 'closed') this.checkBackpressure();
  }

  /** Bytes from the socket. @internal */
  _receive(chunk: Buffer): void {
    this.batch++;
    try {
      this.receiveChunk(chunk);
    } finally {
      if (--this.batch === 0) this._flush();
    }
    this.checkBackpressure();
  }

  /** The socket is writable again. @internal */
  _drained(): void {
    if (this.connection.bufferedBytes > 0) return;
    if (this.readPaused && this._socket.writableLength <= this.host.highWaterMark) {
      this.readPaused = false;
      this._socket.resume();
      if (channels.backpressure.hasSubscribers) this.host.observeBackpressure(this, 'drained');
    }
    if (this.needDrain && this.bufferedAmount === 0) {
      this.needDrain = false;
      this._call('drain');
    }
  }

  /** The peer closed its side of TCP. @internal */
  _peerEnded(): void {
    this.connection.receiveEof();
    // Usually our side has ended already (after the close handshake): a second end() would
    // build an ERR_STREAM_ALREADY_FINISHED error with its stack trace, per connection.
    const socket = this._socket;
    if (!socket.destroyed && !socket.writableEnded) socket.end();
  }

  /** The TCP connection ended or failed. @internal */
  _socketGone(): void {
    this.connection.receiveEof();
    this.host.socketClosed(this);
  }

  /** Write out everything the core has queued. @internal */
  _flush(): void {
    const queued = this.connection.bufferedBytes;
    const chunks = this.connection.takeOutput();
    const count = chunks.length;
    if (count === 0) return;
    const socket = this._socket;
    if (!socket.writable) return;
    const tap = this.host.wiretap;
    if (tap !== undefined) for (const chunk of chunks) this.tap(tap, 'out', chunk);
    // Under backpressure (or when this batch takes the socket's buffer past our mark), learn
    // when it has reached the kernel: the socket's own 'drain' only comes when a write
    // crossed its 16 KiB mark, which a small batch, or a highWaterMark below 16 KiB, may not.
    const written =
      this.needDrain || this.readPaused || socket.writableLength + queued > this.host.highWaterMark
        ? onBatchWritten.bind(socket)
        : undefined;
    try {
      if (count === 1) {
        socket.write(chunks[0]!, written);
      } else {
        // One writev for the whole batch instead of a system call per frame.
        socket.cork();
        const last = count - 1;
        for (let i = 0; i < last; i++) socket.write(chunks[i]!);
        socket.write(chunks[last]!, written);
        socket.uncork();
      }
    } catch (error) {
      // A write that throws (rather than reporting through 'error') leaves the socket in
      // an unknown state: drop it, and fail the connection (its close frame cannot go out).
      socket.destroy();
      this.connection.abort(error);
    }
  }

  /** @internal */
  _onMessage(data: Buffer, isText: boolean): void {
    if (this.failed || this.connection.state === 'closed') return;
    // Limits and counts: one field test when none is configured; the message channel, one
    // property read while nobody subscribes.
    const ops = this._ops;
    if (ops !== null && !this.host.admitMessage(this, ops, data.length)) return;
    if (channels.message.hasSubscribers) this.host.observeMessage(this, 'in', data.length, !isText);
    const message = this.host.handlers.message;
    if (message === undefined) return;
    const payload = isText && this.host.decodeText ? data.toString('utf8') : data;
    // The hot path: called directly rather than through invoke(), whose rest parameters
    // would allocate an array per message.
    try {
      const result = message(this, payload, !isText);
      if (result instanceof Promise) this.watch(result);
    } catch (error) {
      this.handlerFailed(error);
    }
  }

  /** @internal */
  _onPong(data: Buffer): void {
    this.host.pongReceived(this);
    this._call('pong', data);
  }

  /** @internal */
  _onClose(info: CloseInfo): void {
    // Something failed on our side (the codec, decoding a text message, a socket write):
    // the peer got 1011 and nothing more; the application gets the error and its cause.
    if (info.error instanceof InternalError) this.reportFailure(info.error);
    this._flush();
    const socket = this._socket;
    // The server closes TCP first (RFC 6455 section 7.1.1); a peer that never closes its
    // side is dropped at the close deadline by the sweep.
    if (!socket.destroyed) {
      socket.end();
      if (this.readPaused) socket.resume();
      this.host.startCloseDeadline(this);
    }
    this.deferred = null;
    this.deferredBytes = 0;
    this.host.connectionClosed(this, info);
    const close = this.host.handlers.close;
    if (close !== undefined) this.invoke(close, info.code, info.reason);
  }

  /** @internal */
  _onOutput(): void {
    if (this.batch === 0) this.host.scheduleFlush(this);
  }

  /** Call a handler with this connection first, catching what it throws. @internal */
  _call(name: 'open' | 'drain' | 'ping' | 'pong', data?: Buffer): void {
    // Nothing after `close` (the parser may still hold frames of a chunk when terminate() ran).
    if (this.failed || this.connection.state === 'closed') return;
    const handler = this.host.handlers[name] as
      | ((ws: ServerWebSocket<Data>, data?: Buffer) => unknown)
      | undefined;
    if (handler !== undefined) this.invoke(handler, data);
  }

  private receiveChunk(chunk: Buffer): void {
    const tap = this.host.wiretap;
    // The core unmasks in place: the tap gets a copy of the bytes as they arrived.
    if (tap !== undefined) this.tap(tap, 'in', Buffer.from(chunk));
    this.connection.receive(chunk);
  }

  private tap(
    tap: (ws: ServerWebSocket<Data>, direction: WireDirection, bytes: Buffer) => void,
    direction: WireDirection,
    bytes: Buffer,
  ): void {
    try {
      tap(this, direction, bytes);
    } catch (error) {
      this.handlerFailed(error);
    }
  }

  /** Stop reading from a peer whose output is piling up (it is not reading what we send). */
  private checkBackpressure(): void {
    const socket = this._socket;
    // Pause only when something will wake us: a socket 'drain' (its buffer crossed its own
    // 16 KiB mark), a Blob being read (its release flushes with a write callback), or the
    // callback of the last batch, which _flush asks for whenever the socket's buffer passes
    // our mark (so a highWaterMark below Node's 16 KiB holds too).
    const highWaterMark = this.host.highWaterMark;
    if (
      !this.readPaused &&
      this.bufferedAmount > highWaterMark &&
      (socket.writableNeedDrain || this.deferred !== null || socket.writableLength > highWaterMark) &&
      !socket.destroyed
    ) {
      this.readPaused = true;
      socket.pause();
      if (channels.backpressure.hasSubscribers) this.host.observeBackpressure(this, 'reached');
    }
  }

  private invoke<A extends unknown[]>(
    handler: (ws: ServerWebSocket<Data>, ...args: A) => unknown,
    ...args: A
  ): void {
    try {
      const result = handler(this, ...args);
      if (result instanceof Promise) this.watch(result);
    } catch (error) {
      this.handlerFailed(error);
    }
  }

  /** A handler returned a promise: a rejection counts as a throw. */
  private watch(result: Promise<unknown>): void {
    result.then(undefined, (error: unknown) => this.handlerFailed(error));
  }

  private handlerFailed(error: unknown): void {
    this.reportFailure(error);
    if (this.connection.state === 'open') this.close(CloseCode.InternalError, 'internal server error');
  }

  /** Report an error of this connection (once: later ones are consequences of the first). */
  private reportFailure(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.host.reportError(this, error);
  }

  private enqueue(payload: Payload, isText: boolean, knownSize: number): SendStatus {
    const buffered = this.bufferedAmount;
    let size = knownSize;
    if (size < 0) {
      if (typeof payload !== 'string') size = payload.length;
      // A string has at most 3 bytes of UTF-8 per UTF-16 unit: skip the exact count when
      // even that bound is under the high-water mark (the common small message).
      else if (buffered + payload.length * 3 <= this.host.highWaterMark) size = payload.length;
      else size = Buffer.byteLength(payload);
    }
    if (buffered + size > this.host.maxBufferedBytes) return this.overflow();
    if (this.deferred !== null) {
      this.deferred.push({ data: payload, isText, size });
      this.deferredBytes += size;
      this.needDrain = true;
      return SendStatus.Queued;
    }
    if (!this.connection.send(payload, isText)) return SendStatus.Dropped;
    if (this._ops !== null) this.host.countMessageOut();
    if (channels.message.hasSubscribers) this.host.observeMessage(this, 'out', size, !isText);
    if (buffered + size > this.host.highWaterMark) {
      this.needDrain = true;
      return SendStatus.Queued;
    }
    return SendStatus.Sent;
  }

  private sendBlob(blob: Blob, isText: boolean): SendStatus {
    const size = blob.size;
    if (this.bufferedAmount + size > this.host.maxBufferedBytes) return this.overflow();
    const entry: Deferred = { data: null, isText, size };
    if (this.deferred === null) this.deferred = [entry];
    else this.deferred.push(entry);
    this.deferredBytes += size;
    this.needDrain = true;
    blob.arrayBuffer().then(
      (buffer) => {
        entry.data = new Uint8Array(buffer);
        this.releaseDeferred();
      },
      (error: unknown) => {
        if (this.deferred === null) return;
        this.handlerFailed(error);
      },
    );
    return SendStatus.Queued;
  }

  /** Send the messages whose turn has come (everything up to the next unread Blob). */
  private releaseDeferred(): void {
    const queue = this.deferred;
    if (queue === null) return;
    this.cork(() => {
      while (queue.length > 0 && queue[0]!.data !== null) {
        const entry = queue.shift()!;
        this.deferredBytes -= entry.size;
        this.connection.send(entry.data!, entry.isText);
      }
      const close = this.deferredClose;
      if (queue.length === 0 && close !== null) {
        this.deferredClose = null;
        this.connection.close(close[0], close[1]);
      }
    });
    if (queue.length === 0 && this.deferred === queue) {
      this.deferred = null;
      this.deferredBytes = 0;
    }
    if (this.deferred === null && this.needDrain && this.bufferedAmount === 0) {
      process.nextTick(onSocketDrain.bind(this._socket));
    }
  }

  private overflow(): SendStatus {
    if (this.host.closeOnBackpressureLimit) {
      this.close(CloseCode.PolicyViolation, 'outbound buffer limit exceeded');
    }
    return SendStatus.Dropped;
  }
}

/** The checks the core's `close()` makes, made early when the close frame has to wait. */
function checkCloseArguments(code: number | undefined, reason: string | undefined): void {
  if (code === undefined) {
    if (reason !== undefined && reason !== '') throw new RangeError('a close reason needs a close code');
  } else if (!isValidWireCloseCode(code)) {
    throw new RangeError(`close code ${code} may not be sent`);
  }
  if (reason !== undefined && Buffer.byteLength(reason) > limits.MAX_CLOSE_REASON_BYTES) {
    throw new RangeError(`close reason longer than ${limits.MAX_CLOSE_REASON_BYTES} bytes`);
  }
}

function toBytes(data: Buffer | ArrayBuffer | ArrayBufferView): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

// Socket listeners shared by every connection (`this` is the socket).
function onSocketData(this: Socket, chunk: Buffer): void {
  (this as TaggedSocket)[kSocketOwner]._receive(chunk);
}
function onSocketEnd(this: Socket): void {
  // The peer half-closed (an attached HTTP server's sockets allow half-open connections):
  // without a close handshake that is an abnormal end (1006); finish our side too.
  (this as TaggedSocket)[kSocketOwner]._peerEnded();
}
function onSocketClose(this: Socket): void {
  (this as TaggedSocket)[kSocketOwner]._socketGone();
}
function onSocketDrain(this: Socket): void {
  (this as TaggedSocket)[kSocketOwner]._drained();
}
function onBatchWritten(this: Socket, error?: Error | null): void {
  if (error == null) (this as TaggedSocket)[kSocketOwner]._drained();
}
