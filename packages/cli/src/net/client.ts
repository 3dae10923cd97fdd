/**
 * A WebSocket client connection for the command line, on the sockeye protocol core:
 * unlike the WHATWG `WebSocket`, it can send pings, shows pongs and pings as they
 * arrive, and reports the exact close code. TCP or TLS (`wss:`), the opening handshake
 * checked by the core (`buildRequest`, the bounded `HttpHeadParser`, `validateResponse`),
 * then a client-role `Connection`.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import {
  buildRequest,
  type CloseInfo,
  Connection,
  generateKey,
  HandshakeError,
  HttpHeadParser,
  limits,
  type ResponseHead,
  validateResponse,
} from 'sockeye/protocol';

const {
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_HIGH_WATER_MARK,
  DEFAULT_MAX_HANDSHAKE_BYTES,
} = limits;

/** Options of {@link openClient}. */
export interface ClientConnectOptions {
  /** Subprotocols to offer, in order of preference. */
  protocols?: readonly string[];
  /** Extra request headers. */
  headers?: Readonly<Record<string, string>>;
  /** The `Origin` header (none by default: only browsers send one). */
  origin?: string;
  /** Accept a TLS certificate that does not verify (self-signed, wrong name). */
  insecure?: boolean;
  /** Time for TCP, TLS and the handshake, in ms. @defaultValue 10 000 */
  handshakeTimeout?: number;
  /** Time for the closing handshake, in ms. @defaultValue 10 000 */
  closeTimeout?: number;
  /** Largest message accepted. @defaultValue 16 MiB (a tool, not a server: generous) */
  maxPayload?: number;
}

/** How the connection ended. */
export interface ClientEnd {
  /** The server's close code, 1005 when its close frame had none, 1006 without a closing handshake. */
  code: number;
  /** The close reason. */
  reason: string;
  /** Both close frames were exchanged. */
  wasClean: boolean;
  /** What went wrong, when something did (a protocol error, a socket error). */
  error: Error | null;
}

/** What an open {@link ClientConnection} reports. */
export interface ClientEvents {
  message(data: Buffer, isText: boolean): void;
  ping(data: Buffer): void;
  pong(data: Buffer): void;
  /** Called once, when the TCP connection is gone. */
  closed(end: ClientEnd): void;
}

/** Largest message by default: a tool may read big messages, but not without bound. */
export const DEFAULT_CLI_MAX_PAYLOAD = 16 * 1024 * 1024;

/**
 * An open connection; attach events with {@link ClientConnection.start}.
 *
 * Reading stops while the pongs the server made us queue (pings are answered
 * automatically) and the kernel has not taken yet are above the core's
 * `DEFAULT_HIGH_WATER_MARK`: a server that floods pings and never reads cannot grow us
 * without bound. Our own messages do not count (pausing for them could deadlock against a
 * server that stops reading while its own output is full).
 */
export class ClientConnection {
  private connection: Connection | null = null;
  private info: CloseInfo | null = null;
  private socketError: Error | null = null;
  private closeTimer: NodeJS.Timeout | null = null;
  private flushing = false;
  /** Pong bytes queued or handed to the socket and not yet written to the kernel. */
  private pongBytes = 0;
  /** Pong bytes queued since the last flush (part of `pongBytes`). */
  private unflushedPongBytes = 0;
  /** Reading stopped because too many pongs are waiting to be written. */
  private readPaused = false;

  constructor(
    private readonly socket: Socket,
    private readonly rest: Buffer,
    /** The subprotocol the server selected, or `''`. */
    readonly protocol: string,
    /** The `Sec-WebSocket-Extensions` the server answered, or `''`. */
    readonly extensions: string,
    private readonly options: ClientConnectOptions,
  ) {}

  /** Start reading; `events` get everything from now on (including what came with the 101). */
  start(events: ClientEvents): void {
    const connection = new Connection(
      {
        onMessage: (data, isText) => events.message(data, isText),
        onPing: (data) => {
          // The core queued a pong (2-byte header, mask key, payload) unless it is closing.
          if (this.connection?.state === 'open') {
            this.pongBytes += 6 + data.length;
            this.unflushedPongBytes += 6 + data.length;
          }
          events.ping(data);
        },
        onPong: (data) => events.pong(data),
        onClose: (info) => {
          this.info = info;
          this.flush();
          // The server closes TCP first (RFC 6455 section 7.1.1); give it closeTimeout.
          this.closeTimer = setTimeout(
            () => this.socket.destroy(),
            this.options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT_MS,
          );
        },
        onOutput: () => {
          if (this.flushing) return;
          this.flushing = true;
          queueMicrotask(() => {
            this.flushing = false;
            this.flush();
          });
        },
      },
      { role: 'client', maxPayload: this.options.maxPayload ?? DEFAULT_CLI_MAX_PAYLOAD },
    );
    this.connection = connection;
    this.socket.on('data', (chunk: Buffer) => this.receive(chunk));
    this.socket.on('end', () => connection.receiveEof());
    this.socket.on('error', (error) => {
      this.socketError = error;
    });
    this.socket.on('close', () => {
      connection.receiveEof();
      if (this.closeTimer !== null) clearTimeout(this.closeTimer);
      const info = this.info ?? { code: 1006, reason: '', error: null };
      const clean = info.error === null && info.code !== 1006;
      events.closed({
        code: info.code,
        reason: info.reason,
        wasClean: clean,
        error: info.error ?? this.socketError,
      });
    });
    if (this.rest.length > 0) this.receive(this.rest);
    if (!this.readPaused) this.socket.resume();
  }

