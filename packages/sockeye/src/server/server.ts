import { EventEmitter } from 'node:events';
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { type AddressInfo, createServer, type Server as NetServer, type Socket } from 'node:net';
import { createSecureContext, TLSSocket, type TlsOptions } from 'node:tls';
import { inspect } from 'node:util';
import {
  buildAcceptResponse,
  buildFrame,
  buildRejectResponse,
  CloseCode,
  type CloseInfo,
  FIN_BIT,
  HandshakeError,
  type HeaderMap,
  HttpHeadParser,
  InternalError,
  isValidWireCloseCode,
  limits,
  Opcode,
  PerMessageDeflate,
  type PerMessageDeflateExtension,
  type PerMessageDeflateOptions,
  type PreparedMessage,
  type RequestHead,
  type UpgradeRequestInfo,
  validateRequest,
} from '../protocol/index.js';
import { checkInteger, MAX_TIMEOUT_MS } from '../protocol/validate.js';
import {
  type Broker,
  BrokerError,
  type BrokerLoss,
  type BrokerMessage,
  type BrokerStatus,
  InProcessBroker,
  TopicRegistry,
} from '../pubsub/index.js';
import { AddressSet, normalizeIp, resolveClientAddress } from './client-address.js';
import {
  type CloseDiagnostic,
  ConnectionInfo,
  channels,
  type HandshakeDiagnostic,
  type LimitDiagnostic,
  type MessageDiagnostic,
  nextConnectionId,
  type PublishDiagnostic,
  type ServerStats,
  StatsCounters,
} from './diagnostics.js';
import {
  BucketTable,
  ConnectionGate,
  ConnectionOps,
  checkNumber,
  checkRate,
  DEFAULT_MAX_TRACKED_TOPICS,
  type LimitHit,
  type LimitKind,
  type OpsSettings,
  opsSettings,
} from './limits.js';
import { checkServerOptions } from './options.js';
import { isOriginAllowed, type OriginPolicy } from './origin.js';
import { ProxyHeaderParser, ProxyProtocolError } from './proxy-protocol.js';
import {
  type PublishData,
  type PublishOptions,
  SendStatus,
  type UpgradeRequestContext,
  type WebSocketHandlers,
  type WebSocketServerOptions,
  type WireDirection,
} from './types.js';
import { type ConnectionHost, kSocketOwner, ServerWebSocket } from './websocket.js';

/** Events of a {@link WebSocketServer} (server-level only; connections use the handlers). */
export interface WebSocketServerEvents {
  /** Standalone mode: the server is listening. */
  listening: [address: AddressInfo];
  /**
   * Standalone mode: the listener failed (e.g. EADDRINUSE; thrown, as by any Node server,
   * when there is no listener and no `listen()` call waiting). Also handler and hook
   * errors when `handlers.error` is absent.
   */
  error: [error: unknown];
  /**
   * Topic messages were lost, as this server's broker saw it (see `BrokerLoss` and
   * docs/scaling.md): published while the broker's transport was down, a gap in another
   * server's messages, a publish after `close()`. Without a listener, the first loss
   * becomes a process warning.
   */
  lost: [loss: BrokerLoss];
  /**
   * The broker reported an error (a refused Redis connection, a failed resubscription,
   * ...); it carries on and reconnects by itself. Without a listener, the first one
   * becomes a process warning.
   */
  brokerError: [error: BrokerError];
  /** The broker went `up`, `down` (its transport is away: publishes are lost) or `closed`. */
  brokerStatus: [status: BrokerStatus];
  /**
   * A configured limit was hit (a connection cap, a rate, a lifetime): what, for whom, and
   * what was done. Also published on the `sockeye:limit` diagnostics channel.
   */
  limit: [hit: LimitHit];
}

/** Options of {@link WebSocketServer.close}. */
export interface ServerCloseOptions {
  /**
   * How long to wait for the closing handshakes before terminating the connections left.
   * @defaultValue the server's `closeTimeout`
   */
  timeout?: number;
  /** The close code sent to every connection. @defaultValue 1001 (going away) */
  code?: number;
  /** The close reason sent to every connection. @defaultValue `'server shutting down'` */
  reason?: string;
}

/**
 * A handshake in progress: a socket that has no WebSocket yet, and when it must be done.
 * The socket points back to it (`kSocketOwner`) so that its listeners are functions shared
 * by every socket rather than closures made per connection; once the WebSocket takes over,
 * the socket lets go of it, its parser and its listeners (an idle connection keeps nothing
 * of its handshake).
 */
class PendingHandshake {
  /** Standalone mode: the request head being collected. */
  parser: HttpHeadParser<RequestHead> | null = null;
  /** Standalone mode with `proxyProtocol`: the PROXY header being read (before the request). */
  proxy: ProxyHeaderParser | null = null;
  /** The client address a PROXY header gave (undefined: the TCP peer's). */
  proxiedAddress: string | undefined = undefined;
  /** The real client address, once the request is read. */
  clientAddress = '';
  /** The request's path, once read. */
  path = '';
  /** The address group admitted by the connection caps (to release when the handshake fails). */
  group: string | null = null;
  /** The handshake was refused (and reported as such). */
  refused = false;
  /** Standalone `wss://` with `proxyProtocol`: TLS starts after the PROXY header, on this. */
  tlsWrap: ((socket: Socket) => TLSSocket) | null = null;
  constructor(
    readonly server: WebSocketServer<unknown>,
    readonly socket: Socket,
    readonly deadline: number,
  ) {}
}

/** While the handshake runs, the socket's owner is its PendingHandshake (see `kSocketOwner`). */
type HandshakeSocket = Socket & { [kSocketOwner]?: PendingHandshake | ServerWebSocket<unknown> | undefined };

// Socket listeners of the handshake, shared by every socket (`this` is the socket).
function onHandshakeData(this: Socket, chunk: Buffer): void {
  const pending = (this as HandshakeSocket)[kSocketOwner];
  if (pending instanceof PendingHandshake) pending.server._handshakeData(pending, chunk);
}
function onHandshakeClose(this: Socket): void {
  const pending = (this as HandshakeSocket)[kSocketOwner];
  if (pending instanceof PendingHandshake) pending.server._handshakeGone(pending);
}

/** The request as the server needs it, whichever parser produced it. */
interface RawRequest {
  method: string;
  url: string;
  httpVersion: string;
  headers: HeaderMap;
}

/**
 * The permessage-deflate settings of a server with `perMessageDeflate: true` (and the
 * base an options object overrides): no context takeover either way, so that an idle
 * connection holds no zlib stream; zlib level 1; messages of 1 KiB and more compressed.
 * See {@link WebSocketServerOptions.perMessageDeflate} for the reasons.
 */
