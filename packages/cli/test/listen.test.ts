/**
 * `sockeye listen`: clients' messages printed, lines typed sent to every client, in a
 * real terminal (tmux on a private socket, as the connect tests do), and piped.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { WebSocket } from '@sockeye/sockeye/client';
import { missing } from '../../../scripts/lib/prereqs.js';
import { BIN, privateTmux } from './support/run.js';

const T = { timeout: 60_000 };

/** A client of the listener that records what it receives. */
async function client(
  url: string,
): Promise<{ ws: WebSocket; received: string[]; next: () => Promise<string> }> {
  const ws = new WebSocket(url);
  const received: string[] = [];
  const waiters: Array<(text: string) => void> = [];
  ws.onmessage = (event) => {
    const text = String((event as MessageEvent).data);
    const waiter = waiters.shift();
    if (waiter === undefined) received.push(text);
    else waiter(text);
  };
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error('cannot connect to the listener'));
  });
  return {
    ws,
    received,
    next: () => {
      const queued = received.shift();
      return queued === undefined ? new Promise((resolve) => waiters.push(resolve)) : Promise.resolve(queued);
    },
  };
}

describe('sockeye listen in a terminal (tmux)', { skip: missing('/usr/bin/tmux', 'tmux') }, () => {
  const { tmux, close } = privateTmux();
  after(() => close());

  async function screen(pattern: RegExp): Promise<string> {
    for (let i = 0; i < 300; i++) {
      const text = tmux('capture-pane', '-p', '-t', 'listen');
      if (pattern.test(text)) return text;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`${pattern} never showed; the screen:\n${tmux('capture-pane', '-p', '-t', 'listen')}`);
  }

  it('prints what a client sends, sends what is typed, stops on Ctrl-C with exit code 0', T, async () => {
    tmux(
      'new-session',
      '-d',
      '-s',
      'listen',
      '-x',
      '120',
      '-y',
      '30',
      `env -u NO_COLOR -u FORCE_COLOR TERM=xterm-256color '${process.execPath}' '${BIN}' listen 0; echo "EXIT=$?"; sleep 60`,
    );
    const shown = await screen(/^listening on ws:\/\/127\.0\.0\.1:\d+/m);
    const port = /listening on ws:\/\/127\.0\.0\.1:(\d+)/.exec(shown)?.[1];
    const peer = await client(`ws://127.0.0.1:${port}/`);
    try {
      await screen(/^\+ 127\.0\.0\.1:\d+ connected, 1 open$/m);
      peer.ws.send('hello from a client');
      await screen(/^< hello from a client$/m);
      tmux('send-keys', '-t', 'listen', '-l', 'hello back');
      tmux('send-keys', '-t', 'listen', 'Enter');
      assert.equal(await peer.next(), 'hello back');
      tmux('send-keys', '-t', 'listen', '-l', '//slash');
      tmux('send-keys', '-t', 'listen', 'Enter');
      assert.equal(await peer.next(), '/slash');
      const closed = new Promise<number>((resolve) => {
        peer.ws.onclose = (event) => resolve((event as CloseEvent).code);
      });
      tmux('send-keys', '-t', 'listen', 'C-c');
      assert.equal(await closed, 1001, 'the listener closes its clients with 1001');
      const done = await screen(/^EXIT=\d+$/m);
      assert.match(done, /^EXIT=0$/m);
    } finally {
      peer.ws.close();
    }
  });
});

describe('sockeye listen, piped', () => {
  it('keeps listening after stdin ends; sends piped lines to the client; SIGINT stops it', T, async () => {
    const child = spawn(process.execPath, [BIN, 'listen', '0'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    const port = await new Promise<string>((resolve) => {
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
        const match = /listening on ws:\/\/127\.0\.0\.1:(\d+)/.exec(stderr);
        if (match !== null) resolve(match[1] as string);
      });
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const peer = await client(`ws://127.0.0.1:${port}/`);
      while (!stderr.includes('1 open')) await new Promise((resolve) => setTimeout(resolve, 20));
      child.stdin.end('piped line\n');
      assert.equal(await peer.next(), 'piped line');
      peer.ws.send('to stdout');
      while (!stdout.includes('< to stdout')) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(stdout, '< to stdout\n', 'stdout holds only what arrived');
      assert.match(stderr, /^> piped line$/m, 'what was sent is on stderr');
      child.kill('SIGINT');
      assert.equal(await exited, 0);
    } finally {
      child.kill();
    }
  });
});
