/** Helpers for the HTTP transport tests: a session server with its HTTP transports on one HTTP server on loopback. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  SessionHttpTransport,
  type SessionHttpTransportOptions,
  SessionServer,
  type SessionSettings,
} from '../../src/index.js';

/** A `SessionServer` and a `SessionHttpTransport` on one HTTP server, on an ephemeral loopback port. */
export async function listenHttpSessions<Data = undefined>(
  settings: SessionSettings<Data>,
  transport: Omit<SessionHttpTransportOptions<Data>, 'server'> = {},
): Promise<{
  http: Server;
  server: SessionServer<Data>;
  transport: SessionHttpTransport<Data>;
  port: number;
  url: string;
  base: string;
  close: () => Promise<void>;
}> {
  const http = createServer();
  const server = new SessionServer<Data>({ pingInterval: 0, ...settings, server: http, path: '/s' });
  const httpTransport = new SessionHttpTransport<Data>(server, { ...transport, server: http });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as AddressInfo).port;
  return {
    http,
    server,
    transport: httpTransport,
    port,
    url: `ws://127.0.0.1:${port}/s`,
    base: `http://127.0.0.1:${port}/s`,
    close: async () => {
      httpTransport.close();
      await server.close({ timeout: 100 });
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
