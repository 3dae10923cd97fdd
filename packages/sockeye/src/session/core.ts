/**
 * The sans-I/O session core: sequence numbers, cumulative acknowledgements and a
 * bounded replay buffer for one direction out and one direction in. No socket, no
 * timer, no promise, no Node built-in: the caller passes messages in, drains the
 * frames to write with {@link SessionCore.takeOutput}, and passes the clock in as `now`.
 * The same code runs in the server (Node) and in the reconnecting client (browsers).
 * @module
 */
import {
  decodeFrame,
  encodeAck,
  encodeData,
  encodeEnd,
  encodePong,
  framePayload,
  MAX_SEQUENCE,
  SessionError,
  type WireMessage,
} from './wire.js';

/** Bounds of a session's replay buffer (what it keeps until the peer acknowledges it). */
export interface ReplayLimits {
  /**
   * Most bytes kept (UTF-8 length of text, byte length of binary). Past it the oldest
   * messages are dropped: the session still works while linked, but a resume that needs
   * a dropped message fails and the session is lost.
   * @defaultValue 1 MiB
   */
  maxBytes?: number;
  /** Most messages kept; past it, as for `maxBytes`. @defaultValue 10 000 */
  maxMessages?: number;
  /** Oldest message kept, in ms (checked by {@link SessionCore.expire}); past it, as for `maxBytes`. @defaultValue 120 000 */
  maxAge?: number;
  /**
   * Acknowledge after this many received data messages without waiting for the
   * caller's {@link SessionCore.flushAck}.
   * @defaultValue 32
   */
  ackEvery?: number;
}

/** Default of {@link ReplayLimits.maxBytes}: 1 MiB. */
export const DEFAULT_REPLAY_BYTES = 1024 * 1024;
/** Default of {@link ReplayLimits.maxMessages}. */
export const DEFAULT_REPLAY_MESSAGES = 10_000;
/** Default of {@link ReplayLimits.maxAge} and of the server's resume window: 2 minutes. */
export const DEFAULT_RESUME_WINDOW = 120_000;
/** Default of {@link ReplayLimits.ackEvery}. */
export const DEFAULT_ACK_EVERY = 32;

/** What {@link SessionCore.receive} produced for the application. */
export type SessionEvent =
  | { readonly type: 'message'; readonly data: WireMessage; readonly seq: number }
  | { readonly type: 'ping'; readonly token: string }
  | { readonly type: 'pong'; readonly token: string }
  | { readonly type: 'end'; readonly reason: string };

/** One message kept for replay. */
export interface ReplayEntry {
  readonly seq: number;
  readonly data: WireMessage;
  /** `now` when it was sent. */
  readonly at: number;
}

/** Everything a store needs to rebuild a session elsewhere (see {@link SessionCore.snapshot}). */
export interface SessionSnapshot {
  readonly id: string;
  readonly epoch: string;
  /** Last sequence number sent (assigned). */
  readonly sent: number;
  /** Last sequence number received and delivered. */
  readonly received: number;
  /** Last of our sequence numbers the peer acknowledged. */
  readonly acknowledged: number;
  /** Highest sequence number ever written on a link. */
  readonly written: number;
  /** The replay buffer, oldest first. */
  readonly entries: readonly ReplayEntry[];
}

/** A character outside ASCII (a UTF-16 unit of more than one UTF-8 byte). */
const NON_ASCII = /[\u0080-\uffff]/;

/** The size a message is charged in the replay buffer. */
export function messageSize(data: WireMessage): number {
  if (typeof data !== 'string') return data.length;
  // ASCII text, the common case, is its length: the regular expression finds that in
  // half the time of the loop below (about 55 against 115 ns for 64 characters).
  if (!NON_ASCII.test(data)) return data.length;
  // UTF-8 length without an encoder (browsers and Node alike): 1 to 3 bytes per UTF-16
  // unit, a surrogate pair (4 bytes) counting 2 + 2.
  let size = data.length;
  for (let i = 0; i < data.length; i++) {
    const c = data.charCodeAt(i);
    if (c >= 0x80) size += c >= 0x800 && (c < 0xd800 || c > 0xdfff) ? 2 : 1;
  }
  return size;
}

/**
 * One end of a session. Outbound: {@link send} numbers each message and keeps it until
 * the peer acknowledges it; {@link link} resumes after a break by replaying what the
 * peer has not received. Inbound: {@link receive} counts data messages and
 * acknowledges them. Frames to write collect in an output queue.
 */
export class SessionCore {
  /** The session id (empty until a client learns it from a welcome). */
  id: string;
  /** The session epoch: which incarnation of `id` this is. */
  epoch: string;

