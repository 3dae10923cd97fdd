/**
 * `sockeye connect`: piped (lines and slash commands sent, what arrives printed with
 * marks, no colour, exit code from the close), its options as the server sees them, TLS
 * with --insecure, and an interactive session in a real terminal (tmux on a private
 * socket).
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ServerWebSocket, type UpgradeRequestContext, WebSocketServer } from '@sockeye/sockeye/server';
import { missing } from '../../../scripts/lib/prereqs.js';
import { opensslMissing, selfSignedCertificateFiles } from '../../../scripts/lib/tls.js';
import { BIN, privateTmux, sockeye } from './support/run.js';

const T = { timeout: 60_000 };
const ESC = '\u001b[';

interface Seen {
  headers: Record<string, string | readonly string[] | undefined>;
  url: string;
}

/**
 * The test server: echoes with the type; `/hello` sends a JSON of what the handshake
 * carried on open; `/close` closes with 4001 "bye" after the first message; `/drop`
 * drops TCP after the first message; `/later` answers "later" 200 ms after a message
 * and then closes normally; `/ping` pings "hey" on open.
 */
function testServer(options: { port?: number; server?: ReturnType<typeof createHttpsServer> }) {
  const server = new WebSocketServer<Seen>({
    ...(options.server === undefined ? { port: 0, host: '127.0.0.1' } : { server: options.server }),
    origins: '*',
    selectProtocol: (offered) => offered[offered.length - 1],
    authenticate: (request: UpgradeRequestContext) => ({
      headers: {
        origin: request.headers.origin,
        'x-token': request.headers['x-token'],
        'sec-websocket-protocol': request.headers['sec-websocket-protocol'],
      },
      url: request.url,
    }),
    handlers: {
      open: (ws: ServerWebSocket<Seen>) => {
        if (ws.data.url === '/hello') ws.send(JSON.stringify(ws.data.headers));
        if (ws.data.url === '/ping') ws.ping('hey');
      },
      message: (ws: ServerWebSocket<Seen>, data, isBinary) => {
        ws.send(data, isBinary);
        if (ws.data.url === '/close') ws.close(4001, 'bye');
        if (ws.data.url === '/drop') ws.terminate();
        if (ws.data.url === '/later') {
          setTimeout(() => {
            ws.send('later');
            ws.close(1000);
          }, 200);
        }
      },
    },
  });
  return server;
}

