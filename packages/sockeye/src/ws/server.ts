import { EventEmitter } from 'node:events';
import {
  createServer,
  type Server as HttpServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  STATUS_CODES,
} from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  AssemblyBudget,
  computeAccept,
  OutputBuffers,
  PerMessageDeflate,
  parseExtensions,
  parseProtocols,
} from '../protocol/index.js';
import { toDeflateOptions, type WsPerMessageDeflateOptions } from './options.js';
import { type SocketSettings, WebSocket } from './websocket.js';

/** What `verifyClient` is told about a handshake. */
export interface VerifyClientInfo {
  /** `Origin` (`Sec-WebSocket-Origin` for protocol version 8). */
  origin: string | undefined;
  /** Whether the connection is TLS. */
  secure: boolean;
  /** The upgrade request. */
  req: IncomingMessage;
}

/** The asynchronous `verifyClient`'s answer: accept, or refuse with a status, message and headers. */
export type VerifyClientCallback = (
  result: boolean,
  code?: number,
  message?: string,
  headers?: OutgoingHttpHeaders,
) => void;

/** Options of {@link WebSocketServer}, as `ws` takes them. Give exactly one of `port`, `server`, `noServer`. */
export interface WebSocketServerOptions<T extends WebSocket = WebSocket> {
  /** Listen on this port with an HTTP server of our own (426 for plain requests). */
  port?: number;
  /** The address to bind (with `port`). @defaultValue all interfaces */
  host?: string;
  /** The listen backlog (with `port`). @defaultValue Node's (511) */
  backlog?: number;
  /** Take the upgrades of this HTTP(S) server. */
  server?: HttpServer | HttpsServer;
  /** No server at all: call {@link WebSocketServer.handleUpgrade} yourself. @defaultValue false */
  noServer?: boolean;
  /** Accept only this path (without the query); others are answered 400. @defaultValue any */
  path?: string;
  /** Keep the open sockets in `clients`. @defaultValue true */
  clientTracking?: boolean;
  /**
   * Decide whether to accept a handshake: `(info) => boolean` (false answers 401), or
   * `(info, callback)` to decide asynchronously with a status, message and headers.
   * @defaultValue every handshake is accepted
   */
  verifyClient?:
    | ((info: VerifyClientInfo) => boolean)
    | ((info: VerifyClientInfo, callback: VerifyClientCallback) => void);
  /**
   * Pick a subprotocol from those offered; a falsy return selects none.
   * @defaultValue the first one offered
   */
  handleProtocols?: (protocols: Set<string>, request: IncomingMessage) => string | false;
  /** Accept permessage-deflate (`true` or `ws`'s options object). @defaultValue false */
  perMessageDeflate?: boolean | WsPerMessageDeflateOptions;
  /** Largest message in bytes (past it: error `WS_ERR_UNSUPPORTED_MESSAGE_LENGTH`, close 1009). @defaultValue 100 MiB */
  maxPayload?: number;
  /** Most frames per message. @defaultValue 16 384 */
  maxFragments?: number;
  /** Accepted for compatibility: sockeye always validates UTF-8 (see docs/ws-compat.md). @defaultValue false */
  skipUTF8Validation?: boolean;
  /** Answer pings automatically. @defaultValue true */
  autoPong?: boolean;
  /** Emit messages, pings and pongs synchronously as they are parsed. @defaultValue true */
  allowSynchronousEvents?: boolean;
  /** Time for a closing handshake before the TCP connection is destroyed, in ms. @defaultValue 30 000 */
  closeTimeout?: number;
  /** Accepted for compatibility (sockeye bounds a message's parts by memory). */
  maxBufferedChunks?: number;
  /**
   * Most automatic pongs queued and not yet written per socket; a ping past it terminates
   * the connection (a peer that pings without reading). 0: no limit. @defaultValue 60
   */
  maxPendingAutoPongs?: number;
  /** The class of the sockets made (a subclass of {@link WebSocket}). @defaultValue WebSocket */
  WebSocket?: new (
    address: null,
    protocols?: undefined,
    options?: undefined,
  ) => T;
}

/** Events of {@link WebSocketServer}, with their arguments, as `ws` emits them. */
export interface WebSocketServerEvents<T extends WebSocket = WebSocket> {
  /** A socket is open (in `port` and `server` modes; with `noServer`, emit it yourself). */
  connection: [socket: T, request: IncomingMessage];
  /** The 101 response's lines, before they are written: add or change lines here. */
  headers: [headers: string[], request: IncomingMessage];
  /** The server of `port` or `server` mode is listening. */
  listening: [];
  /** The server of `port` or `server` mode failed. */
  error: [error: Error];
  /** A malformed handshake (with a listener, it is not answered: `socket` is yours). */
  wsClientError: [error: Error, socket: Duplex, request: IncomingMessage];
  /** The server is closed (and, in `server` and `noServer` modes, every client is gone). */
  close: [];
}

