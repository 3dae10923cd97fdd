import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { BrokerError, BrokerLoss, BrokerMessage, BrokerStatus } from '@sockeye/sockeye/pubsub';
import { Redis } from 'ioredis';
import { missing, REDIS_SERVER, ROOT } from '../../../scripts/lib/prereqs.js';
import { brokerContract } from '../../sockeye/test/pubsub/broker-contract.js';
import { encodeEnvelope } from '../src/envelope.js';
import { RedisBroker, type RedisBrokerOptions } from '../src/index.js';
import { digest, payload } from './fixtures/payloads.js';
import { RedisServer, waitFor } from './redis-server.js';

const skip = missing(REDIS_SERVER, 'redis-server');
const HERE = dirname(fileURLToPath(import.meta.url));

/** A broker in this process that records everything it is told. */
function node(redis: RedisServer, options: RedisBrokerOptions = {}) {
  const broker = new RedisBroker({ url: redis.url, ...options });
  const messages: BrokerMessage[] = [];
  const losses: BrokerLoss[] = [];
  const errors: BrokerError[] = [];
  const statuses: BrokerStatus[] = [];
  broker.attach({
    onMessage: (message) => messages.push(message),
    onLost: (loss) => losses.push(loss),
    onError: (error) => errors.push(error),
    onStatus: (status) => statuses.push(status),
  });
  const lost = (reason: BrokerLoss['reason']) =>
    losses.filter((loss) => loss.reason === reason).reduce((sum, loss) => sum + loss.count, 0);
  return { broker, messages, losses, errors, statuses, lost };
}

/** Check that `messages` are exactly payloads 0..count-1 of `publisher`, in order. */
function assertFrom(messages: readonly BrokerMessage[], publisher: string, count: number, firstSequence = 1) {
  const from = messages.filter((m) => m.publisher === publisher);
  assert.equal(from.length, count, `messages from ${publisher}`);
  from.forEach((m, i) => {
    const expected = payload(publisher, i);
    assert.equal(m.sequence, firstSequence + i);
    assert.equal(m.isBinary, expected.isBinary);
    assert.ok(m.data.equals(expected.data), `payload ${i} from ${publisher} differs`);
  });
}

function publishPayloads(broker: RedisBroker, topic: string, count: number) {
  for (let i = 0; i < count; i++) {
    const { data, isBinary } = payload(broker.nodeId, i);
    broker.publish(topic, data, isBinary);
  }
}

let redis: RedisServer;
before(async () => {
  if (!skip) redis = await RedisServer.start();
});
after(async () => {
  await redis?.stop();
});

let prefixes = 0;
brokerContract(
  'RedisBroker',
  async (count) => {
    // A prefix of its own per test: nothing left over from another test can interfere.
    const prefix = `contract${++prefixes}:`;
    const brokers = Array.from({ length: count }, () => new RedisBroker({ url: redis.url, prefix }));
    await Promise.all(brokers.map((broker) => broker.ready()));
    return brokers;
  },
  { skip },
);

describe('RedisBroker configuration', () => {
  it('refuses a channel prefix that is not well-formed Unicode (it would share the channels of another)', async () => {
    for (const prefix of ['app\uD800:', '\uDC00']) {
      let broker: RedisBroker | undefined;
      try {
        assert.throws(
          () => {
            broker = new RedisBroker({ url: 'redis://127.0.0.1:1', prefix });
          },
          (error: unknown) =>
            error instanceof Error &&
            error.name === 'BrokerError' &&
            (error as BrokerError).kind === 'config' &&
            error.message.includes('prefix'),
        );
      } finally {
        await broker?.close();
      }
    }
  });
});

