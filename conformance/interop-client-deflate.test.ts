/**
 * Interop with compression: sockeye's client (permessage-deflate offered by default)
 * against the `ws` server with `perMessageDeflate`, with and without context takeover, and
 * against Python `websockets` with compression (conformance/peers/websockets_server.py
 * --deflate). Every connection goes through a wiretap (conformance/lib/wiretap.ts), so the
 * test checks what really crossed the wire: `extensions` equals the server's answer, and
 * large messages carry RSV1 and travel compressed in both directions. Text, binary and
 * 1 MiB messages, each echoed intact.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { WebSocketServer } from 'ws';
import type { ClientOptions } from '../packages/sockeye/src/client/options.js';
import { WebSocket } from '../packages/sockeye/src/client/websocket.js';
import { missing, ROOT, VENV_PYTHON } from '../scripts/lib/prereqs.js';
import { freePort, startProcess } from '../scripts/lib/process.js';
import { headerValue, startWiretap, type WireDirection, type Wiretap } from './lib/wiretap.js';

const MIB = 1024 * 1024;

type Received = string | ArrayBuffer;

/** A data message as seen on the wire: its type, whether it was compressed, its bytes on the wire. */
interface WireMessage {
  opcode: number;
  compressed: boolean;
  wireBytes: number;
}

/** Group data frames into messages (control frames left out). */
function wireMessages(direction: WireDirection): WireMessage[] {
  const messages: WireMessage[] = [];
  let current: WireMessage | null = null;
  for (const frame of direction.frames) {
    if (frame.opcode >= 0x8) continue;
    if (frame.opcode !== 0) current = { opcode: frame.opcode, compressed: frame.rsv1, wireBytes: 0 };
    if (current === null) continue;
    current.wireBytes += frame.length;
    if (frame.fin) {
      messages.push(current);
      current = null;
    }
  }
  return messages;
}

/** A JSON-like text of about `size` bytes (compressible, as application messages are). */
function jsonText(size: number, seed: number): string {
  const items: string[] = [];
  let length = 2;
  for (let i = 0; length < size; i++) {
    const item = JSON.stringify({
      id: seed * 100_000 + i,
      user: `user-${(i * 7) % 97}`,
      active: i % 3 === 0,
    });
    items.push(item);
    length += item.length + 1;
  }
  return `[${items.join(',')}]`;
}

/** Binary data with structure (compressible) of `size` bytes. */
function structuredBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i % 61) ^ ((i >> 12) & 0x07);
  return bytes;
}

function open(url: string, options: ClientOptions = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, [], { maxPayload: 4 * MIB, ...options });
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => resolve(ws);
    ws.onclose = (event) => reject(new Error(`closed before open: ${(event as CloseEvent).code}`));
  });
}

function next(ws: WebSocket): Promise<Received> {
  return new Promise((resolve, reject) => {
    const onClose = (event: Event) =>
      reject(new Error(`closed (${(event as CloseEvent).code}) before the echo arrived`));
    ws.addEventListener(
      'message',
      (event) => {
        ws.removeEventListener('close', onClose);
        resolve((event as MessageEvent<Received>).data);
      },
      { once: true },
    );
    ws.addEventListener('close', onClose, { once: true });
  });
}

function closed(ws: WebSocket): Promise<[number, boolean]> {
  return new Promise((resolve) => {
    ws.addEventListener('close', (event) => {
      const close = event as CloseEvent;
      resolve([close.code, close.wasClean]);
    });
  });
}

interface Server {
  host: string;
  port: number;
  stop(): Promise<void>;
}

interface Expectation {
  /** The server's answer must match. */
  answer: RegExp;
  /** Whether each direction keeps its compression context (a repeated message shrinks). */
  serverTakeover: boolean;
  clientTakeover: boolean;
  /** The server compresses messages under 1 KiB too. */
  serverCompressesSmall: boolean;
}

