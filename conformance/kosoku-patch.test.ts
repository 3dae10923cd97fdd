/**
 * The provisioning patch for kosoku 0.1.0 (scripts/lib/kosoku-patch.mjs): kosoku hands the
 * section 12/13 case an uncompressed message as a `str` (text decoded, binary one code point
 * per byte), and the case errors with "Strings must be encoded before hashing". These tests
 * show that the patch is applied, that the affected cases pass against a correct `ws` peer
 * with permessage-deflate (which sends messages under 1 KiB uncompressed: the trigger) in
 * both modes: 13.2.1 and 13.5.1 as a server (no context takeover), 12.4.3 (non-ASCII text)
 * and 12.2.1 (binary) as a client; and that the patched case still FAILS peers that corrupt
 * (also inside a non-ASCII character), truncate or retype the echo: the patch does not lower
 * the bar.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { PATCH_MARKER, PATCHED_KOSOKU_VERSION, patchCaseSource } from '../scripts/lib/kosoku-patch.mjs';
import { KOSOKU, missing, ROOT } from '../scripts/lib/prereqs.js';
import { freePort } from '../scripts/lib/process.js';
import { type CaseResult, reportDir, runFuzzingClient, startFuzzingServer } from './lib/autobahn.js';

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

/** Connect a `ws` client to `url` and echo every message through `echo` until the connection closes. */
function wsEchoUntilClosed(url: string, echo: Echo): Promise<void> {
  return new Promise((resolve) => {
    // threshold 1024 (ws's default, explicit here): messages under 1 KiB leave uncompressed.
    const socket = new WebSocket(url, { perMessageDeflate: { threshold: 1024 } });
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      const reply = echo(data, isBinary);
      socket.send(reply.data, { binary: reply.isBinary });
    });
    socket.on('error', () => {}); // the result is kosoku's report; 'close' follows
    socket.on('close', () => resolve());
  });
}

/** Run `cases` with kosoku as the fuzzing server and a `ws` client (default offer) whose echo is `echo`. */
async function runWsClient(name: string, cases: string[], echo: Echo): Promise<CaseResult[]> {
  const server = await startFuzzingServer(await freePort(), {
    include: cases,
    outDir: reportDir(`kosoku-patch-client-${name}`),
    timeoutMs: 300_000,
  });
  try {
    for (let n = 1; n <= cases.length; n++) {
      await wsEchoUntilClosed(`${server.url}/runCase?case=${n}&agent=ws`, echo);
    }
    await wsEchoUntilClosed(`${server.url}/updateReports?agent=ws`, echo);
    return await server.results;
  } finally {
    server.stop();
  }
}

/**
 * `data` with the last byte of its first non-ASCII character changed (a continuation byte
 * stays one, so the text stays valid UTF-8 and keeps its length); unchanged if all ASCII.
 */
function corruptFirstNonAscii(data: Buffer): Buffer {
  const copy = Buffer.from(data);
  const lead = copy.findIndex((byte) => byte >= 0xc0);
  if (lead === -1) return copy;
  let last = lead + 1;
  while (last + 1 < copy.length && ((copy[last + 1] as number) & 0xc0) === 0x80) last++;
  copy[last] = (copy[last] as number) ^ 0x01;
  return copy;
}

const ANCHOR = 'def onMessage(self, msg, binary):\n   m = hashlib.sha1()\n   m.update(msg)\n';

describe('kosoku 0.1.0 patch: the source transformation', () => {
  it('inserts the conversion (latin-1 for binary, UTF-8 for text) before hashing, once', () => {
    const source = `before\n${ANCHOR}after\n`;
    const patched = patchCaseSource(source);
    assert.ok(patched.includes(PATCH_MARKER));
    assert.match(
      patched,
      /if isinstance\(msg, str\):\n {6}msg = msg\.encode\('latin-1' if binary else 'utf-8'\)\n {3}m = hashlib\.sha1\(\)/,
    );
    assert.ok(patched.startsWith('before\n') && patched.endsWith('   m.update(msg)\nafter\n'));
    assert.equal(patchCaseSource(patched), patched, 'applying it twice changes nothing');
  });

  it('replaces the first version of the patch (latin-1 for text too)', () => {
    const firstVersion = [
      'def onMessage(self, msg, binary):',
      '   # sockeye provisioning patch: kosoku 0.1.0 str payloads. Under no context takeover, kosoku 0.1.0',
      '   # hands uncompressed messages over as a str of code points 0-255 (py2 style); latin-1',
      '   # restores the exact received bytes. See scripts/lib/kosoku-patch.mjs in sockeye.',
      '   if isinstance(msg, str):',
      "      msg = msg.encode('latin-1')",
      '   m = hashlib.sha1()',
      '   m.update(msg)',
      '',
    ].join('\n');
    assert.equal(
      patchCaseSource(`before\n${firstVersion}after\n`),
      patchCaseSource(`before\n${ANCHOR}after\n`),
    );
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

describe('kosoku 0.1.0 patch: kosoku as the fuzzing server (a ws client under test)', {
  skip: missing(KOSOKU, 'kosoku'),
  timeout: 600_000,
}, () => {
  it('12.4.3 (non-ASCII text, context takeover) and 12.2.1 (binary) pass against a correct ws client', async () => {
    // Every echo under 1 KiB arrives uncompressed: 12.4.3's 256-character HTML slices (one
    // with "µ") as a decoded str, 12.2.1's 16-byte binary messages as a byte-per-char str.
    const results = await runWsClient('correct', ['12.2.1', '12.4.3'], (data, isBinary) => ({
      data,
      isBinary,
    }));
    assert.deepEqual(
      results.map((r) => [r.id, r.behavior, r.behaviorClose]),
      [
        ['12.2.1', 'OK', 'OK'],
        ['12.4.3', 'OK', 'OK'],
      ],
    );
  });

  it('still fails a client that changes a non-ASCII character of the text echo', async () => {
    const [result] = await runWsClient('corrupt', ['12.4.3'], (data, isBinary) => ({
      data: isBinary ? data : corruptFirstNonAscii(data),
      isBinary,
    }));
    assert.equal(result?.behavior, 'FAILED');
    assert.match(result?.result ?? '', /contents differs/);
  });

  it('still fails a client that corrupts one byte of a binary echo', async () => {
    const [result] = await runWsClient('corrupt-binary', ['12.2.1'], (data, isBinary) => {
      const copy = Buffer.from(data);
      copy[0] = (copy[0] as number) ^ 0x80; // a byte above 0x7f: a code point 128-255 in the str
      return { data: copy, isBinary };
    });
    assert.equal(result?.behavior, 'FAILED');
    assert.match(result?.result ?? '', /contents differs/);
  });
});
