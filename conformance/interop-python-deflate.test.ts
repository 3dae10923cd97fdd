/**
 * Interop with Python `websockets` (compression on, its default): its client against the
 * conformance echo server (our server role), and its server against the bare client
 * shell on the core (our client role). Both sides compress; every echo must match and
 * the negotiated extension must be permessage-deflate.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { PerMessageDeflate } from '../packages/sockeye/src/protocol/index.js';
import { missing, ROOT, VENV_PYTHON } from '../scripts/lib/prereqs.js';
import { freePort, startProcess } from '../scripts/lib/process.js';
import { runCoreClient } from './lib/core-client.js';

const MESSAGES = [
  JSON.stringify(Array.from({ length: 400 }, (_, i) => ({ id: i, name: `user-${i}` }))),
  'small',
  'é😀'.repeat(3000),
];

/** Python websockets client: send MESSAGES and a binary, print the extensions and whether every echo matched. */
const PYTHON_CLIENT = `
import asyncio, json, sys
from websockets.asyncio.client import connect
async def main():
    messages = json.loads(sys.argv[2])
    async with connect(sys.argv[1], max_size=None) as ws:
        ok = True
        for m in messages + [bytes(range(256)) * 40]:
            await ws.send(m)
            ok = ok and (await ws.recv()) == m
        print(json.dumps({"extensions": ws.response.headers.get("Sec-WebSocket-Extensions"), "ok": ok}))
asyncio.run(main())
`;

/** Python websockets echo server on argv[1]; prints "listening" when ready. */
const PYTHON_SERVER = `
import asyncio, sys
from websockets.asyncio.server import serve
async def echo(ws):
    async for m in ws:
        await ws.send(m)
async def main():
    async with serve(echo, "127.0.0.1", int(sys.argv[1])):
        print("listening", flush=True)
        await asyncio.Future()
asyncio.run(main())
`;

test('Python websockets client (compression on) with the echo server', {
  skip: missing(VENV_PYTHON, 'the project venv'),
  timeout: 60_000,
}, async () => {
  const port = await freePort();
  const server = await startProcess(
    process.execPath,
    ['--import', 'tsx', 'conformance/echo-server.ts', '--port', String(port)],
    /listening on ws:\/\//,
    { cwd: ROOT },
  );
  try {
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(VENV_PYTHON, [
        '-c',
        PYTHON_CLIENT,
        `ws://127.0.0.1:${port}/`,
        JSON.stringify(MESSAGES),
      ]);
      let out = '';
      child.stdout.on('data', (data: Buffer) => {
        out += data.toString();
      });
      child.stderr.on('data', (data: Buffer) => {
        out += data.toString();
      });
      child.on('error', reject);
      child.on('close', (code) =>
        code === 0 ? resolve(out) : reject(new Error(`python exited ${code}: ${out}`)),
      );
    });
    const result = JSON.parse(output.trim().split('\n').at(-1)!) as { extensions: string; ok: boolean };
    assert.match(result.extensions, /^permessage-deflate/);
    assert.equal(result.ok, true);
  } finally {
    await server.stop();
  }
});

test('the core client role with a Python websockets server (compression on)', {
  skip: missing(VENV_PYTHON, 'the project venv'),
  timeout: 60_000,
}, async () => {
  const port = await freePort();
  const server = await startProcess(VENV_PYTHON, ['-c', PYTHON_SERVER, String(port)], /listening/);
  try {
    const result = await runCoreClient(`ws://127.0.0.1:${port}/`, {
      echo: false,
      deflate: new PerMessageDeflate({ threshold: 0 }),
      send: MESSAGES,
      closeAfter: MESSAGES.length,
    });
    assert.match(result.extensions, /^permessage-deflate/);
    assert.deepEqual(
      result.messages.map((m) => m.data.toString()),
      MESSAGES,
    );
    assert.equal(result.close?.code, 1000);
  } finally {
    await server.stop();
  }
});
