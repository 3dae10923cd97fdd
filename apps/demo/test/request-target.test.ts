/**
 * A request target that is not a URL (`http://[`, which Node's HTTP parser lets through
 * and `new URL` refuses) is answered, plain or as an upgrade, and the demo server lives on.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type DemoServer, startDemoServer } from '../src/server/demo-server.js';

/** Send `request` on a fresh connection; the first line of the answer. */
function statusLine(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const end = received.indexOf('\r\n');
      if (end !== -1) {
        socket.destroy();
        resolve(received.slice(0, end));
      }
    });
    socket.write(request);
  });
}

describe('demo server: request targets that are not URLs', () => {
  let dir = '';
  let server: DemoServer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sockeye-target-'));
    server = await startDemoServer({ publicDir: dir, port: 0, adminToken: 'a'.repeat(16) });
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 400 to a plain request and 404 to an upgrade, and goes on serving', async () => {
    assert.equal(
      await statusLine(server.port, 'GET http://[ HTTP/1.1\r\nHost: x\r\n\r\n'),
      'HTTP/1.1 400 Bad Request',
    );
    assert.equal(
      await statusLine(
        server.port,
        'GET http://[ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      ),
      'HTTP/1.1 404 Not Found',
    );
    assert.equal((await fetch(`${server.origin}/lab/clock`)).status, 200);
  });
});
