/**
 * Running in production, on loopback with raw sockets: connection caps and handshake
 * rates at the upgrade (503/429 with Retry-After), message and publish rates, lifetimes
 * and idle timeouts, the client address behind trusted proxies and the PROXY protocol.
 * Nothing here asserts a duration: timeouts only guard against hangs.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { opensslMissing, selfSignedCertificate } from '../../../../scripts/lib/tls.js';
import { type LimitHit, type ServerWebSocket, WebSocketServer } from '../../src/index.js';
import {
  clientFrame,
  closePayload,
  deferred,
  listen,
  RawClient,
  rawOpen,
  until,
  upgradeRequest,
} from './helpers.js';
import { proxyV2, v2Inet } from './ops-helpers.js';

/** Send an upgrade request (with extra headers) and return the response's status and head. */
async function answer(
  port: number,
  headers: Record<string, string> = {},
  prefix: Buffer | string = '',
): Promise<{ status: number; head: string; client: RawClient }> {
  const client = await RawClient.connect(port);
  client.write(Buffer.concat([Buffer.from(prefix), Buffer.from(upgradeRequest('/', headers, port))]));
  const { status } = await client.response();
  if (status !== 101) await client.waitClosed();
  // The whole answer: status line, header fields and (for a refusal) the body.
  return { status, head: client.text(), client };
}

/** The first close frame the server sent: code and reason. */
async function closeFrame(client: RawClient): Promise<{ code: number; reason: string }> {
  await until(() => client.frames().some((frame) => frame.opcode === 0x8), 'a close frame');
  const payload = client.frames().find((frame) => frame.opcode === 0x8)!.payload;
  return { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString() };
}

/** Text messages from the server, in order. */
function texts(client: RawClient): string[] {
  return client
    .frames()
    .filter((frame) => frame.opcode === 0x1)
    .map((frame) => frame.payload.toString());
}

const echo = {
  message(ws: ServerWebSocket, data: string | Buffer) {
    ws.send(data);
  },
};