  private readonly maxBytes: number;
  private readonly maxMessages: number;
  private readonly maxAge: number;
  private readonly ackEvery: number;

  // The replay buffer, oldest first from `head`, as three parallel arrays rather than an
  // object per message (one allocation less per message sent, and less for the collector
  // to trace). The sequence numbers need no array: they are consecutive, ending at `sentSeq`.
  // Each message is kept as its data frame (`encodeData`), the very one written on the
  // link: encoded once, however many links replay it.
  private kept: WireMessage[] = [];
  /** `now` when each was sent. */
  private keptAt: number[] = [];
  /** The size each is charged (computed once: a string's is O(length)). */
  private keptSize: number[] = [];
  private head = 0;
  private bytes = 0;
  private sentSeq = 0;
  private receivedSeq = 0;
  private acknowledgedSeq = 0;
  private writtenSeq = 0;
  private ackedByUs = 0;
  private linked = false;
  private ended = false;
  private output: WireMessage[] = [];

  /**
   * @param id - the session id ('' while unknown)
   * @param epoch - the session epoch ('' while unknown)
   * @param limits - the replay buffer's bounds
   * @param snapshot - state to continue from (a resumed session from a store)
   * @throws RangeError for a limit that is not a number, or below its minimum
   */
  constructor(id: string, epoch: string, limits: ReplayLimits = {}, snapshot?: SessionSnapshot) {
    this.id = id;
    this.epoch = epoch;
    this.maxBytes = limits.maxBytes ?? DEFAULT_REPLAY_BYTES;
    this.maxMessages = limits.maxMessages ?? DEFAULT_REPLAY_MESSAGES;
    this.maxAge = limits.maxAge ?? DEFAULT_RESUME_WINDOW;
    this.ackEvery = limits.ackEvery ?? DEFAULT_ACK_EVERY;
    for (const [name, value, min] of [
      ['maxBytes', this.maxBytes, 0],
      ['maxMessages', this.maxMessages, 1],
      ['maxAge', this.maxAge, 0],
      ['ackEvery', this.ackEvery, 1],
    ] as const) {
      if (!(value >= min)) throw new RangeError(`${name} must be a number >= ${min}`);
    }
    if (snapshot !== undefined) {
      this.sentSeq = snapshot.sent;
      this.receivedSeq = snapshot.received;
      this.acknowledgedSeq = snapshot.acknowledged;
      this.writtenSeq = snapshot.written;
      this.ackedByUs = snapshot.received;
      // Kept messages are consecutive and end at `sent`: keep the longest run of the
      // snapshot's that does (a store gives back what `snapshot()` wrote, which is one).
      const entries = snapshot.entries;
      let start = entries.length;
      while (start > 0 && entries[start - 1]!.seq === snapshot.sent - (entries.length - start)) start--;
      for (let i = start; i < entries.length; i++) {
        const { data, at } = entries[i]!;
        const size = messageSize(data);
        this.kept.push(encodeData(data));
        this.keptAt.push(at);
        this.keptSize.push(size);
        this.bytes += size;
      }
    }
  }

  /** Last sequence number assigned to an outgoing message. */
  get sent(): number {
    return this.sentSeq;
  }
  /** Last sequence number received (every message up to it was delivered, once, in order). */
  get received(): number {
    return this.receivedSeq;
  }
  /** Last outgoing sequence number the peer acknowledged. */
  get acknowledged(): number {
    return this.acknowledgedSeq;
  }
  /** Whether a link is attached (frames go to the output queue). */
  get isLinked(): boolean {
    return this.linked;
  }
  /** Whether the session ended (an `x` frame went or came). */
  get isEnded(): boolean {
    return this.ended;
  }
  /** Messages in the replay buffer. */
  get bufferedMessages(): number {
    return this.kept.length - this.head;
  }
  /** Bytes in the replay buffer. */
  get bufferedBytes(): number {
    return this.bytes;
  }
  /** The oldest sequence number that can still be replayed (`sent + 1` when the buffer is empty). */
  get firstReplayable(): number {
    return this.sentSeq - (this.kept.length - this.head) + 1;
  }
  /** Whether received messages wait for an acknowledgement. */
  get ackPending(): boolean {
    return this.receivedSeq > this.ackedByUs;
  }

  /**
   * Send a data message: number it, keep it for replay, and queue its frame when linked.
   * The oldest kept messages are dropped past the bounds (see {@link ReplayLimits}).
   * @param size - its {@link messageSize}, when the caller computed it already (it is O(length) for a string)
   * @returns its sequence number
   * @throws SessionError `session-ended` after the session ended, `sequence-overflow` past 2^53 - 1
   */
  send(data: WireMessage, now: number, size: number = messageSize(data)): number {
    return this.sendFrame(encodeData(data), now, size);
  }

