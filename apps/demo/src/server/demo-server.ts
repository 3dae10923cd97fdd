/**
 * The demo server: one HTTP server on one port serving the built pages and the
 * sockets they use (echo, inspector feed, sink, chat), each a sockeye `WebSocketServer` in
 * `noServer` mode behind one `upgrade` listener that routes by path.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { buildRejectResponse, HandshakeError } from '@sockeye/sockeye/protocol';
import type { Broker } from '@sockeye/sockeye/pubsub';
import { CHAT_PATH, ECHO_PATH, INSPECTOR_FEED_PATH, SINK_PATH } from '../shared/routes.js';
import { AdminService } from './admin.js';
import { ChatService } from './chat.js';
import { EchoService } from './echo.js';
import { SinkService } from './sink.js';
import { serveStatic } from './static-files.js';

/** Options of {@link startDemoServer}. */
export interface DemoServerOptions {
  /** The built pages (`apps/demo/dist/public`). */
  publicDir: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Address to bind. @defaultValue `127.0.0.1` */
  host?: string;
  /**
   * Carries the chat room to other demo servers (a `RedisBroker`); closed with the server.
   * @defaultValue an in-process broker: the room is this server's alone
   */
  broker?: Broker;
  /**
   * Turns on the admin page (`/admin`): its data (`/admin/stats`) is served only to
   * `Authorization: Bearer <adminToken>`. At least 16 characters.
   * @defaultValue none: no admin page (404)
   */
  adminToken?: string;
}

/** A running demo server. */
export interface DemoServer {
  /** `http://host:port`, the address to open in a browser. */
  readonly origin: string;
  /** The bound port. */
  readonly port: number;
  /** Close every socket and stop listening. */
  close(): Promise<void>;
}

/**
 * Start the demo server.
 * @throws the `listen` error (`EADDRINUSE` when the port is taken) after cleaning up;
 *   RangeError for an `adminToken` shorter than 16 characters
 */
export async function startDemoServer(options: DemoServerOptions): Promise<DemoServer> {
  const host = options.host ?? '127.0.0.1';
  if (options.adminToken !== undefined && options.adminToken.length < 16) {
    throw new RangeError('adminToken must have at least 16 characters');
  }
  const echo = new EchoService();
  const chat = new ChatService(options.broker);
  const sink = new SinkService();
  const admin =
    options.adminToken === undefined
      ? null
      : new AdminService(options.adminToken, () => ({
          ...echo.servers(),
          sink: sink.webSocketServer,
          chat: chat.webSocketServer,
        }));
  const files = serveStatic(options.publicDir);
  const http: Server = createServer((request, response) => {
    if (admin?.handle(request, response)) return;
    return files(request, response);
  });
  http.on('upgrade', (request, duplex, head) => {
    // An HTTP server's upgrade socket is a net.Socket (a TLS one for HTTPS).
    const socket = duplex as Socket;
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path === ECHO_PATH) echo.handleUpgrade('echo', request, socket, head);
    else if (path === INSPECTOR_FEED_PATH) echo.handleUpgrade('feed', request, socket, head);
    else if (path === SINK_PATH) sink.handleUpgrade(request, socket, head);
    else if (path === CHAT_PATH) chat.handleUpgrade(request, socket, head);
    else {
      socket.on('error', () => {});
      socket.end(buildRejectResponse(new HandshakeError(404, `no WebSocket endpoint at ${path}`)));
    }
  });
  const close = async () => {
    admin?.close();
    await Promise.all([echo.close(), sink.close(), chat.close()]);
    await new Promise<void>((resolve) => {
      http.close(() => resolve());
      http.closeAllConnections();
    });
  };
  try {
    await chat.start();
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(options.port, host, () => {
        http.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    admin?.close();
    await Promise.all([echo.close(), sink.close(), chat.close()]);
    throw error;
  }
  const port = (http.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return { origin: `http://${shownHost}:${port}`, port, close };
}
