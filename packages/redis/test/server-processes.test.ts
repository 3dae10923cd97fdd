/**
 * Three sockeye server processes on different ports, one Redis: topic publishes from
 * every process reach every WebSocket subscriber exactly once, in per-publisher order;
 * redis-server killed and restarted mid-test (the brokers reconnect and resubscribe,
 * delivery resumes, what was published meanwhile is reported lost); and a subscriber
 * that never reads stays within its server's buffer limit.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { missing, REDIS_SERVER, ROOT } from '../../../scripts/lib/prereqs.js';
import { readTagged } from './fixtures/payloads.js';
import { RedisServer, waitFor } from './redis-server.js';

const skip = missing(REDIS_SERVER, 'redis-server');
const HERE = dirname(fileURLToPath(import.meta.url));
const MAX_BUFFERED = 1024 * 1024;

/** A server process (fixtures/server-process.ts) and what it printed. */
interface ServerProcess {
  nodeId: string;
  child: ChildProcess;
  lines: string[];
  port: number;
  exited: Promise<number | null>;
  send(line: string): void;
  /** Wait for a line matching `pattern` after the first `from` lines. */
  line(pattern: RegExp, from?: number, timeoutMs?: number): Promise<string>;
  /** Sum of the counts of `lost <reason>` lines. */
  lost(reason: string): number;
}

async function startServer(redisUrl: string, nodeId: string): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(HERE, 'fixtures', 'server-process.ts'), redisUrl, nodeId, String(MAX_BUFFERED)],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const server: ServerProcess = {
    nodeId,
    child,
    lines,
    port: 0,
    exited,
    send: (line) => child.stdin!.write(`${line}\n`),
    async line(pattern, from = 0, timeoutMs = 60_000) {
      const find = () => lines.slice(from).find((l) => pattern.test(l));
      await waitFor(() => find() !== undefined, `${nodeId}: a line matching ${pattern}`, timeoutMs);
      return find()!;
    },
    lost: (reason) =>
      lines
        .filter((l) => l.startsWith(`lost ${reason} `))
        .reduce((sum, l) => sum + Number(l.split(' ')[3]), 0),
  };
  const listening = await server.line(/^listening \d+$/);
  server.port = Number(listening.split(' ')[1]);
  return server;
}

/** A ws client that records every message as `<nodeId>#<index>` (or `BAD`), in order. */
interface Client {
  ws: WebSocket;
  received: string[];
  subscribe(topic: string): Promise<void>;
}

async function openClient(port: number): Promise<Client> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}`);
  const received: string[] = [];
  const acks: string[] = [];
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary && data.toString().startsWith('subscribed ')) {
      acks.push(data.toString());
      return;
    }
    const tag = readTagged(data, isBinary);
    received.push(tag === null ? 'BAD' : `${tag.nodeId}#${tag.index}`);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    ws,
    received,
    async subscribe(topic) {
      ws.send(`sub ${topic}`);
      await waitFor(() => acks.includes(`subscribed ${topic}`), `the subscription to ${topic}`);
    },
  };
}

/** `<nodeId>#first` .. `<nodeId>#(first+count-1)`. */
const tags = (nodeId: string, first: number, count: number) =>
  Array.from({ length: count }, (_, i) => `${nodeId}#${first + i}`);
const from = (received: readonly string[], nodeId: string) =>
  received.filter((t) => t.startsWith(`${nodeId}#`));