const RUNNING = 0;
const CLOSING = 1;
const CLOSED = 2;
const KEY = /^[+/0-9A-Za-z]{22}==$/;
const kWebSocket = Symbol.for('sockeye.ws.upgraded');
type MarkedSocket = Duplex & { [kWebSocket]?: boolean };

/**
 * `ws`'s `WebSocketServer` on sockeye's protocol core: the same options, defaults,
 * handshake checks and answers, and events. The sockets it makes are
 * {@link WebSocket}s. The differences are listed in docs/ws-compat.md.
 *
 * @example
 * ```ts
 * import { WebSocketServer } from '@sockeye/sockeye/ws';
 * const wss = new WebSocketServer({ port: 8080 });
 * wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
 * ```
 */
export class WebSocketServer<T extends WebSocket = WebSocket> extends EventEmitter<WebSocketServerEvents<T>> {
  /** The open sockets, with `clientTracking` (the default); undefined without it. */
  readonly clients: Set<T> | undefined;
  /** The options as given, with `ws`'s defaults filled in. */
  readonly options: Required<Pick<WebSocketServerOptions<T>, 'clientTracking' | 'maxPayload'>> &
    WebSocketServerOptions<T>;
  private _server: HttpServer | HttpsServer | null = null;
  private _removeListeners: (() => void) | null = null;
  private _state = RUNNING;
  private _shouldEmitClose = false;
  private readonly deflate: PerMessageDeflate | null;
  private readonly settings: SocketSettings;