describe('RedisBroker on a real redis-server', { skip, timeout: 120_000 }, () => {
  it('carries every publish of three nodes exactly once to each other node, in order, byte for byte', async () => {
    const nodes = ['a', 'b', 'c'].map((id) => node(redis, { nodeId: `three-${id}` }));
    try {
      await Promise.all(nodes.map(({ broker }) => broker.subscribe('room')));
      await Promise.all(nodes.map(({ broker }) => broker.ready()));
      assert.ok(nodes.every(({ broker }) => broker.status === 'up'));
      const count = 40;
      for (const { broker } of nodes) publishPayloads(broker, 'room', count);
      await waitFor(() => nodes.every((n) => n.messages.length >= 2 * count), 'every message');
      for (const receiver of nodes) {
        assert.equal(receiver.messages.length, 2 * count);
        assert.ok(receiver.messages.every((m) => m.topic === 'room'));
        for (const sender of nodes) {
          if (sender === receiver)
            assertFrom(receiver.messages, sender.broker.nodeId, 0); // no echo
          else assertFrom(receiver.messages, sender.broker.nodeId, count);
        }
        assert.deepEqual(receiver.losses, []);
        assert.deepEqual(receiver.errors, []);
      }
    } finally {
      await Promise.all(nodes.map(({ broker }) => broker.close()));
    }
  });

  it('keeps random, empty and large (4 MiB) binary payloads intact', async () => {
    const a = node(redis);
    const b = node(redis);
    try {
      await b.broker.subscribe('bytes');
      await Promise.all([a.broker.ready(), b.broker.ready()]);
      const payloads = [Buffer.alloc(0), randomBytes(1), randomBytes(1000), randomBytes(4 * 1024 * 1024)];
      payloads.push(Buffer.from([1, 0x01, 0, 0, 0])); // looks like an envelope header
      for (const data of payloads) a.broker.publish('bytes', data, true);
      a.broker.publish('bytes', Buffer.from('text, not binary'), false);
      await waitFor(() => b.messages.length >= payloads.length + 1, 'the payloads');
      payloads.forEach((data, i) => {
        assert.ok(b.messages[i]!.data.equals(data), `payload ${i}`);
        assert.equal(b.messages[i]!.isBinary, true);
      });
      assert.equal(b.messages.at(-1)!.isBinary, false);
      assert.equal(b.messages.at(-1)!.data.toString(), 'text, not binary');
    } finally {
      await Promise.all([a.broker.close(), b.broker.close()]);
    }
  });

  it('delivers only subscribed topics, and nothing after unsubscribe()', async () => {
    const a = node(redis);
    const b = node(redis);
    try {
      await b.broker.subscribe('x');
      await b.broker.subscribe('x'); // idempotent
      await Promise.all([a.broker.ready(), b.broker.ready()]);
      a.broker.publish('x', Buffer.from('x1'), false);
      a.broker.publish('y', Buffer.from('y1'), false);
      await waitFor(() => b.messages.length >= 1, 'x1');
      await b.broker.unsubscribe('x');
      assert.deepEqual([...b.broker.topics], []);
      a.broker.publish('x', Buffer.from('x2'), false);
      // A marker on a topic b still has proves x2 had its chance to arrive.
      await b.broker.subscribe('marker');
      a.broker.publish('marker', Buffer.from('m'), false);
      await waitFor(() => b.messages.length >= 2, 'the marker');
      assert.deepEqual(
        b.messages.map((m) => `${m.topic}:${m.data}`),
        ['x:x1', 'marker:m'],
      );
    } finally {
      await Promise.all([a.broker.close(), b.broker.close()]);
    }
  });

  it('uses one channel per topic under the prefix, and prefixes keep applications apart', async () => {
    const a = node(redis, { prefix: 'app1:' });
    const b = node(redis, { prefix: 'app1:' });
    const other = node(redis, { prefix: 'app2:' });
    const spy = new Redis(redis.url);
    try {
      await b.broker.subscribe('room');
      await other.broker.subscribe('room');
      await Promise.all([a.broker.ready(), b.broker.ready(), other.broker.ready()]);
      const channels = (await spy.pubsub('CHANNELS', '*')) as string[];
      assert.deepEqual(channels.sort(), ['app1:room', 'app2:room']);
      a.broker.publish('room', Buffer.from('hi'), false);
      await waitFor(() => b.messages.length >= 1, 'the message');
      other.broker.publish('room', Buffer.from('marker'), false);
      a.broker.publish('room', Buffer.from('after'), false);
      await waitFor(() => b.messages.length >= 2, 'the second message');
      assert.deepEqual(other.messages, []);
    } finally {
      spy.disconnect();
      await Promise.all([a.broker.close(), b.broker.close(), other.broker.close()]);
    }
  });

  it('reconnects and resubscribes after redis-server dies; what was published meanwhile is reported lost', async () => {
    const a = node(redis, { nodeId: 'restart-a' });
    const b = node(redis, { nodeId: 'restart-b' });
    try {
      await a.broker.subscribe('room');
      await b.broker.subscribe('room');
      await b.broker.subscribe('other');
      await Promise.all([a.broker.ready(), b.broker.ready()]);
      publishPayloads(a.broker, 'room', 10);
      await waitFor(() => b.messages.length >= 10, 'the messages before the crash');

      await redis.kill();
      await waitFor(() => a.broker.status === 'down' && b.broker.status === 'down', 'both brokers down');
      for (let i = 0; i < 7; i++) a.broker.publish('room', Buffer.from(`while down ${i}`), false);
      for (let i = 0; i < 3; i++) b.broker.publish('room', Buffer.from(`while down ${i}`), false);
      await waitFor(() => a.lost('transport-down') === 7 && b.lost('transport-down') === 3, 'the losses');
      assert.ok(a.losses.every((loss) => loss.topic === 'room' && loss.publisher === 'restart-a'));

      // Reconnection attempts fail while Redis is away, and each failure is an error event.
      await waitFor(
        () => a.errors.some((error) => error.kind === 'connection' && /ECONNREFUSED/.test(error.message)),
        'a connection error',
      );
      await redis.restart();
      await Promise.all([a.broker.ready(), b.broker.ready()]);
      assert.equal(a.broker.status, 'up');
      assert.ok(b.statuses.includes('down'), `statuses: ${b.statuses}`);
      assert.equal(b.statuses.at(-1), 'up');
      const fresh = new Redis(redis.url);
      try {
        const channels = (await fresh.pubsub('CHANNELS', '*')) as string[];
        assert.deepEqual(channels.sort(), ['sockeye:other', 'sockeye:room']);
      } finally {
        fresh.disconnect();
      }

      // Delivery resumes: the next publishes go on with sequence 11 (the lost ones took
      // no number, so b sees no gap) and b's reach a as well.
      a.broker.publish('room', Buffer.from('after 1'), false);
      a.broker.publish('room', Buffer.from('after 2'), false);
      b.broker.publish('room', Buffer.from('from b'), false);
      await waitFor(
        () => b.messages.length >= 12 && a.messages.length >= 1,
        'the messages after the restart',
      );
      assertFrom(b.messages.slice(0, 10), 'restart-a', 10);
      assert.deepEqual(
        b.messages.slice(10).map((m) => `${m.sequence}:${m.data}`),
        ['11:after 1', '12:after 2'],
      );
      assert.deepEqual(
        a.messages.map((m) => `${m.publisher}:${m.sequence}:${m.data}`),
        ['restart-b:1:from b'],
      );
      assert.equal(b.lost('gap'), 0);
      assert.equal(a.lost('transport-down'), 7);
      assert.equal(b.lost('transport-down'), 3);
    } finally {
      await Promise.all([a.broker.close(), b.broker.close()]);
    }
  });

  it('reports a gap when its own subscription dropped while another node went on publishing', async () => {
    // b waits a long time before reconnecting, so a's publishes surely fall in the gap.
    const a = node(redis, { nodeId: 'gap-a' });
    const b = node(redis, { nodeId: 'gap-b', minReconnectDelayMs: 1000 });
    const admin = new Redis(redis.url);
    try {
      await b.broker.subscribe('room');
      await Promise.all([a.broker.ready(), b.broker.ready()]);
      a.broker.publish('room', Buffer.from('1'), false);
      await waitFor(() => b.messages.length >= 1, 'the first message');
      await admin.client('KILL', 'TYPE', 'pubsub');
      await waitFor(() => b.broker.status === 'down', 'b down');
      for (let i = 2; i <= 6; i++) a.broker.publish('room', Buffer.from(String(i)), false);
      await b.broker.ready();
      a.broker.publish('room', Buffer.from('7'), false);
      await waitFor(() => b.messages.length >= 2, 'the message after the gap');
      assert.deepEqual(
        b.messages.map((m) => m.data.toString()),
        ['1', '7'],
      );
      assert.deepEqual(b.losses, [{ reason: 'gap', topic: 'room', publisher: 'gap-a', count: 5 }]);
      assert.deepEqual(a.losses, []);
    } finally {
      admin.disconnect();
      await Promise.all([a.broker.close(), b.broker.close()]);
    }
  });

  it('reports publishes whose connection failed in flight as send-failed, and subscribers see them as a gap', async () => {
    const a = node(redis, { nodeId: 'inflight-a' });
    const b = node(redis, { nodeId: 'inflight-b' });
    const admin = new Redis(redis.url);
    try {
      await b.broker.subscribe('room');
      await Promise.all([a.broker.ready(), b.broker.ready()]);
      a.broker.publish('room', Buffer.from('1'), false);
      await waitFor(() => b.messages.length >= 1, 'the first message');
      const clients = String(await admin.client('LIST'));
      const publisherId = /id=(\d+) [^\n]*name=sockeye-pub-inflight-a /.exec(clients)?.[1];
      assert.ok(publisherId, clients);
      // Hold every write command (PUBLISH included) so the next three stay in flight,
      // then cut the publishing connection under them.
      await admin.client('PAUSE', '10000', 'WRITE');
      try {
        for (let i = 2; i <= 4; i++) a.broker.publish('room', Buffer.from(String(i)), false);
        await admin.client('KILL', 'ID', publisherId);
      } finally {
        await admin.client('UNPAUSE');
      }
      await waitFor(() => a.lost('send-failed') === 3, 'the failed sends');
      assert.ok(a.losses.every((loss) => loss.error instanceof Error));
      await a.broker.ready();
      a.broker.publish('room', Buffer.from('5'), false);
      await waitFor(() => b.messages.length >= 2, 'the message after');
      assert.deepEqual(
        b.messages.map((m) => `${m.sequence}:${m.data}`),
        ['1:1', '5:5'],
      );
      assert.deepEqual(b.losses, [{ reason: 'gap', topic: 'room', publisher: 'inflight-a', count: 3 }]);
    } finally {
      admin.disconnect();
      await Promise.all([a.broker.close(), b.broker.close()]);
    }
  });

  it('bounds the bytes waiting for Redis: past maxPendingBytes a publish is reported overloaded, not queued', async () => {
    const a = node(redis, { nodeId: 'bounded-a', maxPendingBytes: 1000 });
    const b = node(redis, { nodeId: 'bounded-b' });
    const admin = new Redis(redis.url);
    try {
      await b.broker.subscribe('room');
      await Promise.all([a.broker.ready(), b.broker.ready()]);
      // Each envelope is 11 + 9 (node id) + 280 = 300 bytes: three fit in 1000, a fourth does not.
      await admin.client('PAUSE', '10000', 'WRITE');
      try {
        for (let i = 0; i < 10; i++) a.broker.publish('room', Buffer.alloc(280, i), true);
        await waitFor(() => a.lost('overloaded') === 7, 'the overloaded publishes');
      } finally {
        await admin.client('UNPAUSE');
      }
      await waitFor(() => b.messages.length >= 3, 'the three sent');
      assert.deepEqual(
        b.messages.map((m) => [m.sequence, m.data[0]]),
        [
          [1, 0],
          [2, 1],
          [3, 2],
        ],
      );
      // Answered publishes free their bytes: the next ones go out again, with no gap.
      a.broker.publish('room', Buffer.alloc(280, 10), true);
      await waitFor(() => b.messages.length >= 4, 'the next one');
      assert.deepEqual([b.messages[3]!.sequence, b.messages[3]!.data[0]], [4, 10]);
      assert.deepEqual(b.losses, []);
      assert.equal(a.losses.length, 7);
    } finally {
      admin.disconnect();
      await Promise.all([a.broker.close(), b.broker.close()]);
    }
  });

  it('reports an envelope it cannot read as a decode error, and drops it', async () => {
    const b = node(redis);
    const raw = new Redis(redis.url);
    try {
      await b.broker.subscribe('room');
      await b.broker.ready();
      await raw.publish('sockeye:room', Buffer.from('not an envelope'));
      await waitFor(() => b.errors.length >= 1, 'the decode error');
      assert.equal(b.errors[0]!.kind, 'decode');
      assert.deepEqual(b.messages, []);
    } finally {
      raw.disconnect();
      await b.broker.close();
    }
  });

  it('drops a forged sequence of 2^63 as a decode error: no gap of 9.2e18 reported, the next message arrives', async () => {
    const b = node(redis);
    const raw = new Redis(redis.url);
    try {
      await b.broker.subscribe('room');
      await b.broker.ready();
      await raw.publish('sockeye:room', encodeEnvelope('forger', 1, false, Buffer.from('first')));
      const forged = encodeEnvelope('forger', 1, false, Buffer.from('forged'));
      forged.writeBigUInt64BE(2n ** 63n, 3 + 'forger'.length);
      await raw.publish('sockeye:room', forged);
      await raw.publish('sockeye:room', encodeEnvelope('forger', 2, false, Buffer.from('second')));
      await waitFor(() => b.messages.length >= 2, 'the two real messages');
      assert.deepEqual(
        b.messages.map((m) => [m.data.toString(), m.sequence]),
        [
          ['first', 1],
          ['second', 2],
        ],
      );
      assert.deepEqual(
        b.errors.map((e) => e.kind),
        ['decode'],
      );
      assert.deepEqual(b.losses, []);
    } finally {
      raw.disconnect();
      await b.broker.close();
    }
  });

  it('close() ends both connections, delivers nothing more, and reports later publishes as lost', async () => {
    const a = node(redis, { nodeId: 'close-a' });
    const b = node(redis);
    const spy = new Redis(redis.url);
    try {
      await a.broker.subscribe('room');
      await b.broker.subscribe('room');
      await Promise.all([a.broker.ready(), b.broker.ready()]);
      const clientsBefore = String(await spy.client('LIST')).match(/name=sockeye-/g)?.length;
      assert.equal(clientsBefore, 4);
      await a.broker.close();
      await a.broker.close(); // idempotent
      assert.equal(a.broker.status, 'closed');
      await waitFor(() => a.broker.status === 'closed', 'closed');
      const clientsAfter = String(await spy.client('LIST')).match(/name=sockeye-/g)?.length;
      assert.equal(clientsAfter, 2);
      b.broker.publish('room', Buffer.from('to a closed node'), false);
      a.broker.publish('room', Buffer.from('from a closed node'), false);
      await waitFor(() => a.losses.length >= 1, 'the loss');
      assert.deepEqual(a.losses, [{ reason: 'closed', topic: 'room', publisher: 'close-a', count: 1 }]);
      assert.deepEqual(a.messages, []);
    } finally {
      spy.disconnect();
      await b.broker.close();
    }
  });

  it('close() while redis-server is down stops reconnecting', async () => {
    const a = node(redis);
    await a.broker.ready();
    await redis.kill();
    try {
      await waitFor(() => a.broker.status === 'down', 'down');
      await a.broker.close();
      assert.equal(a.broker.status, 'closed');
    } finally {
      await redis.restart();
    }
  });

  describe('brokers in separate processes', () => {
    interface Child {
      process: ChildProcess;
      lines: string[];
      exited: Promise<number | null>;
    }
    const children: Child[] = [];

    function spawnNode(nodeId: string, topic: string): Child {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', join(HERE, 'fixtures', 'node-process.ts'), redis.url, nodeId, topic],
        { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] },
      );
      const lines: string[] = [];
      createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const started = { process: child, lines, exited };
      children.push(started);
      return started;
    }

    after(() => {
      for (const child of children) {
        if (child.process.exitCode === null && child.process.signalCode === null)
          child.process.kill('SIGKILL');
      }
    });

    it('exchange publishes exactly once each, in per-publisher order, and exit by themselves after close()', async () => {
      const local = node(redis, { nodeId: 'proc-0' });
      const remote = [spawnNode('proc-1', 'room'), spawnNode('proc-2', 'room')];
      const count = 30;
      try {
        await local.broker.subscribe('room');
        await local.broker.ready();
        await waitFor(
          () => remote.every((child) => child.lines.includes('ready')),
          'the child nodes',
          60_000,
        );
        for (const child of remote) child.process.stdin!.write(`publish room ${count}\n`);
        publishPayloads(local.broker, 'room', count);
        const received = (child: Child) => child.lines.filter((line) => line.startsWith('msg ')).length;
        await waitFor(
          () => local.messages.length >= 2 * count && remote.every((child) => received(child) >= 2 * count),
          'every message in every process',
          60_000,
        );
        assertFrom(local.messages, 'proc-1', count);
        assertFrom(local.messages, 'proc-2', count);
        const ids = ['proc-0', 'proc-1', 'proc-2'];
        remote.forEach((child, index) => {
          const self = ids[index + 1]!;
          const messages = child.lines.filter((line) => line.startsWith('msg '));
          assert.equal(messages.length, 2 * count);
          for (const publisher of ids) {
            const from = messages.filter((line) => line.split(' ')[2] === publisher);
            if (publisher === self) {
              assert.deepEqual(from, []);
              continue;
            }
            const expected = Array.from({ length: count }, (_, i) => {
              const { data, isBinary } = payload(publisher, i);
              return `msg room ${publisher} ${i + 1} ${isBinary ? 'b' : 't'} ${digest(data)}`;
            });
            assert.deepEqual(from, expected);
          }
          assert.deepEqual(
            child.lines.filter((line) => line.startsWith('lost ') || line.startsWith('error ')),
            [],
          );
        });
        for (const child of remote) child.process.stdin!.write('close\n');
        // The processes exit on their own: close() left no socket or timer behind.
        const codes = await Promise.race([
          Promise.all(remote.map((child) => child.exited)),
          new Promise<never>((_, reject) =>
            setTimeout(() => reject(new Error('a child node did not exit after close()')), 30_000).unref(),
          ),
        ]);
        assert.deepEqual(codes, [0, 0]);
        for (const child of remote) assert.equal(child.lines.at(-1), 'closed');
      } finally {
        await local.broker.close();
      }
    });
  });
});
