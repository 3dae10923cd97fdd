/**
 * The WHATWG WebSocket client against the standard: argument checks (beside Node's built-in
 * client), event order on normal close, server abort, failed handshakes, limits and the
 * close timeout. Servers are on loopback: `ws` for well-behaved peers, raw TCP for the rest.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { WebSocketServer } from 'ws';
import { WebSocket } from '../../src/client/websocket.js';
import { HandshakeError } from '../../src/protocol/errors.js';
import { WebSocketServer as SockeyeServer } from '../../src/server/server.js';
import {
  closePayload,
  errorMessage,
  record,
  serverFrame,
  startRawServer,
  startWsEcho,
  withRawServer,
} from './helpers.js';
import {
  type EventCaseServers,
  EXPECTED,
  EXPECTED_EVENTS,
  runArgumentCases,
  runEventCases,
  type WebSocketConstructor,
} from './standard-cases.js';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Where Node's built-in client (undici) differs from the standard, by Node major (undici 6
 * in Node 20 and 22, 7 in Node 24, 8 in Node 26). Each entry is checked: if undici starts
 * following the standard there, this test fails and the entry (and docs/client.md) must be
 * updated.
 */
const BUILTIN_DIFFERENCES: Readonly<Record<string, string>> =
  Number(process.versions.node.split('.')[0]) >= 24
    ? {
        // The standard: a connection closed without a close frame fires close (1006) alone;
        // undici 7 and 8 fire error first.
        'events: server resets after a message': 'open(1) message(hello) error(3) close(3,1006,false)',
      }
    : {
        // The standard: "fail the WebSocket connection", then error and close (1006) events.
        // undici 6 fires error (twice after close()) but never close, and readyState
        // stays CLOSING / CONNECTING.
        'events: close() while connecting': 'error(0) error(2) no-close',
        'events: connection refused': 'error(0) no-close',
        'events: wrong Sec-WebSocket-Accept': 'error(0) no-close',
      };

/** The misbehaving servers of the event cases; `close()` stops them. */
async function eventServers(): Promise<EventCaseServers & { close(): Promise<void> }> {
  const refused = await startRawServer(() => {});
  await refused.close();
  const resetting = await startRawServer((socket, _request, accept) => {
    socket.write(accept());
    socket.write(serverFrame(0x1, 'hello'));
    socket.once('data', () => socket.resetAndDestroy());
  });
  const badAccept = await startRawServer((socket) =>
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n',
    ),
  );
  return {
    refused: refused.url,
    resetting: resetting.url,
    badAccept: badAccept.url,
    close: async () => {
      await resetting.close();
      await badAccept.close();
    },
  };
}

describe('constructor, send() and close() arguments (WHATWG table)', () => {
  test('sockeye gives exactly what the standard requires', { timeout: 30_000 }, async () => {
    const echo = await startWsEcho();
    try {
      const host = echo.url.slice('ws://'.length);
      const WS = WebSocket as unknown as WebSocketConstructor;
      assert.deepEqual(await runArgumentCases(WS, host), EXPECTED);
      const servers = await eventServers();
      try {
        assert.deepEqual(await runEventCases(WS, host, servers), EXPECTED_EVENTS);
      } finally {
        await servers.close();
      }
    } finally {
      await echo.close();
    }
  });

  test("Node's built-in client agrees except where noted", { timeout: 60_000 }, async (t) => {
    const echo = await startWsEcho();
    const servers = await eventServers();
    try {
      const host = echo.url.slice('ws://'.length);
      const { refused, resetting, badAccept } = servers;
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [
          '--experimental-websocket',
          '--no-warnings',
          '--import',
          'tsx',
          join(here, 'run-builtin.ts'),
          host,
          JSON.stringify({ refused, resetting, badAccept }),
        ],
        { timeout: 50_000 },
      );
      const builtin = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, string>;
      assert.notEqual(builtin.unavailable, true, 'node --experimental-websocket has no WebSocket');
      const differences: Record<string, string> = {};
      for (const [name, expected] of Object.entries({ ...EXPECTED, ...EXPECTED_EVENTS })) {
        if (builtin[name] !== expected) differences[name] = builtin[name] ?? 'missing';
      }
      t.diagnostic(`built-in client differences: ${JSON.stringify(differences)}`);
      assert.deepEqual(differences, BUILTIN_DIFFERENCES);
    } finally {
      await servers.close();
      await echo.close();
    }
  });

  test('send() without an argument is a TypeError; the constructor needs a URL', async () => {
    assert.throws(() => new (WebSocket as unknown as new () => WebSocket)(), TypeError);
    const echo = await startWsEcho();
    try {
      const ws = new WebSocket(echo.url);
      const events = record(ws);
      await new Promise((resolve) => ws.addEventListener('open', resolve));
      assert.throws(() => (ws as unknown as { send(): void }).send(), TypeError);
      ws.close();
      await events;
    } finally {
      await echo.close();
    }
  });
});

