/**
 * The server side of resumable sessions: {@link SessionServer} wraps a
 * {@link WebSocketServer}, selects the `sockeye.session.v1` subprotocol when a client
 * offers it, and gives the application {@link ServerSession}s that outlive their links.
 * Plain WebSocket clients (no subprotocol offered) reach `handlers` as before.
 * @module
 */
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { isValidWireCloseCode } from '../protocol/close-codes.js';
import type { BrokerMessage } from '../pubsub/broker.js';
import { InProcessBroker } from '../pubsub/in-process.js';
import {
  DEFAULT_MAX_TOPIC_LENGTH,
  DEFAULT_MAX_TOPICS_PER_SUBSCRIBER,
  isWellFormedTopic,
  TopicError,
} from '../pubsub/topics.js';
import { type ServerCloseOptions, WebSocketServer } from '../server/server.js';
import {
  type PublishOptions,
  type SendData,
  SendStatus,
  type WebSocketHandlers,
  type WebSocketServerOptions,
} from '../server/types.js';
import type { ServerWebSocket } from '../server/websocket.js';
import { SessionBrokerTee } from './broker-tee.js';
import { DEFAULT_REPLAY_MESSAGES, DEFAULT_RESUME_WINDOW, type ReplayLimits, SessionCore } from './core.js';
import { FrameBuilder } from './frames.js';
import { MemorySessionStore, type SessionClaim, type SessionStore, type StoredSession } from './store.js';
import type { TopicHistory, TopicHistoryRead } from './topic-history.js';
import {
  decodeFrame,
  encodeWelcome,
  MAX_END_REASON_LENGTH,
  SESSION_PROTOCOL,
  SessionError,
  TextBytes,
  type WireMessage,
} from './wire.js';

export {
  DEFAULT_MAX_BODY_BYTES,
  type HttpTransportKind,
  SessionHttpTransport,
  type SessionHttpTransportOptions,
} from './http-server.js';
export * from './index.js';

/** Why a session ended for good, as {@link SessionHandlers.close} is told. */
export type SessionEndReason =
  /** The application called `session.close()`. */
  | 'closed'
  /** The client ended it (an `x` frame: its `close()`). */
  | 'ended'
  /** No link resumed it within the resume window. */
  | 'expired'
  /** The server is closing. The session stays in the store for another process to resume. */
  | 'shutdown'
  /** The session moved on to another process: this process's copy is stale and dropped. */
  | 'moved'
  /** A link broke the session protocol; the session cannot be trusted. */
  | 'error';

/**
 * The callbacks for sessions. A handler that throws ends that session (the link closes
 * with 1011) and is reported like any handler error.
 * @typeParam Data - what `authenticate` returns (`session.data` is the latest link's)
 */
export interface SessionHandlers<Data> {
  /** A new session started (a client without a session, or one the server lost). */
  open?(session: ServerSession<Data>): unknown;
  /** A link resumed the session after a break; replay has been queued. */
  resume?(session: ServerSession<Data>): unknown;
  /** The link broke; the session waits up to the resume window for a new one. */
  suspend?(session: ServerSession<Data>): unknown;
  /**
   * An application message, delivered exactly once and in order across links. Text
   * arrives as a `string`, or with `decodeText: false` as a `Buffer` of valid UTF-8 (send
   * it on with `send(data, false)`: it is never decoded); binary as a `Buffer`. A `Buffer`
   * may be a view of the received bytes: copy it to keep it past the call.
   */
  message?(session: ServerSession<Data>, data: string | Buffer, isBinary: boolean): unknown;
  /** After a `send()` returned `queued` on a link, that link's buffered bytes went back to zero. */
  drain?(session: ServerSession<Data>): unknown;
  /** The session ended for good (called once). */
  close?(session: ServerSession<Data>, reason: SessionEndReason): unknown;
  /**
   * With a topic history: `count` messages of `topic` never reached the session (the
   * history no longer held them when it caught up, after a move or a slow read).
   */
  topicLost?(session: ServerSession<Data>, topic: string, count: number): unknown;
}

/**
 * Options of {@link SessionServer}: those of {@link WebSocketServer}, in one of its three
 * modes (`handlers` now serve plain WebSocket clients only), plus the session settings
 * ({@link SessionSettings}).
 */
export type SessionServerOptions<Data> =
  WebSocketServerOptions<Data> extends infer Mode
    ? Mode extends WebSocketServerOptions<Data>
      ? Omit<Mode, 'handlers'> & SessionSettings<Data>
      : never
    : never;

/** The settings a {@link SessionServer} adds to a {@link WebSocketServer}'s options. */
export interface SessionSettings<Data> {
  /** Handlers for plain WebSocket clients (those that do not offer `sockeye.session.v1`). @defaultValue none */
  handlers?: WebSocketHandlers<Data>;
  /** Handlers for sessions. */
  sessions: SessionHandlers<Data>;
  /** Where suspended sessions wait. @defaultValue a new {@link MemorySessionStore} */
  store?: SessionStore;
  /**
   * How long a suspended session waits for a link to resume it, in ms. Past it, the
   * session ends (`close` with `'expired'`) and a client coming back gets a new one.
   * @defaultValue 120 000 (2 minutes)
   */
  resumeWindow?: number;
  /**
   * Bounds of each session's replay buffer (what the client has not acknowledged).
   * `maxAge` defaults to `resumeWindow`.
   * @defaultValue 1 MiB, 10 000 messages
   */
  replay?: ReplayLimits;
  /** Time for a session link to send its hello after the WebSocket opened, in ms. @defaultValue 10 000 */
  helloTimeout?: number;
  /**
   * Checkpoint live sessions to the store, so that a client whose server process dies
   * (even `kill -9`) resumes on another process sharing the store with nothing lost or
   * duplicated. Every session that changed is written at most once per `interval`, in
   * one batch, and the server writes data messages and acknowledgements to a link only
   * once a checkpoint holding them is in the store: the client never sees a state the
   * store could lose. `true` takes the defaults. See "Checkpoints" in docs/sessions.md
   * for the guarantee and its cost.
   * @defaultValue off: a session is written to the store when its link breaks
   */
  checkpoint?: boolean | CheckpointOptions;
  /**
   * A topic history shared by the servers (a `MemoryTopicHistory` in one process, a
   * `RedisTopicHistory` from `@sockeye/redis` across processes). With it, topic messages
   * reach sessions through the history rather than the broker: each has a position, a
   * session remembers (and moves with) the position it reached in each topic, and a
   * session that comes to this process catches up from there; what the history no longer
   * holds is counted (`topicLost`). See "Topic history" in docs/sessions.md.
   * @defaultValue none: topic messages reach the sessions of other processes through the broker
   */
  history?: TopicHistory;
  /**
   * Most suspended sessions this process keeps. Past it, the one suspended longest ends
   * (`close` with `'expired'`): a client that opens sessions and drops its links cannot
   * make the server hold them all for the resume window.
   * @defaultValue 100 000
   */
  maxSuspendedSessions?: number;
}

/** Options of {@link SessionSettings.checkpoint}. */
export interface CheckpointOptions {
  /**
   * Least time between two checkpoint batches, in ms: how long a message or an
   * acknowledgement may wait for the checkpoint that lets it out (plus one store round
   * trip), and at most how often each session is written.
   * @defaultValue 100
   */
  interval?: number;
}

/** Default of {@link CheckpointOptions.interval}. */
export const DEFAULT_CHECKPOINT_INTERVAL = 100;

/** Options of {@link SessionServer.close}: those of `WebSocketServer.close`, plus draining. */
export interface SessionServerCloseOptions extends ServerCloseOptions {
  /**
   * Drain: close the session links with 1012 (service restart) one after another over
   * this many ms instead of all at once, so that their clients do not all reconnect to
   * the other processes in the same instant. 0 closes them at once with `code`.
   * @defaultValue 0
   */
  drainPeriod?: number;
  /**
   * With `drainPeriod`: the window, in ms, within which clients should come back (sent
   * as `retry-after=<ms>` in the 1012 close reason; the reconnecting client waits a
   * random time within it).
   * @defaultValue 5 000
   */
  retryWindow?: number;
  /**
   * How long, in ms, each linked session's state may take to reach the store before its
   * link is closed anyway. A link closes only once the store holds its session (so that a
   * client coming back at once, to any process, resumes it), or after this bound when
   * the store is slow or away (the session then stays with the last state the store took).
   * @defaultValue 5 000
   */
  persistTimeout?: number;
}

