import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TopicHistory } from '../../src/pubsub/index.js';

describe('TopicHistory', () => {
  it('numbers messages from 1 and replays what follows a sequence number', () => {
    const history = new TopicHistory<string>();
    assert.equal(history.lastSequence, 0);
    assert.equal(history.firstSequence, 1);
    assert.deepEqual(history.since(0), { lost: 0, entries: [] });
    for (const word of ['a', 'b', 'c']) history.append(word, 1);
    assert.equal(history.lastSequence, 3);
    assert.deepEqual(
      history.since(1)?.entries.map((entry) => [entry.sequence, entry.value]),
      [
        [2, 'b'],
        [3, 'c'],
      ],
    );
    assert.deepEqual(history.since(3), { lost: 0, entries: [] });
  });

  it('trims the oldest past maxMessages and says exactly how many a late subscriber lost', () => {
    const history = new TopicHistory<number>({ maxMessages: 3 });
    for (let i = 1; i <= 10; i++) history.append(i, 1);
    assert.equal(history.size, 3);
    assert.equal(history.firstSequence, 8);
    const replay = history.since(4);
    assert.equal(replay?.lost, 3); // 5, 6 and 7
    assert.deepEqual(
      replay?.entries.map((entry) => entry.value),
      [8, 9, 10],
    );
  });

  it('trims the oldest past maxBytes; a message larger than maxBytes is numbered but not kept', () => {
    const history = new TopicHistory<string>({ maxBytes: 10 });
    history.append('a', 4);
    history.append('b', 4);
    history.append('c', 4);
    assert.equal(history.byteSize, 8);
    assert.deepEqual(
      history.since(0)?.entries.map((entry) => entry.value),
      ['b', 'c'],
    );
    assert.equal(history.append('huge', 11), 4);
    assert.equal(history.size, 0);
    assert.deepEqual(history.since(1), { lost: 3, entries: [] });
  });

  it('refuses a sequence number it never handed out', () => {
    const history = new TopicHistory<string>();
    history.append('a', 1);
    assert.equal(history.since(2), null);
    assert.equal(history.since(-1), null);
    assert.equal(history.since(1.5), null);
    assert.equal(history.since(Number.NaN), null);
  });

  it('refuses limits that are not whole numbers', () => {
    assert.throws(() => new TopicHistory({ maxMessages: -1 }), RangeError);
    assert.throws(() => new TopicHistory({ maxBytes: 1.5 }), RangeError);
  });

  it('agrees with a plain list of everything appended (any sizes, limits, resume points)', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 6 }),
        fc.nat({ max: 40 }),
        fc.array(fc.nat({ max: 15 }), { maxLength: 60 }),
        fc.nat({ max: 70 }),
        (maxMessages, maxBytes, sizes, after) => {
          const history = new TopicHistory<number>({ maxMessages, maxBytes });
          for (const [i, size] of sizes.entries()) assert.equal(history.append(i + 1, size), i + 1);
          assert.ok(history.size <= maxMessages);
          assert.ok(history.byteSize <= maxBytes);
          const replay = history.since(after);
          if (after > sizes.length) {
            assert.equal(replay, null);
            return;
          }
          assert.ok(replay !== null);
          // Replayed values are a contiguous run ending at the last one; with the lost
          // count they account for every message after `after`.
          const values = replay.entries.map((entry) => entry.value);
          const expected: number[] = [];
          for (let n = after + 1 + replay.lost; n <= sizes.length; n++) expected.push(n);
          assert.deepEqual(values, expected);
          for (const entry of replay.entries) assert.equal(entry.sequence, entry.value);
        },
      ),
    );
  });
});