describe('event order (WHATWG "feedback from the protocol")', () => {
  test('normal close by the client: open, message, close(1000, clean)', { timeout: 20_000 }, async () => {
    const echo = await startWsEcho();
    try {
      const ws = new WebSocket(echo.url, ['chat', 'other']);
      const events = record(ws);
      assert.equal(ws.readyState, WebSocket.CONNECTING);
      ws.addEventListener('open', () => ws.send('hi'));
      ws.addEventListener('message', () => {
        ws.close(1000, 'done');
        assert.equal(ws.readyState, WebSocket.CLOSING);
      });
      assert.deepEqual(await events, [
        ['open', 1, 'chat'],
        ['message', 'text:hi'],
        ['close', 3, 1000, 'done', true],
      ]);
    } finally {
      await echo.close();
    }
  });

  test('close by the server with a code and reason', { timeout: 20_000 }, async () => {
    const echo = await startWsEcho();
    try {
      const ws = new WebSocket(`${echo.url}/?close=4001&reason=bye`);
      const events = record(ws);
      ws.addEventListener('open', () => ws.send('x'));
      assert.deepEqual(await events, [
        ['open', 1, ''],
        ['message', 'text:x'],
        ['close', 3, 4001, 'bye', true],
      ]);
    } finally {
      await echo.close();
    }
  });

  test('a close frame without a code is reported as 1005', { timeout: 20_000 }, async () => {
    await withRawServer(
      (socket, _request, accept) => {
        socket.write(accept());
        socket.write(serverFrame(0x8, Buffer.alloc(0)));
        socket.on('data', () => socket.end());
      },
      async (raw) => {
        const ws = new WebSocket(raw.url);
        assert.deepEqual(await record(ws), [
          ['open', 1, ''],
          ['close', 3, 1005, '', true],
        ]);
      },
    );
  });

  test('server abort (TCP reset): close 1006 not clean, no error event (as Chromium)', {
    timeout: 20_000,
  }, async () => {
    await withRawServer(
      (socket, _request, accept) => {
        socket.write(accept());
        socket.write(serverFrame(0x1, 'last words'));
        // Reset once the client has read the message (it answers), so no data is lost to the RST.
        socket.once('data', () => socket.resetAndDestroy());
      },
      async (raw) => {
        const ws = new WebSocket(raw.url);
        ws.addEventListener('message', () => ws.send('ack'));
        assert.deepEqual(await record(ws), [
          ['open', 1, ''],
          ['message', 'text:last words'],
          ['close', 3, 1006, '', false],
        ]);
      },
    );
  });

  test('messages that arrive with the open response are delivered after open', {
    timeout: 20_000,
  }, async () => {
    await withRawServer(
      (socket, _request, accept) => {
        socket.write(
          Buffer.concat([
            Buffer.from(accept()),
            serverFrame(0x1, 'early'),
            serverFrame(0x8, closePayload(1000)),
          ]),
        );
        socket.on('data', () => socket.end());
      },
      async (raw) => {
        const ws = new WebSocket(raw.url);
        assert.deepEqual(await record(ws), [
          ['open', 1, ''],
          ['message', 'text:early'],
          ['close', 3, 1000, '', true],
        ]);
      },
    );
  });

  test('an answer to a message that came with the 101 leaves before the close of a protocol error after it', {
    timeout: 20_000,
  }, async () => {
    // One write: the 101, a text message, then a frame with RSV1 set (none negotiated). The
    // handler's echo must reach the server before the client's 1002 close frame (Autobahn
    // 3.x "strict"): the message's handler runs before the bad frame is parsed.
    const received = await withRawServer(
      (socket, _request, accept) => {
        socket.write(
          Buffer.concat([Buffer.from(accept()), serverFrame(0x1, 'first'), Buffer.from([0xc1, 0x00])]),
        );
      },
      async (raw) => {
        let bytes = Buffer.alloc(0);
        raw.server.on('connection', (socket) => {
          socket.on('data', (chunk: Buffer) => {
            bytes = Buffer.concat([bytes, chunk]);
          });
        });
        const ws = new WebSocket(raw.url);
        ws.addEventListener('message', (event) => ws.send(event.data as string));
        const events = await record(ws);
        assert.deepEqual(events.at(-1), ['close', 3, 1006, '', false]);
        await new Promise((resolve) => setTimeout(resolve, 50));
        return bytes;
      },
    );
    const frames = parseMaskedFrames(received.subarray(received.indexOf('\r\n\r\n') + 4));
    assert.deepEqual(
      frames.map((f) => [f.opcode, f.opcode === 0x8 ? f.payload.readUInt16BE(0) : f.payload.toString()]),
      [
        [0x1, 'first'],
        [0x8, 1002],
      ],
    );
  });

  test('close() while connecting: error, then close 1006', { timeout: 20_000 }, async () => {
    await withRawServer(
      () => {},
      async (raw) => {
        const ws = new WebSocket(raw.url);
        const events = record(ws);
        ws.close();
        assert.equal(ws.readyState, WebSocket.CLOSING);
        assert.deepEqual(await events, [
          ['error', 3],
          ['close', 3, 1006, '', false],
        ]);
      },
    );
  });
});