/** Default of {@link SessionServerCloseOptions.persistTimeout}. */
export const DEFAULT_PERSIST_TIMEOUT = 5000;

/** How a session's current link reaches the client: a WebSocket, or an HTTP transport. */
export type SessionTransport = 'websocket' | 'sse' | 'long-polling';

/**
 * What a session needs of its link: a {@link ServerWebSocket}, or a link of an HTTP
 * transport (`http-server.ts`), which sets `transport`.
 * @internal
 */
export interface SessionLink<Data> {
  readonly readyState: 'open' | 'closing' | 'closed';
  data: Data;
  /** The HTTP transport of the link; a WebSocket link has none. */
  readonly transport?: Exclude<SessionTransport, 'websocket'>;
  send(data: WireMessage, isBinary: boolean): SendStatus;
  close(code?: number, reason?: string): void;
  terminate(): void;
  cork<T>(fn: () => T): T;
}

/** `open`, `suspended` (no link, waiting to be resumed) or `closed`. */
export type SessionState = 'linked' | 'suspended' | 'closed';

/** A session as the application sees it: `send` and `close` like a connection, across links. */
export class ServerSession<Data = undefined> {
  /** What `authenticate` returned for the latest link. */
  data: Data;
  /** @internal */
  _link: SessionLink<Data> | null = null;
  /** @internal */
  _expiresAt = 0;
  /** @internal */
  readonly _core: SessionCore;
  /** @internal The topics it is subscribed to (they outlive links, and move with the session). */
  readonly _topics = new Set<string>();
  /** @internal Builds the data frames it sends (they are what its replay buffer keeps). */
  readonly _frames = new FrameBuilder();
  /** @internal An acknowledgement is due at the end of this turn (it is in the server's `ackDue`). */
  _ackDue = false;
  /**
   * @internal With checkpoints: frames for the link that wait for the checkpoint holding
   * them (replaced, not emptied, when the link goes: a batch in flight holds the old one).
   */
  _held: WireMessage[] = [];
  /** @internal With a topic history: the position reached in each topic. */
  readonly _positions = new Map<string, number>();
  /** @internal With a topic history: the topics it is catching up in (the reader leaves it alone). */
  readonly _catchingUp = new Set<string>();
  private readonly owner: SessionServer<Data>;

  /** @internal Made by {@link SessionServer} (the constructor is private, so no application can call it). */
  static _create<D>(owner: SessionServer<D>, core: SessionCore, data: D): ServerSession<D> {
    return new ServerSession<D>(owner, core, data);
  }

  /** Not constructed by applications: a {@link SessionServer} makes each one. */
  private constructor(owner: SessionServer<Data>, core: SessionCore, data: Data) {
    this.owner = owner;
    this._core = core;
    this.data = data;
  }

  /** The session id (a random token the client presents to resume). */
  get id(): string {
    return this._core.id;
  }
  /** The session epoch. */
  get epoch(): string {
    return this._core.epoch;
  }
  /** `linked`, `suspended` or `closed`. */
  get state(): SessionState {
    if (this._core.isEnded) return 'closed';
    return this._link === null ? 'suspended' : 'linked';
  }
  /** The current WebSocket link, or null while suspended or linked over an HTTP transport. */
  get link(): ServerWebSocket<Data> | null {
    const link = this._link;
    return link === null || link.transport !== undefined ? null : (link as ServerWebSocket<Data>);
  }
  /** How the current link reaches the client, or null while suspended. */
  get transport(): SessionTransport | null {
    const link = this._link;
    return link === null ? null : (link.transport ?? 'websocket');
  }
  /**
   * Subscribe the session to `topic`: {@link SessionServer.publish} to it reaches the
   * session as ordinary session messages (numbered, acknowledged, replayed after a
   * break). The subscription outlives links and is restored when the session resumes.
   * @returns true if it was not subscribed already
   * @throws TopicError when the topic is empty or too long, or the session is in too many topics
   */
  subscribe(topic: string): boolean {
    return this.owner._subscribe(this, topic);
  }
  /** Leave `topic`. @returns true if it was subscribed */
  unsubscribe(topic: string): boolean {
    return this.owner._unsubscribe(this, topic);
  }
  /** The topics the session is subscribed to. */
  get topics(): ReadonlySet<string> {
    return this._topics;
  }
  /** Messages sent and not yet acknowledged by the client (the replay buffer). */
  get bufferedMessages(): number {
    return this._core.bufferedMessages;
  }
  /** Bytes sent and not yet acknowledged by the client. */
  get bufferedAmount(): number {
    return this._core.bufferedBytes;
  }

  /**
   * Send a message. It is numbered and kept until the client acknowledges it, so it
   * arrives exactly once even across breaks (within the replay bounds). Bytes are copied
   * (the caller may reuse its buffer); bytes sent as text (`isBinary` false) stay bytes,
   * and those that are not valid UTF-8 go as their decoding (U+FFFD for each bad sequence).
   * @returns `sent` or `queued` (the link's backpressure, see `SendStatus`; while
   *   suspended, always `queued`; with checkpoints, `sent` once accepted on a link, as it
   *   then waits for its checkpoint), or `dropped` when the session has ended
   */
  send(
    data: string | Buffer | ArrayBuffer | ArrayBufferView,
    isBinary: boolean = typeof data !== 'string',
  ): SendStatus {
    const core = this._core;
    if (core.isEnded) return SendStatus.Dropped;
    const frame = toFrame(
      this._frames,
      data,
      isBinary,
      core.bufferedBytes,
      data === this.owner._receivedText,
    );
    core.sendFrame(frame, this.owner._stamp(), frame.length - 1);
    return this.owner._flush(this);
  }

  /**
   * End the session for good: the client is told (an `x` frame), then the link closes with `code`.
   * @throws RangeError for a close code that may not be sent, or a reason over 123 bytes (nothing changes then)
   */
  close(code = 1000, reason = ''): void {
    if (!isValidWireCloseCode(code)) throw new RangeError(`close code ${code} may not be sent`);
    if (Buffer.byteLength(reason) > MAX_END_REASON_LENGTH) {
      throw new RangeError(`close reason longer than ${MAX_END_REASON_LENGTH} bytes`);
    }
    this.owner._end(this, 'closed', code, reason);
  }
}

/**
 * A {@link WebSocketServer} whose clients may hold resumable sessions. See
 * `docs/sessions.md`.
 */
