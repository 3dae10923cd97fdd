/**
 * A frame built once for many connections (a topic publish): `buildFrame`,
 * `OutputQueue.pushFrame` and `Connection.sendPrepared` with `frame`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  buildFrame,
  COPY_THRESHOLD,
  FIN_BIT,
  Opcode,
  OutputQueue,
  PerMessageDeflate,
  type PreparedMessage,
} from '../../src/protocol/index.js';
import { decodeFrames, Recorder } from './helpers.js';

function prepared(data: Buffer, isText: boolean): PreparedMessage {
  return {
    data,
    isText,
    extension: '',
    encoded: null,
    windowBits: 0,
    frame: buildFrame(FIN_BIT | (isText ? Opcode.Text : Opcode.Binary), data),
  };
}

describe('buildFrame', () => {
  for (const size of [0, 125, 126, 65535, 65536, 100_000]) {
    it(`a ${size}-byte payload makes a valid unmasked frame`, () => {
      const payload = Buffer.alloc(size, 0x5a);
      const frame = buildFrame(FIN_BIT | Opcode.Binary, payload);
      const [decoded, ...rest] = decodeFrames(frame);
      assert.equal(rest.length, 0);
      assert.equal(decoded!.fin, true);
      assert.equal(decoded!.opcode, Opcode.Binary);
      assert.equal(decoded!.masked, false);
      assert.deepEqual(decoded!.payload, payload);
    });
  }
});

describe('OutputQueue.pushFrame', () => {
  it('queues the very same Buffer, in order with copied frames, and counts its bytes', () => {
    const queue = new OutputQueue(false);
    const frame = buildFrame(FIN_BIT | Opcode.Text, Buffer.from('shared'));
    queue.push(FIN_BIT | Opcode.Text, 'before');
    queue.pushFrame(frame);
    queue.push(FIN_BIT | Opcode.Text, 'after');
    assert.equal(queue.bytes, 8 + frame.length + 7);
    const chunks = queue.take();
    assert.equal(chunks.length, 3);
    assert.equal(chunks[1], frame, 'by reference, not a copy');
    assert.deepEqual(
      decodeFrames(Buffer.concat(chunks)).map((f) => f.payload.toString()),
      ['before', 'shared', 'after'],
    );
    assert.equal(queue.bytes, 0);
  });

  it('refuses on a masking (client) queue', () => {
    const queue = new OutputQueue(true);
    assert.throws(() => queue.pushFrame(buildFrame(FIN_BIT | Opcode.Text, Buffer.from('x'))), RangeError);
  });
});

describe('Connection.sendPrepared with a prebuilt frame', () => {
  it('a server without extensions writes the same frame Buffer on every connection', () => {
    const message = prepared(Buffer.from('to everyone'), true);
    const outputs = [0, 1, 2].map(() => {
      const rec = new Recorder({ role: 'server' });
      assert.equal(rec.connection.sendPrepared(message), true);
      assert.equal(rec.connection.bufferedBytes, message.frame!.length);
      return rec.connection.takeOutput();
    });
    for (const chunks of outputs) {
      assert.equal(chunks.length, 1);
      assert.equal(chunks[0], message.frame);
    }
  });

  it('signals output like send()', () => {
    const rec = new Recorder({ role: 'server' });
    rec.connection.sendPrepared(prepared(Buffer.from([1, 2, 3]), false));
    assert.equal(rec.events.filter((e) => e.type === 'output').length, 1);
  });

  it('a large payload is still one shared frame', () => {
    const message = prepared(Buffer.alloc(COPY_THRESHOLD * 2, 7), false);
    const rec = new Recorder({ role: 'server' });
    rec.connection.sendPrepared(message);
    const [decoded] = decodeFrames(Buffer.concat(rec.connection.takeOutput()));
    assert.equal(decoded!.opcode, Opcode.Binary);
    assert.deepEqual(decoded!.payload, message.data);
  });

  it('a client ignores the frame and masks its own', () => {
    const message = prepared(Buffer.from('from a client'), true);
    const rec = new Recorder({ role: 'client' });
    rec.connection.sendPrepared(message);
    const chunks = rec.connection.takeOutput();
    assert.ok(!chunks.includes(message.frame!));
    const [decoded] = decodeFrames(Buffer.concat(chunks));
    assert.equal(decoded!.masked, true);
    assert.equal(decoded!.payload.toString(), 'from a client');
  });

  it('a connection with permessage-deflate does not take the uncompressed frame as is', () => {
    const deflate = new PerMessageDeflate({ threshold: 0 });
    const extension = deflate.extension('server', {
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
    });
    const message = prepared(Buffer.from('compress me '.repeat(20)), true);
    const rec = new Recorder({ role: 'server', extensions: [extension] });
    rec.connection.sendPrepared(message);
    const chunks = rec.connection.takeOutput();
    assert.ok(!chunks.includes(message.frame!));
    assert.equal(chunks[0]![0]! & 0x40, 0x40, 'compressed for this connection (RSV1)');
  });

  it('returns false and queues nothing after a close frame', () => {
    const rec = new Recorder({ role: 'server' });
    rec.connection.close(1000);
    rec.connection.takeOutput();
    assert.equal(rec.connection.sendPrepared(prepared(Buffer.from('late'), true)), false);
    assert.equal(rec.connection.bufferedBytes, 0);
  });
});
