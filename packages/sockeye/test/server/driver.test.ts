/**
 * ServerWebSocket on the socket driver: the ordered send queue when a Blob cannot be read,
 * the close record the core keeps (who closed first, which frames crossed), and when the
 * answers of a read leave.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import type { ServerWebSocket } from '../../src/index.js';
import type { CloseRecord } from '../../src/protocol/index.js';
import { clientFrame, closeOf, inbox, listen, openWs, until, upgradeRequest } from './helpers.js';

/** A Blob whose bytes cannot be read (a file gone from disk, say). */
class UnreadableBlob extends Blob {
  override arrayBuffer(): Promise<ArrayBuffer> {
    return Promise.reject(new Error('the Blob could not be read'));
  }
}

describe('ServerWebSocket on the driver', { timeout: 60_000 }, () => {
  it('a Blob that cannot be read fails the connection with 1011 at once; what came before it still goes', async () => {
    const errors: unknown[] = [];
    const { server, url } = await listen({
      // A close the peer never answers would be dropped after closeTimeout: keep it long,
      // so that a close frame stuck behind the Blob shows as a timeout, not as a 1006.
      closeTimeout: 60_000,
      handlers: {
        message(ws) {
          ws.send('before');
          ws.send(new UnreadableBlob(['x']));
          ws.send('after');
        },
        error: (_ws, error) => errors.push(error),
      },
    });
    try {
      const client = await openWs(url);
      const closed = closeOf(client);
      client.send('go');
      assert.deepEqual(await closed, { code: 1011, reason: 'internal server error' });
      const received = inbox(client).map(({ data }) => data.toString());
      assert.equal(received[0], 'before');
      assert.ok(!received.includes('x'));
      assert.equal(errors.length, 1);
      assert.match(String(errors[0]), /could not be read/);
    } finally {
      await server.close();
    }
  });

  it('keeps the close record: the peer closed first, both frames crossed, the server ends TCP', async () => {
    let record: CloseRecord | null = null;
    const { server, url } = await listen({
      handlers: {
        close: (ws: ServerWebSocket) => {
          record = ws.closeRecord;
        },
      },
    });
    try {
      const client = await openWs(url);
      const closed = closeOf(client);
      client.close(4000, 'bye');
      assert.deepEqual(await closed, { code: 4000, reason: '' });
      await until(() => record !== null, 'the server to close');
      assert.deepEqual(record, {
        sent: { code: 4000, reason: '' },
        received: { code: 4000, reason: 'bye' },
        initiator: 'remote',
        wasClean: true,
        tcpClose: 'end',
      });
    } finally {
      await server.close();
    }
  });
});

/**
 * A raw client on a thread of its own (so that the server's thread can block in a handler
 * while it reads): after the 101 it writes `frames` in one write and counts in
 * `counter[0]` the bytes the server sends after its 101.
 */
const COUNTING_CLIENT = `
const { workerData } = require('node:worker_threads');
const { connect } = require('node:net');
const counter = new Int32Array(workerData.shared);
const socket = connect(workerData.port, '127.0.0.1');
socket.on('error', () => {});
socket.write(workerData.request);
let head = Buffer.alloc(0);
let open = false;
socket.on('data', (chunk) => {
  if (!open) {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\\r\\n\\r\\n');
    if (end === -1) return;
    open = true;
    chunk = head.subarray(end + 4);
    socket.write(Buffer.from(workerData.frames));
  }
  Atomics.add(counter, 0, chunk.length);
  Atomics.notify(counter, 0);
});
`;

/**
 * `frames` come in one write from the raw client above. `answer` handles the n-th message
 * (from 1); then, in the handler of message `blockAt`, the server's thread blocks (up to
 * `waitMs`) until `wanted` bytes of answers reached the client. Returns how many had
 * reached it then, and in the end (once `expected` bytes have arrived).
 */
