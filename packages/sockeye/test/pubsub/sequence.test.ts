import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GapDetector, SequenceCounter } from '../../src/pubsub/index.js';

describe('SequenceCounter', () => {
  it('numbers each topic 1, 2, 3, ... independently', () => {
    const counter = new SequenceCounter();
    assert.deepEqual(
      ['a', 'a', 'b', 'a', 'b'].map((topic) => counter.next(topic)),
      [1, 2, 1, 3, 2],
    );
  });

  it('keeps at most maxTopics counters, forgetting the oldest (which restarts at 1)', () => {
    const counter = new SequenceCounter(3);
    for (const topic of ['a', 'b', 'c']) counter.next(topic);
    assert.equal(counter.next('a'), 2);
    assert.equal(counter.next('d'), 1); // evicts 'a', the first inserted
    assert.equal(counter.size, 3);
    assert.equal(counter.next('b'), 2);
    assert.equal(counter.next('a'), 1); // forgotten: starts again (evicts 'b')
    assert.equal(counter.size, 3);
  });
});

describe('GapDetector', () => {
  it('takes the first number seen as the baseline and reports nothing for consecutive ones', () => {
    const gaps = new GapDetector();
    assert.deepEqual(
      [41, 42, 43].map((sequence) => gaps.observe('t', 'p', sequence)),
      [0, 0, 0],
    );
  });

  it('reports the size of a gap', () => {
    const gaps = new GapDetector();
    gaps.observe('t', 'p', 1);
    assert.equal(gaps.observe('t', 'p', 5), 3);
    assert.equal(gaps.observe('t', 'p', 6), 0);
  });

  it('tracks each (topic, publisher) pair on its own', () => {
    const gaps = new GapDetector();
    gaps.observe('t', 'p', 1);
    gaps.observe('t', 'q', 10);
    gaps.observe('u', 'p', 100);
    assert.equal(gaps.observe('t', 'p', 2), 0);
    assert.equal(gaps.observe('t', 'q', 12), 1);
    assert.equal(gaps.observe('u', 'p', 104), 3);
    assert.equal(gaps.size, 3);
  });

  it('takes a number that does not go up as a publisher restart, not a loss', () => {
    const gaps = new GapDetector();
    gaps.observe('t', 'p', 7);
    assert.equal(gaps.observe('t', 'p', 1), 0);
    assert.equal(gaps.observe('t', 'p', 2), 0);
    assert.equal(gaps.observe('t', 'p', 4), 1);
  });

  it('forgets a topic: the next message sets a new baseline', () => {
    const gaps = new GapDetector();
    gaps.observe('t', 'p', 1);
    gaps.observe('t', 'q', 1);
    gaps.forget('t');
    gaps.forget('never-seen');
    assert.equal(gaps.size, 0);
    assert.equal(gaps.observe('t', 'p', 50), 0);
  });

  it('remembers at most maxEntries pairs, forgetting the oldest', () => {
    const gaps = new GapDetector(2);
    gaps.observe('t', 'p', 1);
    gaps.observe('t', 'q', 1);
    gaps.observe('u', 'r', 1); // evicts (t, p)
    assert.equal(gaps.size, 2);
    assert.equal(gaps.observe('t', 'p', 9), 0); // a new baseline, no false loss; evicts (t, q)
    assert.equal(gaps.size, 2);
    assert.equal(gaps.observe('u', 'r', 3), 1);
    for (let i = 0; i < 1000; i++) gaps.observe(`topic-${i}`, 'p', 1);
    assert.equal(gaps.size, 2);
  });

  it('stays bounded with a single topic and a maxEntries of one', () => {
    const gaps = new GapDetector(1);
    gaps.observe('t', 'p', 1);
    gaps.observe('t', 'q', 1); // evicts (t, p), which empties and drops the topic's map
    assert.equal(gaps.size, 1);
    assert.equal(gaps.observe('t', 'q', 3), 1);
  });
});