describe('IPv6', () => {
  test('ws://[::1]:port/ connects, with a bracketed Host header and origin', {
    timeout: 20_000,
  }, async () => {
    const server = new WebSocketServer({ host: '::1', port: 0 });
    await once(server, 'listening');
    let host = '';
    server.on('connection', (socket, request) => {
      host = request.headers.host ?? '';
      socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
    });
    try {
      const port = (server.address() as { port: number }).port;
      const ws = new WebSocket(`ws://[::1]:${port}/`);
      const origin = new Promise<string>((resolve) =>
        ws.addEventListener('message', (event) => resolve((event as MessageEvent).origin)),
      );
      const events = record(ws);
      ws.addEventListener('open', () => ws.send('six'));
      ws.addEventListener('message', () => ws.close());
      assert.deepEqual(await events, [
        ['open', 1, ''],
        ['message', 'text:six'],
        ['close', 3, 1005, '', true],
      ]);
      assert.equal(host, `[::1]:${port}`);
      assert.equal(await origin, `ws://[::1]:${port}`);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('failed handshakes: error then close 1006, with a clear reason', () => {
  const cases: Array<[string, (accept: (extra?: string) => string) => string, RegExp]> = [
    [
      'wrong Sec-WebSocket-Accept',
      () =>
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n',
      /^Incorrect 'Sec-WebSocket-Accept' header value$/,
    ],
    [
      'status 404',
      () => 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n',
      /Unexpected server response: 404/,
    ],
    [
      'a subprotocol that was not offered',
      (accept) => accept('Sec-WebSocket-Protocol: evil\r\n'),
      /not offered: evil/,
    ],
    ['no subprotocol when some were offered', (accept) => accept(), /no subprotocol/],
    [
      'an extension that was not offered',
      (accept) =>
        accept('Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: x-webkit-deflate-frame\r\n'),
      /extension that was not offered/,
    ],
    [
      'a redirect (not followed by default)',
      () => 'HTTP/1.1 302 Found\r\nLocation: ws://127.0.0.1:1/\r\n\r\n',
      /302/,
    ],
    ['garbage instead of HTTP', () => 'SSH-2.0-OpenSSH\r\n\r\n', /Invalid server response/],
    // RFC 6455 4.1: the Upgrade value must be exactly `websocket` (case-insensitive).
    [
      'a 101 with Upgrade: websocket, h2c',
      (accept) =>
        accept('Sec-WebSocket-Protocol: chat\r\n').replace('Upgrade: websocket', 'Upgrade: websocket, h2c'),
      /Invalid 'Upgrade' header value/,
    ],
    [
      'a 101 with two Upgrade lines, foo and websocket',
      (accept) =>
        accept('Sec-WebSocket-Protocol: chat\r\n').replace(
          'Upgrade: websocket',
          'Upgrade: foo\r\nUpgrade: websocket',
        ),
      /Invalid 'Upgrade' header value/,
    ],
    [
      'an HTTP server that answers 200 without upgrading',
      () => 'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello',
      /^Not a WebSocket endpoint \(HTTP 200 OK\)$/,
    ],
    [
      'a TLS server answering a plain request with an alert',
      () => '\x15\x03\x03\x00\x02\x02\x46',
      /answered in TLS \(is it a wss: endpoint rather than ws:\?\)/,
    ],
  ];
  for (const [name, respond, reason] of cases) {
    test(name, { timeout: 20_000 }, async () => {
      await withRawServer(
        (socket, _request, accept) => socket.write(respond(accept)),
        async (raw) => {
          const ws = new WebSocket(raw.url, ['chat']);
          const message = errorMessage(ws);
          assert.deepEqual(await record(ws), [
            ['error', 3],
            ['close', 3, 1006, '', false],
          ]);
          assert.match(await message, reason);
        },
      );
    });
  }

  test('a 101 whose Upgrade is websocket in another case opens', { timeout: 20_000 }, async () => {
    await withRawServer(
      (socket, _request, accept) =>
        socket.write(accept().replace('Upgrade: websocket', 'Upgrade: WebSocket')),
      async (raw) => {
        const ws = new WebSocket(raw.url);
        const events = record(ws);
        ws.addEventListener('open', () => ws.close());
        assert.deepEqual((await events)[0], ['open', 1, '']);
      },
    );
  });

  test('errors carry a stable code: not-websocket, tls-expected', { timeout: 20_000 }, async () => {
    for (const [response, code] of [
      ['HTTP/1.1 204 No Content\r\n\r\n', 'not-websocket'],
      ['\x16\x03\x01\x00\x00', 'tls-expected'],
    ] as const) {
      await withRawServer(
        (socket) => socket.write(Buffer.from(response, 'latin1')),
        async (raw) => {
          const ws = new WebSocket(raw.url);
          const error = new Promise<unknown>((resolve) =>
            ws.addEventListener('error', (event) => resolve((event as Event & { error: unknown }).error)),
          );
          await record(ws);
          const caught = await error;
          assert.ok(caught instanceof HandshakeError, String(caught));
          assert.equal(caught.code, code);
        },
      );
    }
  });

  test('a wss: URL at a plain ws: server fails at once: the server did not speak TLS', {
    timeout: 20_000,
  }, async () => {
    // The server would hold a ClientHello for a minute, the client gives up after 15 s
    // (code `timeout`): only the server refusing the ClientHello at once, and the client
    // recognising the non-TLS answer, gives `not-tls`.
    const server = new SockeyeServer({ port: 0, host: '127.0.0.1', handshakeTimeout: 60_000, handlers: {} });
    try {
      const address = await server.listen();
      const ws = new WebSocket(`wss://127.0.0.1:${address!.port}/`, [], { handshakeTimeout: 15_000 });
      const error = new Promise<unknown>((resolve) =>
        ws.addEventListener('error', (event) => resolve((event as Event & { error: unknown }).error)),
      );
      assert.deepEqual(await record(ws), [
        ['error', 3],
        ['close', 3, 1006, '', false],
      ]);
      const caught = await error;
      assert.ok(caught instanceof HandshakeError, String(caught));
      assert.equal(caught.code, 'not-tls');
      assert.match(caught.message, /^The server did not speak TLS/);
    } finally {
      await server.close();
    }
  });

  test('connection refused', { timeout: 20_000 }, async () => {
    const raw = await startRawServer(() => {});
    const url = raw.url;
    await raw.close();
    const ws = new WebSocket(url);
    const message = errorMessage(ws);
    assert.deepEqual(await record(ws), [
      ['error', 3],
      ['close', 3, 1006, '', false],
    ]);
    assert.match(await message, /ECONNREFUSED/);
  });
});

describe('limits and timeouts', () => {
  test('handshakeTimeout: a server that never answers', { timeout: 20_000 }, async () => {
    await withRawServer(
      () => {},
      async (raw) => {
        const ws = new WebSocket(raw.url, [], { handshakeTimeout: 200 });
        const message = errorMessage(ws);
        assert.deepEqual(await record(ws), [
          ['error', 3],
          ['close', 3, 1006, '', false],
        ]);
        assert.match(await message, /timed out/);
      },
    );
  });

  test('maxHandshakeBytes: an endless response head is cut at the bound', { timeout: 20_000 }, async () => {
    let written = 0;
    await withRawServer(
      (socket) => {
        socket.write('HTTP/1.1 101 Switching Protocols\r\n');
        const pump = () => {
          while (written < 32 * 1024 * 1024 && !socket.destroyed) {
            written += 100;
            if (!socket.write(`X-Filler: ${'a'.repeat(88)}\r\n`)) return void socket.once('drain', pump);
          }
        };
        pump();
      },
      async (raw) => {
        const ws = new WebSocket(raw.url, [], { maxHandshakeBytes: 4096 });
        const message = errorMessage(ws);
        await record(ws);
        assert.match(await message, /larger than 4096 bytes/);
        assert.ok(written < 32 * 1024 * 1024, 'the client stopped reading before the server finished');
      },
    );
  });

  test('maxPayload: a bigger message fails the connection with 1009 on the wire', {
    timeout: 20_000,
  }, async () => {
    let received: Buffer = Buffer.alloc(0);
    await withRawServer(
      (socket, _request, accept) => {
        socket.write(accept());
        socket.write(serverFrame(0x2, Buffer.alloc(2000)));
        socket.on('data', (chunk: Buffer) => {
          received = Buffer.concat([received, chunk]);
          if (received.length >= 6) socket.end();
        });
      },
      async (raw) => {
        const ws = new WebSocket(raw.url, [], { maxPayload: 1000 });
        const message = errorMessage(ws);
        assert.deepEqual(await record(ws), [
          ['open', 1, ''],
          ['error', 3],
          ['close', 3, 1006, '', false],
        ]);
        assert.match(await message, /1000|too big|large/i);
        // The client's close frame: FIN+close, masked, code 1009 after unmasking.
        assert.equal(received[0], 0x88);
        assert.equal((received[1] ?? 0) & 0x80, 0x80);
        const key = received.subarray(2, 6);
        const code = (((received[6] ?? 0) ^ (key[0] ?? 0)) << 8) | ((received[7] ?? 0) ^ (key[1] ?? 0));
        assert.equal(code, 1009);
      },
    );
  });

  test('close timeout: a server that never answers the close frame is dropped', {
    timeout: 20_000,
  }, async () => {
    await withRawServer(
      (socket, _request, accept) => socket.write(accept()),
      async (raw) => {
        const ws = new WebSocket(raw.url, [], { closeTimeout: 200 });
        const events = record(ws);
        ws.addEventListener('open', () => ws.close(1000));
        assert.deepEqual(await events, [
          ['open', 1, ''],
          ['close', 3, 1006, '', false],
        ]);
      },
    );
  });

  test('close timeout: a server that answers but keeps TCP open is dropped, still clean', {
    timeout: 20_000,
  }, async () => {
    await withRawServer(
      (socket, _request, accept) => {
        socket.write(accept());
        socket.on('data', () => socket.write(serverFrame(0x8, closePayload(1000, 'ok'))));
      },
      async (raw) => {
        const ws = new WebSocket(raw.url, [], { closeTimeout: 200 });
        const events = record(ws);
        ws.addEventListener('open', () => ws.close(1000));
        assert.deepEqual(await events, [
          ['open', 1, ''],
          ['close', 3, 1000, 'ok', true],
        ]);
      },
    );
  });
});

describe('send(), bufferedAmount and binaryType', () => {
  test('bufferedAmount counts bytes handed to send() until written, then drains to 0', {
    timeout: 20_000,
  }, async () => {
    const echo = await startWsEcho();
    try {
      const ws = new WebSocket(echo.url);
      ws.binaryType = 'arraybuffer';
      const events = record(ws);
      const drained = new Promise<number[]>((resolve) => {
        const seen: number[] = [];
        ws.addEventListener('open', () => {
          ws.send('\u20ac');
          seen.push(ws.bufferedAmount);
          ws.send(new Uint8Array(1024 * 1024));
          seen.push(ws.bufferedAmount);
        });
        ws.addEventListener('message', (event) => {
          if ((event as MessageEvent).data instanceof ArrayBuffer) {
            seen.push(ws.bufferedAmount);
            ws.close();
            ws.send('after close');
            seen.push(ws.bufferedAmount);
            resolve(seen);
          }
        });
      });
      assert.deepEqual(await drained, [3, 3 + 1024 * 1024, 0, 11]);
      assert.deepEqual(await events, [
        ['open', 1, ''],
        ['message', 'text:\u20ac'],
        ['message', `arraybuffer:${1024 * 1024}`],
        ['close', 3, 1005, '', true],
      ]);
    } finally {
      await echo.close();
    }
  });

  test('Blob, ArrayBuffer, views and strings are sent in order; binaryType picks the type', {
    timeout: 20_000,
  }, async () => {
    const echo = await startWsEcho();
    try {
      const ws = new WebSocket(echo.url);
      const received: Array<Promise<string>> = [];
      const done = new Promise<void>((resolve) => {
        ws.addEventListener('message', (event) => {
          const data = (event as MessageEvent).data as unknown;
          if (typeof data === 'string') {
            received.push(Promise.resolve(`text:${data}`));
            // binaryType is read when each message is dispatched: the next ones are ArrayBuffers.
            ws.binaryType = 'arraybuffer';
          } else if (data instanceof Blob) {
            received.push(data.arrayBuffer().then((bytes) => `blob:${Buffer.from(bytes).toString()}`));
          } else {
            received.push(Promise.resolve(`arraybuffer:${Buffer.from(data as ArrayBuffer).toString()}`));
          }
          if (received.length === 5) resolve();
        });
      });
      ws.addEventListener('open', () => {
        ws.send(new Blob(['blob-1']));
        const view = new Uint8Array(Buffer.from('xxview-2xx')).subarray(2, 8);
        ws.send(view);
        view.fill(0); // sent data is a snapshot taken by send()
        ws.send('text-3');
        ws.send(new Uint16Array(new Uint8Array(Buffer.from('u16!')).buffer));
        ws.send(new Uint8Array(Buffer.from('ab-5')).buffer);
      });
      await done;
      ws.close();
      assert.deepEqual(await Promise.all(received), [
        'blob:blob-1',
        'blob:view-2',
        'text:text-3',
        'arraybuffer:u16!',
        'arraybuffer:ab-5',
      ]);
    } finally {
      await echo.close();
    }
  });

  test('a Uint8Array or Buffer sent on an open socket is taken as it is at the call', {
    timeout: 20_000,
  }, async () => {
    const echo = await startWsEcho();
    try {
      const ws = new WebSocket(echo.url);
      ws.binaryType = 'arraybuffer';
      const received: string[] = [];
      const done = new Promise<void>((resolve) => {
        ws.addEventListener('message', (event) => {
          received.push(Buffer.from((event as MessageEvent).data as ArrayBuffer).toString());
          if (received.length === 3) resolve();
        });
      });
      ws.addEventListener('open', () => {
        const bytes = new Uint8Array(Buffer.from('xxbytes-1xx')).subarray(2, 9);
        ws.send(bytes);
        bytes.fill(0x30); // changed after send(): the message keeps what was passed
        const buffer = Buffer.from('buffer-2');
        ws.send(buffer);
        buffer.fill(0x30);
        const reused = Buffer.from('same-3');
        ws.send(reused.subarray(0, 4));
        reused.write('ZZZZ');
      });
      await done;
      ws.close();
      assert.deepEqual(received, ['bytes-1', 'buffer-2', 'same']);
    } finally {
      await echo.close();
    }
  });

  test('binary messages of one read each get their own exact bytes (ArrayBuffer and Blob), with the URL origin', {
    timeout: 20_000,
  }, async () => {
    // Three binary frames (and a fourth after a text one) in a single TCP write: the client
    // parses them out of one read, so each payload starts as a view of the same buffer.
    const payloads = ['first', 'second!', '', 'fourth'].map((text) => Buffer.from(text));
    await withRawServer(
      (socket, _request, accept) => {
        socket.write(accept());
        socket.write(
          Buffer.concat([
            serverFrame(0x2, payloads[0]!),
            serverFrame(0x2, payloads[1]!),
            serverFrame(0x2, payloads[2]!),
            serverFrame(0x1, 'switch'),
            serverFrame(0x2, payloads[3]!),
          ]),
        );
      },
      async (raw) => {
        const ws = new WebSocket(raw.url);
        ws.binaryType = 'arraybuffer';
        const events: MessageEvent[] = [];
        const seen: Buffer[] = [];
        await new Promise<void>((resolve) => {
          ws.addEventListener('message', (event) => {
            const message = event as MessageEvent;
            events.push(message);
            if (typeof message.data === 'string') ws.binaryType = 'blob';
            else if (message.data instanceof ArrayBuffer) {
              seen.push(Buffer.from(message.data.slice(0)));
              // The application owns it: writing into it changes no later message.
              new Uint8Array(message.data).fill(0x2a);
            }
            if (events.length === 5) resolve();
          });
        });
        ws.close();
        const origin = raw.url;
        assert.deepEqual(
          events.map((event) => event.origin),
          [origin, origin, origin, origin, origin],
        );
        const buffers = events.slice(0, 3).map((event) => event.data as ArrayBuffer);
        for (const [i, data] of buffers.entries()) {
          assert.ok(data instanceof ArrayBuffer, `message ${i} is an ArrayBuffer`);
          assert.equal(data.byteLength, payloads[i]!.length);
        }
        assert.deepEqual(seen, payloads.slice(0, 3));
        assert.equal(new Set(buffers).size, 3);
        assert.equal(events[3]!.data, 'switch');
        const blob = events[4]!.data as Blob;
        assert.ok(blob instanceof Blob);
        assert.deepEqual(Buffer.from(await blob.arrayBuffer()), payloads[3]);
      },
    );
  });

  test('on* attributes: set, replace, clear; instance and static constants', {
    timeout: 20_000,
  }, async () => {
    const echo = await startWsEcho();
    try {
      const ws = new WebSocket(echo.url);
      const calls: string[] = [];
      ws.onopen = () => calls.push('first');
      ws.onopen = () => calls.push('second');
      ws.onmessage = () => calls.push('message');
      ws.onmessage = null;
      ws.onerror = 42 as unknown as null;
      assert.equal(ws.onerror, null);
      assert.equal(typeof ws.onopen, 'function');
      assert.deepEqual([ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED], [0, 1, 2, 3]);
      const closed = new Promise((resolve) => {
        ws.onclose = resolve;
      });
      ws.addEventListener('open', () => {
        ws.send('x');
        setTimeout(() => ws.close(), 100);
      });
      await closed;
      assert.deepEqual(calls, ['second']);
    } finally {
      await echo.close();
    }
  });
});

/** Client frames (masked, payloads under 126 bytes), unmasked. */
function parseMaskedFrames(bytes: Buffer): { opcode: number; payload: Buffer }[] {
  const frames: { opcode: number; payload: Buffer }[] = [];
  let at = 0;
  while (at + 6 <= bytes.length) {
    const length = bytes[at + 1]! & 0x7f;
    const key = bytes.subarray(at + 2, at + 6);
    const payload = Buffer.from(bytes.subarray(at + 6, at + 6 + length));
    for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i & 3]!;
    frames.push({ opcode: bytes[at]! & 0x0f, payload });
    at += 6 + length;
  }
  return frames;
}
