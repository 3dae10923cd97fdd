/**
 * Connection's two close-frame options (what `@sockeye/sockeye/ws` needs to put `ws`'s bytes on the
 * wire): `echoCloseReason` answers a peer's close with its code and reason, `failReason:
 * false` fails a connection with a close frame that carries the code alone. Both default to
 * sockeye's own behaviour (code only; code and a description).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloseCode, Opcode, type Role } from '../../src/protocol/index.js';
import { closePayload, decodeFrames, peerFrame, Recorder } from './helpers.js';

const ROLES: Role[] = ['server', 'client'];

/** The close frame the connection wrote (the only frame it wrote). */
function closeFrameWritten(rec: Recorder): Buffer {
  const frames = decodeFrames(rec.output());
  assert.equal(frames.length, 1);
  assert.equal(frames[0]!.opcode, Opcode.Close);
  return frames[0]!.payload;
}

describe('Connection close-frame options', () => {
  for (const role of ROLES) {
    it(`${role}: by default the answer to a close carries its code alone`, () => {
      const rec = new Recorder({ role }).receive(peerFrame(role, Opcode.Close, closePayload(4000, 'bye')));
      assert.deepEqual(closeFrameWritten(rec), closePayload(4000));
    });

    it(`${role}: echoCloseReason answers with the code and the reason`, () => {
      const rec = new Recorder({ role, echoCloseReason: true }).receive(
        peerFrame(role, Opcode.Close, closePayload(4000, 'bye')),
      );
      assert.deepEqual(closeFrameWritten(rec), closePayload(4000, 'bye'));
    });

    it(`${role}: echoCloseReason still answers an empty close with an empty one`, () => {
      const rec = new Recorder({ role, echoCloseReason: true }).receive(peerFrame(role, Opcode.Close));
      assert.deepEqual(closeFrameWritten(rec), Buffer.alloc(0));
    });

    it(`${role}: by default a failure's close frame carries a description`, () => {
      const rec = new Recorder({ role }).receive(peerFrame(role, Opcode.Text, Buffer.from([0xff])));
      const payload = closeFrameWritten(rec);
      assert.equal(payload.readUInt16BE(0), CloseCode.InvalidPayload);
      assert.ok(payload.length > 2);
    });

    it(`${role}: failReason false fails with the close code alone (the reason is still reported)`, () => {
      const rec = new Recorder({ role, failReason: false }).receive(
        peerFrame(role, Opcode.Text, Buffer.from([0xff])),
      );
      assert.deepEqual(closeFrameWritten(rec), closePayload(CloseCode.InvalidPayload));
      const close = rec.events.find((event) => event.type === 'close');
      assert.ok(close?.type === 'close' && close.info.error !== null && close.info.reason !== '');
    });
  }
});
