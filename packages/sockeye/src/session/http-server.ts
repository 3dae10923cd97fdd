/**
 * The HTTP transports of sessions, server side: Server-Sent Events with POST, and
 * long-polling, for clients whose network lets no WebSocket through (a proxy that strips
 * `Upgrade`, or buffers). The sessions are a {@link SessionServer}'s, the same ones its
 * WebSocket links carry: a session moves between a WebSocket, an SSE stream and a poll
 * link without loss, because every link resumes the session by its counts.
 * @module
 */
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { HandshakeError } from '../protocol/errors.js';
import { type Broker, type BrokerMessage, isValidNodeId } from '../pubsub/broker.js';
import { isSameOrigin } from '../server/origin.js';
import { SendStatus } from '../server/types.js';
import { decodeLine, encodeCloseLine, encodeFrameLine, encodeLinkLine, isLinkId } from './http-lines.js';
import type { ServerSession, SessionLink, SessionServer } from './server.js';
import { decodeFrame, SessionError, type SessionFrame, type WireMessage } from './wire.js';

/** The two HTTP transports. */
export type HttpTransportKind = 'sse' | 'long-polling';

/** Options of {@link SessionHttpTransport}. */
export interface SessionHttpTransportOptions<Data> {
  /**
   * Take the requests of this HTTP(S) server (its `request` event) whose path is `path`.
   * Without it, call {@link SessionHttpTransport.handle} from your own request listener.
   * @defaultValue none
   */
  server?: HttpServer | HttpsServer;
  /** The path of the endpoint (the query is the transport's). @defaultValue the `SessionServer`'s `path`, or `/` */
  path?: string;
  /**
   * Check the request that opens a link and return its data (`session.data`), as the
   * WebSocket server's `authenticate` does for upgrades. Throw a `HandshakeError` to
   * refuse with its status; any other exception refuses with 500. It runs for each link
   * (each SSE stream, each long-polling link), not for each POST or poll of a link: the
   * link id is a bearer secret like the session id.
   * @defaultValue every link is accepted, with `undefined` data
   */
  authenticate?: (request: IncomingMessage) => Data | Promise<Data>;
  /**
   * Browser origins allowed besides the endpoint's own, as the WebSocket server's
   * `origins` (give both the same): `'*'`, exact origins and regular expressions, or a
   * function. A request whose `Origin` is not allowed gets 403; an allowed cross-origin
   * request gets the CORS headers that let its page read the answer. Requests without
   * `Origin` (not from a browser) are always taken.
   * @defaultValue none: the endpoint's own origin only
   */
  origins?: '*' | ReadonlyArray<string | RegExp> | ((origin: string, request: IncomingMessage) => boolean);
  /** Largest POST body, in bytes; past it the answer is 413 and nothing of the body counts. @defaultValue 1 MiB */
  maxBodyBytes?: number;
  /**
   * POSTs per second a session may make, sustained (a token bucket of `postBurst`). Past
   * it the answer is 429 with `Retry-After`, and nothing of the body counts (the client
   * sends it again).
   * @defaultValue 50
   */
  postRate?: number;
  /** POSTs a session may make at once before `postRate` applies. @defaultValue 100 */
  postBurst?: number;
  /** Longest a poll is held waiting for frames before an empty answer, in ms. @defaultValue 25 000 */
  pollTimeout?: number;
  /** Interval of the SSE comment lines that keep a quiet stream alive through proxies, in ms. @defaultValue 15 000 */
  heartbeatInterval?: number;
  /** The SSE `retry:` field: how long an `EventSource` waits before it reconnects, in ms. @defaultValue 1 000 */
  retry?: number;
  /**
   * A link closes (with 1001) when the client made no request on it (a POST, or a poll
   * after the last answer) for this long, in ms. A client that hears nothing pings
   * (a POST) every 15 s by default, and acknowledges what it receives, so a live client
   * is never idle that long.
   * @defaultValue 45 000
   */
  idleTimeout?: number;
  /**
   * Most bytes a link may hold unsent (an SSE stream whose reader is slow, or frames no
   * poll has confirmed yet). Past it the link is dropped, and the session waits for the
   * client to resume it (its replay buffer still holds everything).
   * @defaultValue 1 MiB
   */
  maxBufferedBytes?: number;
  /** Unsent bytes above which `session.send()` reports `queued` (then `drain` follows). @defaultValue 64 KiB */
  highWaterMark?: number;
  /**
   * No sticky sessions: a broker of its own (not the server's: a broker serves one
   * server) through which the POSTs and polls of a link that another process holds are
   * routed to that process and answered back, so a load balancer may send any request to
   * any process. Every process of the endpoint needs one, on the same transport (the same
   * Redis); a link id names the process that holds it (by the broker's `nodeId`). Await
   * {@link SessionHttpTransport.ready} before taking traffic.
   * @defaultValue none: a request for a link held elsewhere gets 404
   */
  router?: Broker;
  /**
   * With `router`: how long a routed request waits for the process holding the link
   * (beyond a poll's hold time), in ms; then the answer is 504 and the client opens a new link.
   * @defaultValue 10 000
   */
  routeTimeout?: number;
}

