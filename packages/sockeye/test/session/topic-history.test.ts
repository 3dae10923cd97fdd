/**
 * `MemoryTopicHistory` keeps each topic in a ring indexed by position (an append is O(1)
 * once full). Property: for any sequence of appends to a few topics (past `maxLength`, so
 * the ring wraps and trims), `last` and reads from any positions with any limits answer
 * exactly what a naive model answers: a list of everything appended, cut to its last
 * `maxLength`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MemoryTopicHistory, type TopicHistoryRead } from '../../src/session/topic-history.js';

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
              assert.deepEqual(await history.read(after, s.limit), model.read(after, s.limit));
            }
          }
          await history.close();
        },
      ),
      { numRuns: 300 },
    );
  });
});
