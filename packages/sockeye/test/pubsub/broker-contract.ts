/**
 * The behaviour every {@link Broker} promises, as a test suite any implementation runs:
 * `brokerContract('name', makeNodes)` where `makeNodes(n)` returns n connected brokers
 * that share one transport. The in-process broker runs it here; `@sockeye/redis` runs it
 * against a real Redis. (Type-only imports: an implementation may load sockeye from its
 * build, and its `BrokerError` is then another class object, so errors are checked by
 * name and kind.)
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Broker, BrokerError, BrokerLoss, BrokerMessage } from '../../src/pubsub/index.js';

/** Everything a handler was told. */
export interface Recorded {
  readonly broker: Broker;
  readonly messages: BrokerMessage[];
  readonly losses: BrokerLoss[];
  readonly errors: BrokerError[];
}

/** Attach a handler to `broker` that records everything. */
export function record(broker: Broker): Recorded {
  const recorded: Recorded = { broker, messages: [], losses: [], errors: [] };
  broker.attach({
    onMessage: (message) => recorded.messages.push(message),
    onLost: (loss) => recorded.losses.push(loss),
    onError: (error) => recorded.errors.push(error),
  });
  return recorded;
}

/** Poll `condition` every 5 ms until it holds; reject after `timeoutMs` (a guard, not a measurement). */
export async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const isBrokerError = (kind: string) => (error: unknown) =>
  error instanceof Error && error.name === 'BrokerError' && (error as BrokerError).kind === kind;

/**
 * Run the contract. `makeNodes(count)` makes `count` brokers on one shared transport,
 * each with a distinct node id, ready to carry messages once subscribed (a broker whose
 * subscribe() resolves when the subscription is active needs nothing more).
 */