  /**
   * @param callback - with `port`: called once listening
   * @throws TypeError unless exactly one of `port`, `server` and `noServer` is given
   */
  constructor(options: WebSocketServerOptions<T>, callback?: () => void) {
    super();
    const merged = {
      allowSynchronousEvents: true,
      autoPong: true,
      maxFragments: 16 * 1024,
      maxPayload: 100 * 1024 * 1024,
      maxPendingAutoPongs: 60,
      skipUTF8Validation: false,
      perMessageDeflate: false,
      clientTracking: true,
      closeTimeout: 30_000,
      noServer: false,
      ...options,
    };
    if (
      (merged.port == null && !merged.server && !merged.noServer) ||
      (merged.port != null && (merged.server || merged.noServer)) ||
      (merged.server && merged.noServer)
    ) {
      throw new TypeError(
        'One and only one of the "port", "server", or "noServer" options must be specified',
      );
    }
    if (merged.port != null) {
      const server = createServer((_req, res) => {
        const body = STATUS_CODES[426]!;
        res.writeHead(426, { 'Content-Length': body.length, 'Content-Type': 'text/plain' });
        res.end(body);
      });
      server.listen(merged.port, merged.host, merged.backlog, callback);
      this._server = server;
    } else if (merged.server) {
      this._server = merged.server;
    }
    if (this._server !== null) {
      const server = this._server;
      const onListening = () => this.emit('listening');
      const onError = (error: Error) => this.emit('error', error);
      const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) =>
        this.handleUpgrade(req, socket, head, (ws, request) => this.emit('connection', ws, request));
      server.on('listening', onListening);
      server.on('error', onError);
      server.on('upgrade', onUpgrade);
      this._removeListeners = () => {
        server.removeListener('listening', onListening);
        server.removeListener('error', onError);
        server.removeListener('upgrade', onUpgrade);
      };
    }
    const deflate = merged.perMessageDeflate;
    // Falsy (engine.io passes `undefined` explicitly) is off, as with ws.
    this.deflate = deflate
      ? new PerMessageDeflate(toDeflateOptions(deflate === true ? {} : deflate, 'server'))
      : null;
    if (merged.clientTracking) this.clients = new Set();
    this.options = merged;
    this.settings = {
      allowSynchronousEvents: merged.allowSynchronousEvents,
      autoPong: merged.autoPong,
      closeTimeout: merged.closeTimeout,
      maxFragments: merged.maxFragments,
      maxPayload: merged.maxPayload,
      maxPendingAutoPongs: merged.maxPendingAutoPongs,
      outputBuffers: new OutputBuffers(),
      assemblyBudget: new AssemblyBudget(),
    };
  }

  /**
   * The bound address of the server (`port` and `server` modes).
   * @throws Error in `noServer` mode
   */
  address(): AddressInfo | string | null {
    if (this.options.noServer) throw new Error('The server is operating in "noServer" mode');
    if (this._server === null) return null;
    return this._server.address();
  }

  /**
   * Stop accepting upgrades, and emit `close`: in `port` mode once the HTTP server is
   * closed (it waits for its connections), otherwise once every tracked client is gone.
   * Open sockets are not closed (as with `ws` 8: close them yourself). `cb` runs on
   * `close`, with an error if the server was already closed.
   */
  close(cb?: (error?: Error) => void): void {
    if (this._state === CLOSED) {
      if (cb !== undefined) this.once('close', () => cb(new Error('The server is not running')));
      process.nextTick(() => this.emitClose());
      return;
    }
    if (cb !== undefined) this.once('close', cb);
    if (this._state === CLOSING) return;
    this._state = CLOSING;
    if (this.options.noServer || this.options.server) {
      this._removeListeners?.();
      this._removeListeners = null;
      this._server = null;
      if (this.clients !== undefined && this.clients.size > 0) this._shouldEmitClose = true;
      else process.nextTick(() => this.emitClose());
    } else {
      const server = this._server!;
      this._removeListeners?.();
      this._removeListeners = null;
      this._server = null;
      server.close(() => this.emitClose());
    }
    this.deflate?.pool.clear();
  }

  /** Whether this server takes `request`: its path matches the `path` option. */
  shouldHandle(request: IncomingMessage): boolean {
    const path = this.options.path;
    if (path) {
      const url = request.url ?? '/';
      const query = url.indexOf('?');
      if ((query === -1 ? url : url.slice(0, query)) !== path) return false;
    }
    return true;
  }

  /**
   * Check an upgrade request as `ws` does and, when it is valid and verified, answer 101
   * and call `callback` with the open socket (which does not emit `connection` by
   * itself: `noServer` users emit it). A bad request is answered 400/405 (or given to
   * `wsClientError` listeners).
   */
  handleUpgrade(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    callback: (client: T, request: IncomingMessage) => void,
  ): void {
    socket.on('error', onHandshakeSocketError);
    const headers = request.headers;
    const key = headers['sec-websocket-key'];
    const upgrade = headers.upgrade;
    const version = Number(headers['sec-websocket-version']);
    if (request.method !== 'GET') {
      this.clientError(request, socket, 405, 'Invalid HTTP method');
      return;
    }
    if (upgrade === undefined || upgrade.toLowerCase() !== 'websocket') {
      this.clientError(request, socket, 400, 'Invalid Upgrade header');
      return;
    }
    if (key === undefined || !KEY.test(key)) {
      this.clientError(request, socket, 400, 'Missing or invalid Sec-WebSocket-Key header');
      return;
    }
    if (version !== 13 && version !== 8) {
      this.clientError(request, socket, 400, 'Missing or invalid Sec-WebSocket-Version header', {
        'Sec-WebSocket-Version': '13, 8',
      });
      return;
    }
    if (!this.shouldHandle(request)) {
      abortHandshake(socket, 400);
      return;
    }
    let protocols = new Set<string>();
    const protocolHeader = headers['sec-websocket-protocol'];
    if (protocolHeader !== undefined) {
      try {
        // ws's parser refuses an empty list element (`a,,b`, `a,`), which the core now
        // skips as RFC 9110 5.6.1 asks: the layer keeps ws's answer.
        if (hasEmptyListElement(protocolHeader)) throw new SyntaxError('empty list element');
        protocols = new Set(parseProtocols(protocolHeader));
      } catch {
        this.clientError(request, socket, 400, 'Invalid Sec-WebSocket-Protocol header');
        return;
      }
    }
    let extensionsHeaderValue = '';
    let extension: ReturnType<PerMessageDeflate['negotiate']> = null;
    const offers = headers['sec-websocket-extensions'];
    if (this.deflate !== null && offers !== undefined) {
      try {
        if (hasEmptyListElement(offers)) throw new SyntaxError('empty list element');
        extension = this.deflate.negotiate(parseExtensions(offers));
      } catch {
        this.clientError(request, socket, 400, 'Invalid or unacceptable Sec-WebSocket-Extensions header');
        return;
      }
      if (extension !== null) extensionsHeaderValue = extension.responseHeaderValue;
    }
    const verifyClient = this.options.verifyClient;
    if (verifyClient !== undefined) {
      const info: VerifyClientInfo = {
        origin: headers[version === 8 ? 'sec-websocket-origin' : 'origin'] as string | undefined,
        secure: isSecure(request),
        req: request,
      };
      if (verifyClient.length === 2) {
        (verifyClient as (info: VerifyClientInfo, callback: VerifyClientCallback) => void)(
          info,
          (verified, code, message, extra) => {
            if (!verified) {
              abortHandshake(socket, code || 401, message, extra);
              return;
            }
            this.completeUpgrade(
              extension,
              extensionsHeaderValue,
              key,
              protocols,
              request,
              socket,
              head,
              callback,
            );
          },
        );
        return;
      }
      if (!(verifyClient as (info: VerifyClientInfo) => boolean)(info)) {
        abortHandshake(socket, 401);
        return;
      }
    }
    this.completeUpgrade(extension, extensionsHeaderValue, key, protocols, request, socket, head, callback);
  }

  private completeUpgrade(
    agreement: ReturnType<PerMessageDeflate['negotiate']>,
    extensionsHeaderValue: string,
    key: string,
    protocols: Set<string>,
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    callback: (client: T, request: IncomingMessage) => void,
  ): void {
    if (!socket.readable || !socket.writable) {
      agreement?.extension.close();
      socket.destroy();
      return;
    }
    if ((socket as MarkedSocket)[kWebSocket] === true) {
      throw new Error(
        'server.handleUpgrade() was called more than once with the same socket, possibly due to a misconfiguration',
      );
    }
    if (this._state > RUNNING) {
      agreement?.extension.close();
      abortHandshake(socket, 503);
      return;
    }
    const lines = [
      'HTTP/1.1 101 Switching Protocols',
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${computeAccept(key)}`,
    ];
    const Socket = this.options.WebSocket ?? (WebSocket as unknown as new (address: null) => T);
    const ws = new Socket(null);
    if (protocols.size > 0) {
      const handle = this.options.handleProtocols;
      const protocol = handle !== undefined ? handle(protocols, request) : protocols.values().next().value;
      if (protocol) {
        lines.push(`Sec-WebSocket-Protocol: ${protocol}`);
        ws._protocol = protocol;
      }
    }
    if (agreement !== null) {
      lines.push(`Sec-WebSocket-Extensions: ${extensionsHeaderValue}`);
      ws._extension = agreement.extension;
    }
    this.emit('headers', lines, request);
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    socket.removeListener('error', onHandshakeSocketError);
    (socket as MarkedSocket)[kWebSocket] = true;
    ws.setSocket(socket as Socket, head, this.settings);
    const clients = this.clients;
    if (clients !== undefined) {
      clients.add(ws);
      ws.on('close', () => {
        clients.delete(ws);
        if (this._shouldEmitClose && clients.size === 0) process.nextTick(() => this.emitClose());
      });
    }
    callback(ws, request);
  }

  private clientError(
    request: IncomingMessage,
    socket: Duplex,
    code: number,
    message: string,
    headers?: OutgoingHttpHeaders,
  ): void {
    if (this.listenerCount('wsClientError') > 0) {
      this.emit('wsClientError', new Error(message), socket, request);
    } else {
      abortHandshake(socket, code, message, headers);
    }
  }

  private emitClose(): void {
    this._state = CLOSED;
    this.emit('close');
  }
}

function isSecure(request: IncomingMessage): boolean {
  const socket = request.socket as Socket & { authorized?: boolean; encrypted?: boolean };
  return socket.authorized === true || socket.encrypted === true;
}

function onHandshakeSocketError(this: Duplex): void {
  this.destroy();
}

/** Answer a refused handshake with `code` and close, as `ws` does. */
function abortHandshake(socket: Duplex, code: number, message?: string, headers?: OutgoingHttpHeaders): void {
  const body = message || STATUS_CODES[code] || '';
  const fields: OutgoingHttpHeaders = {
    Connection: 'close',
    'Content-Type': 'text/html',
    'Content-Length': Buffer.byteLength(body),
    ...headers,
  };
  socket.once('finish', socket.destroy);
  socket.end(
    `HTTP/1.1 ${code} ${STATUS_CODES[code]}\r\n${Object.keys(fields)
      .map((name) => `${name}: ${fields[name]}`)
      .join('\r\n')}\r\n\r\n${body}`,
  );
}

/** Whether a comma-separated header value has an empty element (`a,,b`, `a,`, `,a`). */
function hasEmptyListElement(value: string): boolean {
  return value.split(',').some((element) => element.trim() === '');
}
