/**
 * The demo's operational defaults and its admin page: connection caps on every demo
 * socket (a raw-TCP refusal with 429), `/admin/stats` only for the admin token, and no
 * admin page at all without one.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AdminReport } from '../src/server/admin.js';
import { type DemoServer, startDemoServer } from '../src/server/demo-server.js';
import { DEMO_LIMITS } from '../src/server/limits.js';
import { ECHO_PATH } from '../src/shared/routes.js';

const T = { timeout: 60_000 };
const TOKEN = 'a-long-enough-admin-token';

/** Open a raw connection, send an upgrade to `path`, resolve with the status and the socket. */
function upgrade(port: number, path: string): Promise<{ status: number; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (received.includes('\r\n')) resolve({ status: Number(received.slice(9, 12)), socket });
    });
    socket.once('error', reject);
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
  });
}

describe('the demo in production', () => {
  let dir = '';
  let server: DemoServer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sockeye-admin-'));
    mkdirSync(join(dir, 'public'));
    writeFileSync(join(dir, 'public', 'index.html'), '<!doctype html><title>landing</title>');
    server = await startDemoServer({ publicDir: join(dir, 'public'), port: 0, adminToken: TOKEN });
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('caps connections per address on its sockets (429 past the cap)', T, async () => {
    const cap = DEMO_LIMITS.connectionLimits.maxConnectionsPerAddress!;
    const held: Socket[] = [];
    try {
      // Within the handshake rate's burst (the rate is checked first): only the per-address cap refuses.
      assert.ok(cap + 1 <= DEMO_LIMITS.connectionLimits.handshakeRate!.burst!);
      for (let i = 0; i < cap; i++) {
        const { status, socket } = await upgrade(server.port, ECHO_PATH);
        held.push(socket);
        assert.equal(status, 101);
      }
      const refused = await upgrade(server.port, ECHO_PATH);
      held.push(refused.socket);
      assert.equal(refused.status, 429);
    } finally {
      for (const socket of held) socket.destroy();
    }
  });

  it('serves /admin/stats to the token only', T, async () => {
    const stats = `${server.origin}/admin/stats`;
    assert.equal((await fetch(stats)).status, 401);
    assert.equal(
      (await fetch(stats, { headers: { Authorization: 'Bearer wrong-token-of-some-length' } })).status,
      401,
    );
    assert.equal((await fetch(stats, { headers: { Authorization: TOKEN } })).status, 401);
    const response = await fetch(stats, { headers: { Authorization: `Bearer ${TOKEN}` } });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    const report = (await response.json()) as AdminReport;
    assert.deepEqual(Object.keys(report.now.servers).sort(), [
      'chat',
      'echo',
      'inspector',
      'inspector (deflate)',
      'inspector feed',
      'reconnect',
      'sink',
    ]);
    assert.ok(report.now.servers.echo!.handshakes.accepted >= 1);
    assert.equal(report.now.servers.echo!.limits['max-connections-per-address'], 1);
    assert.ok(report.history.length >= 1);
    const page = await fetch(`${server.origin}/admin`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /sockeye demo: admin/);
    assert.equal((await fetch(stats, { method: 'POST' })).status, 405);
  });

  it('has no admin page without a token, and refuses a short one', T, async () => {
    const plain = await startDemoServer({ publicDir: join(dir, 'public'), port: 0 });
    try {
      assert.equal((await fetch(`${plain.origin}/admin`)).status, 404);
      assert.equal((await fetch(`${plain.origin}/admin/stats`)).status, 404);
    } finally {
      await plain.close();
    }
    await assert.rejects(
      startDemoServer({ publicDir: join(dir, 'public'), port: 0, adminToken: 'short' }),
      RangeError,
    );
  });
});
