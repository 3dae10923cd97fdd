import type { Socket } from 'node:net';
import { isValidWireCloseCode } from '../protocol/close-codes.js';
import {
  type CloseInfo,
  type CloseRecord,
  Connection,
  type ConnectionHandler,
  type ConnectionOptions,
} from '../protocol/connection.js';
import { MAX_CLOSE_REASON_BYTES } from '../protocol/limits.js';
import type { Payload } from '../protocol/output.js';
import { type QueuedMessage, SendQueue } from './send-queue.js';
import { type PendingBatch, WriteTracker, type WrittenCallback } from './write-tracker.js';

/** Which way bytes crossed the wire, for a wiretap. */
export type WireDirection = 'in' | 'out';

/**
 * The socket's back reference to what owns it: a server's pending handshake, then the
 * driver. One property for both phases: a second one would push a socket's properties out
 * of the object into a separate array (40 more bytes per connection).
 * @internal
 */
export const kSocketOwner = Symbol('sockeye.socket');
type DrivenSocket = Socket & { [kSocketOwner]: SocketDriver };

/**
 * In a read of fewer bytes than this, what the handlers send leaves every
 * {@link EARLY_FLUSH_MESSAGES} messages rather than once after the read. Many messages
 * in a short read mean small messages from a peer that is waiting for the answers: it
 * starts on the first ones while the rest are handled, instead of the two sides taking
 * turns (32 B echoes, 128 in flight on one connection: 0.79-0.85M -> 1.24-1.41M messages
 * per second, no more CPU per message). A longer read means input is waiting for us: then
 * one write per read costs least (1 KiB echoes: splitting them took 4-9% more CPU).
 */
const EARLY_FLUSH_READ_BYTES = 16 * 1024;
/** See {@link EARLY_FLUSH_READ_BYTES}. */
const EARLY_FLUSH_MESSAGES = 32;
/**
 * Once the handlers of a read have queued this many bytes, they leave at once, whatever
 * the read's length: a write of this size costs no more system calls than one at the end
 * of the read would, and the peer starts on a large answer while the rest of the read
 * (the next large message, unmasked as it arrives) is processed. Echoes of 64 KiB, two
 * in flight on one connection, waited for the next message's first 64 KiB.
 */
const EARLY_FLUSH_BYTES = 64 * 1024;

/** Why reading is paused (bits: it resumes when none is left). */
const PausedFor = {
  /** Output is piling up (a server: all of it; a client: the pongs it owes). */
  Output: 1,
  /** The owner asked ({@link SocketDriver.pauseReading}: a stream whose reader is behind). */
  Owner: 2,
} as const;

/**
 * Routes the core's callbacks to the driver. One small object per connection with its
 * methods on the prototype (cheaper than five closures).
 */
class CoreEvents implements ConnectionHandler {
  constructor(private readonly driver: SocketDriver) {}
  onMessage(data: Buffer, isText: boolean): void {
    const driver = this.driver;
    driver._onMessage(data, isText);
    if (--driver._messagesUntilFlush === 0) {
      driver._messagesUntilFlush = EARLY_FLUSH_MESSAGES;
      driver._flushEarly();
    } else if (driver._queuedBytes() >= EARLY_FLUSH_BYTES) {
      driver._flushEarly();
    }
  }
  onPing(data: Buffer): void {
    this.driver._onPing(data);
  }
  onPong(data: Buffer): void {
    this.driver._onPong(data);
  }
  onClose(info: CloseInfo): void {
    this.driver._onClose(info);
  }
  onOutput(): void {
    this.driver._onOutput();
  }
}

