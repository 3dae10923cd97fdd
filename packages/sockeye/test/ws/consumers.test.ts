/**
 * Real libraries built on `ws`, run on `@sockeye/sockeye/ws` by changing one import, each driven
 * by its own client: graphql-ws (`useServer`, a subscription over graphql-ws's client),
 * socket.io (`wsEngine`, socket.io-client over WebSocket), Yjs (`@y/websocket-server`
 * synchronising a document between two `y-websocket` providers), and the `noServer` +
 * `handleUpgrade` routing of Vite's HMR server and Next.js custom servers.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { docs, setupWSConnection } from '@y/websocket-server/utils';
import { buildSchema } from 'graphql';
import { createClient } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { Server as SocketIoServer } from 'socket.io';
import { io as socketIoClient } from 'socket.io-client';
import type { WebSocketServer as WsServerType, WebSocket as WsSocketType } from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { WebSocket, WebSocketServer } from '../../src/ws/index.js';

const HANG_GUARD = { timeout: 30_000 };

async function listenHttp(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function closeHttp(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Poll `check` on every turn of the event loop until it holds (the hang guard bounds it). */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('libraries built on ws run on sockeye/ws', () => {
  it('graphql-ws: useServer serves a query and a subscription to graphql-ws client', HANG_GUARD, async () => {
    const schema = buildSchema(`
      type Query { hello(name: String!): String! }
      type Subscription { countdown(from: Int!): Int! }
    `);
    const root = {
      hello: ({ name }: { name: string }) => `hello ${name}`,
      countdown: async function* ({ from }: { from: number }) {
        for (let n = from; n >= 0; n--) yield { countdown: n };
      },
    };
    const http = createServer();
    const wss = new WebSocketServer({ server: http, path: '/graphql' });
    // graphql-ws types its argument as ws's server; the layer is that API.
    const cleanup = useServer(
      { schema, roots: { query: root, subscription: root } },
      wss as unknown as WsServerType,
    );
    const port = await listenHttp(http);
    const client = createClient({
      url: `ws://127.0.0.1:${port}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
    });

    const greeting = await new Promise<unknown>((resolve, reject) => {
      client.subscribe(
        { query: '{ hello(name: "sockeye") }' },
        { next: (result) => resolve(result.data), error: reject, complete: () => {} },
      );
    });
    assert.deepEqual(greeting, { hello: 'hello sockeye' });

    const counts: unknown[] = [];
    await new Promise<void>((resolve, reject) => {
      client.subscribe(
        { query: 'subscription { countdown(from: 3) }' },
        { next: (result) => counts.push(result.data), error: reject, complete: resolve },
      );
    });
    assert.deepEqual(counts, [{ countdown: 3 }, { countdown: 2 }, { countdown: 1 }, { countdown: 0 }]);
    assert.equal(wss.clients?.size, 1);
    assert.equal([...wss.clients!][0]!.protocol, 'graphql-transport-ws');

    await client.dispose();
    await cleanup.dispose();
    await closeHttp(http);
  });

  it(
    'socket.io: wsEngine set to the layer, socket.io-client over WebSocket, acks, binary, rooms',
    HANG_GUARD,
    async () => {
      const http = createServer();
      const io = new SocketIoServer(http, { wsEngine: WebSocketServer, transports: ['websocket'] });
      io.on('connection', (socket) => {
        socket.on('echo', (payload: unknown, ack: (reply: unknown) => void) => ack(payload));
        socket.on('join', (room: string, ack: () => void) => {
          void socket.join(room);
          ack();
        });
        socket.on('shout', (room: string, text: string) => socket.to(room).emit('heard', text));
      });
      const port = await listenHttp(http);
      const url = `http://127.0.0.1:${port}`;
      const alice = socketIoClient(url, { transports: ['websocket'], reconnection: false });
      const bob = socketIoClient(url, { transports: ['websocket'], reconnection: false });
      await Promise.all(
        [alice, bob].map((client) => new Promise((resolve) => client.once('connect', () => resolve(0)))),
      );
      assert.equal(alice.io.engine.transport.name, 'websocket');

      const reply = await alice.emitWithAck('echo', { text: 'hi', bytes: Buffer.from([1, 2, 3]) });
      assert.equal(reply.text, 'hi');
      assert.deepEqual(Buffer.from(reply.bytes), Buffer.from([1, 2, 3]));

      await Promise.all([alice.emitWithAck('join', 'room'), bob.emitWithAck('join', 'room')]);
      const heard = new Promise<string>((resolve) => bob.once('heard', resolve));
      alice.emit('shout', 'room', 'hello room');
      assert.equal(await heard, 'hello room');

      const disconnected = new Promise<string>((resolve) => {
        io.sockets.sockets
          .values()
          .next()
          .value!.once('disconnect', (reason) => resolve(reason));
      });
      alice.disconnect();
      bob.disconnect();
      assert.equal(await disconnected, 'client namespace disconnect');
      await new Promise<void>((resolve) => io.close(() => resolve()));
      http.closeAllConnections();
    },
  );

  it('@y/websocket-server: two y-websocket providers synchronise a Yjs document', HANG_GUARD, async () => {
    const http = createServer();
    const wss = new WebSocketServer({ noServer: true });
    // Typed with ws's socket, whose binaryType union does not list 'blob' yet.
    wss.on('connection', (ws, request) =>
      setupWSConnection(ws as unknown as WsSocketType, request, { docName: 'room' }),
    );
    http.on('upgrade', (request, socket, head) => {
      wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
    });
    const port = await listenHttp(http);
    const options = {
      WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
      disableBc: true,
    };
    const doc1 = new Y.Doc();
    const doc2 = new Y.Doc();
    const provider1 = new WebsocketProvider(`ws://127.0.0.1:${port}`, 'room', doc1, options);
    const provider2 = new WebsocketProvider(`ws://127.0.0.1:${port}`, 'room', doc2, options);
    await until(() => provider1.synced && provider2.synced);

    doc1.getText('text').insert(0, 'hello from doc1');
    await until(() => doc2.getText('text').toString() === 'hello from doc1');
    doc2.getMap('map').set('answer', 42);
    await until(() => doc1.getMap('map').get('answer') === 42);
    assert.equal(doc2.getText('text').toString(), 'hello from doc1');

    provider1.destroy();
    provider2.destroy();
    await until(() => wss.clients!.size === 0);
    // The providers' and the server's awareness states keep an interval each: end them.
    for (const doc of [doc1, doc2, ...docs.values()]) doc.destroy();
    provider1.awareness.destroy();
    provider2.awareness.destroy();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    await closeHttp(http);
  });

  it(
    'noServer + handleUpgrade as Vite and Next.js route upgrades on one HTTP server',
    HANG_GUARD,
    async () => {
      // Vite: an HMR server picked by its subprotocol; Next.js: an app route by path;
      // anything else goes to the framework's own handler (here: refused).
      const hmr = new WebSocketServer({ noServer: true });
      const app = new WebSocketServer({ noServer: true });
      const http = createServer((_request, response) => response.end('page'));
      http.on('upgrade', (request, socket, head) => {
        if (request.headers['sec-websocket-protocol'] === 'vite-hmr') {
          hmr.handleUpgrade(request, socket, head, (ws) => hmr.emit('connection', ws, request));
        } else if (request.url?.startsWith('/api/ws')) {
          app.handleUpgrade(request, socket, head, (ws) => app.emit('connection', ws, request));
        } else {
          socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
        }
      });
      hmr.on('connection', (ws) => ws.send(JSON.stringify({ type: 'connected' })));
      app.on('connection', (ws, request) => {
        ws.on('message', (data) => ws.send(`${request.url}: ${String(data)}`));
      });
      const port = await listenHttp(http);

      const received: string[] = [];
      const viteClient = new WebSocket(`ws://127.0.0.1:${port}/`, 'vite-hmr');
      viteClient.on('message', (data) => received.push(String(data)));
      await until(() => received.length === 1);
      assert.deepEqual(JSON.parse(received[0]!), { type: 'connected' });
      assert.equal(viteClient.protocol, 'vite-hmr');
      // Vite's broadcast: every open client of the HMR server.
      for (const client of hmr.clients!) {
        if (client.readyState === WebSocket.OPEN) client.send(JSON.stringify({ type: 'full-reload' }));
      }
      await until(() => received.length === 2);
      assert.deepEqual(JSON.parse(received[1]!), { type: 'full-reload' });

      const appClient = new WebSocket(`ws://127.0.0.1:${port}/api/ws?x=1`);
      const echoed = new Promise<string>((resolve) =>
        appClient.once('message', (data) => resolve(String(data))),
      );
      appClient.once('open', () => appClient.send('ping'));
      assert.equal(await echoed, '/api/ws?x=1: ping');

      const refused = new WebSocket(`ws://127.0.0.1:${port}/elsewhere`);
      const refusal = await new Promise<Error>((resolve) => refused.once('error', resolve));
      assert.equal(refusal.message, 'Unexpected server response: 404');

      const closes = [viteClient, appClient].map((ws) => new Promise((resolve) => ws.once('close', resolve)));
      viteClient.close();
      appClient.close();
      await Promise.all(closes);
      await Promise.all([hmr, app].map((wss) => new Promise<void>((resolve) => wss.close(() => resolve()))));
      await closeHttp(http);
    },
  );
});
