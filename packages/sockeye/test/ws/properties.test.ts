/**
 * The socket's state machine against `ws`'s, by property: a random sequence of calls
 * (sends of each kind with and without callbacks, pings, pongs, close with a code and
 * reason, terminate, pause and resume) made on an open client, against a server that
 * echoes; both ends must observe what they observe with `ws` on both ends.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { WebSocket as WS } from 'ws';
import { type Context, closeServer, listen, run, SUBJECTS, wsImpl } from './harness.js';

type Operation =
  | { kind: 'text'; data: string; callback: boolean }
  | { kind: 'binary'; data: Uint8Array; callback: boolean }
  | { kind: 'fragment'; data: string; fin: boolean }
  | { kind: 'ping' | 'pong'; data: Uint8Array }
  | { kind: 'close'; code: number; reason: string }
  | { kind: 'terminate' | 'pause' | 'resume' | 'readyState' };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({
    kind: fc.constant('text' as const),
    data: fc.string({ maxLength: 40 }),
    callback: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('binary' as const),
    data: fc.uint8Array({ maxLength: 300 }),
    callback: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('fragment' as const),
    data: fc.string({ maxLength: 10 }),
    fin: fc.boolean(),
  }),
  fc.record({
    kind: fc.constantFrom('ping' as const, 'pong' as const),
    data: fc.uint8Array({ maxLength: 125 }),
  }),
  fc.record({
    kind: fc.constant('close' as const),
    code: fc.constantFrom(1000, 1001, 1011, 3000, 4999),
    reason: fc.string({ maxLength: 20 }),
  }),
  fc.record({
    kind: fc.constantFrom('terminate' as const, 'pause' as const, 'resume' as const, 'readyState' as const),
  }),
);

/** Make the calls on an open client (or, with `onServer`, on the server's socket); the other end echoes. */
function script(operations: readonly Operation[], onServer = false) {
  return async ({ server, client, s, c }: Context): Promise<void> => {
    const { wss, url } = await listen(server);
    let serverDone: Promise<void> = Promise.resolve();
    wss.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => {
        s('message', data, isBinary);
        if (!onServer) ws.send(data, { binary: isBinary });
      });
      if (onServer) apply(ws, operations, s);
      ws.on('ping', (data) => s('ping', data));
      ws.on('pong', (data) => s('pong', data));
      ws.on('error', (error) => s('error', error));
      serverDone = new Promise((resolve) =>
        ws.on('close', (code, reason) => {
          s('close', code, reason);
          resolve();
        }),
      );
    });
    const ws = new client.WebSocket(url);
    ws.on('message', (data, isBinary) => {
      c('message', data, isBinary);
      if (onServer && ws.readyState === ws.OPEN) ws.send(data, { binary: isBinary });
    });
    ws.on('pong', (data) => c('pong', data));
    ws.on('error', (error) => c('error', error));
    const closed = new Promise<void>((resolve) =>
      ws.on('close', (code, reason) => {
        c('close', code, reason, ws.readyState);
        resolve();
      }),
    );
    if (!onServer) ws.on('open', () => apply(ws, operations, c));
    await closed;
    await serverDone;
    await closeServer(wss);
  };
}

function apply(ws: WS, operations: readonly Operation[], c: (...entry: unknown[]) => void): void {
  const callback = (n: number) => (error?: Error | null) => c('callback', n, error ?? null);
  let fragmenting = false;
  operations.forEach((op, n) => {
    try {
      switch (op.kind) {
        case 'text':
          if (fragmenting) return;
          ws.send(op.data, op.callback ? callback(n) : undefined);
          break;
        case 'binary':
          if (fragmenting) return;
          ws.send(Buffer.from(op.data), op.callback ? callback(n) : undefined);
          break;
        case 'fragment':
          ws.send(op.data, { fin: op.fin });
          fragmenting = !op.fin;
          break;
        case 'ping':
          ws.ping(Buffer.from(op.data));
          break;
        case 'pong':
          ws.pong(Buffer.from(op.data));
          break;
        case 'close':
          if (fragmenting) ws.send('', { fin: true });
          fragmenting = false;
          ws.close(op.code, op.reason.slice(0, 20));
          break;
        case 'terminate':
          ws.terminate();
          break;
        case 'pause':
          ws.pause();
          break;
        case 'resume':
          ws.resume();
          break;
        case 'readyState':
          c('readyState', ws.readyState, ws.isPaused);
          break;
      }
    } catch (error) {
      c('threw', n, error);
    }
  });
  // End every run: finish a fragmented message, read again, close.
  if (fragmenting) ws.send('', { fin: true });
  ws.resume();
  ws.close(1000);
}

describe('sockeye/ws state machine, by property', () => {
  it('random call sequences on an open socket are observed as with ws', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { maxLength: 12 }), async (operations) => {
        const reference = await run(script(operations), wsImpl, wsImpl);
        for (const [server, client] of SUBJECTS) {
          const observed = await run(script(operations), server, client);
          assert.deepEqual(observed, reference, `server ${server.name}, client ${client.name}`);
        }
      }),
      { numRuns: 25 },
    );
  });

  it('random call sequences on a server socket are observed as with ws', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { maxLength: 12 }), async (operations) => {
        const reference = await run(script(operations, true), wsImpl, wsImpl);
        for (const [server, client] of SUBJECTS) {
          const observed = await run(script(operations, true), server, client);
          assert.deepEqual(observed, reference, `server ${server.name}, client ${client.name}`);
        }
      }),
      { numRuns: 25 },
    );
  });
});