/**
 * The one socket driver: a `net.Socket` (or `tls.TLSSocket`) and the sans-I/O core
 * {@link Connection} of one WebSocket connection, server or client. It does, once for
 * every shell (`ServerWebSocket`, the client's `ClientWebSocket`, under the WHATWG
 * `WebSocket`, `WebSocketStream` and the command line):
 *
 * - **bytes in**: socket `data` → wiretap → `Connection.receive` → the role's handlers;
 * - **flushing**: what the core queues while a read is processed (or inside `cork`) leaves
 *   in one write after it; what is queued elsewhere leaves once, when the role's flush
 *   scheduler runs (a server: once per tick for all its connections; a client: once per
 *   microtask turn). A batch of frames is one corked `writev`, not a system call each;
 * - **the ordered send queue**: messages sent after a `Blob` wait for its bytes, and a
 *   close asked for meanwhile goes after them;
 * - **backpressure**: reading pauses while output piles up, and resumes when it drains;
 * - **the close**: a close deadline from our close frame on; at `closed`, the core's
 *   close record says who ends TCP (RFC 6455 section 7.1.1: the server, or the client
 *   whose transport already ended); EOF and a reset end the connection (1006).
 *
 * Each role supplies what differs as the abstract members below: its flush scheduler,
 * its close clock (a server's sweep, a client's timer), its high-water mark, its wiretap
 * and its handlers. (Not exported from the package: it is the base class of the public
 * connection classes, so its declaration stays in the types.)
 */
export abstract class SocketDriver {
  /** @internal */
  readonly _socket: Socket;
  /** @internal The protocol core. */
  protected readonly connection: Connection;
  /** Messages until the read being processed flushes what was sent (never when negative). @internal */
  _messagesUntilFlush = -1;
  /** Depth of the batch (a read being processed, `cork`, opening): flush when it returns to 0. */
  private batch = 0;
  /** A send was queued past the high-water mark (or behind a Blob): call `drained` once the output is empty. */
  protected needDrain = false;
  /** Why reading is paused ({@link PausedFor} bits), 0 while reading. */
  private readPaused = 0;
  /** @internal Messages waiting behind a Blob being read (null when none: the common case costs nothing). */
  protected sendQueue: SendQueue | null = null;
  /**
   * @internal Written-bytes accounting and pongs owed (a client). Without it (a server)
   * reading pauses for all output piling up; with it, only for the pongs owed (see
   * {@link WriteTracker}).
   */
  protected readonly writes: WriteTracker | null;

  protected constructor(socket: Socket, options: ConnectionOptions, trackWrites: boolean) {
    this._socket = socket;
    this.connection = new Connection(new CoreEvents(this), options);
    this.writes = trackWrites ? new WriteTracker() : null;
  }

  // ---- what each role supplies ----

  /** Output bytes above which reading pauses (see {@link SocketDriver.writes} for which bytes count). */
  protected abstract get highWaterMark(): number;
  /** Flush this connection soon (at the end of the tick, or of the microtask turn). */
  protected abstract requestFlush(): void;
  /**
   * A close frame went out, or the connection closed with TCP still open: start (or, for
   * a server, restart) the close clock; past it the role calls `terminate()`.
   */
  protected abstract startCloseDeadline(): void;
  /** Whether a wiretap listens (then {@link SocketDriver.tap} gets every byte). */
  protected abstract get tapping(): boolean;
  /** Give bytes to the wiretap (incoming ones are a copy: the core unmasks in place). */
  protected abstract tap(direction: WireDirection, bytes: Buffer): void;
  /** The connection starts (before the bytes that came with the handshake are processed). */
  protected abstract opened(): void;
  /** @internal A message arrived (called from inside a read). */
  abstract _onMessage(data: Buffer, isText: boolean): void;
  /** A ping arrived (the core has answered it unless closing). */
  protected abstract pingReceived(data: Buffer): void;
  /** A pong arrived. */
  protected abstract pongReceived(data: Buffer): void;
  /** The WebSocket connection reached `closed` (TCP may still be open: see {@link SocketDriver.closeRecord}). */
  protected abstract closed(info: CloseInfo): void;
  /** Output queued past the high-water mark (or behind a Blob) has all reached the kernel. */
  protected abstract drained(): void;
  /** The TCP connection is gone (after `closed`). */
  protected abstract socketClosed(): void;
  /**
   * A Blob could not be read: the bytes to send in its place, or null to drop it (the
   * role reports the error).
   */
  protected abstract blobUnreadable(error: unknown): Payload | null;