  /**
   * {@link send} for a message already framed: `frame` is its data frame (what
   * {@link encodeData} makes), kept and written as it is.
   * @param size - the payload's {@link messageSize} (the frame's, less its `d`)
   * @returns its sequence number
   * @throws SessionError `session-ended` after the session ended, `sequence-overflow` past 2^53 - 1
   */
  sendFrame(frame: WireMessage, now: number, size: number): number {
    const seq = this.keep(frame, now, size);
    if (this.linked) {
      this.output.push(frame);
      this.writtenSeq = seq;
    }
    return seq;
  }

  /**
   * {@link sendFrame} for a shell that writes each frame as it is sent: when a link is
   * attached and no frame waits in the output queue, the frame is counted as written
   * and not queued, and the caller writes it now (no output array to fill and take per
   * message). Otherwise it is queued behind what waits (or kept for the next link).
   * @param size - the payload's {@link messageSize} (the frame's, less its `d`)
   * @returns true when the caller must write `frame` now
   * @throws SessionError `session-ended` after the session ended, `sequence-overflow` past 2^53 - 1
   */
  sendFrameNow(frame: WireMessage, now: number, size: number): boolean {
    const seq = this.keep(frame, now, size);
    if (!this.linked) return false;
    this.writtenSeq = seq;
    if (this.output.length === 0) return true;
    this.output.push(frame);
    return false;
  }

  /** Number `frame` and keep it for replay, within the bounds. @returns its sequence number */
  private keep(frame: WireMessage, now: number, size: number): number {
    if (this.ended) throw new SessionError('session-ended', 'the session has ended');
    if (this.sentSeq >= MAX_SEQUENCE) throw new SessionError('sequence-overflow', 'sequence numbers ran out');
    const seq = ++this.sentSeq;
    this.kept.push(frame);
    this.keptAt.push(now);
    this.keptSize.push(size);
    this.bytes += size;
    while (
      this.bufferedMessages > this.maxMessages ||
      (this.bytes > this.maxBytes && this.bufferedMessages > 1)
    ) {
      this.dropOldest();
    }
    return seq;
  }

  /**
   * Take one received WebSocket message (after the handshake).
   * @returns the event for the application, or null (an acknowledgement)
   * @throws SessionError for a malformed or misplaced frame, or an acknowledgement of a
   *   message never sent; the link should fail with its `closeCode`
   */
  receive(message: WireMessage): SessionEvent | null {
    const frame = decodeFrame(message);
    switch (frame.type) {
      case 'data':
        return { type: 'message', data: frame.data, seq: this.receiveData() };
      case 'ack':
        this.acknowledge(frame.seq);
        return null;
      case 'ping':
        if (this.linked) this.output.push(encodePong(frame.token));
        return { type: 'ping', token: frame.token };
      case 'pong':
        return { type: 'pong', token: frame.token };
      case 'end':
        this.ended = true;
        this.clear();
        return { type: 'end', reason: frame.reason };
      default:
        throw new SessionError('unexpected-frame', `a ${frame.type} frame after the handshake`);
    }
  }

  /**
   * Take the payload of a received data frame (the caller found the `d` and removed it):
   * {@link receive} without decoding the frame, for the hot path of a shell that reads
   * the first byte anyway.
   * @returns its sequence number
   * @throws SessionError `sequence-overflow` past 2^53 - 1
   */
  receiveData(): number {
    if (this.receivedSeq >= MAX_SEQUENCE)
      throw new SessionError('sequence-overflow', 'sequence numbers ran out');
    const seq = ++this.receivedSeq;
    if (this.linked && seq - this.ackedByUs >= this.ackEvery) this.flushAck();
    return seq;
  }

  /**
   * The peer acknowledged every message up to `seq`: drop them from the replay buffer.
   * An acknowledgement below one already seen is ignored.
   * @throws SessionError `ack-out-of-range` when `seq` was never sent
   */
  acknowledge(seq: number): void {
    if (seq > this.sentSeq)
      throw new SessionError('ack-out-of-range', `ack ${seq} past sent ${this.sentSeq}`);
    if (seq <= this.acknowledgedSeq) return;
    this.acknowledgedSeq = seq;
    for (let n = Math.min(seq - this.firstReplayable + 1, this.bufferedMessages); n > 0; n--)
      this.dropOldest();
  }