/** Default of {@link SessionHttpTransportOptions.maxBodyBytes}: 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Serves the HTTP transports of a {@link SessionServer}'s sessions on one path (by
 * default the WebSocket endpoint's own: the upgrade goes to the `SessionServer`, the
 * other requests here). See `docs/transports.md` for the requests and the limits.
 *
 * ```ts
 * const http = createServer();
 * const sessions = new SessionServer({ server: http, path: '/live', sessions: { ... } });
 * new SessionHttpTransport(sessions, { server: http });
 * ```
 */
export class SessionHttpTransport<Data = undefined> {
  /** The endpoint's path. */
  readonly path: string;
  /** @internal */
  readonly _sessions: SessionServer<Data>;
  /** @internal */
  readonly _options: Required<
    Omit<SessionHttpTransportOptions<Data>, 'server' | 'path' | 'authenticate' | 'router' | 'origins'>
  >;
  private readonly authenticate: ((request: IncomingMessage) => Data | Promise<Data>) | undefined;
  private readonly origins: SessionHttpTransportOptions<Data>['origins'];
  private readonly server: HttpServer | HttpsServer | undefined;
  /** Open links (and links closing until their last answer), by id. */
  private readonly links = new Map<string, HttpLink<Data>>();
  private readonly buckets = new WeakMap<ServerSession<Data>, Bucket>();
  private readonly sweeper: ReturnType<typeof setInterval>;
  private readonly listener = (request: IncomingMessage, response: ServerResponse) => {
    if (this.handle(request, response)) return;
    // The only listener: nobody else answers this request.
    if (this.server !== undefined && this.server.listenerCount('request') === 1) {
      respond(response, 404, 'not found');
    }
  };
  private closed = false;
  private readonly router: Broker | undefined;
  /** The router's node id in base64url: the tail of this process's link ids. */
  private readonly nodeTag: string = '';
  /** Requests routed to another process, waiting for its answer, by request number. */
  private readonly routed = new Map<
    number,
    { response: ServerResponse; timer: ReturnType<typeof setTimeout> }
  >();
  private nextRequest = 1;
  private readonly routerReady: Promise<void>;

  /**
   * @param sessions - the session server whose sessions these transports carry
   * @param options - see {@link SessionHttpTransportOptions}
   * @throws RangeError for a limit that is not a positive number
   */
  constructor(sessions: SessionServer<Data>, options: SessionHttpTransportOptions<Data> = {}) {
    this._sessions = sessions;
    this.path = options.path ?? sessions.server.path ?? '/';
    this.authenticate = options.authenticate;
    this.origins = options.origins;
    this._options = {
      maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      postRate: options.postRate ?? 50,
      postBurst: options.postBurst ?? 100,
      pollTimeout: options.pollTimeout ?? 25_000,
      heartbeatInterval: options.heartbeatInterval ?? 15_000,
      retry: options.retry ?? 1000,
      idleTimeout: options.idleTimeout ?? 45_000,
      maxBufferedBytes: options.maxBufferedBytes ?? 1024 * 1024,
      highWaterMark: options.highWaterMark ?? 64 * 1024,
      routeTimeout: options.routeTimeout ?? 10_000,
    };
    for (const [name, value] of Object.entries(this._options)) {
      if (!(value > 0)) throw new RangeError(`${name} must be a positive number`);
    }
    this.server = options.server;
    this.router = options.router;
    if (this.router === undefined) this.routerReady = Promise.resolve();
    else {
      const router = this.router;
      this.nodeTag = Buffer.from(router.nodeId).toString('base64url');
      router.attach({
        onMessage: (message) => this.routedMessage(message),
        onError: (error) => this._sessions._report(error),
      });
      this.routerReady = router.subscribe(inbox(router.nodeId));
    }
    this.server?.on('request', this.listener);
    const { idleTimeout, heartbeatInterval } = this._options;
    this.sweeper = setInterval(
      () => this.sweep(),
      Math.max(10, Math.min(1000, idleTimeout / 4, heartbeatInterval / 2)),
    );
    this.sweeper.unref?.();
  }

  /** Resolves once requests routed from other processes reach this one (at once without `router`). */
  ready(): Promise<void> {
    return this.routerReady;
  }

  /** Links open now (SSE streams and long-polling links). */
  get linkCount(): number {
    return this.links.size;
  }

  /**
   * Take `request` if it is for this endpoint's path; otherwise leave it (and `response`)
   * alone.
   * @returns whether it was taken
   */
  handle(request: IncomingMessage, response: ServerResponse): boolean {
    const query = queryOf(request.url ?? '/', this.path);
    if (query === null) return false;
    if (!this.checkOrigin(request, response)) return true;
    try {
      // Polls and POSTs are answered without an async function of their own (fewer
      // allocations per round trip); the requests that wait for something return a promise.
      const pending = this.dispatch(request, response, query);
      if (pending instanceof Promise) pending.catch((error: unknown) => this.failed(response, error));
    } catch (error) {
      this.failed(response, error);
    }
    return true;
  }

  /** A request failed on an exception of ours or of a hook: report it, answer 500 if still possible. */
  private failed(response: ServerResponse, error: unknown): void {
    this._sessions._report(error);
    if (!response.headersSent) respond(response, 500, 'internal error');
    else response.destroy();
  }

