/**
 * The opening handshake on the server, from the socket to the decision: reading the
 * request head in standalone mode (bounded in bytes and time, after a PROXY header and
 * TLS when configured), the checks in their order (503 while shutting down, the
 * connection caps, 404, 426, the RFC 6455 request rules, 403 for the origin,
 * `authenticate`, `selectProtocol`) and the refusals. Accepting (the 101 and the
 * connection) is the server's: {@link UpgradeHost.open}.
 * @internal
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import {
  buildRejectResponse,
  HandshakeError,
  type HeaderMap,
  HttpHeadParser,
  InternalError,
  type RequestHead,
  type UpgradeRequestInfo,
  validateRequest,
} from '../protocol/index.js';
import { type AddressSet, normalizeIp, resolveClientAddress } from './client-address.js';
import type { ConnectionGate, LimitHit } from './limits.js';
import { isOriginAllowed, type OriginPolicy } from './origin.js';
import { ProxyHeaderParser, ProxyProtocolError } from './proxy-protocol.js';
import { pathOf } from './router.js';
import type { TlsWrap } from './tls.js';
import type { UpgradeRequestContext, WebSocketServerOptions } from './types.js';
import { kSocketOwner, type ServerWebSocket } from './websocket.js';

/**
 * A handshake in progress: a socket that has no WebSocket yet, and when it must be done.
 * The socket points back to it (`kSocketOwner`) so that its listeners are functions shared
 * by every socket rather than closures made per connection; once the WebSocket takes over,
 * the socket lets go of it, its parser and its listeners (an idle connection keeps nothing
 * of its handshake).
 * @internal
 */
export class PendingHandshake {
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
  tlsWrap: TlsWrap | null = null;
  constructor(
    readonly upgrades: Upgrades<unknown>,
    readonly socket: Socket,
    readonly deadline: number,
  ) {}
}

/** While the handshake runs, the socket's owner is its PendingHandshake (see `kSocketOwner`). */
type HandshakeSocket = Socket & { [kSocketOwner]?: PendingHandshake | ServerWebSocket<unknown> | undefined };

// Socket listeners of the handshake, shared by every socket (`this` is the socket).
function onHandshakeData(this: Socket, chunk: Buffer): void {
  const pending = (this as HandshakeSocket)[kSocketOwner];
  if (pending instanceof PendingHandshake) pending.upgrades.data(pending, chunk);
}
function onHandshakeClose(this: Socket): void {
  const pending = (this as HandshakeSocket)[kSocketOwner];
  if (pending instanceof PendingHandshake) pending.upgrades.gone(pending);
}

function noop(): void {}

/** The request as the server needs it, whichever parser produced it. */
interface RawRequest {
  method: string;
  url: string;
  httpVersion: string;
  headers: HeaderMap;
}

/** What the handshake needs of its server. @internal */
export interface UpgradeHost<Data> {
  /** The server is shutting down: refuse with 503. */
  readonly shuttingDown: boolean;
  /** A handshake started: its deadline must be swept. */
  handshakeStarted(): void;
  /** A handshake's socket closed before it became a WebSocket. */
  handshakeGone(): void;
  /** Count and publish a refused handshake (status 0: the socket was closed without an answer). */
  handshakeRefused(pending: PendingHandshake, status: number, reason: string): void;
  /** A connection cap refused a handshake. */
  limitHit(hit: LimitHit): void;
  /** An error with no connection to report it on. */
  reportServerError(error: unknown): void;
  /** Answer 101 and open the connection (the handshake has let go of the socket). */
  open(
    socket: Socket,
    offer: UpgradeRequestInfo,
    data: Data,
    protocol: string,
    head: Buffer,
    pending: PendingHandshake,
  ): ServerWebSocket<Data>;
}

/** The settings of the handshake, from the server's options. @internal */
export interface UpgradeSettings<Data> {
  /** The only path served, or undefined for any. */
  readonly path: string | undefined;
  /** How long a handshake may take from the TCP accept (ms). */
  readonly handshakeTimeout: number;
  /** Most bytes of a request head (431 past it). */
  readonly maxHandshakeBytes: number;
  /** Most header fields of a request (431 past it). */
  readonly maxHandshakeHeaders: number;
  /** Which origins may connect (undefined: any). */
  readonly origins: OriginPolicy | undefined;
  /** Connection caps and handshake rates (null: none configured). */
  readonly gate: ConnectionGate | null;
  /** Proxies whose `Forwarded` / `X-Forwarded-For` is believed (null: none). */
  readonly trustedProxies: AddressSet | null;
  /** Connections start with a PROXY protocol header (standalone mode). */
  readonly proxyProtocol: boolean;
  /** The `authenticate` hook. */
  readonly authenticate: WebSocketServerOptions<Data>['authenticate'];
  /** The `selectProtocol` hook. */
  readonly selectProtocol: WebSocketServerOptions<Data>['selectProtocol'];
}