describe('three sockeye server processes on one Redis', { skip, timeout: 240_000 }, () => {
  let redis: RedisServer;
  const servers: ServerProcess[] = [];
  const clients: Client[] = [];
  const raw: Socket[] = [];

  before(async () => {
    redis = await RedisServer.start();
    const ids = ['srv-0', 'srv-1', 'srv-2'];
    servers.push(...(await Promise.all(ids.map((id) => startServer(redis.url, id)))));
    // Two clients on each server, all in "room".
    for (const server of servers) {
      for (let i = 0; i < 2; i++) {
        const client = await openClient(server.port);
        await client.subscribe('room');
        clients.push(client);
      }
    }
  });

  after(async () => {
    for (const client of clients) client.ws.terminate();
    for (const socket of raw) socket.destroy();
    for (const server of servers) {
      if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
    }
    await redis?.stop();
  });

  it('publishes from every process reach every subscriber exactly once, in per-publisher order', async () => {
    const count = 30;
    for (const server of servers) server.send(`publish room ${count}`);
    const published = await Promise.all(servers.map((s) => s.line(/^published /)));
    // Each process counted its own two local subscribers, for every message.
    for (const line of published) assert.equal(line, `published ${count} ${2 * count}`);
    await waitFor(
      () => clients.every((c) => c.received.length >= 3 * count),
      'every message at every subscriber',
      60_000,
    );
    // A marker from each publisher: everything it sent before has arrived once it has.
    for (const server of servers) server.send(`publish room 1 ${count}`);
    await waitFor(
      () => clients.every((c) => servers.every((s) => c.received.includes(`${s.nodeId}#${count}`))),
      'the markers',
      60_000,
    );
    for (const client of clients) {
      assert.ok(!client.received.includes('BAD'), 'every payload intact, text and binary');
      assert.equal(client.received.length, 3 * (count + 1), 'exactly once');
      for (const server of servers)
        assert.deepEqual(from(client.received, server.nodeId), tags(server.nodeId, 0, count + 1));
      client.received.length = 0;
    }
    for (const server of servers)
      assert.deepEqual(
        server.lines.filter((l) => /^(lost|error) /.test(l)),
        [],
      );
  });

  it('redis-server killed and restarted: the servers reconnect and resubscribe, delivery resumes, what was published meanwhile is reported lost', async () => {
    const mark = servers.map((s) => s.lines.length);
    await redis.kill();
    await Promise.all(servers.map((s, i) => s.line(/^status down$/, mark[i])));
    // The brokers keep trying to reconnect; each refusal reaches the server's brokerError event.
    await Promise.all(servers.map((s, i) => s.line(/^error connection .*ECONNREFUSED/, mark[i])));
    // Published while Redis is down: local subscribers still get it, the other servers cannot.
    const downMark = servers[0]!.lines.length;
    servers[0]!.send('publish room 5 100');
    assert.equal(await servers[0]!.line(/^published /, downMark), 'published 5 10');
    await waitFor(() => servers[0]!.lost('transport-down') === 5, 'srv-0 to report 5 messages lost', 30_000);
    await redis.restart();
    await Promise.all(servers.map((s, i) => s.line(/^status up$/, mark[i])));
    for (const server of servers) server.send('publish room 10 200');
    const expectedCounts = (index: number) => ({ 'srv-0': index < 2 ? 15 : 10, 'srv-1': 10, 'srv-2': 10 });
    await waitFor(
      () =>
        clients.every((c, index) =>
          Object.entries(expectedCounts(index)).every(([id, n]) => from(c.received, id).length >= n),
        ),
      'delivery to resume everywhere',
      60_000,
    );
    for (const [index, client] of clients.entries()) {
      const local = index < 2; // clients 0 and 1 are on srv-0
      assert.deepEqual(
        from(client.received, 'srv-0'),
        local ? [...tags('srv-0', 100, 5), ...tags('srv-0', 200, 10)] : tags('srv-0', 200, 10),
        local
          ? 'local subscribers got what was published while Redis was down'
          : 'the lost ones never arrive',
      );
      assert.deepEqual(from(client.received, 'srv-1'), tags('srv-1', 200, 10));
      assert.deepEqual(from(client.received, 'srv-2'), tags('srv-2', 200, 10));
      client.received.length = 0;
    }
    // Reported once, by the publisher, with no gap on the others (lost messages take no sequence number).
    assert.equal(servers[0]!.lost('transport-down'), 5);
    for (const server of servers.slice(1)) assert.equal(server.lost('transport-down'), 0);
    for (const server of servers) assert.equal(server.lost('gap'), 0);
  });

  it('a subscriber that never reads does not grow its server past maxBufferedBytes; the others get everything', async () => {
    // A raw client on srv-1 that subscribes and then never reads again.
    const target = servers[1]!;
    const socket = connect({ port: target.port, host: '127.0.0.1' });
    raw.push(socket);
    socket.on('error', () => {});
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(
      'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    let received = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
    };
    socket.on('data', onData);
    await waitFor(() => received.includes('\r\n\r\n'), 'the 101');
    // `sub room`, masked with a zero key, then wait for the acknowledgement.
    const command = Buffer.from('sub room');
    socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | command.length, 0, 0, 0, 0]), command]));
    await waitFor(() => received.includes('subscribed room'), 'the raw client to subscribe');
    socket.off('data', onData);
    socket.pause();
    target.send('stats');
    assert.match(await target.line(/^stats /), / 3$/, 'three subscribers on srv-1');

    // Only the two reading clients on srv-1 stay (they share this busy test process).
    const readers = [clients[2]!, clients[3]!];
    for (const client of clients) if (!readers.includes(client)) client.ws.terminate();
    // srv-0 publishes 64 payloads padded by 256 KiB, 25 ms apart: ~17 MB to every
    // subscriber, more than the kernel's loopback buffers take from a peer that does not read.
    const count = 64;
    const statsMark = target.lines.length;
    servers[0]!.send(`publish room ${count} 1000 ${256 * 1024} 25`);
    await waitFor(
      () => readers.every((c) => from(c.received, 'srv-0').length >= count),
      () =>
        `the reading subscribers to get everything (got ${readers.map((c) => from(c.received, 'srv-0').length)})`,
      120_000,
    );
    for (const client of readers)
      assert.deepEqual(from(client.received, 'srv-0'), tags('srv-0', 1000, count));
    target.send('stats');
    const [, peak, current] = (await target.line(/^stats /, statsMark)).split(' ').map(Number);
    assert.ok(peak! <= MAX_BUFFERED, `peak buffered ${peak} > ${MAX_BUFFERED}`);
    // It really was stuck: its buffer filled up to near the limit (minus at most one message).
    assert.ok(current! > MAX_BUFFERED / 2, `the stuck subscriber buffered only ${current}`);
  });

  it('the server processes exit by themselves after close()', async () => {
    for (const client of clients) client.ws.terminate();
    for (const socket of raw) socket.destroy();
    for (const server of servers) server.send('close');
    const codes = await Promise.race([
      Promise.all(servers.map((s) => s.exited)),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('a server process did not exit after close()')), 30_000).unref(),
      ),
    ]);
    assert.deepEqual(codes, [0, 0, 0]);
    for (const server of servers) assert.ok(server.lines.includes('closed'));
  });
});
