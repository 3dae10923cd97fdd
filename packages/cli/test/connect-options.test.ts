/**
 * `sockeye connect`: one test per option borrowed from wscat and websocat (scheme-less
 * URL, --auth, TLS files, --proxy, -L, --deflate, -x/--wait, --count, --ping-interval,
 * --timestamp) and per output mode (--raw, --hex, --json, -v), against servers on
 * loopback, port 0.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import {
  type AddressInfo,
  createServer as createNetServer,
  connect as netConnect,
  type Server,
} from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { type ServerWebSocket, type UpgradeRequestContext, WebSocketServer } from '@sockeye/sockeye/server';
import { opensslMissing, selfSignedCertificateFiles } from '../../../scripts/lib/tls.js';
import { BIN, sockeye } from './support/run.js';

const T = { timeout: 60_000 };

interface Seen {
  headers: Record<string, string | readonly string[] | undefined>;
  url: string;
  pings: number;
}

/**
 * Echoes with the type; `/hello` sends what the handshake carried (JSON) on open;
 * `/burst` sends "1" to "5" on open; `/pings` closes with 4002 once two pings arrived;
 * `/json` sends a JSON text and a binary message on open.
 */
function echoServer(
  options: { perMessageDeflate?: boolean; server?: ReturnType<typeof createHttpsServer> } = {},
) {
  return new WebSocketServer<Seen>({
    ...(options.server === undefined ? { port: 0, host: '127.0.0.1' } : { server: options.server }),
    origins: '*',
    perMessageDeflate: options.perMessageDeflate ?? true,
    authenticate: (request: UpgradeRequestContext) => ({
      headers: {
        authorization: request.headers.authorization,
        'sec-websocket-extensions': request.headers['sec-websocket-extensions'],
      },
      url: request.url,
      pings: 0,
    }),
    handlers: {
      open: (ws: ServerWebSocket<Seen>) => {
        if (ws.data.url === '/hello') ws.send(JSON.stringify(ws.data.headers));
        if (ws.data.url === '/burst') for (let i = 1; i <= 5; i++) ws.send(String(i));
        if (ws.data.url === '/json') {
          ws.send('{"user":"ada","tags":["a","b"]}');
          ws.send('plain words');
          ws.send(Buffer.from([0xde, 0xad]), true);
        }
      },
      message: (ws: ServerWebSocket<Seen>, data, isBinary) => {
        ws.send(data, isBinary);
      },
      ping: (ws: ServerWebSocket<Seen>) => {
        if (ws.data.url === '/pings' && ++ws.data.pings === 2) ws.close(4002, 'two pings');
      },
    },
  });
}