export class SessionServer<Data = undefined> {
  /** The WebSocket server underneath (its `clients` include session links). */
  readonly server: WebSocketServer<Data>;
  private readonly sessionHandlers: SessionHandlers<Data>;
  private readonly plain: WebSocketHandlers<Data>;
  private readonly store: SessionStore;
  private readonly resumeWindow: number;
  private readonly replay: ReplayLimits;
  private readonly helloTimeout: number;
  /** Text messages go to the `message` handler as strings (false: as `Buffer`s of UTF-8). */
  private readonly decodeText: boolean;
  /** Every session of this process, linked or suspended. */
  private readonly sessions = new Map<string, ServerSession<Data>>();
  /** Links that have not said hello yet, with their deadline. */
  private readonly awaitingHello = new Map<SessionLink<Data>, number>();
  /** Links of sessions, by WebSocket. */
  private readonly links = new WeakMap<SessionLink<Data>, ServerSession<Data>>();
  /** Suspended sessions, longest suspended first. */
  private readonly suspended = new Map<string, ServerSession<Data>>();
  private readonly maxSuspendedSessions: number;
  /** Sessions by topic. */
  private readonly byTopic = new Map<string, Set<ServerSession<Data>>>();
  private readonly maxTopicLength: number;
  private readonly maxTopicsPerSession: number;
  /** The broker, with what other processes publish also reaching the sessions here. */
  private readonly broker: SessionBrokerTee;
  /**
   * Sessions with an acknowledgement to send at the end of this turn: those whose
   * `_ackDue` is still set (a session is pushed once per turn, and unset when its link goes).
   */
  private ackDue: ServerSession<Data>[] = [];
  private ackScheduled = false;
  private readonly sendDueAcks = (): void => {
    this.ackScheduled = false;
    const due = this.ackDue;
    this.ackDue = [];
    for (const session of due) {
      if (!session._ackDue) continue;
      session._ackDue = false;
      session._core.flushAck();
      this._flush(session);
    }
  };
  private readonly sweeper: ReturnType<typeof setInterval>;
  /** With checkpoints: the least time between two batches (undefined: no checkpoints). */
  private readonly checkpointInterval: number | undefined;
  /** Sessions changed since their last checkpoint. */
  private readonly dirty = new Set<ServerSession<Data>>();
  private checkpointTimer: ReturnType<typeof setTimeout> | undefined;
  private checkpointRunning: Promise<void> | undefined;
  /** Sessions in the batch being written. */
  private checkpointing = 0;
  private lastCheckpointAt = 0;
  /** The topic history, if any. */
  private readonly history: TopicHistory | undefined;
  /** With a history: the position this process has read up to in each topic (undefined while it is being found). */
  private readonly historyCursors = new Map<string, number | undefined>();
  /**
   * With a history that has generations: the generation of each topic's log this
   * process reads (its cursor, and the positions of its sessions, count in it).
   */
  private readonly historyGenerations = new Map<string, string>();
  /** With a history: the reading loop, and how to wake it when a topic is added. */
  private historyReader: Promise<void> | undefined;
  private wakeReader: (() => void) | undefined;
  /** With checkpoints: the most frames a link may have waiting for their checkpoint. */
  private readonly maxHeldFrames: number;
  /** Store writes in flight, awaited by `close()`. */
  private readonly storeWrites = new Set<Promise<unknown>>();
  private closed = false;
  /** Closed, and the last checkpoints written: nothing is scheduled any more. */
  private stopped = false;
  private closing: Promise<void> | undefined;
  /**
   * @internal The text message (as UTF-8 bytes, `decodeText: false`) whose `message`
   * handler is running, null otherwise: its bytes are valid UTF-8 (the WebSocket parser
   * checked them) and nothing else runs until the handler returns, so a `send()` of that
   * very `Buffer` as text skips checking them again. (A handler that writes into the
   * buffer it was given before sending it is on its own, as with `ws.send(buffer, false)`.)
   */
  _receivedText: Buffer | null = null;
  /** See {@link SessionServer._stamp}. */
  private stamp = 0;
  private stampValid = false;
  private readonly stampExpired = (): void => {
    this.stampValid = false;
  };

  /** @param options - see {@link SessionServerOptions} */
  constructor(options: SessionServerOptions<Data>) {
    this.sessionHandlers = options.sessions;
    this.plain = options.handlers ?? {};
    this.store = options.store ?? new MemorySessionStore();
    this.resumeWindow = options.resumeWindow ?? DEFAULT_RESUME_WINDOW;
    this.replay = { maxAge: this.resumeWindow, ...options.replay };
    this.helloTimeout = options.helloTimeout ?? 10_000;
    this.decodeText = options.decodeText ?? true;
    this.maxSuspendedSessions = options.maxSuspendedSessions ?? 100_000;
    this.maxTopicLength = options.topics?.maxTopicLength ?? DEFAULT_MAX_TOPIC_LENGTH;
    this.maxTopicsPerSession = options.topics?.maxTopicsPerSubscriber ?? DEFAULT_MAX_TOPICS_PER_SUBSCRIBER;
    this.history = options.history;
    // As many as the replay buffer keeps messages, and as many acknowledgements (one a turn at most).
    this.maxHeldFrames = 2 * (this.replay.maxMessages ?? DEFAULT_REPLAY_MESSAGES);
    const checkpoint = options.checkpoint ?? false;
    this.checkpointInterval =
      checkpoint === false
        ? undefined
        : ((checkpoint === true ? undefined : checkpoint.interval) ?? DEFAULT_CHECKPOINT_INTERVAL);
    if (this.checkpointInterval !== undefined && !(this.checkpointInterval >= 0)) {
      throw new RangeError('checkpoint.interval must be a number >= 0');
    }
    if (!(this.resumeWindow > 0)) throw new RangeError('resumeWindow must be positive');
    if (!(this.helloTimeout > 0)) throw new RangeError('helloTimeout must be positive');
    if (!Number.isInteger(this.maxSuspendedSessions) || this.maxSuspendedSessions < 1) {
      throw new RangeError('maxSuspendedSessions must be a positive integer');
    }
    const userSelect = options.selectProtocol;
    const plain = this.plain;
    this.broker = new SessionBrokerTee(options.broker ?? new InProcessBroker(), (message) =>
      this.brokerMessage(message),
    );
    this.server = new WebSocketServer<Data>({
      ...options,
      broker: this.broker,
      selectProtocol: (offered, request) =>
        offered.includes(SESSION_PROTOCOL) ? SESSION_PROTOCOL : userSelect?.(offered, request),
      handlers: {
        open: (ws) => {
          if (ws.protocol !== SESSION_PROTOCOL) return plain.open?.(ws);
          this.awaitingHello.set(ws, Date.now() + this.helloTimeout);
          return undefined;
        },
        message: (ws, data, isBinary) => {
          if (ws.protocol !== SESSION_PROTOCOL) return plain.message?.(ws, data, isBinary);
          return this.linkMessage(ws, data, isBinary);
        },
        close: (ws, code, reason) => {
          if (ws.protocol !== SESSION_PROTOCOL) return plain.close?.(ws, code, reason);
          this.linkClosed(ws);
          return undefined;
        },
        drain: (ws) => {
          if (ws.protocol !== SESSION_PROTOCOL) return plain.drain?.(ws);
          const session = this.links.get(ws);
          return session === undefined ? undefined : this.sessionHandlers.drain?.(session);
        },
        ping: (ws, data) => (ws.protocol === SESSION_PROTOCOL ? undefined : plain.ping?.(ws, data)),
        pong: (ws, data) => (ws.protocol === SESSION_PROTOCOL ? undefined : plain.pong?.(ws, data)),
        ...(plain.error === undefined ? {} : { error: plain.error }),
      },
    });
    // One timer for every session: hello deadlines, resume windows, replay ages.
    this.sweeper = setInterval(() => this.sweep(), Math.min(1000, Math.max(10, this.resumeWindow / 4)));
    this.sweeper.unref?.();
  }

  /** Standalone mode: start listening (see `WebSocketServer.listen`). */
  listen(): Promise<AddressInfo | null> {
    return this.server.listen();
  }
  /** The listening address (see `WebSocketServer.address`). */
  address(): AddressInfo | null {
    return this.server.address();
  }
  /**
   * With checkpoints: how many sessions changed since their last checkpoint (their
   * next one is due within the interval). 0 means the store holds every session of this
   * process as it is now.
   */
  get pendingCheckpoints(): number {
    return this.dirty.size + (this.checkpointRunning === undefined ? 0 : this.checkpointing);
  }

  /** The sessions of this process, linked or suspended, by id. */
  get sessionsById(): ReadonlyMap<string, ServerSession<Data>> {
    return this.sessions;
  }

  /**
   * Publish to every session subscribed to `topic` in this process (each gets it as a
   * session message: numbered, acknowledged, replayed after a break), and through
   * `WebSocketServer.publish` to the plain connections subscribed to it here and, by
   * the broker, on the other processes.
   * @returns how many local sessions and connections it was queued for
   */
  publish(
    topic: string,
    data: string | Buffer | ArrayBuffer | ArrayBufferView,
    options: PublishOptions = {},
  ): number {
    this.checkTopic(topic);
    const isBinary = options.isBinary ?? typeof data !== 'string';
    let count = 0;
    if (this.history !== undefined) {
      // Every process's sessions, this one's included, get it from the history, in order.
      count = this.byTopic.get(topic)?.size ?? 0;
      this.history.append(topic, toWire(data, isBinary)).catch((error: unknown) => this.report(error));
    } else if (this.byTopic.has(topic)) {
      count = this.deliver(topic, toFrame(SHARED_FRAMES, data, isBinary, 0, data === this._receivedText));
    }
    return count + this.server.publish(topic, data, options);
  }

