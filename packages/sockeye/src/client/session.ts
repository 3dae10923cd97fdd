import { inspect } from 'node:util';
import { SocketDriver, type WireDirection } from '../io/driver.js';
import type { WrittenCallback } from '../io/write-tracker.js';
import { CloseCode } from '../protocol/close-codes.js';
import type { CloseInfo } from '../protocol/connection.js';
import type { ResponseHead } from '../protocol/http.js';
import {
  DEFAULT_CLIENT_MAX_PAYLOAD,
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_HIGH_WATER_MARK,
} from '../protocol/limits.js';
import type { Payload } from '../protocol/output.js';
import { type OpenedSocket, openHandshake } from './connect.js';
import { type ClientOptions, checkClientOptions } from './options.js';

/** How a {@link ClientWebSocket} ended, with the protocol's exact close code. */
export interface ClientEnd {
  /**
   * The close code as the protocol saw it: the server's (1005 when its close frame had
   * none), the one we failed the connection with (1002, 1007, 1009, 1011...), or 1006 when
   * TCP ended without a closing handshake. (The WHATWG `WebSocket` reports 1006 for every
   * failure; this is the code on the wire.)
   */
  code: number;
  /** The server's close reason, or the description of our failure, or `''`. */
  reason: string;
  /** The closing handshake completed: both close frames crossed and nothing failed. */
  wasClean: boolean;
  /** What went wrong, when something did: the protocol error we failed with, or the socket's error. */
  error: Error | null;
  /**
   * We failed the connection (the server broke a rule or a limit, or something failed on
   * our side: RFC 6455 "fail the WebSocket connection"). A transport that just ends (a
   * reset, the close timeout) is abnormal (1006) but not failed.
   */
  failed: boolean;
}

/** What a {@link ClientWebSocket} reports. Every member is optional; each is called synchronously. */
export interface ClientEvents {
  /**
   * `start()` runs: called first, before the bytes that came with the `101` response are
   * processed (their messages follow it); what it sends leaves in the first write.
   */
  started?(): void;
  /**
   * A message (from inside the socket read). `data` may be a view of the read: copy it to
   * keep it without pinning the read. A throw fails the connection with 1011.
   */
  message?(data: Buffer, isText: boolean): void;
  /** A ping arrived (the pong is already queued). */
  ping?(data: Buffer): void;
  /** A pong arrived. */
  pong?(data: Buffer): void;
  /** The server started the closing handshake: its close frame came before ours (ours answers it). */
  closing?(): void;
  /** Payload bytes of the messages sent reached the kernel (the WHATWG `bufferedAmount` falls by them). */
  written?(payloadBytes: number): void;
  /** The TCP connection is closed. Called exactly once. */
  closed?(end: ClientEnd): void;
  /**
   * Every byte on the wire after the handshake: what arrived (a copy, before it is
   * processed) and what is written. A throw fails the connection with 1011.
   */
  wiretap?(direction: WireDirection, bytes: Buffer): void;
}

/** Options of a {@link ClientWebSocket} once open. @internal */
export interface ClientSocketOptions {
  /** @defaultValue 64 MiB ({@link DEFAULT_CLIENT_MAX_PAYLOAD}) */
  maxPayload?: number | undefined;
  maxFragments?: number | undefined;
  /** @defaultValue 10000 ({@link DEFAULT_CLOSE_TIMEOUT_MS}) */
  closeTimeout?: number | undefined;
}

const EMPTY = new Uint8Array(0);

/**
 * sockeye's low-level Node client: one open client connection on the socket driver, with
 * what the WHATWG `WebSocket` hides: pings and pongs as they arrive, `ping()`/`pong()`,
 * the exact close code, the close record, a wiretap of every byte, and per-message write
 * callbacks. The WHATWG `WebSocket`, `WebSocketStream` and the `sockeye connect` command
 * are built on it. Get one from {@link connect}, then {@link ClientWebSocket.start} it.
 *
 * Output is flushed once per microtask turn (many `send()` calls in one turn leave as one
 * write); the closing handshake is bounded by `closeTimeout`, after which the socket is
 * destroyed. Reading stops while the pongs the server made us queue (one per ping) and the
 * kernel has not taken are above 64 KiB: a server that floods pings and never reads cannot
 * grow us without bound. Our own messages do not stop reading (see `bufferedAmount`).
 */
export class ClientWebSocket extends SocketDriver {
  /** The subprotocol the server selected, or `''`. */
  readonly protocol: string;
  /** The `Sec-WebSocket-Extensions` the server answered, or `''`. */
  readonly extensions: string;
  /** The URL connected to (after redirects). */
  readonly url: URL;
  /** The upgrade request head as sent. */
  readonly request: string;
  /** The server's `101` response. */
  readonly response: ResponseHead;

