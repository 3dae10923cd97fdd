/**
 * WebSocket first, then the HTTP transports: through a proxy that strips `Upgrade` the
 * reconnecting client falls back to SSE, through one that also buffers streams to
 * long-polling; it remembers the choice for the origin, tries WebSocket again later,
 * and the live session moves between the three without losing, repeating or
 * reordering a message either way.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ReconnectingWebSocket, type ServerSession, type TransportMemory } from '../../src/index.js';
import { client, next, until } from './helpers.js';
import { listenHttpSessions } from './http-helpers.js';
import { HttpProxy } from './http-proxy.js';

function memory(): TransportMemory & { items: Map<string, string> } {
  const items = new Map<string, string>();
  return {
    items,
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
  };
}

describe('falling back from WebSocket to the HTTP transports', { timeout: 120_000 }, () => {
  let h: Awaited<ReturnType<typeof listenHttpSessions<undefined>>>;
  const received = new Map<string, string[]>();
  const sessions = new Map<string, ServerSession>();

  before(async () => {
    h = await listenHttpSessions<undefined>(
      {
        sessions: {
          open: (session) => {
            received.set(session.id, []);
            sessions.set(session.id, session);
          },
          message: (session, data) => received.get(session.id)!.push(String(data)),
        },
      },
      { pollTimeout: 1000 },
    );
  });
  after(() => h.close());

  async function withProxy(run: (proxy: HttpProxy, url: string) => Promise<void>): Promise<void> {
    const proxy = new HttpProxy(h.port);
    const port = await proxy.listen();
    try {
      await run(proxy, `ws://127.0.0.1:${port}/s`);
    } finally {
      await proxy.close();
    }
  }

  /** Send `count` messages each way from `from` on; what each side got so far. */
  function exchange(c: ReconnectingWebSocket, got: string[], from: number, count: number) {
    const session = sessions.get(c.sessionId)!;
    for (let i = from; i < from + count; i++) {
      c.send(`c${i}`);
      session.send(`s${i}`);
    }
    return until(
      () => got.length >= from + count && (received.get(c.sessionId)?.length ?? 0) >= from + count,
      `messages up to ${from + count} both ways`,
      30_000,
    );
  }

  const upTo = (side: string, n: number) => Array.from({ length: n }, (_, i) => `${side}${i}`);

  it('falls back to SSE through a proxy that strips Upgrade, with nothing lost, and remembers it', async () => {
    await withProxy(async (proxy, url) => {
      proxy.stripUpgrade = true;
      const remembered = memory();
      const c = client(url, {
        transports: ['websocket', 'sse', 'long-polling'],
        transportMemory: remembered,
        connectTimeout: 2000,
      });
      const got: string[] = [];
      c.addEventListener('message', (event) => got.push((event as MessageEvent).data as string));
      try {
        c.send('c0'); // sent before any link: kept, and delivered over the fallback
        await next(c, 'open');
        assert.equal(c.transport, 'sse');
        assert.ok(proxy.stripped >= 1, 'the WebSocket handshake was tried first');
        sessions.get(c.sessionId)!.send('s0');
        await exchange(c, got, 1, 20);
        assert.deepEqual(received.get(c.sessionId), upTo('c', 21));
        assert.deepEqual(got, upTo('s', 21));
        assert.match([...remembered.items.values()][0] ?? '', /^sse \d+$/);

        // The next client for this origin starts with SSE: no WebSocket attempt.
        const stripped = proxy.stripped;
        const second = client(url, {
          transports: ['websocket', 'sse', 'long-polling'],
          transportMemory: remembered,
          upgradeInterval: 600_000,
        });
        await next(second, 'open');
        assert.equal(second.transport, 'sse');
        assert.equal(proxy.stripped, stripped);
        second.close();
      } finally {
        c.close();
      }
    });
  });

  it('falls back to long-polling through a proxy that also buffers streams', async () => {
    await withProxy(async (proxy, url) => {
      proxy.stripUpgrade = true;
      proxy.bufferStreams = true;
      const c = client(url, {
        transports: ['websocket', 'sse', 'long-polling'],
        transportMemory: null,
        connectTimeout: 1000,
      });
      const got: string[] = [];
      c.addEventListener('message', (event) => got.push((event as MessageEvent).data as string));
      try {
        await next(c, 'open');
        assert.equal(c.transport, 'long-polling');
        await exchange(c, got, 0, 20);
        assert.deepEqual(received.get(c.sessionId), upTo('c', 20));
        assert.deepEqual(got, upTo('s', 20));
      } finally {
        c.close();
      }
    });
  });

  it('moves the live session WebSocket, SSE, long-polling, WebSocket, losing nothing either way', async () => {
    await withProxy(async (proxy, url) => {
      const c = client(url, {
        transports: ['websocket', 'sse', 'long-polling'],
        transportMemory: null,
        // Generous: on a loaded machine a WebSocket welcome late by a second must not
        // count as a failure (only the buffered SSE stream should time out).
        connectTimeout: 3000,
        upgradeInterval: 200,
      });
      const got: string[] = [];
      const opened: string[] = [];
      c.addEventListener('message', (event) => got.push((event as MessageEvent).data as string));
      c.addEventListener('open', () => opened.push(c.transport));
      try {
        await next(c, 'open');
        const id = c.sessionId;
        assert.equal(c.transport, 'websocket');
        await exchange(c, got, 0, 10);

        proxy.stripUpgrade = true;
        proxy.cut();
        // Messages sent while the link is down, both ways.
        c.send('c10');
        sessions.get(id)!.send('s10');
        await until(() => c.transport === 'sse' && c.state === 'open', 'the session on SSE');
        await exchange(c, got, 11, 10);

        proxy.bufferStreams = true;
        proxy.cut();
        c.send('c21');
        sessions.get(id)!.send('s21');
        await until(
          () => c.transport === 'long-polling' && c.state === 'open',
          'the session on long-polling',
        );
        await exchange(c, got, 22, 10);

        // The network lets WebSocket through again: the next upgrade attempt moves the session.
        const upgrades = proxy.upgrades;
        proxy.stripUpgrade = false;
        proxy.bufferStreams = false;
        for (let i = 32; i < 42; i++) {
          c.send(`c${i}`);
          sessions.get(id)!.send(`s${i}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        await until(() => c.transport === 'websocket' && c.state === 'open', 'the session back on WebSocket');
        assert.ok(proxy.upgrades > upgrades);
        await exchange(c, got, 42, 10);

        assert.equal(c.sessionId, id, 'one session throughout');
        assert.deepEqual(received.get(id), upTo('c', 52));
        assert.deepEqual(got, upTo('s', 52));
        assert.deepEqual(
          opened.filter((t, i) => t !== opened[i - 1]),
          ['websocket', 'sse', 'long-polling', 'websocket'],
        );
        assert.equal(sessions.get(id)!.transport, 'websocket');
      } finally {
        c.close();
      }
    });
  });
});

describe('the transports option', () => {
  it('refuses an empty list or an unknown transport', () => {
    assert.throws(() => client('ws://127.0.0.1:9/s', { transports: [] }), RangeError);
    assert.throws(
      () => client('ws://127.0.0.1:9/s', { transports: ['carrier-pigeon' as 'sse'] }),
      RangeError,
    );
  });

  it('needs no WebSocket constructor for the HTTP transports alone', () => {
    const c = new ReconnectingWebSocket('ws://127.0.0.1:9/s', {
      transports: ['long-polling'],
      lifecycle: false,
      transportMemory: null,
    });
    assert.equal(c.transport, 'long-polling');
    c.close();
  });

  it('starts with a remembered transport only until its time passes', async () => {
    const h = await listenHttpSessions<undefined>({ sessions: {} });
    try {
      const remembered = memory();
      const key = `sockeye.transport 127.0.0.1:${h.port}`;
      const options = { transports: ['websocket', 'sse'] as const, transportMemory: remembered };
      remembered.setItem(key, `sse ${Date.now() + 60_000}`);
      const fresh = client(h.url, options);
      await next(fresh, 'open');
      assert.equal(fresh.transport, 'sse');
      fresh.close();
      remembered.setItem(key, `sse ${Date.now() - 1}`);
      const stale = client(h.url, options);
      await next(stale, 'open');
      assert.equal(stale.transport, 'websocket');
      assert.equal(remembered.getItem(key), null, 'WebSocket worked: nothing to remember');
      stale.close();
    } finally {
      await h.close();
    }
  });
});
