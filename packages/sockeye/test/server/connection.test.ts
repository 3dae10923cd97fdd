/** ServerWebSocket behaviour on loopback: messages, sends of every type, control frames, handlers, errors, limits. */
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { SendStatus, type ServerWebSocket, WebSocketServer } from '../../src/index.js';
import {
  clientFrame,
  closeOf,
  deferred,
  inbox,
  listen,
  nextMessage,
  openWs,
  RawClient,
  rawOpen,
  until,
  upgradeRequest,
} from './helpers.js';

describe('messages', () => {
  it('delivers text as string and binary as Buffer, and echoes both with their type', async () => {
    const seen: Array<[string | Buffer, boolean]> = [];
    const { server, url } = await listen({
      handlers: {
        message(ws, data, isBinary) {
          seen.push([data, isBinary]);
          ws.send(data);
        },
      },
    });
    try {
      const client = await openWs(url);
      client.send('héllo');
      const text = await nextMessage(client);
      assert.deepEqual([text.data.toString(), text.isBinary], ['héllo', false]);
      client.send(Buffer.from([0, 1, 255]));
      const binary = await nextMessage(client);
      assert.deepEqual([[...binary.data], binary.isBinary], [[0, 1, 255], true]);
      assert.equal(seen[0]![0], 'héllo');
      assert.equal(seen[0]![1], false);
      assert.ok(Buffer.isBuffer(seen[1]![0]));
      assert.equal(seen[1]![1], true);
      client.close();
    } finally {
      await server.close();
    }
  });

  it('with decodeText: false delivers text as a Buffer and send(buffer, false) sends it back as text', async () => {
    const { server, url } = await listen({
      decodeText: false,
      handlers: {
        message(ws, data, isBinary) {
          assert.ok(Buffer.isBuffer(data));
          ws.send(data, isBinary);
        },
      },
    });
    try {
      const client = await openWs(url);
      client.send('ünïcode');
      const echoed = await nextMessage(client);
      assert.equal(echoed.isBinary, false);
      assert.equal(echoed.data.toString(), 'ünïcode');
      client.close();
    } finally {
      await server.close();
    }
  });

  it('sends ArrayBuffer, typed arrays and DataView as binary, and a Blob in order with later sends', async () => {
    const { server, url } = await listen({
      handlers: {
        open(ws) {
          ws.send(new Uint8Array([1, 2]).buffer);
          ws.send(new Uint16Array([0x0403]));
          ws.send(new DataView(new Uint8Array([9, 5, 6, 9]).buffer, 1, 2));
          assert.equal(ws.send(new Blob(['blob-', 'bytes'])), SendStatus.Queued);
          assert.equal(ws.send('after the blob'), SendStatus.Queued);
          ws.send('as binary', true);
        },
      },
    });
    try {
      const client = await openWs(url);
      await until(() => inbox(client).length === 6, 'six messages');
      const received = inbox(client).map(({ data, isBinary }) => [
        isBinary ? [...data] : data.toString(),
        isBinary,
      ]);
      assert.deepEqual(received, [
        [[1, 2], true],
        [[3, 4], true],
        [[5, 6], true],
        [[...Buffer.from('blob-bytes')], true],
        ['after the blob', false],
        [[...Buffer.from('as binary')], true],
      ]);
      client.close();
    } finally {
      await server.close();
    }
  });

  it('close() after a Blob send waits for the Blob: the messages, then the close frame', async () => {
    const statuses: string[] = [];
    const errors: unknown[] = [];
    const { server, url } = await listen({
      handlers: {
        message(ws) {
          ws.send(new Blob(['blob first']));
          ws.send('then text');
          assert.throws(() => ws.close(1005), RangeError); // checked now, though the frame waits
          ws.close(4002, 'after them');
          statuses.push(ws.send('too late'));
        },
        error: (_ws, error) => errors.push(error),
      },
    });
    try {
      const client = await openWs(url);
      const closed = closeOf(client);
      client.send('go');
      assert.deepEqual(await closed, { code: 4002, reason: 'after them' });
      assert.deepEqual(
        inbox(client).map(({ data }) => data.toString()),
        ['blob first', 'then text'],
      );
      assert.deepEqual(statuses, [SendStatus.Dropped]);
      assert.deepEqual(errors, []);
    } finally {
      await server.close();
    }
  });

  it('batches sends made inside cork() and outside a read, and delivers them all in order', async () => {
    const { server, url } = await listen({
      handlers: {
        open(ws) {
          setTimeout(() => {
            const value = ws.cork(() => {
              for (let i = 0; i < 100; i++) ws.send(`m${i}`);
              return 42;
            });
            assert.equal(value, 42);
            for (let i = 100; i < 200; i++) ws.send(`m${i}`);
          }, 1);
        },
      },
    });
    try {
      const client = await openWs(url);
      // The inbox collects from the 'open' event on (a listener added after `await openWs`
      // would miss messages that arrive in the same read as the 101).
      const received = inbox(client);
      await until(() => received.length === 200, '200 messages');
      assert.deepEqual(
        received.map((message) => message.data.toString()),
        Array.from({ length: 200 }, (_, i) => `m${i}`),
      );
      client.close();
    } finally {
      await server.close();
    }
  });

  it('wiretap sees the bytes in (masked, as received) and out', async () => {
    const taps: Array<[string, Buffer]> = [];
    const { server, url } = await listen({
      wiretap: (_ws, direction, bytes) => taps.push([direction, bytes]),
      handlers: { message: (ws, data) => ws.send(data) },
    });
    try {
      const client = await openWs(url);
      client.send('tap');
      await nextMessage(client);
      const incoming = Buffer.concat(taps.filter(([d]) => d === 'in').map(([, b]) => b));
      const outgoing = Buffer.concat(taps.filter(([d]) => d === 'out').map(([, b]) => b));
      assert.equal(incoming[0], 0x81);
      assert.equal(incoming[1], 0x80 | 3);
      assert.deepEqual(outgoing, Buffer.from([0x81, 3, ...Buffer.from('tap')]));
      client.close();
    } finally {
      await server.close();
    }
  });
});

