/**
 * Interop: Python `websockets` (the asyncio client, version pinned in
 * conformance/requirements.txt, from the project .venv) against sockeye's echo server.
 * conformance/peers/websockets_client.py runs each scenario and prints what it observed
 * as JSON lines; the assertions are made here.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { missing, ROOT, VENV_PYTHON } from '../scripts/lib/prereqs.js';
import { type EchoServer, ONE_MIB, startEchoServer } from './lib/echo.js';
import { observed, type PeerReport, runPeer } from './lib/peer.js';

const skip = missing(VENV_PYTHON, 'the project Python venv (.venv)');

describe('interop: Python websockets client', { skip, timeout: 300_000 }, () => {
  let server: EchoServer;
  let peer: PeerReport;
  const seen = (scenario: string) => observed(peer, scenario);

  before(async () => {
    server = await startEchoServer();
    peer = await runPeer(VENV_PYTHON, [
      join(ROOT, 'conformance', 'peers', 'websockets_client.py'),
      server.url,
    ]);
  });
  after(async () => {
    await server?.stop();
  });

  it('runs the websockets version pinned in conformance/requirements.txt', () => {
    const pinned = /^websockets==(\S+)/m.exec(
      readFileSync(join(ROOT, 'conformance', 'requirements.txt'), 'utf8'),
    )?.[1];
    assert.ok(pinned, 'conformance/requirements.txt pins no websockets version');
    assert.equal(peer.version, pinned);
  });

  it('echoes a text message as text', () => {
    assert.deepEqual(seen('text'), { scenario: 'text', type: 'text', data: 'héllo, wörld ✓' });
  });

  it('echoes a binary message as binary', () => {
    const result = seen('binary');
    assert.equal(result.type, 'binary');
    assert.equal(result.data, result.sent);
  });

  it('echoes empty text and empty binary messages', () => {
    const result = seen('empty');
    assert.deepEqual(result.text, { type: 'text', length: 0 });
    assert.deepEqual(result.binary, { type: 'binary', length: 0 });
  });

  it('echoes a 1 MiB binary message byte for byte (SHA-256 compared)', () => {
    const result = seen('1mib');
    assert.equal(result.type, 'binary');
    assert.equal(result.length, ONE_MIB);
    assert.equal(result.receivedSha256, result.sentSha256);
  });

  it('negotiates the first offered subprotocol', () => {
    assert.equal(seen('subprotocol').protocol, 'chat.v2');
  });

  it('client-initiated close with code and reason: the server echoes the code', () => {
    assert.equal(seen('client-close').code, 4000);
  });

  it('server-initiated close: the client sees 4001 and the reason', () => {
    const result = seen('server-close');
    assert.equal(result.echoed, 'last words');
    assert.equal(result.code, 4001);
    assert.equal(result.reason, 'server says bye');
  });

  it('client ping: the pong with the same payload arrives', () => {
    assert.equal(seen('client-ping').pong, true);
  });

  it('server ping: websockets answers it, and the server reports the pong as the text "pong:x"', () => {
    assert.deepEqual(seen('server-ping'), { scenario: 'server-ping', type: 'text', data: 'pong:x' });
  });
});
