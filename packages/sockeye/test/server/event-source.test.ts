import assert from 'node:assert/strict';
import { once } from 'node:events';
import { afterEach, describe, it } from 'node:test';
import { WebSocket as WsClient } from 'ws';
import {
  type Broker,
  type BrokerHandler,
  HandshakeError,
  InProcessBroker,
  InProcessHub,
  type LimitHit,
  WebSocketServer,
} from '../../src/index.js';
import { encodeEvent } from '../../src/server/event-source.js';
import { type EventSourceFixture, RawEventStream, startFixture, waitFor } from './event-source-helpers.js';

const fixtures: EventSourceFixture[] = [];
const streams: RawEventStream[] = [];

async function fixture(...args: Parameters<typeof startFixture>): Promise<EventSourceFixture> {
  const started = await startFixture(...args);
  fixtures.push(started);
  return started;
}

async function stream(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<RawEventStream> {
  const opened = await RawEventStream.open(port, path, headers, method);
  streams.push(opened);
  return opened;
}

afterEach(async () => {
  for (const opened of streams.splice(0)) opened.close();
  await Promise.all(fixtures.splice(0).map((started) => started.close()));
});

describe('EventSource endpoint: the wire format', () => {
  it('answers 200 text/event-stream, uncached, then retry: before any event', async () => {
    const { port } = await fixture({ retry: 2500 });
    const client = await stream(port, '/events?topic=news');
    const head = await client.waitForHead();
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.equal(head.headers['cache-control'], 'no-cache, no-transform');
    assert.equal(head.headers['x-accel-buffering'], 'no');
    assert.equal(await client.waitForBody('\n\n'), 'retry: 2500\n\n');
  });

  it('sends each message as an event whose id is the topic sequence number', async () => {
    const { port, server, events } = await fixture();
    const client = await stream(port, '/events?topic=news');
    await client.waitForBody('retry');
    await waitFor(() => events.streamCount === 1, 'the stream');
    assert.equal(server.publish('news', 'first'), 1);
    server.publish('other', 'not for this stream');
    server.publish('news', 'second');
    const body = await client.waitForBody('id: 2\n');
    assert.equal(body, 'retry: 3000\n\nid: 1\ndata: first\n\nid: 2\ndata: second\n\n');
  });

  it('writes the events of one event-loop turn to a stream in one write, in order', async () => {
    const { port, server, events } = await fixture();
    const client = await stream(port, '/events?topic=batch');
    await client.waitForBody('retry');
    await waitFor(() => events.streamCount === 1, 'the stream');
    for (const word of ['a', 'b', 'c']) server.publish('batch', word);
    const body = await client.waitForBody('id: 3\n');
    assert.equal(body, 'retry: 3000\n\nid: 1\ndata: a\n\nid: 2\ndata: b\n\nid: 3\ndata: c\n\n');
    assert.deepEqual(client.chunkSizes, [13, 3 * 15]); // retry:, then the three together
  });

  it('gives a stream that starts mid-turn each event once (from its replay, not also from the turn)', async () => {
    let server!: WebSocketServer;
    const started = await fixture({
      authorize: async ({ request }) => {
        await null;
        // Published in the same turn, just before this stream starts.
        if (request.headers['last-event-id'] === '0') server.publish('t', 'during');
        return true;
      },
    });
    server = started.server;
    const first = await stream(started.port, '/events?topic=t');
    await waitFor(() => started.events.streamCount === 1, 'the first stream');
    const second = await stream(started.port, '/events?topic=t', { 'Last-Event-ID': '0' });
    await waitFor(() => started.events.streamCount === 2, 'the second stream');
    server.publish('t', 'after');
    assert.equal(
      await second.waitForBody('id: 2\n'),
      'retry: 3000\n\nid: 1\ndata: during\n\nid: 2\ndata: after\n\n',
    );
    assert.equal(
      await first.waitForBody('id: 2\n'),
      'retry: 3000\n\nid: 1\ndata: during\n\nid: 2\ndata: after\n\n',
    );
  });

  it('splits text on CR, LF and CRLF into data: lines, keeps empty lines and leading spaces', () => {
    assert.equal(
      encodeEvent(7, Buffer.from('a\r\nb\rc\n\n d'), true).toString(),
      'id: 7\ndata: a\ndata: b\ndata: c\ndata: \ndata:  d\n\n',
    );
    assert.equal(encodeEvent(1, Buffer.alloc(0), true).toString(), 'id: 1\ndata: \n\n');
    assert.equal(encodeEvent(2, Buffer.from('é✓'), true).toString(), 'id: 2\ndata: é✓\n\n');
  });

  it('sends a binary message as an event named binary, base64', async () => {
    const { port, server, events } = await fixture();
    const client = await stream(port, '/events?topic=bytes');
    await waitFor(() => events.streamCount === 1, 'the stream');
    server.publish('bytes', new Uint8Array([0, 1, 254, 255]));
    assert.match(await client.waitForBody('AAH+/w=='), /id: 1\nevent: binary\ndata: AAH\+\/w==\n\n$/);
  });

  it('writes a comment heartbeat to a silent stream', async () => {
    const { port, events } = await fixture({ heartbeatInterval: 20 });
    const client = await stream(port, '/events?topic=quiet');
    await waitFor(() => events.streamCount === 1, 'the stream');
    assert.match(await client.waitForBody(':\n\n'), /^retry: 3000\n\n(:\n\n)+$/);
  });

  it('delivers what other servers publish through the broker (the topic is held on it)', async () => {
    const hub = new InProcessHub();
    const { port, events } = await fixture({}, { broker: new InProcessBroker({ hub }) });
    const other = new WebSocketServer({ noServer: true, handlers: {}, broker: new InProcessBroker({ hub }) });
    try {
      const client = await stream(port, '/events?topic=shared');
      await waitFor(() => events.streamCount === 1 && hub.subscriberCount('shared') === 1, 'the hold');
      other.publish('shared', 'from elsewhere');
      assert.match(await client.waitForBody('elsewhere'), /id: 1\ndata: from elsewhere\n\n$/);
    } finally {
      await other.close();
    }
  });
});

/** A broker driven by the test: it delivers what the test says, and reports gaps as Redis's does (just before the message). */
class ScriptedBroker implements Broker {
  readonly nodeId = 'scripted';
  readonly status = 'up' as const;
  readonly topics = new Set<string>();
  private handler: BrokerHandler | null = null;
  attach(handler: BrokerHandler): void {
    this.handler = handler;
  }
  ready(): Promise<void> {
    return Promise.resolve();
  }
  subscribe(topic: string): Promise<void> {
    this.topics.add(topic);
    return Promise.resolve();
  }
  unsubscribe(topic: string): Promise<void> {
    this.topics.delete(topic);
    return Promise.resolve();
  }
  publish(): void {}
  close(): Promise<void> {
    return Promise.resolve();
  }
  /** Another server's message arrives, after `missed` of its messages never did. */
  arrive(topic: string, text: string, missed = 0): void {
    if (missed > 0) this.handler?.onLost?.({ reason: 'gap', topic, publisher: 'other', count: missed });
    this.handler?.onMessage({
      topic,
      data: Buffer.from(text),
      isBinary: false,
      publisher: 'other',
      sequence: 1,
    });
  }
}

describe('EventSource endpoint: messages the broker lost', () => {
  it('tells the streams, and later resumers, how many messages never reached this server', async () => {
    const broker = new ScriptedBroker();
    const { port, server, events } = await fixture({}, { broker });
    server.on('lost', () => {}); // the server's own report of it (no process warning)
    const live = await stream(port, '/events?topic=t');
    await waitFor(() => events.streamCount === 1 && broker.topics.has('t'), 'the stream');
    broker.arrive('t', 'one');
    broker.arrive('t', 'four', 2);
    const expected =
      'retry: 3000\n\nid: 1\ndata: one\n\nevent: lost\ndata: {"after":1,"count":2}\n\nid: 2\ndata: four\n\n';
    assert.equal(await live.waitForBody('four'), expected);
    const resumed = await stream(port, '/events?topic=t', { 'Last-Event-ID': '0' });
    assert.equal(await resumed.waitForBody('four'), expected);
  });
});

describe('EventSource endpoint: resuming with Last-Event-ID', () => {
  async function published(count: number, options: Parameters<typeof startFixture>[0] = {}) {
    const started = await fixture(options);
    const first = await stream(started.port, '/events?topic=t');
    await waitFor(() => started.events.streamCount === 1, 'the first stream');
    for (let i = 1; i <= count; i++) started.server.publish('t', `m${i}`);
    await first.waitForBody(`id: ${count}\n`);
    first.close();
    await waitFor(() => started.events.streamCount === 0, 'the first stream to end');
    return started;
  }

  it('replays what followed the Last-Event-ID header from the history', async () => {
    const { port } = await published(5);
    const client = await stream(port, '/events?topic=t', { 'Last-Event-ID': '3' });
    assert.equal(
      await client.waitForBody('id: 5\n'),
      'retry: 3000\n\nid: 4\ndata: m4\n\nid: 5\ndata: m5\n\n',
    );
  });

  it('takes the lastEventId query parameter when there is no header', async () => {
    const { port } = await published(3);
    const client = await stream(port, '/events?topic=t&lastEventId=1');
    assert.equal(
      await client.waitForBody('id: 3\n'),
      'retry: 3000\n\nid: 2\ndata: m2\n\nid: 3\ndata: m3\n\n',
    );
  });

  it('replays nothing to a client that is up to date, and goes on live', async () => {
    const { port, server, events } = await published(2);
    const client = await stream(port, '/events?topic=t', { 'Last-Event-ID': '2' });
    await waitFor(() => events.streamCount === 1, 'the stream');
    server.publish('t', 'm3');
    assert.equal(await client.waitForBody('id: 3\n'), 'retry: 3000\n\nid: 3\ndata: m3\n\n');
  });

  it('tells the exact number lost when the history was trimmed', async () => {
    const { port } = await published(6, { history: { maxMessages: 2 } });
    const client = await stream(port, '/events?topic=t', { 'Last-Event-ID': '1' });
    assert.equal(
      await client.waitForBody('id: 6\n'),
      'retry: 3000\n\nevent: lost\ndata: {"after":1,"count":3}\n\nid: 5\ndata: m5\n\nid: 6\ndata: m6\n\n',
    );
  });

  it('says the loss is unknown for an id it never gave (another process, an earlier life)', async () => {
    const { port } = await published(2);
    const ahead = await stream(port, '/events?topic=t', { 'Last-Event-ID': '99' });
    assert.equal(
      await ahead.waitForBody('null}\n\n'),
      'retry: 3000\n\nevent: lost\ndata: {"after":99,"count":null}\n\n',
    );
    const garbage = await stream(port, '/events?topic=t', { 'Last-Event-ID': 'abc' });
    assert.equal(
      await garbage.waitForBody('null}\n\n'),
      'retry: 3000\n\nevent: lost\ndata: {"after":null,"count":null}\n\n',
    );
  });
});

describe('EventSource endpoint: refusals', () => {
  it('answers 400 without a topic or with one past the topic limits, 405 to a POST', async () => {
    const { port } = await fixture({}, { topics: { maxTopicLength: 8 } });
    for (const [path, method, status] of [
      ['/events', 'GET', 400],
      ['/events?topic=', 'GET', 400],
      ['/events?topic=much-too-long', 'GET', 400],
      ['/events?topic=%ED%A0%80', 'GET', 200], // U+FFFD after URL decoding: well-formed
      ['/events?topic=a', 'POST', 405],
      ['/elsewhere?topic=a', 'GET', 404],
      ['http://[', 'GET', 404], // not a URL: not this endpoint's, and nothing thrown
    ] as const) {
      const client = await stream(port, path, {}, method);
      assert.equal((await client.waitForHead()).status, status, `${method} ${path}`);
    }
  });

  it('asks authorize, and answers 403 when it says no, its status when it throws a HandshakeError', async () => {
    const seen: string[] = [];
    const { port } = await fixture({
      authorize: async ({ topic, clientAddress }) => {
        seen.push(`${topic}@${clientAddress}`);
        if (topic === 'teapot') throw new HandshakeError(418, 'short and stout');
        return topic === 'public';
      },
    });
    const allowed = await stream(port, '/events?topic=public');
    assert.equal((await allowed.waitForHead()).status, 200);
    const denied = await stream(port, '/events?topic=secret');
    assert.equal((await denied.waitForHead()).status, 403);
    const teapot = await stream(port, '/events?topic=teapot');
    assert.equal((await teapot.waitForHead()).status, 418);
    assert.deepEqual(seen, ['public@127.0.0.1', 'secret@127.0.0.1', 'teapot@127.0.0.1']);
  });

  it('answers 500 and reports the error when authorize fails; nothing escapes', async () => {
    const { port, server } = await fixture({
      authorize: () => {
        throw new Error('database down');
      },
    });
    const reported = once(server, 'error');
    const client = await stream(port, '/events?topic=t');
    assert.equal((await client.waitForHead()).status, 500);
    const [error] = await reported;
    assert.match(String(error), /database down/);
  });

  it('lets only the allowed origins read cross-origin, with Access-Control-Allow-Origin', async () => {
    const { port } = await fixture({ origins: ['https://app.example'] });
    const allowed = await stream(port, '/events?topic=t', { Origin: 'https://app.example' });
    const head = await allowed.waitForHead();
    assert.equal(head.status, 200);
    assert.equal(head.headers['access-control-allow-origin'], 'https://app.example');
    const other = await stream(port, '/events?topic=t', { Origin: 'https://evil.example' });
    assert.equal((await other.waitForHead()).status, 403);
  });

  it('refuses options of the wrong type or out of range', () => {
    const server = new WebSocketServer({ noServer: true, handlers: {} });
    assert.throws(() => server.eventSource({ path: 'events' }), TypeError);
    assert.throws(() => server.eventSource({ retry: -1 }), RangeError);
    assert.throws(() => server.eventSource({ heartbeatInterval: 1.5 }), RangeError);
    assert.throws(() => server.eventSource({ maxBufferedBytes: 0 }), RangeError);
    assert.throws(() => server.eventSource({ maxTopics: 0 }), RangeError);
    assert.throws(() => server.eventSource({ history: { maxMessages: -1 } }), RangeError);
    void server.close();
  });
});

describe('EventSource endpoint: limits', () => {
  it('counts streams under the server cap: 503 past maxConnections, and the place comes back', async () => {
    const { port, events } = await fixture({}, { connectionLimits: { maxConnections: 2 } });
    const a = await stream(port, '/events?topic=t');
    const b = await stream(port, '/events?topic=t');
    assert.equal((await a.waitForHead()).status, 200);
    assert.equal((await b.waitForHead()).status, 200);
    const c = await stream(port, '/events?topic=t');
    const refused = await c.waitForHead();
    assert.equal(refused.status, 503);
    assert.equal(refused.headers['retry-after'], '5');
    a.close();
    await waitFor(() => events.streamCount === 1, 'the first stream to end');
    const d = await stream(port, '/events?topic=t');
    assert.equal((await d.waitForHead()).status, 200);
  });

  it('counts streams and WebSockets together per address: 429 past maxConnectionsPerAddress', async () => {
    const hits: LimitHit[] = [];
    const { port, server } = await fixture({}, { connectionLimits: { maxConnectionsPerAddress: 2 } });
    server.on('limit', (hit) => hits.push(hit));
    const ws = new WsClient(`ws://127.0.0.1:${port}/ws`);
    await once(ws, 'open');
    try {
      const a = await stream(port, '/events?topic=t');
      assert.equal((await a.waitForHead()).status, 200);
      const b = await stream(port, '/events?topic=t');
      assert.equal((await b.waitForHead()).status, 429);
      assert.deepEqual(
        hits.map((hit) => [hit.kind, hit.action]),
        [['max-connections-per-address', 'refused']],
      );
    } finally {
      ws.terminate();
    }
  });

  it('spends the server handshake rate: 429 past it', async () => {
    const { port } = await fixture(
      {},
      { connectionLimits: { handshakeRate: { perSecond: 0.001, burst: 2 } } },
    );
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const client = await stream(port, '/events?topic=t');
      statuses.push((await client.waitForHead()).status);
    }
    assert.deepEqual(statuses, [200, 200, 429]);
  });

  it('ends a slow reader past maxBufferedBytes (reported), and memory stays bounded', async () => {
    const hits: LimitHit[] = [];
    const maxBufferedBytes = 64 * 1024;
    const { port, server, events } = await fixture({ maxBufferedBytes, history: { maxMessages: 4 } });
    server.on('limit', (hit) => hits.push(hit));
    const slow = await stream(port, '/events?topic=firehose');
    await slow.waitForBody('retry');
    await waitFor(() => events.streamCount === 1, 'the stream');
    slow.socket.pause(); // reads nothing more: the kernel buffers fill, then the response's
    const payload = 'x'.repeat(16 * 1024);
    // Bounded: at most 4,000 messages (64 MiB), far more than loopback buffers hold.
    for (let i = 0; i < 4000 && events.streamCount === 1; i++) {
      server.publish('firehose', payload);
      if (i % 16 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(events.streamCount, 0);
    assert.deepEqual(
      hits.map((hit) => [hit.kind, hit.topic, hit.action]),
      [['slow-reader', 'firehose', 'closed']],
    );
    slow.socket.resume(); // reads what the kernel holds, then the end of the connection
    await waitFor(() => slow.ended, 'the slow stream to be closed');
  });

  it('ends a stream that delivered nothing for idleTimeout (heartbeats do not count)', async () => {
    const hits: LimitHit[] = [];
    const { port, server, events } = await fixture({ idleTimeout: 60, heartbeatInterval: 10 });
    server.on('limit', (hit) => hits.push(hit));
    const client = await stream(port, '/events?topic=t');
    await waitFor(() => events.streamCount === 1, 'the stream');
    await waitFor(() => client.complete, 'the stream to end');
    assert.equal(events.streamCount, 0);
    assert.deepEqual(
      hits.map((hit) => [hit.kind, hit.topic, hit.action]),
      [['idle-timeout', 't', 'closed']],
    );
  });

  it('bounds the topics it keeps: 503 when every one has a stream; an unused history makes room', async () => {
    const { port, events } = await fixture({ maxTopics: 1 });
    const a = await stream(port, '/events?topic=a');
    assert.equal((await a.waitForHead()).status, 200);
    const b = await stream(port, '/events?topic=b');
    assert.equal((await b.waitForHead()).status, 503);
    a.close();
    await waitFor(() => events.streamCount === 0, 'the first stream to end');
    const c = await stream(port, '/events?topic=c');
    assert.equal((await c.waitForHead()).status, 200);
    assert.equal(events.topicCount, 1);
  });

  it('forgets a history historyRetention after its last stream left, and lets go of the broker topic', async () => {
    const { port, server, events } = await fixture({ historyRetention: 30 });
    const client = await stream(port, '/events?topic=t');
    await waitFor(() => events.streamCount === 1, 'the stream');
    assert.ok(server.broker.topics.has('t'));
    client.close();
    await waitFor(() => events.topicCount === 0, 'the history to be forgotten');
    assert.ok(!server.broker.topics.has('t'));
  });

  it('ends every stream when the server closes, and answers 503 afterwards', async () => {
    const { port, server, events } = await fixture();
    const client = await stream(port, '/events?topic=t');
    await waitFor(() => events.streamCount === 1, 'the stream');
    const closing = server.close();
    await waitFor(() => client.complete, 'the stream to end');
    await closing;
    const late = await stream(port, '/events?topic=t');
    assert.equal((await late.waitForHead()).status, 503);
  });
});

describe('EventSource endpoint: server.stats()', () => {
  it('counts open streams, and the messages and body bytes written to them, beside connections', async () => {
    const { port, server, events } = await fixture({ heartbeatInterval: 0 });
    const zero = { streams: 0, messagesOut: 0, bytesOut: 0 };
    assert.deepEqual(server.stats().eventSource, zero);
    const a = await stream(port, '/events?topic=news');
    const b = await stream(port, '/events?topic=news');
    await a.waitForBody('retry');
    await b.waitForBody('retry');
    await waitFor(() => events.streamCount === 2, 'the streams');
    assert.equal(server.stats().eventSource.streams, 2);
    server.publish('news', 'first');
    server.publish('news', 'second');
    await a.waitForBody('id: 2\n');
    await b.waitForBody('id: 2\n');
    let stats = server.stats();
    assert.equal(stats.connections, 0, 'streams are not connections');
    assert.deepEqual(stats.eventSource, {
      streams: 2,
      messagesOut: 4,
      bytesOut: Buffer.byteLength(a.body) + Buffer.byteLength(b.body),
    });
    // A resumer's replay counts too; a closed stream leaves its counts behind.
    a.close();
    await waitFor(() => events.streamCount === 1, 'the first stream to end');
    const c = await stream(port, '/events?topic=news', { 'Last-Event-ID': '1' });
    await c.waitForBody('id: 2\n');
    await waitFor(() => events.streamCount === 2, 'the resumed stream');
    stats = server.stats();
    assert.deepEqual(stats.eventSource, {
      streams: 2,
      messagesOut: 5,
      bytesOut: Buffer.byteLength(a.body) + Buffer.byteLength(b.body) + Buffer.byteLength(c.body),
    });
    b.close();
    c.close();
    await waitFor(() => server.stats().eventSource.streams === 0, 'every stream to end');
    assert.equal(server.stats().eventSource.messagesOut, 5);
  });
});
