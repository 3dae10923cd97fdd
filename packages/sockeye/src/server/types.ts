import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { TlsOptions } from 'node:tls';
import type { HeaderMap, PerMessageDeflateOptions, UpgradeRequestInfo } from '../protocol/index.js';
import type { Broker, TopicRegistryOptions } from '../pubsub/index.js';
import type { ConnectionLimitOptions, MessageLimitOptions, RateLimit } from './limits.js';
import type { OriginPolicy } from './origin.js';
import type { ServerWebSocket } from './websocket.js';

/**
 * What a `send()` did with a message, so that a producer can slow down before memory
 * does it for it:
 * - `sent`: accepted; the connection's buffered bytes are at or below `highWaterMark`.
 * - `queued`: accepted, but the buffered bytes are now above `highWaterMark` (the peer is
 *   not keeping up). Stop sending to it until the `drain` handler runs.
 * - `dropped`: not accepted. Either it would have taken the buffered bytes past
 *   `maxBufferedBytes` (and with `closeOnBackpressureLimit` the connection is now closing
 *   with 1008), or the connection is closing or closed.
 */
export const SendStatus = { Sent: 'sent', Queued: 'queued', Dropped: 'dropped' } as const;
/** One of {@link SendStatus}. */
export type SendStatus = (typeof SendStatus)[keyof typeof SendStatus];

/**
 * What `send()` accepts. A `string` is sent as a text message; everything else as a
 * binary message (override with `send(data, isBinary)`). A `Blob` is read
 * asynchronously, and messages sent after it wait for it, so the order is kept.
 */
export type SendData = string | Buffer | ArrayBuffer | ArrayBufferView | Blob;

/**
 * What `publish()` accepts: like {@link SendData} without `Blob` (a publish is framed
 * once, synchronously, for every subscriber).
 */
export type PublishData = string | Buffer | ArrayBuffer | ArrayBufferView;

/** Options of `server.publish()` and `ws.publish()`. */
export interface PublishOptions {
  /**
   * Send as a binary (true) or text (false) message. A `Buffer` sent as text must hold
   * valid UTF-8 (it is not re-validated).
   * @defaultValue false for a `string`, true for anything else
   */
  isBinary?: boolean;
}

/** Which way bytes crossed the wire, for {@link WebSocketServerOptions.wiretap}. */
export type WireDirection = 'in' | 'out';

/**
 * The opening handshake request, as `authenticate`, `selectProtocol` and the origin
 * policy see it. The same shape in every mode: standalone (parsed by sockeye), attached
 * and `noServer` (parsed by Node, then `incoming` is Node's request object).
 */
export interface UpgradeRequestContext {
  /** The method (always `GET` by the time a hook sees it). */
  readonly method: string;
  /** The request target: path and query, e.g. `/chat?room=1`. */
  readonly url: string;
  /** `"1.1"`. */
  readonly httpVersion: string;
  /** Header fields by lower-case name. */
  readonly headers: HeaderMap;
  /** The peer's IP address (the TCP peer: a proxy, when there is one). */
  readonly remoteAddress: string | undefined;
  /**
   * The real client address: the PROXY header's (with `proxyProtocol`), or the one a
   * trusted proxy's `Forwarded` / `X-Forwarded-For` gives (see `trustProxy`), otherwise the
   * TCP peer's; IPv4-mapped IPv6 given as IPv4.
   */
  readonly clientAddress: string;
  /** Whether the connection is TLS (`wss://`). */
  readonly secure: boolean;
  /** What the client asked for: key, subprotocols, extension offers, `Origin`, `Host`. */
  readonly offer: UpgradeRequestInfo;
  /** Node's request object in attached and `noServer` modes; undefined in standalone mode. */
  readonly incoming: IncomingMessage | undefined;
}

/**
 * The callbacks of a server, given once for every connection (no per-connection event
 * emitter: they cost memory on every idle connection). Each may be `async` (what a
 * handler returns is ignored, except that a returned promise is watched). A handler
 * that throws, or whose promise rejects, closes that connection with 1011 and is
 * reported to `error`; it never stops the server.
 *
 * @typeParam Data - the per-connection data that `authenticate` returns
 */
