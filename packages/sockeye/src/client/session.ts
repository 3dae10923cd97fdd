import type { Socket } from 'node:net';
import { CloseCode } from '../protocol/close-codes.js';
import { type CloseInfo, Connection } from '../protocol/connection.js';
import type { Extension } from '../protocol/extension.js';
import { DEFAULT_CLOSE_TIMEOUT_MS, DEFAULT_HIGH_WATER_MARK } from '../protocol/limits.js';
import type { Payload } from '../protocol/output.js';

/** How a client connection ended. */
export interface SessionEnd {
  /** The close code to report: the server's, 1005 when its close frame had none, 1006 when abnormal. */
  code: number;
  /** The server's close reason, or `''`. */
  reason: string;
  /** The closing handshake completed (both close frames) and the connection was not failed. */
  wasClean: boolean;
  /** Why the connection failed or closed abnormally, when it did. */
  error: Error | null;
  /**
   * We failed the connection (the server broke a rule or a limit: RFC 6455 "fail the
   * WebSocket connection"). A transport that just ends (reset, close timeout) is abnormal
   * (1006) but not failed: browsers fire no `error` event for it.
   */
  failed: boolean;
}

/** What a {@link Session} reports to the API object that owns it. */
export interface SessionEvents {
  /** A message arrived (called synchronously from the socket read). */
  message(data: Buffer, isText: boolean): void;
  /** The server started the closing handshake (its close frame arrived before we sent ours). */
  closing(): void;
  /** Payload bytes handed to {@link Session.send} were written to the socket. */
  written(payloadBytes: number): void;
  /** The TCP connection is closed. Called exactly once. */
  closed(end: SessionEnd): void;
}

interface PendingWrite {
  payloadBytes: number;
  /** Bytes of pongs in the batch (see {@link Session.pongBytes}). */
  pongBytes: number;
  callbacks: Array<(error?: Error | null) => void> | null;
}

/** Bytes of the pong that answers a ping of `payload` bytes: a 2-byte header, the mask key, the payload. */
function pongSize(payload: number): number {
  return 2 + 4 + payload;
}

/**
 * An open client connection: a socket driven by the sans-I/O {@link Connection}. Output is
 * flushed once per microtask turn (many `send()` calls in one turn leave as one corked
 * write); the close handshake is bounded by `closeTimeout`, after which the socket is
 * destroyed. Shared by {@link WebSocket} and {@link WebSocketStream}.
 *
 * Reading stops while the pongs the server made us queue (one per ping, answered
 * automatically) and not yet accepted by the kernel are above
 * {@link DEFAULT_HIGH_WATER_MARK}: a server that floods pings and never reads would
 * otherwise grow our memory without bound (each 2-byte empty ping queues a 6-byte pong).
 * The server stops reading the same way. Our own messages do not count: the application
 * sees them in `bufferedAmount` (or in the writable stream's backpressure), and pausing
 * reads for them could deadlock against a server that also stops reading while its output
 * is full (both sides sending bulk data, each waiting for the other to read).
 * @internal
 */
export class Session {
  private readonly connection: Connection;
  private flushScheduled = false;
  private pendingPayload = 0;
  private pendingCallbacks: Array<(error?: Error | null) => void> | null = null;
  private closeTimer: NodeJS.Timeout | null = null;
  private socketError: Error | null = null;
  private ended = false;
  private serverClosedFirst = false;
  private readonly closeTimeoutMs: number;
  /** Pong bytes queued or handed to the socket and not yet written to the kernel. */
  private pongBytes = 0;
  /** Pong bytes queued since the last flush (part of `pongBytes`). */
  private unflushedPongBytes = 0;
  /** The owner asked to stop reading ({@link Session.pause}). */
  private readPausedByOwner = false;
  /** Reading stopped because too many pongs are waiting to be written. */
  private readPausedForPongs = false;