/** A TCP server that answers every request with `response` (a plain HTTP server, a redirect). */
async function rawHttpServer(response: (port: number) => string): Promise<Server> {
  const server = createNetServer((socket) => {
    socket.on('error', () => {});
    let head = '';
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1');
      if (head.includes('\r\n\r\n')) socket.end(response((server.address() as AddressInfo).port));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** An HTTP CONNECT proxy that records the authorities it tunnelled to. */
async function connectProxy(): Promise<{ server: Server; tunnels: string[] }> {
  const tunnels: string[] = [];
  const server = createNetServer((client) => {
    client.on('error', () => {});
    client.once('data', (chunk) => {
      const match = /^CONNECT (\S+):(\d+) HTTP\/1\.1\r\n/.exec(chunk.toString('latin1'));
      if (match === null) {
        client.end('HTTP/1.1 405 Method Not Allowed\r\n\r\n');
        return;
      }
      tunnels.push(`${match[1]}:${match[2]}`);
      const upstream = netConnect(Number(match[2]), match[1], () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        client.pipe(upstream).pipe(client);
      });
      upstream.on('error', () => client.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, tunnels };
}

const portOf = (server: Server) => (server.address() as AddressInfo).port;

describe('sockeye connect: options and output modes', () => {
  let server: WebSocketServer<Seen>;
  let plain: WebSocketServer<Seen>;
  let hostPort = '';
  let plainHostPort = '';
  before(async () => {
    server = echoServer();
    hostPort = `127.0.0.1:${((await server.listen()) as AddressInfo).port}`;
    plain = echoServer({ perMessageDeflate: false });
    plainHostPort = `127.0.0.1:${((await plain.listen()) as AddressInfo).port}`;
  });
  after(async () => {
    await server?.close({ timeout: 1000 });
    await plain?.close({ timeout: 1000 });
  });

  it('a URL without a scheme means ws://', T, async () => {
    const run = await sockeye(['connect', `${hostPort}/`, '-x', 'hi']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, new RegExp(`^connected to ws://${hostPort}/ `, 'm'));
    assert.equal(run.stdout, '< hi\n');
  });

  it('Ctrl-C (SIGINT) as soon as "connected" shows closes normally, exit code 0', T, async () => {
    // stdin stays open: only the signal ends the session.
    const child = spawn(process.execPath, [BIN, 'connect', `ws://${hostPort}/`], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    let signalled = false;
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      if (!signalled && stderr.includes('connected to')) {
        signalled = true;
        child.kill('SIGINT');
      }
    });
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
      child.once('exit', (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
    );
    child.stdin.destroy();
    assert.deepEqual([code, signal], [0, null], stderr);
    assert.match(stderr, /^closed: 1000 \(normal closure\)$/m);
  });

  it('--auth sends Basic credentials', T, async () => {
    const run = await sockeye(['connect', `ws://${hostPort}/hello`, '--auth', 'user:pa:ss']);
    assert.equal(run.code, 0, run.stderr);
    const seen = JSON.parse(run.stdout.slice(2)) as Seen['headers'];
    assert.equal(seen.authorization, `Basic ${Buffer.from('user:pa:ss').toString('base64')}`);
  });

  it('-x/--execute sends its messages (and /commands) instead of reading stdin, then closes', T, async () => {
    const run = await sockeye(
      ['connect', `ws://${hostPort}/`, '-x', 'one', '--execute', '/ping p', '-x', 'two'],
      {
        stdin: 'not sent\n',
      },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, '< one\n< pong "p"\n< two\n');
  });

  it('-w/--wait with -x keeps printing until the server closes', T, async () => {
    const run = await sockeye([
      'connect',
      `ws://${hostPort}/pings`,
      '-x',
      '/ping',
      '-x',
      '/ping',
      '-w',
      '120',
    ]);
    // The server closes with 4002 after the second ping: the wait ends there, not after 120 s.
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stderr, /^closed: 4002 "two pings"$/m);
  });

  it('--count N closes after N messages and prints no more', T, async () => {
    const run = await sockeye(['connect', `ws://${hostPort}/burst`, '--count', '2', '-w', '120']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, '< 1\n< 2\n');
  });

  it(
    "--ping-interval pings until the server has seen two, printing their pongs (-P is wscat's no-op)",
    T,
    async () => {
      const run = await sockeye([
        'connect',
        `ws://${hostPort}/pings`,
        '--ping-interval',
        '0.05',
        '-P',
        '-w',
        '120',
      ]);
      assert.equal(run.code, 3, run.stderr);
      assert.match(run.stderr, /^closed: 4002 "two pings"$/m);
      assert.match(run.stdout, /^< pong$/m);
    },
  );

  it('--timestamp starts each line with the UTC time', T, async () => {
    const run = await sockeye(['connect', `ws://${hostPort}/`, '-x', 'hi', '--timestamp']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^\d\d:\d\d:\d\d\.\d{3} < hi\n$/);
    assert.match(run.stderr, /^\d\d:\d\d:\d\d\.\d{3} closed: 1000/m);
  });

  it('--raw prints only payloads, one per line, so that each line parses as JSON', T, async () => {
    const run = await sockeye(['connect', `ws://${hostPort}/`, '--raw'], {
      stdin: '{"n":1}\n{"n":2}\n/binary 41 42\n',
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, '{"n":1}\n{"n":2}\nAB\n');
    assert.deepEqual(
      run.stdout
        .split('\n')
        .slice(0, 2)
        .map((line) => JSON.parse(line)),
      [{ n: 1 }, { n: 2 }],
    );
  });

  it('--hex prints each payload in hex', T, async () => {
    const run = await sockeye(['connect', `ws://${hostPort}/`, '--hex', '-x', 'hi', '-x', '/binary 00ff']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, '68 69\n00 ff\n');
  });

  it('--json pretty-prints JSON text; other messages become JSON strings (binary in hex)', T, async () => {
    const run = await sockeye(['connect', `ws://${hostPort}/json`, '--json', '--count', '3', '-w', '120']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(
      run.stdout,
      '{\n  "user": "ada",\n  "tags": [\n    "a",\n    "b"\n  ]\n}\n"plain words"\n"dead"\n',
    );
  });

  it('-v prints the handshake and a trace of every frame on stderr', T, async () => {
    const run = await sockeye(['connect', `ws://${hostPort}/`, '-v', '--no-deflate', '-x', 'hi']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, '< hi\n');
    assert.match(run.stderr, /^> GET \/ HTTP\/1\.1$/m);
    assert.match(run.stderr, /^> Sec-WebSocket-Key: \S+$/m);
    assert.match(run.stderr, /^< HTTP\/1\.1 101 Switching Protocols$/m);
    assert.match(run.stderr, /^< sec-websocket-accept: \S+$/m);
    assert.match(run.stderr, /^> frame text fin=1 rsv1=0 mask=1 key=[0-9a-f]{8} len=2$/m);
    assert.match(run.stderr, /^< frame text fin=1 rsv1=0 mask=0 len=2$/m);
    assert.match(run.stderr, /^> frame close fin=1 rsv1=0 mask=1 key=[0-9a-f]{8} len=2$/m);
    assert.match(run.stderr, /^< frame close fin=1 rsv1=0 mask=0 len=2$/m);
  });

  it('-v shows RSV1 on compressed frames', T, async () => {
    const big = 'a'.repeat(4000);
    const run = await sockeye(['connect', `ws://${hostPort}/`, '-v', '-x', big]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /^> frame text fin=1 rsv1=1 mask=1 key=[0-9a-f]{8} len=\d+$/m);
    assert.equal(run.stdout, `< ${big}\n`);
  });

  it('--max-size refuses a bigger message with 1009; the echo of a long line is cut', T, async () => {
    const long = 'a'.repeat(1001);
    const run = await sockeye([
      'connect',
      `ws://${hostPort}/`,
      '--max-size',
      '1000',
      '--no-deflate',
      '-x',
      long,
    ]);
    assert.equal(run.code, 3, run.stderr);
    assert.equal(run.stdout, '', 'the message over the limit is not printed');
    assert.match(
      run.stderr,
      /^closed: 1009 \(message too big\) "message larger than the limit of 1000 bytes"$/m,
    );
    assert.match(run.stderr, new RegExp(`^> ${'a'.repeat(256)} \\.\\.\\. \\(745 more characters\\)$`, 'm'));
    const fits = await sockeye(['connect', `ws://${hostPort}/`, '--max-size', '1001', '-x', long]);
    assert.equal(fits.code, 0, fits.stderr);
    assert.equal(fits.stdout, `< ${long}\n`);
  });

  it(
    'offers permessage-deflate by default; --no-deflate does not; --deflate says when it is declined',
    T,
    async () => {
      const offered = await sockeye(['connect', `ws://${hostPort}/hello`]);
      assert.match(JSON.parse(offered.stdout.slice(2))['sec-websocket-extensions'], /^permessage-deflate/);
      const none = await sockeye(['connect', `ws://${hostPort}/hello`, '--no-deflate']);
      assert.equal(JSON.parse(none.stdout.slice(2))['sec-websocket-extensions'], undefined);
      const declined = await sockeye(['connect', `ws://${plainHostPort}/`, '--deflate', '-x', 'x']);
      assert.equal(declined.code, 0, declined.stderr);
      assert.match(declined.stderr, /^the server declined permessage-deflate$/m);
    },
  );

  it('-L follows a redirect; without it, one line says where it leads', T, async () => {
    const redirect = await rawHttpServer(
      () => `HTTP/1.1 302 Found\r\nLocation: ws://${hostPort}/moved\r\nContent-Length: 0\r\n\r\n`,
    );
    try {
      const url = `ws://127.0.0.1:${portOf(redirect)}/`;
      const followed = await sockeye(['connect', url, '-L', '-x', 'hi']);
      assert.equal(followed.code, 0, followed.stderr);
      assert.match(followed.stderr, new RegExp(`^connected to ws://${hostPort}/moved`, 'm'));
      assert.equal(followed.stdout, '< hi\n');
      const refused = await sockeye(['connect', url]);
      assert.equal(refused.code, 1);
      assert.match(
        refused.stderr,
        /^sockeye: cannot connect to .*: HTTP 302 Found: a redirect to ws:\/\/.*\/moved \(follow it with -L\)$/m,
      );
      const limited = await sockeye(['connect', url, '-L', '--max-redirects', '0']);
      assert.equal(limited.code, 1);
      assert.match(
        limited.stderr,
        /: HTTP 302 Found: a redirect to ws:\/\/.*\/moved \(past --max-redirects\)$/m,
      );
    } finally {
      redirect.close();
    }
    const loop = await rawHttpServer(
      (port) =>
        `HTTP/1.1 307 Temporary Redirect\r\nLocation: ws://127.0.0.1:${port}/again\r\nContent-Length: 0\r\n\r\n`,
    );
    try {
      const run = await sockeye(['connect', `ws://127.0.0.1:${portOf(loop)}/`, '-L', '--max-redirects', '3']);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /: Too many redirects \(more than 3\)$/m);
    } finally {
      loop.close();
    }
  });

  it('says "not a WebSocket endpoint" for a plain HTTP server', T, async () => {
    const http = await rawHttpServer(() => 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    try {
      const run = await sockeye(['connect', `127.0.0.1:${portOf(http)}`]);
      assert.equal(run.code, 1);
      assert.equal(
        run.stderr,
        `sockeye: cannot connect to ws://127.0.0.1:${portOf(http)}/: not a WebSocket endpoint (HTTP 200 OK)\n`,
      );
    } finally {
      http.close();
    }
  });

  it('-H "Host: ..." replaces the Host header: the request carries exactly one', T, async () => {
    const heads: string[] = [];
    const server = createNetServer((socket) => {
      socket.on('error', () => {});
      let head = '';
      socket.on('data', (chunk) => {
        head += chunk.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        heads.push(head);
        socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const run = await sockeye(['connect', `127.0.0.1:${portOf(server)}`, '-H', 'Host: example.test']);
      assert.equal(run.code, 1);
      assert.equal(heads.length, 1);
      const hosts = heads[0]!.split('\r\n').filter((line) => /^host:/i.test(line));
      assert.deepEqual(hosts, ['Host: example.test']);
    } finally {
      server.close();
    }
  });

  it('--proxy tunnels through an HTTP CONNECT proxy', T, async () => {
    const proxy = await connectProxy();
    try {
      const run = await sockeye([
        'connect',
        `ws://${hostPort}/`,
        '--proxy',
        `http://127.0.0.1:${portOf(proxy.server)}`,
        '-x',
        'via proxy',
      ]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, '< via proxy\n');
      assert.deepEqual(proxy.tunnels, [hostPort]);
    } finally {
      proxy.server.close();
    }
  });

  // One process per case (17 of them): on a loaded machine each start can take seconds, so
  // the hang guard is per case, not per test.
  it('refuses contradictory or malformed options with exit code 2', { timeout: 17 * 60_000 }, async () => {
    for (const [args, message] of [
      [['--raw', '--json'], /choose one of --raw, --hex and --json/],
      [['--raw', '--timestamp'], /--timestamp would break --raw/],
      [['--deflate', '--no-deflate'], /--deflate or --no-deflate/],
      [['--cert', 'c.pem'], /--cert and --key go together/],
      [['--auth', 'nocolon'], /--auth must be USER:PASSWORD/],
      [['--count', '0'], /--count must be a whole number/],
      [['--max-size', '0'], /--max-size must be a whole number/],
      [['--ping-interval', '0'], /--ping-interval must be at least/],
      [['--ca', '/nonexistent/ca.pem'], /cannot read --ca \/nonexistent\/ca\.pem: ENOENT/],
      [['--proxy', 'socks5://127.0.0.1:1080'], /--proxy takes an HTTP CONNECT proxy/],
      [['--proxy', 'http://[bad'], /--proxy must be a URL/],
      [['-H', 'Bad Name: x'], /--header must be "Name: value"/],
      [['-H', 'X-Split: a\rb'], /--header must be "Name: value"/],
      [['-H', 'Sec-WebSocket-Key: x'], /--header Sec-WebSocket-Key is written by the handshake/],
      [['-H', 'upgrade: h2c'], /--header upgrade is written by the handshake/],
      [['-o', 'https://a', '-H', 'Origin: https://b'], /give the Origin once/],
      [['--raw-mode'], /unknown option '--raw-mode' \(did you mean --raw\?\)/],
    ] as const) {
      const run = await sockeye(['connect', `ws://${hostPort}/`, ...args]);
      assert.equal(run.code, 2, args.join(' '));
      assert.match(run.stderr, message);
    }
  });
});

describe('sockeye connect: TLS files', { skip: opensslMissing() }, () => {
  it('--ca trusts a certificate; --cert/--key present a client certificate', T, async () => {
    const tls = selfSignedCertificateFiles();
    // The server asks for a client certificate (signed by the same self-signed CA) but does not require one.
    const https = createHttpsServer({
      cert: tls.cert,
      key: tls.key,
      ca: tls.cert,
      requestCert: true,
      rejectUnauthorized: false,
    });
    const server = echoServer({ server: https });
    let peerSubject = '';
    https.on('secureConnection', (socket: TLSSocket) => {
      if (socket.authorized) peerSubject = String(socket.getPeerCertificate().subject?.CN ?? '');
    });
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    const url = `wss://127.0.0.1:${(https.address() as AddressInfo).port}/`;
    try {
      const untrusted = await sockeye(['connect', url, '-x', 'x']);
      assert.equal(untrusted.code, 1);
      const trusted = await sockeye(['connect', url, '--ca', tls.certFile, '-x', 'trusted']);
      assert.equal(trusted.code, 0, trusted.stderr);
      assert.equal(trusted.stdout, '< trusted\n');
      assert.equal(peerSubject, '', 'no client certificate without --cert');
      const withCert = await sockeye([
        'connect',
        url,
        '--ca',
        tls.certFile,
        '--cert',
        tls.certFile,
        '--key',
        tls.keyFile,
        '-x',
        'mutual',
      ]);
      assert.equal(withCert.code, 0, withCert.stderr);
      assert.equal(peerSubject, 'localhost');
      const noCheck = await sockeye(['connect', url, '--no-check', '-x', 'unchecked']);
      assert.equal(noCheck.code, 0, noCheck.stderr);
      assert.equal(noCheck.stdout, '< unchecked\n');
    } finally {
      await server.close({ timeout: 1000 });
      https.close();
      rmSync(tls.dir, { recursive: true, force: true });
    }
  });
});
