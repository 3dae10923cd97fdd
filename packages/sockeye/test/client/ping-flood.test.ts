/**
 * A server that floods empty pings and never reads must not grow the client without bound:
 * each 2-byte ping queues a 6-byte pong, so the client stops reading while the pongs it
 * owes are above its high-water mark, as the server does. A raw-TCP peer floods up to
 * 64 MiB of pings (192 MiB of pongs if all were answered) and the test measures what the
 * client holds (`heapUsed + arrayBuffers` after a full GC). The flood stalls long before
 * that: what the kernels' socket buffers take (a few MiB on loopback, up to the 32 MiB
 * `tcp_rmem` maximum in theory) plus a few reads.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { heldBytes as held } from '../../../../scripts/lib/memory.js';
import { WebSocketStream } from '../../src/client/stream.js';
import { WebSocket } from '../../src/client/websocket.js';
import { WebSocketServer } from '../../src/server/index.js';
import { closePayload, serverFrame, withRawServer } from './helpers.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** 256 KiB of empty pings (`89 00`), written one chunk at a time. */
const PINGS = Buffer.alloc(256 * KiB);
for (let at = 0; at < PINGS.length; at += 2) PINGS[at] = 0x89;

/** Most pings sent: 64 MiB, more than loopback's socket buffers can hold. */
const FLOOD_BYTES = 64 * MiB;

/**
 * A hostile server: after the handshake it stops reading and, once `start()` is called,
 * writes pings as fast as the client takes them, up to {@link FLOOD_BYTES}.
 */
function pingFlooder() {
  let socket: Socket | null = null;
  let written = 0;
  let progress = 0;
  const write = () => {
    if (socket === null || socket.destroyed || written >= FLOOD_BYTES) return;
    socket.write(PINGS, () => {
      written += PINGS.length;
      progress++;
      write();
    });
  };
  return {
    onSocket(s: Socket, _request: string, accept: () => string) {
      socket = s;
      s.pause();
      s.write(accept());
    },
    start: write,
    get written() {
      return written;
    },
    /**
     * Resolves once every ping was taken or the flood made no progress for a second (the
     * client stopped reading). The second is only how long to watch, not a bound checked.
     */
    async settled(): Promise<void> {
      let last = -1;
      let still = 0;
      while (written < FLOOD_BYTES && still < 4) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        still = progress === last ? still + 1 : 0;
        last = progress;
      }
    },
    /** Read again (the pongs drain), stop flooding and close cleanly. */
    finish() {
      written = FLOOD_BYTES;
      socket?.resume();
      socket?.end(serverFrame(0x8, closePayload(1000, 'done')));
    },
  };
}

/** What the client may hold at most: its pong mark, a few reads' worth of pongs, the flooder's pending chunk, GC noise. */
const BOUND = 8 * MiB;

describe('client under a ping flood from a server that never reads', { timeout: 120_000 }, () => {
  it('WebSocket: stops reading while the pongs it owes are above its mark', async () => {
    const flooder = pingFlooder();
    await withRawServer(flooder.onSocket, async (raw) => {
      const ws = new WebSocket(raw.url);
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = reject;
      });
      const closed = new Promise<CloseEvent>((resolve) => {
        ws.onclose = (event) => resolve(event as CloseEvent);
      });
      const before = held();
      flooder.start();
      await flooder.settled();
      const growth = held() - before;
      assert.ok(growth <= BOUND, `the client grew by ${growth} bytes`);
      assert.ok(flooder.written < FLOOD_BYTES, `the client read all ${flooder.written} bytes of pings`);
      // Once the server reads again the pongs drain and the client reads again.
      flooder.finish();
      const event = await closed;
      assert.equal(event.code, 1000);
      assert.equal(event.wasClean, true);
    });
  });

  it('WebSocketStream: the same bound, with a consumer that is reading', async () => {
    const flooder = pingFlooder();
    await withRawServer(flooder.onSocket, async (raw) => {
      const stream = new WebSocketStream(raw.url);
      const { readable } = await stream.opened;
      const reader = readable.getReader();
      const reading = reader.read();
      const before = held();
      flooder.start();
      await flooder.settled();
      const growth = held() - before;
      assert.ok(growth <= BOUND, `the client grew by ${growth} bytes`);
      assert.ok(flooder.written < FLOOD_BYTES, `the client read all ${flooder.written} bytes of pings`);
      flooder.finish();
      assert.deepEqual(await reading, { done: true, value: undefined });
      assert.deepEqual(await stream.closed, { closeCode: 1000, reason: 'done' });
    });
  });

  it('only pongs count: bulk sends to a server that also stops reading while its output is full do not deadlock', {
    timeout: 60_000,
  }, async () => {
    // Pausing reads for our own output too would deadlock here: the client's 32 MiB wait
    // for the server to read, the server stops reading until its echoes are read, and the
    // client would not read them while its own output is above its mark.
    const server = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      perMessageDeflate: false,
      maxPayload: 2 * MiB,
      handlers: { message: (ws, data, isBinary) => ws.send(data, isBinary) },
    });
    const address = await server.listen();
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${address!.port}`);
      ws.binaryType = 'arraybuffer';
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = reject;
      });
      const count = 32;
      let received = 0;
      const done = new Promise<void>((resolve, reject) => {
        ws.onmessage = () => {
          if (++received === count) resolve();
        };
        ws.onclose = () => reject(new Error(`closed after ${received} echoes`));
      });
      const payload = new Uint8Array(MiB);
      for (let i = 0; i < count; i++) ws.send(payload);
      await done;
      assert.equal(received, count);
      ws.onclose = null;
      ws.close();
    } finally {
      await server.close();
    }
  });
});