  /**
   * Refuse a browser request from an origin not allowed (403), and give an allowed
   * cross-origin one its CORS headers (answering a preflight here).
   * @returns whether to go on with the request
   */
  private checkOrigin(request: IncomingMessage, response: ServerResponse): boolean {
    const origin = header(request, 'origin');
    if (origin === undefined) return true;
    const policy = this.origins;
    const same = isSameOrigin(origin, header(request, 'host') ?? '');
    let allowed = same || policy === '*';
    if (!allowed && typeof policy === 'function') {
      try {
        allowed = policy(origin, request) === true;
      } catch (error) {
        this._sessions._report(error); // a policy that throws refuses
      }
    } else if (!allowed && Array.isArray(policy)) {
      const lower = origin.toLowerCase();
      allowed = (policy as ReadonlyArray<string | RegExp>).some((entry) => {
        if (typeof entry === 'string') return entry.toLowerCase() === lower;
        entry.lastIndex = 0;
        return entry.test(origin);
      });
    }
    if (!allowed) {
      respondAndDiscard(request, response, 403, 'origin not allowed');
      return false;
    }
    if (!same) {
      response.setHeader('access-control-allow-origin', origin);
      response.setHeader('vary', 'origin');
      response.setHeader('access-control-expose-headers', 'retry-after');
    }
    if (request.method === 'OPTIONS') {
      respond(response, 204, '', {
        'access-control-allow-methods': 'GET, POST',
        'access-control-allow-headers': 'content-type, last-event-id',
        'access-control-max-age': '600',
      });
      return false;
    }
    return true;
  }

  /** Close every link with 1001 (their sessions wait to be resumed) and stop taking requests. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    this.server?.off('request', this.listener);
    for (const link of [...this.links.values()]) link.close(1001, 'server shutting down');
    for (const link of [...this.links.values()]) link.terminate();
    for (const { response, timer } of this.routed.values()) {
      clearTimeout(timer);
      respond(response, 503, 'closing');
    }
    this.routed.clear();
    if (this.router !== undefined) void this.router.unsubscribe(inbox(this.router.nodeId));
  }

  /** @internal */
  _forget(link: HttpLink<Data>): void {
    if (this.links.get(link.id) === link) this.links.delete(link.id);
  }

  /** Answer a request of the endpoint; a promise when the answer waits for something (it never rejects on a peer's input). */
  private dispatch(request: IncomingMessage, response: ServerResponse, query: Query): Promise<void> | void {
    if (this.closed) return respond(response, 503, 'closing', { 'retry-after': '1' });
    const method = request.method ?? 'GET';
    const linkId = query.get('link');
    if (linkId !== null) {
      const link = isLinkId(linkId) ? this.links.get(linkId) : undefined;
      const owner = link === undefined ? this.ownerOf(linkId) : undefined;
      if (method === 'POST' && query.get('release') === '1') {
        request.resume();
        if (owner !== undefined) return this.forward(response, owner, 'release', linkId, 0, undefined);
        return this.release(link, new ResponseReply(response));
      }
      if (method === 'POST') {
        const from = count(query.get('from'));
        if (from === undefined) return respondAndDiscard(request, response, 400, 'bad from');
        if (owner !== undefined) return this.forwardPost(request, response, owner, linkId, from);
        return this.post(request, response, link, from);
      }
      if (method === 'GET') {
        const since = count(query.get('since'));
        if (since === undefined) return respond(response, 400, 'bad since');
        if (owner !== undefined) return this.forward(response, owner, 'poll', linkId, since, undefined);
        if (link === undefined || link.transport !== 'long-polling')
          return respond(response, 404, 'unknown link');
        return link.poll(new ResponseReply(response), since);
      }
      return respond(response, 405, 'method not allowed', { allow: 'GET, POST' });
    }
    const transport = query.get('transport');
    if (method !== 'GET') return respond(response, 405, 'method not allowed', { allow: 'GET, POST' });
    if (transport === null) {
      // A WebSocket handshake whose Upgrade a proxy stripped lands here.
      return respond(
        response,
        426,
        'a session endpoint: upgrade to WebSocket, or use transport=sse|long-polling',
        {
          upgrade: 'websocket',
        },
      );
    }
    if (transport !== 'sse' && transport !== 'long-polling')
      return respond(response, 400, 'unknown transport');
    return this.openLink(request, response, transport, query);
  }

  /** A request that opens a link: admitted under the connection caps, then {@link open}. */
  private async openLink(
    request: IncomingMessage,
    response: ServerResponse,
    transport: HttpTransportKind,
    query: Query,
  ): Promise<void> {
    // A new link is a connection, as an upgrade is: the server's `connectionLimits` (the
    // caps and the handshake rate, by the real client address) apply before anything else
    // of it, and its place is held until the link is gone.
    let release: () => void;
    try {
      release = this._sessions.server._admitHttp(request).release;
    } catch (error) {
      if (error instanceof HandshakeError)
        return respond(response, error.status, error.message, error.headers);
      throw error;
    }
    let opened = false;
    try {
      opened = await this.open(request, response, transport, query, release);
    } finally {
      if (!opened) release();
    }
  }