  private events: ClientEvents = {};
  /** Bytes that came with the 101 response, processed by `start()`. */
  private rest: Buffer | null;
  private flushScheduled = false;
  private readonly flushTask = (): void => {
    this.flushScheduled = false;
    this._flush();
  };
  private readonly closeTimeoutMs: number;
  private closeTimer: NodeJS.Timeout | null = null;
  private socketError: Error | null = null;
  private ended = false;

  /** @internal Made by {@link connect} (and the WHATWG clients) from a completed handshake. */
  static _create(opened: OpenedSocket, options: ClientSocketOptions = {}): ClientWebSocket {
    return new ClientWebSocket(opened, options);
  }

  /** Not constructed by applications: {@link connect} makes one from a completed handshake. */
  private constructor(opened: OpenedSocket, options: ClientSocketOptions) {
    super(
      opened.socket,
      {
        role: 'client',
        maxPayload: options.maxPayload ?? DEFAULT_CLIENT_MAX_PAYLOAD,
        ...(options.maxFragments === undefined ? {} : { maxFragments: options.maxFragments }),
        ...(opened.deflate === null ? {} : { extensions: [opened.deflate] }),
      },
      true,
    );
    this.protocol = opened.protocol;
    this.extensions = opened.response.headers['sec-websocket-extensions'] ?? '';
    this.url = opened.url;
    this.request = opened.request;
    this.response = opened.response;
    this.rest = opened.rest;
    this.closeTimeoutMs = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT_MS;
    // From the handshake on, a socket error is part of how the connection ends.
    opened.socket.on('error', (error: Error) => {
      this.socketError ??= error;
    });
  }

  /**
   * Start reading: `events` get everything from now on, including what came with the 101
   * response.
   * @throws TypeError when called twice
   */
  start(events: ClientEvents): void {
    const rest = this.rest;
    if (rest === null) throw new TypeError('ClientWebSocket.start() was called already');
    this.rest = null;
    this.events = events;
    this._start('', rest);
  }

  /** `open`, `closing` (our close frame went out, waiting for the server's), or `closed`. */
  get readyState(): 'open' | 'closing' | 'closed' {
    return this.connection.state;
  }

  /** Whether messages can still be sent. */
  get isOpen(): boolean {
    return this.connection.state === 'open' && !this.closeQueued && !this.ended;
  }

  /**
   * Send a message: a `string` as text, bytes as binary unless `isText` says otherwise (text
   * bytes must be UTF-8). A `Blob` is read first; what is sent after it waits for it.
   * `written` is called once its bytes reach the kernel (or with the error that kept them
   * from it). Returns false, and sends nothing, once closing.
   */
  send(
    data: string | Uint8Array | ArrayBuffer | Blob,
    isText: boolean = typeof data === 'string',
    written?: WrittenCallback,
  ): boolean {
    if (!this.isOpen) return false;
    if (data instanceof Blob) {
      this.sendBlob(data, isText);
      return true;
    }
    const payload: Payload = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
    const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength;
    if (this.sendQueue !== null) {
      // Behind a Blob still being read: keep a snapshot, as the bytes may change meanwhile.
      this.sendLater(typeof payload === 'string' ? payload : new Uint8Array(payload), isText, size, written);
      return true;
    }
    return this.sendNow(payload, isText, size, written);
  }

  /** Send a ping (at most 125 bytes). Returns false once closing. */
  ping(data: string | Uint8Array = ''): boolean {
    return this.isOpen && this.connection.ping(data);
  }

  /** Send an unsolicited pong (at most 125 bytes). Returns false once closing. */
  pong(data: string | Uint8Array = ''): boolean {
    return this.isOpen && this.connection.pong(data);
  }

  /**
   * Start the closing handshake (after any message waiting behind a Blob); the server
   * has `closeTimeout` to finish it and close TCP. Does nothing once closing.
   * @throws RangeError for a code that may not be sent, or a reason over 123 bytes
   */
  close(code?: number, reason?: string): void {
    if (!this.isOpen) return;
    this.startClose(code, reason);
  }

  /**
   * Drop the TCP connection now, without a closing handshake (1006). `error`, if given, is
   * what `closed` reports.
   */
  override terminate(error?: Error): void {
    if (error !== undefined) this.socketError ??= error;
    super.terminate();
  }

  /** Stop reading the socket (TCP flow control then holds the server back) until `resume()`. */
  pause(): void {
    this.pauseReading();
  }

  /** Read the socket again (unless too many pongs are still waiting to be written). */
  resume(): void {
    this.resumeReading();
  }

  // ---- the driver's hooks (see SocketDriver) ----

  protected get highWaterMark(): number {
    return DEFAULT_HIGH_WATER_MARK;
  }

