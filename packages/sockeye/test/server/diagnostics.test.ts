/**
 * Diagnostics channels (`sockeye:*`) and `server.stats()`: every message carries the
 * connection's identity; messages in and out are published only while subscribed.
 */
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, it } from 'node:test';
import {
  type BackpressureDiagnostic,
  type CloseDiagnostic,
  diagnosticChannels,
  type HandshakeDiagnostic,
  type LimitDiagnostic,
  type MessageDiagnostic,
  type OpenDiagnostic,
  type PublishDiagnostic,
} from '../../src/index.js';
import { clientFrame, closePayload, listen, RawClient, rawOpen, until, upgradeRequest } from './helpers.js';

/** Collect what `name` publishes while `body` runs (for this server only). */
async function collect<T extends { server: object }>(
  name: string,
  server: object,
  body: (seen: T[]) => Promise<void>,
): Promise<T[]> {
  const seen: T[] = [];
  const listener = (message: unknown) => {
    if ((message as T).server === server) seen.push(message as T);
  };
  subscribe(name, listener);
  try {
    await body(seen);
  } finally {
    unsubscribe(name, listener);
  }
  return seen;
}

describe('diagnostics channels', () => {
  it('publish handshakes (accepted and refused), open and close with the identity', async () => {
    const { server, port } = await listen({ handlers: {}, path: '/chat' });
    const handshakes: HandshakeDiagnostic[] = [];
    const opens: OpenDiagnostic[] = [];
    try {
      const closes = await collect<CloseDiagnostic>('sockeye:close', server, async (closes) => {
        await collect<OpenDiagnostic>('sockeye:open', server, async (seenOpens) => {
          await collect<HandshakeDiagnostic>('sockeye:handshake', server, async (seen) => {
            const client = await rawOpen(port, '/chat?x=1');
            const refused = await RawClient.connect(port);
            refused.write(upgradeRequest('/nope', {}, port));
            await refused.waitClosed();
            client.write(clientFrame(0x8, closePayload(4000, 'bye')));
            await client.waitClosed();
            await until(() => closes.length === 1, 'the close diagnostic');
            handshakes.push(...seen);
            opens.push(...seenOpens);
          });
        });
      });
      assert.deepEqual(
        handshakes.map((h) => [h.result, h.status, h.path, h.clientAddress]),
        [
          ['accepted', 101, '/chat', '127.0.0.1'],
          ['rejected', 404, '/nope', '127.0.0.1'],
        ],
      );
      assert.match(handshakes[1]!.reason, /no WebSocket endpoint/);
      const identity = handshakes[0]!.connection!;
      assert.equal(typeof identity.id, 'number');
      assert.equal(opens.length, 1);
      assert.equal(opens[0]!.connection, identity);
      const close = closes[0]!;
      assert.equal(close.connection.id, identity.id);
      assert.equal(close.code, 4000);
      assert.equal(close.reason, 'bye');
      assert.equal(close.sentCode, 4000); // the echo of the peer's code
      assert.equal(close.wasClean, true);
      assert.ok(close.durationMs >= 0);
    } finally {
      await server.close({ timeout: 100 });
    }
  });

  it('report a handshake that timed out as refused with status 0', async () => {
    const { server, port } = await listen({ handlers: {}, handshakeTimeout: 100 });
    try {
      const seen = await collect<HandshakeDiagnostic>('sockeye:handshake', server, async (seen) => {
        const silent = await RawClient.connect(port);
        await silent.waitClosed();
        await until(() => seen.length === 1, 'the timeout');
      });
      assert.deepEqual(
        seen.map((h) => [h.result, h.status, h.reason, h.clientAddress]),
        [['rejected', 0, 'handshake timeout', '127.0.0.1']],
      );
      assert.deepEqual(server.stats().handshakes.byStatus, { '0': 1 });
    } finally {
      await server.close({ timeout: 100 });
    }
  });

  it('report a close we started and an abnormal one, codes both ways', async () => {
    const { server, port } = await listen({
      handlers: {
        message(ws, data) {
          if (String(data) === 'kick') ws.close(4001, 'kicked');
        },
      },
    });
    try {
      const closes = await collect<CloseDiagnostic>('sockeye:close', server, async (seen) => {
        const kicked = await rawOpen(port);
        kicked.write(clientFrame(0x1, 'kick'));
        await until(() => kicked.frames().some((frame) => frame.opcode === 0x8), 'the close frame');
        kicked.write(clientFrame(0x8, closePayload(1000)));
        await until(() => seen.length === 1, 'the first close');
        const dropped = await rawOpen(port);
        dropped.destroy();
        await until(() => seen.length === 2, 'the second close');
      });
      assert.deepEqual(
        closes.map((c) => [c.code, c.sentCode, c.wasClean]),
        [
          [1000, 4001, true],
          [1006, 0, false],
        ],
      );
    } finally {
      await server.close({ timeout: 100 });
    }
  });

  it('publish messages in and out only while subscribed', async () => {
    const { server, port } = await listen({
      handlers: {
        message(ws, data) {
          ws.send(data);
        },
      },
    });
    try {
      const client = await rawOpen(port);
      client.write(clientFrame(0x1, 'before'));
      await until(() => client.frames().length === 1, 'the first echo');
      const messages = await collect<MessageDiagnostic>('sockeye:message', server, async (seen) => {
        client.write(clientFrame(0x2, Buffer.from([1, 2, 3])));
        await until(() => seen.length === 2, 'in and out');
      });
      client.write(clientFrame(0x1, 'after'));
      await until(() => client.frames().length === 3, 'the last echo');
      assert.deepEqual(
        messages.map((m) => [m.direction, m.bytes, m.isBinary]),
        [
          ['in', 3, true],
          ['out', 3, true],
        ],
      );
      assert.equal(messages[0]!.connection.clientAddress, '127.0.0.1');
      client.destroy();
    } finally {
      await server.close({ timeout: 100 });
    }
  });

  it('publish limits hit and topic publishes with their fan-out', async () => {
    const { server, port } = await listen({
      handlers: {
        open(ws) {
          ws.subscribe('t');
        },
        message(ws, data) {
          ws.publish('t', data);
        },
      },
      messageLimits: { messages: { perSecond: 0.001, burst: 1 }, policy: 'drop' },
    });
    try {
      const [a, b] = [await rawOpen(port), await rawOpen(port)];
      await until(() => server.subscriberCount('t') === 2, 'subscriptions');
      let publishes: PublishDiagnostic[] = [];
      const limits = await collect<LimitDiagnostic>('sockeye:limit', server, async (seenLimits) => {
        publishes = await collect<PublishDiagnostic>('sockeye:publish', server, async (seen) => {
          a.write(Buffer.concat([clientFrame(0x1, 'one'), clientFrame(0x1, 'two')]));
          await until(() => seen.length === 1 && seenLimits.length === 1, 'a publish and a limit');
          server.publish('t', 'from the server');
          await until(() => seen.length === 2, 'the server publish');
        });
      });
      assert.deepEqual(
        publishes.map((p) => [p.topic, p.bytes, p.recipients, p.connection?.id ?? null]),
        [
          ['t', 3, 1, publishes[0]!.connection!.id],
          ['t', 15, 2, null],
        ],
      );
      assert.ok(publishes.every((p) => p.fanOutMs >= 0));
      assert.equal(limits[0]!.kind, 'message-rate');
      assert.equal(limits[0]!.connectionId, publishes[0]!.connection!.id);
      a.destroy();
      b.destroy();
    } finally {
      await server.close({ timeout: 100 });
    }
  });

  it('publish backpressure reached and drained', async () => {
    // Far more than the kernel's socket buffers on loopback can take (they grow to several
    // MiB each way): 4 MiB fitted in them on some runs, so nothing was ever queued.
    const big = Buffer.alloc(24 * 1024 * 1024, 7);
    const { server, port } = await listen({
      handlers: {
        message(ws) {
          ws.send(big);
        },
      },
      highWaterMark: 1024,
      maxBufferedBytes: 64 * 1024 * 1024,
      perMessageDeflate: false,
    });
    try {
      const events = await collect<BackpressureDiagnostic>('sockeye:backpressure', server, async (seen) => {
        const client = await rawOpen(port);
        client.socket.pause();
        client.write(clientFrame(0x1, 'go'));
        await until(() => seen.length === 1, 'reached', 60_000);
        client.socket.resume();
        await until(() => seen.length === 2, 'drained', 60_000);
        client.destroy();
      });
      assert.deepEqual(
        events.map((e) => e.state),
        ['reached', 'drained'],
      );
      assert.ok(events[0]!.bufferedAmount > 1024);
    } finally {
      await server.close({ timeout: 100 });
    }
  });

  it('are frozen objects of the documented names', () => {
    assert.equal(diagnosticChannels.handshake.name, 'sockeye:handshake');
    assert.ok(Object.isFrozen(diagnosticChannels));
  });
});