async function answersWhileBlocked(test: {
  frames: Buffer;
  answer: (ws: ServerWebSocket, data: Buffer | string, n: number) => void;
  blockAt: number;
  wanted: number;
  waitMs: number;
  expected: number;
}): Promise<{ duringLast: number; total: number }> {
  const shared = new SharedArrayBuffer(4);
  const counter = new Int32Array(shared);
  let duringLast = -1;
  let n = 0;
  const { server, port } = await listen({
    handlers: {
      message(ws, data) {
        test.answer(ws, data, ++n);
        if (n !== test.blockAt) return;
        const deadline = Date.now() + test.waitMs;
        while (Atomics.load(counter, 0) < test.wanted && Date.now() < deadline) {
          Atomics.wait(counter, 0, Atomics.load(counter, 0), 20);
        }
        duringLast = Atomics.load(counter, 0);
      },
    },
  });
  const worker = new Worker(COUNTING_CLIENT, {
    eval: true,
    workerData: { shared, port, request: upgradeRequest('/', {}, port), frames: test.frames },
  });
  try {
    await until(() => Atomics.load(counter, 0) >= test.expected, 'every answer');
    return { duringLast, total: Atomics.load(counter, 0) };
  } finally {
    await worker.terminate();
    await server.close({ timeout: 100 });
  }
}

/**
 * `count` binary messages of `size` bytes come in one write; the server echoes each, and
 * its last handler blocks (up to `waitMs`) until `wanted` bytes of answers reached the
 * client.
 */
async function answersDuringRead(
  count: number,
  size: number,
  wanted: number,
  waitMs: number,
): Promise<{ duringLast: number; total: number; expected: number }> {
  // The server's echo of one message: its header (2 bytes, 4 from 126 bytes on), then the payload.
  const expected = count * ((size < 126 ? 2 : 4) + size);
  const result = await answersWhileBlocked({
    frames: Buffer.concat(Array.from({ length: count }, () => clientFrame(0x2, Buffer.alloc(size, 7)))),
    answer: (ws, data) => ws.send(data),
    blockAt: count,
    wanted,
    waitMs,
    expected,
  });
  return { ...result, expected };
}

/**
 * Two small messages come in one write (one read). The first one's handler sends `size`
 * bytes; the second one's blocks (up to `waitMs`) until they reached the client.
 */
function largeAnswerDuringRead(size: number, waitMs: number): Promise<{ duringLast: number; total: number }> {
  return answersWhileBlocked({
    frames: Buffer.concat([clientFrame(0x2, Buffer.from('a')), clientFrame(0x2, Buffer.from('b'))]),
    answer: (ws, _data, n) => {
      if (n === 1) ws.send(Buffer.alloc(size, 1));
    },
    blockAt: 2,
    wanted: size,
    waitMs,
    // The answer's header: 4 bytes up to 65,535 bytes of payload, 10 from there on.
    expected: size + (size < 65536 ? 4 : 10),
  });
}

describe('ServerWebSocket on the driver: when answers leave', { timeout: 60_000 }, () => {
  it('once 64 KiB of answers are queued, they leave before the rest of the read is handled', async () => {
    const { duringLast, total } = await largeAnswerDuringRead(70_000, 5000);
    assert.ok(duringLast >= 70_000, `${duringLast} bytes had reached the client`);
    assert.equal(total, 70_010);
  });

  it('an answer under 64 KiB in a short read waits for the read to end (or for 32 messages)', async () => {
    const { duringLast, total } = await largeAnswerDuringRead(60_000, 200);
    assert.equal(duringLast, 0);
    assert.equal(total, 60_004);
  });

  it('in a short read of many small messages, what the handlers send leaves every 32 messages', async () => {
    // 64 messages of 4 bytes: 640 bytes in one read. The answers to the first half left
    // before the last handler ran; written only after the read, none would have.
    const { duringLast, total, expected } = await answersDuringRead(64, 4, 32 * 6, 5000);
    assert.ok(duringLast >= 32 * 6, `${duringLast} bytes had reached the client`);
    assert.equal(total, expected);
  });

  it('in a long read, what the handlers send leaves in one write after it', async () => {
    // 40 messages of 600 bytes: over 16 KiB in one read. No read under 16 KiB can hold
    // 32 of them, so not one answer leaves before the last handler returns.
    const { duringLast, total, expected } = await answersDuringRead(40, 600, 1, 200);
    assert.equal(duringLast, 0);
    assert.equal(total, expected);
  });
});