export function brokerContract(
  name: string,
  makeNodes: (count: number) => Promise<Broker[]>,
  options: { skip?: string | false } = {},
): void {
  /** Make nodes with recording handlers, run `body`, close them all. */
  async function withNodes(count: number, body: (nodes: Recorded[]) => Promise<void>): Promise<void> {
    const brokers = await makeNodes(count);
    try {
      await body(brokers.map(record));
    } finally {
      await Promise.all(brokers.map((broker) => broker.close()));
    }
  }

  describe(`Broker contract: ${name}`, { timeout: 60_000, skip: options.skip }, () => {
    it('carries publishes of every node to every other subscribed node exactly once, in per-publisher order, never back to the publisher', async () => {
      await withNodes(3, async (nodes) => {
        await Promise.all(nodes.map(({ broker }) => broker.subscribe('room')));
        const count = 50;
        for (let i = 0; i < count; i++) {
          for (const { broker } of nodes) broker.publish('room', Buffer.from(`${broker.nodeId}/${i}`), false);
        }
        await until(() => nodes.every((node) => node.messages.length >= 2 * count), 'every message');
        // A marker round proves nothing more (an echo, a duplicate) was still on its way.
        nodes[0]!.broker.publish('room', Buffer.from('marker'), false);
        await until(
          () => nodes.slice(1).every((node) => node.messages.length === 2 * count + 1),
          'the marker',
        );
        for (const node of nodes) {
          const self = node.broker.nodeId;
          for (const other of nodes) {
            const from = node.messages.filter(
              (m) => m.publisher === other.broker.nodeId && m.data.toString() !== 'marker',
            );
            const expected =
              other.broker.nodeId === self
                ? []
                : Array.from({ length: count }, (_, i) => `${other.broker.nodeId}/${i}`);
            assert.deepEqual(
              from.map((m) => m.data.toString()),
              expected,
            );
            assert.deepEqual(
              from.map((m) => m.sequence),
              expected.map((_, i) => i + 1),
            );
          }
          assert.deepEqual(node.losses, []);
          assert.deepEqual(node.errors, []);
        }
      });
    });

    it('keeps payloads byte for byte (empty, random, 1 MiB) and their text/binary type', async () => {
      await withNodes(2, async ([a, b]) => {
        await b!.broker.subscribe('bytes');
        const payloads = [
          Buffer.alloc(0),
          randomBytes(7),
          randomBytes(1024 * 1024),
          Buffer.from('ünïcödé text'),
        ];
        for (const [i, data] of payloads.entries()) a!.broker.publish('bytes', data, i < 3);
        await until(() => b!.messages.length >= payloads.length, 'the payloads');
        payloads.forEach((data, i) => {
          assert.ok(b!.messages[i]!.data.equals(data), `payload ${i}`);
          assert.equal(b!.messages[i]!.isBinary, i < 3);
          assert.equal(b!.messages[i]!.topic, 'bytes');
        });
      });
    });

    it('lets the publisher reuse its buffer as soon as publish() returns', async () => {
      await withNodes(2, async ([a, b]) => {
        await b!.broker.subscribe('t');
        const buffer = Buffer.from('original');
        a!.broker.publish('t', buffer, false);
        buffer.write('CHANGED!');
        await until(() => b!.messages.length >= 1, 'the message');
        assert.equal(b!.messages[0]!.data.toString(), 'original');
      });
    });

    it('refuses topic names that are not well-formed Unicode: a lone surrogate never reaches the U+FFFD topic', async () => {
      await withNodes(2, async ([a, b]) => {
        // UTF-8 has no lone surrogate: encoded for a channel name, "room-\uD83D" becomes
        // "room-\uFFFD", so a broker that took it would deliver to this other topic.
        await b!.broker.subscribe('room-\uFFFD');
        const malformed = (error: unknown) =>
          error instanceof Error &&
          error.name === 'TopicError' &&
          (error as Error & { rule: string }).rule === 'malformed-topic';
        for (const topic of ['room-\uD83D', '\uDC00', 'a\uD800b', '\uDE00\uD83D']) {
          assert.throws(() => a!.broker.publish(topic, Buffer.from('forged'), false), malformed, topic);
          assert.throws(() => a!.broker.subscribe(topic), malformed, topic);
          assert.equal(a!.broker.topics.has(topic), false);
        }
        // Pairs are fine, astral characters included; the marker proves nothing else came.
        await b!.broker.subscribe('room-\uD83D\uDE00');
        a!.broker.publish('room-\uD83D\uDE00', Buffer.from('emoji'), false);
        a!.broker.publish('room-\uFFFD', Buffer.from('replacement'), false);
        await until(() => b!.messages.length >= 2, 'the two messages');
        assert.deepEqual(
          b!.messages.map((m) => [m.topic, m.data.toString()]),
          [
            ['room-\uD83D\uDE00', 'emoji'],
            ['room-\uFFFD', 'replacement'],
          ],
        );
        assert.deepEqual(a!.losses, []);
      });
    });

    it('delivers only subscribed topics; subscribe is idempotent; nothing arrives after unsubscribe()', async () => {
      await withNodes(2, async ([a, b]) => {
        await b!.broker.subscribe('x');
        await b!.broker.subscribe('x');
        await b!.broker.subscribe('marker');
        assert.deepEqual([...b!.broker.topics].sort(), ['marker', 'x']);
        a!.broker.publish('x', Buffer.from('x1'), false);
        a!.broker.publish('y', Buffer.from('y1'), false);
        await until(() => b!.messages.length >= 1, 'x1');
        a!.broker.publish('x', Buffer.from('x2, already on its way'), false);
        await b!.broker.unsubscribe('x');
        await b!.broker.unsubscribe('x');
        a!.broker.publish('x', Buffer.from('x3'), false);
        a!.broker.publish('marker', Buffer.from('m'), false);
        await until(() => b!.messages.length >= 2, 'the marker');
        assert.deepEqual(
          b!.messages.map((m) => `${m.topic}:${m.data}`),
          ['x:x1', 'marker:m'],
        );
        assert.deepEqual([...b!.broker.topics], ['marker']);
      });
    });

    it('never calls the handler from inside publish(): a handler may publish back', async () => {
      const [a, b] = await makeNodes(2);
      try {
        const seenA = record(a!);
        let insidePublish = false;
        b!.attach({
          onMessage: (message) => {
            assert.equal(insidePublish, false);
            b!.publish('pong', Buffer.from(`re:${message.data}`), false);
          },
        });
        await a!.subscribe('pong');
        await b!.subscribe('ping');
        insidePublish = true;
        a!.publish('ping', Buffer.from('1'), false);
        insidePublish = false;
        await until(() => seenA.messages.length >= 1, 'the answer');
        assert.equal(seenA.messages[0]!.data.toString(), 're:1');
      } finally {
        await Promise.all([a!.close(), b!.close()]);
      }
    });

    it('reports a handler that throws as an error of kind handler, and keeps delivering', async () => {
      const [a, b] = await makeNodes(2);
      try {
        const received: string[] = [];
        const errors: BrokerError[] = [];
        b!.attach({
          onMessage: (message) => {
            received.push(message.data.toString());
            if (received.length === 1) throw new Error('boom');
          },
          onError: (error) => errors.push(error),
        });
        await b!.subscribe('t');
        a!.publish('t', Buffer.from('1'), false);
        a!.publish('t', Buffer.from('2'), false);
        await until(() => received.length >= 2, 'both messages');
        assert.equal(errors.length, 1);
        assert.ok(isBrokerError('handler')(errors[0]));
      } finally {
        await Promise.all([a!.close(), b!.close()]);
      }
    });

    it('serves one handler: a second attach() throws a config error', async () => {
      await withNodes(1, async ([a]) => {
        assert.throws(() => a!.broker.attach({ onMessage() {} }), isBrokerError('config'));
      });
    });

    it('close(): status closed, idempotent, nothing delivered after, a later publish reported lost', async () => {
      await withNodes(3, async ([a, b, c]) => {
        await a!.broker.subscribe('t');
        await c!.broker.subscribe('t');
        await a!.broker.close();
        await a!.broker.close();
        assert.equal(a!.broker.status, 'closed');
        await a!.broker.ready(); // resolves for a closed broker
        assert.deepEqual([...a!.broker.topics], []);
        a!.broker.publish('t', Buffer.from('from a closed node'), false);
        b!.broker.publish('t', Buffer.from('to a closed node'), false);
        // c, still subscribed, receiving b's message shows it had its chance to reach a.
        await until(() => a!.losses.length >= 1 && c!.messages.length >= 1, 'the loss and the message');
        assert.deepEqual(a!.losses, [
          { reason: 'closed', topic: 't', publisher: a!.broker.nodeId, count: 1 },
        ]);
        assert.deepEqual(a!.messages, []);
        assert.deepEqual(
          c!.messages.map((m) => `${m.publisher}:${m.data}`),
          [`${b!.broker.nodeId}:to a closed node`],
        );
      });
    });
  });
}
