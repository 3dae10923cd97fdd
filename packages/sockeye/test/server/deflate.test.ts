/**
 * permessage-deflate in the WebSocketServer (issue 5): negotiation in the accept path,
 * compressed echo with the `ws` client (RSV1 checked on the wire), compression off,
 * publish compressing once, the decompression bomb through the real server, and
 * close() releasing the stream pool.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import zlib from 'node:zlib';
import type { WebSocket as WsClient } from 'ws';
import {
  CloseCode,
  type PerMessageDeflateOptions,
  type ServerWebSocket,
  type WebSocketServer,
} from '../../src/index.js';
import { SERVER_DEFLATE_DEFAULTS } from '../../src/server/index.js';
import {
  clientFrame,
  listen,
  nextMessage,
  openWs,
  RawClient,
  rawOpen,
  until,
  upgradeRequest,
} from './helpers.js';

const MiB = 1024 * 1024;

/** A compressible 16 KiB JSON-like text message, different for each `seed`. */
function jsonMessage(seed: number, size = 16 * 1024): string {
  const items: string[] = [];
  let length = 2;
  for (let i = 0; length < size; i++) {
    const item = JSON.stringify({
      id: seed * 1000 + i,
      user: `user-${(seed + i) % 97}`,
      active: i % 3 === 0,
    });
    items.push(item);
    length += item.length + 1;
  }
  return `[${items.join(',')}]`.slice(0, size);
}

/** Frames in unmasked server output, with their RSV bits (an incomplete tail is left out). */
function wireFrames(data: Buffer): Array<{ rsv: number; opcode: number; payload: Buffer }> {
  const frames: Array<{ rsv: number; opcode: number; payload: Buffer }> = [];
  let at = 0;
  while (at + 2 <= data.length) {
    const b0 = data[at]!;
    let length = data[at + 1]! & 0x7f;
    let start = at + 2;
    if (length === 126) {
      length = data.readUInt16BE(at + 2);
      start = at + 4;
    } else if (length === 127) {
      length = Number(data.readBigUInt64BE(at + 2));
      start = at + 10;
    }
    if (start + length > data.length) break;
    frames.push({ rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, payload: data.subarray(start, start + length) });
    at = start + length;
  }
  return frames;
}

/** An echo server whose outgoing bytes (after the 101 head) are recorded per connection. */
async function echoServer(perMessageDeflate?: boolean | PerMessageDeflateOptions) {
  const out = new Map<ServerWebSocket<undefined>, Buffer[]>();
  const opened: ServerWebSocket<undefined>[] = [];
  const { server, url } = await listen<undefined>({
    ...(perMessageDeflate === undefined ? {} : { perMessageDeflate }),
    pingInterval: 0,
    handlers: {
      open(ws) {
        opened.push(ws);
      },
      message(ws, data, isBinary) {
        ws.send(data, isBinary);
      },
    },
    wiretap(ws, direction, bytes) {
      if (direction !== 'out') return;
      let list = out.get(ws);
      if (list === undefined) {
        list = [];
        out.set(ws, list);
      }
      list.push(Buffer.from(bytes));
    },
  });
  const framesOf = (ws: ServerWebSocket<undefined>) => {
    const all = Buffer.concat(out.get(ws) ?? []);
    const end = all.indexOf('\r\n\r\n');
    return wireFrames(end === -1 ? all : all.subarray(end + 4));
  };
  return { server, url, opened, framesOf };
}

const servers: WebSocketServer<undefined>[] = [];
const clients: WsClient[] = [];
after(async () => {
  for (const client of clients) client.terminate();
  await Promise.all(servers.map((server) => server.close({ timeout: 100 })));
});

async function client(url: string, options: Parameters<typeof openWs>[2] = {}): Promise<WsClient> {
  const ws = await openWs(url, [], options);
  clients.push(ws);
  return ws;
}

