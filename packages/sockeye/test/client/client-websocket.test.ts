/**
 * The low-level Node client (`connect` → `ClientWebSocket`) on the socket driver: pings
 * and pongs as events, exact close codes, the close record, a wiretap of every byte, write
 * callbacks, and the ordered send queue behind a Blob (a close waits for it).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ClientEnd, type ClientWebSocket, connect } from '../../src/client/index.js';
import { WebSocket } from '../../src/client/websocket.js';
import { Opcode } from '../../src/protocol/index.js';
import { WebSocketServer } from '../../src/server/index.js';

interface Received {
  messages: string[];
  closes: Array<[code: number, reason: string]>;
}

/** A sockeye server: echoes, pings back on "ping me", closes with 4001 on "close me". */
async function server(): Promise<{ url: string; received: Received; close(): Promise<void> }> {
  const received: Received = { messages: [], closes: [] };
  const wss = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    handlers: {
      message: (ws, data, isBinary) => {
        const text = isBinary ? `binary:${Buffer.from(data as Buffer).toString()}` : String(data);
        received.messages.push(text);
        if (text === 'ping me') ws.ping('from server');
        else if (text === 'close me') ws.close(4001, 'as asked');
        // Text that is not UTF-8 (a Buffer sent as text is not re-validated): the client fails.
        else if (text === 'bad text') ws.send(Buffer.from([0xff, 0xfe]), false);
        else ws.send(data, isBinary);
      },
      close: (_ws, code, reason) => received.closes.push([code, reason]),
    },
  });
  const address = await wss.listen();
  return { url: `ws://127.0.0.1:${address!.port}/`, received, close: () => wss.close() };
}

function ended(
  ws: ClientWebSocket,
  events: Parameters<ClientWebSocket['start']>[0] = {},
): Promise<ClientEnd> {
  return new Promise((resolve) => ws.start({ ...events, closed: resolve }));
}

