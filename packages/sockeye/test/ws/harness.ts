/**
 * The differential harness of `@sockeye/sockeye/ws`: one script runs with `ws` on both ends (the
 * reference), then with the layer as the server, as the client, and as both; what each
 * end observed (its events in order, with their arguments) must be the same every time.
 * Raw scripts speak bytes to a server and compare what comes back on the wire.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import {
  type ServerOptions,
  WebSocketServer as WsServer,
  WebSocket as WsWebSocket,
  createWebSocketStream as wsCreateWebSocketStream,
} from 'ws';
import * as layer from '../../src/ws/index.js';

/** The `ws` API as its own types describe it: the contract the layer is held to. */
export interface Impl {
  name: string;
  WebSocket: typeof WsWebSocket;
  WebSocketServer: typeof WsServer;
  createWebSocketStream: typeof wsCreateWebSocketStream;
}

/** `ws` itself. */
export const wsImpl: Impl = {
  name: 'ws',
  WebSocket: WsWebSocket,
  WebSocketServer: WsServer,
  createWebSocketStream: wsCreateWebSocketStream,
};
/** The layer, typed as `ws` (the cast is the claim under test). */
export const layerImpl: Impl = {
  name: 'sockeye/ws',
  WebSocket: layer.WebSocket as unknown as typeof WsWebSocket,
  WebSocketServer: layer.WebSocketServer as unknown as typeof WsServer,
  createWebSocketStream: layer.createWebSocketStream as unknown as typeof wsCreateWebSocketStream,
};

/** The pairs a script runs with besides the reference (server, client). */
export const SUBJECTS: readonly (readonly [Impl, Impl])[] = [
  [layerImpl, wsImpl],
  [wsImpl, layerImpl],
  [layerImpl, layerImpl],
];

/** What a script gets: the implementations and a log per end. */
export interface Context {
  server: Impl;
  client: Impl;
  /** Log an observation of the server end. */
  s(...entry: unknown[]): void;
  /** Log an observation of the client end. */
  c(...entry: unknown[]): void;
}

/** A script: resolves once both ends are done (closed, or refused). */
export type Script = (context: Context) => Promise<void>;

/** What each end observed. */
export interface Observed {
  server: unknown[];
  client: unknown[];
}

/** A value as it goes into a log: buffers as hex, errors by name, message and code. */
export function describe(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return { buffer: value.toString('hex') };
  if (value instanceof ArrayBuffer) return { arrayBuffer: Buffer.from(value).toString('hex') };
  if (Array.isArray(value)) return value.map(describe);
  if (value instanceof Error) {
    return { name: value.name, message: value.message, code: (value as Error & { code?: unknown }).code };
  }
  return value;
}

/** Run `script` with a server and a client implementation. */
export async function run(script: Script, server: Impl, client: Impl): Promise<Observed> {
  const observed: Observed = { server: [], client: [] };
  await script({
    server,
    client,
    s: (...entry) => observed.server.push(entry.map(describe)),
    c: (...entry) => observed.client.push(entry.map(describe)),
  });
  return observed;
}

/** A standalone server of `impl` on a loopback port; resolves once it listens. */
export async function listen(
  impl: Impl,
  options: ServerOptions = {},
): Promise<{ wss: WsServer; url: string; port: number }> {
  const wss = new impl.WebSocketServer({ ...options, port: 0, host: '127.0.0.1' });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const port = (wss.address() as AddressInfo).port;
  return { wss, url: `ws://127.0.0.1:${port}`, port };
}

/** Resolves when `emitter` emits `event`. */
export function once(
  emitter: { once(event: string, listener: () => void): unknown },
  event: string,
): Promise<void> {
  return new Promise((resolve) => emitter.once(event, () => resolve()));
}

/** Close a server and wait for its `close`. */
export function closeServer(wss: WsServer): Promise<void> {
  return new Promise((resolve) => wss.close(() => resolve()));
}

/** The headers of a request, as the server's upgrade handler saw them (for logging). */
export function pathOf(request: IncomingMessage): string | undefined {
  return request.url;
}

/** A masked client frame. */
export function frame(
  opcode: number,
  payload: Buffer | string = Buffer.alloc(0),
  fin = true,
  mask = true,
): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const extra = data.length < 126 ? 0 : 2;
  const header = Buffer.alloc(2 + extra + (mask ? 4 : 0));
  header[0] = (fin ? 0x80 : 0) | opcode;
  header[1] = (mask ? 0x80 : 0) | (extra === 0 ? data.length : 126);
  if (extra === 2) header.writeUInt16BE(data.length, 2);
  if (!mask) return Buffer.concat([header, data]);
  const key = randomBytes(4);
  key.copy(header, 2 + extra);
  const masked = Buffer.from(data.map((byte, i) => byte ^ key[i & 3]!));
  return Buffer.concat([header, masked]);
}

/** A close frame's payload. */
export function closePayload(code: number, reason = ''): Buffer {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2);
  return payload;
}

/** The upgrade request a raw client sends (fixed key, so the answer is the same every time). */
export function upgradeHead(path = '/', extra: Record<string, string> = {}, method = 'GET'): string {
  const headers: Record<string, string> = {
    Host: '127.0.0.1',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13',
    ...extra,
  };
  let head = `${method} ${path} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(headers)) if (value !== '') head += `${name}: ${value}\r\n`;
  return `${head}\r\n`;
}

/**
 * Connect to `port`, write `chunks` (the first at once, each next one after the server's
 * first answer), and collect every byte until the server ends the connection.
 */
export function rawExchange(port: number, chunks: readonly (Buffer | string)[]): Promise<Buffer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let next = 0;
    const writeNext = () => {
      if (next < chunks.length) socket.write(chunks[next++]!);
    };
    socket.on('connect', writeNext);
    socket.on('data', (data) => {
      received.push(data);
      // After the 101, send the rest in one write, so that reads split the same way every run.
      while (next < chunks.length) writeNext();
    });
    // A reset (the server destroyed the socket with our bytes unread, which depends on
    // timing) ends the exchange like a FIN: 'close' follows and resolves with what arrived.
    // Rejecting here would skip the caller's clean-up and leave its server open.
    socket.on('error', () => {});
    socket.on('close', () => resolve(Buffer.concat(received)));
    socket.on('end', () => socket.end());
  });
}
