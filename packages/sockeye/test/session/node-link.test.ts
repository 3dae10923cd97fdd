/**
 * The reconnecting client on sockeye's Node `WebSocket` drives its links from the
 * low-level client's callbacks (`client/session-link.ts`); on any other constructor,
 * a subclass of sockeye's included, it uses the `WebSocket` object. Both deliver the same.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import { createSessionLink } from '../../src/client/session-link.js';
import {
  type ReconnectingWebSocket,
  SESSION_PROTOCOL,
  type ServerSession,
  WebSocket,
  type WebSocketConstructor,
} from '../../src/index.js';
import type { DropEvent, ReconnectCloseEvent } from '../../src/session/index.js';
import { client, listenSessions, next, until } from './helpers.js';

describe('the reconnecting client on Node links', () => {
  const closers: Array<() => unknown> = [];
  after(async () => {
    for (const close of closers.reverse()) await close();
  });

  async function echoServer() {
    const { server, url } = await listenSessions({
      sessions: { message: (session: ServerSession, data, isBinary) => session.send(data, isBinary) },
    });
    closers.push(() => server.close());
    return url;
  }

  async function roundTrip(c: ReconnectingWebSocket): Promise<unknown[]> {
    closers.push(() => c.close());
    const received: unknown[] = [];
    c.addEventListener('message', (event) => received.push((event as MessageEvent).data));
    c.send('héllo');
    c.send(new Uint8Array([0x64, 1, 2, 3]));
    c.send('');
    c.send(new Uint8Array(0));
    await until(() => received.length === 4, 'four echoes');
    return received;
  }

  function check(received: unknown[]): void {
    assert.equal(received[0], 'héllo');
    assert.ok(received[1] instanceof ArrayBuffer);
    // A copy of exactly the message, not a view of a larger (pooled) read buffer.
    assert.deepEqual([...new Uint8Array(received[1] as ArrayBuffer)], [0x64, 1, 2, 3]);
    assert.equal(received[2], '');
    assert.ok(received[3] instanceof ArrayBuffer);
    assert.equal((received[3] as ArrayBuffer).byteLength, 0);
  }

  it('delivers text and binary, each with its type, on sockeye WebSocket', async () => {
    const url = await echoServer();
    check(await roundTrip(client(url)));
  });

  it('hands data frames to ondata without their d (text decoded, binary a view), the rest to onmessage', async () => {
    const url = await echoServer();
    const link = createSessionLink(url, [SESSION_PROTOCOL]);
    closers.push(() => link.close());
    const messages: unknown[] = [];
    const data: unknown[] = [];
    link.onmessage = (event) => messages.push(event.data);
    await new Promise((resolve) => {
      link.onopen = resolve;
    });
    link.send('h 0');
    await until(() => messages.length === 1, 'the welcome');
    assert.match(messages[0] as string, /^w /);
    // A view of the read is valid during the call only: keep a copy.
    link.ondata = (payload) => data.push(typeof payload === 'string' ? payload : [...payload]);
    link.send('dhéllo ✓');
    link.send(new Uint8Array([0x64, 0x64, 1, 2]));
    link.send('d');
    link.send(new Uint8Array([0x64]));
    await until(() => data.length === 4, 'four echoes');
    assert.deepEqual(data, ['héllo ✓', [0x64, 1, 2], '', []]);
    // The server's acknowledgement is not a data frame.
    await until(() => messages.includes('a 4'), 'the acknowledgement');
    link.ondata = null;
    link.send('dagain');
    await until(() => messages.includes('dagain'), 'the echo on onmessage');
    assert.equal(data.length, 4);
  });

  it("the session client takes data frames from the Node link's ondata, not as message events", async () => {
    const url = await echoServer();
    let link: ReturnType<typeof createSessionLink> | undefined;
    const Spied = new Proxy(class {}, {
      construct: (_target, [linkUrl, protocols]: [string, string[]]) => {
        link = createSessionLink(linkUrl, protocols);
        return link;
      },
    }) as unknown as WebSocketConstructor;
    const c = client(url, { WebSocket: Spied });
    closers.push(() => c.close());
    await next(c, 'open');
    assert.equal(typeof link?.ondata, 'function');
    const viaOnmessage: unknown[] = [];
    const onmessage = link!.onmessage!;
    link!.onmessage = (event) => {
      viaOnmessage.push(event.data);
      onmessage(event);
    };
    const echoes: unknown[] = [];
    c.addEventListener('message', (event) => echoes.push((event as MessageEvent).data));
    c.send('one');
    c.send(new Uint8Array([2]));
    await until(() => echoes.length === 2, 'two echoes');
    assert.equal(echoes[0], 'one');
    assert.deepEqual([...new Uint8Array(echoes[1] as ArrayBuffer)], [2]);
    assert.deepEqual(
      viaOnmessage.filter((data) => (typeof data === 'string' ? data.startsWith('d') : true)),
      [],
    );
  });

  it('a data frame before the welcome fails the link, and reaches no message listener', async () => {
    // A server that selects the subprotocol and sends data instead of a welcome.
    const wss = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      handleProtocols: (protocols) => (protocols.has(SESSION_PROTOCOL) ? SESSION_PROTOCOL : false),
    });
    await once(wss, 'listening');
    closers.push(() => new Promise((resolve) => wss.close(resolve)));
    wss.on('connection', (socket) => {
      socket.on('message', () => {
        socket.send('dnot welcome');
        socket.send(Buffer.from([0x64, 1]));
      });
    });
    // No retry: the first failure closes the client, with its reason.
    const c = client(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, { maxRetries: 0 });
    closers.push(() => c.close());
    const messages: unknown[] = [];
    c.addEventListener('message', (event) => messages.push((event as MessageEvent).data));
    const closed = await next<ReconnectCloseEvent>(c, 'close');
    assert.equal(closed.code, 1006);
    assert.equal(closed.reason, 'expected a welcome');
    assert.deepEqual(messages, []);
  });

  it('takes binary as it is at the send() call: changed right after, it arrives and is dropped as it was', async () => {
    const url = await echoServer();
    const c = client(url, { maxQueuedMessages: 3, queueFull: 'drop' });
    closers.push(() => c.close());
    const echoes: number[][] = [];
    const dropped: unknown[] = [];
    c.addEventListener('message', (event) => echoes.push([...new Uint8Array((event as MessageEvent).data)]));
    c.addEventListener('drop', (event) => dropped.push((event as DropEvent).data));
    const arrayBuffer = new Uint8Array([1, 2, 3]).buffer;
    const larger = new Uint8Array([0, 0, 4, 5, 6, 0]);
    const pooled = Buffer.from('xyz'); // a view of Node's shared 8 KiB pool
    const droppedBuffer = Buffer.from('dropped');
    c.send(arrayBuffer);
    c.send(new DataView(larger.buffer, 2, 3));
    c.send(pooled);
    c.send(droppedBuffer); // past maxQueuedMessages before the first link: dropped
    new Uint8Array(arrayBuffer)[0] = 9;
    larger[2] = 9;
    pooled[0] = 0x41;
    droppedBuffer[0] = 0x41;
    assert.equal(dropped.length, 1);
    assert.ok(dropped[0] instanceof ArrayBuffer);
    assert.equal(Buffer.from(dropped[0] as ArrayBuffer).toString(), 'dropped');
    await until(() => echoes.length === 3, 'three echoes');
    assert.deepEqual(echoes, [[1, 2, 3], [4, 5, 6], [...Buffer.from('xyz')]]);
  });

  it('constructs a subclass of sockeye WebSocket for each link (it may connect elsewhere)', async () => {
    const url = await echoServer();
    let constructed = 0;
    const Routed = class extends WebSocket {
      constructor(_url: string, protocols: string[]) {
        super(url, protocols);
        constructed++;
      }
    } as unknown as WebSocketConstructor;
    const c = client('ws://load-balancer.invalid/', { WebSocket: Routed });
    await next(c, 'open');
    assert.equal(constructed, 1);
    check(await roundTrip(c));
  });

  it('text framed as bytes by the Node link, replayed on a link that does not frame text, goes there as text', async () => {
    // The first link is the Node link (it frames text as bytes); every later one a
    // WebSocket object (it gets text as strings). What was sent on the first and not
    // acknowledged is replayed on the second.
    const received: unknown[] = [];
    const { server, url } = await listenSessions({
      sessions: {
        message: (session: ServerSession, data, isBinary) => {
          received.push(isBinary ? 'binary' : data);
          session.send(data, isBinary);
        },
      },
    });
    closers.push(() => server.close());
    let links = 0;
    const Mixed = new Proxy(class {}, {
      construct: (_target, [linkUrl, protocols]: [string, string[]]) => {
        links++;
        return links === 1 ? createSessionLink(linkUrl, protocols) : new WebSocket(linkUrl, protocols);
      },
    }) as unknown as WebSocketConstructor;
    const c = client(url, { WebSocket: Mixed });
    closers.push(() => c.close());
    const echoes: unknown[] = [];
    c.addEventListener('message', (event) => echoes.push((event as MessageEvent).data));
    c.send('before the welcome: ünïcødé ✓'); // framed by the first link, which is then dropped
    c.reconnect();
    await until(() => echoes.length === 1, 'the echo');
    assert.ok(links >= 2);
    assert.deepEqual(received, ['before the welcome: ünïcødé ✓']);
    assert.deepEqual(echoes, ['before the welcome: ünïcødé ✓']);
  });
});
