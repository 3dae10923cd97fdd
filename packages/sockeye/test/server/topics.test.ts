/**
 * Topics in the server: subscribe/unsubscribe/publish on loopback connections, framing
 * once, per-subscriber backpressure, subscriptions ending with the connection, several
 * servers joined by an in-process hub, and the broker's life with the server's.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { WebSocket as WsClient } from 'ws';
import {
  type BrokerLoss,
  InProcessBroker,
  InProcessHub,
  SendStatus,
  type ServerWebSocket,
  TopicError,
  type WebSocketServer,
} from '../../src/index.js';
import { inbox, listen, openWs, rawOpen, until } from './helpers.js';

/** A server on loopback whose open connections are kept in order of arrival. */
async function topicServer(options: Parameters<typeof listen<undefined>>[0] = { handlers: {} }) {
  const sockets: ServerWebSocket[] = [];
  const open = options.handlers.open;
  const started = await listen({
    ...options,
    handlers: {
      ...options.handlers,
      open(ws) {
        sockets.push(ws);
        return open?.(ws);
      },
    },
  });
  /** Open `count` ws clients; returns them with their server-side sockets. */
  const connect = async (count: number) => {
    const clients: WsClient[] = [];
    const serverSide: ServerWebSocket[] = [];
    for (let i = 0; i < count; i++) {
      const before = sockets.length;
      clients.push(await openWs(started.url));
      await until(() => sockets.length > before, 'the server side to open');
      serverSide.push(sockets[sockets.length - 1]!);
    }
    return { clients, serverSide };
  };
  return { ...started, sockets, connect };
}

const texts = (client: WsClient) =>
  inbox(client).map((m) => (m.isBinary ? `bin:${m.data.toString('hex')}` : m.data.toString()));

const servers: WebSocketServer[] = [];
const clientsToClose: WsClient[] = [];
after(async () => {
  for (const client of clientsToClose) client.terminate();
  await Promise.all(servers.map((s) => s.close({ timeout: 100 })));
});

async function setup(options?: Parameters<typeof topicServer>[0]) {
  const started = await topicServer(options);
  servers.push(started.server);
  return started;
}

