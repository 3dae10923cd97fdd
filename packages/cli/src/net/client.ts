/**
 * A WebSocket client connection for the command line. The opening handshake is the
 * library client's own (`openHandshake` from `@sockeye/sockeye/client`: TCP or TLS, an HTTP
 * CONNECT proxy, redirects, permessage-deflate negotiated and checked); the open
 * connection is a client-role `Connection` of the protocol core driven here, because
 * unlike the WHATWG `WebSocket` it can send pings, shows pings and pongs as they arrive,
 * reports the exact close code, and lets `-v` trace every frame on the wire.
 */
import type { Socket } from 'node:net';
import { type ClientOptions, type OpenedSocket, openHandshake } from '@sockeye/sockeye/client';
import {
  type CloseInfo,
  Connection,
  checkInteger,
  checkMaxPayload,
  limits,
  MAX_TIMEOUT_MS,
  type ResponseHead,
} from '@sockeye/sockeye/protocol';

const { DEFAULT_CLOSE_TIMEOUT_MS, DEFAULT_HIGH_WATER_MARK } = limits;

/** Options of {@link openClient}: the library client's options, plus a bigger default message limit. */
export interface ClientConnectOptions
  extends Pick<
    ClientOptions,
    | 'headers'
    | 'origin'
    | 'handshakeTimeout'
    | 'closeTimeout'
    | 'followRedirects'
    | 'proxy'
    | 'perMessageDeflate'
    | 'ca'
    | 'cert'
    | 'key'
    | 'rejectUnauthorized'
  > {
  /** Subprotocols to offer, in order of preference. */
  protocols?: readonly string[];
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
  /** Bytes read from the socket (after the handshake), for a frame trace. */
  received?(chunk: Buffer): void;
  /** Bytes written to the socket, for a frame trace. */
  wrote?(chunk: Buffer): void;
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
  private wrote: ((chunk: Buffer) => void) | undefined;
  private received: ((chunk: Buffer) => void) | undefined;
  private readonly socket: Socket;
  /** Pong bytes queued or handed to the socket and not yet written to the kernel. */
  private pongBytes = 0;
  /** Pong bytes queued since the last flush (part of `pongBytes`). */
  private unflushedPongBytes = 0;
  /** Reading stopped because too many pongs are waiting to be written. */
  private readPaused = false;

  constructor(
    private readonly opened: OpenedSocket,
    private readonly options: ClientConnectOptions,
  ) {
    this.socket = opened.socket;
  }

  /** The subprotocol the server selected, or `''`. */
  get protocol(): string {
    return this.opened.protocol;
  }

  /** The `Sec-WebSocket-Extensions` the server answered, or `''`. */
  get extensions(): string {
    return this.opened.response.headers['sec-websocket-extensions'] ?? '';
  }

  /** The URL connected to (after redirects). */
  get url(): URL {
    return this.opened.url;
  }

  /** The upgrade request as sent. */
  get request(): string {
    return this.opened.request;
  }

  /** The server's 101 response. */
  get response(): ResponseHead {
    return this.opened.response;
  }

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
          this.closeTimer ??= setTimeout(
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
      {
        role: 'client',
        maxPayload: this.options.maxPayload ?? DEFAULT_CLI_MAX_PAYLOAD,
        ...(this.opened.deflate === null ? {} : { extensions: [this.opened.deflate] }),
      },
    );
    this.connection = connection;
    this.wrote = events.wrote;
    this.received = events.received;
    this.socket.on('data', (chunk: Buffer) => this.receive(chunk));
    this.socket.on('end', () => connection.receiveEof());
    this.socket.on('error', (error) => {
      this.socketError ??= error;
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
    if (this.opened.rest.length > 0) this.receive(this.opened.rest);
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
    this.received?.(chunk);
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
    try {
      this.socket.cork();
      const last = chunks.length - 1;
      for (let i = 0; i <= last; i++) {
        const chunk = chunks[i]!;
        this.wrote?.(chunk);
        if (i < last || pongBytes === 0) this.socket.write(chunk);
        else this.socket.write(chunk, () => this.pongsWritten(pongBytes));
      }
      this.socket.uncork();
    } catch (error) {
      // A write that throws leaves the socket in an unknown state: drop it and fail the
      // connection with 1011 (`closed` reports the error; the process goes on).
      this.socket.destroy();
      this.connection?.abort(error);
    }
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
 * `localhost:8080` means `ws://localhost:8080` (as wscat and websocat read it); `http:`
 * and `https:` are taken as `ws:` and `wss:`.
 * @throws Error for something that is not a ws: or wss: URL
 */
export function parseTarget(input: string): URL {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(input) ? input : `ws://${input}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`not a URL: ${input}`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new Error(`not a ws: or wss: URL: ${input}`);
  return url;
}

/**
 * Open a connection to `url` with the library client's opening handshake.
 * @throws HandshakeError when the server refuses or answers something that is not a WebSocket 101
 * @throws Error for a socket error or the handshake timeout; TypeError or RangeError, naming it, for an option that cannot work
 */
export async function openClient(url: URL, options: ClientConnectOptions = {}): Promise<ClientConnection> {
  checkInteger('handshakeTimeout', options.handshakeTimeout, 1, MAX_TIMEOUT_MS);
  checkInteger('closeTimeout', options.closeTimeout, 1, MAX_TIMEOUT_MS);
  // Text messages are decoded for display: the limit must fit in a string.
  checkMaxPayload('maxPayload', options.maxPayload, true);
  const { protocols = [], maxPayload: _maxPayload, ...rest } = options;
  const opened = await openHandshake(url, protocols, rest).result;
  return new ClientConnection(opened, options);
}