describe('WebSocketServer perMessageDeflate', { timeout: 60_000 }, () => {
  it('is on by default without context takeover: negotiates with ws, compresses 16 KiB, not 100 bytes', async () => {
    const { server, url, opened, framesOf } = await echoServer();
    servers.push(server);
    assert.ok(server.perMessageDeflate !== null);
    const ws = await client(url); // ws offers permessage-deflate; client_max_window_bits by default
    // The client accepted the response (ws fails the handshake on one it did not offer).
    assert.equal(ws.extensions, 'permessage-deflate');
    await until(() => opened.length === 1, 'open');
    assert.equal(
      opened[0]!.extensions,
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
    );

    const big = jsonMessage(1);
    const small = 'x'.repeat(100);
    ws.send(big);
    assert.equal((await nextMessage(ws)).data.toString(), big);
    ws.send(small);
    assert.equal((await nextMessage(ws)).data.toString(), small);
    ws.send(Buffer.from(big), { binary: true });
    const binary = await nextMessage(ws);
    assert.equal(binary.isBinary, true);
    assert.equal(binary.data.toString(), big);

    await until(() => framesOf(opened[0]!).length === 3, 'three frames on the wire');
    const [first, second, third] = framesOf(opened[0]!);
    assert.equal(first!.rsv, 4, 'RSV1 on the compressed text message');
    assert.ok(first!.payload.length < big.length / 3, `${first!.payload.length} bytes on the wire`);
    assert.equal(second!.rsv, 0, 'a 100-byte message goes plain (threshold 1 KiB)');
    assert.equal(second!.payload.length, 100);
    assert.equal(third!.rsv, 4);
    // No context takeover: the same message twice costs the same bytes twice.
    assert.deepEqual(third!.payload, first!.payload);
    // Nothing is held between messages.
    const extension = (opened[0]! as unknown as { connection: { extension: { holdsStreams: boolean } } })
      .connection.extension;
    assert.equal(extension.holdsStreams, false);
  });

  it('the defaults are no context takeover both ways', () => {
    assert.deepEqual(
      { ...SERVER_DEFLATE_DEFAULTS },
      { serverNoContextTakeover: true, clientNoContextTakeover: true },
    );
  });

  it('a client that does not offer gets plain frames; perMessageDeflate: false declines every offer', async () => {
    const on = await echoServer();
    const off = await echoServer(false);
    servers.push(on.server, off.server);
    assert.equal(off.server.perMessageDeflate, null);
    const big = jsonMessage(2);
    for (const [label, target, options] of [
      ['client without offer', on, { perMessageDeflate: false }],
      ['server with compression off', off, {}],
    ] as const) {
      const ws = await client(target.url, options);
      assert.equal(ws.extensions, '', label);
      await until(() => target.opened.length > 0, 'open');
      const serverSide = target.opened.at(-1)!;
      assert.equal(serverSide.extensions, '', label);
      ws.send(big);
      assert.equal((await nextMessage(ws)).data.toString(), big, label);
      const frames = target.framesOf(serverSide);
      assert.equal(frames.length, 1, label);
      assert.equal(frames[0]!.rsv, 0, label);
      assert.equal(frames[0]!.payload.length, big.length, label);
      ws.close();
    }
  });

  it('an options object overrides the defaults: context takeover, threshold 0', async () => {
    const { server, url, opened, framesOf } = await echoServer({
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      threshold: 0,
    });
    servers.push(server);
    const ws = await client(url, { perMessageDeflate: { threshold: 0 } });
    // ws offers client_max_window_bits without a value; we leave it unanswered (no limit).
    await until(() => opened.length === 1, 'open');
    assert.equal(opened[0]!.extensions, 'permessage-deflate');
    // Random hex: only a repeat can compress it much below half.
    const big = randomBytes(4096).toString('hex');
    ws.send(big);
    assert.equal((await nextMessage(ws)).data.toString(), big);
    ws.send(big);
    assert.equal((await nextMessage(ws)).data.toString(), big);
    ws.send('hi');
    assert.equal((await nextMessage(ws)).data.toString(), 'hi');
    await until(() => framesOf(opened[0]!).length === 3, 'three frames');
    const [first, second, third] = framesOf(opened[0]!);
    assert.equal(first!.rsv, 4);
    // Context takeover: the repeat refers to the first copy and takes a few bytes.
    assert.ok(
      second!.payload.length < first!.payload.length / 8,
      `${second!.payload.length} bytes for a repeated message, ${first!.payload.length} the first time`,
    );
    assert.equal(third!.rsv, 4, 'threshold 0 compresses two bytes too');
  });

  it('a client limit on our window is honoured (server_max_window_bits=10)', async () => {
    const { server, url, opened } = await echoServer();
    servers.push(server);
    const ws = await client(url, { perMessageDeflate: { serverMaxWindowBits: 10 } });
    await until(() => opened.length === 1, 'open');
    assert.match(opened[0]!.extensions, /; server_max_window_bits=10/);
    const big = jsonMessage(4, 64 * 1024);
    ws.send(big);
    assert.equal((await nextMessage(ws)).data.toString(), big);
  });

  it('publish compresses once for every subscriber without context takeover', async () => {
    const { server, url, opened, framesOf } = await echoServer();
    servers.push(server);
    const a = await client(url);
    const b = await client(url, { perMessageDeflate: false });
    const c = await client(url);
    await until(() => opened.length === 3, 'three opens');
    for (const ws of opened) ws.subscribe('news');
    const message = jsonMessage(5);
    assert.equal(server.publish('news', message), 3);
    assert.equal((await nextMessage(a)).data.toString(), message);
    assert.equal((await nextMessage(b)).data.toString(), message);
    assert.equal((await nextMessage(c)).data.toString(), message);
    await until(() => opened.every((ws) => framesOf(ws).length === 1), 'frames');
    const [first, plain, third] = opened.map((ws) => framesOf(ws)[0]!);
    // The compressed subscribers got the very same bytes; the other one plain text.
    assert.equal(first!.rsv, 4);
    assert.equal(third!.rsv, 4);
    assert.deepEqual(third!.payload, first!.payload);
    assert.ok(first!.payload.length < message.length / 3);
    assert.equal(plain!.rsv, 0);
    assert.equal(plain!.payload.toString(), message);
    // They are what prepareMessage makes: one compression, not one per subscriber.
    assert.deepEqual(server.perMessageDeflate!.prepareMessage(message, true).encoded, first!.payload);
  });

  it('publish to subscribers with context takeover: each compresses for itself', async () => {
    const { server, url, opened, framesOf } = await echoServer({
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
    });
    servers.push(server);
    const a = await client(url);
    await until(() => opened.length === 1, 'open');
    opened[0]!.subscribe('news');
    const message = randomBytes(4096).toString('hex'); // only a repeat compresses it well
    server.publish('news', message);
    server.publish('news', message);
    assert.equal((await nextMessage(a)).data.toString(), message);
    assert.equal((await nextMessage(a)).data.toString(), message);
    await until(() => framesOf(opened[0]!).length === 2, 'frames');
    const [first, second] = framesOf(opened[0]!);
    assert.equal(first!.rsv, 4);
    // The second refers to the first through the connection's own context.
    assert.ok(second!.payload.length < first!.payload.length / 8, `${second!.payload.length} bytes`);
  });

  it('close() frees the pooled zlib streams', async () => {
    const { server, url } = await echoServer();
    const ws = await client(url);
    ws.send(jsonMessage(7));
    await nextMessage(ws);
    assert.ok(server.perMessageDeflate!.pool.idleCount > 0, 'a compressor and a decompressor were pooled');
    await server.close({ timeout: 2000 });
    assert.equal(server.perMessageDeflate!.pool.idleCount, 0);
  });
});

