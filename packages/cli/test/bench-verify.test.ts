/**
 * `sockeye bench` checks what comes back: every echo byte for byte and in order. Against
 * servers that do not echo (a broadcast server, one that reorders, truncates or closes,
 * the demo's chat room) it says so in one line and exits 1; errors are counted by kind.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type ServerWebSocket, WebSocketServer } from '@sockeye/sockeye/server';
import fc from 'fast-check';
import { startDemoServer } from '../../../apps/demo/src/server/demo-server.js';
import { opensslMissing, selfSignedCertificateFiles } from '../../../scripts/lib/tls.js';
import { EchoChecker } from '../src/commands/bench.js';
import { sockeye } from './support/run.js';

const T = { timeout: 90_000 };

describe('EchoChecker', () => {
  it('accepts the echoes of its messages in order, whatever the size and window', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 64 }),
        fc.array(fc.integer({ min: 1, max: 8 }), { maxLength: 20 }),
        (size, bursts) => {
          const checker = new EchoChecker(size);
          const flying: Buffer[] = [];
          for (const burst of bursts) {
            for (let i = 0; i < burst; i++) flying.push(checker.next());
            // Echo part of what is in flight, oldest first.
            for (let i = 0; i < Math.ceil(burst / 2); i++) {
              const message = flying.shift() as Buffer;
              assert.equal(checker.check(new Uint8Array(message).buffer), null);
            }
          }
          assert.equal(checker.inFlight, flying.length);
        },
      ),
    );
  });

  it("finds a changed byte, a wrong length, another checker's message, a reorder, text, an unsolicited message", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 9, max: 200 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (size, at, flip) => {
          const checker = new EchoChecker(size);
          const first = checker.next();
          const second = checker.next();
          const changed = Buffer.from(first);
          const index = at % size;
          changed[index] = (changed[index] as number) ^ flip;
          // A change in the sequence number reads as a reorder; anywhere else as other bytes.
          assert.equal(
            checker.check(new Uint8Array(changed).buffer),
            index < 8 ? 'out of order' : 'wrong bytes',
          );
          assert.equal(checker.check(new Uint8Array(first.subarray(1)).buffer), 'wrong length');
          // Another checker's message differs in its random part, which is only size - 8
          // bytes: from 16 bytes on a match is a 2^-64 chance (at 9 bytes it was 1 in 256).
          if (size >= 16) {
            assert.equal(checker.check(new Uint8Array(new EchoChecker(size).next()).buffer), 'wrong bytes');
          }
          assert.equal(checker.check(new Uint8Array(second).buffer), 'out of order');
          assert.equal(checker.check('text'), 'text');
          assert.equal(checker.check(new Uint8Array(first).buffer), null);
          assert.equal(checker.check(new Uint8Array(second).buffer), null);
          assert.equal(checker.check(new Uint8Array(second).buffer), 'unsolicited');
        },
      ),
    );
  });
});

/** A server whose message handler is `answer`. */
async function serverWith(
  answer: (
    ws: ServerWebSocket<{ held: Buffer[] }>,
    data: Buffer,
    server: WebSocketServer<{ held: Buffer[] }>,
  ) => void,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server: WebSocketServer<{ held: Buffer[] }> = new WebSocketServer<{ held: Buffer[] }>({
    port: 0,
    host: '127.0.0.1',
    decodeText: false,
    authenticate: () => ({ held: [] }),
    handlers: {
      open: (ws) => ws.subscribe('all'),
      message: (ws, data) => answer(ws, data as Buffer, server),
    },
  });
  const port = ((await server.listen()) as AddressInfo).port;
  return { url: `ws://127.0.0.1:${port}/`, close: () => server.close({ timeout: 1000 }) };
}