/** The handshakes in progress on one server, and the checks they go through. @internal */
export class Upgrades<Data> {
  private readonly pending = new Set<PendingHandshake>();

  constructor(
    private readonly host: UpgradeHost<Data>,
    private readonly settings: UpgradeSettings<Data>,
  ) {}

  /** How many handshakes are in progress (or being refused). */
  get size(): number {
    return this.pending.size;
  }

  /** Standalone mode: a new TCP connection. Parse its handshake, bounded in bytes and time. */
  acceptSocket(socket: Socket, tlsWrap: TlsWrap | null = null): void {
    socket.on('error', noop);
    const pending = this.track(socket);
    pending.tlsWrap = tlsWrap;
    const { gate, proxyProtocol, trustedProxies } = this.settings;
    // When the TCP peer is the client (no PROXY header, not a trusted proxy), the caps
    // apply from the accept: a handshake that never finishes holds a place too, and a
    // refused one costs no parser.
    if (gate !== null && !proxyProtocol && !(trustedProxies?.has(socket.remoteAddress) ?? false)) {
      pending.clientAddress = normalizeIp(socket.remoteAddress ?? '');
      try {
        this.admit(gate, pending);
      } catch (error) {
        this.reject(socket, error as HandshakeError);
        return;
      }
    }
    if (proxyProtocol) pending.proxy = new ProxyHeaderParser();
    pending.parser = new HttpHeadParser<RequestHead>('request', {
      maxBytes: this.settings.maxHandshakeBytes,
      maxHeaders: this.settings.maxHandshakeHeaders,
    });
    socket.on('data', onHandshakeData);
  }

  /** Attached and `noServer` modes: an upgrade request that Node's HTTP server parsed. */
  takeUpgrade(
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
    const { maxHandshakeHeaders, maxHandshakeBytes } = this.settings;
    const fieldCount = request.rawHeaders.length / 2;
    if (fieldCount > maxHandshakeHeaders) {
      this.reject(socket, new HandshakeError(431, `more than ${maxHandshakeHeaders} header fields`));
      return Promise.resolve(undefined);
    }
    let bytes = raw.url.length + raw.method.length + 12;
    for (const field of request.rawHeaders) bytes += field.length + 2;
    if (bytes > maxHandshakeBytes) {
      this.reject(socket, new HandshakeError(431, 'request header fields too large'));
      return Promise.resolve(undefined);
    }
    return Promise.resolve(this.upgrade(raw, socket, head, request, pending));
  }

  /** Refuse an upgrade outright (a path that no server of the router serves). */
  refuse(socket: Socket, error: HandshakeError): void {
    socket.on('error', noop);
    this.track(socket);
    this.reject(socket, error);
  }

  /** Refuse every handshake whose deadline is `now` or past, closing its socket. */
  expire(now: number): void {
    for (const handshake of this.pending) {
      if (now >= handshake.deadline) {
        if (!handshake.refused) this.host.handshakeRefused(handshake, 0, 'handshake timeout');
        this.pending.delete(handshake);
        handshake.socket.destroy();
      }
    }
  }

  /** Close every handshake in progress (the server is closing). */
  destroyAll(): void {
    for (const handshake of this.pending) handshake.socket.destroy();
    this.pending.clear();
  }