describe('control frames and closing', () => {
  it('a peer that half-closes TCP without a close frame ends with 1006, standalone and attached', async () => {
    for (const mode of ['standalone', 'attached'] as const) {
      const closed = deferred<number>();
      const handlers = { close: (_ws: ServerWebSocket, code: number) => closed.resolve(code) };
      const http = mode === 'attached' ? createHttpServer() : null;
      let server: WebSocketServer;
      let port: number;
      if (http === null) {
        ({ server, port } = await listen({ handlers }));
      } else {
        server = new WebSocketServer({ server: http, handlers });
        await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
        port = (http.address() as AddressInfo).port;
      }
      try {
        // Keep our side open after sending FIN: the server must end the connection itself.
        const client = await RawClient.connect(port, true);
        client.write(upgradeRequest('/', {}, port));
        assert.equal((await client.response()).status, 101);
        client.socket.end();
        assert.equal(await closed.promise, 1006, mode);
        await client.waitFor(() => client.ended, `the server's FIN (${mode})`);
        await until(() => server.socketCount === 0, `the socket to be released (${mode})`);
        client.destroy();
      } finally {
        await server.close();
        http?.close();
      }
    }
  });

  it('ping() reaches the client; client pings reach the ping handler and are answered', async () => {
    const pinged = deferred<string>();
    const ponged = deferred<string>();
    const { server, url } = await listen({
      handlers: {
        message: (ws) => ws.ping('from-server'),
        ping: (_ws, data) => pinged.resolve(data.toString()),
        pong: (_ws, data) => ponged.resolve(data.toString()),
      },
    });
    try {
      const client = await openWs(url);
      const clientPinged = new Promise<string>((resolve) =>
        client.once('ping', (d: Buffer) => resolve(d.toString())),
      );
      const clientPonged = new Promise<string>((resolve) =>
        client.once('pong', (d: Buffer) => resolve(d.toString())),
      );
      client.ping('from-client');
      client.send('ping me');
      assert.equal(await clientPinged, 'from-server');
      assert.equal(await ponged.promise, 'from-server');
      assert.equal(await pinged.promise, 'from-client');
      assert.equal(await clientPonged, 'from-client');
      client.close();
    } finally {
      await server.close();
    }
  });

  it('close(code, reason) completes the closing handshake; the close handler gets the peer code', async () => {
    const closed = deferred<[number, string]>();
    const { server, url } = await listen({
      handlers: {
        message: (ws) => ws.close(4001, 'done here'),
        close: (_ws, code, reason) => closed.resolve([code, reason]),
      },
    });
    try {
      const client = await openWs(url);
      const seen = closeOf(client);
      client.send('go');
      assert.deepEqual(await seen, { code: 4001, reason: 'done here' });
      assert.equal((await closed.promise)[0], 4001);
      await until(() => server.clients.size === 0, 'no clients');
    } finally {
      await server.close();
    }
  });

  it('a client close reaches the close handler with its code and reason', async () => {
    const closed = deferred<[number, string, string]>();
    const { server, url } = await listen({
      handlers: { close: (ws, code, reason) => closed.resolve([code, reason, ws.readyState]) },
    });
    try {
      const client = await openWs(url);
      client.close(4321, 'bye now');
      assert.deepEqual(await closed.promise, [4321, 'bye now', 'closed']);
    } finally {
      await server.close();
    }
  });

  it('terminate() drops the connection and reports 1006', async () => {
    const closed = deferred<number>();
    const { server, url } = await listen({
      handlers: { open: (ws) => ws.terminate(), close: (_ws, code) => closed.resolve(code) },
    });
    try {
      const client = await openWs(url).catch(() => null);
      assert.equal(await closed.promise, 1006);
      client?.terminate();
    } finally {
      await server.close();
    }
  });

  it('send after close returns dropped; ping returns false', async () => {
    const result = deferred<[string, boolean]>();
    const { server, url } = await listen({
      handlers: {
        open(ws) {
          ws.close(1000);
          result.resolve([ws.send('late'), ws.ping()]);
        },
      },
    });
    try {
      const client = await openWs(url);
      assert.deepEqual(await result.promise, [SendStatus.Dropped, false]);
      await closeOf(client).catch(() => {});
    } finally {
      await server.close();
    }
  });
});