describe('decompression bomb through the real server', { timeout: 120_000 }, () => {
  /** About 1 MiB of raw DEFLATE that inflates to 1 GiB of zeros (64 sync-flushed 16 MiB units). */
  function bomb(): Buffer {
    const unit = zlib.deflateRawSync(Buffer.alloc(16 * MiB), {
      level: 9,
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    const body = unit.subarray(0, unit.length - 4);
    return Buffer.concat(Array.from({ length: 64 }, () => body));
  }

  for (const [label, fragment] of [
    ['one frame', Number.MAX_SAFE_INTEGER],
    ['16 KiB fragments', 16 * 1024],
  ] as const) {
    it(`a 1 GiB would-be message is refused with 1009, memory bounded (${label})`, async () => {
      const maxPayload = 4 * MiB;
      const closes: number[] = [];
      const messages: number[] = [];
      const { server, port } = await listen<undefined>({
        maxPayload,
        pingInterval: 0,
        handlers: {
          message(_ws, data) {
            messages.push(data.length);
          },
          close(_ws, code) {
            closes.push(code);
          },
        },
      });
      const compressed = bomb();
      const wire: Buffer[] = [];
      for (let at = 0; at < compressed.length; at += fragment) {
        const end = Math.min(compressed.length, at + fragment);
        wire.push(
          clientFrame(at === 0 ? 0x2 : 0x0, compressed.subarray(at, end), {
            fin: end === compressed.length,
            rsv: at === 0 ? 4 : 0,
          }),
        );
      }
      let raw: RawClient | undefined;
      try {
        raw = await rawOpen(port, '/', { 'Sec-WebSocket-Extensions': 'permessage-deflate' });
        assert.match(raw.text(), /Sec-WebSocket-Extensions: permessage-deflate/i);
        globalThis.gc?.();
        const before = process.memoryUsage();
        for (const chunk of wire) raw.write(chunk);
        await until(() => closes.length === 1, 'the server to close');
        const afterMemory = process.memoryUsage();
        assert.deepEqual(closes, [CloseCode.MessageTooBig]);
        assert.deepEqual(messages, []);
        // The close frame the server sent: 1009.
        await raw.waitFor(() => raw!.frames().some((frame) => frame.opcode === 0x8), 'a close frame');
        const close = raw.frames().find((frame) => frame.opcode === 0x8)!;
        assert.equal(close.payload.readUInt16BE(0), CloseCode.MessageTooBig);
        // The wire bytes (~1 MiB) and maxPayload of output are all the bomb may cost.
        const arrayBuffers = afterMemory.arrayBuffers - before.arrayBuffers;
        const rss = afterMemory.rss - before.rss;
        assert.ok(arrayBuffers <= maxPayload + 4 * MiB, `arrayBuffers grew ${arrayBuffers} bytes`);
        assert.ok(rss <= maxPayload + 64 * MiB, `rss grew ${rss} bytes`);
      } finally {
        raw?.destroy();
        await server.close({ timeout: 100 });
      }
    });
  }

  it('an offer the server cannot honour is declined, and RSV1 then fails with 1002', async () => {
    const closes: number[] = [];
    const { server, port } = await listen<undefined>({
      pingInterval: 0,
      handlers: {
        close(_ws, code) {
          closes.push(code);
        },
      },
    });
    const raw = await RawClient.connect(port);
    try {
      raw.write(
        upgradeRequest(
          '/',
          { 'Sec-WebSocket-Extensions': 'permessage-deflate; server_max_window_bits=7' },
          port,
        ),
      );
      const { status, head } = await raw.response();
      assert.equal(status, 101);
      assert.doesNotMatch(head, /Sec-WebSocket-Extensions/i);
      raw.write(clientFrame(0x1, Buffer.from([0x00]), { rsv: 4 }));
      await until(() => closes.length === 1, 'the server to close');
      assert.deepEqual(closes, [CloseCode.ProtocolError]);
    } finally {
      raw.destroy();
      await server.close({ timeout: 100 });
    }
  });
});
