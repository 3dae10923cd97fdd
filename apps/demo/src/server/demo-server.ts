/**
 * The demo server: one HTTP server on one port serving the built pages and the
 * sockets they use (echo, inspector feed, sink, chat, reconnect, the transport lab's), each a sockeye
 * `WebSocketServer` (chat and reconnect: a `SessionServer`) in `noServer` mode behind one
 * `upgrade` listener that routes by path.
 *
 * The sessions, and what the chat remembers, live in a {@link DemoState}: written to
 * `stateFile` when the server closes and read back by the next one, so that a restart
 * loses nothing. With `control`, the Reconnect page's buttons can break links and restart
 * the socket services (`control.ts`).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { buildRejectResponse, HandshakeError } from '@sockeye/sockeye/protocol';
import type { Broker } from '@sockeye/sockeye/pubsub';
import { CHAT_PATH, ECHO_PATH, INSPECTOR_FEED_PATH, RECONNECT_PATH, SINK_PATH } from '../shared/routes.js';
import { AdminService } from './admin.js';
import { ChatService } from './chat.js';
import { controlHandler } from './control.js';
import { EchoService } from './echo.js';
import { LabService } from './lab.js';
import { ReconnectService } from './reconnect.js';
import { requestUrl } from './request-url.js';
import { SinkService } from './sink.js';
import { DemoState } from './state.js';
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
  /**
   * Where the sessions and the chat's lines wait across restarts: read at start, written
   * at close.
   * @defaultValue none: they live and die with the server
   */
  stateFile?: string;
  /**
   * Turns on the control endpoint of the Reconnect page's buttons (`/control/…`: cut or
   * black-hole a link, restart the socket services). Only for a demo on a trusted
   * address (loopback): any same-origin page may use it.
   * @defaultValue false (the buttons get 404)
   */
  control?: boolean;
}

/** The socket services, made again by a restart. */
interface Services {
  echo: EchoService;
  chat: ChatService;
  sink: SinkService;
  reconnect: ReconnectService;
  state: DemoState;
}

/** A running demo server. */
export interface DemoServer {
  /** `http://host:port`, the address to open in a browser. */
  readonly origin: string;
  /** The bound port. */
  readonly port: number;
  /** Close every socket and stop listening (the state goes to `stateFile`). */
  close(): Promise<void>;
  /**
   * Restart the socket services: close every socket as a closing server does (the
   * sessions go to the state), then start them again from the state, as a new process
   * on the same `stateFile` would. The HTTP server stays up; sockets are refused (503)
   * until the services are back.
   * @throws RangeError with a `broker` (it is closed with the services: restart the process instead)
   */
  restart(): Promise<void>;
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
  const broker = options.broker;
  const makeServices = (state: DemoState): Services => ({
    echo: new EchoService(),
    chat: new ChatService(broker, state),
    sink: new SinkService(),
    reconnect: new ReconnectService(state),
    state,
  });
  let services: Services | null = makeServices(new DemoState(options.stateFile).load());
  const closeServices = async (current: Services) => {
    await Promise.all([
      current.echo.close(),
      current.sink.close(),
      current.chat.close(),
      current.reconnect.close(),
    ]);
  };
  const lab = new LabService();
  const admin =
    options.adminToken === undefined
      ? null
      : new AdminService(options.adminToken, () =>
          services === null
            ? {}
            : {
                ...services.echo.servers(),
                sink: services.sink.webSocketServer,
                chat: services.chat.webSocketServer,
                reconnect: services.reconnect.webSocketServer,
              },
        );
  const files = serveStatic(options.publicDir);
  let restarting: Promise<void> | null = null;
  const restart = async (): Promise<void> => {
    if (broker !== undefined) throw new RangeError('a demo server with a broker restarts as a process');
    restarting ??= (async () => {
      const old = services;
      if (old === null) return;
      services = null;
      await closeServices(old);
      // Through the state's text, as through the file across processes.
      const next = makeServices(new DemoState(options.stateFile).parse(old.state.toText()));
      await next.chat.start();
      services = next;
    })().finally(() => {
      restarting = null;
    });
    return restarting;
  };
  const control =
    options.control === true
      ? controlHandler(() => ({
          cut: (tab) => services?.reconnect.cut(tab) ?? false,
          blackhole: (tab) => services?.reconnect.blackhole(tab) ?? false,
          canRestart: broker === undefined,
          restart: () => void restart(),
        }))
      : null;
  const http: Server = createServer((request, response) => {
    if (admin?.handle(request, response)) return;
    if (lab.handle(request, response)) return;
    if (control?.(request, response)) return;
    return files(request, response);
  });
  http.on('upgrade', (request, duplex, head) => {
    // An HTTP server's upgrade socket is a net.Socket (a TLS one for HTTPS).
    const socket = duplex as Socket;
    const path = requestUrl(request)?.pathname ?? '';
    const current = services;
    if (current === null) {
      socket.on('error', () => {});
      socket.end(buildRejectResponse(new HandshakeError(503, 'restarting')));
    } else if (path === ECHO_PATH) current.echo.handleUpgrade('echo', request, socket, head);
    else if (path === INSPECTOR_FEED_PATH) current.echo.handleUpgrade('feed', request, socket, head);
    else if (path === SINK_PATH) current.sink.handleUpgrade(request, socket, head);
    else if (path === CHAT_PATH) current.chat.handleUpgrade(request, socket, head);
    else if (path === RECONNECT_PATH) current.reconnect.handleUpgrade(request, socket, head);
    else if (lab.handleUpgrade(request, socket, head)) return;
    else {
      socket.on('error', () => {});
      socket.end(buildRejectResponse(new HandshakeError(404, `no WebSocket endpoint at ${path}`)));
    }
  });
  const close = async () => {
    admin?.close();
    await restarting;
    const current = services;
    services = null;
    if (current !== null) {
      await closeServices(current);
      try {
        current.state.save();
      } catch (error) {
        console.error(`sockeye demo: cannot write the state file: ${(error as Error).message}`);
      }
    }
    await lab.close();
    await new Promise<void>((resolve) => {
      http.close(() => resolve());
      http.closeAllConnections();
    });
  };
  try {
    await services.chat.start();
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(options.port, host, () => {
        http.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    admin?.close();
    if (services !== null) await closeServices(services);
    await lab.close();
    throw error;
  }
  const port = (http.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return { origin: `http://${shownHost}:${port}`, port, close, restart };
}