describe('handler errors', () => {
  for (const kind of ['throws', 'rejects'] as const) {
    it(`a message handler that ${kind} closes that connection with 1011 and the server lives on`, async () => {
      const errors: unknown[] = [];
      const { server, url } = await listen({
        handlers: {
          message(ws, data) {
            if (data === 'boom') {
              if (kind === 'throws') throw new Error('handler bug');
              return Promise.reject(new Error('handler bug'));
            }
            ws.send(data);
            return undefined;
          },
          error: (_ws, error) => errors.push(error),
        },
      });
      try {
        const bad = await openWs(url);
        const closed = closeOf(bad);
        bad.send('boom');
        assert.equal((await closed).code, 1011);
        assert.match(String(errors[0]), /handler bug/);
        const good = await openWs(url);
        good.send('still here');
        assert.equal((await nextMessage(good)).data.toString(), 'still here');
        good.close();
      } finally {
        await server.close();
      }
    });
  }

  it('without an error handler, errors go to the server error event', async () => {
    const { server, url } = await listen({
      handlers: {
        open() {
          throw new Error('open bug');
        },
      },
    });
    const reported = deferred<unknown>();
    server.on('error', (error) => reported.resolve(error));
    try {
      const client = await openWs(url);
      const closed = closeOf(client);
      assert.match(String(await reported.promise), /open bug/);
      assert.equal((await closed).code, 1011);
    } finally {
      await server.close();
    }
  });
});

describe('limits', () => {
  it('maxPayload: a bigger message closes with 1009', async () => {
    const { server, url } = await listen({ maxPayload: 1000, handlers: {} });
    try {
      const client = await openWs(url);
      const closed = closeOf(client);
      client.send(Buffer.alloc(1001));
      assert.equal((await closed).code, 1009);
    } finally {
      await server.close();
    }
  });

  it('maxFragments: a message in more frames closes with 1009', async () => {
    const { server, port } = await listen({ maxFragments: 3, handlers: {} });
    try {
      const client = await rawOpen(port);
      client.write(clientFrame(0x1, 'a', { fin: false }));
      for (let i = 0; i < 3; i++) client.write(clientFrame(0x0, 'b', { fin: false }));
      await until(() => client.frames().some((f) => f.opcode === 0x8), 'a close frame');
      const close = client.frames().find((f) => f.opcode === 0x8)!;
      assert.equal(close.payload.readUInt16BE(0), 1009);
      client.destroy();
    } finally {
      await server.close();
    }
  });
});

