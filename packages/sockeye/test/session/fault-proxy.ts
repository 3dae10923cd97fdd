/**
 * A TCP proxy for tests that breaks links on purpose: it sits between a client and a
 * server on loopback and can cut (destroy both sides), black-hole (forward nothing, send
 * no FIN: a half-open link), half-close (FIN one way), delay chunks, or cut a link after
 * a given number of bytes (at a random point inside a frame).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

/** One proxied connection: the client's socket and the one to the server. */
class Link {
  /** Bytes forwarded so far, both ways. */
  forwarded = 0;
  /** Cut once `forwarded` passes this. */
  cutAfter = Number.POSITIVE_INFINITY;
  /** Forward nothing more (a black hole: no FIN, no RST). */
  blackholed = false;
  private readonly queues = { up: [] as Pending[], down: [] as Pending[] };
  private readonly timers: { up?: ReturnType<typeof setTimeout>; down?: ReturnType<typeof setTimeout> } = {};

  constructor(
    readonly proxy: FaultProxy,
    readonly client: Socket,
    readonly upstream: Socket,
  ) {
    client.on('data', (chunk: Buffer) => this.forward('up', chunk));
    upstream.on('data', (chunk: Buffer) => this.forward('down', chunk));
    const end = () => this.cut();
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  }

  /** Destroy both sides (the peers see a reset or an end without a close frame). */
  cut(): void {
    clearTimeout(this.timers.up);
    clearTimeout(this.timers.down);
    this.client.destroy();
    this.upstream.destroy();
    this.proxy.links.delete(this);
  }

  /** Send a FIN towards the client (`down`) or towards the server (`up`) and forward nothing more that way. */
  halfClose(direction: 'up' | 'down'): void {
    const socket = direction === 'up' ? this.upstream : this.client;
    if (!socket.destroyed) socket.end();
  }

  private forward(direction: 'up' | 'down', chunk: Buffer): void {
    if (this.blackholed) return;
    const queue = this.queues[direction];
    queue.push({ due: Date.now() + this.proxy.delay, chunk });
    if (this.timers[direction] === undefined) this.pump(direction);
  }

  /** Write the chunks that are due, in order; come back for the rest. */
  private pump(direction: 'up' | 'down'): void {
    this.timers[direction] = undefined;
    const queue = this.queues[direction];
    const to = direction === 'up' ? this.upstream : this.client;
    const now = Date.now();
    while (queue.length > 0 && queue[0]!.due <= now) {
      let { chunk } = queue.shift()!;
      if (this.blackholed || to.destroyed || to.writableEnded) continue;
      const room = this.cutAfter - this.forwarded;
      if (chunk.length >= room) {
        chunk = chunk.subarray(0, Math.max(0, room));
        if (chunk.length > 0) to.write(chunk);
        this.cut();
        return;
      }
      this.forwarded += chunk.length;
      to.write(chunk);
    }
    if (queue.length > 0) {
      this.timers[direction] = setTimeout(() => this.pump(direction), Math.max(0, queue[0]!.due - now));
    }
  }
}

interface Pending {
  due: number;
  chunk: Buffer;
}

/** The proxy. Faults apply to the links open when they are called; `delay` to every chunk. */
export class FaultProxy {
  /** The links open now. */
  readonly links = new Set<Link>();
  /** Delay added to every chunk, in ms (order is kept). */
  delay = 0;
  private readonly server: Server;

  /** @param targetPort - the server's port on 127.0.0.1 (new links go to the port it holds then) */
  constructor(public targetPort: number) {
    this.server = createServer((client) => {
      const upstream = connect(this.targetPort, '127.0.0.1');
      this.links.add(new Link(this, client, upstream));
    });
  }

  /** Listen on an ephemeral loopback port. @returns the URL to give the client */
  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    return `ws://127.0.0.1:${address.port}`;
  }

  /** Cut every link now. */
  cut(): void {
    for (const link of [...this.links]) link.cut();
  }

  /** Cut every open link once it has forwarded `bytes` more bytes. */
  cutAfter(bytes: number): void {
    for (const link of this.links) link.cutAfter = link.forwarded + bytes;
  }

  /** Black-hole every open link: nothing more crosses it, and nobody is told. */
  blackhole(): void {
    for (const link of this.links) link.blackholed = true;
  }

  /** Half-close every open link in one direction. */
  halfClose(direction: 'up' | 'down'): void {
    for (const link of this.links) link.halfClose(direction);
  }

  /** Cut everything and stop listening. */
  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
