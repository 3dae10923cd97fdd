/**
 * The client's Node-only options: headers and origin, an HTTP CONNECT proxy (explicit and
 * from HTTP_PROXY / HTTPS_PROXY / NO_PROXY), TLS (a self-signed certificate made with the
 * `openssl` command; CA, rejectUnauthorized, client certificates), redirects with a limit,
 * and an AbortSignal. Everything on loopback.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, createServer, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocketServer } from 'ws';
import { opensslMissing, selfSignedCertificate } from '../../../../scripts/lib/tls.js';
import { noProxyMatches, resolveProxy } from '../../src/client/connect.js';
import type { ClientOptions } from '../../src/client/options.js';
import { connect as connectClient } from '../../src/client/session.js';
import { WebSocket } from '../../src/client/websocket.js';
import { WebSocket as WsWebSocket } from '../../src/ws/index.js';
import { errorMessage, record, startRawServer, startWsEcho, withRawServer } from './helpers.js';

/** Connect, send one message, expect it echoed, close; returns the recorded events. */
async function echoOnce(url: string, options: ClientOptions = {}): Promise<unknown[]> {
  const ws = new WebSocket(url, [], options);
  const events = record(ws);
  ws.addEventListener('open', () => ws.send('ping?'));
  ws.addEventListener('message', () => ws.close(1000));
  return events;
}

const ECHOED = [
  ['open', 1, ''],
  ['message', 'text:ping?'],
  ['close', 3, 1000, '', true],
];