  /**
   * Whether TCP is closed at once (rather than half-closed, waiting for the peer's FIN)
   * when the closing handshake completed cleanly and our close frame has reached the
   * kernel: a server's choice, which ends TCP first anyway.
   */
  protected get closeAtOnce(): boolean {
    return false;
  }

  /** Reading paused or resumed for output piling up (a server publishes it on a diagnostics channel). */
  protected backpressureChanged(_state: 'reached' | 'drained'): void {}

  /** A flushed batch with messages in it reached the kernel: their payload bytes (with a {@link WriteTracker}). */
  protected written(_payloadBytes: number): void {}

  // ---- state ----

  /** How the closing handshake went so far, and who ends TCP once closed (the core's record). */
  get closeRecord(): CloseRecord {
    return this.connection.closeRecord;
  }

  /**
   * Bytes accepted by `send()` and not yet handed to the kernel: queued in the protocol
   * core, waiting behind a Blob, or buffered in the socket.
   */
  get bufferedAmount(): number {
    const queue = this.sendQueue;
    return this.connection.bufferedBytes + (queue === null ? 0 : queue.bytes) + this._socket.writableLength;
  }

  // ---- sending ----

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

  /**
   * Queue a message now, counting its payload when writes are tracked. Returns false
   * when a close frame was sent already (nothing is queued).
   */
  protected sendNow(data: Payload, isText: boolean, size: number, written?: WrittenCallback): boolean {
    if (!this.connection.send(data, isText)) return false;
    if (this.writes !== null) this.writes.queued(size, written);
    return true;
  }

  /** Put a message in line behind the Blob being read. */
  protected sendLater(data: Payload, isText: boolean, size: number, written?: WrittenCallback): void {
    const entry: QueuedMessage = { data, isText, size };
    if (written !== undefined) entry.written = written;
    this.sendQueue!.push(entry);
    this.needDrain = true;
  }

  /** Read a Blob and send it in its turn: the messages sent after it wait for it. */
  protected sendBlob(blob: Blob, isText: boolean): void {
    const entry: QueuedMessage = { data: null, isText, size: blob.size };
    this.sendQueue ??= new SendQueue();
    const queue = this.sendQueue;
    queue.push(entry);
    this.needDrain = true;
    blob.arrayBuffer().then(
      (buffer) => {
        entry.data = new Uint8Array(buffer);
        this.releaseQueue();
      },
      (error: unknown) => {
        if (this.sendQueue !== queue) return;
        const replacement = this.blobUnreadable(error);
        if (replacement === null) queue.remove(entry);
        else entry.data = replacement;
        this.releaseQueue();
      },
    );
  }

  /**
   * Start the closing handshake: queue a close frame (after the messages waiting behind a
   * Blob, if any) and start the close clock.
   * @throws RangeError for a code that may not be sent, or a reason over 123 bytes
   */
  protected startClose(code: number | undefined, reason: string | undefined): void {
    const queue = this.sendQueue;
    if (queue !== null) {
      checkCloseArguments(code, reason);
      queue.close ??= [code, reason];
    } else {
      this.connection.close(code, reason);
    }
    this.startCloseDeadline();
  }

  /** Whether a close waits behind a Blob (sending is over then). */
  protected get closeQueued(): boolean {
    return this.sendQueue !== null && this.sendQueue.close !== null;
  }

  /** Drop the TCP connection now, without a closing handshake: the connection ends with 1006. */
  terminate(): void {
    this._socket.destroy();
    this.connection.receiveEof();
  }

