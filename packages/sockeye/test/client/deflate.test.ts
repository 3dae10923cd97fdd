/**
 * permessage-deflate in the client (RFC 7692, issue 5): the offer (on by default, as
 * browsers make it; off with `perMessageDeflate: false`), the server's answer checked (a
 * response we did not offer or cannot honour fails the connection: error, then close
 * 1006), `extensions` set to the negotiated value, and decompression bombs from a hostile
 * server refused with 1009 while the client's memory stays within maxPayload plus a
 * small constant. Interop with real compressing servers is in
 * conformance/interop-client-deflate.test.ts.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { describe, test } from 'node:test';
import zlib from 'node:zlib';
import { WebSocketServer } from 'ws';
import { WebSocketStream } from '../../src/client/stream.js';
import { DEFAULT_CLIENT_MAX_PAYLOAD, WebSocket } from '../../src/client/websocket.js';
import { frames as parseFrames } from '../protocol/deflate-helpers.js';
import { errorMessage, record, serverFrame, startRawServer, withRawServer } from './helpers.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** The request's `Sec-WebSocket-Extensions` header, or null. */
function offeredExtensions(request: string): string | null {
  return /^sec-websocket-extensions: *(.*?)\r$/im.exec(request)?.[1] ?? null;
}

/** Connect with `options`, report the offer the server saw, then close. */
async function offerFor(options: ConstructorParameters<typeof WebSocket>[2]): Promise<string | null> {
  let offer: string | null | undefined;
  return withRawServer(
    (socket, request) => {
      offer = offeredExtensions(request);
      socket.destroy();
    },
    async (raw) => {
      const ws = new WebSocket(raw.url, [], options);
      await record(ws);
      assert.notEqual(offer, undefined, 'the server saw no request');
      return offer ?? null;
    },
  );
}

/**
 * Compressed data that inflates to `inflated` bytes of zeros, without the sync-flush tail
 * (the receiver appends it, RFC 7692 section 7.2.2): 16 MiB units compressed with a sync
 * flush (byte-aligned, non-final blocks) repeated, so 1 GiB costs about 1 MiB.
 */
function zeroBomb(inflated: number): Buffer {
  const unitSize = Math.min(inflated, 16 * MiB);
  const unit = zlib.deflateRawSync(Buffer.alloc(unitSize), {
    level: 9,
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  // Each unit ends with the empty stored block of its sync flush (00 00 ff ff): the next
  // unit starts on a block boundary only with it. Only the message's last one is cut.
  const units = Buffer.concat(Array.from({ length: Math.ceil(inflated / unitSize) }, () => unit));
  return units.subarray(0, units.length - 4);
}

/** `compressed` as server frames of at most `fragment` bytes, RSV1 on the first. */
function compressedFrames(compressed: Buffer, fragment: number, opcode = 0x2): Buffer {
  const out: Buffer[] = [];
  for (let at = 0; at < compressed.length; at += fragment) {
    const first = at === 0;
    const fin = at + fragment >= compressed.length;
    const frame = serverFrame(first ? opcode : 0x0, compressed.subarray(at, at + fragment), fin);
    if (first) frame[0] = (frame[0] as number) | 0x40; // RSV1: a compressed message
    out.push(frame);
  }
  return Buffer.concat(out);
}

/** Collect the client's frames on a raw server socket; resolves with the close frame's code. */
function clientCloseCode(socket: Socket): Promise<number | null> {
  return new Promise((resolve) => {
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      const frames = parseFrames(Buffer.concat(received));
      const close = frames.find((frame) => (frame.b0 & 0x0f) === 0x8);
      if (close !== undefined) {
        resolve(close.payload.length >= 2 ? close.payload.readUInt16BE(0) : null);
        socket.destroy();
      }
    });
    socket.on('close', () => resolve(null));
  });
}