/** A tiny HTTP CONNECT proxy on loopback that records each CONNECT head. */
async function startProxy(options: { refuse?: boolean } = {}) {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.on('error', () => {});
    client.on('close', () => sockets.delete(client));
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      client.off('data', onData);
      requests.push(head.slice(0, end));
      if (options.refuse) {
        client.end('HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      const [host, port] = (/^CONNECT (\S+):(\d+) /.exec(head) ?? []).slice(1);
      const upstream = connect(Number(port), host === 'localhost' ? '127.0.0.1' : host);
      sockets.add(upstream);
      upstream.on('error', () => client.destroy());
      upstream.on('close', () => sockets.delete(upstream));
      upstream.once('connect', () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        const rest = Buffer.from(head.slice(end + 4), 'latin1');
        if (rest.length > 0) upstream.write(rest);
        client.pipe(upstream).pipe(client);
      });
    };
    client.on('data', onData);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Run `fn` with environment variables set, restoring them afterwards. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved: Record<string, string | undefined> = {};
  for (const name of Object.keys(vars)) {
    saved[name] = process.env[name];
    if (vars[name] === undefined) delete process.env[name];
    else process.env[name] = vars[name];
  }
  try {
    return await fn();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

const NO_PROXY_ENV = {
  HTTP_PROXY: undefined,
  http_proxy: undefined,
  HTTPS_PROXY: undefined,
  https_proxy: undefined,
  NO_PROXY: undefined,
  no_proxy: undefined,
};

describe('headers and origin', () => {
  test('extra headers and Origin are sent with the upgrade request', { timeout: 20_000 }, async () => {
    let request = '';
    await withRawServer(
      (socket, head, accept) => {
        request = head;
        socket.write(accept());
        socket.end();
      },
      async (raw) => {
        await record(
          new WebSocket(`${raw.url}/path?q=1`, [], {
            headers: { 'X-Token': 'abc', 'User-Agent': 'sockeye-test' },
            origin: 'https://app.example',
          }),
        );
        assert.match(request, /^GET \/path\?q=1 HTTP\/1\.1\r\n/);
        assert.match(request, /\r\nX-Token: abc\r\n/i);
        assert.match(request, /\r\nUser-Agent: sockeye-test\r\n/i);
        assert.match(request, /\r\nOrigin: https:\/\/app\.example\r\n/);
      },
    );
  });

  test('a header value with CR/LF never reaches the wire: the constructor refuses it', {
    timeout: 20_000,
  }, async () => {
    let requests = 0;
    await withRawServer(
      () => {
        requests++;
      },
      async (raw) => {
        assert.throws(
          () => new WebSocket(raw.url, [], { headers: { 'X-Evil': 'a\r\nInjected: yes' } }),
          (error: unknown) =>
            error instanceof TypeError && /headers: invalid value for X-Evil/.test(error.message),
        );
        // Refused before any socket was opened.
        assert.equal(requests, 0);
      },
    );
  });
});

describe('proxy (HTTP CONNECT)', () => {
  test('resolveProxy and NO_PROXY follow the curl conventions', () => {
    const ws = new URL('ws://api.example.com:8080/');
    const wss = new URL('wss://api.example.com/');
    const env = { HTTP_PROXY: 'http://proxy:3128', HTTPS_PROXY: 'proxy-s:3129' };
    assert.equal(resolveProxy(ws, undefined, env)?.href, 'http://proxy:3128/');
    assert.equal(resolveProxy(wss, undefined, env)?.href, 'http://proxy-s:3129/');
    assert.equal(resolveProxy(ws, undefined, { http_proxy: 'http://lower:1' })?.host, 'lower:1');
    assert.equal(resolveProxy(ws, false, env), null);
    assert.equal(resolveProxy(ws, 'http://explicit:9', { ...env, NO_PROXY: '*' })?.host, 'explicit:9');
    assert.equal(resolveProxy(ws, undefined, { ...env, NO_PROXY: 'example.com' }), null);
    assert.equal(resolveProxy(ws, undefined, {}), null);
    assert.throws(() => resolveProxy(ws, 'socks5://s:1080'), /Unsupported proxy scheme/);
    const cases: Array<[string, string, boolean]> = [
      ['ws://a.example.com/', 'example.com', true],
      ['ws://a.example.com/', '.example.com', true],
      ['ws://a.example.com/', '*.example.com', true],
      ['ws://example.com/', 'example.com', true],
      ['ws://badexample.com/', 'example.com', false],
      ['ws://example.com:8080/', 'example.com:8080', true],
      ['ws://example.com:8080/', 'example.com:9090', false],
      ['ws://example.com/', 'example.com:80', true],
      ['wss://example.com/', 'example.com:443', true],
      ['ws://127.0.0.1:5000/', 'localhost, 127.0.0.1', true],
      ['ws://[::1]:5000/', '[::1]', true],
      ['ws://[::1]:5000/', '[::1]:5000', true],
      ['ws://anything/', '*', true],
      ['ws://anything/', '', false],
    ];
    for (const [url, noProxy, expected] of cases) {
      assert.equal(noProxyMatches(new URL(url), noProxy), expected, `${url} vs NO_PROXY=${noProxy}`);
    }
  });

  test('the proxy option tunnels the connection, with Basic credentials', { timeout: 20_000 }, async () => {
    const echo = await startWsEcho();
    const proxy = await startProxy();
    try {
      const proxyUrl = proxy.url.replace('http://', 'http://user:p%40ss@');
      assert.deepEqual(await echoOnce(echo.url, { proxy: proxyUrl }), ECHOED);
      assert.equal(proxy.requests.length, 1);
      const port = new URL(echo.url).port;
      assert.match(proxy.requests[0] ?? '', new RegExp(`^CONNECT 127\\.0\\.0\\.1:${port} HTTP/1\\.1\r\n`));
      const auth = Buffer.from('user:p@ss').toString('base64');
      assert.match(proxy.requests[0] ?? '', new RegExp(`Proxy-Authorization: Basic ${auth}`));
    } finally {
      await proxy.close();
      await echo.close();
    }
  });

  test('HTTP_PROXY from the environment, unless NO_PROXY matches', { timeout: 20_000 }, async () => {
    const echo = await startWsEcho();
    const proxy = await startProxy();
    try {
      await withEnv({ ...NO_PROXY_ENV, HTTP_PROXY: proxy.url }, async () => {
        assert.deepEqual(await echoOnce(echo.url), ECHOED);
      });
      assert.equal(proxy.requests.length, 1);
      await withEnv({ ...NO_PROXY_ENV, http_proxy: proxy.url, NO_PROXY: 'localhost,127.0.0.1' }, async () => {
        assert.deepEqual(await echoOnce(echo.url), ECHOED);
      });
      assert.equal(proxy.requests.length, 1, 'NO_PROXY bypassed the proxy');
      await withEnv({ ...NO_PROXY_ENV, HTTP_PROXY: proxy.url }, async () => {
        assert.deepEqual(await echoOnce(echo.url, { proxy: false }), ECHOED);
      });
      assert.equal(proxy.requests.length, 1, 'proxy: false bypassed the proxy');
    } finally {
      await proxy.close();
      await echo.close();
    }
  });

  test('a proxy that refuses the tunnel fails the handshake with its status', {
    timeout: 20_000,
  }, async () => {
    const proxy = await startProxy({ refuse: true });
    try {
      const ws = new WebSocket('ws://127.0.0.1:1/', [], { proxy: proxy.url });
      const message = errorMessage(ws);
      assert.deepEqual(await record(ws), [
        ['error', 3],
        ['close', 3, 1006, '', false],
      ]);
      assert.match(await message, /Proxy refused the tunnel: 407/);
    } finally {
      await proxy.close();
    }
  });
});

describe('TLS (wss)', { skip: opensslMissing() }, () => {
  let cert: Buffer;
  let key: Buffer;
  let server: ReturnType<typeof createHttpsServer>;
  let wss: WebSocketServer;
  let port = 0;

  before(async () => {
    ({ cert, key } = selfSignedCertificate());
    // Client certificates are requested (and checked against the same self-signed CA) on
    // paths under /mtls; the rest accept any client.
    server = createHttpsServer({ cert, key, ca: [cert], requestCert: true, rejectUnauthorized: false });
    wss = new WebSocketServer({ noServer: true });
    server.on('upgrade', (request, socket, head) => {
      if (request.url?.startsWith('/redirect?to=')) {
        const location = decodeURIComponent(request.url.slice('/redirect?to='.length));
        socket.end(`HTTP/1.1 302 Found\r\nLocation: ${location}\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      const tlsSocket = socket as import('node:tls').TLSSocket;
      if (request.url?.startsWith('/mtls') && !tlsSocket.authorized) {
        socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => {
        ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as { port: number }).port;
  });

  after(async () => {
    for (const client of wss?.clients ?? []) client.terminate();
    await new Promise((resolve) => server?.close(resolve));
  });

  test('a redirect from wss: to ws: (or http:) is refused, the request never sent in clear', {
    timeout: 20_000,
  }, async () => {
    let plainRequests = 0;
    const plain = await startRawServer((socket, _request, accept) => {
      plainRequests++;
      socket.write(accept());
    });
    const plainPort = new URL(plain.url).port;
    try {
      for (const location of [`ws://127.0.0.1:${plainPort}/`, `http://127.0.0.1:${plainPort}/`]) {
        const ws = new WebSocket(`wss://localhost:${port}/redirect?to=${encodeURIComponent(location)}`, [], {
          ca: [cert],
          followRedirects: true,
          headers: { Authorization: 'Bearer secret' },
        });
        const error = new Promise<unknown>((resolve) =>
          ws.addEventListener('error', (event) => resolve((event as Event & { error: unknown }).error)),
        );
        assert.deepEqual(await record(ws), [
          ['error', 3],
          ['close', 3, 1006, '', false],
        ]);
        const caught = (await error) as { code?: string; message?: string };
        assert.equal(caught.code, 'insecure-redirect');
        assert.match(caught.message ?? '', /^Redirect from wss: to ws: refused/);
      }
      assert.equal(plainRequests, 0, 'nothing was sent to the ws: server');
    } finally {
      await plain.close();
    }
  });

  test('ca: a self-signed server certificate is trusted when given', { timeout: 20_000 }, async () => {
    assert.deepEqual(await echoOnce(`wss://localhost:${port}/`, { ca: [cert] }), ECHOED);
    assert.deepEqual(await echoOnce(`wss://127.0.0.1:${port}/`, { ca: [cert] }), ECHOED);
  });

  test('without ca the certificate is refused; rejectUnauthorized: false accepts it', {
    timeout: 20_000,
  }, async () => {
    const ws = new WebSocket(`wss://localhost:${port}/`);
    const message = errorMessage(ws);
    assert.deepEqual(await record(ws), [
      ['error', 3],
      ['close', 3, 1006, '', false],
    ]);
    assert.match(await message, /self[- ]signed/i);
    assert.deepEqual(await echoOnce(`wss://localhost:${port}/`, { rejectUnauthorized: false }), ECHOED);
  });

  test('client certificates: refused without, accepted with cert and key', { timeout: 20_000 }, async () => {
    const ws = new WebSocket(`wss://localhost:${port}/mtls`, [], { ca: [cert] });
    const message = errorMessage(ws);
    await record(ws);
    assert.match(await message, /403/);
    assert.deepEqual(await echoOnce(`wss://localhost:${port}/mtls`, { ca: [cert], cert, key }), ECHOED);
  });

  test('wss through HTTPS_PROXY: CONNECT, then TLS inside the tunnel', { timeout: 20_000 }, async () => {
    const proxy = await startProxy();
    try {
      await withEnv(
        { ...NO_PROXY_ENV, HTTPS_PROXY: proxy.url, HTTP_PROXY: 'http://127.0.0.1:1' },
        async () => {
          assert.deepEqual(await echoOnce(`wss://localhost:${port}/`, { ca: [cert] }), ECHOED);
        },
      );
      assert.equal(proxy.requests.length, 1);
      assert.match(proxy.requests[0] ?? '', new RegExp(`^CONNECT localhost:${port} `));
    } finally {
      await proxy.close();
    }
  });
});

describe('redirects', () => {
  let echo: Awaited<ReturnType<typeof startWsEcho>>;
  let redirector: HttpServer;
  let base = '';

  before(async () => {
    echo = await startWsEcho();
    // /hop/N redirects to /hop/N-1; /hop/0 redirects to the echo server; /loop loops.
    redirector = createHttpServer((request, response) => {
      const hop = /^\/hop\/(\d+)$/.exec(request.url ?? '');
      let location: string;
      if (hop !== null && hop[1] === '0') location = `${echo.url}/final`;
      else if (hop !== null) location = `/hop/${Number(hop[1]) - 1}`;
      else location = '/loop';
      response.writeHead(hop !== null && hop[1] === '0' ? 301 : 302, { location });
      response.end();
    });
    redirector.listen(0, '127.0.0.1');
    await once(redirector, 'listening');
    base = `ws://127.0.0.1:${(redirector.address() as { port: number }).port}`;
  });

  after(async () => {
    await new Promise((resolve) => redirector?.close(resolve));
    await echo?.close();
  });

  test('followRedirects: true follows 301/302 (relative and absolute) to the WebSocket server', {
    timeout: 20_000,
  }, async () => {
    const ws = new WebSocket(`${base}/hop/3`, [], { followRedirects: true });
    const events = record(ws);
    ws.addEventListener('open', () => ws.send('ping?'));
    ws.addEventListener('message', () => ws.close(1000));
    assert.deepEqual(await events, ECHOED);
    assert.equal(ws.url, `${base}/hop/3`, 'url stays the one constructed with');
  });

  test('the redirect limit stops a loop, and a numeric limit counts hops', { timeout: 20_000 }, async () => {
    const looping = new WebSocket(`${base}/loop`, [], { followRedirects: true });
    const loopMessage = errorMessage(looping);
    await record(looping);
    assert.match(await loopMessage, /Too many redirects \(more than 10\)/);

    const short = new WebSocket(`${base}/hop/3`, [], { followRedirects: 3 });
    const shortMessage = errorMessage(short);
    await record(short);
    assert.match(await shortMessage, /Too many redirects \(more than 3\)/);

    assert.deepEqual(await echoOnce(`${base}/hop/2`, { followRedirects: 3 }), ECHOED);
  });
});

describe('redirects and credentials', () => {
  const CREDENTIALS = {
    Authorization: 'Bearer secret',
    cookie: 'session=secret',
    'Proxy-Authorization': 'Basic c2VjcmV0',
    'X-Trace': 'kept',
  };
  /**
   * A raw server that answers `GET /start` with a redirect to `location(port)` and any other
   * request with a 101, recording every request head it gets.
   */
  async function redirecting(location: (url: string) => string) {
    const heads: string[] = [];
    const raw = await startRawServer((socket, request, accept) => {
      heads.push(request);
      if (request.startsWith('GET /start ')) {
        socket.end(`HTTP/1.1 302 Found\r\nLocation: ${location(raw.url)}\r\nContent-Length: 0\r\n\r\n`);
      } else {
        socket.write(accept());
        socket.once('data', () => socket.destroy()); // our close frame: done, no closing handshake
      }
    });
    return { raw, heads };
  }
  /** Open `url` with the credential headers, close at once, and return the close event. */
  async function openAndClose(url: string): Promise<unknown[]> {
    const ws = new WebSocket(url, [], { followRedirects: true, headers: CREDENTIALS });
    const events = record(ws);
    ws.addEventListener('open', () => ws.close());
    return events;
  }
  const hasCredentials = (head: string) => ({
    authorization: /^authorization: Bearer secret\r$/im.test(head),
    cookie: /^cookie: session=secret\r$/im.test(head),
    proxyAuthorization: /^proxy-authorization: Basic c2VjcmV0\r$/im.test(head),
    other: /^x-trace: kept\r$/im.test(head),
  });
  const ALL = { authorization: true, cookie: true, proxyAuthorization: true, other: true };
  const NONE = { authorization: false, cookie: false, proxyAuthorization: false, other: true };

  test('a same-origin redirect keeps Authorization, Cookie and Proxy-Authorization', {
    timeout: 20_000,
  }, async () => {
    const { raw, heads } = await redirecting(() => '/final');
    try {
      const events = await openAndClose(`${raw.url}/start`);
      assert.deepEqual(events[0], ['open', 1, '']);
      assert.equal(heads.length, 2);
      assert.deepEqual(heads.map(hasCredentials), [ALL, ALL]);
    } finally {
      await raw.close();
    }
  });

  test('a cross-origin redirect drops them (another port, another host name), and they stay dropped', {
    timeout: 20_000,
  }, async () => {
    const final = await redirecting(() => '/final');
    // First server -> final server's /start (another port) -> /final on it (same origin as the hop before).
    const { raw, heads } = await redirecting(() => `${final.raw.url}/start`);
    // localhost and 127.0.0.1 are different origins even on the same port.
    const byName = await redirecting((url) => `${url.replace('127.0.0.1', 'localhost')}/final`);
    try {
      assert.deepEqual((await openAndClose(`${raw.url}/start`))[0], ['open', 1, '']);
      assert.deepEqual(heads.map(hasCredentials), [ALL]);
      assert.deepEqual(final.heads.map(hasCredentials), [NONE, NONE]);

      assert.deepEqual((await openAndClose(`${byName.raw.url}/start`))[0], ['open', 1, '']);
      assert.deepEqual(byName.heads.map(hasCredentials), [ALL, NONE]);
    } finally {
      await raw.close();
      await final.raw.close();
      await byName.raw.close();
    }
  });

  test('redirects are counted: the limit is reached with a stable code', { timeout: 20_000 }, async () => {
    const { raw } = await redirecting(() => '/start');
    try {
      const ws = new WebSocket(`${raw.url}/start`, [], { followRedirects: 2 });
      const error = new Promise<unknown>((resolve) =>
        ws.addEventListener('error', (event) => resolve((event as Event & { error: unknown }).error)),
      );
      await record(ws);
      const caught = (await error) as { code?: string; message?: string };
      assert.equal(caught.code, 'too-many-redirects');
      assert.match(caught.message ?? '', /Too many redirects \(more than 2\)/);
    } finally {
      await raw.close();
    }
  });
});

describe('signal', () => {
  test('aborting fails the opening handshake', { timeout: 20_000 }, async () => {
    await withRawServer(
      () => {},
      async (raw) => {
        const controller = new AbortController();
        const ws = new WebSocket(raw.url, [], { signal: controller.signal });
        const message = errorMessage(ws);
        const events = record(ws);
        setTimeout(() => controller.abort(), 50);
        assert.deepEqual(await events, [
          ['error', 3],
          ['close', 3, 1006, '', false],
        ]);
        assert.match(await message, /aborted/);

        const already = new WebSocket(raw.url, [], { signal: AbortSignal.abort() });
        assert.deepEqual(await record(already), [
          ['error', 3],
          ['close', 3, 1006, '', false],
        ]);
      },
    );
  });
});

describe('a Host header among the options', () => {
  /** The request heads a raw server gets; it answers 101 and drops TCP at our first frame. */
  async function hostRecorder() {
    const heads: string[] = [];
    const raw = await startRawServer((socket, request, accept) => {
      heads.push(request);
      socket.write(accept());
      socket.once('data', () => socket.destroy());
    });
    return { raw, heads };
  }
  const hostLines = (head: string) => head.split('\r\n').filter((line) => /^host:/i.test(line));

  test('WHATWG WebSocket and connect(): exactly one Host, the user’s (any case)', {
    timeout: 20_000,
  }, async () => {
    const { raw, heads } = await hostRecorder();
    try {
      const ws = new WebSocket(raw.url, [], { headers: { Host: 'example.test:8080', 'X-Other': 'kept' } });
      const events = record(ws);
      ws.addEventListener('open', () => ws.close());
      assert.deepEqual((await events)[0], ['open', 1, '']);

      const client = await connectClient(raw.url, { headers: { hOsT: 'lower.example.test' } });
      const closed = new Promise<void>((resolve) => client.start({ closed: () => resolve() }));
      client.close();
      await closed;

      assert.equal(heads.length, 2);
      assert.deepEqual(hostLines(heads[0]!), ['Host: example.test:8080']);
      assert.match(heads[0]!, /\r\nX-Other: kept\r\n/);
      assert.deepEqual(hostLines(heads[1]!), ['Host: lower.example.test']);
    } finally {
      await raw.close();
    }
  });

  test('without one, the Host is the URL’s', { timeout: 20_000 }, async () => {
    const { raw, heads } = await hostRecorder();
    try {
      const ws = new WebSocket(raw.url, [], { headers: { 'X-Other': 'kept' } });
      const events = record(ws);
      ws.addEventListener('open', () => ws.close());
      await events;
      assert.deepEqual(hostLines(heads[0]!), [`Host: ${new URL(raw.url).host}`]);
    } finally {
      await raw.close();
    }
  });

  test('the ws layer: exactly one Host, the user’s', { timeout: 20_000 }, async () => {
    const { raw, heads } = await hostRecorder();
    try {
      const ws = new WsWebSocket(raw.url, { headers: { Host: 'example.test' } });
      await once(ws, 'open');
      ws.terminate();
      await once(ws, 'close');
      assert.deepEqual(hostLines(heads[0]!), ['Host: example.test']);
    } finally {
      await raw.close();
    }
  });

  test('a cross-origin redirect drops the user’s Host (it named the first host)', {
    timeout: 20_000,
  }, async () => {
    const final = await hostRecorder();
    const heads: string[] = [];
    const first = await startRawServer((socket, request) => {
      heads.push(request);
      socket.end(`HTTP/1.1 302 Found\r\nLocation: ${final.raw.url}/final\r\nContent-Length: 0\r\n\r\n`);
    });
    try {
      const ws = new WebSocket(`${first.url}/start`, [], {
        followRedirects: true,
        headers: { Host: 'example.test' },
      });
      const events = record(ws);
      ws.addEventListener('open', () => ws.close());
      assert.deepEqual((await events)[0], ['open', 1, '']);
      assert.deepEqual(hostLines(heads[0]!), ['Host: example.test']);
      assert.deepEqual(hostLines(final.heads[0]!), [`Host: ${new URL(final.raw.url).host}`]);
    } finally {
      await first.close();
      await final.raw.close();
    }
  });
});
