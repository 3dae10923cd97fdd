/**
 * No sticky sessions, across processes: two sockeye processes (each a SessionServer
 * with its HTTP transports, a RedisSessionStore and a RedisBroker router) behind a
 * round-robin HTTP proxy, on a real redis-server. The POSTs and polls of each link land
 * on either process; those for the other's link are routed to it through Redis, so
 * sessions on SSE and on long-polling run without a break, and every message arrives
 * once and in order both ways.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ReconnectingWebSocket, WebSocket, type WebSocketConstructor } from '@sockeye/sockeye';
import { missing, REDIS_SERVER, ROOT } from '../../../scripts/lib/prereqs.js';
import { type Started, startProcess } from '../../../scripts/lib/process.js';
import { HttpProxy } from '../../sockeye/test/session/http-proxy.js';
import { RedisServer, waitFor } from './redis-server.js';

const skip = missing(REDIS_SERVER, 'redis-server');
const FIXTURE = join(ROOT, 'packages', 'redis', 'test', 'fixtures', 'session-http-process.ts');
const COUNT = 40;

describe('HTTP session transports on two processes, round robin, Redis', { skip, timeout: 180_000 }, () => {
  let redis: RedisServer;
  const processes: { started: Started; port: number }[] = [];
  let proxy: HttpProxy;
  let url: string;

  before(async () => {
    redis = await RedisServer.start();
    for (const nodeId of ['http-a', 'http-b']) {
      const started = await startProcess(
        process.execPath,
        ['--import', 'tsx', FIXTURE, redis.url, nodeId],
        /listening \d+/,
        {
          cwd: ROOT,
          timeoutMs: 60_000,
        },
      );
      processes.push({ started, port: Number(/listening (\d+)/.exec(started.output())![1]) });
    }
    proxy = new HttpProxy(processes.map((p) => p.port));
    url = `ws://127.0.0.1:${await proxy.listen()}/s`;
  });
  after(async () => {
    await proxy?.close();
    for (const p of processes) await p.started.stop();
    await redis?.stop();
  });

  it('moves a session from SSE on one process to WebSocket on the other without losing it', async () => {
    proxy.stripUpgrade = true;
    const c = new ReconnectingWebSocket(url, {
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      transports: ['websocket', 'sse'],
      transportMemory: null,
      lifecycle: false,
      ackDelay: 5,
      connectTimeout: 3000,
      upgradeInterval: 200,
    });
    const got: string[] = [];
    let lost = 0;
    c.addEventListener('message', (event) => got.push((event as MessageEvent).data as string));
    c.addEventListener('sessionlost', () => lost++);
    try {
      await waitFor(() => c.state === 'open' && c.transport === 'sse', 'the session on SSE', 30_000);
      const id = c.sessionId;
      const holder = processes.find((p) => p.started.output().includes(`open ${id}`))!;
      const other = processes.find((p) => p !== holder)!;
      for (let i = 0; i < 10; i++) c.send(`c${i}`);
      await waitFor(() => got.length >= 10, 'echoes over SSE', 30_000);
      // The network lets WebSocket through again, to the process that does not hold the session.
      proxy.upgradeTarget = other.port;
      proxy.stripUpgrade = false;
      await waitFor(
        () => c.transport === 'websocket' && c.state === 'open',
        'the session on WebSocket',
        30_000,
      );
      for (let i = 10; i < 20; i++) c.send(`c${i}`);
      await waitFor(() => got.length >= 20, 'echoes over WebSocket', 30_000);
      assert.equal(lost, 0, 'the session was never lost');
      assert.equal(c.sessionId, id);
      assert.match(other.started.output(), new RegExp(`resume ${id} websocket`));
      assert.deepEqual(
        got,
        Array.from({ length: 20 }, (_, i) => `e:c${i}`),
      );
    } finally {
      c.close();
      proxy.upgradeTarget = undefined;
      proxy.stripUpgrade = false;
    }
  });

  for (const transport of ['sse', 'long-polling'] as const) {
    it(`keeps a session on ${transport} whole with its requests landing on either process`, async () => {
      const before = new Map(proxy.requests);
      const c = new ReconnectingWebSocket(url, {
        transports: [transport],
        transportMemory: null,
        lifecycle: false,
        ackDelay: 5,
      });
      const got: string[] = [];
      let reconnects = 0;
      c.addEventListener('message', (event) => got.push((event as MessageEvent).data as string));
      c.addEventListener('reconnecting', () => reconnects++);
      try {
        // One at a time: each message is a POST of its own, and its echo a poll or an event.
        for (let i = 0; i < COUNT; i++) {
          c.send(`c${i}`);
          await waitFor(() => got.length > i, `echo ${i}`, 30_000);
        }
        await waitFor(() => got.length >= COUNT, 'every echo', 60_000);
        assert.deepEqual(
          got,
          Array.from({ length: COUNT }, (_, i) => `e:c${i}`),
        );
        assert.equal(reconnects, 0, 'no request was refused: the link never broke');
        for (const p of processes) {
          const count = (proxy.requests.get(p.port) ?? 0) - (before.get(p.port) ?? 0);
          assert.ok(count >= 5, `the process on ${p.port} took ${count} of the link's requests`);
        }
      } finally {
        c.close();
      }
    });
  }
});