  /** A message another process published, for the sessions here in its topic. */
  private brokerMessage(message: BrokerMessage): void {
    if (!this.byTopic.has(message.topic)) return;
    // Copied: the broker's bytes are shared and read-only, a replay buffer keeps them.
    this.deliver(message.topic, toFrame(SHARED_FRAMES, message.data, message.isBinary, 0, false));
  }

  /** Send the data frame `frame` to every session here in `topic`. @returns how many */
  private deliver(topic: string, frame: Uint8Array): number {
    const sessions = this.byTopic.get(topic);
    if (sessions === undefined) return 0;
    // Framed once: every session's replay buffer keeps the same frame.
    const now = this._stamp();
    const size = frame.length - 1;
    for (const session of sessions) {
      session._core.sendFrame(frame, now, size);
      this._flush(session);
    }
    return sessions.size;
  }

  /**
   * Close the server. Each linked session is first put in the store (bounded by
   * `persistTimeout`), so that another process sharing it can resume it at once; then its
   * link closes with `options.code` (1012, service restart, by default: clients come
   * back), all at once or, with `drainPeriod`, with 1012 spread over that period. The
   * suspended sessions go to the store too, and `close` is called for each with `'shutdown'`.
   */
  close(options: SessionServerCloseOptions = {}): Promise<void> {
    if (options.persistTimeout !== undefined && !(options.persistTimeout >= 0)) {
      return Promise.reject(new RangeError('persistTimeout must be a number >= 0'));
    }
    this.closing ??= this.shutdown(options);
    return this.closing;
  }