  /**
   * Open a link whose place under the connection caps is taken (`release` gives it back).
   * @returns whether the link was opened (then it calls `release` when it is gone)
   */
  private async open(
    request: IncomingMessage,
    response: ServerResponse,
    transport: HttpTransportKind,
    query: Query,
    release: () => void,
  ): Promise<boolean> {
    let hello: Extract<SessionFrame, { type: 'hello' }>;
    try {
      const frame = decodeFrame(query.get('hello') ?? '');
      if (frame.type !== 'hello') throw new SessionError('unexpected-frame', 'not a hello');
      hello = frame;
    } catch {
      respond(response, 400, 'bad hello');
      return false;
    }
    let data: Data;
    try {
      data = this.authenticate === undefined ? (undefined as Data) : await this.authenticate(request);
    } catch (error) {
      if (error instanceof HandshakeError) respond(response, error.status, error.message, error.headers);
      else {
        this._sessions._report(error);
        respond(response, 500, 'internal error');
      }
      return false;
    }
    if (this.closed || response.destroyed) return false;
    let received = hello.received;
    // An `EventSource` reconnecting by itself says what it received in `Last-Event-ID`.
    const lastEventId = transport === 'sse' ? count(header(request, 'last-event-id')) : undefined;
    if (lastEventId !== undefined && hello.id !== undefined) received = lastEventId;
    const link = new HttpLink<Data>(this, transport, newLinkId() + this.nodeTag, data, received, release);
    this.links.set(link.id, link);
    if (transport === 'sse') link.openStream(response);
    else link.poll(new ResponseReply(response), 0, true);
    this._sessions._httpHello(link, received, hello.id, hello.epoch);
    return true;
  }

  private post(
    request: IncomingMessage,
    response: ServerResponse,
    link: HttpLink<Data> | undefined,
    from: number,
  ): void {
    const session = link?.readyState === 'open' ? this._sessions._sessionOf(link) : undefined;
    if (link === undefined || session === undefined) {
      respondAndDiscard(request, response, 404, 'unknown link');
      return;
    }
    const declared = Number(header(request, 'content-length') ?? '0');
    if (declared > this._options.maxBodyBytes) {
      respondAndDiscard(request, response, 413, 'body too large');
      return;
    }
    if (!this.admitPost(session)) {
      const wait = String(Math.ceil(1 / this._options.postRate));
      respondAndDiscard(request, response, 429, 'too many requests', { 'retry-after': wait });
      return;
    }
    link.touch();
    // A callback rather than a promise and an async function: this is every round trip.
    readBody(request, this._options.maxBodyBytes, (body) => {
      if (body === 'too-large') return respondAndDiscard(request, response, 413, 'body too large');
      if (body === 'aborted') return undefined;
      try {
        this.takeBody(link, session, from, body, new ResponseReply(response));
      } catch (error) {
        // Called from the request's 'end': nothing above would catch it.
        this.failed(response, error);
      }
      return undefined;
    });
  }

  /**
   * The client moves its session to another link (its upgrade to WebSocket): end this
   * link and answer once the session is in the store, where any process can take it.
   */
  private async release(link: HttpLink<Data> | undefined, reply: Reply): Promise<void> {
    if (link?.readyState !== 'open') return reply.send(404, message('unknown link'));
    try {
      await this._sessions._httpRelease(link);
    } catch (error) {
      this._sessions._report(error);
      return reply.send(500, message('the store failed'));
    }
    return reply.send(204, '');
  }

  /** Take the frames of a POST body that was read, here or in the process that routed it. */
  private takeBody(
    link: HttpLink<Data>,
    session: ServerSession<Data>,
    from: number,
    body: Buffer,
    reply: Reply,
  ): void {
    let frames: WireMessage[];
    try {
      frames = parseBody(body, session._core.sent);
    } catch (error) {
      reply.send(400, message(error instanceof Error ? error.message : 'bad body'));
      return;
    }
    // The link may have gone while the body was read: then nothing of it counts.
    if (this._sessions._sessionOf(link) !== session) {
      reply.send(404, message('unknown link'));
      return;
    }
    const status = link.receive(from, frames);
    if (status === 'gap') {
      reply.send(409, message('frames missing before from'));
      return;
    }
    reply.send(204, '');
  }

  // ---- routing to the process that holds a link (no sticky sessions) ----

  /** The node id of the process holding `linkId`, when it is another process reachable by the router. */
  private ownerOf(linkId: string): string | undefined {
    const router = this.router;
    if (router === undefined || !isLinkId(linkId) || linkId.length <= LINK_RANDOM_LENGTH) return undefined;
    const owner = Buffer.from(linkId.slice(LINK_RANDOM_LENGTH), 'base64url').toString();
    return isValidNodeId(owner) && owner !== router.nodeId ? owner : undefined;
  }

  /** Read a POST body here (its bound applies here too), then route it. */
  private forwardPost(
    request: IncomingMessage,
    response: ServerResponse,
    owner: string,
    linkId: string,
    from: number,
  ): void {
    const declared = Number(header(request, 'content-length') ?? '0');
    if (declared > this._options.maxBodyBytes) {
      respondAndDiscard(request, response, 413, 'body too large');
      return;
    }
    readBody(request, this._options.maxBodyBytes, (body) => {
      if (body === 'too-large') return respondAndDiscard(request, response, 413, 'body too large');
      if (body === 'aborted') return undefined;
      try {
        this.forward(response, owner, 'post', linkId, from, body);
      } catch (error) {
        this.failed(response, error);
      }
      return undefined;
    });
  }