  // ---- reading ----

  /** Stop reading the socket (TCP flow control then holds the peer back) until {@link SocketDriver.resumeReading}. */
  protected pauseReading(): void {
    this.pauseFor(PausedFor.Owner);
  }

  /** Read the socket again (unless output still piles up). */
  protected resumeReading(): void {
    this.resumeFor(PausedFor.Owner);
  }

  // ---- called by the socket's listeners and the core ----

  /**
   * Start the connection: listen to the socket, run `opened`, process the bytes that came
   * with the handshake, and write `prefix` (a server's 101 response) with the first output.
   * @internal
   */
  _start(prefix: string, head: Buffer): void {
    const socket = this._socket as DrivenSocket;
    socket[kSocketOwner] = this;
    socket.on('data', onSocketData);
    // Without half-open connections (a client; a standalone server) Node ends our side
    // itself when the peer's FIN arrives, and 'close' follows: no 'end' listener needed
    // (Node has one, and a second turns the socket's listener slot into an array, per connection).
    if (socket.allowHalfOpen) socket.on('end', onSocketEnd);
    socket.on('close', onSocketClose);
    socket.on('drain', onSocketDrain);
    socket.cork();
    if (prefix !== '') socket.write(prefix);
    this.batch++;
    try {
      this.opened();
      if (head.length > 0 && this.connection.state !== 'closed') {
        this.startRead(head);
        this.receiveChunk(head);
      }
    } finally {
      this.batch--;
      this._flush();
      socket.uncork();
    }
    if (this.connection.state !== 'closed') this.checkBackpressure();
    if (this.readPaused === 0) socket.resume();
  }

  /** Bytes from the socket. @internal */
  _receive(chunk: Buffer): void {
    this.startRead(chunk);
    this.batch++;
    try {
      this.receiveChunk(chunk);
    } finally {
      if (--this.batch === 0) this._flush();
    }
    this.checkBackpressure();
  }

  /** The socket is writable again, or a batch reached the kernel. @internal */
  _drained(): void {
    if (this.connection.bufferedBytes > 0) return;
    const socket = this._socket;
    if (
      this.writes === null &&
      (this.readPaused & PausedFor.Output) !== 0 &&
      socket.writableLength <= this.highWaterMark
    ) {
      this.resumeFor(PausedFor.Output);
      this.backpressureChanged('drained');
    }
    if (this.needDrain && this.bufferedAmount === 0) {
      this.needDrain = false;
      this.drained();
    }
  }

  /** The peer closed its side of TCP (half-open sockets only). @internal */
  _peerEnded(): void {
    // Without a close handshake that is an abnormal end (1006); finish our side too.
    this.connection.receiveEof();
    // Usually our side has ended already (after the close handshake): a second end() would
    // build an ERR_STREAM_ALREADY_FINISHED error with its stack trace, per connection.
    const socket = this._socket;
    if (!socket.destroyed && !socket.writableEnded) socket.end();
  }

  /** The TCP connection ended or failed. @internal */
  _socketGone(): void {
    this.writes?.abandon();
    this.connection.receiveEof();
    this.socketClosed();
  }

  /** A read begins: arm the early writes if it is short (see {@link EARLY_FLUSH_READ_BYTES}). */
  private startRead(chunk: Buffer): void {
    this._messagesUntilFlush = chunk.length < EARLY_FLUSH_READ_BYTES ? EARLY_FLUSH_MESSAGES : -1;
  }

  /** Bytes the core has queued and {@link _flush} has not taken yet. @internal */
  _queuedBytes(): number {
    return this.connection.bufferedBytes;
  }

  /** {@link _flush} in the middle of a read (see {@link EARLY_FLUSH_READ_BYTES}). @internal */
  _flushEarly(): void {
    this._flush();
    // The bytes that came with the handshake are processed with the socket corked (so that
    // the 101 and the first frames leave in one write): uncork, or nothing would leave.
    const socket = this._socket;
    if (socket.writableCorked > 0) socket.uncork();
  }

