/**
 * Hostile input (issue 3, item 5), on loopback with raw sockets: slow and silent
 * handshakes, oversized heads, protocol violations, floods, resets, many connections.
 * Every loop is bounded in count and time; nothing here asserts a duration (test
 * timeouts are the guards).
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { type ServerWebSocket, WebSocketServer } from '../../src/index.js';
import { DEFAULT_HIGH_WATER_MARK } from '../../src/protocol/limits.js';
import {
  clientFrame,
  closePayload,
  deferred,
  listen,
  RawClient,
  rawOpen,
  until,
  upgradeRequest,
} from './helpers.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Resolves false after `ms`: the losing side of a `Promise.race` against a socket event.
 * Its timer is unref'd, so one left pending after the race is not counted by
 * `activeTimers()` in a later test (the socket keeps the process alive meanwhile).
 */
const timeout = (ms: number) =>
  new Promise<false>((resolve) => {
    setTimeout(() => resolve(false), ms).unref();
  });

/**
 * Write `batch` to the server again and again from a client that never reads: at most 500
 * times, stopping once the server stops reading (a write that has not drained after 500 ms).
 * Returns the bytes sent and the peak of `buffered()` (the server side's `bufferedAmount`)
 * after each write and 200 ms after the last.
 */
async function floodUntilStalled(
  client: RawClient,
  batch: Buffer,
  buffered: () => number,
): Promise<{ peak: number; sent: number }> {
  let peak = 0;
  let sent = 0;
  for (let round = 0; round < 500; round++) {
    const drained = client.socket.write(batch);
    sent += batch.length;
    peak = Math.max(peak, buffered());
    if (!drained) {
      const drainedAgain = new Promise<boolean>((resolve) =>
        client.socket.once('drain', () => resolve(true)),
      );
      let gotDrain = await Promise.race([drainedAgain, timeout(500)]);
      // No drain in 500 ms means the server stopped reading, unless it is only slow (a
      // loaded machine): while its output is within the default high-water mark it has
      // not paused, so wait on (bounded) before calling it stalled.
      for (let wait = 0; !gotDrain && buffered() <= DEFAULT_HIGH_WATER_MARK && wait < 40; wait++) {
        gotDrain = await Promise.race([drainedAgain, timeout(500)]);
      }
      if (!gotDrain) break;
    }
  }
  await sleep(200);
  return { peak: Math.max(peak, buffered()), sent };
}

/** The close code in the first close frame the server sent. */
async function closeCodeFrom(client: RawClient): Promise<number> {
  await until(() => client.frames().some((frame) => frame.opcode === 0x8), 'a close frame');
  return client
    .frames()
    .find((frame) => frame.opcode === 0x8)!
    .payload.readUInt16BE(0);
}

/** Timers (setTimeout/setInterval) keeping this process alive. */
function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
}

async function attached(options: { maxHandshakeBytes?: number } = {}): Promise<{
  http: HttpServer;
  wss: WebSocketServer;
  port: number;
}> {
  const http = createHttpServer();
  const wss = new WebSocketServer({ server: http, handlers: {}, ...options });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return { http, wss, port: (http.address() as AddressInfo).port };
}

/** Send `request` and wait for the status code (or the connection to close without one: 0). */
async function statusFor(port: number, request: string | Buffer): Promise<number> {
  const client = await RawClient.connect(port);
  try {
    client.write(request);
    await client.waitFor(
      () => client.received.includes('\r\n\r\n') || client.closed,
      'a response or a close',
    );
    return client.received.includes('\r\n\r\n') ? Number(client.text().slice(9, 12)) : 0;
  } finally {
    client.destroy();
  }
}

