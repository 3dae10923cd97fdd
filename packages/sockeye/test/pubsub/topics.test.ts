import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  DEFAULT_MAX_TOPIC_LENGTH,
  InProcessBroker,
  InProcessHub,
  isWellFormedTopic,
  TopicError,
  TopicRegistry,
} from '../../src/pubsub/index.js';

/** A registry on a real in-process broker, and a way to see the broker's subscriptions. */
function setup(options = {}) {
  const hub = new InProcessHub();
  const broker = new InProcessBroker({ hub });
  broker.attach({ onMessage() {} });
  const registry = new TopicRegistry<string>(broker, options);
  return { hub, broker, registry };
}

describe('TopicRegistry', () => {
  it('subscribes the node on the broker with the first local subscriber, and unsubscribes it with the last', () => {
    const { hub, broker, registry } = setup();
    assert.equal(registry.subscribe('alice', 'room'), true);
    assert.equal(hub.subscriberCount('room'), 1);
    assert.equal(registry.subscribe('bob', 'room'), true);
    assert.equal(registry.subscribe('bob', 'room'), false);
    assert.equal(hub.subscriberCount('room'), 1); // one node subscription, however many sockets
    assert.equal(registry.subscriberCount('room'), 2);
    assert.deepEqual([...registry.subscribers('room')], ['alice', 'bob']);
    assert.equal(registry.unsubscribe('alice', 'room'), true);
    assert.equal(registry.unsubscribe('alice', 'room'), false);
    assert.deepEqual([...broker.topics], ['room']);
    assert.equal(registry.unsubscribe('bob', 'room'), true);
    assert.deepEqual([...broker.topics], []);
    assert.equal(hub.subscriberCount('room'), 0);
    assert.equal(registry.topicCount, 0);
    assert.deepEqual([...registry.subscribers('room')], []);
  });

  it('drops every subscription of a subscriber at once (its connection ended)', () => {
    const { broker, registry } = setup();
    for (const topic of ['a', 'b', 'c']) registry.subscribe('alice', topic);
    registry.subscribe('bob', 'b');
    assert.deepEqual([...registry.topicsOf('alice')], ['a', 'b', 'c']);
    registry.unsubscribeAll('alice');
    registry.unsubscribeAll('alice');
    registry.unsubscribeAll('nobody');
    assert.deepEqual([...registry.topicsOf('alice')], []);
    assert.deepEqual([...broker.topics], ['b']);
    assert.equal(registry.topicCount, 1);
  });

  it('lets a fan-out loop unsubscribe while it iterates', () => {
    const { registry } = setup();
    for (const name of ['a', 'b', 'c', 'd']) registry.subscribe(name, 'room');
    const visited: string[] = [];
    for (const subscriber of registry.subscribers('room')) {
      visited.push(subscriber);
      if (subscriber === 'a') registry.unsubscribeAll('c'); // a slow one, dropped meanwhile
    }
    assert.deepEqual(visited, ['a', 'b', 'd']);
  });

  it('refuses empty and too long topic names, changing nothing', () => {
    const { broker, registry } = setup();
    const refused = (rule: string) => (error: unknown) =>
      error instanceof TopicError && error.rule === rule && error.closeCode === 1008;
    assert.throws(() => registry.subscribe('alice', ''), refused('empty-topic'));
    assert.throws(
      () => registry.subscribe('alice', 'x'.repeat(DEFAULT_MAX_TOPIC_LENGTH + 1)),
      refused('topic-too-long'),
    );
    assert.equal(registry.subscribe('alice', 'x'.repeat(DEFAULT_MAX_TOPIC_LENGTH)), true);
    const small = setup({ maxTopicLength: 3 });
    assert.throws(() => small.registry.subscribe('alice', 'abcd'), refused('topic-too-long'));
    assert.deepEqual([...small.broker.topics], []);
    assert.equal(broker.topics.size, 1);
    // checkTopic: the same rules, for a publish.
    assert.throws(() => small.registry.checkTopic(''), refused('empty-topic'));
    assert.throws(() => small.registry.checkTopic('abcd'), refused('topic-too-long'));
    assert.doesNotThrow(() => small.registry.checkTopic('abc'));
  });

  it('refuses topic names that are not well-formed Unicode (a lone surrogate), changing nothing', () => {
    const { broker, registry } = setup();
    const malformed = (error: unknown) =>
      error instanceof TopicError && error.rule === 'malformed-topic' && error.closeCode === 1008;
    for (const topic of ['\uD800', 'room-\uD83D', '\uDE00x', 'a\uDBFF\uDBFF\uDFFF', '\uDFFF\uD800']) {
      assert.throws(() => registry.subscribe('alice', topic), malformed, JSON.stringify(topic));
      assert.throws(() => registry.checkTopic(topic), malformed, JSON.stringify(topic));
      assert.equal(isWellFormedTopic(topic), false);
    }
    assert.deepEqual([...registry.topicsOf('alice')], []);
    assert.deepEqual([...broker.topics], []);
    for (const topic of ['room-\uD83D\uDE00', '\uFFFD', 'caf\u00E9', '\uDBFF\uDFFF']) {
      assert.equal(registry.subscribe('alice', topic), true, JSON.stringify(topic));
      assert.equal(isWellFormedTopic(topic), true);
    }
  });

  it('isWellFormedTopic agrees with String.prototype.isWellFormed on any string', () => {
    const wellFormed = (s: string) => (s as string & { isWellFormed(): boolean }).isWellFormed();
    // Code units around the surrogate range, so pairs, lone halves and reversed pairs all occur.
    const unit = fc.oneof(
      fc.integer({ min: 0xd700, max: 0xe0ff }).map((code) => String.fromCharCode(code)),
      fc.constantFrom('a', '\u00E9', '\uD83D\uDE00'),
    );
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 64 }), (topic) => {
        assert.equal(isWellFormedTopic(topic), wellFormed(topic));
      }),
      { numRuns: 2000 },
    );
  });

  it('bounds the topics one subscriber may be in', () => {
    const { registry } = setup({ maxTopicsPerSubscriber: 3 });
    for (const topic of ['a', 'b', 'c']) registry.subscribe('alice', topic);
    assert.throws(
      () => registry.subscribe('alice', 'd'),
      (error: unknown) => error instanceof TopicError && error.rule === 'too-many-topics',
    );
    assert.equal(registry.subscribe('alice', 'a'), false); // already in: not refused
    assert.equal(registry.subscribe('bob', 'd'), true); // the bound is per subscriber
    registry.unsubscribe('alice', 'a');
    assert.equal(registry.subscribe('alice', 'd'), true);
    assert.deepEqual([...registry.topicsOf('alice')].sort(), ['b', 'c', 'd']);
  });

  it('carries a publish from one node to the local subscribers of another', async () => {
    const hub = new InProcessHub();
    const brokerA = new InProcessBroker({ hub });
    const brokerB = new InProcessBroker({ hub });
    const registryB = new TopicRegistry<string>(brokerB);
    const delivered: string[] = [];
    brokerB.attach({
      onMessage: (message) => {
        for (const socket of registryB.subscribers(message.topic))
          delivered.push(`${socket}<-${message.data}`);
      },
    });
    registryB.subscribe('carol', 'room');
    registryB.subscribe('dave', 'room');
    registryB.subscribe('erin', 'elsewhere');
    brokerA.publish('room', Buffer.from('hi'), false);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(delivered, ['carol<-hi', 'dave<-hi']);
  });
});