  /** Write out everything the core has queued. @internal */
  _flush(): void {
    const connection = this.connection;
    const queued = connection.bufferedBytes;
    const chunks = connection.takeOutput();
    const count = chunks.length;
    if (count === 0) return;
    const socket = this._socket;
    if (!socket.writable) return;
    if (this.tapping) for (const chunk of chunks) this.tap('out', chunk);
    const writes = this.writes;
    let batch: PendingBatch | null = null;
    let written: ((error?: Error | null) => void) | undefined;
    if (writes !== null) {
      // A client counts what each batch carried (bufferedAmount, write callbacks, pongs owed).
      const taken = writes.takeBatch();
      batch = taken;
      written = (error) => this.batchWritten(taken, error);
    } else if (
      this.needDrain ||
      this.readPaused !== 0 ||
      socket.writableLength + queued > this.highWaterMark
    ) {
      // Under backpressure (or when this batch takes the socket's buffer past our mark),
      // learn when it has reached the kernel: the socket's own 'drain' only comes when a
      // write crossed its 16 KiB mark, which a small batch, or a mark below 16 KiB, may not.
      written = onBatchWritten.bind(socket);
    }
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
      connection.abort(error);
      batch?.settle(error as Error);
    }
  }

  /** @internal */
  _onPing(data: Buffer): void {
    // The core has queued a pong, unless our close frame went out already.
    if (this.writes !== null && this.connection.state === 'open') this.writes.pongQueued(data.length);
    this.pingReceived(data);
  }

  /** @internal */
  _onPong(data: Buffer): void {
    this.pongReceived(data);
  }

  /** @internal */
  _onClose(info: CloseInfo): void {
    this._flush();
    const socket = this._socket;
    if (!socket.destroyed) {
      // RFC 6455 section 7.1.1, as the core's record says: the server ends TCP first; a
      // client waits for it (bounded by the close clock), unless its transport ended already.
      const record = this.connection.closeRecord;
      if (record.tcpClose === 'end' && !socket.writableEnded) {
        if (record.wasClean && this.closeAtOnce && socket.writableLength === 0 && !isEncrypted(socket)) {
          // Both close frames crossed (the peer sends nothing after its own, section 5.5.1)
          // and ours is in the kernel: close(2) now. The kernel still sends our frame, then
          // FIN, and keeps TIME_WAIT on our side. Half-closing and waiting for the peer's
          // FIN instead costs a shutdown, an EOF read and three more event-loop callbacks
          // per connection (the handshake benchmark's close).
          socket.destroy();
        } else {
          socket.end();
        }
      }
      if (!socket.destroyed) {
        // Read on, to see the peer's end of TCP (nothing more is delivered). The pause stays
        // recorded: a later drain still reports it over (the backpressure diagnostics).
        if (this.readPaused !== 0) socket.resume();
        this.startCloseDeadline();
      }
    }
    this.sendQueue = null;
    this.closed(info);
  }

  /** @internal */
  _onOutput(): void {
    if (this.batch === 0) this.requestFlush();
  }

  // ---- internals ----

  private receiveChunk(chunk: Buffer): void {
    // The core unmasks in place: the tap gets a copy of the bytes as they arrived.
    if (this.tapping) this.tap('in', Buffer.from(chunk));
    this.connection.receive(chunk);
  }

  /** Stop reading from a peer whose output is piling up (it is not reading what we send). */
  private checkBackpressure(): void {
    if ((this.readPaused & PausedFor.Output) !== 0) return;
    const socket = this._socket;
    const highWaterMark = this.highWaterMark;
    const writes = this.writes;
    if (writes === null) {
      // Pause only when something will wake us: a socket 'drain' (its buffer crossed its own
      // 16 KiB mark), a Blob being read (its release flushes with a write callback), or the
      // callback of the last batch, which _flush asks for whenever the socket's buffer passes
      // our mark (so a highWaterMark below Node's 16 KiB holds too).
      if (
        this.bufferedAmount <= highWaterMark ||
        !(socket.writableNeedDrain || this.sendQueue !== null || socket.writableLength > highWaterMark)
      ) {
        return;
      }
    } else if (writes.pongBytes <= highWaterMark) {
      return;
    }
    if (socket.destroyed) return;
    this.pauseFor(PausedFor.Output);
    this.backpressureChanged('reached');
  }

  private pauseFor(reason: number): void {
    const was = this.readPaused;
    this.readPaused = was | reason;
    if (was === 0) this._socket.pause();
  }

  private resumeFor(reason: number): void {
    if ((this.readPaused & reason) === 0) return;
    this.readPaused &= ~reason;
    if (this.readPaused === 0 && !this._socket.destroyed) this._socket.resume();
  }

  /** A tracked batch reached the kernel (or failed). */
  private batchWritten(batch: PendingBatch, error: Error | null | undefined): void {
    const writes = this.writes!;
    if (batch.pongBytes > 0) {
      writes.pongBytes -= batch.pongBytes;
      // Read again once the pongs still owed are under the mark.
      if (writes.pongBytes <= this.highWaterMark) this.resumeFor(PausedFor.Output);
    }
    if (!error && batch.payloadBytes > 0) this.written(batch.payloadBytes);
    batch.settle(error);
  }

  /** Send the messages whose turn has come (everything up to the next unread Blob). */
  private releaseQueue(): void {
    const queue = this.sendQueue;
    if (queue === null) return;
    this.cork(() => {
      for (let entry = queue.shiftReady(); entry !== null; entry = queue.shiftReady()) {
        if (!this.sendNow(entry.data!, entry.isText, entry.size, entry.written)) {
          entry.written?.(new Error('The connection is closing'));
        }
      }
      if (queue.empty && this.sendQueue === queue) {
        this.sendQueue = null;
        const close = queue.close;
        if (close !== null) this.connection.close(close[0], close[1]);
      }
    });
    if (this.sendQueue === null && this.needDrain && this.bufferedAmount === 0) {
      process.nextTick(onSocketDrain.bind(this._socket));
    }
  }
}

