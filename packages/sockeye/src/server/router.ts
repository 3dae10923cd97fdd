import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { HandshakeError } from '../protocol/index.js';

/** The path of a request target, without the query. @internal */
export function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** What the router needs of a WebSocket server attached to an HTTP server. @internal */
export interface RoutedServer {
  /** The one path it serves, or undefined for every path. */
  readonly path: string | undefined;
  /** Take over an upgrade request. */
  handleUpgrade(request: IncomingMessage, socket: Socket, head: Buffer): Promise<unknown>;
  /** Refuse an upgrade (a path nobody serves). */
  _refuse(socket: Socket, error: HandshakeError): void;
}

/**
 * One `upgrade` listener per HTTP server, shared by every WebSocketServer attached to it,
 * dispatching by path. An upgrade to a path nobody serves gets 404 (a socket is never
 * left hanging).
 * @internal
 */
export class UpgradeRouter {
  private static readonly routers = new WeakMap<HttpServer | HttpsServer, UpgradeRouter>();
  private readonly byPath = new Map<string, RoutedServer>();
  private fallback: RoutedServer | null = null;
  private readonly listener = (request: IncomingMessage, socket: Socket, head: Buffer) =>
    this.route(request, socket, head);

  private constructor(private readonly server: HttpServer | HttpsServer) {}

  /** The router of an HTTP server (made on first use; forgotten when its last server leaves). */
  static for(server: HttpServer | HttpsServer): UpgradeRouter {
    let router = UpgradeRouter.routers.get(server);
    if (router === undefined) {
      router = new UpgradeRouter(server);
      UpgradeRouter.routers.set(server, router);
    }
    return router;
  }

  /**
   * Route `wss.path` (every path, if undefined) to `wss`.
   * @throws TypeError when another server already serves that path
   */
  add(wss: RoutedServer): void {
    if (wss.path === undefined) {
      if (this.fallback !== null)
        throw new TypeError('another WebSocketServer already serves every path of this server');
      this.fallback = wss;
    } else {
      if (this.byPath.has(wss.path))
        throw new TypeError(`another WebSocketServer already serves ${wss.path}`);
      this.byPath.set(wss.path, wss);
    }
    if (this.byPath.size + (this.fallback === null ? 0 : 1) === 1) this.server.on('upgrade', this.listener);
  }

  /** Stop routing to `wss` (the listener goes with the last server). */
  remove(wss: RoutedServer): void {
    if (this.fallback === wss) this.fallback = null;
    else if (wss.path !== undefined && this.byPath.get(wss.path) === wss) this.byPath.delete(wss.path);
    else return;
    if (this.byPath.size === 0 && this.fallback === null) {
      this.server.off('upgrade', this.listener);
      UpgradeRouter.routers.delete(this.server);
    }
  }

  private route(request: IncomingMessage, socket: Socket, head: Buffer): void {
    const path = pathOf(request.url ?? '/');
    const target = this.byPath.get(path) ?? this.fallback;
    if (target !== null) {
      void target.handleUpgrade(request, socket, head);
      return;
    }
    const any = this.byPath.values().next().value!;
    any._refuse(socket, new HandshakeError(404, `no WebSocket endpoint at ${path}`));
  }
}
