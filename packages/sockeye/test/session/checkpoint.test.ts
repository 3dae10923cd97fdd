/**
 * Sessions across servers sharing a store: checkpoints let out data and acknowledgements
 * only once the store holds them, a stale server cannot overwrite a newer copy, the
 * client spreads its links over several URLs, and topic publishes from another server
 * reach sessions.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  InProcessBroker,
  InProcessHub,
  MemorySessionStore,
  MemoryTopicHistory,
  SESSION_PROTOCOL,
  type ServerSession,
  type SessionClaim,
  type SessionEndReason,
  type SessionOpenEvent,
  type SessionStore,
  type StoredSession,
  type TakeResult,
  WebSocket,
} from '../../src/index.js';
import { client, listenSessions, next, until } from './helpers.js';
import { topicHistoryContract } from './history-contract.js';

/** A memory store whose writes can be held back, recording each. */
class GatedStore extends MemorySessionStore {
  readonly puts: StoredSession[] = [];
  private gate: Promise<void> | undefined;
  private openGate: (() => void) | undefined;

  hold(): void {
    this.gate = new Promise((resolve) => {
      this.openGate = resolve;
    });
  }

  release(): void {
    this.openGate?.();
    this.gate = undefined;
  }

  override async put(session: StoredSession, now: number): Promise<boolean> {
    this.puts.push(session);
    await this.gate;
    return super.put(session, now);
  }
}

/** A WebSocket speaking the session protocol by hand, keeping every frame it receives. */
async function rawLink(url: string): Promise<{ ws: WebSocket; frames: string[] }> {
  const ws = new WebSocket(url, [SESSION_PROTOCOL]);
  const frames: string[] = [];
  ws.addEventListener('message', (event) => frames.push(String(event.data)));
  await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve, { once: true });
    ws.addEventListener('error', reject, { once: true });
  });
  return { ws, frames };
}

/** The welcome's fields: id, epoch, received, `r` or `n`. */
async function hello(link: { ws: WebSocket; frames: string[] }, frame: string): Promise<string[]> {
  link.ws.send(frame);
  await until(() => link.frames.some((f) => f.startsWith('w ')), 'the welcome');
  return link.frames
    .find((f) => f.startsWith('w '))!
    .split(' ')
    .slice(1);
}