export interface WebSocketHandlers<Data> {
  /** The connection is open: the 101 response is written (and corked with whatever `open` sends). */
  open?(ws: ServerWebSocket<Data>): unknown;
  /**
   * A complete message. Text arrives as a `string` (or, with `decodeText: false`, as a
   * `Buffer` of valid UTF-8); binary as a `Buffer`. The `Buffer` may be a view of a
   * received chunk: keeping it keeps that chunk alive; do not keep it past the call if
   * memory matters, copy it instead.
   */
  message?(ws: ServerWebSocket<Data>, data: string | Buffer, isBinary: boolean): unknown;
  /** A ping arrived (it has already been answered with a pong). */
  ping?(ws: ServerWebSocket<Data>, data: Buffer): unknown;
  /** A pong arrived (heartbeat pongs included). */
  pong?(ws: ServerWebSocket<Data>, data: Buffer): unknown;
  /** After a `send()` returned `queued`, the buffered bytes went back to zero. */
  drain?(ws: ServerWebSocket<Data>): unknown;
  /**
   * The connection is closed, called exactly once: `code` and `reason` from the peer's
   * close frame (1005 when it had no code), the code we failed the connection with
   * (1002, 1007, 1009, 1011, ...), or 1006 when the TCP connection ended without a close
   * handshake (reset, `terminate()`, a heartbeat the peer did not answer).
   */
  close?(ws: ServerWebSocket<Data>, code: number, reason: string): unknown;
  /**
   * A handler threw (or its promise rejected), or a `Blob` could not be read. The
   * connection is closing with 1011. When absent, errors are emitted as the server's
   * `'error'` event if it has a listener, and otherwise printed as a process warning.
   */
  error?(ws: ServerWebSocket<Data>, error: unknown): void;
}

/**
 * Options of {@link WebSocketServer}: exactly one of `port` (standalone, see
 * {@link StandaloneServerOptions}), `server` (attached to an HTTP(S) server, see
 * {@link AttachedServerOptions}) or `noServer: true` (you call `handleUpgrade`, see
 * {@link NoServerOptions}), and the options every mode shares
 * ({@link CommonServerOptions}). Another combination does not type-check (and is refused
 * at run time with a `TypeError`).
 *
 * @typeParam Data - the per-connection data that `authenticate` returns
 */
export type WebSocketServerOptions<Data> =
  | StandaloneServerOptions<Data>
  | AttachedServerOptions<Data>
  | NoServerOptions<Data>;

/** Standalone mode: the server listens on its own TCP port. */
export interface StandaloneServerOptions<Data> extends CommonServerOptions<Data> {
  /** Listen on this TCP port, 0 to 65535 (0 picks a free one; see `address()`). */
  port: number;
  /** The address to bind. @defaultValue all interfaces (Node's default) */
  host?: string;
  /**
   * Standalone mode: serve `wss://` directly. The certificate and key (and `ca`, `passphrase`,
   * `pfx`, `ciphers`, `ALPNProtocols`, `SNICallback`, `requestCert`, ...) exactly as
   * `tls.createServer` takes them (the secure context is built once). `handshakeTimeout`
   * runs from the TCP accept and covers the TLS handshake too; a client that fails the
   * TLS handshake is dropped without reaching any hook.
   * @defaultValue none: plain `ws://`
   */
  tls?: TlsOptions;
  /** Not in standalone mode. */
  server?: never;
  /** Not in standalone mode. */
  noServer?: never;
}

/** Attached mode: the server takes WebSocket upgrades from an HTTP(S) server of yours. */
export interface AttachedServerOptions<Data> extends CommonServerOptions<Data> {
  /**
   * Take WebSocket upgrades from this HTTP or HTTPS server (`wss://` with HTTPS). Several
   * WebSocketServers may share one server with different `path`s; an upgrade to a path
   * nobody serves is answered 404.
   */
  server: HttpServer | HttpsServer;
  /** Not in attached mode (the HTTP server listens). */
  port?: never;
  /** Not in attached mode. */
  host?: never;
  /** Not in attached mode (attach to an HTTPS server for `wss://`). */
  tls?: never;
  /** Not in attached mode. */
  noServer?: never;
}

/** `noServer` mode: no listener at all; pass upgrades in with `handleUpgrade()`. */
export interface NoServerOptions<Data> extends CommonServerOptions<Data> {
  /** Take upgrades only through `handleUpgrade()`. */
  noServer: true;
  /** Not in `noServer` mode. */
  port?: never;
  /** Not in `noServer` mode. */
  host?: never;
  /** Not in `noServer` mode. */
  tls?: never;
  /** Not in `noServer` mode. */
  server?: never;
}