describe('sockeye bench against servers that do not echo', () => {
  for (const { name, answer, args, line } of [
    {
      name: 'a broadcast server',
      answer: (
        _ws: ServerWebSocket<{ held: Buffer[] }>,
        data: Buffer,
        server: WebSocketServer<{ held: Buffer[] }>,
      ) => server.publish('all', data, { isBinary: true }),
      args: ['-c', '4', '-d', '60'],
      line: /is not an echo server: it answered with bytes this connection did not send/,
    },
    {
      name: 'a server that answers pairs in reverse order',
      answer: (ws: ServerWebSocket<{ held: Buffer[] }>, data: Buffer) => {
        ws.data.held.push(Buffer.from(data));
        if (ws.data.held.length === 2)
          for (const held of ws.data.held.splice(0).reverse()) ws.send(held, true);
      },
      args: ['-c', '1', '-w', '2', '-d', '60'],
      line: /is not an echo server: it echoed this connection's messages out of order/,
    },
    {
      name: 'a server that drops the last byte',
      answer: (ws: ServerWebSocket<{ held: Buffer[] }>, data: Buffer) => ws.send(data.subarray(0, -1), true),
      args: ['-c', '1', '-s', '100', '-d', '60'],
      line: /is not an echo server: it answered a 100-byte message with 99 bytes/,
    },
  ]) {
    it(`${name}: one line, exit code 1`, T, async () => {
      const server = await serverWith(answer);
      try {
        const run = await sockeye(['bench', server.url, ...args]);
        assert.equal(run.code, 1, run.stderr);
        assert.equal(run.stdout, '', 'no table of meaningless figures');
        assert.equal(run.stderr.split('\n').length, 2, `one line: ${run.stderr}`);
        assert.match(run.stderr, line);
      } finally {
        await server.close();
      }
    });
  }

  it('a server that answers nothing: one line, exit code 1', T, async () => {
    const server = await serverWith(() => {});
    try {
      const run = await sockeye(['bench', server.url, '-c', '2', '-d', '0.5']);
      assert.equal(run.code, 1);
      assert.equal(run.stdout, '');
      assert.match(
        run.stderr,
        /^sockeye: ws:\/\/127\.0\.0\.1:\d+\/ answered none of the messages sent in [\d.]+ s \(is it an echo server\?\)\n$/,
      );
    } finally {
      await server.close();
    }
  });

  it('a server that closes a connection: the close in one line, errors by kind in the table', T, async () => {
    let messages = 0;
    const server = await serverWith((ws, data) => {
      if (++messages % 50 === 0) ws.close(4009, 'enough');
      else ws.send(data, true);
    });
    try {
      const run = await sockeye(['bench', server.url, '-c', '2', '-d', '60']);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /^sockeye: the server closed a connection during the run \(4009 "enough"\)$/m);
      assert.match(run.stdout, /^errors +1 \(closed early 1\)$/m);
      const json = await sockeye(['bench', server.url, '-c', '2', '-d', '60', '--json']);
      assert.deepEqual(JSON.parse(json.stdout).errorsByKind, { 'closed early': 1 });
    } finally {
      await server.close();
    }
  });

  it("the demo's chat endpoint: it answers with text, and says so", T, async () => {
    const publicDir = mkdtempSync(join(tmpdir(), 'sockeye-bench-demo-'));
    const demo = await startDemoServer({ publicDir, port: 0 });
    try {
      const run = await sockeye(['bench', `ws://127.0.0.1:${demo.port}/ws/chat`, '-c', '2', '-d', '60']);
      assert.equal(run.code, 1, run.stderr);
      assert.equal(run.stdout, '');
      assert.match(
        run.stderr,
        /^sockeye: ws:\/\/127\.0\.0\.1:\d+\/ws\/chat is not an echo server: it answered a binary message with text: "\{.*error/,
      );
      assert.equal(run.stderr.split('\n').length, 2, `one line: ${run.stderr}`);
    } finally {
      await demo.close();
      rmSync(publicDir, { recursive: true, force: true });
    }
  });

  it('a plain HTTP server: "not a WebSocket endpoint"', T, async () => {
    const publicDir = mkdtempSync(join(tmpdir(), 'sockeye-bench-demo-'));
    const demo = await startDemoServer({ publicDir, port: 0 });
    try {
      const run = await sockeye(['bench', `127.0.0.1:${demo.port}/nowhere`, '-c', '3', '-d', '60']);
      assert.equal(run.code, 1);
      assert.deepEqual(run.stderr.trim().split('\n'), [
        'sockeye: not a WebSocket endpoint (HTTP 404 Not Found)',
        `sockeye: could not open any connection to ws://127.0.0.1:${demo.port}/nowhere`,
      ]);
    } finally {
      await demo.close();
      rmSync(publicDir, { recursive: true, force: true });
    }
  });
});

describe('sockeye bench options', () => {
  it(
    'offers permessage-deflate by default and says whether it was agreed; --no-deflate offers none',
    T,
    async () => {
      const server = await serverWith((ws, data) => ws.send(data, true));
      try {
        const offered = await sockeye(['bench', server.url, '-c', '1', '-n', '20', '--json']);
        assert.equal(offered.code, 0, offered.stderr);
        assert.equal(JSON.parse(offered.stdout).deflate, true);
        const none = await sockeye(['bench', server.url, '-c', '1', '-n', '20', '--no-deflate']);
        assert.equal(none.code, 0, none.stderr);
        assert.match(none.stdout, /^deflate +no$/m);
      } finally {
        await server.close();
      }
    },
  );

  it('-k/--insecure accepts a self-signed certificate', { ...T, skip: opensslMissing() }, async () => {
    const tls = selfSignedCertificateFiles();
    const https = createHttpsServer({ cert: tls.cert, key: tls.key });
    const server = new WebSocketServer<undefined>({
      server: https,
      decodeText: false,
      handlers: { message: (ws, data, isBinary) => ws.send(data, isBinary) },
    });
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    const url = `wss://127.0.0.1:${(https.address() as AddressInfo).port}/`;
    try {
      const refused = await sockeye(['bench', url, '-c', '2', '-n', '10']);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /self.signed certificate/i);
      const run = await sockeye(['bench', url, '-c', '2', '-n', '10', '-k']);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^errors +0$/m);
    } finally {
      await server.close({ timeout: 1000 });
      https.close();
      rmSync(tls.dir, { recursive: true, force: true });
    }
  });
});