  private async shutdown(options: SessionServerCloseOptions): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    const drainPeriod = options.drainPeriod ?? 0;
    const persistTimeout = options.persistTimeout ?? DEFAULT_PERSIST_TIMEOUT;
    if (drainPeriod > 0) await this.drain(drainPeriod, options.retryWindow ?? 5000, persistTimeout);
    else {
      const linked = [...this.sessions.values()].filter((session) => session._link !== null);
      const code = options.code ?? 1012;
      const reason = options.reason ?? 'server restarting';
      await Promise.all(linked.map((session) => this.handOver(session, code, reason, persistTimeout)));
    }
    await this.server.close(options);
    // Every session is suspended now: their last state goes to the store before we go
    // (once: a store that fails now leaves the previous checkpoints), within the bound.
    clearTimeout(this.checkpointTimer);
    await within(persistTimeout, async () => {
      await this.checkpointRunning;
      if (this.dirty.size > 0) await this.checkpointBatch();
    });
    this.stopped = true;
    clearTimeout(this.checkpointTimer);
    this.wakeReader?.();
    await this.historyReader;
    await within(persistTimeout, async () => {
      while (this.storeWrites.size > 0) await Promise.allSettled([...this.storeWrites]);
    });
    for (const session of this.sessions.values()) {
      this.invoke(session, () => this.sessionHandlers.close?.(session, 'shutdown'));
    }
    this.sessions.clear();
  }

  // ---- internal, for ServerSession ----

  /** @internal */
  _subscribe(session: ServerSession<Data>, topic: string): boolean {
    this.checkTopic(topic);
    if (session._topics.has(topic)) return false;
    if (session._topics.size >= this.maxTopicsPerSession) {
      throw new TopicError(
        'too-many-topics',
        `a session may be in at most ${this.maxTopicsPerSession} topics`,
      );
    }
    session._topics.add(topic);
    let sessions = this.byTopic.get(topic);
    if (sessions === undefined) {
      sessions = new Set();
      this.byTopic.set(topic, sessions);
      if (this.history !== undefined) this.readTopic(this.history, topic);
      // Subscription failures go to the broker's error events; it retries by itself.
      else void this.broker.subscribeSessions(topic);
    }
    sessions.add(session);
    // From the position this process has read up to (or, while that is being found, from it once found).
    const cursor = this.historyCursors.get(topic);
    if (cursor !== undefined) session._positions.set(topic, cursor);
    return true;
  }

  /** @internal */
  _unsubscribe(session: ServerSession<Data>, topic: string): boolean {
    if (!session._topics.delete(topic)) return false;
    const sessions = this.byTopic.get(topic);
    sessions?.delete(session);
    session._positions.delete(topic);
    if (sessions?.size === 0) {
      this.byTopic.delete(topic);
      if (this.history !== undefined) {
        this.historyCursors.delete(topic);
        this.historyGenerations.delete(topic);
      } else void this.broker.unsubscribeSessions(topic);
    }
    return true;
  }

  /** @internal */
  _now(): number {
    return Date.now();
  }

  /**
   * @internal The time a message sent now is stamped with, for its age in the replay
   * buffer: the clock read once per socket read (or task) rather than once per message
   * (a read can carry hundreds of messages). Ages are checked to the second anyway.
   */
  _stamp(): number {
    if (this.stampValid) return this.stamp;
    this.stamp = this._now();
    this.stampValid = true;
    queueMicrotask(this.stampExpired);
    return this.stamp;
  }

  /**
   * @internal Write what the session's core queued to its link. With checkpoints, data
   * and acknowledgements wait in `_held` for the checkpoint that holds them (pongs, which
   * carry no state, go at once), unless `release` (the session is ending: nothing is
   * left to resume, everything goes).
   */
  _flush(session: ServerSession<Data>, release = false): SendStatus {
    const ws = session._link;
    let frames = session._core.takeOutput();
    if (this.checkpointInterval !== undefined) {
      if (release) {
        frames = [...session._held.splice(0), ...frames];
      } else if (ws === null) {
        this.markDirty(session); // a send while suspended: the replay buffer changed
      } else if (frames.length > 0) {
        const now: WireMessage[] = [];
        const held = session._held;
        for (const frame of frames) {
          // A pong carries no state: it may overtake what waits.
          if (typeof frame === 'string' && frame[0] === 'q') now.push(frame);
          else held.push(frame);
        }
        frames = now;
        if (held.length > this.maxHeldFrames) {
          // The store is not keeping up (or is away): rather than hold without bound what
          // the replay buffer holds anyway, drop the link; the resume replays it.
          this.detach(session);
          ws.terminate();
          return SendStatus.Queued;
        }
        if (held.length > 0) this.markDirty(session);
      }
    }
    if (ws === null) return SendStatus.Queued;
    return this.write(session, ws, frames);
  }

  /** Write `frames` to the session's link `ws`; a frame it refuses drops the link. */
  private write(session: ServerSession<Data>, ws: SessionLink<Data>, frames: WireMessage[]): SendStatus {
    let status: SendStatus = SendStatus.Sent;
    // A WebSocket link takes a text data frame as UTF-8 bytes: most are bytes already
    // (TextBytes); one kept as a string (from a store, a topic history) is encoded once
    // here, as a string's length would otherwise be measured by the deflate threshold, the
    // frame header and the copy into the output each. An HTTP link tells text from binary
    // by the frame's type: a string for text.
    const bytes = ws.transport === undefined;
    for (const frame of frames) {
      let result: SendStatus;
      if (typeof frame === 'string') {
        result = ws.send(bytes && frame.charCodeAt(0) === DATA_BYTE ? Buffer.from(frame) : frame, false);
      } else if (frame instanceof TextBytes) {
        result = ws.send(bytes ? frame : toBuffer(frame).toString('utf8'), false);
      } else {
        result = ws.send(frame, true);
      }
      if (result === SendStatus.Dropped) {
        // A frame the link could not take would leave a gap the client cannot see (data
        // messages are numbered by counting): drop the link, the resume replays it.
        this.detach(session);
        ws.terminate();
        return SendStatus.Queued;
      }
      if (result === SendStatus.Queued) status = SendStatus.Queued;
    }
    return status;
  }

  /** @internal End a session for good. */
  _end(session: ServerSession<Data>, reason: SessionEndReason, code = 1000, text = ''): void {
    if (this.sessions.get(session.id) !== session) return;
    this.sessions.delete(session.id);
    this.suspended.delete(session.id);
    session._ackDue = false;
    for (const topic of [...session._topics]) this._unsubscribe(session, topic);
    const ws = session._link;
    this.dirty.delete(session);
    if (!session._core.isEnded) session._core.end(text);
    if (ws !== null) {
      this._flush(session, true);
      this.links.delete(ws);
      session._link = null;
      ws.close(code, text);
    }
    this.storeWrite(this.store.delete(session.id, session.epoch));
    this.invoke(session, () => this.sessionHandlers.close?.(session, reason));
  }

  // ---- internal, for the HTTP transports (`http-server.ts`) ----

  /** @internal A link of an HTTP transport said hello (the transport decoded it). */
  _httpHello(
    link: SessionLink<Data>,
    received: number,
    id: string | undefined,
    epoch: string | undefined,
  ): void {
    this.hello(link, received, id, epoch).catch((error: unknown) => {
      this.report(error);
      link.close(1011, 'session error');
    });
  }

  /** @internal A frame that came on a link of an HTTP transport (validated by the transport). */
  _httpFrame(link: SessionLink<Data>, data: string | Buffer, isBinary: boolean): void {
    const session = this.links.get(link);
    try {
      const result = this.linkMessage(link, data, isBinary);
      if (result instanceof Promise) {
        result.catch((error: unknown) =>
          session === undefined ? this.report(error) : this.handlerFailed(session, error),
        );
      }
    } catch (error) {
      this.report(error);
    }
  }

  /** @internal The session a link carries now, if it is still that session's link. */
  _sessionOf(link: SessionLink<Data>): ServerSession<Data> | undefined {
    const session = this.links.get(link);
    return session !== undefined && session._link === link ? session : undefined;
  }

  /** @internal A link of an HTTP transport closed (or broke). */
  _httpClosed(link: SessionLink<Data>): void {
    this.linkClosed(link);
  }

  /** @internal A link of an HTTP transport drained after a `send()` returned `queued`. */
  _httpDrained(link: SessionLink<Data>): void {
    const session = this._sessionOf(link);
    if (session !== undefined) this.invoke(session, () => this.sessionHandlers.drain?.(session));
  }

  /**
   * @internal The client of an HTTP link moves its session to another link, perhaps on
   * another process: close this link (the session is suspended and put in the store) and
   * resolve once the store holds it, so that the next link finds it wherever it lands.
   */
  async _httpRelease(link: SessionLink<Data>): Promise<void> {
    const session = this._sessionOf(link);
    link.close(1000, 'released');
    if (session === undefined || session._link !== null || this.sessions.get(session.id) !== session) return;
    // Suspending put the session in the store without waiting: the same state once more,
    // awaited, is in the store when this resolves (a store applies one caller's puts in order).
    await this.store.put(
      { snapshot: session._core.snapshot(), expiresAt: session._expiresAt, topics: [...session._topics] },
      this._now(),
    );
  }

  /** @internal Report an error as the server reports handler errors. */
  _report(error: unknown): void {
    this.report(error);
  }

  // ---- links ----

  private linkMessage(ws: SessionLink<Data>, data: string | Buffer, isBinary: boolean): unknown {
    // A welcomed link first (one lookup on the hot path): a link is in `links` only
    // once its hello was taken.
    const session = this.links.get(ws);
    if (session === undefined) {
      if (this.awaitingHello.has(ws)) return this.firstFrame(ws, data, isBinary);
      // A link replaced by a newer one, or one that has not been welcomed yet (the
      // client must wait for the welcome): nothing it says counts.
      return undefined;
    }
    if ((typeof data === 'string' ? data.charCodeAt(0) : data[0]) === DATA_BYTE) {
      // The hot path: a data frame needs no decoding beyond its first byte (and text is
      // decoded once, without it).
      try {
        session._core.receiveData();
      } catch (error) {
        this.fail(ws, error);
        return undefined;
      }
      // Text stays bytes with `decodeText: false`: echoed or relayed by `send(data, false)`,
      // it is copied into the frame, never decoded nor encoded.
      const payload =
        typeof data === 'string'
          ? data.slice(1)
          : isBinary || !this.decodeText
            ? payloadView(data)
            : data.toString('utf8', 1);
      return this.dataMessage(session, payload, isBinary);
    }
    let event: ReturnType<SessionCore['receive']>;
    try {
      event = session._core.receive(isBinary ? (data as Buffer) : data.toString());
    } catch (error) {
      this.fail(ws, error);
      return undefined;
    }
    if (event === null) {
      // An acknowledgement: the replay buffer shrank, and so will the stored copy.
      this.markDirty(session);
      return undefined;
    }
    switch (event.type) {
      case 'message':
        return typeof event.data === 'string'
          ? this.dataMessage(session, event.data, false)
          : this.dataMessage(session, toBuffer(event.data), true);
      case 'ping':
        this._flush(session);
        return undefined;
      case 'pong':
        return undefined;
      case 'end':
        this._end(session, 'ended');
        return undefined;
    }
  }

  /** The first frame of a link: its hello. */
  private firstFrame(ws: SessionLink<Data>, data: string | Buffer, isBinary: boolean): unknown {
    this.awaitingHello.delete(ws);
    let frame: ReturnType<typeof decodeFrame>;
    try {
      frame = decodeFrame(isBinary ? (data as Buffer) : data.toString());
      if (frame.type !== 'hello')
        throw new SessionError('unexpected-frame', 'the first frame must be a hello');
    } catch (error) {
      this.fail(ws, error);
      return undefined;
    }
    return this.hello(ws, frame.received, frame.id, frame.epoch);
  }

  /** A data message arrived on the session's link: acknowledge it (this turn), hand it to the application. */
  private dataMessage(session: ServerSession<Data>, payload: string | Buffer, isBinary: boolean): unknown {
    if (session._core.ackPending) this.scheduleAck(session);
    const handler = this.sessionHandlers.message;
    if (handler === undefined) return undefined;
    // Text as bytes was validated by the WebSocket parser: sent back (or on) as text
    // during the call, it needs no validation again (see `_receivedText`).
    if (!isBinary && typeof payload !== 'string') this._receivedText = payload;
    try {
      return handler(session, payload, isBinary);
    } catch (error) {
      this._end(session, 'error', 1011, 'handler error');
      throw error;
    } finally {
      this._receivedText = null;
    }
  }

  private async hello(
    ws: SessionLink<Data>,
    clientReceived: number,
    id: string | undefined,
    epoch: string | undefined,
  ): Promise<void> {
    let session: ServerSession<Data> | undefined;
    let resumed = false;
    try {
      if (id !== undefined && epoch !== undefined) {
        session = await this.findSession(id, epoch, ws.data);
        if (session !== undefined) {
          if (session._link !== null) {
            // The client saw its link die before we did: the new link takes over.
            const old = session._link;
            this.detach(session, false);
            old.terminate();
          }
          resumed = session._core.canResume(clientReceived);
          if (!resumed) this._end(session, 'expired');
        }
      }
      if (ws.readyState === 'open' && !this.closed && (session === undefined || !resumed)) {
        session = ServerSession._create(this, new SessionCore(newId(), newEpoch(), this.replay), ws.data);
        this.sessions.set(session.id, session);
        clientReceived = 0;
        resumed = false;
      }
      // With checkpoints, the welcome tells the client what we received, which is an
      // acknowledgement: the store must hold that state (and this epoch) first.
      if (
        session !== undefined &&
        this.checkpointInterval !== undefined &&
        !(await this.checkpoint(session, true))
      ) {
        if (resumed) this.forget(session, 'moved');
        session = undefined;
      }
    } catch (error) {
      // The store failed: the client tries again later (a session resumed a moment ago
      // is still this process's, suspended here).
      this.unwelcomed(session, resumed);
      if (ws.readyState === 'open') ws.close(1013, 'session store unavailable');
      this.report(error);
      return;
    }
    if (session === undefined || ws.readyState !== 'open' || this.closed) {
      this.unwelcomed(session, resumed);
      // Closing (draining), or an unlucky race: send the client elsewhere, or again.
      if (ws.readyState === 'open') ws.close(1012, 'server closing');
      return;
    }
    session.data = ws.data;
    session._link = ws;
    this.suspended.delete(session.id);
    this.links.set(ws, session);
    const core = session._core;
    core.link(clientReceived);
    const linked = session;
    ws.cork(() => {
      ws.send(encodeWelcome(core.id, core.epoch, core.received, resumed), false);
      this._flush(linked);
    });
    const handler = resumed ? this.sessionHandlers.resume : this.sessionHandlers.open;
    this.invoke(session, () => handler?.(linked));
  }

  /** A hello that found or made `session` could not be welcomed: keep it suspended, or drop a new one unseen. */
  private unwelcomed(session: ServerSession<Data> | undefined, resumed: boolean): void {
    if (session === undefined || this.sessions.get(session.id) !== session) return;
    if (resumed) {
      if (session._link === null) this.suspend(session);
    } else {
      // The application never saw it: no handler is told.
      this.sessions.delete(session.id);
      this.dirty.delete(session);
      this.storeWrite(this.store.delete(session.id, session.epoch));
    }
  }

  /**
   * The session a hello asks for, if it can be resumed here. The store says who owns
   * it: the hello's epoch is claimed there (atomic, so of two racing links one wins).
   * A copy in this process counts if it has the hello's epoch and the store has no
   * other (the store may have none: a session not written yet, or a store that lost
   * it); a copy of another epoch is stale. A session taken from the store that was not
   * here gets a **new epoch**: each move makes the copies left behind stale, and a stale
   * copy never matches a hello, nor overwrites the store.
   */
  private async findSession(id: string, epoch: string, data: Data): Promise<ServerSession<Data> | undefined> {
    const local = this.sessions.get(id);
    const now = this._now();
    const claim: SessionClaim = {
      epoch,
      newEpoch: local !== undefined && local.epoch === epoch ? epoch : newEpoch(),
      keepState: this.checkpointInterval !== undefined,
      expiresAt: now + this.resumeWindow,
    };
    const taken = await this.store.take(id, now, claim);
    // Its topic history started again since its positions were taken: resuming it would
    // skip what the new log holds below them. It ends: its client gets a new session.
    const historyLost =
      taken.status === 'taken' &&
      taken.session !== undefined &&
      this.history !== undefined &&
      (await this.historyLost(this.history, taken.session));
    const current = this.sessions.get(id);
    if (taken.status === 'moved') {
      if (current !== undefined && current.epoch === epoch) this.forget(current, 'moved');
      return undefined;
    }
    if (current !== undefined && current.epoch === epoch) return current;
    if (taken.status === 'missing' || taken.session === undefined) return undefined;
    if (current !== undefined && current.epoch !== claim.newEpoch) this.forget(current, 'moved');
    if (historyLost) {
      this.storeWrite(this.store.delete(id, claim.newEpoch));
      return undefined;
    }
    if (this.sessions.get(id) !== undefined) return undefined; // a racing hello got there first
    const stored = taken.session;
    const session = ServerSession._create(
      this,
      new SessionCore(id, claim.newEpoch, this.replay, stored.snapshot),
      data,
    );
    session._expiresAt = claim.expiresAt;
    this.sessions.set(id, session);
    this.suspended.set(id, session);
    for (const topic of stored.topics ?? []) {
      try {
        this._subscribe(session, topic);
      } catch {
        // A topic this server's limits refuse is left out, not fatal to the resume.
      }
    }
    if (this.history !== undefined) {
      for (const [topic, position] of Object.entries(stored.positions ?? {})) {
        if (!session._topics.has(topic)) continue;
        session._positions.set(topic, position);
        void this.catchUp(this.history, session, topic);
      }
    }
    return session;
  }

  /**
   * Drop this process's copy of a session without ending the session itself: no `x` to
   * the client, nothing removed from the store (it may live on elsewhere).
   */
  private forget(session: ServerSession<Data>, reason: SessionEndReason): void {
    if (this.sessions.get(session.id) !== session) return;
    this.sessions.delete(session.id);
    this.suspended.delete(session.id);
    session._ackDue = false;
    this.dirty.delete(session);
    for (const topic of [...session._topics]) this._unsubscribe(session, topic);
    const ws = session._link;
    if (ws !== null) {
      this.detach(session, false);
      ws.terminate();
    }
    this.invoke(session, () => this.sessionHandlers.close?.(session, reason));
  }

  private linkClosed(ws: SessionLink<Data>): void {
    this.awaitingHello.delete(ws);
    const session = this.links.get(ws);
    if (session === undefined || session._link !== ws) return;
    this.detach(session);
  }

  /**
   * The link is gone: keep the session for the resume window.
   * @returns without checkpoints, the write of the session to the store (see {@link suspend})
   */
  private detach(session: ServerSession<Data>, notify = true): Promise<unknown> | undefined {
    const ws = session._link;
    if (ws !== null) this.links.delete(ws);
    session._link = null;
    session._core.unlink();
    session._held = [];
    session._ackDue = false;
    // New frames while suspended start a small slab; the kept ones hold theirs.
    session._frames.release();
    return notify ? this.suspend(session) : undefined;
  }

  /**
   * Keep the session, without a link, for the resume window: in the store (with
   * checkpoints, by the next batch) and among this process's suspended sessions.
   * @returns without checkpoints, the store write (settled, its failure reported), which `close()` waits for
   */
  private suspend(session: ServerSession<Data>): Promise<unknown> | undefined {
    if (session._core.isEnded) return undefined;
    let written: Promise<unknown> | undefined;
    session._expiresAt = this._now() + this.resumeWindow;
    if (this.checkpointInterval !== undefined) {
      this.markDirty(session);
    } else {
      const stored: StoredSession = {
        snapshot: session._core.snapshot(),
        expiresAt: session._expiresAt,
        topics: [...session._topics],
        ...this.storedPositions(session),
      };
      // Also while closing: the store is where another process finds the session.
      written = this.storeWrite(
        this.store.put(stored, this._now()).then((kept) => {
          // Another process claimed it while our link was dying: this copy is stale.
          if (!kept) this.forget(session, 'moved');
        }),
      );
    }
    this.suspended.delete(session.id);
    this.suspended.set(session.id, session);
    while (this.suspended.size > this.maxSuspendedSessions) {
      const oldest = this.suspended.values().next().value;
      if (oldest === undefined) break;
      this.forget(oldest, 'expired');
    }
    if (!this.closed) this.invoke(session, () => this.sessionHandlers.suspend?.(session));
    return written;
  }

  // ---- checkpoints ----

  /** The session changed: have the next batch write it. */
  private markDirty(session: ServerSession<Data>): void {
    if (this.checkpointInterval === undefined || session._core.isEnded) return;
    this.dirty.add(session);
    if (this.checkpointTimer !== undefined || this.checkpointRunning !== undefined || this.stopped) return;
    const wait = Math.max(0, this.lastCheckpointAt + this.checkpointInterval - this._now());
    this.checkpointTimer = setTimeout(() => {
      this.checkpointTimer = undefined;
      void this.checkpointBatch();
    }, wait);
  }

  /**
   * Write every changed session to the store together, then let out the frames each
   * checkpoint holds. A session the store refuses moved on (another epoch claimed it):
   * this copy is dropped. One that failed (the store is away) stays changed, and its
   * frames wait, for the next batch.
   */
  private checkpointBatch(): Promise<void> {
    const run = async () => {
      this.lastCheckpointAt = this._now();
      const batch = [...this.dirty];
      this.dirty.clear();
      this.checkpointing = batch.length;
      const writes = batch.map((session) => {
        const held = session._held;
        const count = held.length;
        return this.checkpoint(session).then(
          (written) => {
            if (!written) this.forget(session, 'moved');
            else if (session._held === held && session._link !== null && count > 0) {
              this.write(session, session._link, held.splice(0, count));
            }
          },
          (error: unknown) => {
            this.report(error);
            if (this.sessions.get(session.id) === session) this.dirty.add(session);
          },
        );
      });
      await Promise.all(writes);
    };
    const running = run().finally(() => {
      this.checkpointRunning = undefined;
      if (this.dirty.size > 0 && !this.stopped) {
        const [first] = this.dirty;
        this.dirty.delete(first!);
        this.markDirty(first!);
      }
    });
    this.checkpointRunning = running;
    return running;
  }

  /**
   * Write the session's state now, under its epoch. A linked session (or one about to
   * be: `live`) gets a fresh resume window; a suspended one keeps the window it got when
   * its link broke, however many messages reach it since.
   * @returns false when another epoch owns it in the store
   */
  private async checkpoint(session: ServerSession<Data>, live = session._link !== null): Promise<boolean> {
    const now = this._now();
    if (live) session._expiresAt = now + this.resumeWindow;
    const stored: StoredSession = {
      snapshot: session._core.snapshot(),
      expiresAt: session._expiresAt,
      topics: [...session._topics],
      ...this.storedPositions(session),
    };
    const write = this.store.put(stored, now);
    this.storeWrites.add(write);
    try {
      return await write;
    } finally {
      this.storeWrites.delete(write);
    }
  }

  /**
   * Track a store write that nobody awaits: `close()` waits for it, and its failure is reported.
   * @returns the write, settled (it never rejects)
   */
  private storeWrite(write: Promise<unknown>): Promise<unknown> {
    const tracked = write.catch((error: unknown) => this.report(error));
    this.storeWrites.add(tracked);
    void tracked.finally(() => this.storeWrites.delete(tracked));
    return tracked;
  }

  // ---- topic history ----

  /**
   * The first session here joined `topic`: find where its history ends, then read it
   * from there (the sessions that joined meanwhile start there too).
   */
  private readTopic(history: TopicHistory, topic: string): void {
    this.historyCursors.set(topic, undefined);
    const find = () => {
      Promise.all([history.generation?.(topic), history.last(topic)]).then(
        ([generation, last]) => {
          if (!this.historyCursors.has(topic) || this.historyCursors.get(topic) !== undefined) return;
          if (generation !== undefined) this.historyGenerations.set(topic, generation);
          this.historyCursors.set(topic, last);
          for (const session of this.byTopic.get(topic) ?? []) {
            if (!session._positions.has(topic)) session._positions.set(topic, last);
          }
          this.historyReader ??= this.readHistory(history);
          this.wakeReader?.();
        },
        (error: unknown) => {
          this.report(error);
          // The history is away: try again while the topic still has sessions here.
          setTimeout(() => {
            if (
              !this.stopped &&
              this.historyCursors.has(topic) &&
              this.historyCursors.get(topic) === undefined
            )
              find();
          }, 1000).unref?.();
        },
      );
    };
    find();
  }

  /** Read every topic of this process's sessions from the history, until the server stops. */
  private async readHistory(history: TopicHistory): Promise<void> {
    let lastRestartCheck = this._now();
    while (!this.stopped) {
      const after = new Map<string, number>();
      for (const [topic, cursor] of this.historyCursors) if (cursor !== undefined) after.set(topic, cursor);
      if (after.size === 0) {
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(timer);
            this.wakeReader = undefined;
            resolve();
          };
          const timer = setTimeout(wake, 1000);
          this.wakeReader = wake;
        });
        continue;
      }
      try {
        const found = await history.read(after, 1000, 1000);
        for (const [topic, read] of found) {
          // Read from `after`; only this loop moves the cursor, unless the topic was left.
          if (this.historyCursors.get(topic) !== after.get(topic) || read.entries.length === 0) continue;
          if (this.newGeneration(topic, read.generation, after.get(topic)!)) continue;
          for (const session of this.byTopic.get(topic) ?? []) {
            if (!session._catchingUp.has(topic)) this.deliverHistory(session, topic, read);
          }
          this.historyCursors.set(topic, read.entries.at(-1)!.position);
        }
        const now = this._now();
        if (now - lastRestartCheck >= 1000) {
          lastRestartCheck = now;
          await this.historyRestarted(
            history,
            [...after.keys()].filter((topic) => !found.has(topic)),
          );
        }
      } catch (error) {
        this.report(error);
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  /**
   * A history that lost its topics (a store restarted empty) numbers them from 1 again,
   * below where this process had read: read them again from the start (what was published
   * since the restart), the sessions too. Checked once a second for the quiet topics.
   */
  private async historyRestarted(history: TopicHistory, topics: readonly string[]): Promise<void> {
    const [lasts, generations] = await Promise.all([
      Promise.all(topics.map((topic) => history.last(topic))),
      Promise.all(topics.map((topic) => history.generation?.(topic))),
    ]);
    for (const [i, topic] of topics.entries()) {
      const cursor = this.historyCursors.get(topic);
      if (cursor === undefined || this.newGeneration(topic, generations[i], cursor)) continue;
      if (lasts[i]! >= cursor) continue;
      this.historyCursors.set(topic, 0);
      for (const session of this.byTopic.get(topic) ?? []) session._positions.set(topic, 0);
    }
  }

  /**
   * `generation` (read after the cursor's position `cursor`) is not the one this process
   * reads `topic` in: the log started again. Then, unless nothing had been read from the
   * old one yet, read the new one from its start, and the sessions too (as they would a
   * log that restarted empty; what the old one held past their positions is lost with it).
   * @returns whether the cursor was reset (what was read with `generation` is to be dropped)
   */
  private newGeneration(topic: string, generation: string | undefined, cursor: number): boolean {
    const known = this.historyGenerations.get(topic);
    if (generation === undefined || generation === known) return false;
    this.historyGenerations.set(topic, generation);
    if (cursor === 0 || known === undefined || known === '') return false;
    this.historyCursors.set(topic, 0);
    for (const session of this.byTopic.get(topic) ?? []) {
      session._positions.set(topic, 0);
      this.markDirty(session); // with checkpoints, the store learns the new generation
    }
    return true;
  }

  /** A session's topic positions as a store keeps them, with the generations they count in. */
  private storedPositions(session: ServerSession<Data>): Pick<StoredSession, 'positions' | 'generations'> {
    if (session._positions.size === 0) return {};
    const generations: Record<string, string> = {};
    for (const topic of session._positions.keys()) {
      const generation = this.historyGenerations.get(topic);
      if (generation !== undefined) generations[topic] = generation;
    }
    return {
      positions: Object.fromEntries(session._positions),
      ...(Object.keys(generations).length > 0 ? { generations } : {}),
    };
  }

  /**
   * Whether a new log (another generation) started in one of the topics a stored
   * session had reached a position in: it cannot catch up without a gap, as what that
   * log holds below its position would be skipped. (A log that is gone and not started
   * again holds nothing to skip: the session's catch-up reads the next one from its
   * start, as the live sessions do.)
   */
  private async historyLost(history: TopicHistory, stored: StoredSession): Promise<boolean> {
    const generations = stored.generations;
    const generation = history.generation?.bind(history);
    if (generations === undefined || generation === undefined) return false;
    const topics = Object.entries(stored.positions ?? {})
      .filter(([topic, position]) => position > 0 && generations[topic] !== undefined)
      .map(([topic]) => topic);
    const now = await Promise.all(topics.map((topic) => generation(topic)));
    return topics.some((topic, i) => now[i] !== '' && now[i] !== generations[topic]);
  }

  /**
   * A session that came here with its positions catches up in `topic` from its own
   * position to where this process has read (the reader leaves it alone meanwhile).
   */
  private async catchUp(history: TopicHistory, session: ServerSession<Data>, topic: string): Promise<void> {
    session._catchingUp.add(topic);
    let checked = false;
    try {
      while (!this.stopped) {
        if (this.sessions.get(session.id) !== session || !session._topics.has(topic)) return;
        const target = this.historyCursors.get(topic);
        if (target === undefined) {
          if (!this.historyCursors.has(topic)) return; // the topic has no session here any more
          // This process is still finding where the topic ends.
          await new Promise((resolve) => setTimeout(resolve, 10));
          continue;
        }
        const position = session._positions.get(topic) ?? 0;
        let read: TopicHistoryRead | undefined;
        try {
          if (!checked) {
            // A position past the history's end is from before it restarted empty (it
            // numbers from 1 again): everything it holds is new to the session.
            const last = await history.last(topic);
            checked = true;
            if (position > last && session._positions.get(topic) === position)
              session._positions.set(topic, 0);
            continue;
          }
          if (position >= target) return;
          read = (await history.read(new Map([[topic, position]]), 1000)).get(topic);
        } catch (error) {
          // The history is away: try again (the reader leaves the session alone meanwhile,
          // so nothing is skipped).
          this.report(error);
          await new Promise((resolve) => setTimeout(resolve, 1000));
          continue;
        }
        if (this.sessions.get(session.id) !== session || !session._topics.has(topic)) return;
        if (read === undefined || read.entries.length === 0) return; // nothing more to be had
        this.deliverHistory(session, topic, read);
      }
    } finally {
      // In the same turn as the last check: the reader's next delivery includes it.
      session._catchingUp.delete(topic);
    }
  }

  /** Send the session the entries of `read` past its position in `topic`, and count what it missed. */
  private deliverHistory(session: ServerSession<Data>, topic: string, read: TopicHistoryRead): void {
    let position = session._positions.get(topic);
    if (position === undefined) return;
    const first = read.entries[0]?.position;
    const lost = first === undefined ? 0 : Math.max(0, first - position - 1);
    const now = this._now();
    for (const entry of read.entries) {
      if (entry.position <= position) continue;
      session._core.send(entry.data, now);
      position = entry.position;
    }
    session._positions.set(topic, position);
    this._flush(session);
    if (lost > 0) this.invoke(session, () => this.sessionHandlers.topicLost?.(session, topic, lost));
  }

  /** Hand the session links over with 1012 one after another, evenly over `period` ms. */
  private async drain(period: number, retryWindow: number, persistTimeout: number): Promise<void> {
    const linked = [...this.sessions.values()].filter((session) => session._link !== null);
    if (linked.length === 0) return;
    const reason = `retry-after=${Math.max(0, Math.floor(retryWindow))}`;
    const step = period / linked.length;
    const started = this._now();
    const handedOver: Promise<void>[] = [];
    for (let i = 0; i < linked.length; i++) {
      const wait = started + i * step - this._now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      handedOver.push(this.handOver(linked[i]!, 1012, reason, persistTimeout));
    }
    await Promise.all(handedOver);
  }

  /**
   * Closing: take the session off its link (nothing more it says counts, nothing more
   * goes to it), put it in the store, and only then close the link with `code`, so that
   * its client, coming back at once to any process sharing the store, resumes it. What
   * the client sent meanwhile it still holds (unacknowledged) and replays. The link
   * closes after `timeout` ms whatever the store does.
   */
  private async handOver(
    session: ServerSession<Data>,
    code: number,
    reason: string,
    timeout: number,
  ): Promise<void> {
    const ws = session._link;
    if (ws === null) return;
    let written = this.detach(session);
    if (this.checkpointInterval !== undefined && this.sessions.get(session.id) === session) {
      // Written now, rather than with the next batch (a batch in flight holds an older
      // state; the store applies one process's writes in order).
      this.dirty.delete(session);
      written = this.checkpoint(session, false).then(
        (kept) => {
          if (!kept) this.forget(session, 'moved');
        },
        (error: unknown) => {
          this.report(error);
          this.dirty.add(session);
        },
      );
    }
    if (written !== undefined) await within(timeout, () => written);
    ws.close(code, reason);
  }

  private checkTopic(topic: string): void {
    if (topic.length === 0) throw new TopicError('empty-topic', 'a topic name cannot be empty');
    if (!isWellFormedTopic(topic)) {
      throw new TopicError('malformed-topic', 'a topic name must be well-formed Unicode');
    }
    if (topic.length > this.maxTopicLength) {
      throw new TopicError('topic-too-long', `a topic name may be at most ${this.maxTopicLength} characters`);
    }
  }

  private fail(ws: SessionLink<Data>, error: unknown): void {
    const code = error instanceof SessionError ? error.closeCode : 1011;
    const session = this.links.get(ws);
    if (session !== undefined && session._link === ws)
      this._end(session, 'error', code, 'session protocol error');
    else ws.close(code, 'session protocol error');
  }

  private scheduleAck(session: ServerSession<Data>): void {
    if (session._ackDue) return;
    session._ackDue = true;
    this.ackDue.push(session);
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    // One acknowledgement per session per turn of the event loop, however many messages
    // the turn's reads carried (ackEvery still acknowledges long bursts on the way).
    setImmediate(this.sendDueAcks);
  }

  private sweep(): void {
    const now = this._now();
    for (const [ws, deadline] of this.awaitingHello) {
      if (deadline <= now) {
        this.awaitingHello.delete(ws);
        ws.close(1002, 'no session hello');
      }
    }
    for (const session of this.sessions.values()) {
      session._core.expire(now);
      if (session._core.bufferedMessages === 0) session._frames.release();
      // The store expires its own copy (which may be newer, from another process).
      if (session._link === null && session._expiresAt <= now) this.forget(session, 'expired');
      // A live session that did not change is written again before the store forgets it.
      else if (
        this.checkpointInterval !== undefined &&
        session._link !== null &&
        session._expiresAt - now < this.resumeWindow / 2
      ) {
        this.markDirty(session);
      }
    }
    this.store.expire(now).catch((error: unknown) => this.report(error));
  }

  private invoke(session: ServerSession<Data>, call: () => unknown): void {
    try {
      const result = call();
      if (result instanceof Promise) result.catch((error: unknown) => this.handlerFailed(session, error));
    } catch (error) {
      this.handlerFailed(session, error);
    }
  }

  private handlerFailed(session: ServerSession<Data>, error: unknown): void {
    this._end(session, 'error', 1011, 'handler error');
    this.report(error);
  }

  private report(error: unknown): void {
    if (this.server.listenerCount('error') > 0) this.server.emit('error', error);
    else process.emitWarning(error instanceof Error ? error : new Error(String(error)));
  }
}

