/**
 * WebSocketStream: opened/closed, reading and writing messages, close semantics, and
 * backpressure (a consumer that stops reading stops the socket from being read, so a
 * flooding server is held back by TCP flow control while the client's memory stays bounded).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocketServer, type WebSocket as WsSocket } from 'ws';
import { WebSocketError, WebSocketStream } from '../../src/client/stream.js';
import { startWsEcho, withRawServer } from './helpers.js';

const MIB = 1024 * 1024;

describe('WebSocketStream', () => {
  test('opened gives the streams and the protocol; messages echo as string and Uint8Array', {
    timeout: 20_000,
  }, async () => {
    const echo = await startWsEcho();
    try {
      const stream = new WebSocketStream(`${echo.url}/`, { protocols: ['chat', 'other'] });
      assert.equal(stream.url, `${echo.url}/`);
      const { readable, writable, protocol, extensions } = await stream.opened;
      assert.equal(protocol, 'chat');
      assert.equal(extensions, '');
      const writer = writable.getWriter();
      const reader = readable.getReader();
      await writer.write('h\u00e9llo');
      await writer.write(new Uint8Array([1, 2, 3]));
      await writer.write(new Uint16Array([0x0201]).buffer);
      assert.deepEqual(await reader.read(), { value: 'h\u00e9llo', done: false });
      const binary = await reader.read();
      assert.ok(binary.value instanceof Uint8Array);
      assert.deepEqual([...binary.value], [1, 2, 3]);
      assert.deepEqual([...((await reader.read()).value as Uint8Array)], [1, 2]);
      stream.close({ closeCode: 1000, reason: 'done' });
      assert.deepEqual(await reader.read(), { value: undefined, done: true });
      const closed = await stream.closed;
      assert.equal(closed.closeCode, 1000);
    } finally {
      await echo.close();
    }
  });

  test('a server close resolves closed with its code and reason and ends readable', {
    timeout: 20_000,
  }, async () => {
    const echo = await startWsEcho();
    try {
      const stream = new WebSocketStream(`${echo.url}/?close=4001&reason=bye`);
      const { readable, writable } = await stream.opened;
      const writer = writable.getWriter();
      await writer.write('x');
      const reader = readable.getReader();
      assert.deepEqual(await reader.read(), { value: 'x', done: false });
      assert.deepEqual(await reader.read(), { value: undefined, done: true });
      assert.deepEqual(await stream.closed, { closeCode: 4001, reason: 'bye' });
      await assert.rejects(writer.write('late'), { name: 'WebSocketError' });
    } finally {
      await echo.close();
    }
  });

  test('writable.close() closes the connection cleanly', { timeout: 20_000 }, async () => {
    const echo = await startWsEcho();
    try {
      const stream = new WebSocketStream(echo.url);
      const { writable } = await stream.opened;
      await writable.close();
      assert.equal((await stream.closed).closeCode, 1005);
    } finally {
      await echo.close();
    }
  });

  test('aborting the writable with a WebSocketError closes with its code', { timeout: 20_000 }, async () => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(server, 'listening');
    const serverSaw = new Promise<number>((resolve) =>
      server.on('connection', (socket) => socket.on('close', (code) => resolve(code))),
    );
    try {
      const stream = new WebSocketStream(`ws://127.0.0.1:${(server.address() as { port: number }).port}`);
      const { writable } = await stream.opened;
      await writable.abort(new WebSocketError('going', { closeCode: 4444, reason: 'bye' }));
      assert.equal((await stream.closed).closeCode, 4444);
      assert.equal(await serverSaw, 4444);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('cancelling readable while the server keeps sending closes cleanly', { timeout: 20_000 }, async () => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(server, 'listening');
    server.on('connection', (socket) => {
      let sent = 0;
      const timer = setInterval(() => {
        if (socket.readyState !== socket.OPEN || sent++ > 1000) return clearInterval(timer);
        socket.send('tick');
      }, 1);
      socket.on('close', () => clearInterval(timer));
    });
    try {
      const stream = new WebSocketStream(`ws://127.0.0.1:${(server.address() as { port: number }).port}`);
      const { readable } = await stream.opened;
      const reader = readable.getReader();
      assert.deepEqual(await reader.read(), { value: 'tick', done: false });
      await reader.cancel(new WebSocketError('enough', { closeCode: 4000 }));
      assert.equal((await stream.closed).closeCode, 4000);
    } finally {
      for (const client of server.clients) client.terminate();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('a connection reset errors both streams and rejects closed with 1006', {
    timeout: 20_000,
  }, async () => {
    await withRawServer(
      (socket, _request, accept) => {
        socket.write(accept());
        socket.once('data', () => socket.resetAndDestroy());
      },
      async (raw) => {
        const stream = new WebSocketStream(raw.url);
        const { readable, writable } = await stream.opened;
        const reader = readable.getReader();
        const writer = writable.getWriter();
        await writer.write('trigger the reset');
        await assert.rejects(stream.closed, (error: WebSocketError) => {
          assert.equal(error.name, 'WebSocketError');
          assert.equal(error.closeCode, 1006);
          return true;
        });
        await assert.rejects(reader.read(), { name: 'WebSocketError' });
        await assert.rejects(writer.write('late'), { name: 'WebSocketError' });
      },
    );
  });

  test('a failed handshake rejects opened and closed with a WebSocketError', {
    timeout: 20_000,
  }, async () => {
    await withRawServer(
      (socket) => socket.write('HTTP/1.1 403 Forbidden\r\n\r\n'),
      async (raw) => {
        const stream = new WebSocketStream(raw.url);
        await assert.rejects(stream.opened, (error: WebSocketError) => {
          assert.ok(error instanceof DOMException);
          assert.equal(error.name, 'WebSocketError');
          assert.equal(error.closeCode, 1006);
          assert.match(error.message, /403/);
          return true;
        });
        await assert.rejects(stream.closed, { name: 'WebSocketError' });
      },
    );
  });

  test('close() while opening rejects opened; argument checks as the standard says', {
    timeout: 20_000,
  }, async () => {
    await withRawServer(
      () => {},
      async (raw) => {
        const stream = new WebSocketStream(raw.url);
        assert.throws(() => stream.close({ closeCode: 1001 }), { name: 'InvalidAccessError' });
        assert.throws(() => stream.close({ closeCode: 1000, reason: 'x'.repeat(124) }), {
          name: 'SyntaxError',
        });
        stream.close();
        await assert.rejects(stream.opened, { name: 'WebSocketError' });
        assert.throws(() => new WebSocketStream('ftp://x/'), { name: 'SyntaxError' });
        assert.throws(() => new WebSocketStream(raw.url, { protocols: ['a', 'a'] }), { name: 'SyntaxError' });
        assert.throws(() => new WebSocketError('x', { closeCode: 1005 }), { name: 'InvalidAccessError' });
        assert.equal(new WebSocketError('x', { reason: 'r' }).closeCode, 1000);
      },
    );
  });

  test('backpressure: a consumer that stops reading holds a flooding server back', {
    timeout: 60_000,
  }, async (t) => {
    const MESSAGE = 64 * 1024;
    const COUNT = 512; // 32 MiB in all
    let serverSocket: WsSocket | null = null;
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(server, 'listening');
    const connected = new Promise<WsSocket>((resolve) => server.on('connection', resolve));
    try {
      const stream = new WebSocketStream(`ws://127.0.0.1:${(server.address() as { port: number }).port}`);
      const { readable } = await stream.opened;
      serverSocket = await connected;
      const payload = Buffer.alloc(MESSAGE, 7);
      for (let i = 0; i < COUNT; i++) serverSocket.send(payload);

      // Wait (bounded) until the server's outbound buffer stops shrinking: the client stopped reading.
      let previous = -1;
      for (let i = 0; i < 100 && serverSocket.bufferedAmount !== previous; i++) {
        previous = serverSocket.bufferedAmount;
        await sleep(100);
      }
      const total = MESSAGE * COUNT;
      const heldBack = serverSocket.bufferedAmount;
      const acceptedByKernel = total - heldBack;
      // Everything the client process buffers (readable queue, socket buffer, parser) came
      // through the kernel, so it is at most acceptedByKernel, which includes both kernels'
      // socket buffers (a few MiB on loopback).
      t.diagnostic(`held back by the server: ${heldBack} bytes; left the server: ${acceptedByKernel} bytes`);
      assert.ok(heldBack > 8 * MIB, `the server is held back (${heldBack} bytes still queued)`);
      assert.ok(
        acceptedByKernel < 24 * MIB,
        `the client stopped reading (${acceptedByKernel} bytes left the server)`,
      );

      // Reading again drains everything, in order and intact.
      const reader = readable.getReader();
      let bytes = 0;
      for (let i = 0; i < COUNT; i++) {
        const { value } = await reader.read();
        assert.ok(value instanceof Uint8Array && value.length === MESSAGE && value[MESSAGE - 1] === 7);
        bytes += value.length;
      }
      assert.equal(bytes, total);
      stream.close();
      await stream.closed;
    } finally {
      serverSocket?.terminate();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