describe('slow and silent handshakes', () => {
  it('a handshake trickled one byte at a time is dropped at handshakeTimeout', {
    timeout: 20_000,
  }, async () => {
    const { server, port } = await listen({ handshakeTimeout: 300, handlers: {} });
    try {
      const client = await RawClient.connect(port);
      const request = upgradeRequest('/', {}, port);
      // One byte every 20 ms: the whole request would take seconds; the server must not wait.
      for (let i = 0; i < request.length - 1 && !client.closed; i++) {
        client.write(request[i]!);
        await sleep(20);
      }
      await client.waitClosed();
      assert.equal(client.received.length, 0, 'no response, the connection is just dropped');
      assert.ok(client.received.indexOf('101') === -1);
      await until(() => server.socketCount === 0, 'the server to let go');
    } finally {
      await server.close();
    }
  });

  it('1,000 TCP connections that never send a byte are all dropped at handshakeTimeout', {
    timeout: 60_000,
  }, async () => {
    const { server, port } = await listen({ handshakeTimeout: 500, handlers: {} });
    const clients: RawClient[] = [];
    try {
      for (let batch = 0; batch < 10; batch++) {
        clients.push(...(await Promise.all(Array.from({ length: 100 }, () => RawClient.connect(port)))));
      }
      assert.equal(clients.length, 1000);
      await until(
        () => clients.every((client) => client.closed),
        'every silent connection to be dropped',
        30_000,
      );
      await until(() => server.socketCount === 0, 'the server to hold no socket');
    } finally {
      for (const client of clients) client.destroy();
      await server.close();
    }
  });
});

describe('oversized handshakes', () => {
  it('1 MB of headers gets 431 long before it is all sent (nothing buffered past the bound)', {
    timeout: 30_000,
  }, async () => {
    const { server, port } = await listen({ handlers: {} });
    try {
      const client = await RawClient.connect(port);
      client.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`);
      const line = Buffer.from(`X-Filler: ${'a'.repeat(1000)}\r\n`);
      let sent = 0;
      while (sent < 1024 * 1024 && client.received.length === 0 && !client.closed) {
        for (let i = 0; i < 4; i++) client.write(line);
        sent += 4 * line.length;
        await new Promise((resolve) => setImmediate(resolve));
      }
      const { status, body } = await client.response();
      assert.equal(status, 431);
      assert.match(body.toString(), /too large/);
      assert.ok(sent < 1024 * 1024, `the 431 came only after ${sent} bytes`);
      client.destroy();
    } finally {
      await server.close();
    }
  });

  for (const count of [2100, 5000]) {
    it(`${count} request headers get a 4xx, never a 101 (standalone and attached)`, {
      timeout: 30_000,
    }, async () => {
      // The handshake's own headers come first: a server that kept only the first N would accept.
      const request = `${upgradeRequest('/', {}, 0).replace(/\r\n$/, '') + 'a: 1\r\n'.repeat(count)}\r\n`;
      const standalone = await listen({ handlers: {} });
      const node = await attached();
      try {
        for (const port of [standalone.port, node.port]) {
          const status = await statusFor(port, request.replace('127.0.0.1:0', `127.0.0.1:${port}`));
          assert.ok(status >= 400 && status < 500, `port ${port}: status ${status}`);
        }
        // Both still serve.
        assert.equal(await statusFor(standalone.port, upgradeRequest('/', {}, standalone.port)), 101);
        assert.equal(await statusFor(node.port, upgradeRequest('/', {}, node.port)), 101);
      } finally {
        await standalone.server.close();
        await node.wss.close();
        node.http.close();
      }
    });
  }

  it('pathological Sec-WebSocket-Protocol and Sec-WebSocket-Extensions values (1 MB) are answered 400', {
    timeout: 30_000,
  }, async () => {
    const { server, port } = await listen({ maxHandshakeBytes: 4 * 1024 * 1024, handlers: {} });
    const size = 1024 * 1024;
    const values: Array<[string, string]> = [
      // The shape behind the ws ReDoS of 2021: a token, a long run of spaces, another token.
      ['Sec-WebSocket-Protocol', `a${' '.repeat(size)}b`],
      ['Sec-WebSocket-Protocol', `${'a,'.repeat(size / 2)},`],
      // The shape behind the websocket-extensions ReDoS of 2020: a quoted value full of escapes, never closed.
      ['Sec-WebSocket-Extensions', `permessage-deflate; a="${'\\a'.repeat(size / 2)}`],
      ['Sec-WebSocket-Extensions', `a${';b'.repeat(size / 2)}; =`],
    ];
    try {
      for (const [name, value] of values) {
        assert.equal(await statusFor(port, upgradeRequest('/', { [name]: value }, port)), 400, name);
      }
    } finally {
      await server.close();
    }
  });

  it('HTTP/1.0, a missing Host and POST are refused in attached mode too', async () => {
    const { http, wss, port } = await attached();
    try {
      const valid = upgradeRequest('/', {}, port);
      assert.equal(await statusFor(port, valid.replace('HTTP/1.1', 'HTTP/1.0')), 400);
      assert.equal(await statusFor(port, upgradeRequest('/', { Host: '' }, port)), 400);
      assert.equal(await statusFor(port, valid.replace('GET', 'POST')), 405);
    } finally {
      await wss.close();
      http.close();
    }
  });
});

