/**
 * `sockeye connect` under a ping flood: a server that sends empty pings and never reads
 * must not grow the command without bound (each 2-byte ping queues a 6-byte pong). A
 * raw-TCP peer floods up to 64 MiB of pings (more than loopback's socket buffers can hold)
 * and the test measures what the client holds
 * (`heapUsed + arrayBuffers` after a full GC).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { computeAccept } from '@sockeye/sockeye/protocol';
import { heldBytes as held } from '../../../scripts/lib/memory.js';
import { type ClientEnd, openClient } from '../src/net/client.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** 256 KiB of empty pings (`89 00`). */
const PINGS = Buffer.alloc(256 * KiB);
for (let at = 0; at < PINGS.length; at += 2) PINGS[at] = 0x89;
const FLOOD_BYTES = 64 * MiB;

describe('sockeye connect under a ping flood from a server that never reads', { timeout: 120_000 }, () => {
  it('stops reading while the pongs it owes are above the mark', async () => {
    // Set by the server's callback (a type assertion keeps TypeScript from narrowing it to null).
    let peer = null as Socket | null;
    const server = createServer((socket) => {
      peer = socket;
      socket.on('error', () => {});
      socket.once('data', (head) => {
        const key = /sec-websocket-key: *(\S+)/i.exec(head.toString('latin1'))?.[1] ?? '';
        socket.pause();
        socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Accept: ${computeAccept(key)}\r\n\r\n`,
        );
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    try {
      const client = await openClient(new URL(`ws://127.0.0.1:${port}/`));
      let pings = 0;
      const ended = new Promise<ClientEnd>((resolve) =>
        client.start({
          message: () => {},
          ping: () => {
            pings++;
          },
          pong: () => {},
          closed: resolve,
        }),
      );
      const before = held();
      let written = 0;
      let progress = 0;
      const flood = () => {
        if (peer === null || peer.destroyed || written >= FLOOD_BYTES) return;
        peer.write(PINGS, () => {
          written += PINGS.length;
          progress++;
          flood();
        });
      };
      flood();
      // Until every ping was taken, or no progress for a second (the client stopped reading).
      for (let last = -1, still = 0; written < FLOOD_BYTES && still < 4; last = progress) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        still = progress === last ? still + 1 : 0;
      }
      const growth = held() - before;
      assert.ok(growth <= 8 * MiB, `the client grew by ${growth} bytes`);
      assert.ok(written < FLOOD_BYTES, `the client read all ${written} bytes of pings`);
      assert.ok(pings > 0);
      // Once the server reads again the pongs drain and the client reads the rest.
      written = FLOOD_BYTES;
      peer?.resume();
      peer?.end(Buffer.from([0x88, 0x02, 0x03, 0xe8]));
      const end = await ended;
      assert.equal(end.code, 1000);
      assert.equal(end.wasClean, true);
    } finally {
      peer?.destroy();
      server.close();
    }
  });
});