/**
 * The options of {@link WebSocketServer} that every mode shares.
 *
 * @typeParam Data - the per-connection data that `authenticate` returns
 */
export interface CommonServerOptions<Data> {
  /** What happens on each connection. */
  handlers: WebSocketHandlers<Data>;
  /**
   * Accept only upgrades whose path (without the query) is exactly this. Without it, any
   * path is accepted (in attached mode: any path no other server claimed).
   */
  path?: string;

  /**
   * Check the handshake and attach per-connection data. Return the data (or a promise
   * of it) to accept; throw a `HandshakeError` with a status (401, 403, 429, ...) to
   * refuse with that status and message. Any other exception refuses with 500 and is
   * reported like a handler error. Use {@link constantTimeEqual} to compare secrets.
   */
  authenticate?: (request: UpgradeRequestContext) => Data | Promise<Data>;
  /**
   * Pick a subprotocol from those the client offered (in its order of preference), or
   * return undefined for none. It must return one of `offered`.
   * @defaultValue none is selected
   */
  selectProtocol?: (offered: readonly string[], request: UpgradeRequestContext) => string | undefined;
  /**
   * Browser origins allowed besides the server's own (see {@link OriginPolicy}). A
   * request with a foreign `Origin` is refused with 403.
   * @defaultValue only same-origin browser requests (and all non-browser ones)
   */
  origins?: OriginPolicy;

  /**
   * Deliver text messages as `Buffer` (valid UTF-8) instead of `string`, saving the
   * decode when the bytes only pass through (an echo, a relay).
   * @defaultValue true
   */
  decodeText?: boolean;
  /** Largest message in bytes; a bigger one closes with 1009. @defaultValue 1 MiB (`limits.DEFAULT_MAX_PAYLOAD`) */
  maxPayload?: number;
  /** Most frames per message; more closes with 1009. @defaultValue 4096 (`limits.DEFAULT_MAX_FRAGMENTS`) */
  maxFragments?: number;
  /** Time from TCP accept (or `handleUpgrade`) to the 101 response, in ms. @defaultValue 10 000 */
  handshakeTimeout?: number;
  /** Largest handshake request head in bytes; more is answered 431. @defaultValue 16 KiB */
  maxHandshakeBytes?: number;
  /** Most header fields in a handshake request; more is answered 431. @defaultValue 100 */
  maxHandshakeHeaders?: number;
  /** Time for the closing handshake (and for the peer to close TCP after it), in ms. @defaultValue 10 000 */
  closeTimeout?: number;
  /** Interval between heartbeat pings in ms; 0 turns heartbeats off. @defaultValue 30 000 */
  pingInterval?: number;
  /** Time for a heartbeat pong in ms before the peer is terminated (reported as 1006). @defaultValue 30 000 */
  pongTimeout?: number;
  /**
   * Most outbound bytes buffered per connection (queued plus in the socket). A `send()`
   * that would pass it is dropped (see {@link SendStatus}). @defaultValue 16 MiB
   */
  maxBufferedBytes?: number;
  /**
   * Buffered bytes above which `send()` reports `queued` and the server stops reading
   * from that peer until its output drains. Any value holds, including ones below the
   * 16 KiB mark of Node's sockets (the server then asks for the write callback of each
   * batch that takes the socket past it, instead of waiting for the socket's `'drain'`).
   * @defaultValue 64 KiB
   */
  highWaterMark?: number;
  /**
   * Close the connection with 1008 when a `send()` is dropped for `maxBufferedBytes`
   * (instead of only reporting `dropped`). @defaultValue false
   */
  closeOnBackpressureLimit?: boolean;
  /**
   * permessage-deflate (RFC 7692): `true` accepts a client's offer with
   * {@link SERVER_DEFLATE_DEFAULTS}; an options object accepts it with those defaults
   * overridden by what you give; `false` declines every offer.
   *
   * On by default, with settings that keep an idle connection as light as one without
   * compression: `ws` turns compression off on its servers because each connection with
   * context takeover holds its own zlib streams (~240 KiB here, whether it is busy or not).
   * The defaults here ask for no context takeover in both directions
   * (`server_no_context_takeover` and `client_no_context_takeover`, which every client
   * must honour), so a connection borrows a pooled stream for the length of one message
   * and holds none in between (~2 KiB per idle connection, measured), messages under
   * 1 KiB go uncompressed, and one compressed broadcast (`prepareMessage`) can go to every
   * subscriber. What it costs: messages cannot refer to earlier ones, so streams of small
   * similar messages compress less than with context takeover. For that, set
   * `serverNoContextTakeover` / `clientNoContextTakeover` to false (and consider
   * `hibernation`, smaller windows or a lower `memLevel`; see docs/permessage-deflate.md).
   *
   * Inflation is bounded by `maxPayload` as it runs (a decompression bomb closes with
   * 1009), and all zlib work runs synchronously on the event loop: nothing queues in
   * Node's thread pool, so no concurrency limit is needed.
   * @defaultValue true
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /**
   * Carries topic publishes to the other server processes of the application (see
   * `docs/scaling.md`): an `InProcessBroker` on a shared `InProcessHub` for several
   * servers in one process, `RedisBroker` from `@sockeye/redis` across processes and
   * machines. The server attaches itself to it (a broker serves one server: one already
   * attached makes the constructor throw a `BrokerError`), and {@link WebSocketServer.close}
   * closes it, the default one and one passed in alike.
   * @defaultValue a new `InProcessBroker` of its own (publishes stay in this server)
   */
  broker?: Broker;
  /**
   * Limits on topics: longest topic name (256 characters) and most topics per connection
   * (1,000). `ws.subscribe()` past them throws a `TopicError` (close code 1008).
   */
  topics?: TopicRegistryOptions;
  /** Extra headers for every 101 response (validated: no CR/LF injection). */
  headers?: Readonly<Record<string, string>>;
  /**
   * Observe the raw bytes of every connection as they crossed the wire (incoming bytes
   * still masked, as received; outgoing as written), for a frame inspector or a capture.
   * Costs a copy of every incoming chunk: leave it unset in production.
   */
  wiretap?: (ws: ServerWebSocket<Data>, direction: WireDirection, bytes: Buffer) => void;

