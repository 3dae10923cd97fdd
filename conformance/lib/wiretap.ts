/**
 * A wiretap for interop tests: a TCP relay on loopback between a client and a server that
 * records the bytes of both directions, so a test can check what really went over the
 * wire (the handshake headers, RSV1 on compressed frames) whatever the peers report.
 * Recording is bounded: past `maxRecorded` bytes per direction the relay keeps relaying
 * but stops recording, and the test sees `truncated`.
 */
import { once } from 'node:events';
import { createServer, connect as netConnect, type Socket } from 'node:net';

/** One WebSocket frame as seen on the wire (payload not kept). */
export interface WireFrame {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  masked: boolean;
  length: number;
}

/** What one direction of one connection carried. */
export interface WireDirection {
  /** The HTTP head (request or response), up to and including the blank line. */
  head: string;
  /** The frames after the head, in order (a frame cut off at the end is left out). */
  frames: WireFrame[];
  /** Recording stopped at the bound. */
  truncated: boolean;
}

/** A running wiretap. */
export interface Wiretap {
  /** Where the client connects: ws://127.0.0.1:<port>. */
  url: string;
  /** Both directions of every connection relayed so far, in connection order. */
  connections(): Array<{ toServer: WireDirection; toClient: WireDirection }>;
  /** Stop relaying and close every socket. */
  close(): Promise<void>;
}

/** Default bound on recorded bytes per direction of one connection. */
export const DEFAULT_MAX_RECORDED = 32 * 1024 * 1024;

/** Relay 127.0.0.1:<listen port> to `target` (host:port on loopback), recording both directions. */
export async function startWiretap(
  target: { host: string; port: number },
  maxRecorded = DEFAULT_MAX_RECORDED,
): Promise<Wiretap> {
  const sockets = new Set<Socket>();
  const recorded: Array<{ toServer: Recording; toClient: Recording }> = [];
  const server = createServer((client) => {
    const upstream = netConnect(target);
    const entry = { toServer: new Recording(maxRecorded), toClient: new Recording(maxRecorded) };
    recorded.push(entry);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => entry.toServer.add(chunk));
    upstream.on('data', (chunk: Buffer) => entry.toClient.add(chunk));
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}`,
    connections: () =>
      recorded.map((entry) => ({ toServer: entry.toServer.read(), toClient: entry.toClient.read() })),
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

class Recording {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private truncated = false;

  constructor(private readonly max: number) {}

  add(chunk: Buffer): void {
    if (this.size + chunk.length > this.max) {
      this.truncated = true;
      return;
    }
    this.chunks.push(Buffer.from(chunk));
    this.size += chunk.length;
  }

  read(): WireDirection {
    const bytes = Buffer.concat(this.chunks, this.size);
    const end = bytes.indexOf('\r\n\r\n');
    if (end === -1) return { head: bytes.toString('latin1'), frames: [], truncated: this.truncated };
    return {
      head: bytes.subarray(0, end + 4).toString('latin1'),
      frames: parseFrames(bytes.subarray(end + 4)),
      truncated: this.truncated,
    };
  }
}

/** Frame headers in `bytes` (RFC 6455 section 5.2), stopping at a frame that is cut off. */
export function parseFrames(bytes: Buffer): WireFrame[] {
  const frames: WireFrame[] = [];
  let at = 0;
  while (at + 2 <= bytes.length) {
    const b0 = bytes[at] as number;
    const b1 = bytes[at + 1] as number;
    let length = b1 & 0x7f;
    let pos = at + 2;
    if (length === 126) {
      if (pos + 2 > bytes.length) break;
      length = bytes.readUInt16BE(pos);
      pos += 2;
    } else if (length === 127) {
      if (pos + 8 > bytes.length) break;
      length = Number(bytes.readBigUInt64BE(pos));
      pos += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    if (masked) pos += 4;
    if (pos + length > bytes.length) break;
    frames.push({ fin: (b0 & 0x80) !== 0, rsv1: (b0 & 0x40) !== 0, opcode: b0 & 0x0f, masked, length });
    at = pos + length;
  }
  return frames;
}

/** The value of `name` in an HTTP head, or null. */
export function headerValue(head: string, name: string): string | null {
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === name.toLowerCase()) {
      return line.slice(colon + 1).trim();
    }
  }
  return null;
}
