/**
 * The reconnecting client: the `WebSocket` API shape over a resumable session. One
 * source for browsers and Node: no Node built-ins, it takes a `WebSocket` constructor
 * (sockeye's, or the global one by default), and it uses only `EventTarget`, `Event`,
 * `MessageEvent`, `setTimeout` and `Date.now`.
 * @module
 */
import { DEFAULT_RESUME_WINDOW, messageSize, SessionCore } from './core.js';
import { type FetchFunction, HttpSessionLink } from './http-link.js';
import {
  decodeFrame,
  encodeData,
  encodeEnd,
  encodeHello,
  encodePing,
  framePayload,
  MAX_END_REASON_LENGTH,
  SESSION_PROTOCOL,
  SessionError,
  type SessionFrame,
  TextBytes,
  type WireMessage,
} from './wire.js';

/** The part of a `WebSocket` the reconnecting client uses (browsers', Node's, sockeye's). */
export interface WebSocketLike {
  readonly protocol: string;
  binaryType: string;
  send(data: string | ArrayBufferView | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  onclose: ((event: Event & { code?: number; reason?: string; wasClean?: boolean }) => void) | null;
}

/** A `WebSocket` constructor. */
export type WebSocketConstructor = new (url: string, protocols: string[]) => WebSocketLike;

/**
 * The registered symbol under which sockeye's Node `WebSocket` constructor carries a
 * factory of lighter links (`client/session-link.ts`). Looked up, not imported: this
 * module runs in browsers.
 */
const SESSION_LINK = Symbol.for('sockeye.sessionLink');
type LinkFactory = (url: string, protocols: string[]) => WebSocketLike;

/**
 * A link that frames text itself (sockeye's Node link): `textFrame` gives the data frame
 * of a text message as {@link TextBytes}, which such a link sends as text. Other links
 * (a browser's WebSocket, the HTTP transports) get text data frames as strings.
 */
interface TextFramingLink extends WebSocketLike {
  textFrame(payload: string, kept: number): TextBytes;
}

function framesText(ws: WebSocketLike): ws is TextFramingLink {
  return typeof (ws as Partial<TextFramingLink>).textFrame === 'function';
}

/**
 * A link that hands over data frames on a hook of their own (sockeye's Node link): the
 * payload after the `d`, text decoded from the bytes that follow it and binary as a view
 * valid during the call, without the `onmessage` event object, the string of the whole
 * frame to slice, or a copy of the bytes to take a view of. Every other message (and
 * every message while `ondata` is null) goes to `onmessage`.
 */
interface DataLink extends WebSocketLike {
  ondata: ((payload: string | Uint8Array) => void) | null;
}

function deliversData(ws: WebSocketLike): ws is DataLink {
  return 'ondata' in ws;
}

/** How a link reaches the server: a WebSocket, Server-Sent Events with POST, or long-polling. */
export type ClientTransport = 'websocket' | 'sse' | 'long-polling';

/**
 * Where the client remembers which transport worked for an origin: the shape of the
 * Web Storage API, so `localStorage` and `sessionStorage` fit.
 */
export interface TransportMemory {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** What the client listens to for page lifecycle events (the page's by default). */
export interface ClientEnvironment {
  /** Receives `online`, `offline`, `pagehide` and `pageshow`. @defaultValue `globalThis` when it has `addEventListener` */
  window?: EventTarget;
  /** Receives `visibilitychange`, `freeze` and `resume`. @defaultValue `globalThis.document` */
  document?: EventTarget & { readonly visibilityState?: string };
  /** Read for `onLine` before each attempt. @defaultValue `globalThis.navigator` */
  navigator?: { readonly onLine?: boolean };
}

/** Options of {@link ReconnectingWebSocket}. */
export interface ReconnectingWebSocketOptions {
  /** The `WebSocket` constructor. @defaultValue `globalThis.WebSocket` */
  WebSocket?: WebSocketConstructor;
  /** Backoff: the cap of the first retry's delay, in ms. @defaultValue 500 */
  minDelay?: number;
  /** Backoff: the largest cap, in ms (the cap doubles per attempt up to it; the delay is uniform below the cap). @defaultValue 30 000 */
  maxDelay?: number;
  /** Time from creating a WebSocket to the session's welcome, in ms; then the attempt counts as failed. @defaultValue 10 000 */
  connectTimeout?: number;
  /** Most attempts in a row without a welcome before giving up (`close` with the last code). @defaultValue Infinity */
  maxRetries?: number;
  /**
   * Close codes after which the client gives up instead of reconnecting.
   * @defaultValue 1002, 1003, 1008, 4401, 4403 (protocol error, unacceptable data, policy, not authenticated, forbidden)
   */
  stopCodes?: readonly number[];
  /** Called when a link closes and the policy would reconnect; return false to give up. */
  shouldReconnect?: (event: ReconnectCloseEvent) => boolean;
  /** Send a heartbeat when nothing arrived for this long, in ms (wall clock). @defaultValue 15 000 */
  heartbeatInterval?: number;
  /** The link is dead when a heartbeat has no answer (nor any other message) for this long, in ms. @defaultValue 10 000 */
  heartbeatTimeout?: number;
  /** Most messages kept: sent and not acknowledged, or waiting for a link. @defaultValue 1 000 */
  maxQueuedMessages?: number;
  /** Most bytes kept, as for `maxQueuedMessages`. @defaultValue 1 MiB */
  maxQueuedBytes?: number;
  /**
   * What `send()` does past `maxQueuedMessages` or `maxQueuedBytes`: `'error'` throws a
   * `SessionError` (`queue-full`); `'drop'` drops the message and dispatches `drop`.
   * @defaultValue 'error'
   */
  queueFull?: 'error' | 'drop';
  /** Acknowledge received messages this long after the first unacknowledged one, in ms. @defaultValue 50 */
  ackDelay?: number;
  /** Keep a sent message for replay at most this long, in ms (match the server's resume window). @defaultValue 120 000 */
  maxMessageAge?: number;
  /** How binary messages are delivered. @defaultValue 'arraybuffer' */
  binaryType?: 'arraybuffer' | 'blob';
  /** Listen to page lifecycle events. @defaultValue true */
  lifecycle?: boolean;
  /** Where lifecycle events come from (for WebViews and tests). @defaultValue the page's globals */
  environment?: ClientEnvironment;
  /** The random source of the backoff jitter, in [0, 1). @defaultValue Math.random */
  random?: () => number;
  /** The wall clock, in ms since the epoch (heartbeat deadlines and message ages). @defaultValue Date.now */
  now?: () => number;
  /**
   * The transports to try, in order. An attempt that fails before the session's welcome
   * (the handshake fails, or nothing arrives within `connectTimeout`) moves at once to the
   * next; after the last, the first again, with the backoff. A server takes the HTTP
   * transports when it mounts a `SessionHttpTransport` on the same URL (`http:` for
   * `ws:`, `https:` for `wss:`).
   * @defaultValue ['websocket']
   */
  transports?: readonly ClientTransport[];
  /** The `fetch` of the HTTP transports. @defaultValue `globalThis.fetch` */
  fetch?: FetchFunction;
  /**
   * Where the transport that worked is remembered for the origin, so that the next
   * client starts with it; null remembers nothing.
   * @defaultValue `localStorage` in a browser; in Node, a map in this process
   */
  transportMemory?: TransportMemory | null;
  /** How long a remembered transport is used first, in ms. @defaultValue 600 000 (10 minutes) */
  rememberTransport?: number;
  /**
   * While a session runs over a transport after the first and the first is
   * `'websocket'`, try WebSocket again this often, in ms: when its link opens, the live
   * session moves to it (nothing is lost: the session resumes by its counts).
   * @defaultValue 60 000
   */
  upgradeInterval?: number;
}

/** An `on<event>` handler property's value. */
export type EventHandler<E extends Event> = ((this: ReconnectingWebSocket, event: E) => void) | null;

/** `connecting` (first link), `open`, `reconnecting` (waiting or trying again), `closed` (for good). */
export type ReconnectState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** `close`: the client is closed for good. Also given to `shouldReconnect` for each broken link. */
export class ReconnectCloseEvent extends Event {
  /**
   * @param type - the event type
   * @param code - the close code (1006 when the link died without one)
   * @param reason - the close reason
   * @param wasClean - whether a closing handshake completed
   */
  constructor(
    type: string,
    readonly code: number,
    readonly reason: string,
    readonly wasClean: boolean,
  ) {
    super(type);
  }
}

/** `reconnecting`: a link broke (or an attempt failed); the next attempt is in `delay` ms. */
export class ReconnectingEvent extends Event {
  /**
   * @param attempt - attempts since the last welcome, this one included (1 for the first retry)
   * @param delay - ms until it starts
   * @param code - the close code of the link that broke
   * @param reason - its reason
   */
  constructor(
    readonly attempt: number,
    readonly delay: number,
    readonly code: number,
    readonly reason: string,
  ) {
    super('reconnecting');
  }
}

/** `open`: a link is welcomed; `resumed` says whether the session resumed or is new. */
export class SessionOpenEvent extends Event {
  /**
   * @param resumed - the session resumed (nothing lost either way)
   * @param sessionId - the session id
   */
  constructor(
    readonly resumed: boolean,
    readonly sessionId: string,
  ) {
    super('open');
  }
}

/**
 * `sessionlost`: the server no longer had the session (its resume window passed, it
 * lost it, a replay bound was passed, or a topic of it started a new history log that
 * it cannot catch up on without a gap), so a new one started. Resynchronise the
 * application's state. `unacknowledged` are messages that went out on the old session
 * and were never acknowledged: the server may or may not have seen them. Messages never
 * sent on any link are carried into the new session.
 */
export class SessionLostEvent extends Event {
  /** @param unacknowledged - the old session's messages of unknown fate, oldest first */
  constructor(readonly unacknowledged: readonly (string | ArrayBuffer)[]) {
    super('sessionlost');
  }
}

/** `drop`: with `queueFull: 'drop'`, a message `send()` could not keep. */
export class DropEvent extends Event {
  /** @param data - the dropped message */
  constructor(readonly data: string | ArrayBuffer) {
    super('drop');
  }
}

/** `heartbeat`: a heartbeat was answered, after `rtt` ms. */
export class HeartbeatEvent extends Event {
  /** @param rtt - the round trip, in ms */
  constructor(readonly rtt: number) {
    super('heartbeat');
  }
}

/**
 * Where a {@link ReconnectingWebSocket} connects: one URL, a list tried in turn, or a
 * function choosing before each link (given the failed attempts in a row).
 */
export type SessionUrl = string | readonly string[] | ((attempt: number) => string);

/** Default of {@link ReconnectingWebSocketOptions.stopCodes}. */
export const DEFAULT_STOP_CODES: readonly number[] = Object.freeze([1002, 1003, 1008, 4401, 4403]);

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;

/**
 * A WebSocket that reconnects and resumes its `sockeye.session.v1` session: every
 * message arrives exactly once and in order in both directions across breaks (within
 * the bounds in `docs/sessions.md`). `send()` works in every state but `closed`: what
 * is sent while disconnected waits, bounded.
 *
 * Events: `open` ({@link SessionOpenEvent}, each welcomed link), `message`
 * (`MessageEvent`), `reconnecting` ({@link ReconnectingEvent}), `sessionlost`
 * ({@link SessionLostEvent}), `close` ({@link ReconnectCloseEvent}, once, for good),
 * `error` (a link failed; the client carries on), `drop`, `heartbeat`, `statechange`.
 */
export class ReconnectingWebSocket extends EventTarget {
  #url: string;
  #chooseUrl: (attempt: number) => string;
  #options: Required<
    Omit<
      ReconnectingWebSocketOptions,
      | 'shouldReconnect'
      | 'environment'
      | 'WebSocket'
      | 'binaryType'
      | 'fetch'
      | 'transportMemory'
      | 'transports'
    >
  >;
  #Ctor: WebSocketConstructor | undefined;
  #transports: readonly ClientTransport[];
  #fetch: FetchFunction | undefined;
  #memory: TransportMemory | null;
  /** The transport of the next attempt, as an index in `#transports`. */
  #transportIndex = 0;
  /** The transport of the current link. */
  #linkTransport: ClientTransport = 'websocket';
  /** Whether the current link was welcomed (kept after the link is dropped, for `#linkLost`). */
  #linkWelcomed = false;
  #upgradeTimer: ReturnType<typeof setTimeout> | undefined;
  #probe: WebSocketLike | null = null;
  #probeTimer: ReturnType<typeof setTimeout> | undefined;
  #shouldReconnect: ((event: ReconnectCloseEvent) => boolean) | undefined;
  #binaryType: 'arraybuffer' | 'blob';
  #core: SessionCore;
  #ws: WebSocketLike | null = null;
  #welcomed = false;
  #state: ReconnectState = 'connecting';
  #attempt = 0;
  #refused = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #connectTimer: ReturnType<typeof setTimeout> | undefined;
  #heartbeatTimer: ReturnType<typeof setTimeout> | undefined;
  #ackTimer: ReturnType<typeof setTimeout> | undefined;
  #lastReceivedAt = 0;
  #pingToken = 0;
  #pingSentAt = 0;
  /** Wall-clock deadline of the outstanding heartbeat; 0 when none is outstanding. */
  #pingDeadline = 0;
  /** The token of a heartbeat sent because the page came back (0: none): its timeout reconnects at once. */
  #wakePing = 0;
  #environment: ClientEnvironment;
  #handlers = new Map<string, EventHandler<Event>>();
  #listeners = new Map<string, (event: Event) => void>();
  #now: () => number;
  /** See {@link ReconnectingWebSocket.#clock}. */
  #stamp = 0;
  #stampValid = false;
  readonly #stampExpired = (): void => {
    this.#stampValid = false;
  };
  #unlisten: (() => void) | null = null;

  /**
   * @param url - the `ws:` or `wss:` URL of a sockeye session server; or several, tried
   *   in turn (each link goes to the next one in the list, round-robin); or a function
   *   called before each link with the number of failed attempts in a row (0 for the
   *   first link and after a welcome), returning the URL to use. Servers that share a
   *   session store resume each other's sessions, so the client may go to any of them.
   * @param options - see {@link ReconnectingWebSocketOptions}
   * @throws TypeError for an empty list
   */
  constructor(url: SessionUrl, options: ReconnectingWebSocketOptions = {}) {
    super();
    if (typeof url === 'string') {
      this.#chooseUrl = () => url;
    } else if (typeof url === 'function') {
      this.#chooseUrl = url;
    } else {
      if (url.length === 0) throw new TypeError('no URL to connect to');
      const urls = [...url];
      let next = 0;
      this.#chooseUrl = () => urls[next++ % urls.length]!;
    }
    this.#url = typeof url === 'string' ? url : '';
    this.#transports = options.transports ?? ['websocket'];
    if (
      this.#transports.length === 0 ||
      this.#transports.some((t) => t !== 'websocket' && t !== 'sse' && t !== 'long-polling')
    ) {
      throw new RangeError("transports must list 'websocket', 'sse' or 'long-polling'");
    }
    const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (Ctor === undefined && this.#transports.includes('websocket')) {
      throw new TypeError('no WebSocket constructor: pass options.WebSocket');
    }
    this.#Ctor = Ctor;
    this.#fetch = options.fetch;
    this.#memory = options.transportMemory === undefined ? defaultMemory() : options.transportMemory;
    this.#shouldReconnect = options.shouldReconnect;
    this.#binaryType = options.binaryType ?? 'arraybuffer';
    this.#options = {
      minDelay: options.minDelay ?? 500,
      maxDelay: options.maxDelay ?? 30_000,
      connectTimeout: options.connectTimeout ?? 10_000,
      maxRetries: options.maxRetries ?? Number.POSITIVE_INFINITY,
      stopCodes: options.stopCodes ?? DEFAULT_STOP_CODES,
      heartbeatInterval: options.heartbeatInterval ?? 15_000,
      heartbeatTimeout: options.heartbeatTimeout ?? 10_000,
      maxQueuedMessages: options.maxQueuedMessages ?? 1000,
      maxQueuedBytes: options.maxQueuedBytes ?? 1024 * 1024,
      queueFull: options.queueFull ?? 'error',
      ackDelay: options.ackDelay ?? 50,
      maxMessageAge: options.maxMessageAge ?? DEFAULT_RESUME_WINDOW,
      lifecycle: options.lifecycle ?? true,
      random: options.random ?? Math.random,
      now: options.now ?? Date.now,
      rememberTransport: options.rememberTransport ?? 600_000,
      upgradeInterval: options.upgradeInterval ?? 60_000,
    };
    checkClientOptions(this.#options);
    const g = globalThis as {
      addEventListener?: unknown;
      document?: ClientEnvironment['document'];
      navigator?: ClientEnvironment['navigator'];
    };
    this.#environment = options.environment ?? {
      ...(typeof g.addEventListener === 'function' ? { window: globalThis as unknown as EventTarget } : {}),
      ...(g.document === undefined ? {} : { document: g.document }),
      ...(g.navigator === undefined ? {} : { navigator: g.navigator }),
    };
    this.#now = this.#options.now;
    this.#core = this.#newCore('', '');
    this.#transportIndex = this.#remembered();
    if (this.#options.lifecycle) this.#listen();
    this.#connect();
  }

  /** `readyState` while connecting or reconnecting. */
  static readonly CONNECTING = CONNECTING;
  /** `readyState` while a link is welcomed. */
  static readonly OPEN = OPEN;
  /** Never a `readyState` here (closing is immediate); kept for the `WebSocket` shape. */
  static readonly CLOSING = 2;
  /** `readyState` once closed for good. */
  static readonly CLOSED = CLOSED;

  /** The `open` event handler. */
  get onopen(): EventHandler<SessionOpenEvent> {
    return (this.#handlers.get('open') ?? null) as EventHandler<SessionOpenEvent>;
  }
  set onopen(handler: EventHandler<SessionOpenEvent>) {
    this.#setHandler('open', handler);
  }
  /** The `message` event handler. */
  get onmessage(): EventHandler<MessageEvent> {
    return (this.#handlers.get('message') ?? null) as EventHandler<MessageEvent>;
  }
  set onmessage(handler: EventHandler<MessageEvent>) {
    this.#setHandler('message', handler);
  }
  /** The `error` event handler. */
  get onerror(): EventHandler<Event> {
    return this.#handlers.get('error') ?? null;
  }
  set onerror(handler: EventHandler<Event>) {
    this.#setHandler('error', handler);
  }
  /** The `close` event handler (closed for good). */
  get onclose(): EventHandler<ReconnectCloseEvent> {
    return (this.#handlers.get('close') ?? null) as EventHandler<ReconnectCloseEvent>;
  }
  set onclose(handler: EventHandler<ReconnectCloseEvent>) {
    this.#setHandler('close', handler);
  }

  #setHandler(type: string, handler: EventHandler<never>): void {
    const previous = this.#listeners.get(type);
    if (previous !== undefined) this.removeEventListener(type, previous);
    if (typeof handler !== 'function') {
      this.#handlers.delete(type);
      this.#listeners.delete(type);
      return;
    }
    const listener = (event: Event) => (handler as (event: Event) => void).call(this, event);
    this.#handlers.set(type, handler as EventHandler<Event>);
    this.#listeners.set(type, listener);
    this.addEventListener(type, listener);
  }

  /** `CONNECTING` (0) while connecting or reconnecting, `OPEN` (1), `CLOSED` (3) for good. */
  get readyState(): number {
    return this.#state === 'open' ? OPEN : this.#state === 'closed' ? CLOSED : CONNECTING;
  }
  /** The reconnect state. */
  get state(): ReconnectState {
    return this.#state;
  }
  /** The transport of the current link (or of the next attempt while there is none). */
  get transport(): ClientTransport {
    return this.#ws === null ? this.#transports[this.#transportIndex]! : this.#linkTransport;
  }
  /** Always `sockeye.session.v1` once open. */
  get protocol(): string {
    return SESSION_PROTOCOL;
  }
  /** The session id ('' before the first welcome). */
  get sessionId(): string {
    return this.#core.id;
  }
  /** The URL of the current (or latest) link; '' before the first link when URLs are chosen. */
  get url(): string {
    return this.#url;
  }

  /** Attempts since the last welcome. */
  get attempt(): number {
    return this.#attempt;
  }
  /** Bytes sent and not yet acknowledged by the server (including those waiting for a link). */
  get bufferedAmount(): number {
    return this.#core.bufferedBytes;
  }
  /** Messages sent and not yet acknowledged by the server. */
  get bufferedMessages(): number {
    return this.#core.bufferedMessages;
  }
  /** Data messages sent (the last sequence number). */
  get sent(): number {
    return this.#core.sent;
  }
  /** Data messages received (the last sequence number). */
  get received(): number {
    return this.#core.received;
  }
  /** The last sequence number the server acknowledged. */
  get acknowledged(): number {
    return this.#core.acknowledged;
  }
  /** How binary messages are delivered: `'arraybuffer'` or `'blob'`. */
  get binaryType(): 'arraybuffer' | 'blob' {
    return this.#binaryType;
  }
  set binaryType(value: 'arraybuffer' | 'blob') {
    if (value === 'arraybuffer' || value === 'blob') this.#binaryType = value;
  }

  /**
   * Send a message (a string as text, anything else as binary). Kept until the server
   * acknowledges it and replayed across breaks.
   * @throws SessionError `session-ended` once closed; `queue-full` past the queue bounds with `queueFull: 'error'`
   * @throws TypeError for a `Blob` (read it into an `ArrayBuffer` first)
   */
  send(data: string | ArrayBuffer | ArrayBufferView): void {
    if (this.#state === 'closed') throw new SessionError('session-ended', 'the client is closed');
    const message = toWire(data);
    const core = this.#core;
    // On sockeye's Node link, text is framed as UTF-8 bytes at once: no `d` + string to
    // flatten and encode when it is written, and its size comes with it.
    const ws = this.#ws;
    const frame =
      typeof message === 'string' && ws !== null && framesText(ws)
        ? ws.textFrame(message, core.bufferedBytes)
        : undefined;
    const size = frame === undefined ? messageSize(message) : frame.length - 1;
    if (
      core.bufferedMessages >= this.#options.maxQueuedMessages ||
      core.bufferedBytes + size > this.#options.maxQueuedBytes
    ) {
      if (this.#options.queueFull === 'drop') {
        this.dispatchEvent(new DropEvent(toApplication(message, 'arraybuffer') as string | ArrayBuffer));
        return;
      }
      throw new SessionError('queue-full', 'the outbound queue is full');
    }
    const now = this.#clock();
    if (
      this.#welcomed &&
      this.#pingDeadline === 0 &&
      now - this.#lastReceivedAt >= this.#options.heartbeatInterval
    ) {
      // A link that has been quiet past the heartbeat interval may be dead: check it now
      // (the message is kept either way, and replayed if it was).
      this.#ping(now);
    }
    if (frame === undefined) {
      core.send(message, now, size);
      this.#flush();
    } else if (core.sendFrameNow(frame, now, size)) {
      // The hot path: linked (so welcomed, on the link that framed it), nothing queued
      // before it: written now, without an output array to fill and take.
      this.#send(this.#ws!, frame);
    } else {
      this.#flush();
    }
  }

  /**
   * End the session for good: the server is told (when linked) and the link closes with
   * `code`. `close` is dispatched at once.
   * @throws RangeError for a code other than 1000 or 3000-4999 (what a browser may send),
   *   or a reason over 123 characters
   */
  close(code = 1000, reason = ''): void {
    if (code !== 1000 && (code < 3000 || code > 4999 || !Number.isInteger(code))) {
      throw new RangeError(`close code ${code} may not be sent by a client`);
    }
    if (reason.length > MAX_END_REASON_LENGTH)
      throw new RangeError('close reason longer than 123 characters');
    if (this.#state === 'closed') return;
    this.#core.end(reason);
    this.#flush();
    const ws = this.#ws;
    this.#drop();
    if (ws !== null) safeClose(ws, code, reason);
    this.#finish(code, reason, true);
  }

  /**
   * Cut the current link as if the network had dropped it, without ending the session:
   * the client reconnects and resumes (for tests and the demo).
   */
  reconnect(): void {
    if (this.#state === 'closed') return;
    if (this.#ws !== null) this.#abandon(4000, 'reconnect requested');
    else this.#connectNow();
  }

  // ---- links ----

  #newCore(id: string, epoch: string): SessionCore {
    // The queue bounds are checked by send(); the core only ages messages out.
    return new SessionCore(id, epoch, {
      maxMessages: Number.POSITIVE_INFINITY,
      maxBytes: Number.POSITIVE_INFINITY,
      maxAge: this.#options.maxMessageAge,
    });
  }

  #connect(): void {
    this.#retryTimer = undefined;
    if (this.#state === 'closed') return;
    const transport = this.#transports[this.#transportIndex]!;
    let ws: WebSocketLike;
    try {
      this.#url = this.#chooseUrl(this.#attempt);
      ws = this.#createLink(transport);
    } catch (error) {
      // A bad URL never gets better.
      this.dispatchEvent(new Event('error'));
      this.#finish(1006, error instanceof Error ? error.message : String(error), false);
      return;
    }
    this.#adopt(ws, transport);
    ws.onopen = () => {
      if (this.#ws === ws) this.#hello(ws);
    };
  }

  #createLink(transport: ClientTransport): WebSocketLike {
    if (transport === 'websocket') {
      const Ctor = this.#Ctor!;
      // sockeye's Node `WebSocket` carries a lighter link (no task, event or conversion
      // per message): used for that very constructor only, as a subclass may connect elsewhere.
      if (Object.hasOwn(Ctor, SESSION_LINK)) {
        const create = (Ctor as unknown as Record<symbol, LinkFactory>)[SESSION_LINK]!;
        return create(this.url, [SESSION_PROTOCOL]);
      }
      return new Ctor(this.url, [SESSION_PROTOCOL]);
    }
    return new HttpSessionLink(httpUrl(this.url), transport, {
      ...(this.#fetch === undefined ? {} : { fetch: this.#fetch }),
    });
  }

  /** Make `ws` the current link (not yet welcomed). */
  #adopt(ws: WebSocketLike, transport: ClientTransport): void {
    ws.binaryType = 'arraybuffer';
    this.#ws = ws;
    this.#linkTransport = transport;
    this.#linkWelcomed = false;
    this.#welcomed = false;
    this.#refused = false;
    this.#connectTimer = setTimeout(() => {
      if (this.#ws === ws) this.#abandon(4000, 'connect timeout');
    }, this.#options.connectTimeout);
    ws.onopen = null;
    ws.onmessage = (event) => {
      if (this.#ws === ws) this.#message(ws, event.data as string | ArrayBuffer | Uint8Array);
    };
    if (deliversData(ws)) {
      ws.ondata = (payload) => {
        if (this.#ws !== ws) return;
        // Before the welcome a data frame is out of place: `#message` says so.
        if (this.#welcomed) this.#data(ws, payload);
        else this.#message(ws, encodeData(payload));
      };
    }
    ws.onerror = (event) => {
      if (this.#ws !== ws) return;
      // sockeye's client says why a handshake failed; a browser does not. 401 and 403:
      // not allowed; 101: the server upgraded but its answer does not fit (sockeye's
      // client refuses a server that selects no subprotocol, where a browser opens and
      // the `open` handler stops it).
      const status = (event as { error?: { status?: unknown } }).error?.status;
      if (status === 101 || status === 401 || status === 403) this.#refused = true;
      this.dispatchEvent(new Event('error'));
    };
    ws.onclose = (event) => {
      if (this.#ws !== ws) return;
      this.#drop();
      this.#linkLost(event.code ?? 1006, event.reason ?? '', event.wasClean ?? false);
    };
  }

  /** The link opened: check the subprotocol and say hello. */
  #hello(ws: WebSocketLike): void {
    if (ws.protocol !== SESSION_PROTOCOL) {
      safeClose(ws, 1002, 'no session subprotocol');
      this.#drop();
      this.#finish(1002, `the server did not select ${SESSION_PROTOCOL}`, false);
      return;
    }
    const core = this.#core;
    this.#lastReceivedAt = this.#now();
    this.#send(
      ws,
      core.id === '' ? encodeHello(core.received) : encodeHello(core.received, core.id, core.epoch),
    );
  }

  /**
   * The clock on the per-message paths (a message received, a `send()`): read once per
   * task, as a read can carry hundreds of messages and a clock read can cost as much as
   * the rest of a message (`Date.now()` takes 150 to 300 ns in some virtual machines).
   * The timers and deadlines read it afresh.
   */
  #clock(): number {
    if (this.#stampValid) return this.#stamp;
    this.#stamp = this.#now();
    this.#stampValid = true;
    queueMicrotask(this.#stampExpired);
    return this.#stamp;
  }

  #message(ws: WebSocketLike, data: string | ArrayBuffer | Uint8Array): void {
    const now = this.#clock();
    this.#lastReceivedAt = now;
    if (this.#pingDeadline !== 0) {
      // Anything arriving proves the link alive, not only the pong.
      this.#pingDeadline = 0;
    }
    // A browser's WebSocket gives an ArrayBuffer; sockeye's Node link a Uint8Array copy.
    const message: WireMessage =
      typeof data === 'string' || data instanceof Uint8Array ? data : new Uint8Array(data);
    try {
      if (!this.#welcomed) {
        const frame = decodeFrame(message);
        if (frame.type !== 'welcome') throw new SessionError('unexpected-frame', 'expected a welcome');
        this.#welcome(ws, frame);
        return;
      }
      if (isDataFrame(message)) {
        // A data frame needs no decoding beyond its first character.
        this.#deliver(typeof message === 'string' ? message.slice(1) : message.subarray(1));
        return;
      }
      const event = this.#core.receive(message);
      if (event !== null) {
        switch (event.type) {
          case 'message':
            this.#scheduleAck();
            this.dispatchEvent(
              new MessageEvent('message', { data: toApplication(event.data, this.#binaryType) }),
            );
            break;
          case 'pong':
            if (event.token === String(this.#pingToken)) {
              this.dispatchEvent(new HeartbeatEvent(now - this.#pingSentAt));
            }
            break;
          case 'ping':
            break;
          case 'end': {
            const ended = this.#ws;
            this.#drop();
            if (ended !== null) safeClose(ended, 1000, event.reason);
            this.#finish(1000, event.reason, true);
            return;
          }
        }
      }
      this.#flush();
    } catch (error) {
      if (this.#ws !== ws) return;
      this.#abandon(4002, error instanceof Error ? error.message.slice(0, 100) : 'session error');
    }
  }

  /**
   * The payload of a data frame, from a link's `ondata` once welcomed: the hot path of a
   * message received (see {@link DataLink}).
   */
  #data(ws: WebSocketLike, payload: string | Uint8Array): void {
    this.#lastReceivedAt = this.#clock();
    // Anything arriving proves the link alive, not only the pong.
    this.#pingDeadline = 0;
    try {
      this.#deliver(payload);
    } catch (error) {
      if (this.#ws !== ws) return;
      this.#abandon(4002, error instanceof Error ? error.message.slice(0, 100) : 'session error');
    }
  }

  /** Count a data message received, give it to the application, and write what that queued. */
  #deliver(payload: WireMessage): void {
    this.#core.receiveData();
    this.#scheduleAck();
    this.dispatchEvent(new MessageEvent('message', { data: toApplication(payload, this.#binaryType) }));
    if (this.#core.hasOutput) this.#flush();
  }

  #welcome(ws: WebSocketLike, frame: Extract<SessionFrame, { type: 'welcome' }>): void {
    clearTimeout(this.#connectTimer);
    const core = this.#core;
    core.expire(this.#now());
    // A session that moved to another process comes back with a new epoch.
    const resumed = frame.resumed && core.id !== '' && frame.id === core.id;
    if (resumed) core.epoch = frame.epoch;
    if (resumed && !core.link(frame.received)) {
      // The server kept the session but we no longer hold what it is missing (it aged
      // out): end that session and come back at once for a new one.
      this.#send(ws, encodeEnd('replay lost'));
      this.#loseSession();
      this.#drop();
      safeClose(ws, 1000, 'replay lost');
      this.#connectNow();
      return;
    }
    if (!resumed) {
      if (core.id !== '') this.#loseSession();
      this.#core.id = frame.id;
      this.#core.epoch = frame.epoch;
      if (!this.#core.link(frame.received)) {
        this.#abandon(4002, 'bad welcome');
        return;
      }
    }
    this.#welcomed = true;
    this.#linkWelcomed = true;
    this.#attempt = 0;
    this.#rememberTransport();
    this.#setState('open');
    this.#flush();
    this.#scheduleHeartbeat();
    this.dispatchEvent(new SessionOpenEvent(resumed, this.#core.id));
  }

  /**
   * The session is gone: tell the application what went out and was never acknowledged,
   * and start a core without a session that carries what never went out.
   */
  #loseSession(): void {
    const old = this.#core;
    const lost = old.unacknowledged();
    const core = this.#newCore('', '');
    for (const entry of old.unwritten()) core.send(entry.data, entry.at);
    this.#core = core;
    this.dispatchEvent(new SessionLostEvent(lost.map((entry) => copyOut(entry.data))));
  }

  /**
   * A link broke: give up, or wait and try again. `immediate`: the page just came back
   * and found its link dead (it died while the page slept, not under a server in
   * trouble), so the first attempt starts at once instead of after the backoff.
   */
  #linkLost(code: number, reason: string, wasClean: boolean, immediate = false): void {
    if (this.#state === 'closed') return;
    const event = new ReconnectCloseEvent('close', code, reason, wasClean);
    const stop =
      this.#refused ||
      this.#options.stopCodes.includes(code) ||
      this.#attempt >= this.#options.maxRetries ||
      (this.#shouldReconnect !== undefined && !this.#shouldReconnect(event));
    if (stop) {
      this.#finish(code, reason, wasClean);
      return;
    }
    this.#attempt++;
    // An attempt that never got a welcome moves to the next transport at once; after the
    // last, back to the first, with the backoff.
    let fallback = false;
    if (!this.#linkWelcomed && this.#transports.length > 1) {
      const current = this.#transports.indexOf(this.#linkTransport);
      this.#transportIndex = (current + 1) % this.#transports.length;
      fallback = this.#transportIndex !== 0;
    }
    this.#linkWelcomed = false;
    const hint = code === 1012 || code === 1013 ? retryHint(reason) : undefined;
    const cap =
      hint ?? Math.min(this.#options.maxDelay, this.#options.minDelay * 2 ** Math.min(this.#attempt - 1, 30));
    // Full jitter: uniform in [0, cap), so clients cut at one moment do not come back at one moment.
    const delay = fallback || immediate ? 0 : Math.floor(this.#options.random() * cap);
    this.#setState('reconnecting');
    this.dispatchEvent(new ReconnectingEvent(this.#attempt, delay, code, reason));
    if (this.#state !== 'reconnecting') return; // a listener closed it
    // Offline: do not spin; `online` starts the attempt.
    if (this.#environment.navigator?.onLine === false) return;
    this.#retryTimer = setTimeout(() => this.#connect(), delay);
  }

  /** Give up on the current link (dead, timed out, broken) and reconnect (see `#linkLost` for `immediate`). */
  #abandon(code: number, reason: string, immediate = false): void {
    const ws = this.#ws;
    this.#drop();
    if (ws !== null) safeClose(ws, code, reason);
    this.#linkLost(1006, reason, false, immediate);
  }

  /** Forget the current link: no handler of it runs again. */
  #drop(): void {
    const ws = this.#ws;
    this.#ws = null;
    this.#welcomed = false;
    this.#pingDeadline = 0;
    this.#wakePing = 0;
    this.#core.unlink();
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#heartbeatTimer);
    clearTimeout(this.#ackTimer);
    clearTimeout(this.#upgradeTimer);
    this.#ackTimer = undefined;
    this.#dropProbe();
    if (ws !== null) {
      ws.onopen = null;
      ws.onmessage = null;
      ws.onerror = null;
      ws.onclose = null;
      if (deliversData(ws)) ws.ondata = null;
    }
  }

  #finish(code: number, reason: string, wasClean: boolean): void {
    if (this.#state === 'closed') return;
    clearTimeout(this.#retryTimer);
    this.#unlisten?.();
    this.#unlisten = null;
    this.#setState('closed');
    this.dispatchEvent(new ReconnectCloseEvent('close', code, reason, wasClean));
  }

  #setState(state: ReconnectState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.dispatchEvent(new Event('statechange'));
  }

  #flush(): void {
    const ws = this.#ws;
    if (ws === null || !this.#welcomed) return;
    for (const frame of this.#core.takeOutput()) {
      if (!this.#send(ws, frame)) return;
    }
  }

  #send(ws: WebSocketLike, frame: WireMessage): boolean {
    try {
      // Text framed as bytes by one link and replayed on another kind (an HTTP transport
      // after a fallback) goes as a string there.
      ws.send(frame instanceof TextBytes && !framesText(ws) ? encodeData(framePayload(frame)) : frame);
      return true;
    } catch {
      if (this.#ws === ws) this.#abandon(4000, 'send failed');
      return false;
    }
  }

  #scheduleAck(): void {
    if (this.#ackTimer !== undefined) return;
    this.#ackTimer = setTimeout(() => {
      this.#ackTimer = undefined;
      this.#core.flushAck();
      this.#flush();
    }, this.#options.ackDelay);
  }

  // ---- transports ----

  /** The transport to start with: the one remembered for this origin, if any. */
  #remembered(): number {
    const memory = this.#memory;
    if (memory === null || this.#transports.length < 2) return 0;
    try {
      const value = memory.getItem(memoryKey(this.url));
      if (value === null) return 0;
      const [transport, until] = value.split(' ');
      const index = this.#transports.indexOf(transport as ClientTransport);
      return index > 0 && Number(until) > this.#now() ? index : 0;
    } catch {
      return 0; // storage refused (a private window, a quota): start from the first
    }
  }

  /** A link was welcomed: remember its transport (or forget, for the first), and plan the upgrade. */
  #rememberTransport(): void {
    const index = this.#transports.indexOf(this.#linkTransport);
    this.#transportIndex = index;
    if (this.#transports.length < 2) return;
    try {
      if (index === 0) this.#memory?.removeItem(memoryKey(this.url));
      else {
        const until = this.#now() + this.#options.rememberTransport;
        this.#memory?.setItem(memoryKey(this.url), `${this.#linkTransport} ${until}`);
      }
    } catch {
      // Storage refused: nothing remembered.
    }
    // Only a WebSocket's opening proves a path (an HTTP link "opens" at once, by design).
    if (index > 0 && this.#transports[0] === 'websocket') this.#scheduleUpgrade();
  }

  #scheduleUpgrade(): void {
    clearTimeout(this.#upgradeTimer);
    this.#upgradeTimer = setTimeout(() => this.#tryUpgrade(), this.#options.upgradeInterval);
  }

  /**
   * Open a link of the first transport beside the current one. If it opens, the session
   * moves to it: the current link is dropped and the new one says hello (the session
   * resumes there by its counts). If it fails, the current link carries on.
   */
  #tryUpgrade(): void {
    const current = this.#ws;
    if (current === null || !this.#welcomed || this.#probe !== null) return;
    const transport = this.#transports[0]!;
    let probe: WebSocketLike;
    try {
      probe = this.#createLink(transport);
    } catch {
      this.#scheduleUpgrade();
      return;
    }
    this.#probe = probe;
    probe.binaryType = 'arraybuffer';
    const timer = setTimeout(() => failed(), this.#options.connectTimeout);
    const failed = () => {
      if (this.#probe !== probe) return;
      this.#dropProbe();
      safeClose(probe, 1000, 'upgrade failed');
      if (this.#ws === current && this.#welcomed) this.#scheduleUpgrade();
    };
    probe.onerror = () => undefined;
    probe.onclose = failed;
    probe.onmessage = failed; // nothing may come before the hello
    probe.onopen = () => {
      if (this.#probe !== probe) return;
      clearTimeout(timer);
      this.#probe = null;
      if (this.#ws !== current || probe.protocol !== SESSION_PROTOCOL) {
        safeClose(probe, 1000, 'upgrade not needed');
        if (this.#ws === current && this.#welcomed) this.#scheduleUpgrade();
        return;
      }
      const move = () => {
        if (this.#ws !== current || this.#state === 'closed') {
          safeClose(probe, 1000, 'upgrade not needed');
          return;
        }
        // Nothing more is taken from the old link: the hello tells the server what arrived.
        this.#drop();
        safeClose(current, 1000, 'moving to another transport');
        this.#adopt(probe, transport);
        this.#hello(probe);
      };
      if (!(current instanceof HttpSessionLink)) {
        move();
        return;
      }
      // An HTTP link is released first: the server puts the session in its store before
      // it answers, so the hello finds it even on another process. The old link carries
      // on until then; its end is expected.
      current.onclose = null;
      probe.onclose = null;
      void current.release(this.#options.connectTimeout).then(move);
    };
    this.#probeTimer = timer;
  }

  #dropProbe(): void {
    const probe = this.#probe;
    if (probe === null) return;
    this.#probe = null;
    clearTimeout(this.#probeTimer);
    probe.onopen = null;
    probe.onclose = null;
    probe.onmessage = null;
    probe.onerror = null;
    safeClose(probe, 1000, 'upgrade cancelled');
  }

  // ---- liveness ----

  #ping(now: number): void {
    const ws = this.#ws;
    if (ws === null) return;
    this.#pingToken++;
    this.#pingSentAt = now;
    this.#pingDeadline = now + this.#options.heartbeatTimeout;
    this.#send(ws, encodePing(String(this.#pingToken)));
    this.#scheduleHeartbeat();
  }

  /**
   * Check the link against wall-clock deadlines: a timer in a throttled or frozen page
   * fires late, so each check compares `Date.now()` with the deadline rather than
   * trusting that the timer ran on time.
   */
  #checkLiveness(): void {
    if (!this.#welcomed) return;
    const now = this.#now();
    if (this.#pingDeadline !== 0) {
      if (now >= this.#pingDeadline) {
        this.#abandon(4000, 'heartbeat timeout', this.#wakePing === this.#pingToken);
      } else this.#scheduleHeartbeat();
      return;
    }
    if (now - this.#lastReceivedAt >= this.#options.heartbeatInterval) this.#ping(now);
    else this.#scheduleHeartbeat();
  }

  #scheduleHeartbeat(): void {
    clearTimeout(this.#heartbeatTimer);
    const now = this.#now();
    const at =
      this.#pingDeadline !== 0 ? this.#pingDeadline : this.#lastReceivedAt + this.#options.heartbeatInterval;
    this.#heartbeatTimer = setTimeout(() => this.#checkLiveness(), Math.max(0, at - now));
  }

  /**
   * The page came back (visible, online, restored from the back/forward cache, resumed).
   * Without a link, connect now. With one, check it now, however recently something
   * arrived: a link can die without a word (a half-open link, a network changed while
   * the page slept) and the page's timers may not have run meanwhile. If the check goes
   * unanswered, the first attempt starts at once.
   */
  #wake(): void {
    if (this.#state === 'closed') return;
    if (this.#ws === null) {
      this.#connectNow();
      return;
    }
    if (!this.#welcomed) return; // the connect timeout covers a link still opening
    const now = this.#now();
    if (this.#pingDeadline === 0) {
      this.#ping(now);
      this.#wakePing = this.#pingToken;
    } else if (now >= this.#pingDeadline) {
      this.#abandon(4000, 'heartbeat timeout', true);
    }
  }

  /**
   * The page goes into the back/forward cache (`pagehide` with `persisted`): close the
   * link without ending the session. A page with an open WebSocket is either kept out of
   * the cache or has its socket closed by the browser behind its back; closing it here
   * keeps the page eligible, and `pageshow` resumes at once. Nothing is lost: the server
   * keeps the session for its resume window, and this side keeps what is unacknowledged.
   */
  #sleep(): void {
    if (this.#state === 'closed') return;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const ws = this.#ws;
    this.#drop();
    if (ws !== null) safeClose(ws, 4000, 'page hidden');
    if (this.#state === 'open') this.#setState('reconnecting');
  }

  #connectNow(): void {
    if (this.#state === 'closed' || this.#ws !== null) return;
    clearTimeout(this.#retryTimer);
    this.#connect();
  }

  #listen(): void {
    const { window: win, document: doc } = this.#environment;
    const wake = () => this.#wake();
    const visibility = () => {
      if (doc?.visibilityState !== 'hidden') this.#wake();
    };
    const pagehide = (event: Event) => {
      if ((event as Event & { persisted?: boolean }).persisted === true) this.#sleep();
    };
    win?.addEventListener('online', wake);
    win?.addEventListener('pagehide', pagehide);
    win?.addEventListener('pageshow', wake);
    doc?.addEventListener('visibilitychange', visibility);
    doc?.addEventListener('resume', wake);
    this.#unlisten = () => {
      win?.removeEventListener('online', wake);
      win?.removeEventListener('pagehide', pagehide);
      win?.removeEventListener('pageshow', wake);
      doc?.removeEventListener('visibilitychange', visibility);
      doc?.removeEventListener('resume', wake);
    };
  }
}

/** In Node (no `localStorage`): the transports remembered in this process. */
const processMemory = new Map<string, string>();

/** `localStorage` when the page has one (and lets it be used), else a map in this process. */
function defaultMemory(): TransportMemory {
  try {
    const storage = (globalThis as { localStorage?: TransportMemory }).localStorage;
    if (storage !== undefined) return storage;
  } catch {
    // A page whose storage is blocked throws on access.
  }
  return {
    getItem: (key) => processMemory.get(key) ?? null,
    setItem: (key, value) => {
      processMemory.set(key, value);
    },
    removeItem: (key) => {
      processMemory.delete(key);
    },
  };
}

/** The memory key of a URL's origin. */
function memoryKey(url: string): string {
  return `sockeye.transport ${new URL(url).host}`;
}

/** The HTTP URL of a session endpoint's WebSocket URL (`ws:` to `http:`, `wss:` to `https:`). */
function httpUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.protocol === 'ws:') parsed.protocol = 'http:';
  else if (parsed.protocol === 'wss:') parsed.protocol = 'https:';
  return parsed.href;
}

/** `retry-after=<ms>` in a 1012/1013 close reason: the window to come back within. */
function retryHint(reason: string): number | undefined {
  const match = /(?:^|\s)retry-after=(\d{1,9})(?:\s|$)/.exec(reason);
  return match === null ? undefined : Number(match[1]);
}

/**
 * The message `send()` takes, as a view of the caller's bytes: no copy of its own, as
 * everything that keeps it copies it before `send()` returns (the data frame, or the
 * `drop` event's `ArrayBuffer`). A copy here cost an `ArrayBuffer` of its own per
 * message (`ArrayBuffer.prototype.slice`, about 1 µs for 64 bytes on Node 20).
 */
function toWire(data: string | ArrayBuffer | ArrayBufferView): WireMessage {
  if (typeof data === 'string') return data;
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError('send() takes a string, an ArrayBuffer or an ArrayBufferView (read a Blob first)');
}

/** Whether a received message is a data frame (`d` first; a binary message can be nothing else). */
function isDataFrame(message: WireMessage): boolean {
  return typeof message === 'string' ? message.charCodeAt(0) === 0x64 : message[0] === 0x64;
}

/**
 * A copy of `bytes` in an `ArrayBuffer` of its own. Not `bytes.slice()`: on a Node
 * `Buffer` (which `send()` may have been given) that is a view of the same memory.
 */
function copyToArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const copy = new ArrayBuffer(bytes.length);
  new Uint8Array(copy).set(bytes);
  return copy;
}

function copyOut(data: WireMessage): string | ArrayBuffer {
  return typeof data === 'string' ? data : copyToArrayBuffer(data);
}

function toApplication(data: WireMessage, binaryType: 'arraybuffer' | 'blob'): string | ArrayBuffer | Blob {
  if (typeof data === 'string') return data;
  const copy = copyToArrayBuffer(data);
  return binaryType === 'blob' ? new Blob([copy]) : copy;
}

function safeClose(ws: WebSocketLike, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    // Already closing, or a code the implementation refuses: the link is dropped anyway.
  }
}

/** Refuse option values that would make the client spin, stall or never queue anything. */
function checkClientOptions(
  options: Required<
    Omit<
      ReconnectingWebSocketOptions,
      | 'shouldReconnect'
      | 'environment'
      | 'WebSocket'
      | 'binaryType'
      | 'fetch'
      | 'transportMemory'
      | 'transports'
    >
  >,
): void {
  const atLeast = (name: keyof typeof options, min: number) => {
    const value = options[name];
    if (typeof value !== 'number' || Number.isNaN(value) || value < min) {
      throw new RangeError(`${name} must be a number >= ${min}`);
    }
  };
  atLeast('minDelay', 0);
  atLeast('maxDelay', 0);
  if (options.maxDelay < options.minDelay) throw new RangeError('maxDelay must be >= minDelay');
  atLeast('connectTimeout', 1);
  atLeast('maxRetries', 0);
  atLeast('heartbeatInterval', 1);
  atLeast('heartbeatTimeout', 1);
  atLeast('maxQueuedMessages', 1);
  atLeast('maxQueuedBytes', 1);
  atLeast('ackDelay', 0);
  atLeast('maxMessageAge', 1);
  atLeast('rememberTransport', 0);
  atLeast('upgradeInterval', 1);
  if (options.queueFull !== 'error' && options.queueFull !== 'drop') {
    throw new RangeError("queueFull must be 'error' or 'drop'");
  }
}