  constructor(
    private readonly socket: Socket,
    rest: Buffer,
    private readonly events: SessionEvents,
    options: {
      maxPayload?: number | undefined;
      maxFragments?: number | undefined;
      closeTimeout?: number | undefined;
      /** The negotiated extension (permessage-deflate), if any; closed with the connection. */
      extension?: Extension | null | undefined;
    },
  ) {
    const closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT_MS;
    this.connection = new Connection(
      {
        onMessage: (data, isText) => this.events.message(data, isText),
        onPing: (data) => this.onPing(data),
        onPong: () => {},
        onClose: (info) => this.onProtocolClose(info),
        onOutput: () => this.scheduleFlush(),
      },
      {
        role: 'client',
        ...(options.maxPayload === undefined ? {} : { maxPayload: options.maxPayload }),
        ...(options.maxFragments === undefined ? {} : { maxFragments: options.maxFragments }),
        ...(options.extension ? { extensions: [options.extension] } : {}),
      },
    );
    this.closeTimeoutMs = closeTimeout;
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error: Error) => {
      this.socketError ??= error;
    });
    socket.on('close', () => this.onSocketClose());
    if (rest.length > 0) this.receive(rest);
    if (!this.readPausedForPongs) socket.resume();
  }

  /** `open`, `closing` or `closed`, as the protocol sees it. */
  get state(): Connection['state'] {
    return this.connection.state;
  }

  /**
   * Queue a message. Returns false when a close frame was already sent (nothing is queued).
   * `written` is called once the bytes are handed to the kernel (or with an error).
   */
  send(data: Payload, isText: boolean, written?: (error?: Error | null) => void): boolean {
    if (this.ended || !this.connection.send(data, isText)) return false;
    this.pendingPayload += typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    if (written !== undefined) {
      this.pendingCallbacks ??= [];
      this.pendingCallbacks.push(written);
    }
    return true;
  }

  /** Start the closing handshake (no-op once started) and bound it with the close timeout. */
  close(code?: number, reason?: string): void {
    if (this.ended) return;
    this.connection.close(code, reason);
    this.armCloseTimer();
  }

  /** Drop the connection now (no close frame): a failed connection. */
  destroy(error: Error): void {
    this.socketError ??= error;
    this.socket.destroy();
  }

  /** Stop reading the socket (TCP flow control then holds the server back). */
  pause(): void {
    this.readPausedByOwner = true;
    this.socket.pause();
  }

  /** Read the socket again (unless too many pongs are waiting to be written). */
  resume(): void {
    this.readPausedByOwner = false;
    if (!this.readPausedForPongs) this.socket.resume();
  }

  private receive(chunk: Buffer): void {
    this.connection.receive(chunk);
    if (!this.readPausedForPongs && this.pongBytes > DEFAULT_HIGH_WATER_MARK && !this.socket.destroyed) {
      this.readPausedForPongs = true;
      this.socket.pause();
    }
  }

  private onPing(data: Buffer): void {
    // The core has queued a pong, unless we already sent our close frame.
    if (this.connection.state !== 'open') return;
    const size = pongSize(data.length);
    this.pongBytes += size;
    this.unflushedPongBytes += size;
  }

  /** A batch reached the kernel: read again once the pongs still waiting are under the mark. */
  private pongsWritten(bytes: number): void {
    this.pongBytes -= bytes;
    if (this.readPausedForPongs && this.pongBytes <= DEFAULT_HIGH_WATER_MARK) {
      this.readPausedForPongs = false;
      if (!this.readPausedByOwner) this.socket.resume();
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const chunks = this.connection.takeOutput();
    if (chunks.length === 0 || this.socket.destroyed) return;
    const pending: PendingWrite = {
      payloadBytes: this.pendingPayload,
      pongBytes: this.unflushedPongBytes,
      callbacks: this.pendingCallbacks,
    };
    this.pendingPayload = 0;
    this.unflushedPongBytes = 0;
    this.pendingCallbacks = null;
    const done = (error?: Error | null) => {
      if (pending.pongBytes > 0) this.pongsWritten(pending.pongBytes);
      if (!error) this.events.written(pending.payloadBytes);
      if (pending.callbacks !== null) for (const callback of pending.callbacks) callback(error);
    };
    try {
      if (chunks.length === 1) {
        this.socket.write(chunks[0] as Buffer, done);
      } else {
        this.socket.cork();
        const last = chunks.length - 1;
        for (let i = 0; i < last; i++) this.socket.write(chunks[i] as Buffer);
        this.socket.write(chunks[last] as Buffer, done);
        this.socket.uncork();
      }
    } catch (error) {
      // A write that throws leaves the socket in an unknown state: drop it and fail the
      // connection (1011; the close event reports the error, as for any failure).
      this.socket.destroy();
      this.connection.abort(error);
      if (pending.callbacks !== null) for (const callback of pending.callbacks) callback(error as Error);
    }
  }

  private armCloseTimer(): void {
    if (this.closeTimer !== null || this.ended) return;
    this.closeTimer = setTimeout(() => {
      this.socket.destroy();
    }, this.closeTimeoutMs);
  }

  private onProtocolClose(info: CloseInfo): void {
    if (info.code !== CloseCode.Abnormal && info.error === null && !this.serverClosedFirst) {
      // Did the server start it? Then the page learns of the closing handshake now.
      this.serverClosedFirst = this.closeTimer === null;
      if (this.serverClosedFirst) this.events.closing();
    }
    // RFC 6455 section 7.1.1: the server closes TCP first; we only wait, bounded.
    this.armCloseTimer();
  }

  private onSocketClose(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    // Messages queued but never flushed will not be written: settle their callbacks.
    const unsent = this.pendingCallbacks;
    this.pendingCallbacks = null;
    if (unsent !== null) {
      const error = new Error('The connection closed before the message was written');
      for (const callback of unsent) callback(error);
    }
    this.connection.receiveEof();
    const info = this.connection.closeInfo as CloseInfo;
    let end: SessionEnd;
    if (info.error !== null) {
      end = { code: CloseCode.Abnormal, reason: '', wasClean: false, error: info.error, failed: true };
    } else if (info.code === CloseCode.Abnormal) {
      end = {
        code: CloseCode.Abnormal,
        reason: '',
        wasClean: false,
        error: this.socketError ?? new Error('The connection closed without a closing handshake'),
        failed: false,
      };
    } else {
      end = { code: info.code, reason: info.reason, wasClean: true, error: null, failed: false };
    }
    this.events.closed(end);
  }
}
