import type { Socket } from 'node:net';
import { SocketDriver, type WireDirection } from '../io/driver.js';
import {
  type AssemblyBudget,
  CloseCode,
  type CloseInfo,
  type Extension,
  InternalError,
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

/** @internal The socket's back reference (see the driver). */
export { kSocketOwner } from '../io/driver.js';

/** The identity of a connection the server has not introduced yet (never seen by users). */
const UNKNOWN_CONNECTION = new ConnectionInfo(0, '', '', 0);

/**
 * What a server gives each of its connections' cores: its limits, and the buffers and the
 * budget it owns for all of them. @internal
 */
export interface ServerConnectionSettings {
  maxPayload: number;
  maxFragments: number;
  outputBuffers: OutputBuffers;
  assemblyBudget: AssemblyBudget;
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
export class ServerWebSocket<Data = undefined> extends SocketDriver {
  /** What `authenticate` returned for this connection (yours to change). */
  data: Data;
  /** The subprotocol selected in the handshake, or `''`. */
  readonly protocol: string;
  /** The extensions negotiated in the handshake, as sent in `Sec-WebSocket-Extensions`, or `''`. */
  readonly extensions: string;

  private readonly host: ConnectionHost<Data>;
  /** A handler (or the connection) failed and was reported: deliver nothing more, report nothing more. */
  private failed = false;
  /** @internal Identity (id, client address, path) and what diagnostics keep; set by the server. */
  _info: ConnectionInfo = UNKNOWN_CONNECTION;
  /**
   * @internal Message limits, lifetime, idle timeout, message counts: null unless the
   * server has one configured, so that the receive path tests this one field and no more.
   */
  _ops: ConnectionOps | null = null;

  /** @internal Made by {@link WebSocketServer} (the constructor is private, so no application can call it). */
  static _create<D>(
    host: ConnectionHost<D>,
    socket: Socket,
    options: ServerConnectionSettings,
    data: D,
    protocol: string,
    extensions: string,
    extension: Extension | null = null,
  ): ServerWebSocket<D> {
    return new ServerWebSocket<D>(host, socket, options, data, protocol, extensions, extension);
  }

  /** Not constructed by applications: a {@link WebSocketServer} makes each one. */
  private constructor(
    host: ConnectionHost<Data>,
    socket: Socket,
    options: ServerConnectionSettings,
    data: Data,
    protocol: string,
    extensions: string,
    extension: Extension | null,
  ) {
    super(
      socket,
      {
        role: 'server',
        maxPayload: options.maxPayload,
        maxFragments: options.maxFragments,
        extensions: extension === null ? [] : [extension],
        outputBuffers: options.outputBuffers,
        assemblyBudget: options.assemblyBudget,
      },
      false,
    );
    this.host = host;
    this.data = data;
    this.protocol = protocol;
    this.extensions = extensions;
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
   * Send a message. A `string` goes as text and anything else as binary, unless
   * `isBinary` says otherwise (a `Buffer` of UTF-8 can go as text with `false`; it is
   * not re-validated). Returns what happened to it (see {@link SendStatus}).
   * A large `Buffer` is sent by reference: do not change it until it has been written.
   */
  send(data: SendData, isBinary: boolean = typeof data !== 'string'): SendStatus {
    if (this.connection.state !== 'open' || this.closeQueued) return SendStatus.Dropped;
    if (typeof data === 'string') return this.enqueue(data, !isBinary, -1);
    if (data instanceof Uint8Array) return this.enqueue(data, !isBinary, -1); // Buffer: the echo path
    if (data instanceof Blob) return this.enqueueBlob(data, !isBinary);
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
    if (this.connection.state !== 'open' || this.closeQueued) return;
    this.startClose(code, reason);
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
    if (this.sendQueue !== null) {
      // Behind a Blob being read: wait in line (the payload is the server's own copy).
      this.sendLater(message.data, message.isText, size);
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

  /** Call a handler with this connection first, catching what it throws. @internal */
  _call(name: 'open' | 'drain' | 'ping' | 'pong', data?: Buffer): void {
    // Nothing after `close` (the parser may still hold frames of a chunk when terminate() ran).
    if (this.failed || this.connection.state === 'closed') return;
    const handler = this.host.handlers[name] as
      | ((ws: ServerWebSocket<Data>, data?: Buffer) => unknown)
      | undefined;
    if (handler !== undefined) this.invoke(handler, data);
  }

  // ---- the driver's hooks (see SocketDriver) ----

  protected get highWaterMark(): number {
    return this.host.highWaterMark;
  }

  /** A server closes TCP as soon as the closing handshake is complete (see the driver). */
  protected override get closeAtOnce(): boolean {
    return true;
  }

  protected requestFlush(): void {
    this.host.scheduleFlush(this);
  }

  /** The server's sweep drops the TCP connection past this deadline (one timer for every connection). */
  protected startCloseDeadline(): void {
    this.host.startCloseDeadline(this);
  }

  protected get tapping(): boolean {
    return this.host.wiretap !== undefined;
  }

  protected tap(direction: WireDirection, bytes: Buffer): void {
    try {
      this.host.wiretap!(this, direction, bytes);
    } catch (error) {
      this.handlerFailed(error);
    }
  }

  protected opened(): void {
    this._call('open');
  }

  protected pingReceived(data: Buffer): void {
    this._call('ping', data);
  }

  protected pongReceived(data: Buffer): void {
    this.host.pongReceived(this);
    this._call('pong', data);
  }

  protected closed(info: CloseInfo): void {
    // Something failed on our side (the codec, decoding a text message, a socket write):
    // the peer got 1011 and nothing more; the application gets the error and its cause.
    if (info.error instanceof InternalError) this.reportFailure(info.error);
    this.host.connectionClosed(this, info);
    const close = this.host.handlers.close;
    if (close !== undefined) this.invoke(close, info.code, info.reason);
  }

  protected drained(): void {
    this._call('drain');
  }

  protected socketClosed(): void {
    this.host.socketClosed(this);
  }

  protected blobUnreadable(error: unknown): Payload | null {
    this.handlerFailed(error);
    return null;
  }

  protected override backpressureChanged(state: 'reached' | 'drained'): void {
    if (channels.backpressure.hasSubscribers) this.host.observeBackpressure(this, state);
  }

  // ---- internals ----

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
    if (this.sendQueue !== null) {
      this.sendLater(payload, isText, size);
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

  private enqueueBlob(blob: Blob, isText: boolean): SendStatus {
    if (this.bufferedAmount + blob.size > this.host.maxBufferedBytes) return this.overflow();
    this.sendBlob(blob, isText);
    return SendStatus.Queued;
  }

  private overflow(): SendStatus {
    if (this.host.closeOnBackpressureLimit) {
      this.close(CloseCode.PolicyViolation, 'outbound buffer limit exceeded');
    }
    return SendStatus.Dropped;
  }
}

function toBytes(data: Buffer | ArrayBuffer | ArrayBufferView): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}