describe('the offer', () => {
  test('offered by default as browsers do: permessage-deflate; client_max_window_bits', {
    timeout: 20_000,
  }, async () => {
    assert.equal(await offerFor({}), 'permessage-deflate; client_max_window_bits');
    assert.equal(await offerFor({ perMessageDeflate: true }), 'permessage-deflate; client_max_window_bits');
  });

  test('perMessageDeflate: false offers nothing', { timeout: 20_000 }, async () => {
    assert.equal(await offerFor({ perMessageDeflate: false }), null);
  });

  test('options shape the offer', { timeout: 20_000 }, async () => {
    assert.equal(
      await offerFor({
        perMessageDeflate: {
          serverNoContextTakeover: true,
          clientNoContextTakeover: true,
          serverMaxWindowBits: 10,
          clientMaxWindowBits: 12,
        },
      }),
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; ' +
        'server_max_window_bits=10; client_max_window_bits=12',
    );
    assert.equal(await offerFor({ perMessageDeflate: { clientMaxWindowBits: false } }), 'permessage-deflate');
  });

  test('an option out of range throws from the constructor', () => {
    assert.throws(
      () => new WebSocket('ws://127.0.0.1:1/', [], { perMessageDeflate: { serverMaxWindowBits: 16 } }),
      RangeError,
    );
    assert.throws(
      () => new WebSocketStream('ws://127.0.0.1:1/', { perMessageDeflate: { level: 10 } }),
      RangeError,
    );
  });
});

describe("the server's answer: one we cannot accept fails the connection (error, then close 1006)", () => {
  const cases: Array<[string, string, ConstructorParameters<typeof WebSocket>[2], RegExp]> = [
    [
      'permessage-deflate when it was not offered',
      'permessage-deflate',
      { perMessageDeflate: false },
      /not offered/,
    ],
    [
      'an unknown parameter',
      'permessage-deflate; foo',
      {},
      /Invalid permessage-deflate response: unknown parameter foo/,
    ],
    [
      'a repeated parameter',
      'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
      {},
      /repeated/,
    ],
    ['a window out of range', 'permessage-deflate; client_max_window_bits=16', {}, /8 to 15/],
    ['client_max_window_bits without a value', 'permessage-deflate; client_max_window_bits', {}, /8 to 15/],
    [
      'client_max_window_bits when we did not offer it',
      'permessage-deflate; client_max_window_bits=10',
      { perMessageDeflate: { clientMaxWindowBits: false } },
      /client_max_window_bits was not offered/,
    ],
    [
      'client_max_window_bits above our offer',
      'permessage-deflate; client_max_window_bits=12',
      { perMessageDeflate: { clientMaxWindowBits: 10 } },
      /above the offer/,
    ],
    [
      'no server_no_context_takeover when we asked for it',
      'permessage-deflate',
      { perMessageDeflate: { serverNoContextTakeover: true } },
      /server_no_context_takeover missing/,
    ],
    [
      'no server_max_window_bits when we asked for a limit',
      'permessage-deflate',
      { perMessageDeflate: { serverMaxWindowBits: 10 } },
      /server_max_window_bits missing/,
    ],
    ['permessage-deflate accepted twice', 'permessage-deflate, permessage-deflate', {}, /more than once/],
  ];
  for (const [name, answer, options, reason] of cases) {
    test(name, { timeout: 20_000 }, async () => {
      await withRawServer(
        (socket, _request, accept) => socket.write(accept(`Sec-WebSocket-Extensions: ${answer}\r\n`)),
        async (raw) => {
          const ws = new WebSocket(raw.url, [], options);
          const message = errorMessage(ws);
          assert.deepEqual(await record(ws), [
            ['error', 3],
            ['close', 3, 1006, '', false],
          ]);
          assert.match(await message, reason);
          assert.equal(ws.extensions, '');
        },
      );
    });
  }

  test('WebSocketStream rejects opened and closed with the reason', { timeout: 20_000 }, async () => {
    await withRawServer(
      (socket, _request, accept) =>
        socket.write(accept('Sec-WebSocket-Extensions: permessage-deflate; foo\r\n')),
      async (raw) => {
        const stream = new WebSocketStream(raw.url);
        await assert.rejects(stream.opened, { name: 'WebSocketError', message: /unknown parameter foo/ });
        await assert.rejects(stream.closed, { name: 'WebSocketError' });
      },
    );
  });

  test('a compressed message when nothing was negotiated fails with 1002', { timeout: 20_000 }, async () => {
    let serverSaw: Promise<number | null> = Promise.resolve(null);
    await withRawServer(
      (socket, _request, accept) => {
        serverSaw = clientCloseCode(socket);
        socket.write(accept());
        socket.write(compressedFrames(zlib.deflateRawSync(Buffer.from('hello')), 1 << 20));
      },
      async (raw) => {
        const ws = new WebSocket(raw.url, [], { perMessageDeflate: false });
        const events = await record(ws);
        assert.deepEqual(events.slice(1), [
          ['error', 3],
          ['close', 3, 1006, '', false],
        ]);
        assert.equal(await serverSaw, 1002);
      },
    );
  });
});

