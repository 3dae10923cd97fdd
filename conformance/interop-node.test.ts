/**
 * Interop: Node's built-in WebSocket client (undici, `node --experimental-websocket` in
 * Node 20) against sockeye's echo server. conformance/peers/node-builtin-client.mjs runs
 * each scenario in its own process and prints what it observed; the assertions are here.
 * The WHATWG API cannot send pings, so only the server's ping is checked.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT } from '../scripts/lib/prereqs.js';
import { type EchoServer, ONE_MIB, startEchoServer } from './lib/echo.js';
import { observed, type PeerReport, runPeer } from './lib/peer.js';

describe('interop: Node built-in WebSocket client', { timeout: 300_000 }, () => {
  let server: EchoServer;
  let peer: PeerReport;
  const seen = (scenario: string) => observed(peer, scenario);

  before(async () => {
    server = await startEchoServer();
    peer = await runPeer(process.execPath, [
      '--experimental-websocket',
      join(ROOT, 'conformance', 'peers', 'node-builtin-client.mjs'),
      server.url,
    ]);
  });
  after(async () => {
    await server?.stop();
  });

  it('runs this Node version', () => {
    assert.equal(peer.version, process.version);
  });

  it('echoes a text message as a string', () => {
    const result = seen('text');
    assert.equal(result.type, 'string');
    assert.equal(result.data, 'héllo, wörld ✓');
  });

  it('echoes a binary message as a Blob (binaryType "blob", the default)', () => {
    const result = seen('binary-blob');
    assert.equal(result.type, 'Blob');
    assert.equal(result.data, result.sent);
  });

  it('echoes a binary message as an ArrayBuffer (binaryType "arraybuffer")', () => {
    const result = seen('binary-arraybuffer');
    assert.equal(result.type, 'ArrayBuffer');
    assert.equal(result.data, result.sent);
  });

  it('echoes empty text and empty binary messages', () => {
    assert.deepEqual(seen('empty-text'), { scenario: 'empty-text', type: 'string', data: '' });
    assert.deepEqual(seen('empty-binary'), { scenario: 'empty-binary', type: 'ArrayBuffer', data: '' });
  });

  it('echoes a 1 MiB binary message byte for byte (SHA-256 compared)', () => {
    const result = seen('1mib');
    assert.equal(result.type, 'ArrayBuffer');
    assert.equal(result.length, ONE_MIB);
    assert.equal(result.receivedSha256, result.sentSha256);
  });

  it('negotiates the first offered subprotocol', () => {
    assert.equal(seen('subprotocol').protocol, 'chat.v2');
  });

  it('client-initiated close with code and reason: the server echoes the code, cleanly', () => {
    const result = seen('client-close');
    assert.equal(result.code, 4000);
    assert.equal(result.wasClean, true);
  });

  it('server-initiated close: the client sees 4001 and the reason, cleanly', () => {
    const result = seen('server-close');
    assert.equal(result.echoed, 'last words');
    assert.equal(result.code, 4001);
    assert.equal(result.reason, 'server says bye');
    assert.equal(result.wasClean, true);
  });

  it('server ping: answered by the client (the server reports "pong:x"); the client cannot send pings', () => {
    assert.deepEqual(seen('server-ping'), { scenario: 'server-ping', type: 'string', data: 'pong:x' });
  });
});
