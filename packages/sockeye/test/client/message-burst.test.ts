/**
 * A server that bursts many messages must not make the WHATWG client queue an event (and
 * its closure) per message of every read until the page's handlers catch up: the client
 * stops reading while more than `MAX_QUEUED_MESSAGE_EVENTS` events (or
 * `MAX_QUEUED_MESSAGE_BYTES` of payload) wait to be dispatched, and reads again once they
 * are (a message with nothing waiting before it is dispatched in its read's callback and
 * never queues). A raw-TCP peer writes the burst in one go; the test measures each batch
 * of events dispatched together (a microtask queued by the first handler of a batch runs
 * once the batch is over: a batch of queued events, or the messages of the reads handed
 * over in one callback) and checks that every message still arrives, in order. The `ws` layer with `allowSynchronousEvents: false`
 * (an immediate per event) is held to the same bound.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { WebSocket } from '../../src/client/websocket.js';
import { MAX_QUEUED_MESSAGE_BYTES, MAX_QUEUED_MESSAGE_EVENTS } from '../../src/protocol/limits.js';
import { WebSocket as WsWebSocket } from '../../src/ws/index.js';
import { closePayload, serverFrame, withRawServer } from './helpers.js';

/** Node reads a socket 64 KiB at a time: the messages of the read being processed are decoded whole. */
const READ_BYTES = 64 * 1024;
/**
 * Reads handed over in one callback: a socket whose reading resumes gives what it kept
 * meanwhile (it stops reading once it keeps one read: its high-water mark is less) and
 * the read in flight then.
 */
const READS_AT_ONCE = 2;

/** `count` binary messages of `size` bytes (at least 4: each starts with its index), then a close. */
function burst(count: number, size: number): Buffer {
  const frames: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const payload = Buffer.alloc(size);
    payload.writeUInt32BE(i, 0);
    frames.push(serverFrame(0x2, payload));
  }
  frames.push(serverFrame(0x8, closePayload(1000, 'done')));
  return Buffer.concat(frames);
}

interface Received {
  /** Messages received, in order (each checked against its index). */
  count: number;
  /** Most message events dispatched in one batch, and most payload bytes. */
  largestBatch: number;
  largestBatchBytes: number;
  code: number;
  wasClean: boolean;
}

/** Open a client to a server that sends `bytes` right after its 101, and receive it all. */
async function receiveBurst(bytes: Buffer): Promise<Received> {
  return withRawServer(
    (socket, _request, accept) => {
      socket.write(accept());
      socket.end(bytes);
    },
    (raw) =>
      new Promise<Received>((resolve, reject) => {
        const ws = new WebSocket(raw.url);
        ws.binaryType = 'arraybuffer';
        const received: Received = {
          count: 0,
          largestBatch: 0,
          largestBatchBytes: 0,
          code: 0,
          wasClean: false,
        };
        let batch = 0;
        let batchBytes = 0;
        const endBatch = () => {
          received.largestBatch = Math.max(received.largestBatch, batch);
          received.largestBatchBytes = Math.max(received.largestBatchBytes, batchBytes);
          batch = 0;
          batchBytes = 0;
        };
        ws.onmessage = (event) => {
          const data = event.data as ArrayBuffer;
          if (batch === 0) queueMicrotask(endBatch);
          batch++;
          batchBytes += data.byteLength;
          const index = new DataView(data).getUint32(0);
          if (index !== received.count)
            reject(new Error(`message ${index} came as number ${received.count}`));
          received.count++;
        };
        ws.onclose = (event) => {
          received.code = event.code;
          received.wasClean = event.wasClean;
          resolve(received);
        };
      }),
  );
}

describe('WHATWG client: a burst of messages from the server', { timeout: 120_000 }, () => {
  it('many tiny messages: at most the bound plus two reads are queued, all delivered in order', async () => {
    const count = 400_000;
    const size = 4;
    const received = await receiveBurst(burst(count, size));
    assert.equal(received.count, count);
    assert.equal(received.code, 1000);
    assert.equal(received.wasClean, true);
    const perRead = READ_BYTES / (size + 2);
    assert.ok(
      received.largestBatch <= MAX_QUEUED_MESSAGE_EVENTS + READS_AT_ONCE * perRead,
      `${received.largestBatch} message events were queued at once`,
    );
  });

  it('larger messages: at most the byte bound plus two reads of payload are queued, all delivered in order', async () => {
    const count = 3000;
    const size = 4096;
    const received = await receiveBurst(burst(count, size));
    assert.equal(received.count, count);
    assert.equal(received.code, 1000);
    assert.ok(
      received.largestBatchBytes <= MAX_QUEUED_MESSAGE_BYTES + READS_AT_ONCE * READ_BYTES + size,
      `${received.largestBatchBytes} bytes of messages were queued at once`,
    );
  });
});

/**
 * The `ws` layer's client with `allowSynchronousEvents: false` receives `bytes` from a raw
 * server. Each event has an immediate of its own: a probe immediate queued by a handler
 * runs after every event already queued, so the events emitted between the handler and
 * the probe are what was waiting then.
 */
