/**
 * `sockeye connect` with its stdout piped to a reader that is slower than the server:
 * Node buffers what a pipe cannot take yet without bound, so the command stops reading
 * the socket while stdout is behind and reads again once it drains. A raw-TCP server
 * sends messages as fast as the command takes them, up to 48 MiB, while the test does
 * not read the command's stdout: the flood stalls (the command holds at most one read
 * beyond its stdout buffer). Then the test reads, and every byte arrives.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { computeAccept } from '@sockeye/sockeye/protocol';
import { BIN } from './support/run.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** One unmasked text frame of 64 KiB - 1 of `x` (a 4-byte header), repeated in each chunk written. */
const PAYLOAD = 64 * KiB - 1;
const FRAME = Buffer.concat([
  Buffer.from([0x81, 126, PAYLOAD >> 8, PAYLOAD & 0xff]),
  Buffer.alloc(PAYLOAD, 'x'),
]);
const CHUNK = Buffer.concat(Array.from({ length: 4 }, () => FRAME));
const FRAMES_PER_CHUNK = 4;
const FLOOD_BYTES = 48 * MiB;

describe('sockeye connect with a slow stdout', { timeout: 120_000 }, () => {
  it('stops reading the server while stdout is behind, then prints everything', async () => {
    let peer = null as Socket | null;
    let written = 0;
    let chunks = 0;
    let flooding = true;
    const flood = () => {
      if (peer === null || peer.destroyed || !flooding) return;
      peer.write(CHUNK, () => {
        written += CHUNK.length;
        chunks++;
        if (written < FLOOD_BYTES) flood();
      });
    };
    const server = createServer((socket) => {
      peer = socket;
      socket.on('error', () => {});
      socket.once('data', (head) => {
        const key = /sec-websocket-key: *(\S+)/i.exec(head.toString('latin1'))?.[1] ?? '';
        socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Accept: ${computeAccept(key)}\r\n\r\n`,
        );
        flood();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const child = spawn(process.execPath, [BIN, 'connect', `ws://127.0.0.1:${port}/`, '--raw', '-w', '60'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    try {
      child.stdin.end();
      child.stderr.resume();
      // Not read yet: the pipe fills, and the command's stdout with it.
      child.stdout.pause();
      // Watch until the flood is done or made no progress for a second (how long to
      // watch, not a bound checked).
      let last = -1;
      let still = 0;
      while (written < FLOOD_BYTES && still < 4) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        still = chunks === last ? still + 1 : 0;
        last = chunks;
      }
      assert.ok(written < FLOOD_BYTES, `the command took all ${written} bytes while its stdout was not read`);
      // Read now: the command reads again, and everything sent arrives.
      flooding = false;
      let printed = 0;
      child.stdout.on('data', (chunk: Buffer) => {
        printed += chunk.length;
      });
      child.stdout.resume();
      const sentFrames = () => chunks * FRAMES_PER_CHUNK;
      // Wait for the chunk being written to be taken, then close.
      while (peer !== null && peer.writableLength > 0)
        await new Promise((resolve) => setTimeout(resolve, 50));
      peer?.end(Buffer.from([0x88, 0x02, 0x03, 0xe8]));
      const [code] = (await once(child, 'exit')) as [number];
      assert.equal(code, 0);
      assert.equal(printed, sentFrames() * (PAYLOAD + 1));
    } finally {
      child.kill();
      peer?.destroy();
      server.close();
    }
  });
});
