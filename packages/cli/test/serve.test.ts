/**
 * `sockeye serve` as a subprocess: echo, broadcast, wss:// with a certificate, a taken
 * port, bad arguments, and a clean stop (clients see 1001) on SIGTERM.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { freePort, type Started, startProcess } from '../../../scripts/lib/process.js';
import { opensslMissing, selfSignedCertificateFiles } from '../../../scripts/lib/tls.js';
import { BIN, sockeye } from './support/run.js';

const T = { timeout: 60_000 };

async function serve(args: string[]): Promise<{ process: Started; url: string }> {
  const started = await startProcess(
    process.execPath,
    [BIN, 'serve', '--port', '0', ...args],
    /listening on (wss?:\/\/\S+)/,
    {
      timeoutMs: 30_000,
    },
  );
  const url = /listening on (wss?:\/\/\S+)/.exec(started.output())![1]!;
  return { process: started, url };
}

function open(url: string, options: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function nextMessage(ws: WebSocket): Promise<[string, boolean]> {
  return new Promise((resolve) =>
    ws.once('message', (data, isBinary) => resolve([data.toString(), isBinary])),
  );
}

describe('sockeye serve', () => {
  it(
    'echoes with the type, selects the first subprotocol, logs connections, stops cleanly on SIGTERM',
    T,
    async () => {
      const { process: server, url } = await serve([]);
      try {
        assert.match(url, /^ws:\/\/127\.0\.0\.1:\d+$/);
        const client = await open(url);
        const chat = new WebSocket(url, ['chat', 'other']);
        await new Promise((resolve) => chat.once('open', resolve));
        assert.equal(chat.protocol, 'chat');
        client.send('hello');
        assert.deepEqual(await nextMessage(client), ['hello', false]);
        client.send(Buffer.from([1, 2]));
        assert.deepEqual(await nextMessage(client), ['\u0001\u0002', true]);
        const closed = new Promise<number>((resolve) => client.once('close', (code) => resolve(code)));
        chat.close();
        await server.stop();
        assert.equal(await closed, 1001);
        assert.equal(server.child.exitCode, 0);
        assert.match(server.output(), /^\+ 127\.0\.0\.1:\d+ connected, 1 open$/m);
        assert.match(server.output(), /^\+ 127\.0\.0\.1:\d+ connected \(chat\), 2 open$/m);
        assert.match(server.output(), /^- 127\.0\.0\.1:\d+ closed 1005, 1 open$/m);
      } finally {
        await server.stop();
      }
    },
  );

  it('--broadcast sends every message to every client, the sender included', T, async () => {
    const { process: server, url } = await serve(['--broadcast']);
    try {
      assert.match(server.output(), /^broadcast server listening/m);
      const [a, b, c] = await Promise.all([open(url), open(url), open(url)]);
      const received = [a, b, c].map((ws) => nextMessage(ws!));
      a!.send('to everyone');
      for (const message of await Promise.all(received)) assert.deepEqual(message, ['to everyone', false]);
      const binary = [a, b, c].map((ws) => nextMessage(ws!));
      c!.send(Buffer.from([7, 8]));
      for (const message of await Promise.all(binary)) assert.deepEqual(message, ['\u0007\b', true]);
      for (const ws of [a, b, c]) ws!.terminate();
    } finally {
      await server.stop();
    }
  });

  it('serves wss:// with --tls-cert and --tls-key', {
    ...T,
    skip: opensslMissing(),
  }, async () => {
    const tls = selfSignedCertificateFiles();
    const { process: server, url } = await serve(['--tls-cert', tls.certFile, '--tls-key', tls.keyFile]);
    try {
      assert.match(url, /^wss:\/\/127\.0\.0\.1:\d+$/);
      const client = await open(url, { ca: tls.cert });
      client.send('secure');
      assert.deepEqual(await nextMessage(client), ['secure', false]);
      client.terminate();
    } finally {
      await server.stop();
      rmSync(tls.dir, { recursive: true, force: true });
    }
  });

  it('a taken port is one line and exit code 1', T, async () => {
    const port = await freePort();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const run = await sockeye(['serve', '--port', String(port)]);
      assert.equal(run.code, 1);
      assert.equal(
        run.stderr,
        `sockeye: port ${port} on 127.0.0.1 is already in use (choose another with --port)\n`,
      );
    } finally {
      blocker.close();
    }
  });

  it('refuses bad arguments with exit code 2', T, async () => {
    for (const [args, message] of [
      [['serve', '--echo', '--broadcast'], /choose --echo or --broadcast/],
      [['serve', '--port', '70000'], /--port must be a whole number from 0 to 65535/],
      [['serve', '--tls-cert', 'cert.pem'], /--tls-cert and --tls-key go together/],
    ] as const) {
      const run = await sockeye([...args]);
      assert.equal(run.code, 2, args.join(' '));
      assert.match(run.stderr, message);
    }
  });
});
