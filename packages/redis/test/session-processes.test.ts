/**
 * Sessions across three server processes on one real redis-server, with checkpoints:
 * 1,000 sessions stream both ways through three `SessionServer` processes, one process
 * is killed with SIGKILL mid-stream, and every session resumes on the others with the
 * sequences delivered both ways equal to the sequences sent; then redis-server is
 * restarted empty (persistence off) and another process killed: the sessions checkpointed
 * since the restart resume, the others get a new session and `sessionlost`. Topic
 * publishes on one process reach the sessions on the others through the topic history,
 * also those published while a session moves, and after the history restarted empty.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  ReconnectingWebSocket,
  type SessionLostEvent,
  type SessionOpenEvent,
  WebSocket,
  type WebSocketConstructor,
} from '@sockeye/sockeye';
import { missing, REDIS_SERVER, ROOT } from '../../../scripts/lib/prereqs.js';
import { RedisServer, waitFor } from './redis-server.js';

const skip = missing(REDIS_SERVER, 'redis-server');
const HERE = dirname(fileURLToPath(import.meta.url));
const SESSIONS = 1000;
const CHECKPOINT_INTERVAL = 250;

/** A session server process (fixtures/session-process.ts) and what it printed. */
interface ServerProcess {
  nodeId: string;
  child: ChildProcess;
  lines: string[];
  port: number;
  send(line: string): void;
  line(pattern: RegExp, from?: number, timeoutMs?: number): Promise<string>;
  /** Its session figures. */
  stats(): Promise<{ linked: number; suspended: number; unacknowledged: number; pending: number }>;
}

async function startServer(redisUrl: string, nodeId: string): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(HERE, 'fixtures', 'session-process.ts'),
      redisUrl,
      nodeId,
      String(CHECKPOINT_INTERVAL),
    ],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
  const server: ServerProcess = {
    nodeId,
    child,
    lines,
    port: 0,
    send: (line) => child.stdin!.write(`${line}\n`),
    async line(pattern, from = 0, timeoutMs = 60_000) {
      const find = () => lines.slice(from).find((l) => pattern.test(l));
      await waitFor(() => find() !== undefined, `${nodeId}: a line matching ${pattern}`, timeoutMs);
      return find()!;
    },
    async stats() {
      const mark = lines.length;
      server.send('stats');
      const [, linked, suspended, unacknowledged, pending] = (await server.line(/^stats /, mark))
        .split(' ')
        .map(Number);
      return { linked: linked!, suspended: suspended!, unacknowledged: unacknowledged!, pending: pending! };
    },
  };
  const listening = await server.line(/^listening \d+$/);
  server.port = Number(listening.split(' ')[1]);
  return server;
}

/** A reconnecting client and what it saw. */
interface Client {
  index: number;
  ws: ReconnectingWebSocket;
  /** `s <n>` answers, in order. */
  replies: string[];
  /** Topic messages, in order. */
  room: string[];
  opens: { resumed: boolean; sessionId: string }[];
  lost: SessionLostEvent[];
}