export const SERVER_DEFLATE_DEFAULTS: Readonly<PerMessageDeflateOptions> = Object.freeze({
  serverNoContextTakeover: true,
  clientNoContextTakeover: true,
});

/** Sweep resolution bounds: never busier than every 10 ms, never coarser than 1 s. */
const MIN_SWEEP_MS = 10;
const MAX_SWEEP_MS = 1000;

function noop(): void {}

/** A broker that broke its contract (threw, or rejected), as a `brokerError`. */
function brokerFailure(kind: 'publish' | 'subscribe', cause: unknown): BrokerError {
  return new BrokerError(kind, `the broker failed to ${kind}: ${String(cause)}`, { cause });
}

/**
 * A WebSocket server on sockeye's protocol core. Three modes:
 * - standalone: `new WebSocketServer({ port, handlers })` listens on its own TCP server
 *   and parses the handshake itself (bounded in bytes and time from the TCP accept);
 *   with `tls: { key, cert }` it serves `wss://` itself;
 * - attached: `new WebSocketServer({ server: httpServer, path, handlers })` takes the
 *   HTTP(S) server's upgrades (several servers can share one by `path`);
 * - `noServer`: you call {@link WebSocketServer.handleUpgrade} from your own `upgrade`
 *   listener.
 *
 * One timer per server sweeps every connection for handshake, close and heartbeat
 * deadlines (no timer per socket). Close it with {@link WebSocketServer.close}.
 *
 * @typeParam Data - the per-connection data that `authenticate` returns
 *
 * @example
 * ```ts
 * const server = new WebSocketServer({
 *   port: 8080,
 *   handlers: { message(ws, data, isBinary) { ws.send(data, isBinary); } },
 * });
 * ```
 */
