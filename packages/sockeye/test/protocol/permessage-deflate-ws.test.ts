/**
 * Interop of the permessage-deflate codec with the `ws` library over real loopback
 * sockets: a bare shell on our core talks to a `ws` server (our client role) and a `ws`
 * client talks to a bare shell on our core (our server role). Compressed frames from `ws`
 * are decoded by our codec and ours by `ws`; the bytes on the wire are checked for RSV1.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { WebSocket, WebSocketServer, type PerMessageDeflateOptions as WsDeflateOptions } from 'ws';
import { freePort } from '../../../../scripts/lib/process.js';
import {
  buildAcceptResponse,
  buildRequest,
  Connection,
  generateKey,
  HttpHeadParser,
  PerMessageDeflate,
  type PerMessageDeflateOptions,
  type RequestHead,
  type ResponseHead,
  RSV1_BIT,
  validateRequest,
  validateResponse,
} from '../../src/protocol/index.js';
import { frames } from './deflate-helpers.js';

/** Messages: compressible JSON-like text and bytes, one below the default threshold. */
const MESSAGES: Array<{ data: Buffer; isText: boolean }> = [
  {
    data: Buffer.from(JSON.stringify({ hello: 'world', list: Array.from({ length: 400 }, (_, i) => i) })),
    isText: true,
  },
  { data: Buffer.from('small'), isText: true },
  { data: Buffer.alloc(100_000, 'abc'), isText: false },
  { data: Buffer.from('repeat me '.repeat(2000)), isText: true },
  { data: Buffer.from('repeat me '.repeat(2000)), isText: true },
];

/** Connect a shell on our core to `port`, as a client with `options`; resolves with what it saw. */
async function runClient(port: number, options: PerMessageDeflateOptions) {
  const deflate = new PerMessageDeflate(options);
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const key = generateKey();
  const offer = deflate.offer();
  socket.write(buildRequest({ host: `127.0.0.1:${port}`, path: '/', key, extensions: offer }));
  const head = new HttpHeadParser<ResponseHead>('response');
  const received: Buffer[] = [];
  const written: Buffer[] = [];
  const messages: Array<{ data: Buffer; isText: boolean }> = [];
  let connection: Connection | null = null;
  let extensionHeader = '';
  const done = new Promise<void>((resolve, reject) => {
    const flush = () => {
      for (const chunk of connection!.takeOutput()) {
        written.push(Buffer.from(chunk));
        socket.write(chunk);
      }
    };
    const start = (rest: Buffer, response: ResponseHead) => {
      const accepted = validateResponse(response, { key, protocols: [], extensions: ['permessage-deflate'] });
      extensionHeader = String(response.headers['sec-websocket-extensions'] ?? '');
      const extension = deflate.accept(accepted.extensions);
      connection = new Connection(
        {
          onMessage: (data, isText) => {
            messages.push({ data: Buffer.from(data), isText });
            if (messages.length === MESSAGES.length) connection!.close(1000);
          },
          onPing: () => {},
          onPong: () => {},
          onClose: (info) => {
            flush();
            if (info.error) reject(info.error);
            else resolve();
          },
          onOutput: () => process.nextTick(flush),
        },
        { role: 'client', extensions: extension ? [extension] : [], maxPayload: 1 << 20 },
      );
      for (const m of MESSAGES) connection.send(m.data, m.isText);
      if (rest.length > 0) feed(rest);
    };
    const feed = (chunk: Buffer) => {
      received.push(Buffer.from(chunk));
      connection!.receive(chunk);
      flush();
    };
    socket.on('data', (chunk: Buffer) => {
      if (connection !== null) return feed(chunk);
      const parsed = head.push(chunk);
      if (parsed !== null) start(parsed.rest, parsed.head);
    });
    socket.on('error', reject);
    socket.on('close', () => connection?.receiveEof());
  });
  try {
    await done;
  } finally {
    socket.destroy();
  }
  return { messages, extensionHeader, written: Buffer.concat(written), received: Buffer.concat(received) };
}

