/** Test helpers for the client: loopback servers and an event recorder. */
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import type { WebSocket } from '../../src/client/websocket.js';
import { computeAccept } from '../../src/protocol/handshake.js';

/** One recorded event, as JSON-friendly values. */
export type Recorded = (string | number | boolean)[];

/**
 * Attach listeners for every event and record them (with readyState), resolving on
 * `close`. A message's data is described as `text:<s>`, `arraybuffer:<n>` or `blob:<n>`.
 */
export function record(ws: WebSocket): Promise<Recorded[]> {
  const events: Recorded[] = [];
  return new Promise((resolve) => {
    ws.addEventListener('open', () => events.push(['open', ws.readyState, ws.protocol]));
    ws.addEventListener('message', (event) => {
      const data = (event as MessageEvent).data as unknown;
      events.push([
        'message',
        typeof data === 'string'
          ? `text:${data}`
          : data instanceof ArrayBuffer
            ? `arraybuffer:${data.byteLength}`
            : `blob:${(data as Blob).size}`,
      ]);
    });
    ws.addEventListener('error', () => events.push(['error', ws.readyState]));
    ws.addEventListener('close', (event) => {
      const close = event as Event & { code: number; reason: string; wasClean: boolean };
      events.push(['close', ws.readyState, close.code, close.reason, close.wasClean]);
      resolve(events);
    });
  });
}

/** The close event's error message, if an error event came before it. */
export function errorMessage(ws: WebSocket): Promise<string> {
  return new Promise((resolve) => {
    ws.addEventListener('error', (event) => resolve((event as Event & { message: string }).message));
  });
}

/**
 * A `ws` echo server on loopback with the contract of conformance/echo-server.ts: the first
 * offered subprotocol is selected; `?close=<code>&reason=<text>` closes after the first
 * echo; `?ping=<payload>` pings after the handshake and answers the pong with `pong:<payload>`.
 */
export async function startWsEcho(): Promise<{
  url: string;
  server: WebSocketServer;
  close(): Promise<void>;
}> {
  const server = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    maxPayload: 64 * 1024 * 1024,
    handleProtocols: (protocols) => protocols.values().next().value ?? false,
  });
  await once(server, 'listening');
  server.on('connection', (socket, request) => {
    const params = new URL(request.url ?? '/', 'http://x').searchParams;
    const ping = params.get('ping');
    if (ping !== null) {
      socket.once('pong', (data) => socket.send(`pong:${data.toString()}`));
      socket.ping(ping);
    }
    socket.on('message', (data, isBinary) => {
      socket.send(data, { binary: isBinary });
      const code = params.get('close');
      if (code !== null) socket.close(Number(code), params.get('reason') ?? '');
    });
  });
  const address = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${address.port}`,
    server,
    close: () =>
      new Promise((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}

/**
 * A raw TCP server on loopback for misbehaving peers: `onSocket` gets each socket and the
 * request head once it has arrived (with a helper that builds a correct 101 response).
 */
export async function startRawServer(
  onSocket: (socket: Socket, request: string, accept: (extra?: string) => string) => void,
): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      const key = /sec-websocket-key: *(\S+)/i.exec(head)?.[1] ?? '';
      const accept = (extra = '') =>
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${computeAccept(key)}\r\n${extra}\r\n`;
      onSocket(socket, head, accept);
    };
    socket.on('data', onData);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${address.port}`,
    server,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** What {@link startRawServer} resolves with. */
export type RawServer = Awaited<ReturnType<typeof startRawServer>>;

/**
 * Run `body` against a {@link startRawServer} server built with `onSocket`, and close the
 * server (and every socket it accepted) afterwards, whether `body` passed or threw.
 */
export async function withRawServer<T>(
  onSocket: Parameters<typeof startRawServer>[0],
  body: (raw: RawServer) => Promise<T>,
): Promise<T> {
  const raw = await startRawServer(onSocket);
  try {
    return await body(raw);
  } finally {
    await raw.close();
  }
}

/** An unmasked server frame. */
export function serverFrame(opcode: number, payload: Buffer | string, fin = true): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  let header: Buffer;
  if (body.length < 126) {
    header = Buffer.from([(fin ? 0x80 : 0) | opcode, body.length]);
  } else if (body.length < 65536) {
    header = Buffer.alloc(4);
    header[0] = (fin ? 0x80 : 0) | opcode;
    header[1] = 126;
    header.writeUInt16BE(body.length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = (fin ? 0x80 : 0) | opcode;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(body.length), 2);
  }
  return Buffer.concat([header, body]);
}

/** A close frame payload. */
export function closePayload(code: number, reason = ''): Buffer {
  const reasonBytes = Buffer.from(reason);
  const payload = Buffer.alloc(2 + reasonBytes.length);
  payload.writeUInt16BE(code, 0);
  reasonBytes.copy(payload, 2);
  return payload;
}