export class WebSocketServer<Data = undefined>
  extends EventEmitter<WebSocketServerEvents>
  implements ConnectionHost<Data>
{
  /** @internal */ readonly handlers: WebSocketHandlers<Data>;
  /** @internal */ readonly decodeText: boolean;
  /** @internal */ readonly maxBufferedBytes: number;
  /** @internal */ readonly highWaterMark: number;
  /** @internal */ readonly closeOnBackpressureLimit: boolean;
  /** @internal */ readonly closeTimeout: number;
  /** @internal */ readonly pingInterval: number;
  /** @internal */ readonly wiretap:
    | ((ws: ServerWebSocket<Data>, direction: WireDirection, bytes: Buffer) => void)
    | undefined;
  /** The `path` option: the only path this server accepts, or undefined for any. */
  readonly path: string | undefined;
  /**
   * The server's permessage-deflate configuration and stream pool, or null when
   * compression is off. `publish` compresses a message once with its `prepareMessage()`
   * for every subscriber without context takeover.
   */
  readonly perMessageDeflate: PerMessageDeflate | null;
  /**
   * The broker that carries this server's topic publishes to the other servers (the
   * `broker` option, or the server's own `InProcessBroker`). Closed by {@link WebSocketServer.close}.
   */
  readonly broker: Broker;
  /** @internal */ readonly topicRegistry: TopicRegistry<ServerWebSocket<Data>>;

  private readonly options: WebSocketServerOptions<Data>;
  private readonly connectionOptions: { maxPayload: number; maxFragments: number };
  private readonly handshakeTimeout: number;
  private readonly pongTimeout: number;
  private readonly maxHandshakeBytes: number;
  private readonly maxHandshakeHeaders: number;
  private readonly origins: OriginPolicy | undefined;
  private readonly netServer: NetServer | null = null;
  private readonly httpServer: HttpServer | HttpsServer | null = null;

  /** Open connections (state `open` or `closing`). */
  private readonly openClients = new Set<ServerWebSocket<Data>>();
  /** Every socket with a WebSocket on it, until TCP is gone (includes lingering closed ones). */
  private readonly sockets = new Set<ServerWebSocket<Data>>();
  private readonly pending = new Set<PendingHandshake>();
  private readonly sweepMs: number;
  private timer: NodeJS.Timeout | null = null;
  private dirty: ServerWebSocket<Data>[] = [];
  private flushScheduled = false;
  private shuttingDown = false;
  private closePromise: Promise<void> | null = null;
  private onAllClosed: (() => void) | null = null;
  private listenError: unknown = null;
  private listenWaiters = 0;
  /** Events already turned into a process warning for want of a listener. */
  private readonly warned = new Set<'lost' | 'brokerError'>();
  /** Connection caps and handshake rates (null: none configured). */
  private readonly gate: ConnectionGate | null;
  /** Proxies whose `Forwarded` / `X-Forwarded-For` is believed (null: none). */
  private readonly trustedProxies: AddressSet | null;
  private readonly proxyProtocol: boolean;
  /** Per-connection limits, lifetime, idle timeout (null: none, and connections get no ConnectionOps). */
  private readonly ops: OpsSettings | null;
  /** Publish rate by topic (null: no limit). */
  private readonly publishRates: BucketTable | null;
  private readonly counters = new StatsCounters();

  /**
   * @throws TypeError unless exactly one of `port`, `server` and `noServer` is given, for
   * an option of the wrong type (see {@link checkServerOptions}), or when another server
   * on the same HTTP server already serves this `path`; RangeError for a number out of
   * range (a `maxPayload` that a `Buffer`, or with `decodeText` a string, cannot hold)
   */
  constructor(options: WebSocketServerOptions<Data>) {
    super();
    checkServerOptions(options);
    this.options = options;
    this.handlers = options.handlers;
    this.decodeText = options.decodeText ?? true;
    this.maxBufferedBytes = options.maxBufferedBytes ?? limits.DEFAULT_MAX_BUFFERED_BYTES;
    this.highWaterMark = options.highWaterMark ?? limits.DEFAULT_HIGH_WATER_MARK;
    this.closeOnBackpressureLimit = options.closeOnBackpressureLimit ?? false;
    this.closeTimeout = options.closeTimeout ?? limits.DEFAULT_CLOSE_TIMEOUT_MS;
    this.pingInterval = options.pingInterval ?? limits.DEFAULT_PING_INTERVAL_MS;
    this.pongTimeout = options.pongTimeout ?? limits.DEFAULT_PONG_TIMEOUT_MS;
    this.handshakeTimeout = options.handshakeTimeout ?? limits.DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.maxHandshakeBytes = options.maxHandshakeBytes ?? limits.DEFAULT_MAX_HANDSHAKE_BYTES;
    this.maxHandshakeHeaders = options.maxHandshakeHeaders ?? limits.DEFAULT_MAX_HANDSHAKE_HEADERS;
    this.connectionOptions = {
      maxPayload: options.maxPayload ?? limits.DEFAULT_MAX_PAYLOAD,
      maxFragments: options.maxFragments ?? limits.DEFAULT_MAX_FRAGMENTS,
    };
    const deflate = options.perMessageDeflate ?? true;
    this.perMessageDeflate =
      deflate === false
        ? null
        : new PerMessageDeflate({ ...SERVER_DEFLATE_DEFAULTS, ...(deflate === true ? {} : deflate) });
    this.origins = options.origins;
    this.wiretap = options.wiretap;
    this.path = options.path;
    this.broker = options.broker ?? new InProcessBroker();
    this.topicRegistry = new TopicRegistry(this.broker, options.topics, (error: unknown) =>
      this.brokerEvent('brokerError', brokerFailure('subscribe', error)),
    );
    this.broker.attach({
      onMessage: (message: BrokerMessage) => {
        this.deliverObserved(message.topic, message.data, !message.isBinary, null);
      },
      onLost: (loss: BrokerLoss) => this.brokerEvent('lost', loss),
      onError: (error: BrokerError) => this.brokerEvent('brokerError', error),
      onStatus: (status: BrokerStatus) => this.emit('brokerStatus', status),
    });
    this.gate = options.connectionLimits === undefined ? null : new ConnectionGate(options.connectionLimits);
    this.trustedProxies =
      options.trustProxy === undefined ? null : new AddressSet(options.trustProxy, 'trustProxy');
    this.proxyProtocol = options.proxyProtocol ?? false;
    if (typeof this.proxyProtocol !== 'boolean') throw new TypeError('proxyProtocol must be a boolean');
    if (this.proxyProtocol && options.port === undefined) {
      throw new TypeError('the proxyProtocol option is for standalone mode (port)');
    }
    const countMessages = options.countMessages ?? false;
    if (typeof countMessages !== 'boolean') throw new TypeError('countMessages must be a boolean');
    this.ops =
      opsSettings(options) ??
      (countMessages
        ? {
            messageRate: null,
            byteRate: null,
            policy: 'close',
            maxLifetime: 0,
            lifetimeJitter: 0,
            idleTimeout: 0,
          }
        : null);
    const publishRate = checkRate('publishRate', options.publishRate);
    const maxTrackedTopics = checkNumber(
      'maxTrackedTopics',
      options.maxTrackedTopics ?? DEFAULT_MAX_TRACKED_TOPICS,
      {
        min: 1,
        integer: true,
      },
    );
    this.publishRates = publishRate === null ? null : new BucketTable(publishRate, maxTrackedTopics);
    const periods = [this.handshakeTimeout, this.closeTimeout];
    if (this.pingInterval > 0) periods.push(this.pingInterval, this.pongTimeout);
    if (this.ops !== null) {
      if (this.ops.idleTimeout > 0) periods.push(this.ops.idleTimeout);
      if (this.ops.maxLifetime > 0) periods.push(this.ops.maxLifetime - this.ops.lifetimeJitter);
    }
    // A deadline fires at most a quarter of its period late.
    this.sweepMs = Math.max(MIN_SWEEP_MS, Math.min(MAX_SWEEP_MS, Math.floor(Math.min(...periods) / 4)));

    if (options.port !== undefined) {
      const wrap = options.tls === undefined ? null : tlsWrapper(options.tls);
      const netServer = createServer({ noDelay: true }, (socket) => {
        // The PROXY header comes before TLS: read it on the TCP socket, then wrap.
        if (wrap !== null && this.proxyProtocol) this.acceptSocket(socket, wrap);
        else this.acceptSocket(wrap === null ? socket : wrap(socket));
      });
      this.netServer = netServer;
      netServer.on('error', (error) => {
        this.listenError = error;
        // Like any Node server: an error nobody handles (no 'error' listener, no listen()
        // waiting for it) is thrown, rather than leaving a server that silently never listens.
        if (this.listenerCount('error') > 0 || this.listenWaiters === 0) this.emit('error', error);
      });
      netServer.on('listening', () => this.emit('listening', netServer.address() as AddressInfo));
      netServer.listen(options.port, options.host);
    } else if (options.server !== undefined) {
      this.httpServer = options.server;
      UpgradeRouter.for(options.server).add(this);
    }
  }

  /** The connections that are open or closing. */
  get clients(): ReadonlySet<ServerWebSocket<Data>> {
    return this.openClients;
  }

  /**
   * TCP connections this server holds: handshakes in progress (or being refused), open
   * WebSockets, and closed ones whose TCP connection has not ended yet. 0 once everything
   * has been let go (a diagnostic: it should return to 0 when clients leave).
   */
  get socketCount(): number {
    return this.pending.size + this.sockets.size;
  }

  /** Standalone mode: the bound address once listening (null before, and in other modes). */
  address(): AddressInfo | null {
    const address = this.netServer?.address();
    return typeof address === 'object' && address !== null ? address : null;
  }

  /**
   * Standalone mode: resolves with the bound address once listening (at once if already),
   * rejects if listening failed. Other modes: resolves with null.
   */
  listen(): Promise<AddressInfo | null> {
    const netServer = this.netServer;
    if (netServer === null) return Promise.resolve(null);
    if (netServer.listening) return Promise.resolve(this.address());
    if (this.listenError !== null) return Promise.reject(this.listenError);
    this.listenWaiters++;
    return new Promise((resolve, reject) => {
      const onListening = () => {
        this.listenWaiters--;
        netServer.off('error', onError);
        resolve(this.address());
      };
      const onError = (error: unknown) => {
        this.listenWaiters--;
        netServer.off('listening', onListening);
        reject(error);
      };
      netServer.once('listening', onListening);
      netServer.once('error', onError);
    });
  }

  /**
   * Publish a message to every connection subscribed to `topic` (see
   * `ServerWebSocket.subscribe`), on this server and, through the broker, on the other
   * servers of the application. The message is framed once and the same bytes are
   * written to every local subscriber. Each subscriber's backpressure policy applies, as
   * for `send()`: one whose buffered bytes would pass `maxBufferedBytes` is skipped for
   * this message (or closed with 1008 under `closeOnBackpressureLimit`); memory never
   * grows without bound. `data` is copied: it may be reused once this returns.
   * @returns how many local subscribers it was queued for (the other servers' are not
   *   counted: the broker delivers to them later; losses come as `lost` events)
   * @throws `TopicError` (close code 1008) for an empty or too long topic name
   */
  publish(topic: string, data: PublishData, options?: PublishOptions): number {
    return this.publishFrom(null, topic, data, options);
  }

  /** How many connections of this server are subscribed to `topic` (other servers' are not counted). */
  subscriberCount(topic: string): number {
    return this.topicRegistry.subscriberCount(topic);
  }

  /** @internal */
  publishFrom(
    sender: ServerWebSocket<Data> | null,
    topic: string,
    data: PublishData,
    options: PublishOptions | undefined,
  ): number {
    this.topicRegistry.checkTopic(topic);
    if (this.publishRates !== null && !this.publishRates.take(topic, 1, Date.now())) {
      this.limitHit({
        kind: 'publish-rate',
        clientAddress: sender?._info.clientAddress,
        connectionId: sender?._info.id,
        topic,
        action: 'dropped',
      });
      return 0;
    }
    const isText = !(options?.isBinary ?? typeof data !== 'string');
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : toBytes(data);
    const count = this.deliverObserved(topic, bytes, isText, sender);
    try {
      this.broker.publish(topic, bytes, !isText);
    } catch (error) {
      // A broker must never throw here; one that does loses the message, not the caller's code.
      this.brokerEvent('brokerError', brokerFailure('publish', error));
    }
    return count;
  }

  /** {@link deliver}, timed and published on `sockeye:publish` when that channel has subscribers. */
  private deliverObserved(
    topic: string,
    bytes: Uint8Array,
    isText: boolean,
    sender: ServerWebSocket<Data> | null,
  ): number {
    if (!channels.publish.hasSubscribers) return this.deliver(topic, bytes, isText, sender);
    const started = performance.now();
    const recipients = this.deliver(topic, bytes, isText, sender);
    const message: PublishDiagnostic = {
      server: this,
      topic,
      bytes: bytes.length,
      recipients,
      fanOutMs: performance.now() - started,
      connection: sender?._info ?? null,
    };
    channels.publish.publish(message);
    return recipients;
  }

  /** Write a message to the local subscribers of `topic` but `except`, framed once. */
  private deliver(
    topic: string,
    bytes: Uint8Array,
    isText: boolean,
    except: ServerWebSocket<Data> | null,
  ): number {
    const subscribers = this.topicRegistry.subscribers(topic);
    const size = subscribers.size;
    if (size === 0 || (size === 1 && except !== null && subscribers.has(except))) return 0;
    // One frame for everybody: each connection queues this same Buffer (no copy, no
    // header per connection); `data` is a view of it, the server's own copy.
    // With permessage-deflate, the payload is also compressed once (when a subscriber
    // negotiated it): connections without the extension take the frame, those without
    // context takeover the compressed payload, the others compress it themselves.
    const frame = buildFrame(FIN_BIT | (isText ? Opcode.Text : Opcode.Binary), bytes);
    const data = frame.subarray(frame.length - bytes.length);
    const deflate = this.perMessageDeflate;
    let message: PreparedMessage = { data, isText, extension: '', encoded: null, windowBits: 0, frame };
    if (deflate !== null && anyCompressed(subscribers, except)) {
      try {
        message = { ...deflate.prepareMessage(data, isText), frame };
      } catch (error) {
        // The codec failed: report it and send the frame as it is (a connection that must
        // compress does it itself, and fails alone with 1011 if its codec fails too).
        this.reportServerError(new InternalError(error));
      }
    }
    let count = 0;
    for (const ws of subscribers) {
      if (ws !== except && ws._sendPrepared(message) !== SendStatus.Dropped) count++;
    }
    return count;
  }

  /** A loss or an error from the broker: to its listeners, or once as a process warning. */
  private brokerEvent(name: 'lost', value: BrokerLoss): void;
  private brokerEvent(name: 'brokerError', value: BrokerError): void;
  private brokerEvent(name: 'lost' | 'brokerError', value: BrokerLoss | BrokerError): void {
    if (this.listenerCount(name) > 0) {
      if (name === 'lost') this.emit('lost', value as BrokerLoss);
      else this.emit('brokerError', value as BrokerError);
      return;
    }
    if (this.warned.has(name)) return;
    this.warned.add(name);
    const what =
      name === 'lost'
        ? `lost ${(value as BrokerLoss).count} message(s) on topic ${JSON.stringify((value as BrokerLoss).topic)} (${(value as BrokerLoss).reason})`
        : `broker error: ${(value as BrokerError).message}`;
    process.emitWarning(`sockeye: ${what}; listen to the server's '${name}' event (warned once)`);
  }

  /**
   * Take over an upgrade request that Node's HTTP server parsed (attached and `noServer`
   * modes). Validates it, runs the origin check, `authenticate` and `selectProtocol`, and
   * either answers 101 and opens the connection (resolving with it) or answers with an
   * error status and resolves with undefined. Never rejects.
   */
  handleUpgrade(
    request: IncomingMessage,
    socket: Socket,
    head: Buffer,
  ): Promise<ServerWebSocket<Data> | undefined> {
    try {
      return this.takeUpgrade(request, socket, head);
    } catch (error) {
      // A bug of ours, or a socket unlike any Node gave before: reported, never thrown
      // into the http server's 'upgrade' emitter (where it would reach the process).
      this.reportServerError(new InternalError(error));
      socket.destroy();
      return Promise.resolve(undefined);
    }
  }

  private takeUpgrade(
    request: IncomingMessage,
    socket: Socket,
    head: Buffer,
  ): Promise<ServerWebSocket<Data> | undefined> {
    socket.pause();
    socket.on('error', noop);
    // Node 26 hands an upgrade request that announces a body over with a Duplex of its own
    // (an `UpgradeStream`), not a net.Socket: it has no setTimeout (and such a request is
    // refused with 400 below, by validateRequest).
    if (typeof socket.setTimeout === 'function') socket.setTimeout(0);
    const pending = this.track(socket);
    const raw: RawRequest = {
      method: request.method ?? '',
      url: request.url ?? '/',
      httpVersion: request.httpVersion,
      headers: request.headers,
    };
    // Node keeps at most `maxHeadersCount` fields (2000) and drops the rest silently: a
    // header the handshake depends on may be among them. Count the raw fields ourselves.
    const fieldCount = request.rawHeaders.length / 2;
    if (fieldCount > this.maxHandshakeHeaders) {
      this.reject(socket, new HandshakeError(431, `more than ${this.maxHandshakeHeaders} header fields`));
      return Promise.resolve(undefined);
    }
    let bytes = raw.url.length + raw.method.length + 12;
    for (const field of request.rawHeaders) bytes += field.length + 2;
    if (bytes > this.maxHandshakeBytes) {
      this.reject(socket, new HandshakeError(431, 'request header fields too large'));
      return Promise.resolve(undefined);
    }
    return this.upgrade(raw, socket, head, request, pending);
  }

  /**
   * Shut down gracefully: refuse new upgrades with 503, send a close frame (1001) to
   * every connection, wait for their closing handshakes up to `timeout`, terminate the
   * rest, stop listening, close the broker (the `broker` option's too), and resolve.
   * Calling it again returns the same promise.
   * @throws RangeError (before anything is closed) for a `timeout` out of range, a `code`
   * that may not be sent or a `reason` over 123 bytes
   */
  close(options: ServerCloseOptions = {}): Promise<void> {
    if (this.closePromise !== null) return this.closePromise;
    const timeout = options.timeout ?? this.closeTimeout;
    const code = options.code ?? CloseCode.GoingAway;
    const reason = options.reason ?? 'server shutting down';
    // Checked here, not by the first connection's close() half-way through the shutdown.
    checkInteger('timeout', options.timeout, 0, MAX_TIMEOUT_MS);
    if (!isValidWireCloseCode(code)) throw new RangeError(`code ${code} may not be sent in a close frame`);
    if (Buffer.byteLength(reason) > limits.MAX_CLOSE_REASON_BYTES) {
      throw new RangeError(`reason longer than ${limits.MAX_CLOSE_REASON_BYTES} bytes`);
    }
    this.shuttingDown = true;
    this.closePromise = (async () => {
      for (const ws of this.openClients) ws.close(code, reason);
      if (this.sockets.size > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeout);
          this.onAllClosed = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.onAllClosed = null;
      }
      for (const ws of this.sockets) ws.terminate();
      for (const handshake of this.pending) handshake.socket.destroy();
      this.pending.clear();
      this.sockets.clear();
      this.stopTimer();
      this.perMessageDeflate?.pool.clear();
      if (this.httpServer !== null) UpgradeRouter.for(this.httpServer).remove(this);
      const netServer = this.netServer;
      if (netServer?.listening) await new Promise<void>((resolve) => netServer.close(() => resolve()));
      await this.broker.close();
    })();
    return this.closePromise;
  }

  // ---- ConnectionHost ----

  /** @internal */
  now(): number {
    return Date.now();
  }

  /** @internal */
  scheduleFlush(ws: ServerWebSocket<Data>): void {
    this.dirty.push(ws);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    process.nextTick(() => this.flushDirty());
  }

  /** @internal */
  connectionClosed(ws: ServerWebSocket<Data>, close: CloseInfo): void {
    this.openClients.delete(ws);
    this.topicRegistry.unsubscribeAll(ws);
    this.counters.closed(close.code);
    if (!channels.close.hasSubscribers) return;
    const info = ws._info;
    // The core's record: our close frame (the one close() sent, the one we failed with, or
    // the answer to the peer's) and whether both crossed.
    const record = ws.closeRecord;
    const message: CloseDiagnostic = {
      server: this,
      connection: info,
      code: close.code,
      reason: close.reason,
      sentCode: record.sent === null ? 0 : record.sent.code,
      wasClean: record.wasClean,
      durationMs: Date.now() - info.openedAt,
    };
    channels.close.publish(message);
  }

  /** @internal */
  socketClosed(ws: ServerWebSocket<Data>): void {
    this.sockets.delete(ws);
    const socket = ws._socket;
    this.counters.bytesIn += socket.bytesRead;
    this.counters.bytesOut += socket.bytesWritten;
    const group = ws._info.gateGroup;
    if (group !== null) {
      ws._info.gateGroup = null;
      this.gate?.release(group);
    }
    this.maybeIdle();
  }

  /**
   * A message arrived on a connection with {@link ConnectionOps}: count it, apply the
   * message rates. Returns whether to deliver it.
   * @internal
   */
  admitMessage(ws: ServerWebSocket<Data>, ops: ConnectionOps, size: number): boolean {
    this.counters.messagesIn++;
    const exceeded = ops.check(size, Date.now());
    if (exceeded === null) return true;
    if (ws.readyState !== 'open') return false; // closing already (for this limit, likely): drop quietly
    const close = this.ops!.policy === 'close';
    this.limitHit({
      kind: exceeded,
      clientAddress: ws._info.clientAddress,
      connectionId: ws._info.id,
      action: close ? 'closed' : 'dropped',
    });
    if (close) ws.close(CloseCode.PolicyViolation, `${exceeded} limit exceeded`);
    return false;
  }

  /** A message was queued on a connection with {@link ConnectionOps}. @internal */
  countMessageOut(): void {
    this.counters.messagesOut++;
  }

  /** Publish a message on `sockeye:message` (the caller checked it has subscribers). @internal */
  observeMessage(ws: ServerWebSocket<Data>, direction: 'in' | 'out', bytes: number, isBinary: boolean): void {
    const message: MessageDiagnostic = { server: this, connection: ws._info, direction, bytes, isBinary };
    channels.message.publish(message);
  }

  /** Publish on `sockeye:backpressure` (the caller checked it has subscribers). @internal */
  observeBackpressure(ws: ServerWebSocket<Data>, state: 'reached' | 'drained'): void {
    channels.backpressure.publish({
      server: this,
      connection: ws._info,
      state,
      bufferedAmount: ws.bufferedAmount,
    });
  }

  /**
   * A snapshot of the server: connections, handshakes by result, messages and bytes both
   * ways, close codes, queued bytes, topics and subscriptions, limits hit (see
   * {@link ServerStats}). Costs a walk over the open connections; nothing is counted per
   * message unless `countMessages` (or a message limit) is on.
   */
  stats(): ServerStats {
    const counters = this.counters;
    let bytesIn = counters.bytesIn;
    let bytesOut = counters.bytesOut;
    for (const ws of this.sockets) {
      bytesIn += ws._socket.bytesRead;
      bytesOut += ws._socket.bytesWritten;
    }
    let queuedBytes = 0;
    let subscriptions = 0;
    for (const ws of this.openClients) {
      queuedBytes += ws.bufferedAmount;
      subscriptions += this.topicRegistry.topicsOf(ws).size;
    }
    return {
      connections: this.openClients.size,
      sockets: this.socketCount,
      handshakes: {
        accepted: counters.accepted,
        rejected: counters.rejected,
        byStatus: { ...counters.byStatus },
      },
      messages: { in: counters.messagesIn, out: counters.messagesOut },
      bytes: { in: bytesIn, out: bytesOut },
      closeCodes: { ...counters.closeCodes },
      queuedBytes,
      topics: this.topicRegistry.topicCount,
      subscriptions,
      limits: { ...counters.limits },
    };
  }

  /** A limit was hit: count it, tell the `limit` listeners and the `sockeye:limit` channel. */
  private limitHit(hit: LimitHit): void {
    this.counters.limit(hit.kind);
    if (channels.limit.hasSubscribers) {
      const message: LimitDiagnostic = { ...hit, server: this };
      channels.limit.publish(message);
    }
    if (this.listenerCount('limit') === 0) return;
    try {
      this.emit('limit', hit);
    } catch (error) {
      // A listener's bug must not fail the sweep or the connection that hit the limit.
      this.reportServerError(error);
    }
  }

  /** A handshake was refused (status 0: the socket was closed without an answer). */
  private handshakeRefused(pending: PendingHandshake, status: number, reason: string): void {
    pending.refused = true;
    this.counters.handshake(status);
    if (!channels.handshake.hasSubscribers) return;
    const message: HandshakeDiagnostic = {
      server: this,
      result: 'rejected',
      status,
      reason,
      clientAddress:
        pending.clientAddress || normalizeIp(pending.proxiedAddress ?? pending.socket.remoteAddress ?? ''),
      path: pending.path,
      connection: null,
    };
    channels.handshake.publish(message);
  }

  /** @internal */
  reportError(ws: ServerWebSocket<Data>, error: unknown): void {
    const handler = this.handlers.error;
    if (handler !== undefined) {
      try {
        handler(ws, error);
        return;
      } catch (secondary) {
        error = secondary;
      }
    }
    this.reportServerError(error);
  }

  /** An error with no connection to report it on (a failing `authenticate`, say). */
  private reportServerError(error: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    // With its stack (and its cause's, for an InternalError): a warning is all there is of it.
    else process.emitWarning(`sockeye: unhandled error in a WebSocket server hook: ${inspect(error)}`);
  }

  /** Serve a path that is not ours (attached mode router). @internal */
  _refuse(socket: Socket, error: HandshakeError): void {
    socket.on('error', noop);
    this.track(socket);
    this.reject(socket, error);
  }

  // ---- the opening handshake ----

  /** Standalone mode: a new TCP connection. Parse its handshake, bounded in bytes and time. */
  private acceptSocket(socket: Socket, tlsWrap: ((socket: Socket) => TLSSocket) | null = null): void {
    socket.on('error', noop);
    const pending = this.track(socket);
    pending.tlsWrap = tlsWrap;
    // When the TCP peer is the client (no PROXY header, not a trusted proxy), the caps
    // apply from the accept: a handshake that never finishes holds a place too, and a
    // refused one costs no parser.
    const gate = this.gate;
    if (gate !== null && !this.proxyProtocol && !(this.trustedProxies?.has(socket.remoteAddress) ?? false)) {
      pending.clientAddress = normalizeIp(socket.remoteAddress ?? '');
      try {
        this.admit(gate, pending);
      } catch (error) {
        this.reject(socket, error as HandshakeError);
        return;
      }
    }
    if (this.proxyProtocol) pending.proxy = new ProxyHeaderParser();
    pending.parser = new HttpHeadParser<RequestHead>('request', {
      maxBytes: this.maxHandshakeBytes,
      maxHeaders: this.maxHandshakeHeaders,
    });
    socket.on('data', onHandshakeData);
  }

  /**
   * Standalone mode with `proxyProtocol`: read the PROXY header. Returns the bytes after
   * it once complete, null while it is incomplete or after refusing it (a malformed header
   * closes the socket without an answer: the peer is a proxy, not an HTTP client).
   */
  private proxyHeader(pending: PendingHandshake, proxy: ProxyHeaderParser, chunk: Buffer): Buffer | null {
    try {
      const header = proxy.push(chunk);
      if (header === null) return null;
      pending.proxy = null;
      if (header.source !== null) pending.proxiedAddress = header.source.address;
      return header.rest;
    } catch (error) {
      if (!(error instanceof ProxyProtocolError)) throw error;
      pending.parser = null;
      pending.proxy = null;
      pending.socket.off('data', onHandshakeData);
      this.handshakeRefused(pending, 0, error.message);
      pending.socket.destroy();
      return null;
    }
  }

  /** Standalone mode: bytes of a handshake in progress. @internal */
  _handshakeData(pending: PendingHandshake, chunk: Buffer): void {
    const socket = pending.socket;
    if (pending.proxy !== null) {
      const rest = this.proxyHeader(pending, pending.proxy, chunk);
      if (rest === null) return;
      if (pending.tlsWrap !== null) {
        this.startTls(pending, pending.tlsWrap, rest);
        return;
      }
      if (rest.length === 0) return;
      chunk = rest;
    }
    const parser = pending.parser;
    if (parser === null) return;
    let parsed: ReturnType<typeof parser.push>;
    try {
      parsed = parser.push(chunk);
    } catch (error) {
      socket.off('data', onHandshakeData);
      if (error instanceof HandshakeError) {
        this.reject(socket, error);
      } else {
        // Not the client's doing: a bug of ours, answered 500 and reported, never thrown.
        this.reportServerError(new InternalError(error));
        this.reject(socket, new HandshakeError(500, 'internal server error'));
      }
      return;
    }
    if (parsed === null) return;
    pending.parser = null;
    socket.off('data', onHandshakeData);
    socket.pause();
    const head = parsed.head;
    void this.upgrade(
      { method: head.method, url: head.target, httpVersion: head.httpVersion, headers: head.headers },
      socket,
      parsed.rest,
      undefined,
      pending,
    );
  }

  /**
   * Standalone `wss://` with `proxyProtocol`: the PROXY header is read; hand the TCP
   * socket (with what followed the header put back) to TLS, and go on with the request on
   * the TLS socket, under the same deadline.
   */
  private startTls(pending: PendingHandshake, wrap: (socket: Socket) => TLSSocket, rest: Buffer): void {
    const socket = pending.socket;
    socket.off('data', onHandshakeData);
    socket.pause();
    if (rest.length > 0) socket.unshift(rest);
    this.release(pending);
    const secure = wrap(socket);
    secure.on('error', noop);
    // Whatever ends the TLS socket (a failed TLS handshake, the deadline) ends the TCP one.
    secure.once('close', () => socket.destroy());
    const next = this.track(secure, pending.deadline);
    next.proxiedAddress = pending.proxiedAddress;
    next.parser = pending.parser;
    secure.on('data', onHandshakeData);
  }

  /** The socket of a handshake in progress closed. @internal */
  _handshakeGone(pending: PendingHandshake): void {
    this.pending.delete(pending);
    this.releasePlace(pending);
    this.maybeIdle();
  }

  /** Validate, check, authenticate, then accept or refuse. Never rejects. */
  private async upgrade(
    request: RawRequest,
    socket: Socket,
    head: Buffer,
    incoming: IncomingMessage | undefined,
    pending: PendingHandshake,
  ): Promise<ServerWebSocket<Data> | undefined> {
    try {
      const path = pathOf(request.url);
      // The server's own string when it is the one path served (nothing kept per connection).
      pending.path = path === this.path ? this.path : path;
      pending.clientAddress = resolveClientAddress(
        pending.proxiedAddress ?? socket.remoteAddress,
        request.headers,
        this.trustedProxies,
      );
      if (this.shuttingDown) throw new HandshakeError(503, 'server shutting down');
      if (this.gate !== null && pending.group === null) this.admit(this.gate, pending);
      if (this.path !== undefined && pathOf(request.url) !== this.path) {
        throw new HandshakeError(404, `no WebSocket endpoint at ${pathOf(request.url)}`);
      }
      if (
        request.method === 'GET' &&
        request.httpVersion !== '1.0' &&
        request.headers.upgrade === undefined
      ) {
        throw new HandshakeError(426, 'this is a WebSocket endpoint: send a WebSocket upgrade request', {
          Upgrade: 'websocket',
          'Sec-WebSocket-Version': '13',
        });
      }
      const offer = validateRequest(request);
      const context = this.context(request, socket, offer, incoming, pending.clientAddress);
      if (!isOriginAllowed(offer.origin, offer.host, this.origins, context)) {
        throw new HandshakeError(403, `origin ${offer.origin} is not allowed`);
      }
      let data = undefined as Data;
      const authenticate = this.options.authenticate;
      if (authenticate !== undefined) {
        data = await authenticate(context);
        if (socket.destroyed || !this.pending.has(pending)) return undefined; // timed out or gone meanwhile
        if (this.shuttingDown) throw new HandshakeError(503, 'server shutting down');
      }
      let protocol = '';
      const select = this.options.selectProtocol;
      if (select !== undefined && offer.protocols.length > 0) {
        protocol = select(offer.protocols, context) ?? '';
        if (protocol !== '' && !offer.protocols.includes(protocol)) {
          throw new Error(
            `selectProtocol returned ${JSON.stringify(protocol)}, which the client did not offer`,
          );
        }
      }
      return this.accept(socket, offer, data, protocol, head, pending);
    } catch (error) {
      if (error instanceof HandshakeError) {
        this.reject(socket, error);
      } else {
        this.reportServerError(error);
        this.reject(socket, new HandshakeError(500, 'internal server error'));
      }
      return undefined;
    }
  }

  /** Give back the place a handshake took under the connection caps (once). */
  private releasePlace(pending: PendingHandshake): void {
    if (pending.group === null) return;
    this.gate?.release(pending.group);
    pending.group = null;
  }

  /** Check the connection caps for this handshake; count it when admitted. */
  private admit(gate: ConnectionGate, pending: PendingHandshake): void {
    const group = gate.group(pending.clientAddress);
    const refused = gate.admit(group, Date.now());
    if (refused === null) {
      pending.group = group;
      return;
    }
    this.limitHit({
      kind: refused,
      clientAddress: pending.clientAddress,
      connectionId: undefined,
      action: 'refused',
    });
    throw gate.refusal(refused);
  }

  private accept(
    socket: Socket,
    offer: UpgradeRequestInfo,
    data: Data,
    protocol: string,
    head: Buffer,
    pending: PendingHandshake,
  ): ServerWebSocket<Data> {
    this.release(pending);
    const now = Date.now();
    const info = new ConnectionInfo(nextConnectionId(), pending.clientAddress, pending.path, now);
    info.gateGroup = pending.group;
    // The first permessage-deflate offer we can honour (null: none, or compression off).
    const agreement = this.perMessageDeflate?.negotiate(offer.extensions) ?? null;
    const extensions = agreement?.responseHeaderValue ?? '';
    const response = buildAcceptResponse({
      key: offer.key,
      protocol: protocol || undefined,
      extensions: extensions || undefined,
      headers: this.options.headers,
    });
    socket.setNoDelay(true);
    const extension: PerMessageDeflateExtension | null = agreement?.extension ?? null;
    const ws = new ServerWebSocket<Data>(
      this,
      socket,
      this.connectionOptions,
      data,
      protocol,
      extensions,
      extension,
    );
    ws._info = info;
    if (this.ops !== null) ws._ops = new ConnectionOps(this.ops, now);
    this.openClients.add(ws);
    this.sockets.add(ws);
    this.startTimer();
    this.counters.handshake(101);
    if (channels.handshake.hasSubscribers) {
      const message: HandshakeDiagnostic = {
        server: this,
        result: 'accepted',
        status: 101,
        reason: '',
        clientAddress: info.clientAddress,
        path: info.path,
        connection: info,
      };
      channels.handshake.publish(message);
    }
    if (channels.open.hasSubscribers) channels.open.publish({ server: this, connection: info });
    ws._start(response, head);
    return ws;
  }

  /** Answer with an error status and close; keep reading (and discarding) so the answer is not lost to a reset. */
  private reject(socket: Socket, error: HandshakeError): void {
    if (socket.destroyed) return;
    const owner = (socket as HandshakeSocket)[kSocketOwner];
    if (owner instanceof PendingHandshake) {
      this.handshakeRefused(owner, error.status, error.message);
      // A refused handshake gives its place back at once (its socket only drains until closed,
      // within the handshake deadline).
      this.releasePlace(owner);
    }
    socket.removeAllListeners('data');
    socket.on('data', noop);
    socket.resume();
    socket.end(buildRejectResponse(error));
  }

  private context(
    request: RawRequest,
    socket: Socket,
    offer: UpgradeRequestInfo,
    incoming: IncomingMessage | undefined,
    clientAddress: string,
  ): UpgradeRequestContext {
    return {
      clientAddress,
      method: request.method,
      url: request.url,
      httpVersion: request.httpVersion,
      headers: request.headers,
      remoteAddress: socket.remoteAddress,
      secure: (socket as Socket & { encrypted?: boolean }).encrypted === true,
      offer,
      incoming,
    };
  }

  // ---- the sweep: one timer for every deadline ----

  private track(socket: Socket, deadline = Date.now() + this.handshakeTimeout): PendingHandshake {
    const pending = new PendingHandshake(this as WebSocketServer<unknown>, socket, deadline);
    (socket as HandshakeSocket)[kSocketOwner] = pending;
    this.pending.add(pending);
    socket.on('close', onHandshakeClose);
    this.startTimer();
    return pending;
  }

  /** The handshake is over (the WebSocket takes the socket): forget it and its listener. */
  private release(pending: PendingHandshake): void {
    this.pending.delete(pending);
    pending.socket.off('close', onHandshakeClose);
    (pending.socket as HandshakeSocket)[kSocketOwner] = undefined;
  }

  private startTimer(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.sweep(), this.sweepMs);
  }

  private stopTimer(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
  }

  /** Nothing left to watch: stop the timer (an idle server holds no timer). */
  private maybeIdle(): void {
    if (this.sockets.size === 0) {
      this.onAllClosed?.();
      if (this.pending.size === 0) this.stopTimer();
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const handshake of this.pending) {
      if (now >= handshake.deadline) {
        if (!handshake.refused) this.handshakeRefused(handshake, 0, 'handshake timeout');
        this.pending.delete(handshake);
        handshake.socket.destroy();
      }
    }
    const pingInterval = this.pingInterval;
    const ops = this.ops;
    for (const ws of this.sockets) {
      if (ws._closeDeadline !== 0) {
        if (now >= ws._closeDeadline) ws.terminate();
        continue;
      }
      if (ops !== null && ws._ops !== null && this.expired(ws, ws._ops, ops, now)) continue;
      if (pingInterval === 0 || ws._heartbeatAt === 0 || now < ws._heartbeatAt) continue;
      if (ws._awaitingPong) {
        ws.terminate(); // reported as 1006
      } else if (ws.readyState === 'open') {
        ws._awaitingPong = true;
        ws._heartbeatAt = now + this.pongTimeout;
        ws.ping();
      }
    }
    this.maybeIdle();
  }

  /** Close a connection past its lifetime or idle timeout; returns whether it did. */
  private expired(ws: ServerWebSocket<Data>, state: ConnectionOps, ops: OpsSettings, now: number): boolean {
    let kind: LimitKind;
    if (state.expiresAt !== 0 && now >= state.expiresAt) kind = 'max-lifetime';
    else if (ops.idleTimeout > 0 && now - state.lastMessageAt >= ops.idleTimeout) kind = 'idle-timeout';
    else return false;
    if (ws.readyState !== 'open') return false;
    this.limitHit({
      kind,
      clientAddress: ws._info.clientAddress,
      connectionId: ws._info.id,
      action: 'closed',
    });
    if (kind === 'max-lifetime') ws.close(CloseCode.GoingAway, 'connection lifetime reached');
    else ws.close(CloseCode.Normal, 'idle timeout');
    return true;
  }

  private flushDirty(): void {
    this.flushScheduled = false;
    const dirty = this.dirty;
    this.dirty = [];
    for (const ws of dirty) ws._flush();
  }
}

