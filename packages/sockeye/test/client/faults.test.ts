/**
 * Fault injection in the clients (`WebSocket`, `WebSocketStream`): the codec, the decoding
 * of a text message and a socket write each throw. The process goes on (an exception that
 * escaped would fail this file as an uncaught exception), the connection fails with 1011
 * on the wire and reports the error (`error` event, rejected `closed`), and another
 * connection to the same server keeps working.
 */
import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  CloseCode,
  type ErrorEvent,
  InternalError,
  WebSocket,
  WebSocketError,
  WebSocketServer,
  WebSocketStream,
} from '../../src/index.js';
import { PerMessageDeflateExtension } from '../../src/protocol/index.js';
import { failDecodingOf } from '../faults.js';

const SEND_BIG = Buffer.from('send big');

/**
 * A sockeye server that echoes (text as bytes: it does not decode it), answers `send big`
 * with a compressible 4 KiB message, and records close codes.
 */
async function echoServer(): Promise<{ server: WebSocketServer; url: string; closes: number[] }> {
  const closes: number[] = [];
  const server = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    decodeText: false,
    handlers: {
      message(ws, data, isBinary) {
        if (Buffer.isBuffer(data) && data.equals(SEND_BIG)) ws.send('x'.repeat(4096));
        else ws.send(data, isBinary);
      },
      close: (_ws, code) => closes.push(code),
    },
  });
  const address = await server.listen();
  return { server, url: `ws://127.0.0.1:${address!.port}`, closes };
}

/** Wait for `predicate`, polling; a generous bound only against a hang. */
async function until(predicate: () => boolean, what: string): Promise<void> {
  const started = Date.now();
  while (!predicate()) {
    if (Date.now() - started > 10_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.addEventListener('open', () => resolve());
    ws.addEventListener('close', () => reject(new Error('closed before open')));
  });
}

/** The error event's error and the close event's code, once closed. */
function failure(ws: WebSocket): Promise<{ error: unknown; code: number }> {
  let error: unknown;
  ws.addEventListener('error', (event: ErrorEvent) => {
    error = event.error;
  });
  return new Promise((resolve) =>
    ws.addEventListener('close', (event) => resolve({ error, code: event.code })),
  );
}

/** A second client still gets its echo. */
async function assertEchoes(url: string): Promise<void> {
  const ws = new WebSocket(url);
  await opened(ws);
  const echo = new Promise<unknown>((resolve) =>
    ws.addEventListener('message', (event) => resolve(event.data)),
  );
  ws.send('still here');
  assert.equal(await echo, 'still here');
  ws.close();
}

describe('fault injection: the clients survive an exception at each boundary', { timeout: 60_000 }, () => {
  describe('text decoding that throws (a message longer than V8 allows in a string)', () => {
    const MARKER = 'too long for a string, say';
    let restore = () => {};
    before(() => {
      restore = failDecodingOf(MARKER);
    });
    after(() => restore());

    it('WebSocket: error event with the cause, close; the server got 1011', async () => {
      const { server, url, closes } = await echoServer();
      try {
        const ws = new WebSocket(url);
        const failed = failure(ws);
        await opened(ws);
        ws.send(MARKER); // echoed back, then decoded here
        const { error, code } = await failed;
        assert.ok(error instanceof InternalError);
        assert.equal((error.cause as { code?: string }).code, 'ERR_STRING_TOO_LONG');
        assert.equal(code, CloseCode.Abnormal, 'a failed connection reports 1006, as browsers do');
        await until(() => closes.length === 1, 'the server to see the close');
        assert.deepEqual(closes, [CloseCode.InternalError]);
        await assertEchoes(url);
      } finally {
        await server.close();
      }
    });

    it('WebSocketStream: closed rejects, the readable errors; the server got 1011', async () => {
      const { server, url, closes } = await echoServer();
      try {
        const stream = new WebSocketStream(url);
        const { readable, writable } = await stream.opened;
        const writer = writable.getWriter();
        await writer.write(MARKER);
        const reader = readable.getReader();
        await assert.rejects(reader.read(), WebSocketError);
        await assert.rejects(stream.closed, (error: unknown) => {
          assert.ok(error instanceof WebSocketError);
          assert.match(error.message, /internal error/);
          assert.ok(error.cause instanceof InternalError, 'the cause, with its stack');
          return true;
        });
        await until(() => closes.length === 1, 'the server to see the close');
        assert.deepEqual(closes, [CloseCode.InternalError]);
        await assertEchoes(url);
      } finally {
        await server.close();
      }
    });
  });

  describe('a codec (zlib) that throws', () => {
    // Only the connection with this (otherwise unremarkable) limit has a failing codec.
    const FAULTY_LIMIT = 12_345_678;
    const decodePart = PerMessageDeflateExtension.prototype.decodePart;
    before(() => {
      PerMessageDeflateExtension.prototype.decodePart = function (data, fin, maxPayload) {
        if (maxPayload === FAULTY_LIMIT) throw new Error('zlib: writeSync failed');
        return decodePart.call(this, data, fin, maxPayload);
      };
    });
    after(() => {
      PerMessageDeflateExtension.prototype.decodePart = decodePart;
    });

    it('WebSocket: error event with the cause, close; the server got 1011', async () => {
      const { server, url, closes } = await echoServer();
      try {
        const ws = new WebSocket(url, { maxPayload: FAULTY_LIMIT });
        const failed = failure(ws);
        await opened(ws);
        assert.match(ws.extensions, /permessage-deflate/);
        ws.send('send big'); // the answer is compressed
        const { error } = await failed;
        assert.ok(error instanceof InternalError);
        assert.match(String(error.cause), /writeSync failed/);
        await until(() => closes.length === 1, 'the server to see the close');
        assert.deepEqual(closes, [CloseCode.InternalError]);
        await assertEchoes(url);
      } finally {
        await server.close();
      }
    });
  });

  it('a socket write that throws: WebSocket fails with the cause, the process goes on', async () => {
    const { server, url } = await echoServer();
    const port = Number(new URL(url).port);
    const write = Socket.prototype.write;
    let armed = false;
    // Only the client's socket (its remote port is the server's) fails, and only once armed.
    Socket.prototype.write = function (this: Socket, ...args: unknown[]): boolean {
      if (armed && this.remotePort === port) {
        armed = false;
        throw new Error('write failed');
      }
      return (write as (...a: unknown[]) => boolean).apply(this, args);
    } as typeof write;
    try {
      const ws = new WebSocket(url);
      const failed = failure(ws);
      await opened(ws);
      armed = true;
      ws.send('this write throws');
      const { error, code } = await failed;
      assert.ok(error instanceof InternalError);
      assert.match(String(error.cause), /write failed/);
      assert.equal(code, CloseCode.Abnormal);
      await assertEchoes(url);
    } finally {
      Socket.prototype.write = write;
      await server.close();
    }
  });
});