  // ---- operations: caps, rates, lifetimes, the client address, counts (docs/operations.md) ----

  /**
   * Caps checked at the upgrade, before any per-connection state: most connections
   * (answered 503), most per client address (429; IPv6 grouped by `ipv6Prefix`), a
   * handshake rate per address (429); refusals carry `Retry-After`.
   * @defaultValue no caps
   */
  connectionLimits?: ConnectionLimitOptions;
  /**
   * Incoming message rates per connection (messages and bytes per second) and what to do
   * past them: close with 1008 (the default) or drop the message and report it.
   * @defaultValue no limits (the receive path does no extra work)
   */
  messageLimits?: MessageLimitOptions;
  /**
   * Publishes per second per topic (`server.publish` and `ws.publish` alike); past it a
   * publish is dropped (returns 0) and reported as a `publish-rate` limit.
   * @defaultValue no limit
   */
  publishRate?: RateLimit;
  /** Most topics whose publish rate is remembered (least recently used forgotten first). @defaultValue 10 000 */
  maxTrackedTopics?: number;
  /**
   * Close a connection this long after it opened (ms), with 1001, less a random jitter
   * (`lifetimeJitter`) so connections opened together do not all close together.
   * 0 turns it off. @defaultValue 0
   */
  maxLifetime?: number;
  /** The most a lifetime is shortened by, at random (ms, at most `maxLifetime`). @defaultValue `maxLifetime / 10` */
  lifetimeJitter?: number;
  /**
   * Close a connection with 1000 after this long (ms) without a message from the peer
   * (pings and pongs do not count: this is not the heartbeat, which finds dead peers;
   * this finds live but unused ones). 0 turns it off. @defaultValue 0
   */
  idleTimeout?: number;
  /**
   * Proxies (addresses or CIDRs, IPv4 and IPv6) whose `Forwarded` (or `X-Forwarded-For`)
   * header says who the client is. From any other peer those headers are ignored.
   * @defaultValue none: the client address is the TCP peer's
   */
  trustProxy?: readonly string[];
  /**
   * Standalone mode: every connection starts with a PROXY protocol header (v1 or v2, as
   * HAProxy and cloud load balancers send it), which gives the client address. A
   * connection without a valid one is closed without an answer. Only for a port the
   * proxy alone can reach. With `tls`, the header comes first and TLS after it (a proxy
   * passing TLS through).
   * @defaultValue false
   */
  proxyProtocol?: boolean;
  /**
   * Count messages both ways for `stats()` (one increment per message; off, the counts
   * stay 0). A message limit, lifetime or idle timeout turns it on too.
   * @defaultValue false
   */
  countMessages?: boolean;
}
