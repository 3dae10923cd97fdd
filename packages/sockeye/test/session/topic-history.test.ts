/**
 * `MemoryTopicHistory` keeps each topic in a ring indexed by position (an append is O(1)
 * once full). Property: for any sequence of appends to a few topics (past `maxLength`, so
 * the ring wraps and trims), `last` and reads from any positions with any limits answer
 * exactly what a naive model answers: a list of everything appended, cut to its last
 * `maxLength`. The same against a model of the bounds on topics (`maxTopics`), and the
 * idle expiry (`ttl`) and the bound hit directly.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MemorySessionStore, type ServerSession, type SessionOpenEvent } from '../../src/index.js';
import { floorSlot, MemoryTopicHistory, type TopicHistoryRead } from '../../src/session/topic-history.js';
import { client, listenSessions, next, until } from './helpers.js';

/** The naive model: every topic's whole list, with the last `maxLength` kept. */
class NaiveHistory {
  private readonly logs = new Map<string, string[]>();
  constructor(private readonly maxLength: number) {}

  append(topic: string, data: string): number {
    let log = this.logs.get(topic);
    if (log === undefined) {
      log = [];
      this.logs.set(topic, log);
    }
    log.push(data);
    return log.length;
  }

  last(topic: string): number {
    return this.logs.get(topic)?.length ?? 0;
  }

  read(after: ReadonlyMap<string, number>, limit: number): Map<string, TopicHistoryRead> {
    const found = new Map<string, TopicHistoryRead>();
    for (const [topic, position] of after) {
      const log = this.logs.get(topic) ?? [];
      if (log.length <= position) continue;
      const first = Math.max(1, log.length - this.maxLength + 1);
      const entries = [];
      for (let at = Math.max(position + 1, first); at <= log.length && entries.length < limit; at++) {
        entries.push({ position: at, data: log[at - 1]! });
      }
      found.set(topic, { entries, lost: Math.max(0, first - position - 1) });
    }
    return found;
  }
}

const TOPICS = ['a', 'b', 'c'];

type Step =
  | { kind: 'append'; topic: string }
  | { kind: 'read'; after: [string, number][]; limit: number }
  | { kind: 'last'; topic: string };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('append' as const), topic: fc.constantFrom(...TOPICS) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('read' as const),
      after: fc.array(fc.tuple(fc.constantFrom(...TOPICS, 'none'), fc.nat({ max: 40 })), { maxLength: 4 }),
      limit: fc.nat({ max: 12 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('last' as const), topic: fc.constantFrom(...TOPICS, 'none') }),
  },
);

describe('MemoryTopicHistory', () => {
  it('reads, last positions and trimming agree with a naive model for any sequence of steps', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 7 }),
        fc.array(step, { maxLength: 120 }),
        async (maxLength, steps) => {
          const history = new MemoryTopicHistory({ maxLength });
          const model = new NaiveHistory(maxLength);
          let counter = 0;
          for (const s of steps) {
            if (s.kind === 'append') {
              const data = `m${counter++}`;
              assert.equal(await history.append(s.topic, data), model.append(s.topic, data));
            } else if (s.kind === 'last') {
              assert.equal(await history.last(s.topic), model.last(s.topic));
            } else {
              const after = new Map(s.after);
              assert.deepEqual(
                withoutGeneration(await history.read(after, s.limit)),
                model.read(after, s.limit),
              );
            }
          }
          await history.close();
        },
      ),
      { numRuns: 300 },
    );
  });
});

/**
 * The naive model of the topic bound: every topic's messages since it last came back,
 * the topics in order of last publish (the `maxTopics` most recent keep their messages,
 * the next `maxTopics` their last position), and the highest position forgotten.
 */
class BoundedModel {
  /** Most recently published last. */
  private readonly order: string[] = [];
  private readonly lasts = new Map<string, number>();
  private readonly segments = new Map<string, { position: number; data: string }[]>();
  /** The highest forgotten position, by floor slot. */
  private readonly floors = new Map<number, number>();
  constructor(
    private readonly maxLength: number,
    private readonly maxTopics: number,
  ) {}

  private rank(topic: string): number {
    const at = this.order.lastIndexOf(topic);
    return at < 0 ? Number.POSITIVE_INFINITY : this.order.length - at;
  }

