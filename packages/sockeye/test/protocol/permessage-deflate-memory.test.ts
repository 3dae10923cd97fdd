/**
 * Memory held for an incomplete compressed message: bounded by maxPayload plus a constant
 * however the peer fragments or trickles it, as for a plain message. Measured as
 * heapUsed + arrayBuffers after a full GC, the message one byte short of its end.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { heldBytes as held } from '../../../../scripts/lib/memory.js';
import {
  encodeFrameHeader,
  maskInto,
  Opcode,
  PerMessageDeflate,
  type Role,
  RSV1_BIT,
} from '../../src/protocol/index.js';
import { open } from './deflate-helpers.js';
import { noiseBytes } from './helpers.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * A compressed message of `size` bytes that deflate could not shrink (stored blocks): every
 * compressed byte inflates to one byte, so a trickled message comes out one byte at a time.
 */
function storedMessage(size: number): { data: Buffer; compressed: Buffer } {
  const data = noiseBytes(size, 0x9e3779b9);
  const out = zlib.deflateRawSync(data, { level: 0, finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return { data, compressed: out.subarray(0, out.length - 4) };
}

function frame(payload: Buffer, first: boolean, fin: boolean, masked: boolean): Buffer {
  const body = Buffer.from(payload);
  const maskKey = masked ? Buffer.from([9, 8, 7, 6]) : undefined;
  if (maskKey) maskInto(body, maskKey, body, 0);
  const header = encodeFrameHeader({
    fin,
    rsv: first ? RSV1_BIT : 0,
    opcode: first ? Opcode.Binary : Opcode.Continuation,
    length: body.length,
    ...(maskKey ? { maskKey } : {}),
  });
  return Buffer.concat([header, body]);
}

function receiver(role: Role, maxPayload: number, maxFragments: number) {
  const extension = new PerMessageDeflate().extension(role, {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  });
  return open(role, { extensions: [extension], maxPayload, maxFragments });
}

/**
 * What may be held besides the message's own bytes: the codec's 64 KiB scratch, the
 * inflate stream (~40 KiB), the growth of the message buffer and what a GC leaves around.
 */
const CONSTANT = 2 * MiB;

describe('memory held for an incomplete compressed message', { timeout: 180_000 }, () => {
  it('one compressed byte per read: bounded by maxPayload plus a constant', () => {
    const maxPayload = 256 * KiB;
    const { data, compressed } = storedMessage(maxPayload);
    const wire = frame(compressed, true, true, true);
    const { connection, seen } = receiver('server', maxPayload, 4096);
    const before = held();
    // Everything but the last byte, one byte per read.
    for (let at = 0; at < wire.length - 1; at++) connection.receive(wire.subarray(at, at + 1));
    const growth = held() - before;
    assert.equal(seen.closes.length, 0);
    assert.equal(seen.messages.length, 0);
    assert.ok(growth <= maxPayload + CONSTANT, `held ${growth} bytes for a ${maxPayload}-byte limit`);
    connection.receive(wire.subarray(wire.length - 1));
    assert.equal(seen.messages.length, 1);
    assert.ok(seen.messages[0]!.data.equals(data));
  });

  it('2^20 one-byte compressed fragments: bounded by maxPayload plus a constant', () => {
    const fragments = 2 ** 20;
    const maxPayload = fragments;
    const { data, compressed } = storedMessage(maxPayload);
    // One compressed byte per fragment, the last fragment carrying what is left.
    const frames: Buffer[] = [];
    for (let i = 0; i < fragments - 1; i++) frames.push(compressed.subarray(i, i + 1));
    frames.push(compressed.subarray(fragments - 1));
    // The wire as client frames (unmasked), in reads of 64 KiB, all but the last fragment.
    const wire = Buffer.concat(
      frames.slice(0, -1).map((payload, i) => frame(payload, i === 0, false, false)),
    );
    const last = frame(frames.at(-1)!, false, true, false);
    frames.length = 0;
    const { connection, seen } = receiver('client', maxPayload, fragments);
    const before = held();
    for (let at = 0; at < wire.length; at += 64 * KiB) connection.receive(wire.subarray(at, at + 64 * KiB));
    const growth = held() - before;
    assert.equal(seen.closes.length, 0);
    assert.equal(seen.messages.length, 0);
    assert.ok(growth <= maxPayload + CONSTANT, `held ${growth} bytes for a ${maxPayload}-byte limit`);
    connection.receive(last);
    assert.equal(seen.messages.length, 1);
    assert.ok(seen.messages[0]!.data.equals(data));
  });
});