  /** Standalone mode: bytes of a handshake in progress. */
  data(pending: PendingHandshake, chunk: Buffer): void {
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
        this.host.reportServerError(new InternalError(error));
        this.reject(socket, new HandshakeError(500, 'internal server error'));
      }
      return;
    }
    if (parsed === null) return;
    pending.parser = null;
    // No pause: the socket goes on to the WebSocket (or to a refusal) before this 'data'
    // event returns, unless `authenticate` runs, which pauses it (a pause here and a resume
    // there would cost a tick per connection).
    socket.off('data', onHandshakeData);
    const head = parsed.head;
    void this.upgrade(
      { method: head.method, url: head.target, httpVersion: head.httpVersion, headers: head.headers },
      socket,
      parsed.rest,
      undefined,
      pending,
    );
  }

  /** The socket of a handshake in progress closed. */
  gone(pending: PendingHandshake): void {
    this.pending.delete(pending);
    this.releasePlace(pending);
    this.host.handshakeGone();
  }

  /** The handshake is over (the WebSocket takes the socket): forget it and its listener. */
  release(pending: PendingHandshake): void {
    this.pending.delete(pending);
    pending.socket.off('close', onHandshakeClose);
    (pending.socket as HandshakeSocket)[kSocketOwner] = undefined;
  }

  private track(socket: Socket, deadline = Date.now() + this.settings.handshakeTimeout): PendingHandshake {
    const pending = new PendingHandshake(this as Upgrades<unknown>, socket, deadline);
    (socket as HandshakeSocket)[kSocketOwner] = pending;
    this.pending.add(pending);
    socket.on('close', onHandshakeClose);
    this.host.handshakeStarted();
    return pending;
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
      this.host.handshakeRefused(pending, 0, error.message);
      pending.socket.destroy();
      return null;
    }
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

  /**
   * Validate, check, authenticate, then accept or refuse. Never throws, never rejects.
   * Synchronous unless `authenticate` is set: no promise (and no microtask turn) per
   * handshake on a server without it.
   */
  private upgrade(
    request: RawRequest,
    socket: Socket,
    head: Buffer,
    incoming: IncomingMessage | undefined,
    pending: PendingHandshake,
  ): ServerWebSocket<Data> | undefined | Promise<ServerWebSocket<Data> | undefined> {
    const { path: servedPath, gate } = this.settings;
    try {
      const path = pathOf(request.url);
      // The server's own string when it is the one path served (nothing kept per connection).
      pending.path = path === servedPath ? servedPath : path;
      pending.clientAddress = resolveClientAddress(
        pending.proxiedAddress ?? socket.remoteAddress,
        request.headers,
        this.settings.trustedProxies,
      );
      if (this.host.shuttingDown) throw new HandshakeError(503, 'server shutting down');
      if (gate !== null && pending.group === null) this.admit(gate, pending);
      if (servedPath !== undefined && path !== servedPath) {
        throw new HandshakeError(404, `no WebSocket endpoint at ${path}`);
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
      const context = upgradeContext(request, socket, offer, incoming, pending.clientAddress);
      if (!isOriginAllowed(offer.origin, offer.host, this.settings.origins, context)) {
        throw new HandshakeError(403, `origin ${offer.origin} is not allowed`);
      }
      const authenticate = this.settings.authenticate;
      if (authenticate !== undefined) {
        // Nothing reads the socket until the answer: bytes wait in it (TCP holds the peer back).
        socket.pause();
        return this.authenticate(authenticate, context, offer, socket, head, pending);
      }
      return this.accept(undefined as Data, context, offer, socket, head, pending);
    } catch (error) {
      this.fail(socket, error);
      return undefined;
    }
  }

  /** Run `authenticate`, then accept (unless the handshake timed out or went meanwhile) or refuse. */
  private async authenticate(
    authenticate: NonNullable<UpgradeSettings<Data>['authenticate']>,
    context: UpgradeRequestContext,
    offer: UpgradeRequestInfo,
    socket: Socket,
    head: Buffer,
    pending: PendingHandshake,
  ): Promise<ServerWebSocket<Data> | undefined> {
    try {
      const data = await authenticate(context);
      if (socket.destroyed || !this.pending.has(pending)) return undefined; // timed out or gone meanwhile
      if (this.host.shuttingDown) throw new HandshakeError(503, 'server shutting down');
      return this.accept(data, context, offer, socket, head, pending);
    } catch (error) {
      this.fail(socket, error);
      return undefined;
    }
  }

  /** Select the subprotocol, and hand the socket to the server to answer 101. Throws to refuse. */
  private accept(
    data: Data,
    context: UpgradeRequestContext,
    offer: UpgradeRequestInfo,
    socket: Socket,
    head: Buffer,
    pending: PendingHandshake,
  ): ServerWebSocket<Data> {
    let protocol = '';
    const select = this.settings.selectProtocol;
    if (select !== undefined && offer.protocols.length > 0) {
      protocol = select(offer.protocols, context) ?? '';
      if (protocol !== '' && !offer.protocols.includes(protocol)) {
        throw new TypeError(
          `selectProtocol returned ${JSON.stringify(protocol)}, which the client did not offer`,
        );
      }
    }
    this.release(pending);
    return this.host.open(socket, offer, data, protocol, head, pending);
  }

  /** Refuse a handshake for `error`: its own status for a HandshakeError, 500 (and a report) for anything else. */
  private fail(socket: Socket, error: unknown): void {
    if (error instanceof HandshakeError) {
      this.reject(socket, error);
    } else {
      this.host.reportServerError(error);
      this.reject(socket, new HandshakeError(500, 'internal server error'));
    }
  }

  /** Give back the place a handshake took under the connection caps (once). */
  private releasePlace(pending: PendingHandshake): void {
    if (pending.group === null) return;
    this.settings.gate?.release(pending.group);
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
    this.host.limitHit({
      kind: refused,
      clientAddress: pending.clientAddress,
      connectionId: undefined,
      action: 'refused',
    });
    throw gate.refusal(refused);
  }

  /** Answer with an error status and close; keep reading (and discarding) so the answer is not lost to a reset. */
  private reject(socket: Socket, error: HandshakeError): void {
    if (socket.destroyed) return;
    const owner = (socket as HandshakeSocket)[kSocketOwner];
    if (owner instanceof PendingHandshake) {
      this.host.handshakeRefused(owner, error.status, error.message);
      // A refused handshake gives its place back at once (its socket only drains until closed,
      // within the handshake deadline).
      this.releasePlace(owner);
    }
    socket.removeAllListeners('data');
    socket.on('data', noop);
    socket.resume();
    socket.end(buildRejectResponse(error));
  }
}

/** What `authenticate`, `selectProtocol` and an origin function see of the request. */
function upgradeContext(
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