  append(topic: string, data: string): number {
    const rank = this.rank(topic);
    const position = this.last(topic) + 1;
    if (rank > this.maxTopics) this.segments.set(topic, []);
    this.segments.get(topic)!.push({ position, data });
    this.lasts.set(topic, position);
    this.order.splice(this.order.indexOf(topic) >>> 0, this.order.includes(topic) ? 1 : 0);
    this.order.push(topic);
    // Past twice the bound, the oldest topic's position is forgotten.
    while (this.order.length > 2 * this.maxTopics) {
      const forgotten = this.order.shift()!;
      const slot = floorSlot(forgotten);
      this.floors.set(slot, Math.max(this.floors.get(slot) ?? 0, this.lasts.get(forgotten)!));
      this.lasts.delete(forgotten);
      this.segments.delete(forgotten);
    }
    return position;
  }

  last(topic: string): number {
    if (this.rank(topic) <= 2 * this.maxTopics) return this.lasts.get(topic)!;
    return this.floors.get(floorSlot(topic)) ?? 0;
  }

  read(after: ReadonlyMap<string, number>, limit: number): Map<string, TopicHistoryRead> {
    const found = new Map<string, TopicHistoryRead>();
    for (const [topic, position] of after) {
      if (this.rank(topic) > this.maxTopics) continue;
      const kept = this.segments.get(topic)!.slice(-this.maxLength);
      if (this.lasts.get(topic)! <= position) continue;
      const first = kept[0]!.position;
      const entries = kept.filter((entry) => entry.position > position).slice(0, limit);
      found.set(topic, { entries, lost: Math.max(0, first - position - 1) });
    }
    return found;
  }
}

