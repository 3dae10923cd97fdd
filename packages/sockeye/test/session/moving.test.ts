/** Sessions that move: topics restored on resume, and a drained server whose sessions resume on another one sharing its store. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MemorySessionStore,
  type ServerSession,
  type SessionEndReason,
  TopicError,
  WebSocket,
} from '../../src/index.js';
import { type ReconnectingEvent, SESSION_PROTOCOL, type SessionOpenEvent } from '../../src/session/index.js';
import { FaultProxy } from './fault-proxy.js';

type ReconnectCloseEventLike = Event & { code: number };

import { client, listenSessions, next, until } from './helpers.js';

describe('session topics', { timeout: 60_000 }, () => {
  it('a publish reaches subscribed sessions as session messages, also those sent during a break', async () => {
    let session: ServerSession | undefined;
    const { server, url } = await listenSessions({
      sessions: {
        open: (s) => {
          session = s;
          s.subscribe('room');
        },
      },
    });
    const c = client(url);
    const got: string[] = [];
    c.addEventListener('message', (event) => got.push((event as MessageEvent).data as string));
    await next(c, 'open');
    assert.equal(server.publish('room', 'one'), 1);
    await until(() => got.length === 1, 'the first publish');
    c.reconnect();
    server.publish('room', 'during the break');
    assert.equal((await next<SessionOpenEvent>(c, 'open')).resumed, true);
    server.publish('room', 'after');
    await until(() => got.length === 3, 'three publishes');
    assert.deepEqual(got, ['one', 'during the break', 'after']);
    assert.deepEqual([...session!.topics], ['room']);
    assert.equal(session!.unsubscribe('room'), true);
    assert.equal(server.publish('room', 'nobody'), 0);
    assert.throws(() => session!.subscribe(''), TopicError);
    c.close();
    await server.close({ timeout: 100 });
  });
});

describe('draining a server', { timeout: 60_000 }, () => {
  it('closes links with 1012 and a retry window; the sessions resume on another server sharing the store, with their topics', async () => {
    const store = new MemorySessionStore();
    const ended: SessionEndReason[] = [];
    const resumedOnB: ServerSession[] = [];
    const receivedOnB: string[] = [];
    const a = await listenSessions({
      store,
      sessions: {
        open: (s) => s.subscribe('news'),
        close: (_s, reason) => ended.push(reason),
      },
    });
    const b = await listenSessions({
      store,
      sessions: {
        resume: (s) => resumedOnB.push(s),
        message: (_s, data) => receivedOnB.push(data as string),
      },
    });
    const proxy = new FaultProxy(a.port);
    const url = await proxy.listen();
    const clients = [0, 1, 2].map(() => client(url, { random: () => 0.5 }));
    const got = clients.map(() => [] as string[]);
    clients.forEach((c, i) => {
      c.addEventListener('message', (event) => got[i]!.push((event as MessageEvent).data as string));
    });
    await Promise.all(clients.map((c) => next(c, 'open')));
    a.server.publish('news', 'before the restart');
    const retries = clients.map((c) => next<ReconnectingEvent>(c, 'reconnecting'));
    proxy.targetPort = b.port; // the load balancer now sends new links to b
    await a.server.close({ drainPeriod: 30, retryWindow: 40 });
    for (const retry of await Promise.all(retries)) {
      assert.equal(retry.code, 1012);
      assert.equal(retry.reason, 'retry-after=40');
      assert.equal(retry.delay, 20); // random() 0.5 of the hinted window
    }
    assert.deepEqual(ended, ['shutdown', 'shutdown', 'shutdown']);
    await until(() => clients.every((c) => c.state === 'open') && resumedOnB.length === 3, 'resumes on b');
    for (const c of clients) c.send('hello b');
    b.server.publish('news', 'after the restart');
    await until(() => got.every((list) => list.length === 2) && receivedOnB.length === 3, 'delivery on b');
    for (const list of got) assert.deepEqual(list, ['before the restart', 'after the restart']);
    for (const s of resumedOnB) assert.deepEqual([...s.topics], ['news']);
    for (const c of clients) c.close();
    await b.server.close({ timeout: 100 });
    await proxy.close();
  });

  it('without a drain, close() puts each session in the store before it closes the link (1012): clients back at once resume elsewhere, nothing lost', async () => {
    /** A store whose writes take 200 ms to land: a client coming back at once would be faster. */
    class SlowStore extends MemorySessionStore {
      override async put(...args: Parameters<MemorySessionStore['put']>): Promise<boolean> {
        await new Promise((resolve) => setTimeout(resolve, 200));
        return super.put(...args);
      }
    }
    const store = new SlowStore();
    const echo = (s: ServerSession, data: string | Buffer) => s.send(`echo ${String(data)}`);
    const ended: SessionEndReason[] = [];
    const a = await listenSessions({
      store,
      sessions: { message: echo, close: (_s, reason) => ended.push(reason) },
    });
    const b = await listenSessions({ store, sessions: { message: echo } });
    const proxy = new FaultProxy(a.port);
    const url = await proxy.listen();
    const clients = [0, 1, 2].map(() => client(url, { random: () => 0 })); // back at once
    const got = clients.map(() => [] as string[]);
    const lost = clients.map(() => 0);
    const resumed: boolean[] = [];
    clients.forEach((c, i) => {
      c.addEventListener('message', (event) => got[i]!.push((event as MessageEvent).data as string));
      c.addEventListener('sessionlost', () => lost[i]!++);
    });
    await Promise.all(clients.map((c) => next(c, 'open')));
    for (const c of clients) for (const word of ['one', 'two', 'three']) c.send(word);
    await until(() => got.every((list) => list.length === 3), 'the first echoes');
    const retries = clients.map((c) => next<ReconnectingEvent>(c, 'reconnecting'));
    const reopened = clients.map((c) =>
      next<SessionOpenEvent>(c, 'open').then((event) => resumed.push(event.resumed)),
    );
    for (const c of clients) c.send('in flight'); // on its way while a closes
    proxy.targetPort = b.port;
    await a.server.close();
    for (const retry of await Promise.all(retries)) assert.equal(retry.code, 1012);
    await Promise.all(reopened);
    assert.deepEqual(resumed, [true, true, true]);
    for (const c of clients) c.send('after');
    await until(() => got.every((list) => list.length === 5), 'every echo');
    for (const list of got)
      assert.deepEqual(list, ['echo one', 'echo two', 'echo three', 'echo in flight', 'echo after']);
    assert.deepEqual(lost, [0, 0, 0]);
    assert.deepEqual(ended, ['shutdown', 'shutdown', 'shutdown']);
    for (const c of clients) c.close();
    await b.server.close({ timeout: 100 });
    await proxy.close();
  });

  it('close() waits at most persistTimeout for the store before it closes the links', async () => {
    /** A store that never answers a write. */
    class StuckStore extends MemorySessionStore {
      override put(): Promise<boolean> {
        return new Promise(() => {});
      }
    }
    const a = await listenSessions({ store: new StuckStore(), sessions: {} });
    const c = client(a.url, { maxRetries: 0 });
    await next(c, 'open');
    const closed = next<ReconnectCloseEventLike>(c, 'close');
    await assert.rejects(a.server.close({ persistTimeout: -1 }), RangeError);
    // A close with no bound of its own; the links go after 50 ms anyway.
    const closing = a.server.close({ persistTimeout: 50, timeout: 100 });
    assert.equal((await closed).code, 1012);
    await closing;
  });

  it('a session that moved away and back resumes from its newest copy, with nothing repeated either way', async () => {
    const store = new MemorySessionStore();
    const receivedA: string[] = [];
    const receivedB: string[] = [];
    const endedA: SessionEndReason[] = [];
    const a = await listenSessions({
      store,
      sessions: {
        open: (s) => s.send('from a'),
        resume: (s) => s.send('from a again'),
        message: (_s, data) => receivedA.push(data as string),
        close: (_s, reason) => endedA.push(reason),
      },
    });
    const b = await listenSessions({
      store,
      sessions: {
        resume: (s) => s.send('from b'),
        message: (_s, data) => receivedB.push(data as string),
      },
    });
    const proxy = new FaultProxy(a.port);
    const url = await proxy.listen();
    const window = new EventTarget();
    const navigator = { onLine: true };
    const c = client(url, { lifecycle: true, environment: { window, navigator } });
    const got: string[] = [];
    c.addEventListener('message', (event) => got.push((event as MessageEvent).data as string));
    const linked = () =>
      [...a.server.sessionsById.values(), ...b.server.sessionsById.values()].filter(
        (s) => s.state === 'linked',
      );
    /** Cut the link, let both servers notice, then let the client reconnect to `port`. */
    const moveTo = async (port: number) => {
      navigator.onLine = false; // the client waits for 'online' instead of retrying
      proxy.targetPort = port;
      proxy.cut();
      await until(() => c.state === 'reconnecting' && linked().length === 0, 'both ends to see the cut');
      const opened = next<SessionOpenEvent>(c, 'open');
      navigator.onLine = true;
      window.dispatchEvent(new Event('online'));
      return (await opened).resumed;
    };
    await next(c, 'open');
    c.send('1');
    await until(() => receivedA.length === 1 && got.length === 1 && c.bufferedMessages === 0, 'a to have 1');
    assert.equal(await moveTo(b.port), true);
    c.send('2');
    await until(() => receivedB.length === 1 && got.length === 2 && c.bufferedMessages === 0, 'b to have 2');
    assert.equal(await moveTo(a.port), true);
    c.send('3');
    await until(() => receivedA.length === 2 && got.length === 3, 'a to have 3');
    assert.deepEqual(receivedA, ['1', '3']);
    assert.deepEqual(receivedB, ['2']);
    assert.deepEqual(got, ['from a', 'from b', 'from a again']);
    assert.deepEqual(endedA, ['moved']); // a's copy from before the move was stale
    c.close();
    await a.server.close({ timeout: 100 });
    await b.server.close({ timeout: 100 });
    await proxy.close();
  });

  it('while draining, a new session link is sent elsewhere with 1012, and close() called twice waits for the same end', async () => {
    const a = await listenSessions({ sessions: {} });
    const clients = [client(a.url), client(a.url)];
    await Promise.all(clients.map((c) => next(c, 'open')));
    // Two links over 6 s: the second closes 3 s in, long enough for a newcomer to knock.
    const closing = a.server.close({ drainPeriod: 6000, retryWindow: 100 });
    const newcomer = new WebSocket(a.url, [SESSION_PROTOCOL]);
    await next(newcomer, 'open');
    newcomer.send('h 0');
    const refused = await next<Event & { code: number }>(newcomer, 'close');
    assert.equal(refused.code, 1012);
    assert.equal(a.server.close(), closing);
    await closing;
    for (const c of clients) c.close();
  });
});