describe('sessions across three server processes on one Redis', { skip, timeout: 240_000 }, () => {
  let redis: RedisServer;
  const servers: ServerProcess[] = [];
  /** The ports of the live servers: each client picks the next one round-robin. */
  const live: number[] = [];
  const clients: Client[] = [];

  const kill = async (server: ServerProcess) => {
    const exited = new Promise((resolve) => server.child.once('exit', resolve));
    server.child.kill('SIGKILL');
    live.splice(live.indexOf(server.port), 1);
    await exited;
  };
  const portOf = (client: Client) => Number(new URL(client.ws.url).port);
  /** Send `c <n>` for n in first..last from each of `of`, a few ms apart (the stream). */
  const stream = async (of: readonly Client[], first: number, last: number, at?: (n: number) => unknown) => {
    for (let n = first; n <= last; n++) {
      for (const client of of) client.ws.send(`c ${n}`);
      await at?.(n);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const range = (first: number, last: number, prefix: string) =>
    Array.from({ length: last - first + 1 }, (_, i) => `${prefix}${first + i}`);
  /** Every server quiet: every message acknowledged, every session checkpointed as it is. */
  const quiet = async () => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const stats = await Promise.all(servers.filter((s) => live.includes(s.port)).map((s) => s.stats()));
      if (stats.every((s) => s.unacknowledged === 0 && s.pending === 0)) return;
      if (Date.now() > deadline) throw new Error(`servers not quiet: ${JSON.stringify(stats)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  before(async () => {
    redis = await RedisServer.start();
    servers.push(...(await Promise.all(['srv-0', 'srv-1', 'srv-2'].map((id) => startServer(redis.url, id)))));
    live.push(...servers.map((s) => s.port));
  });

  after(async () => {
    for (const client of clients) client.ws.close();
    for (const server of servers) {
      if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
    }
    await redis?.stop();
  });

  it('kill -9 of the process holding a third of 1,000 sessions mid-stream: every session resumes on the others, nothing lost or duplicated either way', async () => {
    for (let index = 0; index < SESSIONS; index++) {
      let next = index;
      const ws = new ReconnectingWebSocket(() => `ws://127.0.0.1:${live[next++ % live.length]}`, {
        WebSocket: WebSocket as unknown as WebSocketConstructor,
        lifecycle: false,
        minDelay: 50,
        maxDelay: 500,
      });
      const client: Client = { index, ws, replies: [], room: [], opens: [], lost: [] };
      ws.addEventListener('message', (event) => {
        const data = String((event as MessageEvent).data);
        (data.startsWith('s ') ? client.replies : client.room).push(data);
      });
      ws.addEventListener('open', (event) => {
        const open = event as SessionOpenEvent;
        client.opens.push({ resumed: open.resumed, sessionId: open.sessionId });
      });
      ws.addEventListener('sessionlost', (event) => client.lost.push(event as SessionLostEvent));
      clients.push(client);
    }
    await waitFor(() => clients.every((c) => c.opens.length === 1), 'every session to open', 60_000);
    const onServer = (port: number) => clients.filter((c) => portOf(c) === port);
    // Round-robin from each client's own offset: a third on each process.
    assert.deepEqual(
      servers.map((s) => onServer(s.port).length),
      [0, 1, 2].map((i) => Math.ceil((SESSIONS - i) / 3)),
    );

    // A publish on srv-2 reaches the sessions on every process, through the topic history.
    servers[2]!.send('publish room 0 5');
    await waitFor(() => clients.every((c) => c.room.length === 5), 'the topic messages everywhere', 60_000);

    // The stream: 20 messages each way per session, and srv-1 publishing to the topic;
    // srv-0 dies with SIGKILL half way.
    const victims = onServer(servers[0]!.port);
    await stream(clients, 1, 20, (n) => {
      servers[1]!.send(`publish room ${100 + n} 1`);
      return n === 10 ? kill(servers[0]!) : undefined;
    });
    await waitFor(
      // A lost session never gets its answers: fail on the assertions below rather than wait.
      () => clients.every((c) => c.replies.length >= 20 || c.lost.length > 0),
      () => `every answer (${clients.filter((c) => c.replies.length < 20).length} sessions short)`,
      90_000,
    );
    // A last message each way: once it is answered, anything duplicated would have shown.
    await stream(clients, 21, 21);
    await waitFor(
      () => clients.every((c) => c.replies.length >= 21 || c.lost.length > 0),
      'the last answers',
      60_000,
    );

    for (const client of clients) {
      assert.deepEqual(client.replies, range(1, 21, 's '), `session ${client.index}: answers`);
      assert.deepEqual(client.lost, [], `session ${client.index}: no session lost`);
      assert.ok(
        client.opens.every((open) => open.sessionId === client.opens[0]!.sessionId),
        `session ${client.index}: one session throughout`,
      );
    }
    for (const client of victims) {
      assert.ok(client.opens.length >= 2, `session ${client.index} moved`);
      assert.ok(client.opens.slice(1).every((open) => open.resumed));
      assert.notEqual(portOf(client), servers[0]!.port);
    }
    // Their topic subscription moved with them, with what was published while they moved,
    // and a publish on srv-1 reaches everyone: one order for all.
    servers[1]!.send('publish room 5 5');
    await waitFor(
      () => clients.every((c) => c.room.length >= 30),
      () => {
        const short = clients.filter((c) => c.room.length < 30);
        const moved = short.filter((c) => victims.includes(c)).length;
        const errors = servers.flatMap((s) => s.lines.filter((l) => l.startsWith('error ')));
        return `the topic messages after the move: ${short.length} short (${moved} moved), e.g. ${short[0]!.room.join(',')}; ${errors.join(' | ')}`;
      },
      60_000,
    );
    for (const client of clients) {
      assert.deepEqual(
        client.room,
        [...range(0, 4, 'srv-2#'), ...range(101, 120, 'srv-1#'), ...range(5, 9, 'srv-1#')],
        `session ${client.index}: topic messages`,
      );
    }
  });

  it('redis-server restarted empty (persistence off), then another process killed: the sessions checkpointed since the restart resume, the others get sessionlost and a new session', async () => {
    // Three processes again, and everything acknowledged and checkpointed.
    const fresh = await startServer(redis.url, 'srv-3');
    servers.push(fresh);
    live.push(fresh.port);
    await quiet();
    // Persistence is off: the restart loses every session in the store. The processes
    // still hold their live sessions, and write them again when they change.
    await redis.kill();
    await redis.restart();
    const changed = clients.filter((c) => c.index % 2 === 0);
    await stream(changed, 22, 26);
    await waitFor(
      () => changed.every((c) => c.replies.length >= 26 || c.lost.length > 0),
      'the answers after the restart',
      60_000,
    );
    await quiet();
    const target = servers[1]!;
    const victims = new Set(clients.filter((c) => portOf(c) === target.port));
    const idOf = (c: Client) => c.opens.at(-1)!.sessionId;
    const before = new Map(clients.map((c) => [c, idOf(c)]));
    await kill(target);
    // The idle sessions of the dead process had no copy left anywhere.
    const lostOnes = [...victims].filter((c) => c.index % 2 === 1);
    await waitFor(
      () => [...victims].every((c) => c.ws.state === 'open' && portOf(c) !== target.port),
      'the sessions of the dead process to come back',
      60_000,
    );
    assert.ok(lostOnes.length > 0 && lostOnes.length < victims.size, 'both kinds on the dead process');
    await stream(clients, 27, 27);
    await waitFor(() => clients.every((c) => c.replies.at(-1) === 's 27'), 'the answers to 27', 60_000);
    // The topic history restarted empty too, numbering from 1 again: the processes notice
    // and read it from the start.
    servers[2]!.send('publish room 300 1');
    await waitFor(
      () => clients.every((c) => c.room.at(-1) === 'srv-2#300'),
      () => {
        const short = clients.filter((c) => c.room.at(-1) !== 'srv-2#300');
        const ports = [...new Set(short.map(portOf))];
        const errors = servers.flatMap((s) => s.lines.filter((l) => l.startsWith('error ')));
        return `a publish after the restart: ${short.length} without it, on ${ports} of ${servers.map((s) => `${s.nodeId}=${s.port}`)}: ${short[0]?.room.slice(-3)}; ${errors.slice(0, 3).join(' | ')}`;
      },
      60_000,
    );
    for (const client of clients) {
      const wasLost = victims.has(client) && client.index % 2 === 1;
      const expected = [
        ...range(1, 21, 's '),
        ...(client.index % 2 === 0 ? range(22, 26, 's ') : []),
        's 27',
      ];
      assert.deepEqual(client.replies, expected, `session ${client.index}: answers`);
      assert.deepEqual(client.room.slice(30), ['srv-2#300'], `session ${client.index}: topic messages`);
      if (wasLost) {
        assert.equal(client.lost.length, 1, `session ${client.index}: lost once`);
        assert.deepEqual(client.lost[0]!.unacknowledged, [], 'everything had been acknowledged');
        assert.equal(client.opens.at(-1)!.resumed, false);
        assert.notEqual(idOf(client), before.get(client));
      } else {
        assert.deepEqual(client.lost, [], `session ${client.index}: no session lost`);
        assert.equal(idOf(client), before.get(client));
        if (victims.has(client)) assert.equal(client.opens.at(-1)!.resumed, true);
      }
    }
  });

  it('redis-server with an append-only file restarted, then a process killed: every session resumes', async () => {
    const durable = await RedisServer.start({ appendOnly: true });
    const pair = await Promise.all(['aof-0', 'aof-1'].map((id) => startServer(durable.url, id)));
    const ports = pair.map((s) => s.port);
    const few: { ws: ReconnectingWebSocket; replies: string[]; lost: number; port: () => number }[] = [];
    try {
      for (let index = 0; index < 100; index++) {
        let next = index;
        const ws = new ReconnectingWebSocket(() => `ws://127.0.0.1:${ports[next++ % ports.length]}`, {
          WebSocket: WebSocket as unknown as WebSocketConstructor,
          lifecycle: false,
          minDelay: 50,
          maxDelay: 500,
        });
        const client = { ws, replies: [] as string[], lost: 0, port: () => Number(new URL(ws.url).port) };
        ws.addEventListener('message', (event) => {
          const data = String((event as MessageEvent).data);
          if (data.startsWith('s ')) client.replies.push(data);
        });
        ws.addEventListener('sessionlost', () => client.lost++);
        few.push(client);
      }
      const send = async (first: number, last: number) => {
        for (let n = first; n <= last; n++) {
          for (const client of few) client.ws.send(`c ${n}`);
          await waitFor(
            () => few.every((c) => c.replies.length >= n || c.lost > 0),
            `the answers to ${n}`,
            60_000,
          );
        }
      };
      await send(1, 3);
      // Every answer acknowledged and checkpointed: the file holds every session as it is.
      await waitFor(
        () => few.every((c) => c.ws.bufferedAmount === 0),
        'the acknowledgements of the servers',
        60_000,
      );
      for (;;) {
        const stats = await Promise.all(pair.map((s) => s.stats()));
        if (stats.every((s) => s.unacknowledged === 0 && s.pending === 0)) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await durable.kill();
      await durable.restart();
      const victims = few.filter((c) => c.port() === ports[0]);
      assert.ok(victims.length > 0);
      const exited = new Promise((resolve) => pair[0]!.child.once('exit', resolve));
      pair[0]!.child.kill('SIGKILL');
      ports.splice(0, 1);
      await exited;
      await send(4, 6);
      for (const client of few) {
        assert.equal(client.lost, 0, 'no session lost');
        assert.deepEqual(client.replies, range(1, 6, 's '));
      }
    } finally {
      for (const client of few) client.ws.close();
      for (const server of pair) server.child.kill('SIGKILL');
      await durable.stop();
    }
  });
});