describe('connection caps at the upgrade', () => {
  it('answers 503 with Retry-After past maxConnections, and admits again once one leaves', async () => {
    const { server, port } = await listen({
      handlers: {},
      connectionLimits: { maxConnections: 2, retryAfter: 7 },
    });
    const hits: LimitHit[] = [];
    server.on('limit', (hit) => hits.push(hit));
    try {
      const first = await rawOpen(port);
      const second = await rawOpen(port);
      const refused = await answer(port);
      assert.equal(refused.status, 503);
      assert.match(refused.head, /\r\nRetry-After: 7\r\n/);
      assert.match(refused.head, /too many connections\n$/);
      assert.deepEqual(
        hits.map((hit) => [hit.kind, hit.action, hit.clientAddress]),
        [['max-connections', 'refused', '127.0.0.1']],
      );
      first.destroy();
      await until(() => server.socketCount === 1, 'the first connection to be let go');
      (await rawOpen(port)).destroy();
      second.destroy();
      assert.equal(server.stats().limits['max-connections'], 1);
    } finally {
      await server.close({ timeout: 100 });
    }
  });

  it('answers 429 past maxConnectionsPerAddress, counting IPv6 by /64, other addresses unaffected', async () => {
    const { server, port } = await listen({
      handlers: {},
      trustProxy: ['127.0.0.1'],
      connectionLimits: { maxConnectionsPerAddress: 1 },
    });
    try {
      const a = await rawOpen(port, '/', { 'X-Forwarded-For': '203.0.113.1' });
      const again = await answer(port, { 'X-Forwarded-For': '203.0.113.1' });
      assert.equal(again.status, 429);
      assert.match(again.head, /\r\nRetry-After: 5\r\n/);
      assert.match(again.head, /too many connections from this address/);
      const b = await rawOpen(port, '/', { 'X-Forwarded-For': '203.0.113.2' });
      const v6 = await rawOpen(port, '/', { 'X-Forwarded-For': '2001:db8:0:1::1' });
      assert.equal((await answer(port, { 'X-Forwarded-For': '2001:db8:0:1::ffff' })).status, 429);
      const otherNet = await rawOpen(port, '/', { 'X-Forwarded-For': '2001:db8:0:2::1' });
      for (const client of [a, b, v6, otherNet]) client.destroy();
    } finally {
      await server.close({ timeout: 100 });
    }
  });

  it('counts handshakes in progress from the TCP accept (silent connections hold their place)', async () => {
    const { server, port } = await listen({
      handlers: {},
      connectionLimits: { maxConnectionsPerAddress: 2 },
    });
    try {
      const silent = [await RawClient.connect(port), await RawClient.connect(port)];
      await until(() => server.socketCount === 2, 'two accepted sockets');
      const refused = await answer(port);
      assert.equal(refused.status, 429);
      for (const client of silent) client.destroy();
      await until(() => server.socketCount === 0, 'the silent sockets to be let go');
      (await rawOpen(port)).destroy();
    } finally {
      await server.close({ timeout: 100 });
    }
  });

  it('releases a place taken by a handshake that failed after the check', async () => {
    const { server, port } = await listen({
      handlers: {},
      connectionLimits: { maxConnectionsPerAddress: 1 },
      authenticate(): undefined {
        throw new Error('no');
      },
    });
    server.on('error', () => {});
    try {
      for (let i = 0; i < 3; i++) {
        assert.equal((await answer(port)).status, 500);
      }
    } finally {
      await server.close({ timeout: 100 });
    }
  });

  it('answers 429 past the handshake rate of an address', async () => {
    const { server, port } = await listen({
      handlers: {},
      trustProxy: ['127.0.0.1'],
      connectionLimits: { handshakeRate: { perSecond: 0.001, burst: 2 }, maxTrackedAddresses: 3 },
    });
    try {
      const xff = { 'X-Forwarded-For': '198.51.100.1' };
      (await rawOpen(port, '/', xff)).destroy();
      (await rawOpen(port, '/', xff)).destroy();
      const refused = await answer(port, xff);
      assert.equal(refused.status, 429);
      assert.match(refused.head, /too many handshakes/);
      assert.match(refused.head, /\r\nRetry-After: 5\r\n/);
      // Other addresses have their own buckets.
      (await rawOpen(port, '/', { 'X-Forwarded-For': '198.51.100.2' })).destroy();
      assert.equal(server.stats().limits['handshake-rate'], 1);
    } finally {
      await server.close({ timeout: 100 });
    }
  });

  it('validates its options, naming them', () => {
    const make = (options: object) => () =>
      new WebSocketServer({ noServer: true, handlers: {}, ...options }).close();
    assert.throws(
      make({ connectionLimits: { maxConnections: -1 } }),
      /RangeError: connectionLimits.maxConnections/,
    );
    assert.throws(make({ connectionLimits: { ipv6Prefix: 129 } }), /connectionLimits.ipv6Prefix/);
    assert.throws(make({ connectionLimits: { handshakeRate: { perSecond: 0 } } }), /handshakeRate.perSecond/);
    assert.throws(
      make({ messageLimits: { messages: { perSecond: 'x' } } }),
      /TypeError: messageLimits.messages.perSecond/,
    );
    assert.throws(make({ messageLimits: { policy: 'ignore' } }), /messageLimits.policy/);
    assert.throws(make({ maxLifetime: 10, lifetimeJitter: 20 }), /RangeError: lifetimeJitter/);
    assert.throws(make({ idleTimeout: -5 }), /RangeError: idleTimeout/);
    assert.throws(make({ publishRate: { perSecond: 1, burst: 0 } }), /publishRate.burst/);
    assert.throws(make({ trustProxy: ['nope'] }), /trustProxy/);
    assert.throws(make({ proxyProtocol: true }), /standalone/);
    assert.throws(make({ proxyProtocol: 'v1' }), /proxyProtocol must be a boolean/);
    assert.throws(make({ countMessages: 'yes' }), /countMessages/);
  });
});