async function until(predicate: () => boolean, what: string): Promise<void> {
  const started = Date.now();
  while (!predicate()) {
    if (Date.now() - started > 20_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('ClientWebSocket (the low-level Node client)', { timeout: 60_000 }, () => {
  it('reports pings and pongs, and closes cleanly with our code (local initiator)', async () => {
    const srv = await server();
    try {
      const ws = await connect(srv.url);
      const pings: string[] = [];
      const pongs: string[] = [];
      const messages: string[] = [];
      const end = ended(ws, {
        message: (data) => messages.push(data.toString()),
        ping: (data) => pings.push(data.toString()),
        pong: (data) => pongs.push(data.toString()),
      });
      assert.equal(ws.ping('from client'), true);
      ws.send('ping me');
      await until(() => pongs.length === 1 && pings.length === 1, 'the ping and the pong');
      assert.deepEqual(pongs, ['from client']);
      assert.deepEqual(pings, ['from server']);
      ws.close(4000, 'done');
      assert.equal(ws.isOpen, false);
      assert.equal(ws.send('too late'), false);
      const result = await end;
      assert.deepEqual(result, { code: 4000, reason: '', wasClean: true, error: null, failed: false });
      assert.deepEqual(ws.closeRecord.sent, { code: 4000, reason: 'done' });
      assert.deepEqual(ws.closeRecord.received, { code: 4000, reason: '' });
      assert.equal(ws.closeRecord.initiator, 'local');
      assert.equal(ws.closeRecord.tcpClose, 'await-peer');
      await until(() => srv.received.closes.length === 1, 'the server to see the close');
      assert.deepEqual(srv.received.closes, [[4000, 'done']]);
    } finally {
      await srv.close();
    }
  });

  it('the server closes first: `closing` comes from the close record, then `closed` with its code', async () => {
    const srv = await server();
    try {
      const ws = await connect(srv.url);
      let closing = 0;
      const end = ended(ws, { closing: () => closing++ });
      ws.send('close me');
      const result = await end;
      assert.equal(closing, 1);
      assert.deepEqual(result, {
        code: 4001,
        reason: 'as asked',
        wasClean: true,
        error: null,
        failed: false,
      });
      assert.equal(ws.closeRecord.initiator, 'remote');
    } finally {
      await srv.close();
    }
  });

  it('start() calls started before the messages that came with the 101, and what it sends goes out', async () => {
    const wss = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      handlers: {
        open: (ws) => ws.send('welcome'),
        message: (ws, data) => ws.send(`echo ${String(data)}`),
      },
    });
    const address = await wss.listen();
    try {
      const ws = await connect(`ws://127.0.0.1:${address!.port}/`);
      // Nothing is read before start(): the welcome waits in the socket.
      await new Promise((resolve) => setTimeout(resolve, 50));
      const log: string[] = [];
      ws.start({
        started: () => {
          log.push('started');
          ws.send('hello', true);
        },
        message: (data) => log.push(data.toString()),
      });
      await until(() => log.length === 3, 'the welcome and the echo');
      assert.deepEqual(log, ['started', 'welcome', 'echo hello']);
      ws.close(1000);
    } finally {
      await wss.close();
    }
  });

  it('reports the exact close code of a failure (1007 on the wire, not 1006)', async () => {
    const srv = await server();
    try {
      const ws = await connect(srv.url);
      const end = ended(ws);
      ws.send('bad text');
      const result = await end;
      assert.equal(result.code, 1007);
      assert.equal(result.failed, true);
      assert.equal(result.wasClean, false);
      assert.ok(result.error !== null);
    } finally {
      await srv.close();
    }
  });

  it('the wiretap sees every frame both ways; write callbacks fire once written', async () => {
    const srv = await server();
    try {
      const ws = await connect(srv.url, { perMessageDeflate: false });
      const wire: Array<['in' | 'out', number]> = [];
      const written: number[] = [];
      const echoed = new Promise<void>((resolve) => {
        ws.start({
          message: () => resolve(),
          written: (bytes) => written.push(bytes),
          // The first byte of each chunk: FIN and the opcode of its first frame.
          wiretap: (direction, bytes) => wire.push([direction, bytes[0]! & 0x0f]),
        });
      });
      const callback = new Promise<Error | null | undefined>((resolve) => ws.send('hello', true, resolve));
      assert.equal((await callback) ?? null, null);
      await echoed;
      assert.deepEqual(written, [5]);
      assert.deepEqual(wire, [
        ['out', Opcode.Text],
        ['in', Opcode.Text],
      ]);
      ws.close(1000);
    } finally {
      await srv.close();
    }
  });

  it('connect() refuses a URL that is not ws:, wss:, http: or https:, and a bad option, naming it', async () => {
    await assert.rejects(connect('ftp://127.0.0.1/'), /^TypeError: connect: a ws:/);
    await assert.rejects(connect('ws://127.0.0.1:1/', { closeTimeout: 0 }), /^RangeError: closeTimeout/);
  });

  it('an event that throws outside a read fails the connection (1011) or, once closed, is a warning', async () => {
    const srv = await server();
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on('warning', onWarning);
    try {
      const ws = await connect(srv.url);
      const end = new Promise<ClientEnd>((resolve) =>
        ws.start({
          written: () => {
            throw new RangeError('written failed');
          },
          closed: (result) => {
            resolve(result);
            throw new RangeError('closed failed');
          },
        }),
      );
      ws.send('hello');
      const result = await end;
      assert.equal(result.code, 1011);
      assert.equal(result.failed, true);
      assert.match(String((result.error as Error & { cause?: unknown }).cause), /written failed/);
      await until(() => warnings.some((text) => /closed failed/.test(text)), 'the warning');
      // The first throw failed the connection: it is reported there, not as a warning.
      assert.ok(!warnings.some((text) => /written failed/.test(text)));
      await until(() => srv.received.closes.length === 1, 'the server to see the close');
      assert.equal(srv.received.closes[0]![0], 1011);
    } finally {
      process.off('warning', onWarning);
      await srv.close();
    }
  });

  it('messages sent after a Blob wait for it, and a close waits for them', async () => {
    const srv = await server();
    try {
      const ws = await connect(srv.url);
      const end = ended(ws);
      ws.send(new Blob(['first']), false);
      ws.send('second');
      ws.close(4002);
      assert.equal(ws.send('after close'), false);
      const result = await end;
      assert.equal(result.code, 4002);
      assert.deepEqual(srv.received.messages, ['binary:first', 'second']);
    } finally {
      await srv.close();
    }
  });
});

describe('WebSocket (WHATWG) on the driver', { timeout: 60_000 }, () => {
  it('send(blob) then close(): the Blob goes out before the close frame (as browsers do)', async () => {
    const srv = await server();
    try {
      const ws = new WebSocket(srv.url);
      await new Promise((resolve) => ws.addEventListener('open', resolve));
      ws.send(new Blob(['blob']));
      ws.send('text');
      ws.close(4003);
      const close = await new Promise<CloseEvent>((resolve) =>
        ws.addEventListener('close', (event) => resolve(event as CloseEvent)),
      );
      assert.equal(close.code, 4003);
      assert.equal(close.wasClean, true);
      assert.deepEqual(srv.received.messages, ['binary:blob', 'text']);
    } finally {
      await srv.close();
    }
  });
});