function toBytes(data: Buffer | ArrayBuffer | ArrayBufferView): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

/**
 * Standalone `wss://`: wrap each accepted TCP socket in a server-side TLSSocket ourselves
 * (rather than use `tls.Server`), so that the handshake deadline runs from the TCP accept
 * and covers the TLS handshake too: `tls.Server`'s own timer starts only once a
 * ClientHello arrives, so a client that connects and stays silent would be held forever.
 * The secure context is built once, not per connection.
 */
function tlsWrapper(options: TlsOptions): (socket: Socket) => TLSSocket {
  const secureContext = createSecureContext(options);
  const socketOptions: ConstructorParameters<typeof TLSSocket>[1] = { isServer: true, secureContext };
  if (options.requestCert !== undefined) socketOptions.requestCert = options.requestCert;
  if (options.rejectUnauthorized !== undefined) socketOptions.rejectUnauthorized = options.rejectUnauthorized;
  if (options.ALPNProtocols !== undefined) socketOptions.ALPNProtocols = options.ALPNProtocols;
  if (options.SNICallback !== undefined) socketOptions.SNICallback = options.SNICallback;
  return (socket) => new TLSSocket(socket, socketOptions);
}

/** Whether a subscriber other than `except` negotiated permessage-deflate. */
function anyCompressed<Data>(
  subscribers: ReadonlySet<ServerWebSocket<Data>>,
  except: ServerWebSocket<Data> | null,
): boolean {
  for (const ws of subscribers) if (ws !== except && ws.extensions !== '') return true;
  return false;
}