async function receiveBurstWs(bytes: Buffer): Promise<Received> {
  return withRawServer(
    (socket, _request, accept) => {
      socket.write(accept());
      socket.end(bytes);
    },
    (raw) =>
      new Promise<Received>((resolve, reject) => {
        const ws = new WsWebSocket(raw.url, { allowSynchronousEvents: false, perMessageDeflate: false });
        const received: Received = {
          count: 0,
          largestBatch: 0,
          largestBatchBytes: 0,
          code: 0,
          wasClean: false,
        };
        let probing = false;
        ws.on('message', (data) => {
          const index = (data as Buffer).readUInt32BE(0);
          if (index !== received.count)
            reject(new Error(`message ${index} came as number ${received.count}`));
          received.count++;
          if (probing) return;
          probing = true;
          const at = received.count;
          setImmediate(() => {
            probing = false;
            received.largestBatch = Math.max(received.largestBatch, received.count - at);
          });
        });
        ws.on('error', reject);
        ws.on('close', (code: number) => {
          received.code = code;
          resolve(received);
        });
      }),
  );
}

describe('ws layer with allowSynchronousEvents: false: a burst of messages from the server', {
  timeout: 120_000,
}, () => {
  it('many tiny messages: at most the bound plus one read wait to be emitted, all delivered in order', async () => {
    const count = 400_000;
    const size = 4;
    const received = await receiveBurstWs(burst(count, size));
    assert.equal(received.count, count);
    assert.equal(received.code, 1000);
    const perRead = READ_BYTES / (size + 2);
    assert.ok(
      received.largestBatch <= MAX_QUEUED_MESSAGE_EVENTS + perRead,
      `${received.largestBatch} message events were waiting at once`,
    );
  });
});

/**
 * A raw server on a thread of its own (so that the client's thread can block in a handler
 * while it reads): it sends `bytes` after its 101 (in the same write with `withResponse`,
 * else 50 ms later) and counts in `counter[0]` the bytes the client sends after its handshake.
 */
const COUNTING_SERVER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createServer } = require('node:net');
const { createHash } = require('node:crypto');
const counter = new Int32Array(workerData.shared);
const server = createServer((socket) => {
  let head = Buffer.alloc(0);
  let open = false;
  socket.on('error', () => {});
  socket.on('data', (chunk) => {
    if (!open) {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\\r\\n\\r\\n');
      if (end === -1) return;
      const key = /sec-websocket-key: *([^\\r]*)/i.exec(head.toString('latin1'))[1].trim();
      const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
      open = true;
      const response = 'HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n' +
        'Sec-WebSocket-Accept: ' + accept + '\\r\\n\\r\\n';
      const burst = Buffer.from(workerData.bytes);
      if (workerData.withResponse) socket.write(Buffer.concat([Buffer.from(response, 'latin1'), burst]));
      else {
        socket.write(response);
        setTimeout(() => socket.write(burst), 50);
      }
      chunk = head.subarray(end + 4);
    }
    Atomics.add(counter, 0, chunk.length);
    Atomics.notify(counter, 0);
  });
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));
`;

describe('WHATWG client: answers to the messages of one read', { timeout: 60_000 }, () => {
  for (const withResponse of [false, true]) {
    it(`what the handlers send leaves while the rest of the read is still being handled (${withResponse ? "messages in the 101's write" : 'messages after the 101'})`, async () => {
      const count = 64;
      const bytes = Buffer.concat(
        Array.from({ length: count }, (_, i) => serverFrame(0x2, Buffer.from([0, 0, 0, i]))),
      );
      const shared = new SharedArrayBuffer(4);
      const counter = new Int32Array(shared);
      const worker = new Worker(COUNTING_SERVER, { eval: true, workerData: { shared, bytes, withResponse } });
      try {
        const port = await new Promise<number>((resolve) => worker.once('message', resolve));
        const ws = new WebSocket(`ws://127.0.0.1:${port}`);
        ws.binaryType = 'arraybuffer';
        // An echo of 4 bytes from a client: 2 header bytes, a 4-byte mask, the payload.
        const echoBytes = 2 + 4 + 4;
        let sentBeforeLast = -1;
        await new Promise<void>((resolve, reject) => {
          let received = 0;
          ws.onerror = () => reject(new Error('the connection failed'));
          ws.onmessage = (event) => {
            ws.send(event.data as ArrayBuffer);
            if (++received < count) return;
            // The last event of the read: block this thread until the server has the answers
            // to the first half (or 5 s pass). Sent only after the read's last handler, none
            // of them would have left yet.
            const deadline = Date.now() + 5000;
            const wanted = (count / 2) * echoBytes;
            while (Atomics.load(counter, 0) < wanted && Date.now() < deadline) {
              Atomics.wait(counter, 0, Atomics.load(counter, 0), 50);
            }
            sentBeforeLast = Atomics.load(counter, 0);
            resolve();
          };
        });
        // The answers to the first half reached the server while the last handler ran, and
        // the others follow.
        assert.ok(sentBeforeLast >= (count / 2) * echoBytes, `${sentBeforeLast} bytes had arrived`);
        const deadline = Date.now() + 5000;
        while (Atomics.load(counter, 0) < count * echoBytes && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        assert.equal(Atomics.load(counter, 0), count * echoBytes);
        ws.close();
      } finally {
        await worker.terminate();
      }
    });
  }
});
