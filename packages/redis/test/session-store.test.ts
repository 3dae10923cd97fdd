/** RedisSessionStore: the SessionStore contract on a real redis-server, and sessions moving between two servers through it. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  ReconnectingWebSocket,
  type ServerSession,
  SessionServer,
  WebSocket,
  type WebSocketConstructor,
} from '@sockeye/sockeye';
import { missing, REDIS_SERVER } from '../../../scripts/lib/prereqs.js';
import { sessionStoreContract, storedSession } from '../../sockeye/test/session/store-contract.js';
import { decodeStoredSession, encodeStoredSession, RedisSessionStore } from '../src/index.js';
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
