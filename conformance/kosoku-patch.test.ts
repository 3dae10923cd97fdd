/**
 * The provisioning patch for kosoku 0.1.0 (scripts/lib/kosoku-patch.mjs): under no context
 * takeover, kosoku hands the section 12/13 case an uncompressed message as a `str`, and
 * the case errors with "Strings must be encoded before hashing". These tests show that
 * the patch is applied, that the affected cases (13.2.1, 13.5.1) pass against a correct
 * `ws` server with permessage-deflate (which sends messages under 1 KiB uncompressed: the
 * trigger), and that the patched case still FAILS servers that corrupt, truncate or retype
 * the echo: the patch does not lower the bar.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import { PATCH_MARKER, PATCHED_KOSOKU_VERSION, patchCaseSource } from '../scripts/lib/kosoku-patch.mjs';
import { KOSOKU, missing, ROOT } from '../scripts/lib/prereqs.js';
import { type CaseResult, reportDir, runFuzzingClient } from './lib/autobahn.js';

type Echo = (data: Buffer, isBinary: boolean) => { data: Buffer; isBinary: boolean };

/** Run `cases` against an in-process `ws` echo server with permessage-deflate whose echo is `echo`. */
async function runAgainstWs(name: string, cases: string[], echo: Echo): Promise<CaseResult[]> {
  // threshold 1024 (ws's default, explicit here): messages under 1 KiB leave uncompressed.
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: { threshold: 1024 } });
  server.on('connection', (socket) => {
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      const reply = echo(data, isBinary);
      socket.send(reply.data, { binary: reply.isBinary });
    });
  });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    return await runFuzzingClient(`127.0.0.1:${port}`, {
      include: cases,
      outDir: reportDir(`kosoku-patch-${name}`),
      timeoutMs: 300_000,
    });
  } finally {
    for (const client of server.clients) client.terminate();
    await new Promise((resolve) => server.close(resolve));
  }
}

const ANCHOR = 'def onMessage(self, msg, binary):\n   m = hashlib.sha1()\n   m.update(msg)\n';

describe('kosoku 0.1.0 patch: the source transformation', () => {
  it('inserts the latin-1 conversion before hashing, once', () => {
    const source = `before\n${ANCHOR}after\n`;
    const patched = patchCaseSource(source);
    assert.ok(patched.includes(PATCH_MARKER));
    assert.match(
      patched,
      /if isinstance\(msg, str\):\n {6}msg = msg\.encode\('latin-1'\)\n {3}m = hashlib\.sha1\(\)/,
    );
    assert.ok(patched.startsWith('before\n') && patched.endsWith('   m.update(msg)\nafter\n'));
    assert.equal(patchCaseSource(patched), patched, 'applying it twice changes nothing');
  });

  it('refuses a file without the expected onMessage', () => {
    assert.throws(() => patchCaseSource('def onMessage(self, msg):\n   pass\n'), /not patching/);
    assert.throws(() => patchCaseSource(`${ANCHOR}${ANCHOR}`), /exactly one/);
  });
});

describe('kosoku 0.1.0 patch: against real servers', {
  skip: missing(KOSOKU, 'kosoku'),
  timeout: 600_000,
}, () => {
  it('is applied to the installed case file by provisioning', () => {
    const lib = join(ROOT, '.venv', 'lib');
    const site = readdirSync(lib)
      .map((python) => join(lib, python, 'site-packages'))
      .find((dir) => existsSync(join(dir, 'kosoku')));
    assert.ok(site, 'no kosoku in .venv');
    assert.ok(
      existsSync(join(site, `kosoku-${PATCHED_KOSOKU_VERSION}.dist-info`)),
      `kosoku is not ${PATCHED_KOSOKU_VERSION}: re-check the bug and scripts/lib/kosoku-patch.mjs`,
    );
    const source = readFileSync(join(site, 'kosoku', 'cases', 'case12_x_x.py'), 'utf8');
    assert.ok(source.includes(PATCH_MARKER), 'run: node scripts/provision.mjs --only venv');
  });

  it('13.2.1 and 13.5.1 (no context takeover, uncompressed echoes) pass against a correct ws server', async () => {
    const results = await runAgainstWs('correct', ['13.2.1', '13.5.1'], (data, isBinary) => ({
      data,
      isBinary,
    }));
    assert.deepEqual(
      results.map((r) => [r.id, r.behavior, r.behaviorClose]),
      [
        ['13.2.1', 'OK', 'OK'],
        ['13.5.1', 'OK', 'OK'],
      ],
    );
  });

  it('still fails a server that corrupts one byte of the echo', async () => {
    const [result] = await runAgainstWs('corrupt', ['13.2.1'], (data, isBinary) => {
      const copy = Buffer.from(data);
      copy[0] = copy[0] === 0x41 ? 0x42 : 0x41; // stays ASCII, so still valid UTF-8 text
      return { data: copy, isBinary };
    });
    assert.equal(result?.behavior, 'FAILED');
    assert.match(result?.result ?? '', /contents differs/);
  });

  it('still fails a server that truncates the echo', async () => {
    const [result] = await runAgainstWs('truncate', ['13.2.1'], (data, isBinary) => ({
      data: data.subarray(0, data.length - 1),
      isBinary,
    }));
    assert.equal(result?.behavior, 'FAILED');
    assert.match(result?.result ?? '', /length differs/);
  });

  it('still fails a server that echoes text as binary', async () => {
    const [result] = await runAgainstWs('retype', ['13.2.1'], (data) => ({ data, isBinary: true }));
    assert.equal(result?.behavior, 'FAILED');
    assert.match(result?.result ?? '', /message type differs/);
  });
});