describe('checkpoints', { timeout: 60_000 }, () => {
  it('data and acknowledgements reach the link only once a checkpoint holding them is stored; pongs at once', async () => {
    const store = new GatedStore();
    const { server, url } = await listenSessions({
      store,
      checkpoint: { interval: 0 },
      sessions: { message: (session, data) => session.send(`echo ${String(data)}`) },
    });
    const link = await rawLink(url);
    const [, , received, kind] = await hello(link, 'h 0');
    assert.deepEqual([received, kind], ['0', 'n']);
    assert.equal(store.puts.length, 1, 'the new session was stored before its welcome');

    store.hold();
    link.ws.send('dhello');
    await until(
      () => store.puts.some((p) => p.snapshot.received === 1 && p.snapshot.sent === 1),
      'the checkpoint of the message and its answer',
    );
    // A heartbeat overtakes what waits for the store (the link is ordered: anything
    // written before the pong arrives before it).
    link.ws.send('p 7');
    await until(() => link.frames.includes('q 7'), 'the pong');
    const beforePong = link.frames.slice(link.frames.findIndex((f) => f.startsWith('w ')) + 1);
    assert.deepEqual(beforePong, ['q 7'], 'no data and no acknowledgement before the store holds them');

    store.release();
    await until(
      () => link.frames.includes('decho hello') && link.frames.includes('a 1'),
      'the answer and the acknowledgement',
    );
    assert.equal(server.pendingCheckpoints, 0);
    link.ws.close();
    await server.close();
  });

  it('what waits for a stalled store is bounded: past twice replay.maxMessages frames, the link drops', async () => {
    const store = new GatedStore();
    let suspended = 0;
    const { server, url } = await listenSessions({
      store,
      checkpoint: { interval: 0 },
      replay: { maxMessages: 5 },
      sessions: {
        message: (session, data) => session.send(`echo ${String(data)}`),
        suspend: () => suspended++,
      },
    });
    const link = await rawLink(url);
    await hello(link, 'h 0');
    store.hold();
    let closed = false;
    link.ws.addEventListener('close', () => {
      closed = true;
    });
    // Eleven answers wait (and acknowledgements): more than 2 x 5 frames.
    for (let i = 0; i < 11; i++) link.ws.send(`d${i}`);
    await until(() => closed, 'the link to drop');
    assert.equal(suspended, 1);
    assert.deepEqual(
      link.frames.filter((f) => f.startsWith('d')),
      [],
      'nothing went out before its checkpoint',
    );
    store.release();
    await server.close();
  });

  it('a suspended session keeps the resume window of its break however many messages reach it', async () => {
    const store = new GatedStore();
    let suspended = false;
    const { server, url } = await listenSessions({
      store,
      checkpoint: { interval: 0 },
      sessions: {
        open: (session) => session.subscribe('news'),
        suspend: () => {
          suspended = true;
        },
      },
    });
    const link = await rawLink(url);
    await hello(link, 'h 0');
    link.ws.close();
    await until(() => suspended, 'the suspension');
    await until(() => server.pendingCheckpoints === 0, 'the checkpoint of the break');
    const first = store.puts.length;
    for (let sent = 1; sent <= 3; sent++) {
      server.publish('news', `n${sent}`);
      await until(
        () => store.puts.some((p) => p.snapshot.sent === sent),
        `the checkpoint of message ${sent}`,
      );
    }
    const windows = new Set(store.puts.slice(first - 1).map((p) => p.expiresAt));
    assert.equal(windows.size, 1, 'every checkpoint since the break has the same expiry');
    await server.close();
  });

  it('a server that lost ownership cannot overwrite the newer copy: its write is refused and it drops its copy', async () => {
    const store = new GatedStore();
    const closes: SessionEndReason[] = [];
    const suspendedOnB: string[] = [];
    const a = await listenSessions({
      store,
      checkpoint: { interval: 0 },
      sessions: { close: (_session, reason) => closes.push(reason) },
    });
    const b = await listenSessions({
      store,
      checkpoint: { interval: 0 },
      sessions: { suspend: (session) => suspendedOnB.push(session.id) },
    });

    const first = await rawLink(a.url);
    const [id, epoch] = await hello(first, 'h 0');
    // The client gives up on its link to a (half-open, as far as a knows) and resumes on b.
    const second = await rawLink(b.url);
    const [, newEpoch, , kind] = await hello(second, `h 0 ${id} ${epoch}`);
    assert.equal(kind, 'r');
    assert.notEqual(newEpoch, epoch, 'a move to another process changes the epoch');
    second.ws.close();
    await until(() => suspendedOnB.length === 1, 'b to suspend the session');
    await until(() => store.puts.some((p) => p.snapshot.epoch === newEpoch), 'b to store it');
    await new Promise((resolve) => setImmediate(resolve));
    // a finally sees its link die and writes its stale copy: refused.
    const putsBefore = store.puts.length;
    first.ws.close();
    await until(() => closes.includes('moved'), "a to drop its stale copy ('moved')");
    assert.ok(
      store.puts.slice(putsBefore).some((p) => p.snapshot.epoch === epoch),
      'it did try',
    );

    // The newer copy is intact: the client resumes it on a.
    const third = await rawLink(a.url);
    const [resumedId, , , resumedKind] = await hello(third, `h 0 ${id} ${newEpoch}`);
    assert.deepEqual([resumedId, resumedKind], [id, 'r']);
    third.ws.close();
    await Promise.all([a.server.close(), b.server.close()]);
  });
});

describe('several servers', { timeout: 60_000 }, () => {
  it('a list of URLs: each link goes to the next one, and the session resumes there', async () => {
    const store = new MemorySessionStore();
    const a = await listenSessions({ store, sessions: {} });
    const b = await listenSessions({ store, sessions: {} });
    const c = client([a.url, b.url]);
    const opened = await next<SessionOpenEvent>(c, 'open');
    assert.equal(c.url, a.url);
    c.reconnect();
    const resumed = await next<SessionOpenEvent>(c, 'open');
    assert.equal(c.url, b.url);
    assert.equal(resumed.resumed, true);
    assert.equal(resumed.sessionId, opened.sessionId);
    c.close();
    await Promise.all([a.server.close(), b.server.close()]);
  });

  it('a function chooses before each link, told the failed attempts in a row', async () => {
    const { server, url } = await listenSessions({ sessions: {} });
    const attempts: number[] = [];
    const c = client((attempt) => {
      attempts.push(attempt);
      return attempt === 0 ? 'ws://127.0.0.1:1' : url; // nothing listens on port 1
    });
    await next(c, 'open');
    assert.deepEqual(attempts, [0, 1]);
    assert.equal(c.url, url);
    c.close();
    await server.close();
  });

  it('refuses an empty list', () => {
    assert.throws(() => client([]), TypeError);
  });

  it("a publish on one server reaches the sessions subscribed on another, through the servers' broker", async () => {
    const hub = new InProcessHub();
    const a = await listenSessions({ broker: new InProcessBroker({ hub }), sessions: {} });
    const b = await listenSessions({
      broker: new InProcessBroker({ hub }),
      sessions: { open: (session) => session.subscribe('news') },
    });
    const c = client(b.url);
    const got: string[] = [];
    c.addEventListener('message', (event) => got.push(String((event as MessageEvent).data)));
    await next(c, 'open');
    a.server.publish('news', 'from a');
    b.server.publish('news', 'from b');
    await until(() => got.length === 2, 'both messages');
    assert.deepEqual(got.sort(), ['from a', 'from b']);
    c.close();
    await Promise.all([a.server.close(), b.server.close()]);
  });
});