  /** Send a request to the process holding its link, and answer with what it answers. */
  private forward(
    response: ServerResponse,
    owner: string,
    kind: RoutedRequest['kind'],
    link: string,
    n: number,
    body: Buffer | undefined,
  ): void {
    const router = this.router!;
    const id = this.nextRequest++;
    const wait = this._options.routeTimeout + (kind === 'poll' ? this._options.pollTimeout : 0);
    const timer = setTimeout(() => {
      this.routed.delete(id);
      respond(response, 504, 'the process holding the link did not answer');
    }, wait);
    this.routed.set(id, { response, timer });
    response.on('close', () => {
      if (this.routed.get(id)?.response !== response) return;
      clearTimeout(timer);
      this.routed.delete(id);
    });
    const request: RoutedRequest = {
      t: 'q',
      id,
      from: router.nodeId,
      kind,
      link,
      n,
      ...(body === undefined ? {} : { body: body.toString('base64') }),
    };
    router.publish(inbox(owner), Buffer.from(JSON.stringify(request)), false);
  }

  /** A request another process routed here, or the answer to one this process routed. */
  private routedMessage(incoming: BrokerMessage): void {
    let routed: RoutedRequest | RoutedAnswer;
    try {
      routed = JSON.parse(incoming.data.toString()) as RoutedRequest | RoutedAnswer;
    } catch (error) {
      this._sessions._report(error);
      return;
    }
    if (!isRouted(routed)) {
      this._sessions._report(new TypeError('a routed request or answer of no known form'));
      return;
    }
    if (routed.t === 'a') {
      const waiting = this.routed.get(routed.id);
      if (waiting === undefined) return; // its client went away, or it timed out
      clearTimeout(waiting.timer);
      this.routed.delete(routed.id);
      sendResponse(waiting.response, routed.status, routed.body, routed.headers);
      return;
    }
    const router = this.router!;
    const { id, from: requester } = routed;
    const reply: Reply = {
      open: true,
      send(status, body, headers = {}) {
        if (!this.open) return;
        this.open = false;
        const answer: RoutedAnswer = { t: 'a', id, status, body, headers };
        router.publish(inbox(requester), Buffer.from(JSON.stringify(answer)), false);
      },
      destroy() {
        this.send(502, message('link dropped'));
      },
      onGone() {
        // The requester's client may go away; a later poll or the hold time ends the wait.
      },
    };
    if (this.closed) {
      reply.send(503, message('closing'), { 'retry-after': '1' });
      return;
    }
    const link = this.links.get(routed.link);
    if (routed.kind === 'release') {
      void this.release(link, reply);
      return;
    }
    if (routed.kind === 'poll') {
      if (link === undefined || link.transport !== 'long-polling') reply.send(404, message('unknown link'));
      else link.poll(reply, routed.n);
      return;
    }
    const session = link?.readyState === 'open' ? this._sessions._sessionOf(link) : undefined;
    if (link === undefined || session === undefined) {
      reply.send(404, message('unknown link'));
      return;
    }
    if (!this.admitPost(session)) {
      reply.send(429, message('too many requests'), {
        'retry-after': String(Math.ceil(1 / this._options.postRate)),
      });
      return;
    }
    link.touch();
    this.takeBody(link, session, routed.n, Buffer.from(routed.body ?? '', 'base64'), reply);
  }

  /** Take a token from the session's bucket. */
  private admitPost(session: ServerSession<Data>): boolean {
    const now = Date.now();
    const { postRate, postBurst } = this._options;
    let bucket = this.buckets.get(session);
    if (bucket === undefined) {
      bucket = { tokens: postBurst, at: now };
      this.buckets.set(session, bucket);
    }
    bucket.tokens = Math.min(postBurst, bucket.tokens + ((now - bucket.at) * postRate) / 1000);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens--;
    return true;
  }

  private sweep(): void {
    const now = Date.now();
    for (const link of [...this.links.values()]) link.check(now);
  }
}

/**
 * One link of an HTTP transport: an SSE stream (frames down) with POSTs (frames up), or
 * a long-polling link (frames down in answers to polls, up in POSTs). To the
 * {@link SessionServer} it is a link like a WebSocket.
 * @internal
 */
export class HttpLink<Data> implements SessionLink<Data> {
  /** `open`; `closing` once closed while its last lines wait for a poll; `closed`. */
  readyState: 'open' | 'closing' | 'closed' = 'open';
  /** What `authenticate` returned for the request that opened the link. */
  data: Data;
  /** `sse` or `long-polling`. */
  readonly transport: HttpTransportKind;
  /** The link id: 22 random characters, then the router's node id in base64url (if any). */
  readonly id: string;
  private readonly owner: SessionHttpTransport<Data>;
  /** Frames taken from the client's POSTs on this link (`from` of the next POST). */
  private received = 0;
  private lastRequestAt = Date.now();
  private lastWriteAt = Date.now();
  /** The data frame number the next `id:` field gets, once the welcome said where numbering starts. */
  private nextEventId = 0;
  private readonly helloReceived: number;
  private notified = false;
  private queuedReported = false;
  // SSE
  private stream: ServerResponse | null = null;
  // long-polling: lines not yet confirmed by a poll's `since`, numbered from `base`
  private pending: string[] = [];
  private pendingBytes = 0;
  private base = 0;
  /** The poll held for frames; its answer starts with the link line when it opened the link. */
  private held: Reply | null = null;
  private heldOpening = false;
  private heldUntil = 0;
  private answerScheduled = false;
  /** Gives the link's place under the server's connection caps back (idempotent). */
  private readonly release: () => void;

  constructor(
    owner: SessionHttpTransport<Data>,
    transport: HttpTransportKind,
    id: string,
    data: Data,
    helloReceived: number,
    release: () => void = () => {},
  ) {
    this.owner = owner;
    this.release = release;
    this.transport = transport;
    this.id = id;
    this.data = data;
    this.helloReceived = helloReceived;
  }

