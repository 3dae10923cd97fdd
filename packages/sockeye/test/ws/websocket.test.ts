/** `@sockeye/sockeye/ws` behaviour that `ws` leaves to chance or to the process: checked on the layer alone. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from '../../src/ws/index.js';
import { frame } from './harness.js';

const HANG_GUARD = { timeout: 20_000 };

/** A layer server on loopback and one layer client connected to it, both ends open. */
async function openPair(): Promise<{ wss: WebSocketServer; client: WebSocket; socket: WebSocket }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  const [socket] = (await once(wss, 'connection')) as [WebSocket];
  await once(client, 'open');
  return { wss, client, socket };
}

describe('sockeye/ws WebSocket', () => {
  it(
    'a listener that throws propagates, and what the read queued before it still leaves',
    HANG_GUARD,
    async () => {
      const { wss, client, socket } = await openPair();
      const failure = new Error('listener failed');
      socket.on('message', () => {
        socket.send('reply sent before the throw');
        throw failure;
      });
      const reply = once(client, 'message');
      // Bytes as the socket's 'data' listener would feed them, so that the throw is seen here.
      assert.throws(() => socket._receive(frame(1, 'hello')), failure);
      const [data] = (await reply) as [Buffer];
      assert.equal(String(data), 'reply sent before the throw');
      client.close();
      await once(socket, 'close');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  );

  it('when the peer half-closes TCP, what is queued is written before our FIN', HANG_GUARD, async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(wss, 'listening');
    const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
    const [socket] = (await once(wss, 'connection')) as [WebSocket];
    await once(client, 'open');
    const received: string[] = [];
    client.on('message', (data) => received.push(String(data)));
    const clientClosed = once(client, 'close');
    socket.send('last words');
    // As the socket's 'end' listener would, before the end-of-tick write.
    socket._peerEnded();
    const [code] = (await clientClosed) as [number];
    assert.deepEqual(received, ['last words']);
    assert.equal(code, 1006);
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });

  it(
    'a large message is echoed without a copy: the Buffer `message` gives is the one written to TCP, as with ws',
    HANG_GUARD,
    async () => {
      const { wss, client, socket } = await openPair();
      try {
        const tcp = socket._socket!;
        const written: Uint8Array[] = [];
        const write = tcp.write;
        tcp.write = function (this: typeof tcp, chunk: Uint8Array, ...rest: unknown[]) {
          written.push(chunk);
          return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
        } as typeof tcp.write;
        const received: Buffer[] = [];
        socket.on('message', (data, isBinary) => {
          // binaryType 'nodebuffer' (the default): a Buffer.
          received.push(data as Buffer);
          socket.send(data as Buffer, { binary: isBinary });
        });
        const big = Buffer.alloc(1024 * 1024, 7);
        const echo = once(client, 'message');
        client.send(big);
        const [back] = (await echo) as [Buffer];
        assert.ok(back.equals(big));
        assert.equal(received.length, 1);
        assert.ok(
          written.includes(received[0]!),
          'the received Buffer itself is written after its frame header',
        );

        // An ArrayBuffer, and a view of one, are sent from their own memory too (past the
        // 16 KiB under which frames are copied into a shared slab to leave in one write).
        written.length = 0;
        const arrayBuffer = new ArrayBuffer(256 * 1024);
        const view = new Uint32Array(arrayBuffer, 1024, 32 * 1024);
        socket.send(arrayBuffer);
        socket.send(view);
        await new Promise<void>((resolve) => socket.send('flushed', () => resolve()));
        const shares = (chunk: Uint8Array, offset: number, length: number) =>
          chunk.buffer === arrayBuffer && chunk.byteOffset === offset && chunk.byteLength === length;
        assert.ok(written.some((chunk) => shares(chunk, 0, arrayBuffer.byteLength)));
        assert.ok(written.some((chunk) => shares(chunk, view.byteOffset, view.byteLength)));
      } finally {
        client.terminate();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      }
    },
  );
});
