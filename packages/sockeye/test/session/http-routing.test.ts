/**
 * No sticky sessions, in one process: two session servers (each on its own HTTP server,
 * sharing a store and, for routing, an in-process broker hub) behind a round-robin
 * proxy. A link's POSTs and polls land on either server; those for a link the other
 * holds are routed to it through the broker and answered back, so the session never
 * breaks and both directions deliver exactly what was sent. (`packages/redis` runs the
 * same with two processes and Redis.)
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  InProcessBroker,
  InProcessHub,
  MemorySessionStore,
  type ServerSession,
  SessionHttpTransport,
  SessionServer,
} from '../../src/index.js';
import { client, next, until } from './helpers.js';
import { HttpProxy } from './http-proxy.js';

/** Node ids as long as a broker allows: link ids carry them. */
const NODE_IDS = [`node-a-${'a'.repeat(57)}`, `node-b-${'b'.repeat(57)}`] as const;

interface Node {
  http: Server;
  server: SessionServer;
  transport: SessionHttpTransport;
  port: number;
}

describe('HTTP transports without sticky sessions (routing through the broker)', { timeout: 120_000 }, () => {
  const hub = new InProcessHub();
  const store = new MemorySessionStore();
  const received = new Map<string, string[]>();
  const opened: string[] = [];
  const nodes: Node[] = [];
  let proxy: HttpProxy;
  let url: string;

  async function start(nodeId: string): Promise<Node> {
    const http = createServer();
    const server = new SessionServer({
      server: http,
      path: '/s',
      store,
      pingInterval: 0,
      sessions: {
        open: (session) => {
          opened.push(session.id);
          received.set(session.id, []);
        },
        message: (session, data) => received.get(session.id)!.push(String(data)),
      },
    });
    const transport = new SessionHttpTransport(server, {
      server: http,
      router: new InProcessBroker({ hub, nodeId }),
      pollTimeout: 1000,
    });
    await transport.ready();
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    return { http, server, transport, port: (http.address() as AddressInfo).port };
  }

  before(async () => {
    nodes.push(await start(NODE_IDS[0]), await start(NODE_IDS[1]));
    proxy = new HttpProxy(nodes.map((node) => node.port));
    url = `ws://127.0.0.1:${await proxy.listen()}/s`;
  });
  after(async () => {
    await proxy.close();
    for (const node of nodes) {
      node.transport.close();
      await node.server.close({ timeout: 100 });
      node.http.closeAllConnections();
      await new Promise<void>((resolve) => node.http.close(() => resolve()));
    }
  });

  /** The session `id` where it is linked now. */
  function live(id: string): ServerSession {
    const session = nodes.map((node) => node.server.sessionsById.get(id)).find((s) => s?.state === 'linked');
    assert.ok(session, `session ${id} is linked on a node`);
    return session;
  }

  for (const transport of ['sse', 'long-polling'] as const) {
    it(`keeps a session on ${transport} working with its requests landing on either server`, async () => {
      const before = new Map(proxy.requests);
      const c = client(url, { transports: [transport], transportMemory: null, ackDelay: 5 });
      const got: string[] = [];
      let reconnects = 0;
      c.addEventListener('message', (event) => got.push((event as MessageEvent).data as string));
      c.addEventListener('reconnecting', () => reconnects++);
      try {
        await next(c, 'open');
        const id = c.sessionId;
        // One at a time: each message is a POST of its own (and, on long-polling, a poll).
        for (let i = 0; i < 30; i++) {
          c.send(`c${i}`);
          live(id).send(`s${i}`);
          await until(() => got.length > i && (received.get(id)?.length ?? 0) > i, `message ${i} both ways`);
        }
        await until(() => got.length >= 30 && (received.get(id)?.length ?? 0) >= 30, 'both ways', 60_000);
        const upTo = (side: string) => Array.from({ length: 30 }, (_, i) => `${side}${i}`);
        assert.deepEqual(received.get(id), upTo('c'));
        assert.deepEqual(got, upTo('s'));
        assert.equal(reconnects, 0, 'no request was refused: the link never broke');
        assert.equal(opened.filter((o) => o === id).length, 1, 'one session, never lost');
        for (const node of nodes) {
          const count = (proxy.requests.get(node.port) ?? 0) - (before.get(node.port) ?? 0);
          assert.ok(count >= 5, `server on ${node.port} took ${count} of the link's requests`);
        }
      } finally {
        c.close();
      }
    });
  }

  it('reports what comes to its inbox in no known form, and carries on', async () => {
    const errors: unknown[] = [];
    const onError = (error: unknown) => errors.push(error);
    nodes[0]!.server.server.on('error', onError);
    const stranger = new InProcessBroker({ hub, nodeId: 'stranger' });
    stranger.attach({ onMessage: () => undefined });
    try {
      const inbox = `sockeye.session.http.${NODE_IDS[0]}`;
      for (const garbage of ['not json', '{"t":"q","id":1}', '{"t":"a","id":"x"}', 'null']) {
        stranger.publish(inbox, Buffer.from(garbage), false);
      }
      await until(() => errors.length === 4, 'four reports');
      const c = client(url, { transports: ['long-polling'], transportMemory: null });
      await next(c, 'open');
      c.close();
    } finally {
      nodes[0]!.server.server.off('error', onError);
      await stranger.close();
    }
  });

  it('answers 404 for a link no server holds, routed or not', async () => {
    const [a, b] = nodes;
    // A link id naming node b, asked of node a: routed, and node b does not know it.
    const tag = Buffer.from(NODE_IDS[1]).toString('base64url');
    const routed = await fetch(`http://127.0.0.1:${a!.port}/s?link=${'x'.repeat(22)}${tag}&since=0`);
    assert.equal(routed.status, 404);
    const local = await fetch(`http://127.0.0.1:${b!.port}/s?link=${'x'.repeat(22)}${tag}&from=0`, {
      method: 'POST',
      body: 'dhi',
    });
    assert.equal(local.status, 404);
  });
});