describe('topics on one server', () => {
  it('server.publish reaches the subscribers of the topic only, text and binary, in order', async () => {
    const { server, connect } = await setup();
    const { clients, serverSide } = await connect(3);
    clientsToClose.push(...clients);
    const [a, b, c] = serverSide as [ServerWebSocket, ServerWebSocket, ServerWebSocket];
    assert.equal(a.subscribe('room'), true);
    assert.equal(a.subscribe('room'), false, 'already subscribed');
    assert.equal(b.subscribe('room'), true);
    c.subscribe('other');
    assert.equal(server.subscriberCount('room'), 2);
    assert.equal(server.subscriberCount('other'), 1);
    assert.equal(server.subscriberCount('nobody'), 0);
    assert.equal(a.isSubscribed('room'), true);
    assert.equal(c.isSubscribed('room'), false);
    assert.deepEqual([...a.topics], ['room']);

    assert.equal(server.publish('room', 'hello'), 2);
    assert.equal(server.publish('room', Buffer.from([0, 1, 255])), 2);
    assert.equal(server.publish('room', Buffer.from('as text'), { isBinary: false }), 2);
    assert.equal(server.publish('room', 'as binary', { isBinary: true }), 2);
    assert.equal(server.publish('room', new Uint16Array([0x0102]).buffer), 2);
    assert.equal(server.publish('nobody', 'into the void'), 0);
    const expected = [
      'hello',
      'bin:0001ff',
      'as text',
      `bin:${Buffer.from('as binary').toString('hex')}`,
      'bin:0201',
    ];
    await until(() => inbox(clients[0]!).length === 5 && inbox(clients[1]!).length === 5, 'both subscribers');
    assert.deepEqual(texts(clients[0]!), expected);
    assert.deepEqual(texts(clients[1]!), expected);
    // The third one received nothing (give a stray message the time to arrive).
    server.publish('other', 'marker');
    await until(() => inbox(clients[2]!).length === 1, 'the marker');
    assert.deepEqual(texts(clients[2]!), ['marker']);
  });

  it('ws.publish reaches every subscriber but the sender, subscribed or not', async () => {
    const { connect } = await setup();
    const { clients, serverSide } = await connect(3);
    clientsToClose.push(...clients);
    const [a, b, c] = serverSide as [ServerWebSocket, ServerWebSocket, ServerWebSocket];
    a.subscribe('room');
    b.subscribe('room');
    assert.equal(a.publish('room', 'from a'), 1);
    assert.equal(c.publish('room', 'from c'), 2, 'a non-subscriber may publish');
    await until(() => inbox(clients[1]!).length === 2, 'b to get both');
    await until(() => inbox(clients[0]!).length === 1, 'a to get c’s');
    assert.deepEqual(texts(clients[0]!), ['from c']);
    assert.deepEqual(texts(clients[1]!), ['from a', 'from c']);
    assert.deepEqual(texts(clients[2]!), []);
  });

  it('publishing from a message handler works and the sender is left out', async () => {
    const { server, connect } = await setup({
      handlers: {
        message(ws, data) {
          if (String(data) === 'join') ws.subscribe('chat');
          else ws.publish('chat', data);
        },
      },
    });
    const { clients } = await connect(3);
    clientsToClose.push(...clients);
    for (const client of clients) client.send('join');
    await until(() => server.subscriberCount('chat') === 3, 'everyone to join');
    clients[0]!.send('hi from 0');
    await until(() => inbox(clients[1]!).length === 1 && inbox(clients[2]!).length === 1, 'the others');
    assert.deepEqual(texts(clients[1]!), ['hi from 0']);
    assert.deepEqual(texts(clients[2]!), ['hi from 0']);
    assert.deepEqual(texts(clients[0]!), []);
  });

  it('unsubscribe stops delivery; the broker leaves a topic with its last local subscriber', async () => {
    const { server, connect } = await setup();
    const { clients, serverSide } = await connect(2);
    clientsToClose.push(...clients);
    const [a, b] = serverSide as [ServerWebSocket, ServerWebSocket];
    a.subscribe('room');
    b.subscribe('room');
    assert.ok(server.broker.topics.has('room'));
    assert.equal(a.unsubscribe('room'), true);
    assert.equal(a.unsubscribe('room'), false);
    assert.ok(server.broker.topics.has('room'), 'b is still in');
    server.publish('room', 'only b');
    b.unsubscribe('room');
    assert.ok(!server.broker.topics.has('room'));
    assert.equal(server.publish('room', 'nobody'), 0);
    a.subscribe('end');
    server.publish('end', 'end');
    await until(() => inbox(clients[0]!).length === 1, 'a to get the end marker');
    assert.deepEqual(texts(clients[0]!), ['end']);
    assert.deepEqual(texts(clients[1]!), ['only b']);
  });

  it('subscriptions end with the connection', async () => {
    const { server, connect } = await setup();
    const { clients, serverSide } = await connect(2);
    const [a, b] = serverSide as [ServerWebSocket, ServerWebSocket];
    a.subscribe('room');
    a.subscribe('lobby');
    b.subscribe('room');
    clients[0]!.close(1000);
    await until(() => a.readyState === 'closed', 'a to close');
    assert.equal(server.subscriberCount('room'), 1);
    assert.equal(server.subscriberCount('lobby'), 0);
    assert.ok(!server.broker.topics.has('lobby'));
    assert.equal(a.topics.size, 0);
    assert.equal(a.subscribe('room'), false, 'a closed connection cannot subscribe');
    assert.equal(server.subscriberCount('room'), 1);
    clients[1]!.terminate();
    await until(() => b.readyState === 'closed', 'b to close');
    assert.equal(server.subscriberCount('room'), 0);
    assert.equal(server.broker.topics.size, 0);
  });

  it('a topic over the limits throws a TopicError with close code 1008', async () => {
    const { connect } = await setup({
      handlers: {},
      topics: { maxTopicLength: 8, maxTopicsPerSubscriber: 2 },
    });
    const { clients, serverSide } = await connect(1);
    clientsToClose.push(...clients);
    const ws = serverSide[0]!;
    assert.throws(
      () => ws.subscribe(''),
      (e: unknown) => e instanceof TopicError && e.rule === 'empty-topic',
    );
    assert.throws(
      () => ws.subscribe('123456789'),
      (e: unknown) => e instanceof TopicError && e.rule === 'topic-too-long' && e.closeCode === 1008,
    );
    ws.subscribe('one');
    ws.subscribe('two');
    assert.throws(
      () => ws.subscribe('three'),
      (e: unknown) => e instanceof TopicError && e.rule === 'too-many-topics',
    );
    assert.deepEqual([...ws.topics].sort(), ['one', 'two']);
    // Publishing is held to the same topic names (a topic from a client may be anything).
    assert.throws(
      () => ws.publish('123456789', 'x'),
      (e: unknown) => e instanceof TopicError,
    );
    assert.throws(
      () => ws.publish('', 'x'),
      (e: unknown) => e instanceof TopicError,
    );
    assert.equal(ws.publish('12345678', 'x'), 0);
  });

  it('a topic name with a lone surrogate throws a TopicError (malformed-topic), with or without a broker', async () => {
    const { server, connect } = await setup();
    const { clients, serverSide } = await connect(2);
    clientsToClose.push(...clients);
    const [ws, other] = serverSide as [ServerWebSocket, ServerWebSocket];
    // "\uD83D" alone is what JSON.parse('"\\ud83d"') gives: a room name from a client.
    const malformed = (e: unknown) =>
      e instanceof TopicError && e.rule === 'malformed-topic' && e.closeCode === 1008;
    other.subscribe('room-\uFFFD');
    assert.throws(() => ws.subscribe('room-\uD83D'), malformed);
    assert.throws(() => ws.publish('room-\uD83D', 'x'), malformed);
    assert.throws(() => server.publish('room-\uD83D', 'x'), malformed);
    assert.deepEqual([...ws.topics], []);
    assert.equal(server.subscriberCount('room-\uD83D'), 0);
    // A well-formed pair is an ordinary topic.
    assert.equal(ws.subscribe('room-\uD83D\uDE00'), true);
    assert.equal(server.publish('room-\uD83D\uDE00', 'emoji'), 1);
    await until(() => inbox(clients[0]!).length === 1, 'the emoji room message');
    assert.deepEqual(texts(clients[0]!), ['emoji']);
    assert.deepEqual(texts(clients[1]!), []);
  });
});