describe('server.stats()', () => {
  it('counts connections, handshakes, messages, bytes, close codes, topics', async () => {
    const { server, port } = await listen({
      handlers: {
        open(ws) {
          ws.subscribe('a');
          ws.subscribe('b');
        },
        message(ws, data) {
          ws.send(data);
        },
      },
      countMessages: true,
    });
    try {
      const client = await rawOpen(port);
      const refused = await RawClient.connect(port);
      refused.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await refused.waitClosed();
      client.write(clientFrame(0x1, 'hello'));
      await until(() => client.frames().length === 1, 'the echo');
      let stats = server.stats();
      assert.equal(stats.connections, 1);
      assert.deepEqual(stats.handshakes, { accepted: 1, rejected: 1, byStatus: { '101': 1, '426': 1 } });
      assert.deepEqual(stats.messages, { in: 1, out: 1 });
      assert.ok(stats.bytes.in > 0 && stats.bytes.out > 0);
      assert.equal(stats.topics, 2);
      assert.equal(stats.subscriptions, 2);
      assert.equal(stats.queuedBytes, 0);
      client.write(clientFrame(0x8, closePayload(1000)));
      await client.waitClosed();
      await until(() => server.socketCount === 0, 'the socket to be let go');
      stats = server.stats();
      assert.equal(stats.connections, 0);
      assert.deepEqual(stats.closeCodes, { '1000': 1 });
      assert.equal(stats.topics, 0);
      assert.ok(stats.bytes.in > 0 && stats.bytes.out > 0);
    } finally {
      await server.close({ timeout: 100 });
    }
  });

  it('counts no messages without countMessages', async () => {
    const { server, port } = await listen({ handlers: { message: (ws, data) => ws.send(data) } });
    try {
      const client = await rawOpen(port);
      client.write(clientFrame(0x1, 'x'));
      await until(() => client.frames().length === 1, 'the echo');
      assert.deepEqual(server.stats().messages, { in: 0, out: 0 });
      client.destroy();
    } finally {
      await server.close({ timeout: 100 });
    }
  });
});
