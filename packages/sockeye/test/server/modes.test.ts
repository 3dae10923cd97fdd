/** Attached, shared and noServer modes, wss through https, heartbeats and graceful shutdown. */
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { describe, it } from 'node:test';
import { opensslMissing, selfSignedCertificate } from '../../../../scripts/lib/tls.js';
import { type ServerWebSocket, WebSocketServer } from '../../src/index.js';
import {
  closeOf,
  deferred,
  listen,
  nextMessage,
  openWs,
  RawClient,
  rawOpen,
  until,
  upgradeRequest,
} from './helpers.js';

async function httpListen(server: HttpServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function statusOf(port: number, request: string): Promise<number> {
  const client = await RawClient.connect(port);
  try {
    client.write(request);
    return (await client.response()).status;
  } finally {
    client.destroy();
  }
}

describe('attached to an HTTP server', () => {
  it('shares one HTTP server between paths, answers 404 for others, and leaves plain requests alone', async () => {
    const http = createHttpServer((_request, response) => response.end('plain http'));
    const a = new WebSocketServer({
      server: http,
      path: '/a',
      handlers: { message: (ws) => ws.send('from a') },
    });
    const b = new WebSocketServer({
      server: http,
      path: '/b',
      handlers: { message: (ws) => ws.send('from b') },
    });
    assert.throws(() => new WebSocketServer({ server: http, path: '/a', handlers: {} }), /already serves/);
    const port = await httpListen(http);
    try {
      const clientA = await openWs(`ws://127.0.0.1:${port}/a?x=1`);
      const clientB = await openWs(`ws://127.0.0.1:${port}/b`);
      clientA.send('hi');
      clientB.send('hi');
      assert.equal((await nextMessage(clientA)).data.toString(), 'from a');
      assert.equal((await nextMessage(clientB)).data.toString(), 'from b');
      assert.equal(await statusOf(port, upgradeRequest('/c', {}, port)), 404);
      const plain = await fetch(`http://127.0.0.1:${port}/a`);
      assert.equal(await plain.text(), 'plain http');
      clientA.close();
      clientB.close();
    } finally {
      await a.close();
      await b.close();
      assert.equal(http.listenerCount('upgrade'), 0, 'the router detaches when the last server closes');
      http.close();
    }
  });

  it('validates what Node parsed: 405, 400, 426 and the origin check', async () => {
    const http = createHttpServer();
    const wss = new WebSocketServer({ server: http, handlers: {} });
    const port = await httpListen(http);
    try {
      assert.equal(await statusOf(port, upgradeRequest('/', {}, port).replace('GET', 'POST')), 405);
      assert.equal(await statusOf(port, upgradeRequest('/', { 'Sec-WebSocket-Key': 'x' }, port)), 400);
      assert.equal(await statusOf(port, upgradeRequest('/', { 'Sec-WebSocket-Version': '7' }, port)), 426);
      assert.equal(await statusOf(port, upgradeRequest('/', { Origin: 'https://evil.example' }, port)), 403);
      assert.equal(await statusOf(port, upgradeRequest('/', {}, port)), 101);
    } finally {
      await wss.close();
      http.close();
    }
  });

  it('serves wss:// through an https server (self-signed certificate made with openssl)', {
    skip: opensslMissing(),
  }, async () => {
    const { key, cert } = selfSignedCertificate();
    const https = createHttpsServer({ key, cert });
    const secure = deferred<boolean>();
    const wss = new WebSocketServer({
      server: https,
      authenticate: (request) => secure.resolve(request.secure),
      handlers: { message: (ws, data) => ws.send(data) },
    });
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    const port = (https.address() as AddressInfo).port;
    try {
      const client = await openWs(`wss://127.0.0.1:${port}/`, [], { ca: cert });
      assert.equal(await secure.promise, true);
      client.send('over tls');
      assert.equal((await nextMessage(client)).data.toString(), 'over tls');
      client.close();
    } finally {
      await wss.close();
      https.close();
    }
  });
});

describe('standalone wss:// (the tls option)', () => {
  it('serves wss:// on its own port: secure in the hooks, echoes, closes cleanly', {
    skip: opensslMissing(),
  }, async () => {
    const { key, cert } = selfSignedCertificate();
    const secure = deferred<boolean>();
    const { server: wss, port } = await listen({
      tls: { key, cert },
      authenticate: (request) => secure.resolve(request.secure),
      handlers: { message: (ws, data, isBinary) => ws.send(data, isBinary) },
    });
    try {
      const client = await openWs(`wss://127.0.0.1:${port}/`, [], { ca: cert });
      assert.equal(await secure.promise, true);
      client.send(Buffer.alloc(100_000, 7));
      const echoed = await nextMessage(client);
      assert.ok(echoed.isBinary && echoed.data.equals(Buffer.alloc(100_000, 7)));
      client.close(1000, 'bye');
      assert.deepEqual(await closeOf(client), { code: 1000, reason: '' }); // the server echoes the code
      await until(() => wss.socketCount === 0, 'the TLS socket to be released');
    } finally {
      await wss.close();
    }
  });

  it('drops a client that sends plain HTTP or never starts TLS, without running any hook', {
    skip: opensslMissing(),
  }, async () => {
    const { key, cert } = selfSignedCertificate();
    let hooks = 0;
    const { server: wss, port } = await listen({
      tls: { key, cert },
      handshakeTimeout: 300,
      authenticate: () => {
        hooks++;
      },
      handlers: {},
    });
    try {
      const plain = await RawClient.connect(port);
      plain.write(upgradeRequest('/', {}, port));
      await plain.waitClosed();
      const silent = await RawClient.connect(port);
      await silent.waitClosed(); // by the TLS handshake timeout
      assert.equal(hooks, 0);
    } finally {
      await wss.close();
    }
  });

  it('the tls option needs standalone mode', () => {
    // @ts-expect-error: tls is for standalone mode only
    assert.throws(() => new WebSocketServer({ noServer: true, tls: {}, handlers: {} }), /standalone mode/);
  });
});

describe('noServer', () => {
  it('handleUpgrade takes requests from your own upgrade listener and resolves with the connection', async () => {
    const wss = new WebSocketServer({ noServer: true, handlers: { message: (ws, data) => ws.send(data) } });
    const accepted = deferred<ServerWebSocket | undefined>();
    const http = createHttpServer();
    http.on('upgrade', (request, socket: Socket, head) => {
      void wss.handleUpgrade(request, socket, head).then(accepted.resolve);
    });
    const port = await httpListen(http);
    try {
      const client = await openWs(`ws://127.0.0.1:${port}/`);
      const ws = await accepted.promise;
      assert.equal(ws?.readyState, 'open');
      assert.ok(wss.clients.has(ws!));
      client.send('echo');
      assert.equal((await nextMessage(client)).data.toString(), 'echo');
      client.close();
    } finally {
      await wss.close();
      http.close();
    }
  });

  it('constructor refuses zero or several modes', () => {
    // @ts-expect-error: no mode
    assert.throws(() => new WebSocketServer({ handlers: {} }), TypeError);
    // @ts-expect-error: two modes
    assert.throws(() => new WebSocketServer({ noServer: true, port: 0, handlers: {} }), TypeError);
  });
});

describe('heartbeat', () => {
  it('pings every pingInterval; a peer that answers stays open', async () => {
    let pongs = 0;
    const { server, url } = await listen({
      pingInterval: 50,
      pongTimeout: 200,
      handlers: { pong: () => pongs++ },
    });
    try {
      const client = await openWs(url);
      await until(() => pongs >= 3, 'three heartbeat pongs');
      assert.equal(client.readyState, client.OPEN);
      client.close();
    } finally {
      await server.close();
    }
  });

  it('a peer that does not answer within pongTimeout is terminated and reported as 1006', async () => {
    const closed = deferred<number>();
    const { server, port } = await listen({
      pingInterval: 50,
      pongTimeout: 100,
      handlers: { close: (_ws, code) => closed.resolve(code) },
    });
    try {
      const client = await rawOpen(port); // a raw client never answers pings
      assert.equal(await closed.promise, 1006);
      await client.waitClosed();
      assert.ok(
        client.frames().some((frame) => frame.opcode === 0x9),
        'a heartbeat ping was sent',
      );
      await until(() => server.socketCount === 0, 'no sockets');
    } finally {
      await server.close();
    }
  });
});

describe('graceful close()', () => {
  it('sends 1001 to every connection, waits for the closing handshakes, stops listening; idempotent', async () => {
    const { server, url, port } = await listen({ handlers: {} });
    const clients = [await openWs(url), await openWs(url)];
    const closes = clients.map((client) => closeOf(client));
    const first = server.close();
    assert.equal(server.close(), first);
    await first;
    for (const close of closes) assert.deepEqual(await close, { code: 1001, reason: 'server shutting down' });
    assert.equal(server.clients.size, 0);
    assert.equal(server.socketCount, 0);
    await assert.rejects(RawClient.connect(port));
  });

  it('refuses upgrades with 503 while draining and terminates peers that never answer at the timeout', async () => {
    const http = createHttpServer();
    const closed = deferred<number>();
    const wss = new WebSocketServer({
      server: http,
      handlers: { close: (_ws, code) => closed.resolve(code) },
    });
    const port = await httpListen(http);
    try {
      const silent = await rawOpen(port); // never answers the close frame
      const closing = wss.close({ timeout: 300 });
      await until(() => silent.frames().some((frame) => frame.opcode === 0x8), 'the 1001 close frame');
      assert.equal(
        silent
          .frames()
          .find((f) => f.opcode === 0x8)!
          .payload.readUInt16BE(0),
        1001,
      );
      assert.equal(await statusOf(port, upgradeRequest('/', {}, port)), 503);
      await closing;
      assert.equal(await closed.promise, 1006);
      await silent.waitClosed();
    } finally {
      http.close();
    }
  });
});

describe('server options and lifecycle', () => {
  it('adds the headers option to every 101 and reports protocol and extensions', async () => {
    const opened = deferred<[string, string]>();
    const { server, port } = await listen({
      headers: { 'X-Served-By': 'sockeye' },
      selectProtocol: (offered) => offered[0],
      handlers: { open: (ws) => opened.resolve([ws.protocol, ws.extensions]) },
    });
    try {
      const client = await rawOpen(port, '/', { 'Sec-WebSocket-Protocol': 'p1, p2' });
      assert.match(client.text(), /X-Served-By: sockeye\r\n/);
      assert.match(client.text(), /Sec-WebSocket-Protocol: p1\r\n/);
      assert.deepEqual(await opened.promise, ['p1', '']);
      client.destroy();
    } finally {
      await server.close();
    }
  });

  it('listen() rejects and the error event fires when the port is taken', async () => {
    const { server, port } = await listen({ handlers: {} });
    const second = new WebSocketServer({ port, host: '127.0.0.1', handlers: {} });
    const emitted = deferred<unknown>();
    second.on('error', emitted.resolve);
    try {
      await assert.rejects(second.listen(), /EADDRINUSE/);
      assert.match(String(await emitted.promise), /EADDRINUSE/);
    } finally {
      await second.close();
      await server.close();
    }
  });

  it('close() sends the code and reason it is given', async () => {
    const { server, url } = await listen({ handlers: {} });
    const client = await openWs(url);
    const closed = closeOf(client);
    await server.close({ code: 1012, reason: 'restarting' });
    assert.deepEqual(await closed, { code: 1012, reason: 'restarting' });
  });

  it('noServer with a path answers 404 for other paths', async () => {
    const wss = new WebSocketServer({ noServer: true, path: '/only', handlers: {} });
    const http = createHttpServer();
    http.on('upgrade', (request, socket: Socket, head) => void wss.handleUpgrade(request, socket, head));
    const port = await httpListen(http);
    try {
      assert.equal(await statusOf(port, upgradeRequest('/elsewhere', {}, port)), 404);
      assert.equal(await statusOf(port, upgradeRequest('/only', {}, port)), 101);
    } finally {
      await wss.close();
      http.close();
    }
  });
});