describe('framing once', () => {
  it('every subscriber writes the very same frame Buffer', async () => {
    const out = new Map<ServerWebSocket, Buffer[]>();
    const { server, connect } = await setup({
      handlers: {},
      // Connections without an extension (ws clients offer permessage-deflate, on by default).
      perMessageDeflate: false,
      wiretap(ws, direction, bytes) {
        if (direction !== 'out') return;
        const list = out.get(ws) ?? [];
        list.push(bytes);
        out.set(ws, list);
      },
    });
    const { clients, serverSide } = await connect(4);
    clientsToClose.push(...clients);
    for (const ws of serverSide) ws.subscribe('room');
    out.clear();
    const payload = Buffer.alloc(256, 0x61);
    assert.equal(server.publish('room', payload), 4);
    payload.fill(0x62); // the caller may reuse its buffer at once
    await until(() => clients.every((c) => inbox(c).length === 1), 'every subscriber');
    const frames = serverSide.map((ws) => out.get(ws)!);
    for (const written of frames) assert.equal(written.length, 1);
    for (const written of frames) assert.equal(written[0], frames[0]![0], 'the same Buffer object');
    for (const client of clients) assert.equal(inbox(client)[0]!.data.toString(), 'a'.repeat(256));
  });
});

describe('per-subscriber backpressure', () => {
  it('a subscriber that never reads is skipped past maxBufferedBytes; the others get everything', async () => {
    const maxBufferedBytes = 256 * 1024;
    const { server, connect, sockets } = await setup({
      handlers: {},
      maxBufferedBytes,
      highWaterMark: 16 * 1024,
    });
    const { clients, serverSide } = await connect(1);
    clientsToClose.push(...clients);
    const fast = serverSide[0]!;
    const stuck = await rawOpen(server.address()!.port);
    await until(() => sockets.length === 2, 'the stuck one to open');
    stuck.socket.pause(); // never reads
    const slow = sockets[1]!;
    fast.subscribe('feed');
    slow.subscribe('feed');
    const chunk = Buffer.alloc(64 * 1024, 1);
    const rounds = 200;
    let maxSeen = 0;
    let skipped = 0;
    for (let i = 0; i < rounds; i++) {
      const count = server.publish('feed', chunk);
      if (count === 1) skipped++;
      maxSeen = Math.max(maxSeen, slow.bufferedAmount);
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.ok(skipped > 0, 'the slow subscriber was skipped');
    assert.ok(maxSeen <= maxBufferedBytes, `slow subscriber buffered ${maxSeen} > ${maxBufferedBytes}`);
    assert.equal(slow.readyState, 'open', 'dropping messages, not closing, by default');
    await until(
      () => inbox(clients[0]!).length === rounds,
      'the fast subscriber to get every message',
      30_000,
    );
    stuck.destroy();
  });

  it('closeOnBackpressureLimit closes that subscriber with 1008 and keeps publishing to the others', async () => {
    const closes: number[] = [];
    const { server, connect, sockets } = await setup({
      handlers: { close: (_ws, code) => void closes.push(code) },
      maxBufferedBytes: 128 * 1024,
      closeOnBackpressureLimit: true,
      closeTimeout: 200,
    });
    const { clients, serverSide } = await connect(1);
    clientsToClose.push(...clients);
    const stuck = await rawOpen(server.address()!.port);
    await until(() => sockets.length === 2, 'the stuck one to open');
    stuck.socket.pause();
    const slow = sockets[1]!;
    serverSide[0]!.subscribe('feed');
    slow.subscribe('feed');
    const chunk = Buffer.alloc(64 * 1024, 2);
    let published = 0;
    for (let i = 0; i < 1000 && slow.readyState === 'open'; i++) {
      server.publish('feed', chunk);
      published++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(slow.readyState === 'open', false, 'closing past the limit');
    assert.equal(server.subscriberCount('feed'), 2, 'still subscribed until closed');
    server.publish('feed', chunk);
    published++;
    // The peer never reads the close frame: the close timeout drops it (reported 1006).
    await until(() => slow.readyState === 'closed', 'the slow one to be closed', 10_000);
    assert.equal(server.subscriberCount('feed'), 1);
    assert.deepEqual(closes, [1006]);
    await until(() => inbox(clients[0]!).length === published, 'the fast one to get everything', 30_000);
    stuck.destroy();
  });

  it('_sendPrepared reports the status like send()', async () => {
    const { connect } = await setup({ handlers: {}, maxBufferedBytes: 1000, highWaterMark: 100 });
    const { clients, serverSide } = await connect(1);
    clientsToClose.push(...clients);
    const ws = serverSide[0]!;
    ws.subscribe('t');
    ws.cork(() => {
      assert.equal(ws.publish('x', 'y'), 0);
      const message = (n: number) => ({
        data: Buffer.alloc(n),
        isText: false,
        extension: '',
        encoded: null,
        windowBits: 0,
      });
      assert.equal(ws._sendPrepared(message(50)), SendStatus.Sent);
      assert.equal(ws._sendPrepared(message(100)), SendStatus.Queued);
      assert.equal(ws._sendPrepared(message(900)), SendStatus.Dropped);
    });
  });
});

describe('several servers on one hub', () => {
  it('a publish on one server reaches the subscribers of the others exactly once, in order, with no echo', async () => {
    const hub = new InProcessHub();
    const one = await setup({ handlers: {}, broker: new InProcessBroker({ hub }) });
    const two = await setup({ handlers: {}, broker: new InProcessBroker({ hub }) });
    const a = await one.connect(2);
    const b = await two.connect(1);
    clientsToClose.push(...a.clients, ...b.clients);
    for (const ws of [...a.serverSide, ...b.serverSide]) ws.subscribe('room');
    await until(() => hub.subscriberCount('room') === 2, 'both nodes subscribed');
    for (let i = 0; i < 20; i++) one.server.publish('room', `one:${i}`);
    a.serverSide[0]!.publish('room', 'from a0');
    for (let i = 0; i < 20; i++) two.server.publish('room', `two:${i}`);
    const ones = Array.from({ length: 20 }, (_, i) => `one:${i}`);
    const twos = Array.from({ length: 20 }, (_, i) => `two:${i}`);
    await until(() => inbox(b.clients[0]!).length === 41, 'the other server’s subscriber');
    await until(() => inbox(a.clients[0]!).length === 40 && inbox(a.clients[1]!).length === 41, 'local ones');
    // Per-publisher order (there is none between publishers: local ones go out first).
    const fromOne = (t: string[]) => t.filter((x) => x.startsWith('one:') || x === 'from a0');
    const fromTwo = (t: string[]) => t.filter((x) => x.startsWith('two:'));
    for (const client of [b.clients[0]!, a.clients[1]!]) {
      assert.deepEqual(fromOne(texts(client)), [...ones, 'from a0']);
      assert.deepEqual(fromTwo(texts(client)), twos);
    }
    assert.deepEqual(fromOne(texts(a.clients[0]!)), ones, 'no echo to the sender');
    assert.deepEqual(fromTwo(texts(a.clients[0]!)), twos);
    // Exactly once: nothing more arrives.
    one.server.publish('room', 'last');
    await until(() => inbox(b.clients[0]!).length === 42, 'the last one');
    assert.equal(texts(b.clients[0]!).filter((t) => t === 'one:0').length, 1);
  });
});

describe('the broker lives and dies with the server', () => {
  it('server.close() closes its own broker and a broker passed in; a publish after it is reported lost', async () => {
    const own = await topicServer();
    const passed = new InProcessBroker();
    const given = await topicServer({ handlers: {}, broker: passed });
    const statuses: string[] = [];
    given.server.on('brokerStatus', (status) => statuses.push(status));
    assert.equal(given.server.broker, passed);
    await own.server.close();
    await given.server.close();
    assert.equal(own.server.broker.status, 'closed');
    assert.equal(passed.status, 'closed');
    const lost: BrokerLoss[] = [];
    given.server.on('lost', (loss) => lost.push(loss));
    given.server.publish('room', 'too late');
    await until(() => lost.length === 1, 'the loss to be reported');
    assert.equal(lost[0]!.reason, 'closed');
    assert.equal(lost[0]!.topic, 'room');
    assert.equal(lost[0]!.count, 1);
  });

  it('without a lost listener, the first loss becomes one process warning', async () => {
    const { server } = await topicServer();
    await server.close();
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on('warning', onWarning);
    try {
      server.publish('room', 'one');
      server.publish('room', 'two');
      await until(() => warnings.length > 0, 'a warning');
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(warnings.length, 1, 'warned once');
      assert.match(warnings[0]!, /lost 1 message\(s\) on topic "room" \(closed\).*'lost' event/);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('a broker that already serves a server is refused', async () => {
    const broker = new InProcessBroker();
    const first = await setup({ handlers: {}, broker });
    assert.equal(first.server.broker, broker);
    await assert.rejects(() => setup({ handlers: {}, broker }), /a broker serves one server/);
  });
});
