/**
 * Fault injection in the command line's client connection (`openClient`): a message
 * callback and a socket write that throw. The process goes on (an exception that escaped
 * would fail this file as an uncaught exception), the connection fails with 1011 on the
 * wire, and `closed` reports the error with its cause.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { InternalError } from '@sockeye/sockeye/protocol';
import { WebSocketServer } from '@sockeye/sockeye/server';
import { type ClientConnection, type ClientEnd, openClient } from '../src/net/client.js';

async function echoServer(): Promise<{ server: WebSocketServer; url: string; closes: number[] }> {
  const closes: number[] = [];
  const server = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    handlers: {
      message: (ws, data, isBinary) => ws.send(data, isBinary),
      close: (_ws, code) => closes.push(code),
    },
  });
  const address = await server.listen();
  return { server, url: `ws://127.0.0.1:${address!.port}`, closes };
}

/** Start `connection` with a message callback; resolves with how it ended. */
function run(connection: ClientConnection, onMessage: (data: Buffer) => void): Promise<ClientEnd> {
  return new Promise((resolve) =>
    connection.start({ message: onMessage, ping() {}, pong() {}, closed: resolve }),
  );
}

async function until(predicate: () => boolean, what: string): Promise<void> {
  const started = Date.now();
  while (!predicate()) {
    if (Date.now() - started > 10_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('fault injection: the CLI client', { timeout: 60_000 }, () => {
  it('a message callback that throws fails the connection with 1011 and reports the cause', async () => {
    const { server, url, closes } = await echoServer();
    try {
      const connection = await openClient(new URL(url));
      const ended = run(connection, () => {
        throw new RangeError('printing failed');
      });
      connection.send('hello', true);
      const end = await ended;
      assert.equal(end.code, 1011);
      assert.ok(end.error instanceof InternalError);
      assert.ok(end.error.cause instanceof RangeError);
      await until(() => closes.length === 1, 'the server to see the close');
      assert.deepEqual(closes, [1011]);
    } finally {
      await server.close();
    }
  });

  it('a socket write that throws drops the connection and reports the cause', async () => {
    const { server, url } = await echoServer();
    try {
      const connection = await openClient(new URL(url));
      const ended = run(connection, () => {});
      const socket = (connection as unknown as { socket: Socket }).socket;
      socket.write = () => {
        throw new Error('write failed');
      };
      connection.send('hello', true);
      const end = await ended;
      assert.equal(end.code, 1011);
      assert.ok(end.error instanceof InternalError);
      assert.match(String(end.error.cause), /write failed/);
    } finally {
      await server.close();
    }
  });
});

describe('openClient options', () => {
  it('refuses, naming it, an option that cannot work (before connecting)', async () => {
    await assert.rejects(
      openClient(new URL('ws://127.0.0.1:1/'), { maxPayload: 0 }),
      /^RangeError: maxPayload/,
    );
    // Text is decoded for display: past the longest string a message could not be shown.
    await assert.rejects(
      openClient(new URL('ws://127.0.0.1:1/'), { maxPayload: 2 ** 30 }),
      /MAX_STRING_LENGTH/,
    );
    await assert.rejects(
      openClient(new URL('ws://127.0.0.1:1/'), { handshakeTimeout: -1 }),
      /^RangeError: handshakeTimeout/,
    );
    await assert.rejects(
      openClient(new URL('ws://127.0.0.1:1/'), { closeTimeout: Number.NaN }),
      /^RangeError: closeTimeout/,
    );
  });
});