/** A shell on our core that echoes every message, as a server with `options`. */
async function startServer(options: PerMessageDeflateOptions) {
  const deflate = new PerMessageDeflate(options);
  const port = await freePort();
  const sockets = new Set<Socket>();
  const wire = { written: [] as Buffer[], received: [] as Buffer[], responses: [] as string[] };
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    const head = new HttpHeadParser<RequestHead>('request');
    let connection: Connection | null = null;
    const flush = () => {
      for (const chunk of connection!.takeOutput()) {
        wire.written.push(Buffer.from(chunk));
        socket.write(chunk);
      }
    };
    const feed = (chunk: Buffer) => {
      wire.received.push(Buffer.from(chunk));
      connection!.receive(chunk);
      flush();
    };
    socket.on('data', (chunk: Buffer) => {
      if (connection !== null) return feed(chunk);
      const parsed = head.push(chunk);
      if (parsed === null) return;
      const info = validateRequest(parsed.head);
      const agreement = deflate.negotiate(info.extensions);
      wire.responses.push(agreement?.responseHeaderValue ?? '');
      socket.write(buildAcceptResponse({ key: info.key, extensions: agreement?.responseHeaderValue }));
      const conn: Connection = new Connection(
        {
          onMessage: (data, isText) => conn.send(data, isText),
          onPing: () => {},
          onPong: () => {},
          onClose: () => {
            flush();
            socket.end();
          },
          onOutput: () => process.nextTick(flush),
        },
        { role: 'server', extensions: agreement ? [agreement.extension] : [], maxPayload: 1 << 20 },
      );
      connection = conn;
      if (parsed.rest.length > 0) feed(parsed.rest);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      connection?.receiveEof();
    });
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return {
    port,
    wire,
    async stop() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Compressed frames in a byte stream: how many data frames carried RSV1. */
function compressedFrames(bytes: Buffer): number {
  return frames(bytes).filter((f) => (f.b0 & 0x0f) !== 0 && (f.b0 & 0x0f) < 8 && f.b0 & RSV1_BIT).length;
}

describe('permessage-deflate interop with ws', { timeout: 60_000 }, () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  const wsServerConfigs: Array<[string, WsDeflateOptions, PerMessageDeflateOptions]> = [
    ['ws defaults, our default offer', { threshold: 0 }, {}],
    ['ws server_no_context_takeover', { threshold: 0, serverNoContextTakeover: true }, {}],
    [
      'ws limits its window to 10 and ours to 9',
      { threshold: 0, serverMaxWindowBits: 10, clientMaxWindowBits: 9 },
      {},
    ],
    [
      'we ask for no context takeover and a 9-bit server window',
      { threshold: 0 },
      { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 9 },
    ],
  ];
  for (const [label, perMessageDeflate, ours] of wsServerConfigs) {
    it(`our client role with a ws server: ${label}`, async () => {
      const port = await freePort();
      const wss = new WebSocketServer({ port, host: '127.0.0.1', perMessageDeflate });
      cleanups.push(async () => {
        for (const client of wss.clients) client.terminate();
        await new Promise((resolve) => wss.close(resolve));
      });
      await once(wss, 'listening');
      wss.on('connection', (ws) => {
        ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
      });
      const result = await runClient(port, ours);
      assert.match(result.extensionHeader, /permessage-deflate/);
      assert.deepEqual(result.messages, MESSAGES);
      // ws (threshold 0) compressed every echo; we compressed the 4 messages above 1 KiB.
      assert.equal(compressedFrames(result.received), MESSAGES.length);
      assert.equal(compressedFrames(result.written), 4);
    });
  }

  const ourServerConfigs: Array<
    [string, PerMessageDeflateOptions, ConstructorParameters<typeof WebSocket>[2]]
  > = [
    ['ws client defaults', {}, { perMessageDeflate: { threshold: 0 } }],
    [
      'ws client asks no context takeover both ways',
      {},
      { perMessageDeflate: { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true } },
    ],
    [
      'we impose windows of 9 and no client context takeover',
      { serverMaxWindowBits: 9, clientMaxWindowBits: 9, clientNoContextTakeover: true },
      { perMessageDeflate: { threshold: 0 } },
    ],
  ];
  for (const [label, ours, clientOptions] of ourServerConfigs) {
    it(`our server role with a ws client: ${label}`, async () => {
      const server = await startServer({ ...ours, threshold: 0 });
      cleanups.push(() => server.stop());
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`, clientOptions);
      const echoes: Array<{ data: Buffer; isText: boolean }> = [];
      await once(ws, 'open');
      const closed = once(ws, 'close');
      ws.on('message', (data, isBinary) => {
        echoes.push({ data: Buffer.from(data as Buffer), isText: !isBinary });
        if (echoes.length === MESSAGES.length) ws.close(1000);
      });
      for (const m of MESSAGES) ws.send(m.data, { binary: !m.isText, compress: true });
      await closed;
      assert.match(ws.extensions, /permessage-deflate/);
      assert.deepEqual(echoes, MESSAGES);
      // ws compresses every message (threshold 0), and so do we.
      assert.equal(compressedFrames(Buffer.concat(server.wire.received)), MESSAGES.length);
      assert.equal(compressedFrames(Buffer.concat(server.wire.written)), MESSAGES.length);
    });
  }
});
