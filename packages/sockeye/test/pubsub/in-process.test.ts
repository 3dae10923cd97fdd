import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  type Broker,
  BrokerError,
  type BrokerHandler,
  type BrokerLoss,
  type BrokerMessage,
  InProcessBroker,
  InProcessHub,
  isValidNodeId,
} from '../../src/pubsub/index.js';
import { brokerContract } from './broker-contract.js';

/** A handler that records everything it is told. */
function recorder(broker: Broker) {
  const messages: BrokerMessage[] = [];
  const losses: BrokerLoss[] = [];
  const errors: BrokerError[] = [];
  const handler: BrokerHandler = {
    onMessage: (message) => messages.push(message),
    onLost: (loss) => losses.push(loss),
    onError: (error) => errors.push(error),
  };
  broker.attach(handler);
  return { messages, losses, errors };
}

/** Let every queued microtask (and so every in-process delivery) run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('InProcessBroker: a lone node', () => {
  it('has a random valid node id, is up, and publishes to nobody without complaint', async () => {
    const broker = new InProcessBroker();
    const seen = recorder(broker);
    assert.ok(isValidNodeId(broker.nodeId));
    assert.notEqual(broker.nodeId, new InProcessBroker().nodeId);
    assert.equal(broker.status, 'up');
    await broker.ready();
    await broker.subscribe('room');
    broker.publish('room', Buffer.from('hello'), false);
    await settle();
    assert.deepEqual(seen.messages, []); // no echo to the publisher
    assert.deepEqual(seen.losses, []);
    assert.deepEqual(seen.errors, []);
    await broker.close();
  });

  it('gets a hub of its own: two default brokers do not hear each other', async () => {
    const a = new InProcessBroker();
    const b = new InProcessBroker();
    const seen = recorder(b);
    await b.subscribe('room');
    a.publish('room', Buffer.from('x'), false);
    await settle();
    assert.deepEqual(seen.messages, []);
    assert.notEqual(a.hub, b.hub);
  });
});

describe('InProcessBroker: nodes on one hub', () => {
  it('carries a publish to the other subscribed node with its topic, bytes, type, publisher and sequence', async () => {
    const hub = new InProcessHub();
    const a = new InProcessBroker({ hub, nodeId: 'node-a' });
    const b = new InProcessBroker({ hub, nodeId: 'node-b' });
    const seenA = recorder(a);
    const seenB = recorder(b);
    await a.subscribe('room');
    await b.subscribe('room');
    a.publish('room', Buffer.from('hello'), false);
    a.publish('room', Uint8Array.of(0, 255, 1), true);
    await settle();
    assert.deepEqual(seenA.messages, []);
    assert.deepEqual(
      seenB.messages.map((m) => ({ ...m, data: [...m.data] })),
      [
        { topic: 'room', data: [...Buffer.from('hello')], isBinary: false, publisher: 'node-a', sequence: 1 },
        { topic: 'room', data: [0, 255, 1], isBinary: true, publisher: 'node-a', sequence: 2 },
      ],
    );
    assert.ok(Buffer.isBuffer(seenB.messages[0]!.data));
  });

  it('delivers every publish of three nodes exactly once to each other node, in per-publisher order', async () => {
    const hub = new InProcessHub();
    const nodes = ['n1', 'n2', 'n3'].map((nodeId) => new InProcessBroker({ hub, nodeId }));
    const seen = nodes.map(recorder);
    await Promise.all(nodes.map((node) => node.subscribe('room')));
    const perNode = 200;
    for (let i = 0; i < perNode; i++) {
      for (const node of nodes) node.publish('room', Buffer.from(`${node.nodeId}:${i}`), false);
    }
    await settle();
    nodes.forEach((node, index) => {
      const received = seen[index]!.messages;
      assert.equal(received.length, perNode * 2);
      for (const other of nodes) {
        const fromOther = received.filter((m) => m.publisher === other.nodeId).map((m) => m.data.toString());
        const expected =
          other === node ? [] : Array.from({ length: perNode }, (_, i) => `${other.nodeId}:${i}`);
        assert.deepEqual(fromOther, expected);
      }
    });
    assert.deepEqual(hub.nodeIds, ['n1', 'n2', 'n3']);
    assert.equal(hub.subscriberCount('room'), 3);
  });

  it('delivers only to nodes subscribed to the topic', async () => {
    const hub = new InProcessHub();
    const a = new InProcessBroker({ hub });
    const b = new InProcessBroker({ hub });
    const c = new InProcessBroker({ hub });
    recorder(a);
    const seenB = recorder(b);
    const seenC = recorder(c);
    await b.subscribe('x');
    await c.subscribe('y');
    a.publish('x', Buffer.from('to x'), false);
    a.publish('y', Buffer.from('to y'), false);
    a.publish('z', Buffer.from('to nobody'), false);
    await settle();
    assert.deepEqual(
      seenB.messages.map((m) => m.data.toString()),
      ['to x'],
    );
    assert.deepEqual(
      seenC.messages.map((m) => m.data.toString()),
      ['to y'],
    );
  });

  it('keeps binary payloads byte for byte, including empty and large ones', async () => {
    const hub = new InProcessHub();
    const a = new InProcessBroker({ hub });
    const b = new InProcessBroker({ hub });
    const seen = recorder(b);
    await b.subscribe('bytes');
    const payloads = [Buffer.alloc(0), randomBytes(1), randomBytes(4096), randomBytes(1024 * 1024)];
    for (const payload of payloads) a.publish('bytes', payload, true);
    await settle();
    assert.equal(seen.messages.length, payloads.length);
    seen.messages.forEach((m, i) => {
      assert.ok(m.data.equals(payloads[i]!));
    });
  });

  it('copies the payload: the publisher may reuse its buffer right after publish()', async () => {
    const hub = new InProcessHub();
    const a = new InProcessBroker({ hub });
    const b = new InProcessBroker({ hub });
    const seen = recorder(b);
    await b.subscribe('t');
    const buffer = Buffer.from('original');
    a.publish('t', buffer, false);
    buffer.write('CHANGED!');
    await settle();
    assert.equal(seen.messages[0]!.data.toString(), 'original');
  });

  it('never calls the handler inside publish(): a handler may publish back', async () => {
    const hub = new InProcessHub();
    const a = new InProcessBroker({ hub, nodeId: 'a' });
    const b = new InProcessBroker({ hub, nodeId: 'b' });
    const seenA = recorder(a);
    let inPublish = false;
    const bReceived: string[] = [];
    b.attach({
      onMessage: (message) => {
        assert.equal(inPublish, false);
        bReceived.push(message.data.toString());
        b.publish('pong', Buffer.from(`re:${message.data}`), false);
      },
    });
    await a.subscribe('pong');
    await b.subscribe('ping');
    inPublish = true;
    a.publish('ping', Buffer.from('1'), false);
    assert.deepEqual(bReceived, []);
    inPublish = false;
    await settle();
    assert.deepEqual(bReceived, ['1']);
    assert.deepEqual(
      seenA.messages.map((m) => m.data.toString()),
      ['re:1'],
    );
  });

  it('delivers nothing after unsubscribe(), not even a message already on its way', async () => {
    const hub = new InProcessHub();
    const a = new InProcessBroker({ hub });
    const b = new InProcessBroker({ hub });
    const seen = recorder(b);
    await b.subscribe('t');
    a.publish('t', Buffer.from('in flight'), false);
    await b.unsubscribe('t');
    a.publish('t', Buffer.from('after'), false);
    await settle();
    assert.deepEqual(seen.messages, []);
    assert.equal(hub.subscriberCount('t'), 0);
    assert.deepEqual([...b.topics], []);
  });

  it('delivers nothing published before subscribe() was called', async () => {
    const hub = new InProcessHub();
    const a = new InProcessBroker({ hub });
    const b = new InProcessBroker({ hub });
    const seen = recorder(b);
    a.publish('t', Buffer.from('too early'), false);
    await b.subscribe('t');
    a.publish('t', Buffer.from('on time'), false);
    await settle();
    assert.deepEqual(
      seen.messages.map((m) => m.data.toString()),
      ['on time'],
    );
  });

  it('subscribes at node level: subscribe is idempotent and not counted', async () => {
    const hub = new InProcessHub();
    const a = new InProcessBroker({ hub });
    const b = new InProcessBroker({ hub });
    const seen = recorder(b);
    await b.subscribe('t');
    await b.subscribe('t');
    assert.equal(hub.subscriberCount('t'), 1);
    a.publish('t', Buffer.from('once'), false);
    await settle();
    assert.equal(seen.messages.length, 1);
    await b.unsubscribe('t');
    await b.unsubscribe('t');
    assert.equal(hub.subscriberCount('t'), 0);
  });

  it('numbers each topic separately per publisher', async () => {
    const hub = new InProcessHub();
    const a = new InProcessBroker({ hub });
    const b = new InProcessBroker({ hub });
    const seen = recorder(b);
    await b.subscribe('x');
    await b.subscribe('y');
    for (const topic of ['x', 'y', 'x', 'x', 'y']) a.publish(topic, Buffer.from(topic), false);
    await settle();
    assert.deepEqual(
      seen.messages.map((m) => `${m.topic}${m.sequence}`),
      ['x1', 'y1', 'x2', 'x3', 'y2'],
    );
  });

  it('reports a handler that throws to onError and keeps delivering', async () => {
    const hub = new InProcessHub();
    const a = new InProcessBroker({ hub });
    const b = new InProcessBroker({ hub });
    const errors: BrokerError[] = [];
    const received: string[] = [];
    b.attach({
      onMessage: (message) => {
        received.push(message.data.toString());
        if (received.length === 1) throw new Error('boom');
      },
      onError: (error) => errors.push(error),
    });
    await b.subscribe('t');
    a.publish('t', Buffer.from('1'), false);
    a.publish('t', Buffer.from('2'), false);
    await settle();
    assert.deepEqual(received, ['1', '2']);
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof BrokerError);
    assert.equal(errors[0]!.kind, 'handler');
    assert.equal((errors[0]!.cause as Error).message, 'boom');
  });
});

describe('InProcessBroker: configuration', () => {
  it('refuses an invalid node id', () => {
    for (const nodeId of ['', 'has space', 'x'.repeat(65), 'ünïcode', 'a/b']) {
      assert.throws(
        () => new InProcessBroker({ nodeId }),
        (error: unknown) => error instanceof BrokerError && error.kind === 'config',
        nodeId,
      );
    }
    assert.ok(new InProcessBroker({ nodeId: 'x'.repeat(64) }));
  });

  it('refuses a node id already on the hub, and allows it again once that node closed', async () => {
    const hub = new InProcessHub();
    const first = new InProcessBroker({ hub, nodeId: 'same' });
    assert.throws(
      () => new InProcessBroker({ hub, nodeId: 'same' }),
      (error: unknown) => error instanceof BrokerError && error.kind === 'config',
    );
    await first.close();
    assert.equal(new InProcessBroker({ hub, nodeId: 'same' }).nodeId, 'same');
  });

  it('serves one server: a second attach() throws', () => {
    const broker = new InProcessBroker();
    broker.attach({ onMessage() {} });
    assert.throws(
      () => broker.attach({ onMessage() {} }),
      (error: unknown) => error instanceof BrokerError && error.kind === 'config',
    );
  });
});

describe('InProcessBroker: close()', () => {
  it('leaves the hub, delivers nothing more, and is idempotent', async () => {
    const hub = new InProcessHub();
    const a = new InProcessBroker({ hub, nodeId: 'a' });
    const b = new InProcessBroker({ hub, nodeId: 'b' });
    const seen = recorder(b);
    await b.subscribe('t');
    a.publish('t', Buffer.from('in flight'), false);
    await b.close();
    await b.close();
    assert.equal(b.status, 'closed');
    assert.deepEqual(hub.nodeIds, ['a']);
    assert.equal(hub.subscriberCount('t'), 0);
    assert.deepEqual([...b.topics], []);
    await b.subscribe('t'); // resolves, does nothing
    assert.equal(hub.subscriberCount('t'), 0);
    a.publish('t', Buffer.from('after'), false);
    await settle();
    assert.deepEqual(seen.messages, []);
  });

  it('reports a publish made after close() as lost, with reason closed', async () => {
    const hub = new InProcessHub();
    const a = new InProcessBroker({ hub, nodeId: 'a' });
    const b = new InProcessBroker({ hub, nodeId: 'b' });
    const seenA = recorder(a);
    const seenB = recorder(b);
    await b.subscribe('t');
    await a.close();
    a.publish('t', Buffer.from('too late'), false);
    a.publish('t', Buffer.from('too late'), false);
    await settle();
    assert.deepEqual(seenA.losses, [
      { reason: 'closed', topic: 't', publisher: 'a', count: 1 },
      { reason: 'closed', topic: 't', publisher: 'a', count: 1 },
    ]);
    assert.deepEqual(seenB.messages, []);
  });
});

brokerContract('InProcessBroker', async (count) => {
  const hub = new InProcessHub();
  return Array.from({ length: count }, () => new InProcessBroker({ hub }));
});