describe('message rates per connection', () => {
  it('closes with 1008 past the message rate (policy close)', async () => {
    const received: string[] = [];
    const { server, port } = await listen({
      handlers: {
        message(_ws, data) {
          received.push(String(data));
        },
      },
      messageLimits: { messages: { perSecond: 0.001, burst: 2 } },
    });
    try {
      const client = await rawOpen(port);
      client.write(Buffer.concat(['a', 'b', 'c', 'd'].map((text) => clientFrame(0x1, text))));
      assert.deepEqual(await closeFrame(client), { code: 1008, reason: 'message-rate limit exceeded' });
      assert.deepEqual(received, ['a', 'b']);
      // One hit: what arrives after the close is dropped quietly.
      assert.equal(server.stats().limits['message-rate'], 1);
      client.destroy();
    } finally {
      await server.close({ timeout: 100 });
    }
  });

  it('survives a limit listener that throws (reported as an error, the limit still applied)', async () => {
    const configurations = [
      { options: { messageLimits: { messages: { perSecond: 0.001, burst: 1 } } }, code: 1008 },
      { options: { maxLifetime: 100, lifetimeJitter: 0 }, code: 1001 }, // hit in the sweep
    ];
    for (const { options, code } of configurations) {
      const { server, port } = await listen({ handlers: echo, ...options });
      const errors: unknown[] = [];
      server.on('error', (error) => errors.push(error));
      server.on('limit', () => {
        throw new Error('listener bug');
      });
      try {
        const client = await rawOpen(port);
        client.write(Buffer.concat([clientFrame(0x1, 'a'), clientFrame(0x1, 'b')]));
        assert.equal((await closeFrame(client)).code, code);
        assert.equal(errors.length, 1);
        assert.match(String(errors[0]), /listener bug/);
        client.destroy();
      } finally {
        await server.close({ timeout: 100 });
      }
    }
  });

  it('closes with 1008 past the byte rate', async () => {
    const { server, port } = await listen({
      handlers: echo,
      messageLimits: { bytes: { perSecond: 0.001, burst: 10 } },
    });
    try {
      const client = await rawOpen(port);
      client.write(Buffer.concat([clientFrame(0x1, '12345678'), clientFrame(0x1, '12345678')]));
      assert.deepEqual(await closeFrame(client), { code: 1008, reason: 'byte-rate limit exceeded' });
      assert.deepEqual(texts(client), ['12345678']);
      client.destroy();
    } finally {
      await server.close({ timeout: 100 });
    }
  });

  it('drops and reports past the rate (policy drop), the connection carrying on', async () => {
    const { server, port } = await listen({
      handlers: echo,
      messageLimits: { messages: { perSecond: 0.001, burst: 2 }, policy: 'drop' },
    });
    const hits: LimitHit[] = [];
    server.on('limit', (hit) => hits.push(hit));
    try {
      const client = await rawOpen(port);
      client.write(Buffer.concat(['a', 'b', 'c'].map((text) => clientFrame(0x1, text))));
      await until(() => hits.length === 1, 'the limit event');
      client.write(clientFrame(0x9, 'still there?'));
      await until(() => client.frames().some((frame) => frame.opcode === 0xa), 'the pong');
      assert.deepEqual(texts(client), ['a', 'b']);
      assert.equal(hits[0]!.kind, 'message-rate');
      assert.equal(hits[0]!.action, 'dropped');
      assert.equal(typeof hits[0]!.connectionId, 'number');
      assert.ok(!client.frames().some((frame) => frame.opcode === 0x8));
      const stats = server.stats();
      assert.equal(stats.messages.in, 3);
      assert.equal(stats.messages.out, 2);
      client.destroy();
    } finally {
      await server.close({ timeout: 100 });
    }
  });

  it('drops publishes past a topic publish rate, other topics unaffected', async () => {
    const { server, port } = await listen({
      handlers: {
        open(ws) {
          ws.subscribe('news');
          ws.subscribe('sport');
        },
      },
      publishRate: { perSecond: 0.001, burst: 2 },
    });
    const hits: LimitHit[] = [];
    server.on('limit', (hit) => hits.push(hit));
    try {
      const client = await rawOpen(port);
      await until(() => server.subscriberCount('news') === 1, 'the subscription');
      assert.equal(server.publish('news', '1'), 1);
      assert.equal(server.publish('news', '2'), 1);
      assert.equal(server.publish('news', '3'), 0);
      assert.equal(server.publish('sport', 'x'), 1);
      await until(() => texts(client).length === 3, 'three messages');
      assert.deepEqual(texts(client), ['1', '2', 'x']);
      assert.deepEqual(
        hits.map((hit) => [hit.kind, hit.topic, hit.action]),
        [['publish-rate', 'news', 'dropped']],
      );
      client.destroy();
    } finally {
      await server.close({ timeout: 100 });
    }
  });
});