/** The checks the core's `close()` makes, made early when the close frame has to wait. */
function checkCloseArguments(code: number | undefined, reason: string | undefined): void {
  if (code === undefined) {
    if (reason !== undefined && reason !== '') throw new RangeError('a close reason needs a close code');
  } else if (!isValidWireCloseCode(code)) {
    throw new RangeError(`close code ${code} may not be sent`);
  }
  if (reason !== undefined && Buffer.byteLength(reason) > MAX_CLOSE_REASON_BYTES) {
    throw new RangeError(`close reason longer than ${MAX_CLOSE_REASON_BYTES} bytes`);
  }
}

/** Whether `socket` is a TLS socket (whose end sends a close_notify first). */
function isEncrypted(socket: Socket): boolean {
  return (socket as Socket & { encrypted?: boolean }).encrypted === true;
}

// Socket listeners shared by every connection (`this` is the socket): no closure per connection.
function onSocketData(this: Socket, chunk: Buffer): void {
  (this as DrivenSocket)[kSocketOwner]._receive(chunk);
}
function onSocketEnd(this: Socket): void {
  (this as DrivenSocket)[kSocketOwner]._peerEnded();
}
function onSocketClose(this: Socket): void {
  (this as DrivenSocket)[kSocketOwner]._socketGone();
}
function onSocketDrain(this: Socket): void {
  (this as DrivenSocket)[kSocketOwner]._drained();
}
function onBatchWritten(this: Socket, error?: Error | null): void {
  if (error == null) (this as DrivenSocket)[kSocketOwner]._drained();
}