/** The path of a request target, without the query. */
function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/**
 * One `upgrade` listener per HTTP server, shared by every WebSocketServer attached to it,
 * dispatching by path. An upgrade to a path nobody serves gets 404 (a socket is never
 * left hanging).
 */
class UpgradeRouter {
  private static readonly routers = new WeakMap<HttpServer | HttpsServer, UpgradeRouter>();
  private readonly byPath = new Map<string, WebSocketServer<unknown>>();
  private fallback: WebSocketServer<unknown> | null = null;
  private readonly listener = (request: IncomingMessage, socket: Socket, head: Buffer) =>
    this.route(request, socket, head);

  private constructor(private readonly server: HttpServer | HttpsServer) {}

  static for(server: HttpServer | HttpsServer): UpgradeRouter {
    let router = UpgradeRouter.routers.get(server);
    if (router === undefined) {
      router = new UpgradeRouter(server);
      UpgradeRouter.routers.set(server, router);
    }
    return router;
  }

  add<Data>(wss: WebSocketServer<Data>): void {
    const entry = wss as unknown as WebSocketServer<unknown>;
    if (wss.path === undefined) {
      if (this.fallback !== null)
        throw new TypeError('another WebSocketServer already serves every path of this server');
      this.fallback = entry;
    } else {
      if (this.byPath.has(wss.path))
        throw new TypeError(`another WebSocketServer already serves ${wss.path}`);
      this.byPath.set(wss.path, entry);
    }
    if (this.byPath.size + (this.fallback === null ? 0 : 1) === 1) this.server.on('upgrade', this.listener);
  }

  remove<Data>(wss: WebSocketServer<Data>): void {
    const entry = wss as unknown as WebSocketServer<unknown>;
    if (this.fallback === entry) this.fallback = null;
    else if (wss.path !== undefined && this.byPath.get(wss.path) === entry) this.byPath.delete(wss.path);
    else return;
    if (this.byPath.size === 0 && this.fallback === null) {
      this.server.off('upgrade', this.listener);
      UpgradeRouter.routers.delete(this.server);
    }
  }

  private route(request: IncomingMessage, socket: Socket, head: Buffer): void {
    const path = pathOf(request.url ?? '/');
    const target = this.byPath.get(path) ?? this.fallback;
    if (target !== null) {
      void target.handleUpgrade(request, socket, head);
      return;
    }
    const any = this.byPath.values().next().value!;
    any._refuse(socket, new HandshakeError(404, `no WebSocket endpoint at ${path}`));
  }
}
