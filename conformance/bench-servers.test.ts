/**
 * Smoke test of the benchmark's server entries (bench/servers/, run by `npm run bench`):
 * each starts on the contract (`--port`, `--host`, prints `listening on ws://H:P`) and
 * echoes what the load generator and a real client send, so a benchmark row never measures
 * a server that silently does something else. The `ws` entry must load bufferutil unless
 * told not to (the "+native" row would otherwise measure plain `ws`). Bun's entry is left
 * out: Bun is installed on demand at bench time, not by the test pipeline.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import WebSocket from 'ws';
import { ROOT } from '../scripts/lib/prereqs.js';
import { freePort, startProcess } from '../scripts/lib/process.js';

interface Entry {
  name: string;
  args: string[];
  env?: Record<string, string>;
  /** What the startup output must say. */
  banner?: RegExp;
}

const ENTRIES: Entry[] = [
  // The compiled package: the test pipeline builds (`tsc -b`) before it runs tests.
  { name: 'sockeye', args: ['bench/servers/sockeye.mjs'] },
  { name: 'sockeye/ws (the ws-compatible layer)', args: ['bench/servers/sockeye-ws.mjs'] },
  {
    name: 'ws (plain)',
    args: ['bench/servers/ws.mjs'],
    env: { WS_NO_BUFFER_UTIL: '1', WS_NO_UTF_8_VALIDATE: '1' },
    banner: /bufferutil=no/,
  },
  { name: 'ws (native helpers)', args: ['bench/servers/ws.mjs'], banner: /bufferutil=yes/ },
  { name: 'raw Node ceiling', args: ['bench/servers/node-raw.mjs'] },
];

type Received = { data: Buffer; isBinary: boolean };

describe('benchmark server entries', () => {
  for (const entry of ENTRIES) {
    test(`${entry.name} echoes text, binary, empty and fragmented messages, pongs and closes`, {
      timeout: 60_000,
    }, async () => {
      const port = await freePort();
      const server = await startProcess(
        process.execPath,
        [...entry.args, '--port', String(port), '--host', '127.0.0.1'],
        /listening on ws:\/\/127\.0\.0\.1:\d+/,
        { cwd: ROOT, env: { ...process.env, ...entry.env } },
      );
      try {
        if (entry.banner) assert.match(server.output(), entry.banner);
        const client = new WebSocket(`ws://127.0.0.1:${port}/`);
        const received: Received[] = [];
        const expected = 4;
        const allReceived = new Promise<void>((resolve) => {
          client.on('message', (data: Buffer, isBinary) => {
            received.push({ data, isBinary });
            if (received.length === expected) resolve();
          });
        });
        const pong = once(client, 'pong');
        await once(client, 'open');
        // 300 KB spans many reads: the raw entry's cut-through reframing must carry the mask
        // position and any split header across them.
        const large = randomBytes(300_000);
        client.send('héllo');
        client.send(large);
        client.send('');
        client.send('ab', { fin: false });
        client.send('cd', { fin: true });
        client.ping('p1');
        await allReceived;
        assert.deepEqual(
          received.map((m) => [m.isBinary, m.data.length]),
          [
            [false, Buffer.byteLength('héllo')],
            [true, large.length],
            [false, 0],
            [false, 4],
          ],
        );
        assert.equal(received[0]!.data.toString(), 'héllo');
        assert.ok(received[1]!.data.equals(large), 'the large binary message came back byte for byte');
        assert.equal(received[3]!.data.toString(), 'abcd');
        const [pongData] = (await pong) as [Buffer];
        assert.equal(pongData.toString(), 'p1');
        const closed = once(client, 'close');
        client.close(4000, 'done');
        const [code] = (await closed) as [number];
        assert.equal(code, 4000);
      } finally {
        await server.stop();
      }
    });
  }

  // The fan-out entries (Bun's left out, as above): `/sub` gets `ok`, then every message
  // `/pub` sends, byte for byte and in order.
  const FANOUT: Entry[] = [
    { name: 'sockeye topics', args: ['bench/servers/fanout-sockeye.mjs'] },
    { name: 'ws broadcast idiom', args: ['bench/servers/fanout-ws.mjs'] },
    { name: 'raw Node ceiling', args: ['bench/servers/fanout-node-raw.mjs'] },
  ];
  for (const entry of FANOUT) {
    test(`fan-out: ${entry.name} sends what /pub sends to every /sub`, { timeout: 60_000 }, async () => {
      const port = await freePort();
      const server = await startProcess(
        process.execPath,
        [...entry.args, '--port', String(port), '--host', '127.0.0.1'],
        /listening on ws:\/\/127\.0\.0\.1:\d+/,
        { cwd: ROOT },
      );
      const sockets: WebSocket[] = [];
      try {
        const subscribers = await Promise.all(
          [0, 1, 2].map(async () => {
            const socket = new WebSocket(`ws://127.0.0.1:${port}/sub`);
            sockets.push(socket);
            const messages: Received[] = [];
            socket.on('message', (data: Buffer, isBinary) => messages.push({ data, isBinary }));
            const [ok] = (await once(socket, 'message')) as [Buffer];
            assert.equal(ok.toString(), 'ok');
            return messages;
          }),
        );
        const publisher = new WebSocket(`ws://127.0.0.1:${port}/pub`);
        sockets.push(publisher);
        await once(publisher, 'open');
        // 256 B as in the benchmark, then 70,000 bytes (a 64-bit length, a payload that
        // spans reads).
        const sent = [randomBytes(256), randomBytes(70_000)];
        for (const message of sent) publisher.send(message);
        for (const messages of subscribers) {
          while (messages.length < 1 + sent.length) await new Promise((resolve) => setTimeout(resolve, 10));
          assert.deepEqual(
            messages.slice(1).map((m) => m.isBinary),
            [true, true],
          );
          for (const [i, message] of sent.entries()) assert.ok(messages[1 + i]!.data.equals(message));
        }
      } finally {
        for (const socket of sockets) socket.terminate();
        await server.stop();
      }
    });
  }

  test('the ws entry negotiates permessage-deflate only with --deflate, and echoes through it', {
    timeout: 60_000,
  }, async () => {
    for (const deflate of [false, true]) {
      const port = await freePort();
      const server = await startProcess(
        process.execPath,
        [
          'bench/servers/ws.mjs',
          '--port',
          String(port),
          '--host',
          '127.0.0.1',
          ...(deflate ? ['--deflate'] : []),
        ],
        /listening on ws:\/\/127\.0\.0\.1:\d+/,
        { cwd: ROOT },
      );
      try {
        assert.match(server.output(), deflate ? /deflate=yes/ : /deflate=no/);
        const client = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: true });
        await once(client, 'open');
        assert.equal(client.extensions.includes('permessage-deflate'), deflate, client.extensions);
        const json = JSON.stringify({
          items: Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item ${i}` })),
        });
        client.send(json);
        const [data, isBinary] = (await once(client, 'message')) as [Buffer, boolean];
        assert.equal(isBinary, false);
        assert.equal(data.toString(), json);
        client.close();
        await once(client, 'close');
      } finally {
        await server.stop();
      }
    }
  });
});
