/** Raw HTTP on loopback for the EventSource endpoint tests: a client that reads the bytes of an event stream. */
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import {
  type CommonServerOptions,
  type EventSourceEndpoint,
  type EventSourceOptions,
  WebSocketServer,
} from '../../src/index.js';

/** Poll `condition` until it holds; fail after `timeoutMs` (a hang guard, not a timing assertion). */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** An HTTP server with a WebSocket server attached and its EventSource endpoint on `/events`. */
export interface EventSourceFixture {
  readonly http: Server;
  readonly server: WebSocketServer;
  readonly events: EventSourceEndpoint;
  readonly port: number;
  close(): Promise<void>;
}

/** Start a fixture on an ephemeral loopback port. */
export async function startFixture(
  events: EventSourceOptions = {},
  server: Omit<CommonServerOptions<undefined>, 'handlers'> = {},
): Promise<EventSourceFixture> {
  const http = createServer();
  const wss = new WebSocketServer({ ...server, server: http, path: '/ws', handlers: {} });
  const endpoint = wss.eventSource({ path: '/events', ...events });
  http.on('request', (request, response) => {
    if (endpoint.handle(request, response)) return;
    response.writeHead(404).end('not here\n');
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as AddressInfo).port;
  return {
    http,
    server: wss,
    events: endpoint,
    port,
    async close() {
      await wss.close({ timeout: 1000 });
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/**
 * A raw HTTP/1.1 client on one TCP connection: sends a GET and collects the response,
 * with the chunked body decoded.
 */
export class RawEventStream {
  readonly socket: Socket;
  private raw = Buffer.alloc(0);
  ended = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.raw = Buffer.concat([this.raw, chunk]);
    });
    socket.on('close', () => {
      this.ended = true;
    });
    socket.on('error', () => {});
  }

  /** Connect and send `GET path` with `headers`. */
  static async open(
    port: number,
    path: string,
    headers: Record<string, string> = {},
    method = 'GET',
  ): Promise<RawEventStream> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    let request = `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n`;
    for (const [name, value] of Object.entries(headers)) request += `${name}: ${value}\r\n`;
    socket.write(`${request}\r\n`);
    return new RawEventStream(socket);
  }

  /** The response head, once it has arrived (null before). */
  get head(): { status: number; headers: Record<string, string> } | null {
    const end = this.raw.indexOf('\r\n\r\n');
    if (end === -1) return null;
    const lines = this.raw.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number(lines[0]!.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    return { status, headers };
  }

  /** The body so far, de-chunked when the response is chunked. */
  get body(): string {
    const end = this.raw.indexOf('\r\n\r\n');
    if (end === -1) return '';
    const rest = this.raw.subarray(end + 4);
    if (this.head?.headers['transfer-encoding'] !== 'chunked') return rest.toString('utf8');
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const lineEnd = rest.indexOf('\r\n', at);
      if (lineEnd === -1) break;
      const size = Number.parseInt(rest.subarray(at, lineEnd).toString('latin1'), 16);
      if (size === 0 || lineEnd + 2 + size > rest.length) break;
      parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
    return Buffer.concat(parts).toString('utf8');
  }

  /** The sizes of the body's chunks so far (a chunked response). */
  get chunkSizes(): number[] {
    const end = this.raw.indexOf('\r\n\r\n');
    if (end === -1) return [];
    const rest = this.raw.subarray(end + 4);
    const sizes: number[] = [];
    let at = 0;
    for (;;) {
      const lineEnd = rest.indexOf('\r\n', at);
      if (lineEnd === -1) break;
      const size = Number.parseInt(rest.subarray(at, lineEnd).toString('latin1'), 16);
      if (size === 0 || lineEnd + 2 + size > rest.length) break;
      sizes.push(size);
      at = lineEnd + 2 + size + 2;
    }
    return sizes;
  }

  /** Whether the chunked body has ended (the last chunk arrived). */
  get complete(): boolean {
    return this.raw.includes('\r\n0\r\n\r\n');
  }

  /** Wait until the body contains `text`. */
  async waitForBody(text: string): Promise<string> {
    await waitFor(() => this.body.includes(text), `${JSON.stringify(text)} in the stream`);
    return this.body;
  }

  /** Wait until the head has arrived. */
  async waitForHead(): Promise<{ status: number; headers: Record<string, string> }> {
    await waitFor(() => this.head !== null, 'the response head');
    return this.head!;
  }

  close(): void {
    this.socket.destroy();
  }
}
