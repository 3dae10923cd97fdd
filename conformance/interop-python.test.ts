/**
 * Interop: Python `websockets` (the asyncio client, version pinned in
 * conformance/requirements.txt, from the project .venv) against sockeye's echo server.
 * conformance/peers/websockets_client.py runs each scenario and prints what it observed
 * as JSON lines; the assertions are made here.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { missing, ROOT, VENV_PYTHON } from '../scripts/lib/prereqs.js';
import { type EchoServer, ONE_MIB, startEchoServer } from './lib/echo.js';

type Observation = Record<string, unknown>;

/** Run the Python peer against `url` and index its JSON lines by scenario. */
function runPeer(url: string): Promise<{ version: string; scenarios: Map<string, Observation> }> {
  return new Promise((resolve, reject) => {
    execFile(
      VENV_PYTHON,
      [join(ROOT, 'conformance', 'peers', 'websockets_client.py'), url],
      { timeout: 240_000, maxBuffer: 1 << 20 },
      (error, stdout, stderr) => {
        if (error) {
          reject(
            new Error(`the Python peer failed: ${error.message}\nstdout:\n${stdout}\nstderr:\n${stderr}`),
          );
          return;
        }
        const lines = stdout
          .split('\n')
          .filter((line) => line.trim() !== '')
          .map((line) => JSON.parse(line) as Observation);
        if (lines.at(-1)?.done !== true) {
          reject(new Error(`the Python peer did not finish:\n${stdout}\n${stderr}`));
          return;
        }
        const scenarios = new Map<string, Observation>();
        for (const line of lines) if (typeof line.scenario === 'string') scenarios.set(line.scenario, line);
        resolve({ version: String(lines[0]?.version), scenarios });
      },
    );
  });
}

const skip = missing(VENV_PYTHON, 'the project Python venv (.venv)');

describe('interop: Python websockets client', { skip, timeout: 300_000 }, () => {
  let server: EchoServer;
  let peer: Awaited<ReturnType<typeof runPeer>>;
  /** What the peer saw in `scenario`; fails with its error if it reported one. */
  const observed = (scenario: string): Observation => {
    const result = peer.scenarios.get(scenario);
    assert.ok(result, `the Python peer reported nothing for ${scenario}`);
    assert.equal(result.error, undefined, `${scenario}: ${String(result.error)}`);
    return result;
  };

  before(async () => {
    server = await startEchoServer();
    peer = await runPeer(server.url);
  });
  after(async () => {
    await server?.stop();
  });

  it('runs the websockets version pinned in conformance/requirements.txt', () => {
    const pinned = /^websockets==(\S+)/m.exec(
      readFileSync(join(ROOT, 'conformance', 'requirements.txt'), 'utf8'),
    )?.[1];
    assert.equal(peer.version, pinned);
  });

  it('echoes a text message as text', () => {
    assert.deepEqual(observed('text'), { scenario: 'text', type: 'text', data: 'héllo, wörld ✓' });
  });

  it('echoes a binary message as binary', () => {
    const result = observed('binary');
    assert.equal(result.type, 'binary');
    assert.equal(result.data, result.sent);
  });

  it('echoes empty text and empty binary messages', () => {
    const result = observed('empty');
    assert.deepEqual(result.text, { type: 'text', length: 0 });
    assert.deepEqual(result.binary, { type: 'binary', length: 0 });
  });

  it('echoes a 1 MiB binary message byte for byte (SHA-256 compared)', () => {
    const result = observed('1mib');
    assert.equal(result.type, 'binary');
    assert.equal(result.length, ONE_MIB);
    assert.equal(result.receivedSha256, result.sentSha256);
  });

  it('negotiates the first offered subprotocol', () => {
    assert.equal(observed('subprotocol').protocol, 'chat.v2');
  });

  it('client-initiated close with code and reason: the server echoes the code', () => {
    assert.equal(observed('client-close').code, 4000);
  });

  it('server-initiated close: the client sees 4001 and the reason', () => {
    const result = observed('server-close');
    assert.equal(result.echoed, 'last words');
    assert.equal(result.code, 4001);
    assert.equal(result.reason, 'server says bye');
  });

  it('client ping: the pong with the same payload arrives', () => {
    assert.equal(observed('client-ping').pong, true);
  });

  it('server ping: websockets answers it, and the server reports the pong as the text "pong:x"', () => {
    assert.deepEqual(observed('server-ping'), { scenario: 'server-ping', type: 'text', data: 'pong:x' });
  });
});