describe('backpressure', () => {
  it('reports sent, then queued above highWaterMark, then dropped past maxBufferedBytes; drain when it empties', async () => {
    let socketWs: ServerWebSocket | null = null;
    const drained = deferred();
    const { server, port } = await listen({
      highWaterMark: 64 * 1024,
      maxBufferedBytes: 4 * 1024 * 1024,
      handlers: {
        open(ws) {
          socketWs = ws;
        },
        drain: () => drained.resolve(),
      },
    });
    try {
      const client = await rawOpen(port);
      client.socket.pause(); // a client that does not read
      await until(() => socketWs !== null, 'open');
      const ws = socketWs!;
      const chunk = Buffer.alloc(32 * 1024, 7);
      const statuses: string[] = [];
      for (let i = 0; i < 1000; i++) {
        const status = ws.send(chunk);
        statuses.push(status);
        if (status === SendStatus.Dropped) break;
        // Let the socket write what the kernel takes, so this measures what stays buffered.
        await new Promise((resolve) => setImmediate(resolve));
      }
      assert.equal(statuses[0], SendStatus.Sent);
      assert.ok(statuses.includes(SendStatus.Queued));
      assert.equal(statuses.at(-1), SendStatus.Dropped);
      assert.ok(ws.bufferedAmount <= 4 * 1024 * 1024, `bufferedAmount ${ws.bufferedAmount}`);
      assert.ok(ws.bufferedAmount > 64 * 1024);
      assert.equal(ws.readyState, 'open');
      client.received = Buffer.alloc(0);
      client.socket.on('data', () => {
        client.received = Buffer.alloc(0); // read and discard
      });
      client.socket.resume();
      await drained.promise;
      assert.equal(ws.bufferedAmount, 0);
      assert.equal(ws.send('after drain'), SendStatus.Sent);
      client.destroy();
    } finally {
      await server.close();
    }
  });

  it('closeOnBackpressureLimit closes with 1008 when a send is dropped', async () => {
    let socketWs: ServerWebSocket | null = null;
    const closed = deferred<number>();
    const { server, port } = await listen({
      maxBufferedBytes: 256 * 1024,
      closeOnBackpressureLimit: true,
      closeTimeout: 200,
      handlers: {
        open(ws) {
          socketWs = ws;
        },
        close: (_ws, code) => closed.resolve(code),
      },
    });
    try {
      const client = await rawOpen(port);
      client.socket.pause();
      await until(() => socketWs !== null, 'open');
      const ws = socketWs!;
      let status: string = SendStatus.Sent;
      for (let i = 0; i < 10_000 && status !== SendStatus.Dropped; i++) {
        status = ws.send(Buffer.alloc(64 * 1024));
        await new Promise((resolve) => setImmediate(resolve));
      }
      assert.equal(status, SendStatus.Dropped);
      assert.equal(ws.readyState, 'closing');
      // The peer never reads the close frame: it is dropped at the close timeout (1006).
      assert.equal(await closed.promise, 1006);
      client.destroy();
    } finally {
      await server.close();
    }
  });
});

describe('bytes that arrive with the handshake', () => {
  it('frames pipelined behind the upgrade request are processed after open (standalone and attached)', async () => {
    const events: string[] = [];
    const handlers = {
      open: () => {
        events.push('open');
      },
      message: (ws: ServerWebSocket, data: string | Buffer) => {
        events.push(`message:${data}`);
        ws.send(data);
      },
    };
    const standalone = await listen({ handlers });
    const http = createHttpServer();
    const attached = new WebSocketServer({ server: http, handlers });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const httpPort = (http.address() as AddressInfo).port;
    try {
      for (const port of [standalone.port, httpPort]) {
        events.length = 0;
        const client = await RawClient.connect(port);
        client.write(Buffer.concat([Buffer.from(upgradeRequest('/', {}, port)), clientFrame(0x1, 'early')]));
        await until(() => client.frames().length === 1, 'the echo of the early frame');
        assert.equal(client.frames()[0]!.payload.toString(), 'early');
        assert.deepEqual(events, ['open', 'message:early']);
        client.destroy();
      }
    } finally {
      await standalone.server.close();
      await attached.close();
      http.close();
    }
  });

  it('frames sent while an async authenticate runs wait in the socket and arrive after open (standalone)', async () => {
    const events: string[] = [];
    const release = deferred();
    let authenticating = false;
    const { server, port } = await listen({
      authenticate: async () => {
        authenticating = true;
        await release.promise;
        return undefined;
      },
      handlers: {
        open: () => {
          events.push('open');
        },
        message: (ws: ServerWebSocket, data: string | Buffer) => {
          events.push(`message:${data}`);
          ws.send(data);
        },
      },
    });
    try {
      const client = await RawClient.connect(port);
      client.write(Buffer.from(upgradeRequest('/', {}, port)));
      await until(() => authenticating, 'authenticate to run');
      // The frame comes on its own, while the handshake waits: a socket left flowing
      // without a reader would drop it. (Bytes that are slower to arrive only make this pass.)
      client.write(clientFrame(0x1, 'during authenticate'));
      await new Promise((resolve) => setTimeout(resolve, 50));
      release.resolve();
      await until(() => client.frames().length === 1, 'the echo of the frame');
      assert.equal(client.frames()[0]!.payload.toString(), 'during authenticate');
      assert.deepEqual(events, ['open', 'message:during authenticate']);
      client.destroy();
    } finally {
      await server.close();
    }
  });
});
