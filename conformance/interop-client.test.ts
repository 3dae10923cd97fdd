/**
 * Interop: sockeye's client against three servers on loopback: `ws`, Python `websockets`
 * (conformance/peers/websockets_server.py, run with the project venv) and sockeye's own
 * echo server (conformance/echo-server.ts). For each: text, binary with both binaryTypes,
 * empty and 1 MiB messages, subprotocol selection, server-initiated close with code and
 * reason, a server ping answered, and bufferedAmount draining to 0.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from '../packages/sockeye/src/client/websocket.js';
import { startWsEcho } from '../packages/sockeye/test/client/helpers.js';
import { missing, ROOT, VENV_PYTHON } from '../scripts/lib/prereqs.js';
import { freePort, type Started, startProcess } from '../scripts/lib/process.js';

const MIB = 1024 * 1024;

type Received = string | ArrayBuffer | Blob;

/** Open `url` and resolve once open (reject on close before open). */
function open(url: string, protocols: string[] = []): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols);
    ws.onopen = () => resolve(ws);
    ws.onclose = (event) => reject(new Error(`closed before open: ${(event as CloseEvent).code}`));
  });
}

/** The next message's data. */
function next(ws: WebSocket): Promise<Received> {
  return new Promise((resolve) => {
    ws.addEventListener('message', (event) => resolve((event as MessageEvent<Received>).data), {
      once: true,
    });
  });
}

/** The close event as [code, reason, wasClean]. */
function closed(ws: WebSocket): Promise<[number, string, boolean]> {
  return new Promise((resolve) => {
    ws.addEventListener('close', (event) => {
      const close = event as CloseEvent;
      resolve([close.code, close.reason, close.wasClean]);
    });
  });
}

function interopSuite(
  name: string,
  start: () => Promise<{ url: string; stop(): Promise<void> }>,
  skip: string | false,
) {
  describe(`client interop with ${name}`, { skip }, () => {
    let server: { url: string; stop(): Promise<void> };
    before(async () => {
      server = await start();
    });
    after(async () => {
      await server?.stop();
    });

    test('text, binary (blob and arraybuffer), empty and 1 MiB messages; bufferedAmount drains to 0', {
      timeout: 60_000,
    }, async () => {
      const ws = await open(`${server.url}/`);
      const done = closed(ws);
      try {
        ws.send('h\u00e9llo \u{1f600}');
        assert.equal(await next(ws), 'h\u00e9llo \u{1f600}');

        ws.send(new Uint8Array([0, 1, 2, 255]));
        const blob = await next(ws);
        assert.ok(blob instanceof Blob);
        assert.deepEqual([...new Uint8Array(await blob.arrayBuffer())], [0, 1, 2, 255]);

        ws.binaryType = 'arraybuffer';
        ws.send(new Blob([new Uint8Array([9, 8, 7])]));
        const buffer = await next(ws);
        assert.ok(buffer instanceof ArrayBuffer);
        assert.deepEqual([...new Uint8Array(buffer)], [9, 8, 7]);

        ws.send('');
        assert.equal(await next(ws), '');
        ws.send(new ArrayBuffer(0));
        const empty = await next(ws);
        assert.ok(empty instanceof ArrayBuffer);
        assert.equal(empty.byteLength, 0);

        const big = new Uint8Array(MIB);
        for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
        ws.send(big);
        assert.equal(ws.bufferedAmount, MIB);
        const bigEcho = await next(ws);
        assert.ok(bigEcho instanceof ArrayBuffer);
        assert.ok(Buffer.from(bigEcho).equals(Buffer.from(big)));

        const bigText = `${'x'.repeat(MIB - 3)}\u20ac`;
        ws.send(bigText);
        assert.equal(await next(ws), bigText);
        assert.equal(ws.bufferedAmount, 0);
      } finally {
        ws.close(1000);
      }
      assert.deepEqual(await done, [1000, '', true]);
    });

    test('subprotocol selection', { timeout: 30_000 }, async () => {
      const ws = await open(`${server.url}/`, ['chat.v2', 'chat.v1']);
      assert.equal(ws.protocol, 'chat.v2');
      const done = closed(ws);
      ws.close();
      assert.deepEqual(await done, [1005, '', true]);
    });

    test('server-initiated close with code and reason', { timeout: 30_000 }, async () => {
      const ws = await open(`${server.url}/?close=4321&reason=see%20you`);
      const done = closed(ws);
      ws.send('bye');
      assert.equal(await next(ws), 'bye');
      assert.deepEqual(await done, [4321, 'see you', true]);
    });

    test('a server ping is answered with a pong', { timeout: 30_000 }, async () => {
      const ws = new WebSocket(`${server.url}/?ping=marco`);
      const message = next(ws);
      const done = closed(ws);
      assert.equal(await message, 'pong:marco');
      ws.close();
      await done;
    });
  });
}

async function startPeer(command: string, args: string[]): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const started: Started = await startProcess(command, [...args, String(port)], /listening on ws:\/\//, {
    cwd: ROOT,
  });
  return { url: `ws://127.0.0.1:${port}`, stop: () => started.stop() };
}

interopSuite(
  'the ws server',
  async () => {
    const echo = await startWsEcho();
    return { url: echo.url, stop: () => echo.close() };
  },
  false,
);

interopSuite(
  'the Python websockets server',
  () => startPeer(VENV_PYTHON, ['conformance/peers/websockets_server.py']),
  missing(VENV_PYTHON, 'the project .venv'),
);

interopSuite(
  "sockeye's echo server",
  () => startPeer(process.execPath, ['--import', 'tsx', 'conformance/echo-server.ts', '--port']),
  false,
);