describe('MemoryTopicHistory: the bound on topics', () => {
  it('keeps the maxTopics most recently published topics, and the positions of as many more, for any sequence of steps', async () => {
    const topics = ['a', 'b', 'c', 'd', 'e'];
    const boundedStep: fc.Arbitrary<Step> = fc.oneof(
      {
        weight: 4,
        arbitrary: fc.record({ kind: fc.constant('append' as const), topic: fc.constantFrom(...topics) }),
      },
      {
        weight: 2,
        arbitrary: fc.record({
          kind: fc.constant('read' as const),
          after: fc.array(fc.tuple(fc.constantFrom(...topics), fc.nat({ max: 40 })), { maxLength: 4 }),
          limit: fc.nat({ max: 12 }),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({ kind: fc.constant('last' as const), topic: fc.constantFrom(...topics) }),
      },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(boundedStep, { maxLength: 120 }),
        async (maxLength, maxTopics, steps) => {
          const history = new MemoryTopicHistory({ maxLength, maxTopics });
          const model = new BoundedModel(maxLength, maxTopics);
          let counter = 0;
          for (const s of steps) {
            if (s.kind === 'append') {
              const data = `m${counter++}`;
              assert.equal(await history.append(s.topic, data), model.append(s.topic, data));
            } else if (s.kind === 'last') {
              assert.equal(await history.last(s.topic), model.last(s.topic));
            } else {
              const after = new Map(s.after);
              assert.deepEqual(
                withoutGeneration(await history.read(after, s.limit)),
                model.read(after, s.limit),
              );
            }
            assert.ok(history.topicCount <= maxTopics);
          }
          await history.close();
        },
      ),
      { numRuns: 300 },
    );
  });

  it('holds at most maxTopics topics whatever number is published, and a reader of a dropped topic is told what it lost', async () => {
    const history = new MemoryTopicHistory({ maxTopics: 100 });
    for (let i = 1; i <= 3; i++) await history.append('news', `n${i}`);
    for (let i = 0; i < 20_000; i++) await history.append(`spam-${i}`, 'x');
    assert.equal(history.topicCount, 100);
    assert.ok(
      (await history.last('spam-0')) >= 1,
      'a forgotten position: the floor of its slot, never below',
    );
    assert.equal((await history.read(new Map([['news', 1]]), 10)).size, 0, 'nothing of news is kept');
    const position = await history.append('news', 'n4');
    assert.ok(position > 3, 'numbered above every position news had');
    const read = (await history.read(new Map([['news', 1]]), 10)).get('news');
    assert.deepEqual(read?.entries, [{ position, data: 'n4' }]);
    assert.ok(read.lost >= 2, 'told it lost n2 and n3 (at least)');
    // Only the forgotten topics of its floor slot raise the count (about 20,000 / 1,024 here).
    assert.ok(read.lost < 100, `a count near the truth, not ${read.lost}`);
    await history.close();
  });

  it('drops a topic ttl after its last publish, and a reader behind is told exactly how many it lost', async () => {
    const history = new MemoryTopicHistory({ ttl: 20 });
    for (let i = 1; i <= 5; i++) await history.append('quiet', `q${i}`);
    const generationBefore = await history.generation('quiet');
    assert.notEqual(generationBefore, '');
    const published = Date.now();
    // Only waiting longer than the ttl: never asserts that it is still there.
    while (Date.now() - published <= 40) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(history.topicCount, 0);
    assert.equal(await history.last('quiet'), 5, 'its position is remembered');
    assert.equal((await history.read(new Map([['quiet', 2]]), 10)).size, 0);
    assert.equal(await history.append('quiet', 'q6'), 6);
    assert.deepEqual((await history.read(new Map([['quiet', 2]]), 10)).get('quiet'), {
      entries: [{ position: 6, data: 'q6' }],
      lost: 3,
      // The same log as before the drop (its numbering went on): its generation is unchanged.
      generation: generationBefore,
    });
    // A live reader that had everything loses nothing.
    assert.deepEqual((await history.read(new Map([['quiet', 5]]), 10)).get('quiet')?.lost, 0);
    await history.close();
  });

  it('refuses bounds that cannot work', () => {
    assert.throws(() => new MemoryTopicHistory({ maxTopics: 0 }), RangeError);
    assert.throws(() => new MemoryTopicHistory({ maxTopics: 1.5 }), RangeError);
    assert.throws(() => new MemoryTopicHistory({ ttl: 0 }), RangeError);
    assert.throws(() => new MemoryTopicHistory({ ttl: Number.NaN }), RangeError);
  });
});

/** Wait (a hang guard of 20 s) until `topic`'s last position in `history` is `position`. */
async function untilLast(history: MemoryTopicHistory, topic: string, position: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await history.last(topic)) !== position) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${topic} at ${position}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('MemoryTopicHistory bounds, seen by sessions', { timeout: 60_000 }, () => {
  it('a session that comes back to a topic whose messages were dropped (past maxTopics) is told exactly how many it missed', async () => {
    const store = new MemorySessionStore();
    const history = new MemoryTopicHistory({ maxTopics: 1 });
    const lost: [string, number][] = [];
    const sessions = {
      open: (session: ServerSession) => session.subscribe('news'),
      topicLost: (_session: ServerSession, topic: string, count: number) => lost.push([topic, count]),
    };
    const a = await listenSessions({ store, history, checkpoint: { interval: 0 }, sessions });
    const b = await listenSessions({ store, history, checkpoint: { interval: 0 }, sessions });
    const got: string[] = [];
    const c = client([a.url, b.url]);
    c.addEventListener('message', (event) => got.push(String((event as MessageEvent).data)));
    const opened = await next<SessionOpenEvent>(c, 'open');
    await until(() => a.server.pendingCheckpoints === 0, 'the subscription');
    for (let i = 1; i <= 3; i++) b.server.publish('news', `n${i}`);
    await until(() => got.length === 3, 'the first messages');
    const resumed = next<SessionOpenEvent>(c, 'open');
    await a.server.close();
    // While the session is on no server (in this turn: it cannot resume meanwhile): 4..6
    // published, then another topic takes the only place and news's messages are
    // dropped; n7 continues news's numbering.
    for (let i = 4; i <= 6; i++) b.server.publish('news', `n${i}`);
    b.server.publish('elsewhere', 'e1');
    b.server.publish('news', 'n7');
    await untilLast(history, 'news', 7);
    assert.equal(history.topicCount, 1);
    assert.equal((await resumed).sessionId, opened.sessionId);
    await until(() => got.length === 4, 'the catch-up');
    assert.deepEqual(got, ['n1', 'n2', 'n3', 'n7']);
    assert.deepEqual(lost, [['news', 3]]);
    c.close();
    await b.server.close();
  });
});

/** A read without its generations (every log of one history has the same one), checked non-empty. */
function withoutGeneration(
  read: ReadonlyMap<string, { entries: readonly unknown[]; lost: number; generation?: string }>,
): Map<string, { entries: readonly unknown[]; lost: number }> {
  const out = new Map<string, { entries: readonly unknown[]; lost: number }>();
  for (const [topic, { entries, lost, generation }] of read) {
    assert.ok(generation !== undefined && generation !== '', 'a log read carries its generation');
    out.set(topic, { entries, lost });
  }
  return out;
}
