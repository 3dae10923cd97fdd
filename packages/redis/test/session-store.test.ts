/** RedisSessionStore: the SessionStore contract on a real redis-server, and sessions moving between two servers through it. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  MemorySessionStore,
  ReconnectingWebSocket,
  type ServerSession,
  SessionServer,
  WebSocket,
  type WebSocketConstructor,
} from '@sockeye/sockeye';
import fc from 'fast-check';
import { missing, REDIS_SERVER } from '../../../scripts/lib/prereqs.js';
import { topicHistoryContract } from '../../sockeye/test/session/history-contract.js';
import { claimOf, sessionStoreContract, storedSession } from '../../sockeye/test/session/store-contract.js';
import {
  decodeStoredSession,
  encodeStoredSession,
  RedisBroker,
  RedisSessionStore,
  RedisTopicHistory,
} from '../src/index.js';
import { RedisServer, waitFor } from './redis-server.js';

const skip = missing(REDIS_SERVER, 'redis-server');

let redis: RedisServer;
const stores: RedisSessionStore[] = [];
before(async () => {
  if (!skip) redis = await RedisServer.start();
});
after(async () => {
  for (const store of stores) await store.close();
  await redis?.stop();
});

function store(prefix: string): RedisSessionStore {
  const made = new RedisSessionStore({ url: redis.url, prefix });
  stores.push(made);
  return made;
}

let prefixes = 0;
sessionStoreContract('RedisSessionStore', () => store(`contract${++prefixes}:`), { skip });
topicHistoryContract(
  'RedisTopicHistory',
  () => new RedisTopicHistory({ url: redis.url, prefix: `history${++prefixes}:`, maxLength: 5 }),
  { skip },
);

describe('RedisTopicHistory: an expired topic', { skip, timeout: 60_000 }, () => {
  it('keeps its numbering after its messages expired, so a reader behind is told exactly how many it lost', async () => {
    const history = new RedisTopicHistory({ url: redis.url, prefix: `expiry${++prefixes}:`, ttl: 50 });
    try {
      for (let i = 1; i <= 5; i++) await history.append('quiet', `q${i}`);
      const generation = await history.generation('quiet');
      assert.notEqual(generation, '');
      // Waits for the expiry by what a reader sees (no duration asserted).
      const deadline = Date.now() + 20_000;
      while ((await history.read(new Map([['quiet', 2]]), 10)).size > 0) {
        if (Date.now() > deadline) throw new Error('timed out waiting for the messages to expire');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(await history.last('quiet'), 5, 'the position outlives the messages');
      assert.equal(await history.append('quiet', 'q6'), 6);
      assert.deepEqual((await history.read(new Map([['quiet', 2]]), 10)).get('quiet'), {
        entries: [{ position: 6, data: 'q6' }],
        lost: 3,
        // The same log, numbered on: its generation outlives the messages as the counter does.
        generation,
      });
    } finally {
      await history.close();
    }
  });

  it('refuses a positionTtl below ttl', () => {
    assert.throws(() => new RedisTopicHistory({ ttl: 1000, positionTtl: 10 }), RangeError);
  });
});

describe('RedisSessionStore against the memory store', { skip, timeout: 120_000 }, () => {
  it('random puts, claims and deletes by random epochs: both stores answer alike, so ownership works the same', async () => {
    const epochs = ['e1', 'e2', 'e3'];
    const op = fc.oneof(
      fc.record({ kind: fc.constant('put' as const), epoch: fc.constantFrom(...epochs) }),
      fc.record({
        kind: fc.constant('take' as const),
        epoch: fc.constantFrom(...epochs),
        newEpoch: fc.constantFrom(...epochs),
        keepState: fc.boolean(),
      }),
      fc.record({ kind: fc.constant('delete' as const), epoch: fc.option(fc.constantFrom(...epochs)) }),
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 30 }), async (ops) => {
        const redisStore = store(`model${++run}:`);
        const memory = new MemorySessionStore();
        for (const step of ops) {
          const answers = await Promise.all(
            [redisStore, memory].map(async (s) => {
              if (step.kind === 'put') return s.put(storedSession('a', 60_000, step.epoch), 0);
              if (step.kind === 'delete') return s.delete('a', step.epoch ?? undefined);
              const taken = await s.take('a', 0, claimOf(step.epoch, step.newEpoch, step.keepState, 60_000));
              // Compare what was found: the state's epoch (the writer's), or none.
              return taken.status === 'taken'
                ? `taken ${taken.session?.snapshot.epoch ?? '-'}`
                : taken.status;
            }),
          );
          assert.deepEqual(answers[0], answers[1], JSON.stringify(step));
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe('stored session encoding', () => {
  it('round-trips text and binary entries and the topics', () => {
    const session = storedSession('abc', 1234);
    assert.deepEqual(decodeStoredSession(encodeStoredSession(session)), session);
  });

  it('refuses a value of another format', () => {
    for (const value of [
      '[]',
      '{"v":2}',
      '{"v":1,"topics":[],"entries":[[1,2,"z","x"]]}',
      '{"v":1,"topics":[1]}',
    ]) {
      assert.throws(() => decodeStoredSession(value), TypeError, value);
    }
  });
});

describe('sessions moving between servers on Redis', { skip, timeout: 60_000 }, () => {
  it('without a topic history, a publish on one server reaches the sessions of another through the RedisBroker', async () => {
    const a = new SessionServer({
      port: 0,
      host: '127.0.0.1',
      broker: new RedisBroker({ url: redis.url, nodeId: 'tee-a' }),
      sessions: {},
    });
    const brokerB = new RedisBroker({ url: redis.url, nodeId: 'tee-b' });
    const b = new SessionServer({
      port: 0,
      host: '127.0.0.1',
      broker: brokerB,
      sessions: { open: (session) => session.subscribe('news') },
    });
    await a.listen();
    const portB = (await b.listen())!.port;
    const c = new ReconnectingWebSocket(`ws://127.0.0.1:${portB}`, {
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      lifecycle: false,
    });
    const got: string[] = [];
    c.addEventListener('message', (event) => got.push((event as MessageEvent).data as string));
    await new Promise((resolve) => c.addEventListener('open', resolve, { once: true }));
    // The session's subscription reached Redis once the broker has the topic and is up.
    await brokerB.subscribe('news');
    a.publish('news', 'from a');
    await waitFor(() => got.length === 1, 'the message from the other server');
    assert.deepEqual(got, ['from a']);
    c.close();
    await Promise.all([a.close({ timeout: 100 }), b.close({ timeout: 100 })]);
  });

  it('a session drained from one server resumes on another with its replay and topics', async () => {
    const resumed: ServerSession[] = [];
    const a = new SessionServer({
      port: 0,
      host: '127.0.0.1',
      store: store('move:'),
      sessions: { open: (session) => session.subscribe('news') },
    });
    const b = new SessionServer({
      port: 0,
      host: '127.0.0.1',
      store: store('move:'),
      sessions: { resume: (session) => resumed.push(session) },
    });
    const portA = (await a.listen())!.port;
    const portB = (await b.listen())!.port;
    // The client follows whichever server is "up": a, then b.
    let target = portA;
    const Switching = class extends WebSocket {
      constructor(_url: string, protocols: string[]) {
        super(`ws://127.0.0.1:${target}`, protocols);
      }
    } as unknown as WebSocketConstructor;
    const c = new ReconnectingWebSocket('ws://unused/', {
      WebSocket: Switching,
      lifecycle: false,
      minDelay: 10,
    });
    const got: string[] = [];
    c.addEventListener('message', (event) => got.push((event as MessageEvent).data as string));
    await new Promise((resolve) => c.addEventListener('open', resolve, { once: true }));
    a.publish('news', 'from a');
    await waitFor(() => got.length === 1, 'the first message');
    target = portB;
    await a.close({ drainPeriod: 1, retryWindow: 20 });
    await waitFor(() => resumed.length === 1 && c.state === 'open', 'the resume on b');
    assert.equal(resumed[0]!.id, c.sessionId);
    assert.deepEqual([...resumed[0]!.topics], ['news']);
    b.publish('news', 'from b');
    await waitFor(() => got.length === 2, 'the second message');
    assert.deepEqual(got, ['from a', 'from b']);
    c.close();
    await b.close({ timeout: 100 });
  });
});
