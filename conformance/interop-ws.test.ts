/**
 * Interop: the `ws` client (npm) against sockeye's conformance echo server.
 * Text, binary, empty and 1 MiB messages, subprotocol selection, a close with code and
 * reason in both directions, and pings both ways.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { type EchoServer, ONE_MIB, patternBytes, startEchoServer } from './lib/echo.js';

interface Received {
  data: Buffer;
  isBinary: boolean;
}

/** Open a `ws` client and wait for the handshake. */
function open(url: string, protocols?: string[]): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, protocols, { maxPayload: 4 * ONE_MIB });
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** The next message on `socket`. */
function nextMessage(socket: WebSocket): Promise<Received> {
  return new Promise((resolve, reject) => {
    socket.once('message', (data: Buffer, isBinary: boolean) => resolve({ data, isBinary }));
    socket.once('close', (code) => reject(new Error(`closed (${code}) before a message arrived`)));
  });
}

/** Resolves with the close code and reason `socket` reports. */
function closed(socket: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => {
    socket.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() }));
  });
}

describe('interop: ws client', { timeout: 60_000 }, () => {
  let server: EchoServer;
  const sockets: WebSocket[] = [];
  const connect = async (path = '/', protocols?: string[]) => {
    const socket = await open(`${server.url}${path}`, protocols);
    sockets.push(socket);
    return socket;
  };

  before(async () => {
    server = await startEchoServer();
  });
  after(async () => {
    for (const socket of sockets) socket.terminate();
    await server?.stop();
  });

  it('echoes a text message as text', async () => {
    const socket = await connect();
    const reply = nextMessage(socket);
    socket.send('héllo, wörld ✓');
    const { data, isBinary } = await reply;
    assert.equal(isBinary, false);
    assert.equal(data.toString('utf8'), 'héllo, wörld ✓');
  });

  it('echoes a binary message as binary', async () => {
    const socket = await connect();
    const payload = Buffer.from([0, 1, 2, 0xfe, 0xff, 0x80, 0x7f]);
    const reply = nextMessage(socket);
    socket.send(payload, { binary: true });
    const { data, isBinary } = await reply;
    assert.equal(isBinary, true);
    assert.deepEqual(data, payload);
  });

  it('echoes empty text and empty binary messages', async () => {
    const socket = await connect();
    const first = nextMessage(socket);
    socket.send('');
    assert.deepEqual(await first, { data: Buffer.alloc(0), isBinary: false });
    const second = nextMessage(socket);
    socket.send(Buffer.alloc(0), { binary: true });
    assert.deepEqual(await second, { data: Buffer.alloc(0), isBinary: true });
  });

  it('echoes a 1 MiB binary message byte for byte', async () => {
    const socket = await connect();
    const payload = patternBytes(ONE_MIB, 7);
    const reply = nextMessage(socket);
    socket.send(payload, { binary: true });
    const { data, isBinary } = await reply;
    assert.equal(isBinary, true);
    assert.equal(data.length, ONE_MIB);
    assert.ok(data.equals(payload), '1 MiB echo differs from what was sent');
  });

  it('negotiates the first offered subprotocol', async () => {
    const socket = await connect('/', ['chat.v2', 'chat.v1']);
    assert.equal(socket.protocol, 'chat.v2');
  });

  it('client-initiated close with code and reason: the server echoes the code', async () => {
    const socket = await connect();
    const done = closed(socket);
    socket.close(4000, 'client says bye');
    // RFC 6455 section 5.5.1: the reply echoes the status code; echoing the reason is optional.
    assert.equal((await done).code, 4000);
  });

  it('server-initiated close: the client sees 4001 and the reason', async () => {
    const socket = await connect(`/?close=4001&reason=${encodeURIComponent('server says bye')}`);
    const reply = nextMessage(socket);
    const done = closed(socket);
    socket.send('last words');
    assert.equal((await reply).data.toString(), 'last words');
    assert.deepEqual(await done, { code: 4001, reason: 'server says bye' });
  });

  it('client ping: the server answers with a pong carrying the payload', async () => {
    const socket = await connect();
    const pong = new Promise<Buffer>((resolve) => socket.once('pong', resolve));
    socket.ping('are you there?');
    assert.equal((await pong).toString(), 'are you there?');
  });

  it('server ping: ws answers it, and the server reports the pong as the text "pong:x"', async () => {
    const socket = await open(`${server.url}/?ping=x`);
    sockets.push(socket);
    // The ping may arrive before 'open' fires; ws answers it by itself either way.
    const { data, isBinary } = await nextMessage(socket);
    assert.equal(isBinary, false);
    assert.equal(data.toString(), 'pong:x');
  });
});
