/**
 * A consumer of the published packages. conformance/packed.test.ts compiles it in a clean
 * project against the installed tarballs, with `strict`, `lib: ["es2023"]` (no DOM),
 * `types: ["node"]` and `skipLibCheck: false`, so every declaration file the imports reach
 * is checked too. Every entry point of every package is imported and used once; the
 * `@ts-expect-error` lines check that internals stay out of the published types.
 * (In the repository it type-checks against the workspace packages' built declarations.)
 */
import { decodeFrames, encodeFrame } from '@sockeye/cli/frame';
import { collectMetrics } from '@sockeye/metrics';
import { RedisBroker, type RedisBrokerOptions } from '@sockeye/redis';
import {
  type Broker,
  CloseCode,
  type CloseEvent,
  HandshakeError,
  InProcessBroker,
  ProtocolError,
  ReconnectingWebSocket,
  type ServerWebSocket,
  SessionServer,
  WebSocket,
  WebSocketServer,
  type WebSocketServerOptions,
  WebSocketStream,
} from '@sockeye/sockeye';
import { openHandshake } from '@sockeye/sockeye/client';
import { Connection, computeAccept } from '@sockeye/sockeye/protocol';
import { TopicRegistry } from '@sockeye/sockeye/pubsub';
import { isOriginAllowed } from '@sockeye/sockeye/server';
import { SessionCore } from '@sockeye/sockeye/session';
import { SessionServer as SessionServerFromSubpath } from '@sockeye/sockeye/session/server';
import { WebSocketServer as WsServer } from '@sockeye/sockeye/ws';

const broker: Broker = new InProcessBroker();
const options: WebSocketServerOptions<undefined> = {
  port: 0,
  broker,
  handlers: {
    message: (ws: ServerWebSocket, data: string | Buffer, isBinary: boolean) => {
      ws.send(data, isBinary);
    },
  },
};
export const server = new WebSocketServer(options);
export const metrics = collectMetrics(server);

export function client(url: string): WebSocket {
  const ws = new WebSocket(url);
  ws.onclose = (event: CloseEvent) => {
    const code: number = event.code;
    if (code !== CloseCode.Normal) console.log(event.reason, event.wasClean);
  };
  ws.onmessage = (event) => console.log(event.data);
  return ws;
}

export async function stream(url: string): Promise<string> {
  const { readable } = await new WebSocketStream(url).opened;
  const { value } = await readable.getReader().read();
  return typeof value === 'string' ? value : String(value?.byteLength);
}

export function isError(error: unknown): string | undefined {
  if (error instanceof ProtocolError || error instanceof HandshakeError) return error.message;
  return undefined;
}

const redisOptions: RedisBrokerOptions = { url: 'redis://127.0.0.1:6379', prefix: 'chat:' };
export const entryPoints = [
  () => new RedisBroker(redisOptions),
  () => new ReconnectingWebSocket('ws://127.0.0.1:1/'),
  () => new SessionServer({ port: 0, sessions: { message: (session, data) => session.send(data) } }),
  SessionServerFromSubpath,
  openHandshake,
  Connection,
  computeAccept('dGhlIHNhbXBsZSBub25jZQ=='),
  TopicRegistry,
  isOriginAllowed,
  SessionCore,
  WsServer,
  decodeFrames(encodeFrame({ opcode: 1, payload: new Uint8Array(0) })),
];

// Internals stay out of the published declarations.
type Root = typeof import('@sockeye/sockeye');
// @ts-expect-error: the sans-I/O core is only behind /protocol
export type RootConnection = Root['Connection'];
declare const ws: ServerWebSocket;
// @ts-expect-error: the server's connections take bytes from the server, not from users
ws._receive(Buffer.alloc(0));
// @ts-expect-error: the server's handler table is its own
server.handlers;