/** Wait for what `work` returns, or `ms` at most (it goes on in the background after that). */
async function within(ms: number, work: () => Promise<unknown>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([work(), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** The first byte of a data frame: `d`. */
const DATA_BYTE = 0x64;

const utf8 = new TextEncoder();

/** Builds the frames many sessions keep (a topic's messages): each has memory of its own. */
const SHARED_FRAMES = new FrameBuilder(false);

/**
 * The data frame of a message an application sends, built by `frames` (bytes copied: the
 * replay buffer must not see the caller reuse its buffer).
 * @param kept - bytes the session keeps now (see {@link FrameBuilder})
 * @param valid - `data` is bytes known to be valid UTF-8 (see `SessionServer._receivedText`)
 */
function toFrame(
  frames: FrameBuilder,
  data: SendData,
  isBinary: boolean,
  kept: number,
  valid: boolean,
): Uint8Array {
  if (typeof data === 'string') {
    return isBinary ? frames.binary(utf8.encode(data), kept) : frames.text(data, kept);
  }
  let view: Uint8Array;
  if (data instanceof Uint8Array) view = data;
  else if (data instanceof ArrayBuffer) view = new Uint8Array(data);
  else if (data instanceof Blob) throw new TypeError('a session cannot send a Blob');
  else view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return isBinary ? frames.binary(view, kept) : frames.textFromBytes(view, kept, valid);
}

function toWire(data: SendData, isBinary: boolean): WireMessage {
  if (typeof data === 'string') return isBinary ? utf8.encode(data) : data;
  if (data instanceof Blob) throw new TypeError('a session cannot send a Blob');
  const view =
    data instanceof ArrayBuffer
      ? Buffer.from(data)
      : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  // Text is decoded (a new string: nothing of the caller's buffer is kept); bytes are
  // copied, as the replay buffer must not see the caller reuse its buffer.
  return isBinary ? new Uint8Array(view) : view.toString('utf8');
}

/** The payload of a received data frame: a view after its `d` (`Buffer.from` makes one for less than `subarray`). */
function payloadView(data: Buffer): Buffer {
  return Buffer.from(data.buffer, data.byteOffset + 1, data.length - 1);
}

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function newId(): string {
  return randomBytes(16).toString('base64url');
}

function newEpoch(): string {
  return randomBytes(6).toString('base64url');
}