describe('TopicRegistry holds (a local consumer that is not a subscriber)', () => {
  it('keeps the node subscribed on the broker while a hold remains, with or without subscribers', () => {
    const { broker, registry } = setup();
    registry.hold('feed');
    assert.deepEqual([...broker.topics], ['feed']);
    assert.equal(registry.topicCount, 0); // a hold is not a subscriber
    registry.subscribe('alice', 'feed');
    registry.unsubscribe('alice', 'feed');
    assert.deepEqual([...broker.topics], ['feed']); // the last subscriber left, the hold keeps it
    registry.hold('feed');
    registry.release('feed');
    assert.deepEqual([...broker.topics], ['feed']); // holds are counted
    registry.subscribe('bob', 'feed');
    registry.release('feed');
    assert.deepEqual([...broker.topics], ['feed']); // bob still there
    registry.unsubscribe('bob', 'feed');
    assert.deepEqual([...broker.topics], []);
    registry.release('feed');
    registry.release('never-held');
    assert.deepEqual([...broker.topics], []);
  });

  it('checks the topic of a hold like a subscribe', () => {
    const { broker, registry } = setup({ maxTopicLength: 4 });
    assert.throws(() => registry.hold(''), { rule: 'empty-topic' });
    assert.throws(() => registry.hold('toolong'), { rule: 'topic-too-long' });
    assert.throws(() => registry.hold('a\ud800'), { rule: 'malformed-topic' });
    assert.deepEqual([...broker.topics], []);
  });

  it('subscribes the node exactly when a subscriber or a hold remains (any order of operations)', () => {
    const operation = fc.oneof(
      fc.record({ kind: fc.constant('subscribe' as const), who: fc.constantFrom('a', 'b') }),
      fc.record({ kind: fc.constant('unsubscribe' as const), who: fc.constantFrom('a', 'b') }),
      fc.record({ kind: fc.constant('hold' as const) }),
      fc.record({ kind: fc.constant('release' as const) }),
    );
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 40 }), (operations) => {
        const { broker, registry } = setup();
        const members = new Set<string>();
        let holds = 0;
        for (const op of operations) {
          if (op.kind === 'subscribe') {
            registry.subscribe(op.who, 't');
            members.add(op.who);
          } else if (op.kind === 'unsubscribe') {
            registry.unsubscribe(op.who, 't');
            members.delete(op.who);
          } else if (op.kind === 'hold') {
            registry.hold('t');
            holds++;
          } else {
            registry.release('t');
            holds = Math.max(0, holds - 1);
          }
          assert.equal(broker.topics.has('t'), members.size > 0 || holds > 0);
        }
      }),
    );
  });
});