  protected requestFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(this.flushTask);
  }

  /** RFC 6455 section 7.1.1: the server closes TCP; we wait for it, bounded by `closeTimeout`. */
  protected startCloseDeadline(): void {
    if (this.closeTimer !== null || this.ended) return;
    const socket = this._socket;
    this.closeTimer = setTimeout(() => socket.destroy(), this.closeTimeoutMs);
  }

  protected get tapping(): boolean {
    return this.events.wiretap !== undefined;
  }

  protected tap(direction: WireDirection, bytes: Buffer): void {
    try {
      this.events.wiretap!(direction, bytes);
    } catch (error) {
      // Bytes going out are being flushed: fail once the flush is over.
      if (direction === 'in') this.connection.abort(error);
      else queueMicrotask(() => this.connection.abort(error));
    }
  }

  protected opened(): void {
    this.events.started?.();
  }

  /** @internal */
  _onMessage(data: Buffer, isText: boolean): void {
    this.events.message?.(data, isText);
  }

  protected pingReceived(data: Buffer): void {
    this.events.ping?.(data);
  }

  protected pongReceived(data: Buffer): void {
    this.events.pong?.(data);
  }

  protected closed(info: CloseInfo): void {
    // The record says it: the server's close frame came first (and nothing failed).
    const closing = this.events.closing;
    if (closing !== undefined && this.connection.closeRecord.initiator === 'remote' && info.error === null) {
      this.callSafely(closing);
    }
  }

  protected drained(): void {}

  protected socketClosed(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    const info = this.connection.closeInfo!;
    const closed = this.events.closed;
    if (closed === undefined) return;
    const end: ClientEnd = {
      code: info.code,
      reason: info.reason,
      wasClean: this.connection.closeRecord.wasClean,
      error: info.error ?? this.socketError,
      failed: info.error !== null,
    };
    this.callSafely(() => closed(end));
  }

  /** As the WHATWG `WebSocket` always did: an unreadable Blob goes as an empty message. */
  protected blobUnreadable(_error: unknown): Payload | null {
    return EMPTY;
  }

  protected override written(payloadBytes: number): void {
    const written = this.events.written;
    if (written !== undefined) this.callSafely(() => written(payloadBytes));
  }

  /**
   * Run an event called outside a read (the core guards those: a throw there fails the
   * connection with 1011): what it throws fails the connection the same way while it is
   * not closed, and is a process warning after, never an exception in a socket listener.
   */
  private callSafely(event: () => void): void {
    try {
      event();
    } catch (error) {
      if (this.connection.state !== 'closed') this.connection.abort(error);
      else process.emitWarning(`sockeye: unhandled error in a ClientWebSocket event: ${inspect(error)}`);
    }
  }
}

/** How a connection ended as the WHATWG clients report it: every failure and abnormal end is 1006. @internal */
export function browserEnd(end: ClientEnd): ClientEnd {
  if (end.wasClean) return { ...end, error: null };
  return {
    code: CloseCode.Abnormal,
    reason: '',
    wasClean: false,
    error: end.error ?? new Error('The connection closed without a closing handshake'),
    failed: end.failed,
  };
}

/** Options of {@link connect}: the client's Node options, with the subprotocols. */
export type ConnectOptions = Omit<ClientOptions, 'protocols'> & {
  /** Subprotocols to offer, most preferred first. */
  protocols?: string | readonly string[] | undefined;
};

/**
 * Open a {@link ClientWebSocket} to `url` (`ws:` or `wss:`; `http:` and `https:` are taken
 * as those): the same opening handshake as the WHATWG `WebSocket` (proxy, TLS, redirects,
 * permessage-deflate, all bounded by `handshakeTimeout`). It reads nothing until
 * {@link ClientWebSocket.start}.
 * @throws (rejects) TypeError for a URL of another scheme; TypeError or RangeError for an
 * option that cannot work, naming it; `HandshakeError` when the server refuses or answers
 * something that is not a WebSocket 101; the socket's error
 */
export async function connect(url: string | URL, options: ConnectOptions = {}): Promise<ClientWebSocket> {
  checkClientOptions(options);
  const target = new URL(url);
  if (target.protocol === 'http:') target.protocol = 'ws:';
  else if (target.protocol === 'https:') target.protocol = 'wss:';
  if (target.protocol !== 'ws:' && target.protocol !== 'wss:') {
    throw new TypeError(`connect: a ws:, wss:, http: or https: URL, not ${target.protocol}`);
  }
  const protocols =
    options.protocols === undefined
      ? []
      : typeof options.protocols === 'string'
        ? [options.protocols]
        : [...options.protocols];
  const opened = await openHandshake(target, protocols, options).result;
  return ClientWebSocket._create(opened, options);
}
