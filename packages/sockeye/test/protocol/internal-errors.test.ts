/**
 * What the core does when something fails on our side (a handler, the codec, the caller's
 * transport): the connection fails with 1011 and no details on the wire, the error is
 * reported through `onClose` as an `InternalError` with the original as `cause`, and
 * nothing is thrown into the caller. And the options that cannot work, refused at
 * construction.
 */
import assert from 'node:assert/strict';
import { constants as bufferConstants } from 'node:buffer';
import { describe, it } from 'node:test';
import {
  CloseCode,
  Connection,
  type Extension,
  InternalError,
  Opcode,
  type PreparedMessage,
  RSV1_BIT,
} from '../../src/protocol/index.js';
import { decodeFrames, frame, peerFrame, Recorder } from './helpers.js';

/** An extension whose every method throws what `fault` returns (a codec that broke). */
function brokenCodec(fault: () => Error): Extension {
  return {
    name: 'broken',
    rsvBit: RSV1_BIT,
    encodeMessage: () => {
      throw fault();
    },
    decodePart: () => {
      throw fault();
    },
    preparedPayload: () => {
      throw fault();
    },
    close: () => {},
  };
}

/** The close frame a connection wrote: its code and the length of its payload. */
function closeFrameOf(rec: Recorder): { code: number; payloadLength: number } {
  const close = decodeFrames(rec.output()).find((f) => f.opcode === Opcode.Close);
  assert.ok(close, 'a close frame was written');
  return { code: close.payload.readUInt16BE(0), payloadLength: close.payload.length };
}

function assertInternalFailure(rec: Recorder, cause: Error): void {
  const info = rec.closed();
  assert.ok(info, 'onClose was called');
  assert.equal(info.code, CloseCode.InternalError);
  assert.equal(info.reason, '');
  assert.ok(info.error instanceof InternalError);
  assert.equal(info.error.code, 'ERR_SOCKEYE_INTERNAL');
  assert.equal(info.error.cause, cause);
  // RFC 6455 7.4.1: 1011 and no reason: the peer learns nothing of our internals.
  assert.deepEqual(closeFrameOf(rec), { code: CloseCode.InternalError, payloadLength: 2 });
  assert.equal(rec.connection.state, 'closed');
}

describe('internal errors: the connection fails with 1011, the caller goes on', () => {
  it('a handler that throws from onMessage', () => {
    const cause = new RangeError('Cannot create a string longer than 0x1fffffe8 characters');
    const events: string[] = [];
    const conn = new Connection(
      {
        onMessage: () => {
          throw cause;
        },
        onPing: () => events.push('ping'),
        onPong() {},
        onClose: (info) => events.push(`close ${info.code}`),
        onOutput() {},
      },
      { role: 'server' },
    );
    // Both frames in one read: nothing after the failure is delivered.
    conn.receive(
      Buffer.concat([peerFrame('server', Opcode.Text, 'x'), peerFrame('server', Opcode.Ping, 'p')]),
    );
    assert.deepEqual(events, ['close 1011']);
    const close = decodeFrames(Buffer.concat(conn.takeOutput())).find((f) => f.opcode === Opcode.Close);
    assert.equal(close?.payload.readUInt16BE(0), CloseCode.InternalError);
  });

  it('a codec whose decoding throws', () => {
    const cause = new Error('zlib: writeSync failed');
    const rec = new Recorder({ role: 'client', extensions: [brokenCodec(() => cause)] });
    assert.doesNotThrow(() => rec.receive(frame(Opcode.Binary, 'compressed?', { rsv: RSV1_BIT })));
    assertInternalFailure(rec, cause);
  });

  it('a codec whose encoding throws: send() returns false instead of throwing', () => {
    const cause = new Error('zlib: deflate failed');
    const rec = new Recorder({ role: 'client', extensions: [brokenCodec(() => cause)] });
    assert.equal(rec.connection.send('hello', true), false);
    assertInternalFailure(rec, cause);
    assert.equal(rec.connection.send('again', true), false);
  });

  it('a codec whose prepared payload throws: sendPrepared() returns false', () => {
    const cause = new Error('zlib: bad prepared message');
    const rec = new Recorder({ role: 'server', extensions: [brokenCodec(() => cause)] });
    const message: PreparedMessage = {
      data: Buffer.from('x'),
      isText: true,
      extension: 'broken',
      encoded: Buffer.from('y'),
      windowBits: 15,
    };
    assert.equal(rec.connection.sendPrepared(message), false);
    assertInternalFailure(rec, cause);
  });

  it('abort(): the shell failed outside receive() (a socket write that threw)', () => {
    const rec = new Recorder({ role: 'server' });
    const cause = new Error('EPIPE');
    const error = rec.connection.abort(cause);
    assert.ok(error instanceof InternalError);
    assertInternalFailure(rec, cause);
    assert.equal(rec.connection.abort(new Error('again')), null, 'once closed, nothing to fail');
    assert.equal(rec.closeCount(), 1);
  });

  it('an exception from onClose itself, once closed, is not swallowed', () => {
    const conn = new Connection(
      {
        onMessage() {},
        onPing() {},
        onPong() {},
        onClose: () => {
          throw new TypeError('close handler bug');
        },
        onOutput() {},
      },
      { role: 'client' },
    );
    const closeFrame = frame(Opcode.Close, Buffer.from([0x03, 0xe8]));
    assert.throws(() => conn.receive(closeFrame), TypeError);
  });
});

describe('options that cannot work are refused at construction', () => {
  const handler = { onMessage() {}, onPing() {}, onPong() {}, onClose() {}, onOutput() {} };

  it('maxPayload: 0, negative, NaN, fractional, a string, past the largest Buffer', () => {
    for (const maxPayload of [0, -5, Number.NaN, 1.5, Number.POSITIVE_INFINITY]) {
      assert.throws(() => new Connection(handler, { role: 'server', maxPayload }), /maxPayload/);
      assert.throws(() => new Connection(handler, { role: 'server', maxPayload }), RangeError);
    }
    assert.throws(
      () => new Connection(handler, { role: 'server', maxPayload: '10' as unknown as number }),
      (error: unknown) => error instanceof TypeError && /maxPayload/.test(error.message),
    );
    // Allocating the message would throw from Buffer.allocUnsafe: refused here instead.
    assert.throws(
      () => new Connection(handler, { role: 'server', maxPayload: bufferConstants.MAX_LENGTH + 1 }),
      (error: unknown) => error instanceof RangeError && /MAX_LENGTH/.test(error.message),
    );
    assert.doesNotThrow(
      () => new Connection(handler, { role: 'server', maxPayload: bufferConstants.MAX_LENGTH }),
    );
  });

  it('maxFragments, role, autoPong', () => {
    assert.throws(() => new Connection(handler, { role: 'server', maxFragments: 0 }), /maxFragments/);
    assert.throws(() => new Connection(handler, { role: 'peer' as 'server' }), /role/);
    assert.throws(
      () => new Connection(handler, { role: 'client', autoPong: 'yes' as unknown as boolean }),
      (error: unknown) => error instanceof TypeError && /autoPong/.test(error.message),
    );
  });
});