describe('lifetimes', () => {
  it('closes a connection at its maximum lifetime with 1001', async () => {
    const { server, port } = await listen({ handlers: {}, maxLifetime: 150, lifetimeJitter: 50 });
    try {
      const client = await rawOpen(port);
      assert.deepEqual(await closeFrame(client), { code: 1001, reason: 'connection lifetime reached' });
      client.write(clientFrame(0x8, closePayload(1001)));
      await client.waitClosed();
      assert.equal(server.stats().limits['max-lifetime'], 1);
    } finally {
      await server.close({ timeout: 100 });
    }
  });

  it('closes an idle connection with 1000 even while it pings (the heartbeat is another matter)', async () => {
    const { server, port } = await listen({ handlers: {}, idleTimeout: 150 });
    try {
      const client = await rawOpen(port);
      const pinger = setInterval(() => client.write(clientFrame(0x9, 'hi')), 20);
      try {
        assert.deepEqual(await closeFrame(client), { code: 1000, reason: 'idle timeout' });
      } finally {
        clearInterval(pinger);
      }
      client.destroy();
    } finally {
      await server.close({ timeout: 100 });
    }
  });

  it('keeps a connection that sends messages past its idle timeout', async () => {
    const { server, port } = await listen({ handlers: echo, idleTimeout: 300 });
    try {
      const client = await rawOpen(port);
      // Ten messages, each answered before the next: the connection is never idle
      // for long; it has lived past the idle timeout by the end only if messages reset it.
      const started = Date.now();
      let sent = 0;
      while (Date.now() - started < 600 && sent < 100) {
        client.write(clientFrame(0x1, `m${sent}`));
        sent++;
        await until(
          () => texts(client).length === sent || client.frames().some((f) => f.opcode === 0x8),
          'echo',
        );
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
      // Under heavy load a gap may exceed the timeout; only assert when none did.
      const closed = client.frames().find((frame) => frame.opcode === 0x8);
      if (closed === undefined) assert.ok(Date.now() - started >= 300);
      else assert.equal(closed.payload.subarray(2).toString(), 'idle timeout');
      client.destroy();
    } finally {
      await server.close({ timeout: 100 });
    }
  });
});

describe('the real client address', () => {
  it('honours a trusted proxy (X-Forwarded-For, Forwarded) and ignores an untrusted one', async () => {
    const addresses: string[] = [];
    const contexts: string[] = [];
    const handlers = {
      open(ws: ServerWebSocket) {
        addresses.push(ws.clientAddress);
      },
    };
    const trusting = await listen({
      handlers,
      trustProxy: ['127.0.0.0/8'],
      authenticate(request): undefined {
        contexts.push(request.clientAddress);
      },
    });
    const distrusting = await listen({ handlers, trustProxy: ['10.0.0.0/8'] });
    try {
      (await rawOpen(trusting.port, '/', { 'X-Forwarded-For': '203.0.113.9, 127.0.0.5' })).destroy();
      (await rawOpen(trusting.port, '/', { Forwarded: 'for="[2001:db8::7]:4711"' })).destroy();
      (await rawOpen(distrusting.port, '/', { 'X-Forwarded-For': '203.0.113.9' })).destroy();
      await until(() => addresses.length === 3, 'three opens');
      assert.deepEqual(addresses, ['203.0.113.9', '2001:db8::7', '127.0.0.1']);
      assert.deepEqual(contexts, ['203.0.113.9', '2001:db8::7']);
    } finally {
      await trusting.server.close({ timeout: 100 });
      await distrusting.server.close({ timeout: 100 });
    }
  });

  it('reads PROXY v1 and v2 headers in standalone mode, and uses them for the limits', async () => {
    const addresses: string[] = [];
    const { server, port } = await listen({
      handlers: {
        open(ws) {
          addresses.push(ws.clientAddress);
        },
      },
      proxyProtocol: true,
      connectionLimits: { maxConnectionsPerAddress: 1 },
    });
    try {
      const v1 = await answer(port, {}, 'PROXY TCP4 198.51.100.7 127.0.0.1 40000 80\r\n');
      assert.equal(v1.status, 101);
      // Same client again, the header split over writes: refused by the per-address cap.
      const split = await RawClient.connect(port);
      split.write('PROXY TCP4 198.51.');
      await new Promise((resolve) => setTimeout(resolve, 20));
      split.write(`100.7 127.0.0.1 40001 80\r\n${upgradeRequest('/', {}, port)}`);
      assert.equal((await split.response()).status, 429);
      const v2 = await answer(port, {}, proxyV2(1, 0x11, v2Inet([192, 0, 2, 99], 5555)));
      assert.equal(v2.status, 101);
      const local = await answer(port, {}, proxyV2(0, 0x00, Buffer.alloc(0)));
      assert.equal(local.status, 101);
      await until(() => addresses.length === 3, 'three opens');
      assert.deepEqual(addresses, ['198.51.100.7', '192.0.2.99', '127.0.0.1']);
      for (const client of [v1.client, v2.client, local.client, split]) client.destroy();
    } finally {
      await server.close({ timeout: 100 });
    }
  });

  it('reads the PROXY header before TLS with tls and proxyProtocol (wss:// passed through)', {
    skip: opensslMissing(),
  }, async () => {
    const { key, cert } = selfSignedCertificate();
    const seen = deferred<{ address: string; secure: boolean }>();
    const { server, port } = await listen({
      tls: { key, cert },
      proxyProtocol: true,
      authenticate(request): undefined {
        seen.resolve({ address: request.clientAddress, secure: request.secure });
      },
      handlers: echo,
    });
    try {
      const raw = connect({ port, host: '127.0.0.1' });
      await new Promise((resolve) => raw.once('connect', resolve));
      // The header and the ClientHello in one segment: what follows the header is kept for TLS.
      raw.cork();
      raw.write(proxyV2(1, 0x11, v2Inet([203, 0, 113, 50], 4444)));
      const secure = tlsConnect({ socket: raw, rejectUnauthorized: false });
      setImmediate(() => raw.uncork());
      await new Promise((resolve, reject) => {
        secure.once('secureConnect', resolve);
        secure.once('error', reject);
      });
      let received = '';
      secure.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
      });
      secure.write(upgradeRequest('/', {}, port));
      await until(() => received.includes('\r\n\r\n'), 'the response');
      assert.match(received, /^HTTP\/1\.1 101 /);
      assert.deepEqual(await seen.promise, { address: '203.0.113.50', secure: true });
      secure.destroy();
    } finally {
      await server.close({ timeout: 100 });
    }
  });

  it('closes a connection with a malformed or missing PROXY header without an answer', async () => {
    const { server, port } = await listen({ handlers: {}, proxyProtocol: true });
    try {
      const cases: Array<Buffer | string> = [
        'PROXY TCP4 999.51.100.7 127.0.0.1 40000 80\r\n',
        'PROXY TCP4 198.51.100.7 127.0.0.1 40000\r\n',
        `PROXY ${'x'.repeat(200)}`,
        upgradeRequest('/', {}, port),
        proxyV2(2, 0x11, v2Inet([192, 0, 2, 99], 5555)),
        proxyV2(1, 0x11, Buffer.alloc(4)),
      ];
      for (const bytes of cases) {
        const client = await RawClient.connect(port);
        client.write(bytes);
        await client.waitClosed();
        assert.equal(client.received.length, 0, String(bytes));
      }
      assert.equal(server.stats().handshakes.byStatus['0'], cases.length);
    } finally {
      await server.close({ timeout: 100 });
    }
  });
});