describe('topic history', { timeout: 60_000 }, () => {
  /** Two servers sharing a store and a history; sessions join `news` when they open. */
  async function pair(maxLength: number) {
    const store = new MemorySessionStore();
    const history = new MemoryTopicHistory({ maxLength });
    const lost: [string, number][] = [];
    const sessions = {
      open: (session: ServerSession) => session.subscribe('news'),
      topicLost: (_session: ServerSession, topic: string, count: number) => lost.push([topic, count]),
    };
    const a = await listenSessions({ store, history, checkpoint: { interval: 0 }, sessions });
    const b = await listenSessions({ store, history, checkpoint: { interval: 0 }, sessions });
    return { a, b, history, lost };
  }

  it('publishes on either server reach the sessions on both, once each and in one order', async () => {
    const { a, b } = await pair(100);
    const got = [[], []] as string[][];
    const clients = [client(a.url), client(b.url)];
    for (const [i, c] of clients.entries()) {
      c.addEventListener('message', (event) => got[i]!.push(String((event as MessageEvent).data)));
    }
    await Promise.all(clients.map((c) => next(c, 'open')));
    await until(() => a.server.pendingCheckpoints + b.server.pendingCheckpoints === 0, 'the subscriptions');
    for (let i = 0; i < 5; i++) (i % 2 === 0 ? a : b).server.publish('news', `n${i}`);
    await until(() => got.every((g) => g.length === 5), 'every message on both');
    assert.deepEqual(got[0], ['n0', 'n1', 'n2', 'n3', 'n4']);
    assert.deepEqual(got[1], got[0]);
    for (const c of clients) c.close();
    await Promise.all([a.server.close(), b.server.close()]);
  });

  it('what is published while a session is between servers reaches it where it resumes; what the history trimmed is counted', async () => {
    const { a, b, lost } = await pair(5);
    const got: string[] = [];
    const c = client([a.url, b.url]);
    c.addEventListener('message', (event) => got.push(String((event as MessageEvent).data)));
    const opened = await next<SessionOpenEvent>(c, 'open');
    await until(() => a.server.pendingCheckpoints === 0, 'the subscription');
    for (let i = 1; i <= 3; i++) b.server.publish('news', `n${i}`);
    await until(() => got.length === 3, 'the first messages');
    // The session leaves a (stored at position 3) before anything else is published.
    const resumed = next<SessionOpenEvent>(c, 'open');
    await a.server.close();
    // Published while it is on no server: 4..11, of which the history keeps the last 5.
    for (let i = 4; i <= 11; i++) b.server.publish('news', `n${i}`);
    assert.equal((await resumed).sessionId, opened.sessionId);
    assert.equal(c.url, b.url);
    await until(() => got.length === 8, 'the catch-up');
    assert.deepEqual(got, ['n1', 'n2', 'n3', 'n7', 'n8', 'n9', 'n10', 'n11']);
    assert.deepEqual(lost, [['news', 3]]);
    b.server.publish('news', 'n12');
    await until(() => got.length === 9, 'the next one');
    assert.equal(got.at(-1), 'n12');
    c.close();
    await b.server.close();
  });

  it('a session whose topic history started again since it left is not resumed past a gap: its client gets a new session', async () => {
    const { a, b, history } = await pair(100);
    const window = new EventTarget();
    const navigator = { onLine: true };
    const got: string[] = [];
    const c = client([a.url, b.url], { lifecycle: true, environment: { window, navigator } });
    c.addEventListener('message', (event) => got.push(String((event as MessageEvent).data)));
    await next<SessionOpenEvent>(c, 'open');
    await until(() => a.server.pendingCheckpoints === 0, 'the subscription');
    for (let i = 1; i <= 3; i++) a.server.publish('news', `n${i}`);
    await until(() => got.length === 3, 'the first messages');
    // The session leaves a at position 3; the client waits for `online` to come back.
    navigator.onLine = false;
    await a.server.close();
    await until(() => c.state === 'reconnecting', 'the client to see the close');
    // The history restarts empty, and numbers past 3 before the session comes back.
    history.clear();
    for (let i = 1; i <= 5; i++) b.server.publish('news', `after the restart ${i}`);
    assert.equal(await history.last('news'), 5);
    const lost = next(c, 'sessionlost');
    const reopened = next<SessionOpenEvent>(c, 'open');
    navigator.onLine = true;
    window.dispatchEvent(new Event('online'));
    assert.equal((await reopened).resumed, false);
    await lost;
    // Nothing of the new log was taken for what followed position 3 of the old one.
    assert.deepEqual(got, ['n1', 'n2', 'n3']);
    await until(() => b.server.pendingCheckpoints === 0, 'the new subscription');
    b.server.publish('news', 'to the new session');
    await until(() => got.length === 4, 'the next publish');
    assert.equal(got.at(-1), 'to the new session');
    c.close();
    await b.server.close();
  });
});