function deflateInteropSuite(
  name: string,
  start: () => Promise<Server>,
  expect: Expectation,
  skip: string | false,
  clientOptions: ClientOptions = {},
) {
  describe(`client interop with compression: ${name}`, { skip }, () => {
    let server: Server;
    let tap: Wiretap;
    before(async () => {
      server = await start();
      tap = await startWiretap({ host: server.host, port: server.port });
    });
    after(async () => {
      await tap?.close();
      await server?.stop();
    });

    test('extensions is the answer on the wire; text, binary and 1 MiB messages go compressed both ways', {
      timeout: 120_000,
    }, async () => {
      const ws = await open(`${tap.url}/`, clientOptions);
      const done = closed(ws);
      // 2 KiB: a repeat fits in the smallest window used here (4 KiB, Python websockets).
      const text = jsonText(2048, 1);
      const binary = structuredBytes(8192);
      const bigText = jsonText(MIB, 2);
      const bigBinary = structuredBytes(MIB);
      try {
        ws.send('hi');
        assert.equal(await next(ws), 'hi');
        // The same text twice: with context takeover the second goes as back-references.
        for (let i = 0; i < 2; i++) {
          ws.send(text);
          assert.equal(await next(ws), text);
        }
        ws.send(binary);
        assert.deepEqual(new Uint8Array((await next(ws)) as ArrayBuffer), binary);
        ws.send(bigText);
        assert.equal(await next(ws), bigText);
        ws.send(bigBinary);
        assert.ok(
          Buffer.from((await next(ws)) as ArrayBuffer).equals(bigBinary),
          '1 MiB binary echoed intact',
        );
      } finally {
        ws.close(1000);
      }
      assert.deepEqual(await done, [1000, true]);

      const wire = tap.connections().at(-1);
      assert.ok(wire, 'the wiretap saw the connection');
      assert.equal(wire.toServer.truncated || wire.toClient.truncated, false);
      const answer = headerValue(wire.toClient.head, 'sec-websocket-extensions');
      assert.ok(answer !== null, 'the server accepted permessage-deflate');
      assert.match(answer, expect.answer);
      assert.equal(ws.extensions, answer);

      const sizes = [2, text.length, text.length, binary.length, bigText.length, bigBinary.length];
      const types = [1, 1, 1, 2, 1, 2];
      for (const [direction, messages] of [
        ['client to server', wireMessages(wire.toServer)],
        ['server to client', wireMessages(wire.toClient)],
      ] as const) {
        assert.deepEqual(
          messages.map((m) => m.opcode),
          types,
          `${direction}: message types`,
        );
        for (let i = 1; i < sizes.length; i++) {
          const message = messages[i] as WireMessage;
          assert.equal(message.compressed, true, `${direction}: message ${i} has RSV1`);
          assert.ok(
            message.wireBytes < (sizes[i] as number) / 2,
            `${direction}: message ${i} is ${message.wireBytes} bytes on the wire for ${sizes[i]}`,
          );
        }
      }
      const [toServer, toClient] = [wireMessages(wire.toServer), wireMessages(wire.toClient)];
      assert.equal(toServer[0]?.compressed, false, 'our client sends a message under 1 KiB plain');
      if (expect.serverCompressesSmall) assert.equal(toClient[0]?.compressed, true);
      // Context takeover, as negotiated: a repeated message shrinks only with it.
      const shrinks = (messages: WireMessage[]) =>
        (messages[2] as WireMessage).wireBytes < (messages[1] as WireMessage).wireBytes / 2;
      assert.equal(
        shrinks(toServer),
        expect.clientTakeover,
        'client to server: context takeover as negotiated',
      );
      assert.equal(
        shrinks(toClient),
        expect.serverTakeover,
        'server to client: context takeover as negotiated',
      );
    });
  });
}

async function startWsServer(perMessageDeflate: Record<string, unknown>): Promise<Server> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate, maxPayload: 64 * MIB });
  await once(server, 'listening');
  server.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  return {
    host: '127.0.0.1',
    port: (server.address() as { port: number }).port,
    stop: () =>
      new Promise((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}

deflateInteropSuite(
  'the ws server, context takeover',
  () => startWsServer({}),
  {
    answer: /^permessage-deflate(; client_max_window_bits=15)?$/,
    serverTakeover: true,
    clientTakeover: true,
    serverCompressesSmall: false,
  },
  false,
);

deflateInteropSuite(
  'the ws server, no context takeover either way',
  () => startWsServer({ serverNoContextTakeover: true, clientNoContextTakeover: true }),
  {
    answer: /^permessage-deflate; server_no_context_takeover; client_no_context_takeover/,
    serverTakeover: false,
    clientTakeover: false,
    serverCompressesSmall: false,
  },
  false,
);

deflateInteropSuite(
  'the ws server, no context takeover asked by the client, small windows',
  () => startWsServer({}),
  {
    answer:
      /^permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9$/,
    serverTakeover: false,
    clientTakeover: false,
    serverCompressesSmall: false,
  },
  false,
  {
    perMessageDeflate: {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 9,
    },
  },
);

deflateInteropSuite(
  'the Python websockets server with compression',
  async () => {
    const port = await freePort();
    const started = await startProcess(
      VENV_PYTHON,
      ['conformance/peers/websockets_server.py', '--deflate', String(port)],
      /listening on ws:\/\//,
      { cwd: ROOT },
    );
    return { host: '127.0.0.1', port, stop: () => started.stop() };
  },
  {
    answer: /^permessage-deflate; server_max_window_bits=12; client_max_window_bits=12$/,
    serverTakeover: true,
    clientTakeover: true,
    serverCompressesSmall: true,
  },
  missing(VENV_PYTHON, 'the project .venv'),
);