describe('negotiated', () => {
  test('extensions is the negotiated value; messages are compressed both ways (RSV1)', {
    timeout: 30_000,
  }, async () => {
    let clientFrames: Array<{ b0: number; payload: Buffer }> = [];
    const message = JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item ${i}` })));
    const compressed = zlib.deflateRawSync(Buffer.from(message), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    await withRawServer(
      (socket, _request, accept) => {
        const received: Buffer[] = [];
        socket.on('data', (chunk: Buffer) => {
          received.push(chunk);
          clientFrames = parseFrames(Buffer.concat(received));
          if (clientFrames.some((frame) => (frame.b0 & 0x0f) === 0x8)) socket.end();
        });
        socket.write(accept('Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10\r\n'));
        socket.write(compressedFrames(compressed.subarray(0, compressed.length - 4), 100, 0x1));
        socket.write(serverFrame(0x1, 'small and plain'));
      },
      async (raw) => {
        const ws = new WebSocket(raw.url);
        const events: string[] = [];
        ws.onmessage = (event) => {
          events.push((event as MessageEvent<string>).data);
          if (events.length === 2) {
            ws.send(message);
            ws.send('tiny');
            ws.close(1000);
          }
        };
        const done = record(ws);
        await new Promise((resolve) => ws.addEventListener('open', resolve));
        assert.equal(ws.extensions, 'permessage-deflate; client_max_window_bits=10');
        await done;
        assert.deepEqual(events, [message, 'small and plain']);
        const [big, tiny, close] = clientFrames;
        assert.ok(big && tiny && close, `${clientFrames.length} frames`);
        assert.equal(big.b0, 0x80 | 0x40 | 0x1, 'the large message is compressed (RSV1)');
        const inflated = zlib.inflateRawSync(Buffer.concat([big.payload, Buffer.from([0, 0, 0xff, 0xff])]), {
          windowBits: 10,
          finishFlush: zlib.constants.Z_SYNC_FLUSH,
        });
        assert.equal(inflated.toString(), message);
        assert.ok(big.payload.length < message.length / 4, `${big.payload.length} bytes on the wire`);
        assert.equal(tiny.b0, 0x81, 'a message under the 1 KiB threshold goes plain');
        assert.equal(tiny.payload.toString(), 'tiny');
      },
    );
  });

  test('WebSocketStream negotiates too and reads compressed messages', { timeout: 30_000 }, async () => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: { threshold: 0 } });
    await new Promise((resolve) => server.once('listening', resolve));
    let answered = '';
    server.on('headers', (headers) => {
      answered =
        headers
          .find((line) => /^sec-websocket-extensions:/i.test(line))
          ?.slice(26)
          .trim() ?? '';
    });
    server.on('connection', (socket) =>
      socket.on('message', (data, binary) => socket.send(data, { binary })),
    );
    try {
      const { port } = server.address() as { port: number };
      const stream = new WebSocketStream(`ws://127.0.0.1:${port}/`);
      const { readable, writable, extensions } = await stream.opened;
      assert.match(answered, /^permessage-deflate/);
      assert.equal(extensions, answered);
      const writer = writable.getWriter();
      const reader = readable.getReader();
      const text = 'abc'.repeat(40_000);
      await writer.write(text);
      await writer.write(new Uint8Array(70_000).fill(7));
      assert.deepEqual(await reader.read(), { value: text, done: false });
      const binary = (await reader.read()).value as Uint8Array;
      assert.equal(binary.length, 70_000);
      assert.ok(binary.every((byte) => byte === 7));
      stream.close();
      assert.deepEqual(await stream.closed, { closeCode: 1005, reason: '' });
    } finally {
      for (const client of server.clients) client.terminate();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('decompression bombs from a hostile server', () => {
  /**
   * A raw server accepts permessage-deflate and sends `wire`; the client (maxPayload
   * `maxPayload`) must fail with 1009 on the wire (error, then close 1006 locally), with
   * no message delivered. Returns the peak growth of memory while it happened.
   */
  async function bombClient(
    wire: Buffer,
    maxPayload: number | undefined,
  ): Promise<{ arrayBuffers: number; rss: number }> {
    let serverSaw: Promise<number | null> = Promise.resolve(null);
    const raw = await startRawServer((socket, _request, accept) => {
      serverSaw = clientCloseCode(socket);
      socket.write(accept('Sec-WebSocket-Extensions: permessage-deflate\r\n'));
      socket.write(wire);
    });
    globalThis.gc?.();
    const before = process.memoryUsage();
    const peak = { arrayBuffers: 0, rss: 0 };
    const sample = () => {
      const now = process.memoryUsage();
      peak.arrayBuffers = Math.max(peak.arrayBuffers, now.arrayBuffers - before.arrayBuffers);
      peak.rss = Math.max(peak.rss, now.rss - before.rss);
    };
    const sampler = setInterval(sample, 1);
    try {
      const ws = new WebSocket(raw.url, [], maxPayload === undefined ? {} : { maxPayload });
      ws.binaryType = 'arraybuffer';
      const message = errorMessage(ws);
      const events = await record(ws);
      sample();
      assert.deepEqual(events, [
        ['open', 1, ''],
        ['error', 3],
        ['close', 3, 1006, '', false],
      ]);
      assert.match(await message, /decompressed message larger than the limit/);
      assert.equal(await serverSaw, 1009, 'the client closes with 1009 on the wire');
      return peak;
    } finally {
      clearInterval(sampler);
      await raw.close();
    }
  }

  const GiB = 1024 * MiB;
  const bomb = zeroBomb(GiB);
  test('the fixture: about 1 MiB that inflates to 1 GiB', () => {
    assert.ok(bomb.length < 1.1 * MiB, `${bomb.length} bytes`);
    const unit = bomb.subarray(0, (bomb.length + 4) / 64); // with its sync-flush tail
    const out = zlib.inflateRawSync(unit, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    assert.equal(out.length * 64, GiB);
    // Units join on block boundaries: two of them inflate to twice as much.
    const two = zlib.inflateRawSync(bomb.subarray(0, 2 * unit.length), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    assert.equal(two.length, 2 * out.length);
  });

  for (const [label, fragment] of [
    ['in one frame', Number.MAX_SAFE_INTEGER],
    ['in 16 KiB fragments', 16 * KiB],
  ] as const) {
    test(`a 1 GiB would-be message ${label}: 1009, memory within maxPayload plus a constant`, {
      timeout: 60_000,
    }, async () => {
      const maxPayload = 4 * MiB;
      const peak = await bombClient(compressedFrames(bomb, fragment), maxPayload);
      // The inflated pieces are bounded by maxPayload; the rest is socket reads (the ~1 MiB
      // of compressed input), the 64 KiB scratch and zlib's own state.
      assert.ok(peak.arrayBuffers <= maxPayload + 2 * MiB, `arrayBuffers grew ${peak.arrayBuffers} bytes`);
      assert.ok(peak.rss <= maxPayload + 48 * MiB, `rss grew ${peak.rss} bytes`);
    });
  }

  test('a ~80 KiB frame that inflates to 80 MiB passes the default 64 MiB maxPayload: 1009', {
    timeout: 30_000,
  }, async () => {
    assert.equal(DEFAULT_CLIENT_MAX_PAYLOAD, 64 * MiB);
    const small = zeroBomb(80 * MiB);
    assert.ok(small.length <= 85 * KiB, `${small.length} bytes`);
    const peak = await bombClient(compressedFrames(small, Number.MAX_SAFE_INTEGER), undefined);
    assert.ok(peak.arrayBuffers <= 66 * MiB, `arrayBuffers grew ${peak.arrayBuffers} bytes`);
  });
});