  /** A request came on this link: it is not idle. */
  touch(): void {
    this.lastRequestAt = Date.now();
  }

  // ---- the SessionLink side ----

  /** Send a session frame down the link (see `SessionLink.send`): `sent`, `queued` past the high-water mark, `dropped` past the bound. */
  send(frame: WireMessage, _isBinary: boolean): SendStatus {
    if (this.readyState !== 'open') return SendStatus.Dropped;
    const line = encodeFrameLine(frame);
    const { maxBufferedBytes, highWaterMark } = this.owner._options;
    let buffered: number;
    if (this.stream !== null) {
      buffered = this.writeEvent(line, this.eventIdOf(frame));
    } else {
      this.eventIdOf(frame);
      this.pending.push(line);
      this.pendingBytes += line.length + 1;
      buffered = this.pendingBytes;
      this.scheduleAnswer();
    }
    if (buffered > maxBufferedBytes) return SendStatus.Dropped;
    if (buffered > highWaterMark) {
      this.queuedReported = true;
      return SendStatus.Queued;
    }
    return SendStatus.Sent;
  }

  /** End the link with a close line (`c <code> <reason>`) after what was sent. */
  close(code = 1000, reason = ''): void {
    if (this.readyState !== 'open') return;
    this.readyState = 'closing';
    // Closed, the link no longer counts as a connection (a poll link keeps only its last lines).
    this.release();
    const line = encodeCloseLine(code, reason);
    if (this.stream !== null) {
      this.writeEvent(line, undefined);
      this.stream.end();
      this.finish();
    } else {
      this.pending.push(line);
      this.pendingBytes += line.length + 1;
      // Kept until a poll takes the last lines (or the link is idle): they may hold the `x`.
      if (this.held !== null) this.answer();
      this.notifyClosed();
    }
  }

  /** End the link at once: the stream or held poll is destroyed. */
  terminate(): void {
    if (this.readyState === 'closed') return;
    this.readyState = 'closed';
    this.stream?.destroy();
    const held = this.held;
    this.held = null;
    held?.destroy();
    this.finish();
  }

  /** Run `fn`, writing what it sends in one batch. */
  cork<T>(fn: () => T): T {
    const stream = this.stream;
    if (stream === null) return fn();
    stream.cork();
    try {
      return fn();
    } finally {
      stream.uncork();
    }
  }

  // ---- SSE ----

  /** Answer the opening GET with the event stream, and write the link line. */
  openStream(response: ServerResponse): void {
    this.stream = response;
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      // nginx buffers responses unless told not to: the stream must not wait in a proxy.
      'x-accel-buffering': 'no',
    });
    response.write(`retry: ${this.owner._options.retry}\n\n`);
    this.writeEvent(encodeLinkLine(this.id), undefined);
    response.on('close', () => {
      if (this.readyState === 'closed') return;
      this.readyState = 'closed';
      this.finish();
    });
    response.on('drain', () => this.drained());
    // A write on a connection that broke: the link is gone ('close' follows).
    response.on('error', () => this.terminate());
  }

  /** Write one SSE event; returns the bytes waiting to be sent. */
  private writeEvent(line: string, eventId: number | undefined): number {
    const stream = this.stream!;
    stream.write(eventId === undefined ? `data: ${line}\n\n` : `id: ${eventId}\ndata: ${line}\n\n`);
    this.lastWriteAt = Date.now();
    return stream.writableLength;
  }

  /**
   * The `id:` of a data frame: the client's count of received data frames once it has it.
   * The welcome says where the numbering starts: after the hello's count on a resume, at 0
   * for a new session.
   */
  private eventIdOf(frame: WireMessage): number | undefined {
    if (typeof frame === 'string' && frame.charCodeAt(0) === 0x77 /* w */) {
      this.nextEventId = frame.endsWith(' r') ? this.helloReceived : 0;
      return undefined;
    }
    const isData = typeof frame === 'string' ? frame.charCodeAt(0) === 0x64 : frame[0] === 0x64;
    return isData ? ++this.nextEventId : undefined;
  }

  // ---- long-polling ----

  /**
   * A poll: `since` lines of this link were received. Answer with the lines after them,
   * or hold the poll until there are some (or the hold time passes). A poll held before
   * it is answered with nothing: one poll at a time per link.
   */
  poll(reply: Reply, since: number, opening = false): void {
    this.touch();
    if (since < this.base || since > this.base + this.pending.length) {
      reply.send(400, message('bad since'));
      return;
    }
    const confirmed = since - this.base;
    for (let i = 0; i < confirmed; i++) this.pendingBytes -= this.pending[i]!.length + 1;
    this.pending = this.pending.slice(confirmed);
    this.base = since;
    if (this.held !== null) this.answer(true);
    if (this.readyState === 'closing' && this.pending.length === 0) {
      // The last lines (the close) were received: the link is gone.
      reply.send(404, message('unknown link'));
      this.readyState = 'closed';
      this.finish();
      return;
    }
    this.held = reply;
    this.heldOpening = opening;
    this.heldUntil = Date.now() + this.owner._options.pollTimeout;
    reply.onGone(() => {
      if (this.held === reply) this.held = null;
    });
    if (this.pending.length > 0) this.scheduleAnswer();
    if (this.queuedReported && this.pendingBytes <= this.owner._options.highWaterMark) this.drained();
  }

  private scheduleAnswer(): void {
    if (this.answerScheduled || this.held === null) return;
    this.answerScheduled = true;
    // Frames sent in one turn of the event loop go in one answer.
    setImmediate(() => {
      this.answerScheduled = false;
      if (this.held !== null && this.pending.length > 0) this.answer();
    });
  }

  /** Answer the held poll with every pending line, or with none (`empty`: a newer poll, the hold time). */
  private answer(empty = false): void {
    const reply = this.held;
    if (reply === null) return;
    this.held = null;
    const lines = empty ? [] : this.pending;
    const all = this.heldOpening ? [encodeLinkLine(this.id), ...lines] : lines;
    reply.send(200, all.length === 0 ? '' : `${all.join('\n')}\n`);
    this.lastWriteAt = Date.now();
    this.touch(); // the client's next poll starts its idle time from this answer
  }

  // ---- the client's frames (POST) ----

  /**
   * Frames of a POST whose first is number `from` on this link: those already taken
   * (a POST sent again) are skipped.
   * @returns 'gap' when frames before `from` never came
   */
  receive(from: number, frames: readonly WireMessage[]): 'ok' | 'gap' {
    if (from > this.received) return 'gap';
    const sessions = this.owner._sessions;
    for (let i = this.received - from; i < frames.length; i++) {
      if (this.readyState !== 'open') break;
      this.received++;
      const frame = frames[i]!;
      if (typeof frame === 'string') sessions._httpFrame(this, frame, false);
      else sessions._httpFrame(this, Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength), true);
    }
    return 'ok';
  }

  /** Timers of the sweep: idle links, held polls, SSE heartbeats. */
  check(now: number): void {
    const { idleTimeout, heartbeatInterval } = this.owner._options;
    if (this.held !== null && now >= this.heldUntil) {
      // The hold time passed with nothing to send: an empty answer.
      this.answer(true);
      return;
    }
    if (this.stream !== null && this.readyState === 'open' && now - this.lastWriteAt >= heartbeatInterval) {
      this.stream.write(':\n\n');
      this.lastWriteAt = now;
    }
    if (this.held === null && now - this.lastRequestAt >= idleTimeout) {
      // An SSE stream ends with its close line; a poll link keeps its last lines for a
      // poll until it is idle once more, then goes.
      if (this.readyState === 'open') this.close(1001, 'idle');
      else this.terminate();
    }
  }

  private drained(): void {
    if (!this.queuedReported) return;
    this.queuedReported = false;
    this.owner._sessions._httpDrained(this);
  }

  private notifyClosed(): void {
    if (this.notified) return;
    this.notified = true;
    this.owner._sessions._httpClosed(this);
  }

  private finish(): void {
    this.release();
    this.owner._forget(this);
    this.notifyClosed();
  }
}

