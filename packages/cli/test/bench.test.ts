/**
 * `sockeye bench` against a sockeye echo server: the table and the JSON result, --count
 * and --duration bounding the run, a live progress line in a terminal (tmux), and the
 * errors.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer } from '@sockeye/sockeye/server';
import { missing } from '../../../scripts/lib/prereqs.js';
import { Reservoir } from '../src/commands/bench.js';
import { BIN, privateTmux, sockeye } from './support/run.js';

const T = { timeout: 90_000 };

describe('sockeye bench', () => {
  let server: WebSocketServer<undefined>;
  let url = '';
  let opened = 0;
  let messages = 0;
  before(async () => {
    server = new WebSocketServer<undefined>({
      port: 0,
      host: '127.0.0.1',
      decodeText: false,
      handlers: {
        open: () => {
          opened++;
        },
        message: (ws, data, isBinary) => {
          messages++;
          ws.send(data, isBinary);
        },
      },
    });
    url = `ws://127.0.0.1:${((await server.listen()) as AddressInfo).port}`;
  });
  after(async () => {
    await server?.close({ timeout: 1000 });
  });

  it('--count: that many echoes over the connections, reported as JSON', T, async () => {
    opened = 0;
    messages = 0;
    const run = await sockeye(['bench', url, '-c', '4', '-s', '100', '-w', '2', '-n', '400', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.equal(result.connections, 4);
    assert.equal(opened, 4, 'the server saw the 4 connections');
    assert.ok(result.messages >= 400 && result.messages <= 400 + 4 * 2, String(result.messages));
    assert.ok(messages >= result.messages, 'every echo counted was sent to the server');
    assert.equal(result.errors, 0);
    assert.ok(result.p50Ms > 0 && result.p99Ms >= result.p50Ms);
    assert.ok(result.messagesPerSecond > 0);
    assert.equal(
      Math.round(result.megabytesPerSecond * 1e6 * result.seconds),
      result.messages * 100,
      'MB/s counts the echoed payload bytes',
    );
  });

  it('--duration bounds the run; the table has every figure', T, async () => {
    const run = await sockeye(['bench', url, '-c', '2', '-d', '1']);
    assert.equal(run.code, 0, run.stderr);
    const rows = run.stdout.trim().split('\n');
    assert.deepEqual(
      rows.map((row) => row.split(/ {2,}/)[0]),
      [
        'connections',
        'messages',
        'duration',
        'messages/s',
        'MB/s',
        'p50 latency',
        'p99 latency',
        'deflate',
        'errors',
      ],
    );
    assert.match(run.stdout, /^connections +2$/m);
    assert.match(run.stdout, /^p99 latency +[\d.,]+ ms$/m);
    assert.match(run.stdout, /^errors +0$/m);
    // The run ended by itself (no --count): --duration bounded it. (No time is asserted.)
    assert.match(run.stdout, /^duration +[\d.]+ s$/m);
    assert.match(run.stdout, /^messages +[1-9][\d,]*$/m);
  });

  it('no server: one line per reason and exit code 1; bad arguments: exit code 2', T, async () => {
    const run = await sockeye(['bench', 'ws://127.0.0.1:1', '-c', '5', '-d', '1']);
    assert.equal(run.code, 1);
    assert.deepEqual(run.stderr.trim().split('\n'), [
      'sockeye: connect ECONNREFUSED 127.0.0.1:1',
      'sockeye: could not open any connection to ws://127.0.0.1:1/',
    ]);
    for (const args of [
      ['bench'],
      ['bench', url, '-c', '0'],
      ['bench', url, '-d', '0'],
      ['bench', 'ftp://x'],
    ]) {
      assert.equal((await sockeye(args)).code, 2, args.join(' '));
    }
  });

  it('shows a live progress line in a terminal', {
    ...T,
    skip: missing('/usr/bin/tmux', 'tmux'),
  }, async () => {
    const { tmux, close } = privateTmux();
    try {
      tmux(
        'new-session',
        '-d',
        '-s',
        'bench',
        '-x',
        '150',
        '-y',
        '20',
        `'${process.execPath}' '${BIN}' bench ${url} -c 2 -d 6; sleep 60`,
      );
      let progress = '';
      for (let i = 0; i < 200 && progress === ''; i++) {
        const screen = tmux('capture-pane', '-p', '-t', 'bench');
        progress = /^\d+ s {2}2 connections {2}[\d,]+ msg\/s .* p99 [\d.,]+ ms$/m.exec(screen)?.[0] ?? '';
        if (progress === '') await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.notEqual(progress, '', 'a progress line showed during the run');
      let screen = '';
      for (let i = 0; i < 300 && !/^errors/m.test(screen); i++) {
        screen = tmux('capture-pane', '-p', '-t', 'bench');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.match(screen, /^connections +2$/m);
      assert.doesNotMatch(screen, /msg\/s/, 'the progress line is cleared before the table');
    } finally {
      close();
    }
  });
});

describe('Reservoir', () => {
  it('keeps every value until full, then a bounded sample; percentiles by rank', () => {
    const small = new Reservoir(10);
    for (const value of [5, 1, 4, 2, 3]) small.add(value);
    assert.equal(small.percentile(50), 3);
    assert.equal(small.percentile(100), 5);
    assert.equal(small.percentile(1), 1);
    assert.ok(Number.isNaN(new Reservoir(3).percentile(50)));
    const bounded = new Reservoir(100);
    for (let i = 0; i < 100_000; i++) bounded.add(i);
    const median = bounded.percentile(50);
    assert.ok(median > 20_000 && median < 80_000, `a uniform sample's median: ${median}`);
  });
});