describe('sockeye connect, piped', () => {
  let server: WebSocketServer<Seen>;
  let url = '';
  before(async () => {
    server = testServer({});
    const address = (await server.listen()) as AddressInfo;
    url = `ws://127.0.0.1:${address.port}`;
  });
  after(async () => {
    await server?.close({ timeout: 1000 });
  });

  it(
    'sends each line and each slash command, prints what arrives, exits 0 on a normal close',
    T,
    async () => {
      const run = await sockeye(['connect', `${url}/`], {
        stdin: 'hello\n我是阿宝哥\n/binary 01 02 03\n/ping hi\n//slash\n',
      });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(
        run.stdout,
        ['< hello', '< 我是阿宝哥', '< binary, 3 bytes: 01 02 03', '< pong "hi"', '< /slash', ''].join('\n'),
      );
      // What was sent goes to stderr, so that stdout holds only what arrived.
      assert.equal(
        run.stderr,
        [
          `connected to ${url}/ (permessage-deflate; server_no_context_takeover; client_no_context_takeover)`,
          '> hello',
          '> 我是阿宝哥',
          '> binary, 3 bytes: 01 02 03',
          '> ping "hi"',
          '> /slash',
          'closed: 1000 (normal closure)',
          '',
        ].join('\n'),
      );
      assert.ok(!run.stdout.includes(ESC), 'no colour on a pipe');
    },
  );

  it('sends --header, --origin and --subprotocol in the handshake', T, async () => {
    const run = await sockeye([
      'connect',
      `${url}/hello`,
      '-H',
      'X-Token: abc',
      '--origin',
      'https://example.test',
      '-s',
      'one',
      '--subprotocol',
      'two',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const line = run.stdout.split('\n').find((text) => text.startsWith('< {'));
    assert.ok(line !== undefined, run.stdout);
    assert.deepEqual(JSON.parse(line.slice(2)), {
      origin: 'https://example.test',
      'x-token': 'abc',
      'sec-websocket-protocol': 'one, two',
    });
    assert.match(run.stderr, /^connected to .*\/hello \(subprotocol two, permessage-deflate.*\)$/m);
  });

  it(
    '--binary: lines are hex, @PATH sends a file; bad hex is one line and the session goes on',
    T,
    async () => {
      const file = join(tmpdir(), `sockeye-connect-test-${process.pid}.bin`);
      writeFileSync(file, Buffer.from([0xca, 0xfe]));
      try {
        const run = await sockeye(['connect', `${url}/`, '--binary'], {
          stdin: `de ad be ef\nzz\n@${file}\n`,
        });
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stdout, /^< binary, 4 bytes: de ad be ef$/m);
        assert.match(run.stdout, /^< binary, 2 bytes: ca fe$/m);
        assert.match(run.stderr, /^sockeye: .*hex/m);
      } finally {
        rmSync(file, { force: true });
      }
    },
  );

  it('exits 3 when the server closes with another code, printing code and reason', T, async () => {
    const run = await sockeye(['connect', `${url}/close`], { stdin: 'x\n', env: { ...process.env } });
    assert.equal(run.code, 3);
    assert.match(run.stderr, /^closed: 4001 "bye"$/m);
  });

  it('/close sends its code and reason; the exit code follows it', T, async () => {
    const run = await sockeye(['connect', `${url}/`], { stdin: 'one\n/close 4000 done\ntwo\n' });
    assert.equal(run.code, 3);
    assert.match(run.stderr, /^> close 4000 "done"$/m);
    assert.doesNotMatch(run.stdout + run.stderr, /two/, 'nothing is sent after the close');
    // The server's answer echoes the code (RFC 6455 section 5.5.1), without a reason.
    assert.match(run.stderr, /^closed: 4000$/m);
    const bad = await sockeye(['connect', `${url}/`], { stdin: '/close 1006\n' });
    assert.match(bad.stderr, /^sockeye: \/close takes a code of 1000 or 3000-4999$/m);
  });

  it('exits 1 when the connection drops without a closing handshake, or cannot be made', T, async () => {
    const dropped = await sockeye(['connect', `${url}/drop`], { stdin: 'x\n' });
    assert.equal(dropped.code, 1);
    assert.match(dropped.stderr, /^closed: 1006 \(abnormal closure\)/m);
    const refused = await sockeye(['connect', 'ws://127.0.0.1:1/']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^sockeye: cannot connect to ws:\/\/127\.0\.0\.1:1\/: .*ECONNREFUSED/m);
  });

  it('--wait keeps printing after stdin ends; without it the client closes at once', T, async () => {
    // The server closes after "later": the wait ends with the close, not after 60 s (the test's timeout).
    const waited = await sockeye(['connect', `${url}/later`, '--wait', '120'], { stdin: 'x\n' });
    assert.equal(waited.code, 0, waited.stderr);
    assert.match(waited.stdout, /^< later$/m);
    const hasty = await sockeye(['connect', `${url}/later`], { stdin: 'x\n' });
    assert.equal(hasty.code, 0, hasty.stderr);
    assert.doesNotMatch(hasty.stdout, /< later/);
  });

  it('prints a ping from the server (answered by the core)', T, async () => {
    const run = await sockeye(['connect', `${url}/ping`], { stdin: 'x\n' });
    assert.match(run.stdout, /^< ping "hey"$/m);
  });

  it('refuses bad arguments in one line with exit code 2', T, async () => {
    for (const [args, message] of [
      [['connect'], /give the URL/],
      [['connect', url, '--wait', 'soon'], /--wait must be a number of seconds/],
      [['connect', url, '-H', 'no colon'], /--header must be "Name: value"/],
      [['connect', url, '--bogus'], /Unknown option '--bogus'/],
    ] as const) {
      const run = await sockeye([...args]);
      assert.equal(run.code, 2, args.join(' '));
      assert.match(run.stderr, message);
      assert.equal(run.stderr.split('\n').length, 2, 'one line');
    }
  });
});

describe('sockeye connect over TLS', { skip: opensslMissing() }, () => {
  it('refuses a self-signed certificate, and accepts it with --insecure', T, async () => {
    const tls = selfSignedCertificateFiles();
    const https = createHttpsServer({ cert: tls.cert, key: tls.key });
    const server = testServer({ server: https });
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    const url = `wss://127.0.0.1:${(https.address() as AddressInfo).port}/`;
    try {
      const refused = await sockeye(['connect', url], { stdin: 'x\n' });
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /self.signed certificate/i);
      const run = await sockeye(['connect', url, '--insecure'], { stdin: 'over tls\n' });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^< over tls$/m);
    } finally {
      await server.close({ timeout: 1000 });
      https.close();
      rmSync(tls.dir, { recursive: true, force: true });
    }
  });
});