/**
 * A POST body: lines of frames, each checked before any counts, so that a malformed
 * body changes nothing of the session.
 * @throws SessionError for a line or frame that is malformed, a frame a client may not
 *   send on a link, or an acknowledgement of a message never sent
 */
/** Decodes a whole body at a time (no `stream`), so one serves every request. */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

function parseBody(body: Buffer, sent: number): WireMessage[] {
  let text: string;
  try {
    text = STRICT_UTF8.decode(body);
  } catch {
    throw new SessionError('malformed-frame', 'the body is not UTF-8');
  }
  const frames: WireMessage[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const decoded = decodeLine(line);
    if (decoded.type !== 'frame') throw new SessionError('unexpected-frame', 'only frames in a POST');
    const frame = decodeFrame(decoded.frame);
    if (frame.type === 'hello' || frame.type === 'welcome') {
      throw new SessionError('unexpected-frame', `a ${frame.type} in a POST`);
    }
    if (frame.type === 'ack' && frame.seq > sent) {
      throw new SessionError('ack-out-of-range', `ack ${frame.seq} past sent ${sent}`);
    }
    frames.push(decoded.frame);
  }
  return frames;
}

/** Read a body up to `max` bytes, then call `done` once. */
function readBody(
  request: IncomingMessage,
  max: number,
  done: (result: Buffer | 'too-large' | 'aborted') => void,
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const finish = (result: Buffer | 'too-large' | 'aborted') => {
    if (finished) return;
    finished = true;
    done(result);
  };
  request.on('data', (chunk: Buffer) => {
    if (finished) return;
    size += chunk.length;
    if (size > max) {
      chunks.length = 0;
      finish('too-large');
      return;
    }
    chunks.push(chunk);
  });
  request.on('end', () => finish(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
  request.on('error', () => finish('aborted'));
  request.on('close', () => finish('aborted'));
}

/** What the transport reads of a request's query: `URLSearchParams` or a {@link RawQuery}. */
type Query = Pick<URLSearchParams, 'get'>;

/** What `URL` would decode, drop or strip in a query: these go through it. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the controls are what it matches
const PARSED_BY_URL = /[\x00-\x20%+#]/;

/**
 * The query of `target` when its path is `path`, else null. A poll's or a POST's target
 * (`/s?link=…&since=3`) is read as it is, without a `URL` and its `URLSearchParams`
 * (about 1.5 KB of garbage per request); any other (percent-encoded, `+`, a fragment, a
 * path that only normalises to `path`) goes through `URL` as before.
 * @internal
 */
export function queryOf(target: string, path: string): Query | null {
  const mark = target.indexOf('?');
  const rawPath = mark < 0 ? target : target.slice(0, mark);
  if (rawPath === path) {
    const raw = mark < 0 ? '' : target.slice(mark + 1);
    if (!PARSED_BY_URL.test(raw)) return new RawQuery(raw);
  }
  let url: URL;
  try {
    url = new URL(target, 'http://localhost');
  } catch {
    return null; // a target no URL parser takes (`//[`): not for this endpoint
  }
  return url.pathname === path ? url.searchParams : null;
}

/**
 * A query with no percent-encoding, `+` or fragment, read in place: `get` answers what
 * `URLSearchParams.get` would (the first `name=value` pair, `&`-separated).
 */
class RawQuery {
  constructor(private readonly raw: string) {}

  get(name: string): string | null {
    const raw = this.raw;
    let start = 0;
    // The next '=' at or after `start` (-1: none left): found once per '=', so that a
    // query of many pairs without one is read in linear time.
    let equals = raw.indexOf('=');
    while (start <= raw.length) {
      let end = raw.indexOf('&', start);
      if (end < 0) end = raw.length;
      if (equals >= 0 && equals < start) equals = raw.indexOf('=', start);
      const keyEnd = equals >= 0 && equals < end ? equals : end;
      // An empty pair (`a=1&&b=2`, or no query) is no parameter, not one named ''.
      if (end > start && keyEnd - start === name.length && raw.startsWith(name, start)) {
        return keyEnd === end ? '' : raw.slice(keyEnd + 1, end);
      }
      start = end + 1;
    }
    return null;
  }
}

/** A decimal count (digits only, no leading zero), or undefined. */
function count(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined || !/^(0|[1-9]\d{0,15})$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Where the answer to a poll or a POST goes: this process's HTTP response, or the
 * process that routed the request here.
 * @internal
 */
export interface Reply {
  /** Whether the answer can still be sent. */
  open: boolean;
  /** Send the answer (a `text/plain` body). */
  send(status: number, body: string, headers?: Readonly<Record<string, string>>): void;
  /** Give up without an answer (the link was dropped). */
  destroy(): void;
  /** Call `listener` if the requester goes away before the answer. */
  onGone(listener: () => void): void;
}

/** A request routed to the process holding its link. */
interface RoutedRequest {
  readonly t: 'q';
  readonly id: number;
  /** The node id of the process waiting for the answer. */
  readonly from: string;
  readonly kind: 'post' | 'poll' | 'release';
  readonly link: string;
  /** `from` of a POST, `since` of a poll. */
  readonly n: number;
  /** A POST's body, in base64. */
  readonly body?: string;
}

/** The answer to a {@link RoutedRequest}. */
interface RoutedAnswer {
  readonly t: 'a';
  readonly id: number;
  readonly status: number;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** Whether `value` (parsed JSON from another process) is a {@link RoutedRequest} or a {@link RoutedAnswer}. */
function isRouted(value: unknown): value is RoutedRequest | RoutedAnswer {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  if (!Number.isSafeInteger(v.id)) return false;
  if (v.t === 'a') {
    return (
      Number.isInteger(v.status) &&
      typeof v.body === 'string' &&
      typeof v.headers === 'object' &&
      v.headers !== null &&
      Object.values(v.headers).every((h) => typeof h === 'string')
    );
  }
  return (
    v.t === 'q' &&
    typeof v.from === 'string' &&
    isValidNodeId(v.from) &&
    (v.kind === 'post' || v.kind === 'poll' || v.kind === 'release') &&
    typeof v.link === 'string' &&
    Number.isSafeInteger(v.n) &&
    (v.n as number) >= 0 &&
    (v.body === undefined || typeof v.body === 'string')
  );
}

/** The broker topic where a process takes the requests routed to it, and their answers. */
function inbox(nodeId: string): string {
  return `sockeye.session.http.${nodeId}`;
}

/** Characters of the random part of a link id (16 bytes in base64url); the node tag follows. */
const LINK_RANDOM_LENGTH = 22;

/** A {@link Reply} to this process's HTTP response: one object per request, no closures. */
class ResponseReply implements Reply {
  constructor(private readonly response: ServerResponse) {}

  get open(): boolean {
    return !this.response.headersSent && !this.response.destroyed;
  }

  set open(_value: boolean) {
    // Follows the response.
  }

  send(status: number, body: string, headers?: Readonly<Record<string, string>>): void {
    sendResponse(this.response, status, body, headers);
  }

  destroy(): void {
    this.response.destroy();
  }

  onGone(listener: () => void): void {
    this.response.on('close', listener);
  }
}

/** A message as a response body: one line. */
function message(text: string): string {
  return `${text}\n`;
}

function sendResponse(
  response: ServerResponse,
  status: number,
  body: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  if (response.headersSent || response.destroyed) return;
  const text = status === 204 ? '' : body;
  response.writeHead(status, {
    ...headers,
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

function respond(
  response: ServerResponse,
  status: number,
  text: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  sendResponse(response, status, text === '' ? '' : message(text), headers);
}

/** Refuse a request before reading its body: the connection closes rather than read it. */
function respondAndDiscard(
  request: IncomingMessage,
  response: ServerResponse,
  status: number,
  message: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  if (!request.complete) response.shouldKeepAlive = false;
  respond(response, status, message, headers);
  request.resume();
}

function newLinkId(): string {
  return randomBytes(16).toString('base64url');
}