describe('wrong-protocol peers', () => {
  it('a TLS ClientHello on a plain port gets 400 and the connection is closed at once', {
    timeout: 20_000,
  }, async () => {
    // A minute of handshakeTimeout: only closing at once finishes within the test's timeout.
    const { server, port } = await listen({ handshakeTimeout: 60_000, handlers: {} });
    try {
      const client = await RawClient.connect(port);
      // The first bytes of a TLS 1.2 ClientHello record: handshake (0x16), version 3.1.
      client.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0xf4, 0x01, 0x00, 0x00, 0xf0, 0x03, 0x03]));
      await client.waitClosed(15_000);
      assert.match(client.text(), /^HTTP\/1\.1 400 Bad Request\r\n/);
      assert.match(client.text(), /TLS handshake on a plain-text port/);
      await until(() => server.socketCount === 0, 'the server to let go');
    } finally {
      await server.close();
    }
  });

  it('a real TLS client on a plain port fails at once (OpenSSL reads the 400 as a wrong version)', {
    timeout: 20_000,
  }, async () => {
    const { server, port } = await listen({ handshakeTimeout: 60_000, handlers: {} });
    try {
      const code = await new Promise<string | undefined>((resolve) => {
        const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false });
        socket.once('error', (error: Error & { code?: string }) => resolve(error.code));
        socket.once('secureConnect', () => resolve('a TLS session with a plain server?'));
        // A hang guard, so that a server that holds the ClientHello fails the test and ends.
        socket.setTimeout(15_000, () => {
          socket.destroy();
          resolve('held until the guard');
        });
      });
      // ERR_SSL_WRONG_VERSION_NUMBER with Node 20's OpenSSL; the name may differ in others.
      assert.match(code ?? '', /^ERR_SSL_/);
    } finally {
      await server.close();
    }
  });

  it('a request with LF line endings gets 400 at once, not a wait for a CRLF CRLF that never comes', {
    timeout: 20_000,
  }, async () => {
    const { server, port } = await listen({ handshakeTimeout: 60_000, handlers: {} });
    try {
      const client = await RawClient.connect(port);
      client.write(upgradeRequest('/', {}, port).replaceAll('\r\n', '\n'));
      await client.waitClosed(15_000);
      assert.match(client.text(), /^HTTP\/1\.1 400 Bad Request\r\n/);
    } finally {
      await server.close();
    }
  });

  it('another byte no HTTP/1.x request starts with gets 400 at once too (an SSH banner is fine: it is a token)', {
    timeout: 20_000,
  }, async () => {
    const { server, port } = await listen({ handshakeTimeout: 60_000, handlers: {} });
    try {
      for (const first of [0x00, 0x05, 0xff]) {
        const client = await RawClient.connect(port);
        client.write(Buffer.from([first, 0x01, 0x02]));
        await client.waitClosed(15_000);
        assert.match(client.text(), /^HTTP\/1\.1 400 /);
      }
    } finally {
      await server.close();
    }
  });
});

describe('protocol violations', () => {
  it('an unmasked client frame gets 1002', async () => {
    const { server, port } = await listen({ handlers: {} });
    try {
      const client = await rawOpen(port);
      client.write(clientFrame(0x1, 'unmasked', { mask: false }));
      assert.equal(await closeCodeFrom(client), 1002);
      await client.waitClosed();
    } finally {
      await server.close();
    }
  });

  it('invalid UTF-8 gets 1007', async () => {
    const { server, port } = await listen({ handlers: {} });
    try {
      const client = await rawOpen(port);
      client.write(clientFrame(0x1, Buffer.from([0x68, 0xc3, 0x28])));
      assert.equal(await closeCodeFrom(client), 1007);
      await client.waitClosed();
    } finally {
      await server.close();
    }
  });

  it('invalid UTF-8 split across fragments gets 1007 before the message ends (fail fast)', async () => {
    const messages: unknown[] = [];
    const { server, port } = await listen({ handlers: { message: (_ws, data) => messages.push(data) } });
    try {
      const client = await rawOpen(port);
      // "κ" is ce ba; the first fragment ends inside it, the second continues with a non-continuation byte.
      client.write(clientFrame(0x1, Buffer.from([0x61, 0xce]), { fin: false }));
      client.write(clientFrame(0x0, Buffer.from([0x41]), { fin: false }));
      assert.equal(await closeCodeFrom(client), 1007);
      assert.equal(messages.length, 0);
      await client.waitClosed();
    } finally {
      await server.close();
    }
  });

  it('a frame declaring 2^62 bytes is refused with 1009 without allocating it', async () => {
    const { server, port } = await listen({ handlers: {} });
    try {
      const client = await rawOpen(port);
      const before = process.memoryUsage().arrayBuffers;
      const header = Buffer.alloc(14);
      header[0] = 0x82;
      header[1] = 0x80 | 127;
      header.writeBigUInt64BE(2n ** 62n, 2);
      client.write(Buffer.concat([header, Buffer.alloc(1000)]));
      assert.equal(await closeCodeFrom(client), 1009);
      await client.waitClosed();
      const grown = process.memoryUsage().arrayBuffers - before;
      assert.ok(grown < 16 * 1024 * 1024, `array buffers grew by ${grown} bytes`);
    } finally {
      await server.close();
    }
  });
});

