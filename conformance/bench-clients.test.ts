/**
 * Smoke test of the client benchmark's entries (bench/clients/, run by `npm run bench`):
 * each connects to the benchmark's fixed server (the raw Node ceiling), runs its loop and
 * prints one JSON line with messages counted and no bad echo; and each one notices an echo
 * server that answers with the wrong size (so a client row never counts broken echoes as
 * throughput). Durations are a fraction of a second: this checks the entries, not speed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { WebSocketServer } from 'ws';
import { ROOT } from '../scripts/lib/prereqs.js';
import { freePort, type Started, startProcess } from '../scripts/lib/process.js';

const CLIENTS = ['sockeye', 'ws', 'node'] as const;

interface Run {
  code: number | null;
  result: Record<string, unknown> | undefined;
  output: string;
}

/** Run one client entry for a short, bounded time and parse its JSON line. */
async function runClient(client: string, url: string, size: number): Promise<Run> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      `bench/clients/${client}-client.ts`,
      '--url',
      url,
      '--size',
      String(size),
      '--window',
      '4',
      '--duration',
      '0.3',
      '--warmup',
      '0.1',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (data: Buffer) => {
    output += data.toString();
  });
  child.stderr.on('data', (data: Buffer) => {
    output += data.toString();
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 45_000);
  try {
    const [code] = (await once(child, 'close')) as [number | null];
    const line = output
      .split('\n')
      .filter((text) => text.startsWith('{'))
      .at(-1);
    return {
      code,
      result: line === undefined ? undefined : (JSON.parse(line) as Record<string, unknown>),
      output,
    };
  } finally {
    clearTimeout(killer);
  }
}

describe('benchmark client entries', () => {
  let server: Started;
  let url: string;
  before(async () => {
    const port = await freePort();
    server = await startProcess(
      process.execPath,
      ['bench/servers/node-raw.mjs', '--port', String(port), '--host', '127.0.0.1'],
      /listening on ws:\/\//,
      { cwd: ROOT },
    );
    url = `ws://127.0.0.1:${port}/`;
  });
  after(async () => {
    await server?.stop();
  });

  for (const client of CLIENTS) {
    test(`${client}: round trips against the fixed server, one JSON line, no bad echo`, {
      timeout: 60_000,
    }, async () => {
      const run = await runClient(client, url, 1024);
      assert.equal(run.code, 0, run.output);
      assert.ok(run.result, `no JSON line in: ${run.output}`);
      assert.equal(run.result.client, client);
      assert.equal(run.result.size, 1024);
      assert.equal(run.result.window, 4);
      assert.equal(run.result.errors, 0);
      assert.ok(Number(run.result.messages) > 0, 'messages were counted');
      assert.ok(Number(run.result.cpuSeconds) > 0, 'the client measured its own CPU time');
      assert.ok(Number(run.result.perCpuSecond) > 0);
      assert.ok(Number(run.result.p50Ms) <= Number(run.result.p99Ms));
      assert.ok(Number(run.result.endedAt) > Number(run.result.startedAt), 'the measured window is reported');
    });
  }

  test('every client entry reports echoes of the wrong size as errors and exits with status 1', {
    timeout: 180_000,
  }, async () => {
    const port = await freePort();
    // An echo server that drops the last byte of every binary message.
    const broken = new WebSocketServer({ port, host: '127.0.0.1' });
    broken.on('connection', (socket) => {
      socket.on('message', (data: Buffer, isBinary) =>
        socket.send(data.subarray(0, data.length - 1), { binary: isBinary }),
      );
    });
    await once(broken, 'listening');
    try {
      for (const client of CLIENTS) {
        const run = await runClient(client, `ws://127.0.0.1:${port}/`, 64);
        assert.equal(run.code, 1, `${client}: ${run.output}`);
        assert.ok(Number(run.result?.errors) > 0, `${client}: ${run.output}`);
        assert.match(String(run.result?.firstError), /expected a binary echo of 64 bytes, got 63 bytes/);
      }
    } finally {
      for (const socket of broken.clients) socket.terminate();
      await new Promise<void>((resolve) => broken.close(() => resolve()));
    }
  });
});
