/** Loopback test helpers for the server: raw clients that speak bytes, and frame codecs written independently of the core. */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { WebSocket as WsClient, type ClientOptions as WsClientOptions } from 'ws';
import { type StandaloneServerOptions, WebSocketServer } from '../../src/index.js';

/** The sample key of RFC 6455 section 1.3. */
export const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
/** Its accept value. */
export const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

/** A standalone server on an ephemeral loopback port. */
export async function listen<Data = undefined>(
  options: Omit<StandaloneServerOptions<Data>, 'port' | 'host'>,
): Promise<{ server: WebSocketServer<Data>; port: number; url: string }> {
  const server = new WebSocketServer<Data>({ ...options, port: 0, host: '127.0.0.1' });
  const address = await server.listen();
  const port = address!.port;
  return { server, port, url: `ws://127.0.0.1:${port}` };
}

/** A valid upgrade request head. `headers` are added (or replace the defaults when `replace`). */
export function upgradeRequest(path = '/', headers: Record<string, string> = {}, port = 0): string {
  const base: Record<string, string> = {
    Host: `127.0.0.1:${port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': KEY,
    'Sec-WebSocket-Version': '13',
  };
  for (const [name, value] of Object.entries(headers)) {
    const existing = Object.keys(base).find((key) => key.toLowerCase() === name.toLowerCase());
    if (existing !== undefined) delete base[existing];
    if (value !== '') base[name] = value;
  }
  let head = `GET ${path} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(base)) head += `${name}: ${value}\r\n`;
  return `${head}\r\n`;
}

/** One frame as a test client would send it: masked unless told otherwise. */
export function clientFrame(
  opcode: number,
  payload: Buffer | string = Buffer.alloc(0),
  { fin = true, mask = true, rsv = 0 }: { fin?: boolean; mask?: boolean; rsv?: number } = {},
): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const length = data.length;
  const extra = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const header = Buffer.alloc(2 + extra + (mask ? 4 : 0));
  header[0] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  header[1] = (mask ? 0x80 : 0) | (extra === 0 ? length : extra === 2 ? 126 : 127);
  if (extra === 2) header.writeUInt16BE(length, 2);
  if (extra === 8) header.writeBigUInt64BE(BigInt(length), 2);
  if (!mask) return Buffer.concat([header, data]);
  const key = randomBytes(4);
  key.copy(header, 2 + extra);
  const masked = Buffer.alloc(length);
  for (let i = 0; i < length; i++) masked[i] = data[i]! ^ key[i & 3]!;
  return Buffer.concat([header, masked]);
}

/** A close frame payload: the code and the reason. */
export function closePayload(code: number, reason = ''): Buffer {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2);
  return payload;
}

/** A frame the server sent. */
export interface ServerFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

/** Parse the (unmasked) frames in `data`; an incomplete frame at the end is left out. */
export function parseServerFrames(data: Buffer): ServerFrame[] {
  const frames: ServerFrame[] = [];
  let at = 0;
  while (at + 2 <= data.length) {
    const b0 = data[at]!;
    const b1 = data[at + 1]!;
    if (b1 & 0x80) throw new Error('server frame is masked');
    let length = b1 & 0x7f;
    let start = at + 2;
    if (length === 126) {
      if (at + 4 > data.length) break;
      length = data.readUInt16BE(at + 2);
      start = at + 4;
    } else if (length === 127) {
      if (at + 10 > data.length) break;
      length = Number(data.readBigUInt64BE(at + 2));
      start = at + 10;
    }
    if (start + length > data.length) break;
    frames.push({ fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, payload: data.subarray(start, start + length) });
    at = start + length;
  }
  return frames;
}

/** A TCP client that collects everything it receives. */
export class RawClient {
  received = Buffer.alloc(0);
  ended = false;
  closed = false;
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  /** Connect to 127.0.0.1:`port`. `allowHalfOpen` keeps our side open after the server's FIN. */
  static connect(port: number, allowHalfOpen = false): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1', allowHalfOpen });
      socket.once('connect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  write(data: Buffer | string): void {
    this.socket.write(data);
  }

  /** Wait until `predicate` holds (checked on every event), or fail after `timeoutMs`. */
  waitFor(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(
          new Error(`timed out waiting for ${what}; received ${JSON.stringify(this.text().slice(0, 300))}`),
        );
      }, timeoutMs);
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      this.waiters.push(check);
    });
  }

  /** The HTTP response head, once it has arrived: status, headers, body after it. */
  async response(): Promise<{ status: number; head: string; body: Buffer }> {
    await this.waitFor(() => this.received.includes('\r\n\r\n'), 'an HTTP response');
    const end = this.received.indexOf('\r\n\r\n');
    const head = this.received.toString('latin1', 0, end);
    return { status: Number(head.slice(9, 12)), head, body: this.received.subarray(end + 4) };
  }

  /** Frames received after the response head. */
  frames(): ServerFrame[] {
    const end = this.received.indexOf('\r\n\r\n');
    return end === -1 ? [] : parseServerFrames(this.received.subarray(end + 4));
  }

  /** Wait for the TCP connection to be closed. */
  waitClosed(timeoutMs = 10_000): Promise<void> {
    return this.waitFor(() => this.closed, 'the connection to close', timeoutMs);
  }

  text(): string {
    return this.received.toString('latin1');
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

/** Open a raw client and complete a handshake; returns it with the 101 consumed. */
export async function rawOpen(
  port: number,
  path = '/',
  headers: Record<string, string> = {},
): Promise<RawClient> {
  const client = await RawClient.connect(port);
  client.write(upgradeRequest(path, headers, port));
  const { status, head } = await client.response();
  if (status !== 101) throw new Error(`expected 101, got ${head}`);
  return client;
}

/** Wait until `predicate` holds, polling every 10 ms, or fail after `timeoutMs`. */
export async function until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!predicate()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A `ws` client, open. */
export function openWs(
  url: string,
  protocols: string[] = [],
  options: WsClientOptions = {},
): Promise<WsClient> {
  return new Promise((resolve, reject) => {
    const ws = new WsClient(url, protocols, options);
    // Messages that arrive with the 101 are emitted right after 'open': collect from the start.
    const inbox: Array<{ data: Buffer; isBinary: boolean }> = [];
    inboxes.set(ws, inbox);
    ws.on('message', (data: Buffer, isBinary: boolean) => inbox.push({ data, isBinary }));
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_request, response) =>
      reject(new Error(`unexpected response ${response.statusCode}`)),
    );
  });
}

const inboxes = new WeakMap<WsClient, Array<{ data: Buffer; isBinary: boolean }>>();

/** Every message a client from {@link openWs} received so far (consumed by {@link nextMessage}). */
export function inbox(ws: WsClient): Array<{ data: Buffer; isBinary: boolean }> {
  return inboxes.get(ws)!;
}

/** The next message a client from {@link openWs} receives. */
export async function nextMessage(ws: WsClient): Promise<{ data: Buffer; isBinary: boolean }> {
  const messages = inbox(ws);
  await until(() => messages.length > 0, 'a message');
  return messages.shift()!;
}

/** The close a `ws` client sees. */
export function closeOf(ws: WsClient): Promise<{ code: number; reason: string }> {
  if (ws.readyState === WsClient.CLOSED) return Promise.reject(new Error('already closed'));
  return new Promise((resolve) =>
    ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })),
  );
}

/** A deferred value: a promise and its resolver, for events a test waits on. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