describe('floods, resets and crowds', () => {
  it('a ping flood from a client that never reads keeps the server buffer within maxBufferedBytes', {
    timeout: 60_000,
  }, async () => {
    const maxBufferedBytes = 1024 * 1024;
    let serverSide: ServerWebSocket | null = null;
    const { server, port } = await listen({
      maxBufferedBytes,
      handlers: {
        open(ws) {
          serverSide = ws;
        },
      },
    });
    try {
      const client = await rawOpen(port);
      client.socket.pause(); // never read a pong
      await until(() => serverSide !== null, 'open');
      const ping = clientFrame(0x9, Buffer.alloc(125, 0x70));
      const batch = Buffer.concat(Array.from({ length: 1000 }, () => ping)); // 131 KB of pings
      // At most 64 MB of pings, stopping once the server stops reading (our writes stop draining).
      const { peak, sent } = await floodUntilStalled(client, batch, () => serverSide!.bufferedAmount);
      // The server stopped reading when its output passed the high-water mark, so what it
      // holds for this peer is bounded by that plus the pongs of one read (a small constant).
      assert.ok(
        peak <= maxBufferedBytes + 256 * 1024,
        `server buffered ${peak} bytes after ${sent} bytes of pings`,
      );
      assert.ok(sent > 4 * maxBufferedBytes, `the flood was too small to prove anything (${sent} bytes)`);
      client.destroy();
    } finally {
      await server.close();
    }
  });

  it('a message flood to an echo from a client that never reads is bounded the same way', {
    timeout: 60_000,
  }, async () => {
    const maxBufferedBytes = 1024 * 1024;
    let serverSide: ServerWebSocket | null = null;
    const { server, port } = await listen({
      maxBufferedBytes,
      handlers: {
        open(ws) {
          serverSide = ws;
        },
        message: (ws, data, isBinary) => ws.send(data, isBinary),
      },
    });
    try {
      const client = await rawOpen(port);
      client.socket.pause();
      await until(() => serverSide !== null, 'open');
      const batch = Buffer.concat(
        Array.from({ length: 128 }, () => clientFrame(0x2, Buffer.alloc(1024, 0x61))),
      );
      const { peak, sent } = await floodUntilStalled(client, batch, () => serverSide!.bufferedAmount);
      assert.ok(peak <= maxBufferedBytes, `server buffered ${peak} bytes after ${sent} bytes of messages`);
      assert.ok(sent > 4 * maxBufferedBytes, `the flood was too small to prove anything (${sent} bytes)`);
      assert.equal(serverSide!.readyState, 'open', 'a slow reader is paused, not punished');
      client.destroy();
    } finally {
      await server.close();
    }
  });

  it('a highWaterMark below the 16 KiB socket mark of Node holds: reading pauses as soon as the output passes it', {
    timeout: 60_000,
  }, async () => {
    const highWaterMark = 2048;
    const reply = 8192;
    let serverSide: ServerWebSocket | null = null;
    let notify: (() => void) | null = null;
    const { server, port } = await listen({
      highWaterMark,
      handlers: {
        open(ws) {
          serverSide = ws;
        },
        message(ws) {
          ws.send(Buffer.alloc(reply, 0x62));
          // After the handler, the server decides on backpressure; look once it has.
          setImmediate(() => notify?.());
        },
      },
    });
    try {
      const client = await rawOpen(port);
      client.socket.pause(); // never read a reply: the kernel buffers fill, then the socket's
      await until(() => serverSide !== null, 'open');
      let pausedAt: number | null = null;
      let rounds = 0;
      // One message at a time (at most 4,000 replies, 32 MiB), until the server stops reading.
      for (; rounds < 4000 && pausedAt === null; rounds++) {
        const handled = new Promise<boolean>((resolve) => {
          notify = () => resolve(true);
        });
        client.write(clientFrame(0x2, Buffer.from('x')));
        let progressed = await Promise.race([handled, timeout(2000)]);
        // Neither handled nor paused: the server may only be slow (a loaded machine). Wait on, bounded.
        for (let wait = 0; !progressed && !serverSide!._socket.isPaused() && wait < 10; wait++) {
          progressed = await Promise.race([handled, timeout(2000)]);
        }
        if (serverSide!._socket.isPaused()) pausedAt = serverSide!.bufferedAmount;
        else if (!progressed) break;
      }
      assert.notEqual(pausedAt, null, `the server never paused reading (${rounds} messages)`);
      // Paused by the first reply that took the socket past the mark, not at Node's 16 KiB.
      assert.ok(pausedAt! <= highWaterMark + reply + 4, `paused with ${pausedAt} bytes buffered`);
      assert.equal(serverSide!.readyState, 'open');
      client.destroy();
    } finally {
      await server.close();
    }
  });

  it('a connection reset mid-frame leaks nothing: no client, no socket, no timer', async () => {
    const baseline = activeTimers();
    const closed = deferred<number>();
    const { server, port } = await listen({ handlers: { close: (_ws, code) => closed.resolve(code) } });
    try {
      const client = await rawOpen(port);
      const frame = clientFrame(0x2, Buffer.alloc(10_000, 1));
      client.write(frame.subarray(0, 5000));
      await sleep(50);
      client.socket.resetAndDestroy();
      assert.equal(await closed.promise, 1006);
      await until(() => server.socketCount === 0 && server.clients.size === 0, 'the server to let go');
      await until(() => activeTimers() === baseline, 'the sweep timer to stop');
    } finally {
      await server.close();
    }
  });

  it('2,000 concurrent connections connect, echo and close, and the server still answers', {
    timeout: 120_000,
  }, async () => {
    const { server, port } = await listen({
      handlers: { message: (ws, data, isBinary) => ws.send(data, isBinary) },
    });
    const clients: RawClient[] = [];
    try {
      for (let batch = 0; batch < 20; batch++) {
        clients.push(...(await Promise.all(Array.from({ length: 100 }, () => rawOpen(port)))));
      }
      assert.equal(server.clients.size, 2000);
      for (const [i, client] of clients.entries()) client.write(clientFrame(0x1, `hello ${i}`));
      await until(() => clients.every((client) => client.frames().length >= 1), 'every echo', 60_000);
      for (const [i, client] of clients.entries()) {
        assert.equal(client.frames()[0]!.payload.toString(), `hello ${i}`);
      }
      for (const client of clients) client.write(clientFrame(0x8, closePayload(1000)));
      await until(() => clients.every((client) => client.closed), 'every close', 60_000);
      await until(() => server.socketCount === 0, 'the server to hold no socket', 30_000);
      const after = await rawOpen(port);
      after.write(clientFrame(0x1, 'still alive'));
      await until(() => after.frames().length === 1, 'an echo after the crowd');
      assert.equal(after.frames()[0]!.payload.toString(), 'still alive');
      after.destroy();
    } finally {
      for (const client of clients) client.destroy();
      await server.close();
    }
  });

  it('a client that sends a close frame and then never closes TCP: the server closes it once it has answered', async () => {
    // A close timeout no test waits for: only the server closing at once ends TCP in time.
    const { server, port } = await listen({ closeTimeout: 600_000, handlers: {} });
    try {
      const client = await rawOpen(port);
      // Keep our side open after the server's FIN: nothing of ours ends the TCP connection.
      client.socket.allowHalfOpen = true;
      client.write(clientFrame(0x8, closePayload(1000)));
      await until(() => client.ended, "the server's FIN");
      const answer = client.frames().find((f) => f.opcode === 0x8);
      assert.ok(answer !== undefined, 'the close answer came before the FIN');
      assert.equal(answer.payload.readUInt16BE(0), 1000);
      await until(() => server.socketCount === 0, 'the server to let go of the TCP connection');
      assert.equal(server.clients.size, 0);
      client.destroy();
    } finally {
      await server.close();
    }
  });
});