  /** Whether messages can still be sent. */
  get isOpen(): boolean {
    return this.connection?.state === 'open';
  }

  /** Send a message; false once closing. */
  send(data: string | Buffer, isText: boolean): boolean {
    return this.connection?.send(data, isText) ?? false;
  }

  /** Send a ping (at most 125 bytes); false once closing. */
  ping(data: string | Buffer = ''): boolean {
    return this.connection?.ping(data) ?? false;
  }

  /** Start the closing handshake. */
  close(code?: number, reason?: string): void {
    this.connection?.close(code, reason);
  }

  /** Drop the TCP connection now. */
  terminate(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    this.connection?.receive(chunk);
    if (!this.readPaused && this.pongBytes > DEFAULT_HIGH_WATER_MARK && !this.socket.destroyed) {
      this.readPaused = true;
      this.socket.pause();
    }
  }

  private flush(): void {
    const chunks = this.connection?.takeOutput() ?? [];
    if (chunks.length === 0 || !this.socket.writable) return;
    const pongBytes = this.unflushedPongBytes;
    this.unflushedPongBytes = 0;
    this.socket.cork();
    const last = chunks.length - 1;
    for (let i = 0; i < last; i++) this.socket.write(chunks[i]!);
    this.socket.write(chunks[last]!, pongBytes === 0 ? undefined : () => this.pongsWritten(pongBytes));
    this.socket.uncork();
  }

  /** A batch with pongs reached the kernel: read again once those still waiting are under the mark. */
  private pongsWritten(bytes: number): void {
    this.pongBytes -= bytes;
    if (this.readPaused && this.pongBytes <= DEFAULT_HIGH_WATER_MARK) {
      this.readPaused = false;
      this.socket.resume();
    }
  }
}

/**
 * Open a connection to `url` (`ws:` or `wss:`; `http(s):` are taken as `ws(s):`).
 * @throws HandshakeError when the server refuses or answers something that is not a WebSocket 101
 * @throws Error for a bad URL, a socket error or the handshake timeout
 */
export function openClient(input: string, options: ClientConnectOptions = {}): Promise<ClientConnection> {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return Promise.reject(new Error(`not a URL: ${input}`));
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    return Promise.reject(new Error(`not a ws: or wss: URL: ${input}`));
  }
  const secure = url.protocol === 'wss:';
  const port = Number(url.port || (secure ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const key = generateKey();
  const protocols = options.protocols ?? [];
  const request = buildRequest({
    host: url.host,
    path: `${url.pathname}${url.search}`,
    key,
    protocols,
    origin: options.origin,
    headers: options.headers,
  });
  const timeoutMs = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;

  return new Promise((resolve, reject) => {
    const socket: Socket = secure
      ? tlsConnect({
          host,
          port,
          servername: /^[\d.]+$|:/.test(host) ? undefined : host,
          rejectUnauthorized: options.insecure !== true,
          ALPNProtocols: ['http/1.1'],
        })
      : netConnect({ host, port });
    const parser = new HttpHeadParser<ResponseHead>('response', { maxBytes: DEFAULT_MAX_HANDSHAKE_BYTES });
    const timer = setTimeout(
      () => fail(new Error(`no WebSocket handshake after ${timeoutMs} ms`)),
      timeoutMs,
    );
    const fail = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      try {
        const parsed = parser.push(chunk);
        if (parsed === null) return;
        socket.off('data', onData);
        socket.pause();
        const head = parsed.head;
        if (head.statusCode !== 101) {
          throw new HandshakeError(
            head.statusCode,
            `the server answered ${head.statusCode} ${head.statusMessage}`.trim(),
          );
        }
        const accepted = validateResponse(head, { key, protocols, extensions: [] });
        clearTimeout(timer);
        socket.off('error', fail);
        resolve(
          new ClientConnection(
            socket,
            parsed.rest,
            accepted.protocol,
            head.headers['sec-websocket-extensions'] ?? '',
            options,
          ),
        );
      } catch (error) {
        fail(error as Error);
      }
    };
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      socket.setNoDelay(true);
      socket.write(request);
    });
    socket.on('data', onData);
    socket.on('error', fail);
    socket.once('close', () => fail(new Error('the server closed the connection during the handshake')));
  });
}