  /**
   * Whether a link whose peer has received up to `peerReceived` can resume this session:
   * every message after it is still in the replay buffer, and it is not ahead of us.
   */
  canResume(peerReceived: number): boolean {
    return !this.ended && peerReceived <= this.sentSeq && peerReceived + 1 >= this.firstReplayable;
  }

  /**
   * Attach a link after the handshake told us what the peer received: acknowledge up to
   * it and queue every later message for replay, in order.
   * @returns false (nothing changes) when {@link canResume} does not hold: the session is lost
   */
  link(peerReceived: number): boolean {
    if (!this.canResume(peerReceived)) return false;
    this.acknowledge(peerReceived);
    this.linked = true;
    this.output = [];
    for (let i = this.head; i < this.kept.length; i++) this.output.push(this.kept[i]!);
    if (this.sentSeq > this.writtenSeq) this.writtenSeq = this.sentSeq;
    // The handshake told the peer what we received: that is an acknowledgement.
    this.ackedByUs = this.receivedSeq;
    return true;
  }

  /** The link broke: frames not yet written are dropped (the replay buffer still has them). */
  unlink(): void {
    this.linked = false;
    this.output = [];
  }

  /** Queue an acknowledgement of everything received, if one is due and a link is attached. */
  flushAck(): void {
    if (!this.linked || this.receivedSeq <= this.ackedByUs) return;
    this.ackedByUs = this.receivedSeq;
    this.output.push(encodeAck(this.receivedSeq));
  }

  /** Queue a frame that is not data (a ping, a pong) when linked. */
  queueControl(frame: string): void {
    if (this.linked) this.output.push(frame);
  }

  /** End the session: queue an `x` frame when linked and drop the replay buffer. */
  end(reason = ''): void {
    if (this.ended) return;
    this.ended = true;
    if (this.linked) {
      this.flushAck();
      this.output.push(encodeEnd(reason));
    }
    this.clear();
  }

  /**
   * Drop kept messages older than `maxAge` at `now`. A resume that needs one of them
   * then fails (the session is lost).
   * @returns how many were dropped
   */
  expire(now: number): number {
    let dropped = 0;
    const oldest = now - this.maxAge;
    while (this.head < this.kept.length && this.keptAt[this.head]! < oldest) {
      this.dropOldest();
      dropped++;
    }
    return dropped;
  }

  /** Whether frames wait in the output queue (see {@link takeOutput}). */
  get hasOutput(): boolean {
    return this.output.length !== 0;
  }

  /** The frames to write, in order (the queue is emptied). */
  takeOutput(): WireMessage[] {
    const output = this.output;
    if (output.length === 0) return output;
    this.output = [];
    return output;
  }

  /** Kept messages the peer may or may not have received: written on a link, not acknowledged. */
  unacknowledged(): ReplayEntry[] {
    return this.entries().filter((entry) => entry.seq <= this.writtenSeq);
  }

  /** Kept messages never written on any link (safe to carry into a new session). */
  unwritten(): ReplayEntry[] {
    return this.entries().filter((entry) => entry.seq > this.writtenSeq);
  }

  /** The state a store keeps between links. */
  snapshot(): SessionSnapshot {
    return {
      id: this.id,
      epoch: this.epoch,
      sent: this.sentSeq,
      received: this.receivedSeq,
      acknowledged: this.acknowledgedSeq,
      written: this.writtenSeq,
      entries: this.entries(),
    };
  }

  /** The kept messages, oldest first, as {@link ReplayEntry}s. */
  private entries(): ReplayEntry[] {
    const entries: ReplayEntry[] = [];
    let seq = this.firstReplayable;
    for (let i = this.head; i < this.kept.length; i++) {
      entries.push({ seq: seq++, data: framePayload(this.kept[i]!), at: this.keptAt[i]! });
    }
    return entries;
  }

  private dropOldest(): void {
    const head = this.head;
    this.bytes -= this.keptSize[head]!;
    this.kept[head] = ''; // not kept alive until the compaction
    this.head = head + 1;
    // Compact once the dropped prefix is half the array: amortised O(1) per message.
    if (this.head === this.kept.length) {
      this.clear();
    } else if (this.head >= 1024 && this.head * 2 >= this.kept.length) {
      this.kept = this.kept.slice(this.head);
      this.keptAt = this.keptAt.slice(this.head);
      this.keptSize = this.keptSize.slice(this.head);
      this.head = 0;
    }
  }

  private clear(): void {
    this.kept = [];
    this.keptAt = [];
    this.keptSize = [];
    this.head = 0;
    this.bytes = 0;
  }
}