topicHistoryContract('MemoryTopicHistory', () => new MemoryTopicHistory({ maxLength: 5 }));

/**
 * A server's view of a store shared with others; `crash()` makes it behave like a
 * process killed with SIGKILL as far as the store is concerned: nothing it tries
 * afterwards reaches the store.
 */
class CrashableStore implements SessionStore {
  private crashed = false;
  constructor(private readonly shared: SessionStore) {}
  crash(): void {
    this.crashed = true;
  }
  private check(): void {
    if (this.crashed) throw new Error('this process is dead');
  }
  async put(session: StoredSession, now: number): Promise<boolean> {
    this.check();
    return this.shared.put(session, now);
  }
  async take(id: string, now: number, claim: SessionClaim): Promise<TakeResult> {
    this.check();
    return this.shared.take(id, now, claim);
  }
  async delete(id: string, epoch?: string): Promise<void> {
    this.check();
    return this.shared.delete(id, epoch);
  }
  async expire(now: number): Promise<StoredSession[]> {
    this.check();
    return this.shared.expire(now);
  }
}

describe('checkpoints across crashes (property)', { timeout: 240_000 }, () => {
  it('random streams with the serving process crashing at random points: every message answered once, in order', async () => {
    const step = fc.oneof(
      {
        weight: 3,
        arbitrary: fc.record({ kind: fc.constant('send' as const), count: fc.integer({ min: 1, max: 8 }) }),
      },
      {
        weight: 1,
        arbitrary: fc.record({ kind: fc.constant('crash' as const), turns: fc.integer({ min: 0, max: 3 }) }),
      },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 8 }), async (steps) => {
        const shared = new MemorySessionStore();
        const servers = await Promise.all(
          [0, 1, 2].map(async () => {
            const store = new CrashableStore(shared);
            const made = await listenSessions({
              store,
              checkpoint: { interval: 5 },
              sessions: { message: (session, data) => session.send(`s ${String(data).slice(2)}`) },
            });
            made.server.server.on('error', () => {}); // a dead process's failed writes
            return { ...made, store };
          }),
        );
        const live = [...servers];
        let turn = 0;
        const c = client(() => live[turn++ % live.length]!.url, { minDelay: 5, maxDelay: 50 });
        const replies: string[] = [];
        let lost = 0;
        c.addEventListener('message', (event) => replies.push(String((event as MessageEvent).data)));
        c.addEventListener('sessionlost', () => lost++);
        await next<SessionOpenEvent>(c, 'open');
        let sent = 0;
        for (const s of steps) {
          if (s.kind === 'send') {
            for (let i = 0; i < s.count; i++) c.send(`c ${++sent}`);
            continue;
          }
          // Kill the process serving the client (keep one alive), a few turns from now.
          if (live.length === 1) continue;
          for (let i = 0; i < s.turns; i++) await new Promise((resolve) => setImmediate(resolve));
          const victim = live.find((server) => server.url === c.url);
          if (victim === undefined) continue;
          victim.store.crash();
          live.splice(live.indexOf(victim), 1);
          for (const ws of victim.server.server.clients) ws.terminate();
        }
        await until(() => replies.length >= sent || lost > 0, `${sent} answers`, 60_000);
        c.close();
        await Promise.all(servers.map((s) => s.server.close({ timeout: 100 })));
        assert.equal(lost, 0, 'no session lost');
        assert.deepEqual(
          replies,
          Array.from({ length: sent }, (_, i) => `s ${i + 1}`),
        );
      }),
      { numRuns: 25 },
    );
  });
});
