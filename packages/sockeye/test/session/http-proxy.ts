/**
 * An HTTP proxy for tests that does what real proxies do to WebSockets and streams: it
 * can strip `Upgrade` (the handshake reaches the server as a plain GET, and the client
 * gets the server's non-101 answer), and buffer responses (an SSE stream reaches the
 * client only when it ends). Otherwise it forwards requests and upgrades as they are.
 * Given several servers, it sends each request (and each upgrade) to the next one in
 * turn: a round-robin load balancer without sticky sessions.
 */
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';

/** The proxy, in front of a server on 127.0.0.1. */
export class HttpProxy {
  /** Strip `Upgrade` and `Connection` from upgrade requests. */
  stripUpgrade = false;
  /** Hold every `text/event-stream` answer until it ends. */
  bufferStreams = false;
  /** Upgrades forwarded (WebSocket handshakes that went through). */
  upgrades = 0;
  /** Upgrades stripped. */
  stripped = 0;
  /** Send upgrades to this server's port rather than round robin. */
  upgradeTarget: number | undefined;
  /** Requests (not upgrades) sent to each server, by port. */
  readonly requests = new Map<number, number>();
  private turn = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  /** @param targets - the server's port on 127.0.0.1, or several servers' ports (round robin) */
  constructor(targets: number | readonly number[]) {
    this.targets = typeof targets === 'number' ? [targets] : targets;
    this.server = createServer((req, res) => {
      const port = this.next();
      this.requests.set(port, (this.requests.get(port) ?? 0) + 1);
      const upstream = request(
        {
          host: '127.0.0.1',
          port,
          method: req.method,
          path: req.url,
          headers: req.headers,
          agent: false,
        },
        (answer) => {
          const buffer =
            this.bufferStreams && (answer.headers['content-type'] ?? '').includes('event-stream');
          if (!buffer) {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
            return;
          }
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('end', () => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(Buffer.concat(chunks));
          });
        },
      );
      upstream.on('error', () => res.destroy());
      res.on('close', () => upstream.destroy());
      req.pipe(upstream);
    });
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      if (this.stripUpgrade) this.strip(req, socket);
      else this.tunnel(req, socket, head);
    });
  }

  private readonly targets: readonly number[];

  /** The server the next request goes to. */
  private next(): number {
    const port = this.targets[this.turn % this.targets.length]!;
    this.turn++;
    return port;
  }

  /** Listen on an ephemeral loopback port. @returns the port */
  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    return address.port;
  }

  /** Cut every connection through the proxy. */
  cut(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  /** Cut everything and stop listening. */
  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Forward an upgrade as the plain GET a stripping proxy makes of it, and relay the answer. */
  private strip(req: IncomingMessage, socket: Socket): void {
    this.stripped++;
    const headers = { ...req.headers };
    for (const name of Object.keys(headers)) {
      if (name === 'upgrade' || name === 'connection' || name.startsWith('sec-websocket'))
        delete headers[name];
    }
    const upstream = request(
      { host: '127.0.0.1', port: this.next(), method: 'GET', path: req.url, headers, agent: false },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          const body = Buffer.concat(chunks);
          socket.end(
            `HTTP/1.1 ${answer.statusCode} ${answer.statusMessage}\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
          );
        });
      },
    );
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
    upstream.end();
  }

  /** Relay an upgrade byte for byte. */
  private tunnel(req: IncomingMessage, socket: Socket, head: Buffer): void {
    this.upgrades++;
    const upstream = connect(this.upgradeTarget ?? this.next(), '127.0.0.1');
    this.sockets.add(upstream);
    upstream.on('close', () => this.sockets.delete(upstream));
    let raw = `${req.method} ${req.url} HTTP/1.1\r\n`;
    for (let i = 0; i < req.rawHeaders.length; i += 2)
      raw += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
    upstream.write(`${raw}\r\n`);
    if (head.length > 0) upstream.write(head);
    upstream.pipe(socket);
    socket.pipe(upstream);
    const end = () => {
      upstream.destroy();
      socket.destroy();
    };
    upstream.on('error', end).on('close', end);
    socket.on('error', end).on('close', end);
  }
}