describe('sockeye connect in a terminal (tmux)', { skip: missing('/usr/bin/tmux', 'tmux') }, () => {
  const { tmux, close: closeTmux } = privateTmux();
  let server: WebSocketServer<Seen>;
  let url = '';
  before(async () => {
    server = testServer({});
    url = `ws://127.0.0.1:${((await server.listen()) as AddressInfo).port}`;
  });
  after(async () => {
    closeTmux();
    await server?.close({ timeout: 1000 });
  });

  /** The pane's text (with escapes when `escapes`), once `pattern` shows in it. */
  async function screen(pattern: RegExp, escapes = false, session = 'connect'): Promise<string> {
    for (let i = 0; i < 300; i++) {
      const text = tmux('capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', session);
      if (pattern.test(text)) return text;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`${pattern} never showed; the screen:\n${tmux('capture-pane', '-p', '-t', session)}`);
  }

  /** Run `sockeye connect <path>` in a new tmux session (a real terminal), then print its exit code. */
  function session(name: string, path: string): void {
    tmux(
      'new-session',
      '-d',
      '-s',
      name,
      '-x',
      '120',
      '-y',
      '30',
      `env -u NO_COLOR -u FORCE_COLOR TERM=xterm-256color '${process.execPath}' '${BIN}' connect '${url}${path}'; echo "EXIT=$?"; sleep 60`,
    );
  }

  it(
    'a prompt, lines typed are sent, what arrives is printed in colour, /close sets the exit code',
    T,
    async () => {
      session('connect', '/ping');
      await screen(/^connected to ws:/m);
      await screen(/^< ping "hey"$/m);
      tmux('send-keys', '-t', 'connect', '-l', 'hello from tmux');
      tmux('send-keys', '-t', 'connect', 'Enter');
      await screen(/^> hello from tmux\n< hello from tmux$/m);
      tmux('send-keys', '-t', 'connect', '-l', '/ping yo');
      tmux('send-keys', '-t', 'connect', 'Enter');
      await screen(/^< pong "yo"$/m);
      const coloured = await screen(/pong/, true);
      assert.ok(coloured.includes(`${ESC}36m<`), 'the received mark is coloured on a terminal');
      tmux('send-keys', '-t', 'connect', '-l', '/close 4005 finished');
      tmux('send-keys', '-t', 'connect', 'Enter');
      const done = await screen(/^EXIT=\d+$/m);
      assert.match(done, /^> \/close 4005 finished\nclosed: 4005$/m);
      assert.match(done, /^EXIT=3$/m);
    },
  );

  it(
    'stdout redirected to a file: only what arrived is in it; no prompt, the echoes on stderr',
    T,
    async () => {
      const file = join(tmpdir(), `sockeye-connect-out-${process.pid}.txt`);
      try {
        tmux(
          'new-session',
          '-d',
          '-s',
          'redirected',
          '-x',
          '120',
          '-y',
          '30',
          `'${process.execPath}' '${BIN}' connect '${url}/' > '${file}'; echo "EXIT=$?"; sleep 60`,
        );
        await screen(/^connected to ws:/m, false, 'redirected');
        tmux('send-keys', '-t', 'redirected', '-l', 'to a file');
        tmux('send-keys', '-t', 'redirected', 'Enter');
        // The terminal echoes the typed line itself; the "sent" echo comes on stderr.
        await screen(/^> to a file$/m, false, 'redirected');
        tmux('send-keys', '-t', 'redirected', 'C-d');
        const done = await screen(/^EXIT=\d+$/m, false, 'redirected');
        assert.match(done, /^EXIT=0$/m);
        assert.equal(
          readFileSync(file, 'utf8'),
          '< to a file\n',
          'no prompt, no echo, no colour in the file',
        );
      } finally {
        rmSync(file, { force: true });
      }
    },
  );

  it('-x on a terminal sends, waits --wait for what comes back, and shows no prompt', T, async () => {
    tmux(
      'new-session',
      '-d',
      '-s',
      'execute',
      '-x',
      '120',
      '-y',
      '30',
      `'${process.execPath}' '${BIN}' connect '${url}/later' -x hi -w 120; echo "EXIT=$?"; sleep 60`,
    );
    // The server answers "later" after the echo, then closes: the wait ends there.
    const done = await screen(/^EXIT=\d+$/m, false, 'execute');
    assert.match(done, /^< hi\n< later$/m);
    assert.match(done, /^closed: 1000 \(normal closure\)$/m);
    assert.match(done, /^EXIT=0$/m);
    assert.doesNotMatch(done, /type a message/, 'no prompt: nothing is read from the terminal');
  });

  it('Ctrl-D ends the session with a normal close and exit code 0', T, async () => {
    session('eof', '/');
    await screen(/^connected to ws:/m, false, 'eof');
    tmux('send-keys', '-t', 'eof', '-l', 'last words');
    tmux('send-keys', '-t', 'eof', 'Enter');
    await screen(/^< last words$/m, false, 'eof');
    tmux('send-keys', '-t', 'eof', 'C-d');
    const done = await screen(/^EXIT=\d+$/m, false, 'eof');
    assert.match(done, /^closed: 1000 \(normal closure\)$/m);
    assert.match(done, /^EXIT=0$/m);
  });
});
