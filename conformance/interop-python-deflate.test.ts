/**
 * Interop with Python `websockets` (compression on, its default): its client against the
 * conformance echo server (permessage-deflate with threshold 0 and context takeover) and
 * against a WebSocketServer with its default compression settings (no context takeover
 * either way, 1 KiB threshold). Every echo must match and the negotiated extension must
 * be permessage-deflate, with the parameters each server imposes. (Our client role with
 * Python's server is tested with the real client, on branch client.)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { WebSocketServer } from '../packages/sockeye/src/index.js';
import { missing, VENV_PYTHON } from '../scripts/lib/prereqs.js';
import { startEchoServer } from './lib/echo.js';

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

/** Run the Python client against `url`; resolves with the extensions it got and whether every echo matched. */
function runPythonClient(url: string): Promise<{ extensions: string; ok: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(VENV_PYTHON, ['-c', PYTHON_CLIENT, url, JSON.stringify(MESSAGES)]);
    let out = '';
    child.stdout.on('data', (data: Buffer) => {
      out += data.toString();
    });
    child.stderr.on('data', (data: Buffer) => {
      out += data.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`python exited ${code}: ${out}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1)!) as { extensions: string; ok: boolean });
    });
  });
}

test('Python websockets client (compression on) with the echo server', {
  skip: missing(VENV_PYTHON, 'the project venv'),
  timeout: 60_000,
}, async () => {
  const server = await startEchoServer();
  try {
    const result = await runPythonClient(`${server.url}/`);
    assert.match(result.extensions, /^permessage-deflate/);
    assert.doesNotMatch(result.extensions, /no_context_takeover/);
    assert.equal(result.ok, true);
  } finally {
    await server.stop();
  }
});

test('Python websockets client (compression on) with the server defaults (no context takeover)', {
  skip: missing(VENV_PYTHON, 'the project venv'),
  timeout: 60_000,
}, async () => {
  const server = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    pingInterval: 0,
    handlers: { message: (ws, data, isBinary) => ws.send(data, isBinary) },
  });
  try {
    const address = await server.listen();
    const result = await runPythonClient(`ws://127.0.0.1:${address!.port}/`);
    assert.equal(
      result.extensions,
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
    );
    assert.equal(result.ok, true);
  } finally {
    await server.close({ timeout: 1000 });
  }
});
