/**
 * The socket driver's ordered send queue, as a state machine (fast-check): any sequence
 * of text sends, Blob sends (some unreadable) and closes, made in one go on a client
 * connection over an in-memory socket, puts on the wire every message sent before the
 * first close, in the order sent (an unreadable Blob as an empty message, the client's
 * rule), then that close frame, and nothing after it.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { OpenedSocket } from '../../src/client/connect.js';
import { ClientWebSocket } from '../../src/client/session.js';
import { Opcode } from '../../src/protocol/index.js';
import { decodeFrames } from '../protocol/helpers.js';

const IN_CI = process.env.CI === 'true' || process.env.CI === '1';
const RUNS = IN_CI ? 1_000 : 200;

/** What a net.Socket offers the driver, in memory: writes are recorded, callbacks run on the next tick. */
class MemorySocket extends EventEmitter {
  writable = true;
  destroyed = false;
  writableEnded = false;
  writableLength = 0;
  writableNeedDrain = false;
  allowHalfOpen = false;
  readonly written: Buffer[] = [];

  write(chunk: Uint8Array | string, callback?: (error?: Error | null) => void): boolean {
    this.written.push(Buffer.from(chunk));
    if (callback !== undefined) process.nextTick(callback, null);
    return true;
  }
  cork(): void {}
  uncork(): void {}
  pause(): this {
    return this;
  }
  resume(): this {
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  end(): this {
    this.writableEnded = true;
    this.writable = false;
    return this;
  }
  destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.writable = false;
    process.nextTick(() => this.emit('close'));
    return this;
  }
}

function openOver(socket: MemorySocket): ClientWebSocket {
  const opened: OpenedSocket = {
    socket: socket as unknown as Socket,
    rest: Buffer.alloc(0),
    protocol: '',
    extensions: [],
    deflate: null,
    url: new URL('ws://127.0.0.1/'),
    request: '',
    response: { httpVersion: '1.1', statusCode: 101, statusMessage: 'Switching Protocols', headers: {} },
  };
  return ClientWebSocket._create(opened, { closeTimeout: 60_000 });
}

/** A Blob whose bytes cannot be read. */
class UnreadableBlob extends Blob {
  override arrayBuffer(): Promise<ArrayBuffer> {
    return Promise.reject(new Error('unreadable'));
  }
}

type Step =
  | { kind: 'text'; text: string }
  | { kind: 'blob'; text: string }
  | { kind: 'unreadable' }
  | { kind: 'close'; code: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('text' as const), text: fc.string({ maxLength: 8 }) }),
  fc.record({ kind: fc.constant('blob' as const), text: fc.string({ maxLength: 8 }) }),
  fc.record({ kind: fc.constant('unreadable' as const) }),
  fc.record({ kind: fc.constant('close' as const), code: fc.integer({ min: 3000, max: 4999 }) }),
);

/** Wait for `predicate`, a bounded number of event-loop turns (a hang guard, not a timing). */
async function settle(predicate: () => boolean, turns = 1000): Promise<void> {
  for (let turn = 0; turn < turns && !predicate(); turn++) {
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('the driver keeps the order of sends around Blobs and a close', () => {
  it('property: the wire holds the sends before the first close, in order, then that close', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { maxLength: 8 }), async (steps) => {
        const socket = new MemorySocket();
        const ws = openOver(socket);
        ws.start({});
        const expected: Array<{ opcode: number; payload: string }> = [];
        let closed = false;
        for (const step of steps) {
          if (step.kind === 'close') {
            ws.close(step.code);
            if (!closed) {
              const payload = Buffer.alloc(2);
              payload.writeUInt16BE(step.code);
              expected.push({ opcode: Opcode.Close, payload: payload.toString('latin1') });
            }
            closed = true;
            continue;
          }
          const data =
            step.kind === 'text'
              ? step.text
              : step.kind === 'blob'
                ? new Blob([step.text])
                : new UnreadableBlob(['x']);
          const accepted = ws.send(data, step.kind === 'text');
          assert.equal(accepted, !closed);
          if (closed) continue;
          expected.push({
            opcode: step.kind === 'text' ? Opcode.Text : Opcode.Binary,
            payload: step.kind === 'unreadable' ? '' : Buffer.from(step.text).toString('latin1'),
          });
        }
        const frames = () => decodeFrames(Buffer.concat(socket.written));
        await settle(() => frames().length >= expected.length);
        // One more turn: anything sent after the expected frames would show now.
        await settle(() => false, 10);
        assert.deepEqual(
          frames().map((frame) => ({ opcode: frame.opcode, payload: frame.payload.toString('latin1') })),
          expected,
        );
        ws.terminate();
      }),
      { numRuns: RUNS },
    );
  });
});
