import { EventEmitter } from 'node:events';
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { type AddressInfo, createServer, type Server as NetServer, type Socket } from 'node:net';
import { inspect } from 'node:util';
import {
  AssemblyBudget,
  buildAcceptResponse,
  CloseCode,
  type CloseInfo,
  HandshakeError,
  InternalError,
  isValidWireCloseCode,
  limits,
  OutputBuffers,
  PerMessageDeflate,
  type PerMessageDeflateExtension,
  type PerMessageDeflateOptions,
  type UpgradeRequestInfo,
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
import { EventSourceEndpoint, type EventSourceOptions, type TopicTap } from './event-source.js';
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
import { deliverToSubscribers, publishBytes } from './publish.js';
import { UpgradeRouter } from './router.js';
import { Sweep, sweepPeriod } from './sweep.js';
import { tlsWrapper } from './tls.js';
import type {
  PublishData,
  PublishOptions,
  WebSocketHandlers,
  WebSocketServerOptions,
  WireDirection,
} from './types.js';
import { type PendingHandshake, Upgrades } from './upgrade.js';
import { type ConnectionHost, type ServerConnectionSettings, ServerWebSocket } from './websocket.js';

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
 * The permessage-deflate settings of a server with `perMessageDeflate: true` (and the
 * base an options object overrides): no context takeover either way, so that an idle
 * connection holds no zlib stream; zlib level 1; messages of 1 KiB and more compressed.
 * See {@link WebSocketServerOptions.perMessageDeflate} for the reasons.
 */
export const SERVER_DEFLATE_DEFAULTS: Readonly<PerMessageDeflateOptions> = Object.freeze({
  serverNoContextTakeover: true,
  clientNoContextTakeover: true,
});

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
export class WebSocketServer<Data = undefined> extends EventEmitter<WebSocketServerEvents> {
  /** @internal */ readonly handlers: WebSocketHandlers<Data>;
  /** @internal */ readonly decodeText: boolean;
  /** @internal */ readonly maxBufferedBytes: number;
  /** @internal */ readonly highWaterMark: number;
  /** @internal */ readonly closeOnBackpressureLimit: boolean;
  /** @internal */ readonly closeTimeout: number;
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
  private readonly connectionOptions: ServerConnectionSettings;
  private readonly netServer: NetServer | null = null;
  private readonly httpServer: HttpServer | HttpsServer | null = null;

  /** Open connections (state `open` or `closing`). */
  private readonly openClients = new Set<ServerWebSocket<Data>>();
  /** The handshakes in progress, and the checks they go through. */
  private readonly upgrades: Upgrades<Data>;
  /**
   * The deadlines, and every socket with a WebSocket on it until TCP is gone (lingering
   * closed ones included).
   */
  private readonly sweep: Sweep<ServerWebSocket<Data>>;
  private dirty: ServerWebSocket<Data>[] = [];
  private flushScheduled = false;
  /** @internal `close()` was called: new handshakes are refused with 503. */
  shuttingDown = false;
  private closePromise: Promise<void> | null = null;
  private onAllClosed: (() => void) | null = null;
  private listenError: unknown = null;
  private listenWaiters = 0;
  /** Events already turned into a process warning for want of a listener. */
  private readonly warned = new Set<'lost' | 'brokerError'>();
  /** Connection caps and handshake rates (null: none configured). */
  private readonly gate: ConnectionGate | null;
  /** Proxies whose forwarding headers are believed (null: none). */
  private readonly trustedProxies: AddressSet | null;
  /** Per-connection limits, lifetime, idle timeout (null: none, and connections get no ConnectionOps). */
  private readonly ops: OpsSettings | null;
  /** Publish rate by topic (null: no limit). */
  private readonly publishRates: BucketTable | null;
  private readonly counters = new StatsCounters();
  /** Local consumers of topic messages that are not connections (EventSource endpoints). */
  private readonly taps = new Set<TopicTap>();

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
    const pingInterval = options.pingInterval ?? limits.DEFAULT_PING_INTERVAL_MS;
    const pongTimeout = options.pongTimeout ?? limits.DEFAULT_PONG_TIMEOUT_MS;
    const handshakeTimeout = options.handshakeTimeout ?? limits.DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.connectionOptions = {
      maxPayload: options.maxPayload ?? limits.DEFAULT_MAX_PAYLOAD,
      maxFragments: options.maxFragments ?? limits.DEFAULT_MAX_FRAGMENTS,
      // The slab and masking keys of this server's connections (its own, not the process's).
      outputBuffers: new OutputBuffers(),
      // Its bound on message buffers allocated ahead of their data, across its connections.
      assemblyBudget: new AssemblyBudget(),
    };
    const deflate = options.perMessageDeflate ?? true;
    this.perMessageDeflate =
      deflate === false
        ? null
        : new PerMessageDeflate({ ...SERVER_DEFLATE_DEFAULTS, ...(deflate === true ? {} : deflate) });
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
      onLost: (loss: BrokerLoss) => {
        for (const tap of this.taps) tap.lost(loss);
        this.brokerEvent('lost', loss);
      },
      onError: (error: BrokerError) => this.brokerEvent('brokerError', error),
      onStatus: (status: BrokerStatus) => this.emit('brokerStatus', status),
    });
    this.gate = options.connectionLimits === undefined ? null : new ConnectionGate(options.connectionLimits);
    const trustedProxies =
      options.trustProxy === undefined ? null : new AddressSet(options.trustProxy, 'trustProxy');
    this.trustedProxies = trustedProxies;
    const proxyProtocol = options.proxyProtocol ?? false;
    if (typeof proxyProtocol !== 'boolean') throw new TypeError('proxyProtocol must be a boolean');
    if (proxyProtocol && options.port === undefined) {
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
    const periods = [handshakeTimeout, this.closeTimeout];
    if (pingInterval > 0) periods.push(pingInterval, pongTimeout);
    if (this.ops !== null) {
      if (this.ops.idleTimeout > 0) periods.push(this.ops.idleTimeout);
      if (this.ops.maxLifetime > 0) periods.push(this.ops.maxLifetime - this.ops.lifetimeJitter);
    }
    this.sweep = new Sweep<ServerWebSocket<Data>>(this, {
      periodMs: sweepPeriod(periods),
      pingInterval,
      pongTimeout,
      closeTimeout: this.closeTimeout,
    });
    this.upgrades = new Upgrades<Data>(this, {
      path: options.path,
      handshakeTimeout,
      maxHandshakeBytes: options.maxHandshakeBytes ?? limits.DEFAULT_MAX_HANDSHAKE_BYTES,
      maxHandshakeHeaders: options.maxHandshakeHeaders ?? limits.DEFAULT_MAX_HANDSHAKE_HEADERS,
      origins: options.origins,
      gate: this.gate,
      trustedProxies,
      proxyProtocol,
      authenticate: options.authenticate,
      selectProtocol: options.selectProtocol,
    });

    if (options.port !== undefined) {
      const wrap = options.tls === undefined ? null : tlsWrapper(options.tls);
      const netServer = createServer({ noDelay: true }, (socket) => {
        // The PROXY header comes before TLS: read it on the TCP socket, then wrap.
        if (wrap !== null && proxyProtocol) this.upgrades.acceptSocket(socket, wrap);
        else this.upgrades.acceptSocket(wrap === null ? socket : wrap(socket));
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
    return this.upgrades.size + this.sweep.size;
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
   * @returns how many local subscribers it was queued for, EventSource streams of
   *   {@link WebSocketServer.eventSource} included (the other servers' are not counted:
   *   the broker delivers to them later; losses come as `lost` events)
   * @throws `TopicError` (close code 1008) for an empty or too long topic name
   */
  publish(topic: string, data: PublishData, options?: PublishOptions): number {
    return this.publishFrom(null, topic, data, options);
  }

  /**
   * Serve this server's topics to plain `EventSource` clients (Server-Sent Events) over
   * HTTP: mount the returned endpoint's `handle(request, response)` on an `http.Server`
   * (the one this server is attached to, or any other). Event ids are the topic's
   * sequence numbers, and `Last-Event-ID` resumes from the topic's history. The
   * endpoint shares this server's connection caps and closes with it. See
   * {@link EventSourceOptions} and docs/server.md.
   * @throws TypeError or RangeError for an option of the wrong type or out of range
   */
  eventSource(options: EventSourceOptions = {}): EventSourceEndpoint {
    return EventSourceEndpoint._create(this, options);
  }

  /** Start handing `tap` every message delivered here (on this server's publish or from the broker). @internal */
  _addTap(tap: TopicTap): void {
    this.taps.add(tap);
  }

  /** Stop handing `tap` messages. @internal */
  _removeTap(tap: TopicTap): void {
    this.taps.delete(tap);
  }

  /**
   * Admit a plain HTTP request (an EventSource stream) under this server's connection
   * caps: the client address (through trusted proxies) and a release to call, once,
   * when the request ends. @internal
   * @throws HandshakeError 503 while shutting down, or the caps' refusal (503 or 429)
   */
  _admitHttp(request: IncomingMessage): { clientAddress: string; release: () => void } {
    if (this.shuttingDown) throw new HandshakeError(503, 'server shutting down');
    const clientAddress = resolveClientAddress(
      request.socket.remoteAddress,
      request.headers,
      this.trustedProxies,
    );
    const gate = this.gate;
    if (gate === null) return { clientAddress, release: () => {} };
    let group: string | null = this.admitAddress(gate, clientAddress);
    return {
      clientAddress,
      release: () => {
        if (group !== null) gate.release(group);
        group = null;
      },
    };
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
    const bytes = publishBytes(data);
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
    let tapped = 0;
    if (this.taps.size !== 0) for (const tap of this.taps) tapped += tap.deliver(topic, bytes, isText);
    return (
      tapped +
      deliverToSubscribers(
        this.topicRegistry.subscribers(topic),
        bytes,
        isText,
        except,
        this.perMessageDeflate,
        this,
      )
    );
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
      return this.upgrades.takeUpgrade(request, socket, head);
    } catch (error) {
      // A bug of ours, or a socket unlike any Node gave before: reported, never thrown
      // into the http server's 'upgrade' emitter (where it would reach the process).
      this.reportServerError(new InternalError(error));
      socket.destroy();
      return Promise.resolve(undefined);
    }
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
    for (const tap of this.taps) tap.close();
    this.closePromise = (async () => {
      for (const ws of this.openClients) ws.close(code, reason);
      if (this.sweep.size > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeout);
          this.onAllClosed = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.onAllClosed = null;
      }
      for (const ws of this.sweep.connections()) ws.terminate();
      this.upgrades.destroyAll();
      this.sweep.clear();
      this.sweep.stop();
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
  startCloseDeadline(ws: ServerWebSocket<Data>): void {
    this.sweep.startCloseDeadline(ws, Date.now());
  }

  /** @internal */
  pongReceived(ws: ServerWebSocket<Data>): void {
    this.sweep.pongReceived(ws, Date.now());
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
    this.sweep.delete(ws);
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
   * ways, close codes, queued bytes, topics and subscriptions, limits hit, EventSource
   * streams and what was written to them (see
   * {@link ServerStats}). Costs a walk over the open connections; nothing is counted per
   * message unless `countMessages` (or a message limit) is on.
   */
  stats(): ServerStats {
    const counters = this.counters;
    let bytesIn = counters.bytesIn;
    let bytesOut = counters.bytesOut;
    for (const ws of this.sweep.connections()) {
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
      eventSource: {
        streams: counters.eventSourceStreams,
        messagesOut: counters.eventSourceMessagesOut,
        bytesOut: counters.eventSourceBytesOut,
      },
    };
  }

  /** The counters behind {@link WebSocketServer.stats} (the EventSource endpoints add theirs). @internal */
  get _statsCounters(): StatsCounters {
    return this.counters;
  }

  /** A limit was hit: count it, tell the `limit` listeners and the `sockeye:limit` channel. @internal */
  limitHit(hit: LimitHit): void {
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

  /** A handshake was refused (status 0: the socket was closed without an answer). @internal */
  handshakeRefused(pending: PendingHandshake, status: number, reason: string): void {
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

  /** An error with no connection to report it on (a failing `authenticate`, say). @internal */
  reportServerError(error: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    // With its stack (and its cause's, for an InternalError): a warning is all there is of it.
    else process.emitWarning(`sockeye: unhandled error in a WebSocket server hook: ${inspect(error)}`);
  }

  /** Serve a path that is not ours (attached mode router). @internal */
  _refuse(socket: Socket, error: HandshakeError): void {
    this.upgrades.refuse(socket, error);
  }

  // ---- UpgradeHost: the opening handshake ----

  /** @internal */
  handshakeStarted(): void {
    this.sweep.start();
  }

  /** @internal */
  handshakeGone(): void {
    this.maybeIdle();
  }

  /** Check the connection caps for a connection from `clientAddress`; its group when admitted. */
  private admitAddress(gate: ConnectionGate, clientAddress: string): string {
    const group = gate.group(clientAddress);
    const refused = gate.admit(group, Date.now());
    if (refused === null) return group;
    this.limitHit({ kind: refused, clientAddress, connectionId: undefined, action: 'refused' });
    throw gate.refusal(refused);
  }

  /** Answer 101 and open the connection. @internal */
  open(
    socket: Socket,
    offer: UpgradeRequestInfo,
    data: Data,
    protocol: string,
    head: Buffer,
    pending: PendingHandshake,
  ): ServerWebSocket<Data> {
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
    const ws = ServerWebSocket._create<Data>(
      // The server is its connections' host. Not an `implements` clause on the class: the
      // interface and those members are internal, left out of the published declarations.
      this satisfies ConnectionHost<Data>,
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
    this.sweep.add(ws, now);
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

  // ---- SweepHost: the deadlines ----

  /** @internal */
  expireHandshakes(now: number): void {
    this.upgrades.expire(now);
  }

  /** Close a connection past its lifetime or idle timeout; returns whether it did. @internal */
  expireConnection(ws: ServerWebSocket<Data>, now: number): boolean {
    const ops = this.ops;
    const state = ws._ops;
    if (ops === null || state === null) return false;
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

  /** @internal */
  swept(): void {
    this.maybeIdle();
  }

  /** Nothing left to watch: stop the timer (an idle server holds no timer). */
  private maybeIdle(): void {
    if (this.sweep.size === 0) {
      this.onAllClosed?.();
      if (this.upgrades.size === 0) this.sweep.stop();
    }
  }

  private flushDirty(): void {
    this.flushScheduled = false;
    const dirty = this.dirty;
    this.dirty = [];
    for (const ws of dirty) ws._flush();
  }
}
