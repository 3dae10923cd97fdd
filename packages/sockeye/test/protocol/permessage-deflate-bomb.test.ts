/**
 * Decompression bombs (issue 5, item 3): a compressed message that would inflate to 1 GiB
 * is refused with 1009 as soon as it passes maxPayload, in both roles, and the memory it
 * costs stays within maxPayload plus a small constant (measured with process.memoryUsage()).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import {
  CloseCode,
  encodeFrameHeader,
  maskInto,
  Opcode,
  PerMessageDeflate,
  type Role,
  RSV1_BIT,
} from '../../src/protocol/index.js';
import { open } from './deflate-helpers.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/**
 * A raw DEFLATE stream that inflates to 1 GiB of zeros: 16 MiB of zeros compressed with
 * a sync flush (non-final blocks ending on a byte boundary) is a unit that can be
 * repeated; 64 copies make 1 GiB from about 1 MiB.
 */
function bomb(): { compressed: Buffer; inflatedSize: number } {
  const unit = zlib.deflateRawSync(Buffer.alloc(16 * MiB), {
    level: 9,
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  // Drop the unit's trailing 00 00 ff ff: the receiver adds it at the end of the message.
  const body = unit.subarray(0, unit.length - 4);
  return { compressed: Buffer.concat(Array.from({ length: 64 }, () => body)), inflatedSize: GiB };
}

/** The bomb as frames of `fragment` bytes, RSV1 on the first, masked when a client sends them. */
function frames(compressed: Buffer, fragment: number, masked: boolean): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < compressed.length; at += fragment) {
    const payload = Buffer.from(compressed.subarray(at, at + fragment));
    const first = at === 0;
    const fin = at + fragment >= compressed.length;
    const maskKey = masked ? Buffer.from([1, 2, 3, 4]) : undefined;
    if (maskKey) maskInto(payload, maskKey, payload, 0);
    const header = encodeFrameHeader({
      fin,
      rsv: first ? RSV1_BIT : 0,
      opcode: first ? Opcode.Binary : Opcode.Continuation,
      length: payload.length,
      ...(maskKey ? { maskKey } : {}),
    });
    out.push(Buffer.concat([header, payload]));
  }
  return out;
}

function receiver(role: Role, maxPayload: number) {
  const extension = new PerMessageDeflate().extension(role, {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  });
  return open(role, { extensions: [extension], maxPayload });
}

describe('decompression bomb: 1 GiB would-be message', { timeout: 120_000 }, () => {
  const { compressed, inflatedSize } = bomb();

  it('the bomb really inflates past 1 GiB worth of output (sanity check of the fixture)', () => {
    // Inflate the first 1/64 with Node's own bound to prove the unit is what we think.
    const unit = compressed.subarray(0, compressed.length / 64);
    const out = zlib.inflateRawSync(Buffer.concat([unit, Buffer.from([0, 0, 0xff, 0xff])]), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    assert.equal(out.length * 64, inflatedSize);
    assert.ok(compressed.length < 2 * MiB, `${compressed.length} bytes compressed`);
  });

  for (const role of ['server', 'client'] as const) {
    for (const [label, fragment] of [
      ['one frame', Number.MAX_SAFE_INTEGER],
      ['16 KiB fragments', 16 * 1024],
    ] as const) {
      it(`a ${role} refuses it with 1009 within maxPayload plus a constant (${label})`, () => {
        const maxPayload = 4 * MiB;
        const wire = frames(compressed, fragment, role === 'server');
        const { connection, seen } = receiver(role, maxPayload);
        globalThis.gc?.();
        const before = process.memoryUsage();
        for (const chunk of wire) connection.receive(chunk);
        const after = process.memoryUsage();
        assert.equal(seen.messages.length, 0);
        assert.equal(seen.closes.length, 1);
        assert.equal(seen.closes[0]!.code, CloseCode.MessageTooBig);
        assert.equal(seen.closes[0]!.error?.rule, 'message-too-big');
        // Nothing was freed by a GC in between if none ran; either way the growth is bounded
        // by maxPayload plus the output scratch and zlib's own state, far from 1 GiB.
        const arrayBuffers = after.arrayBuffers - before.arrayBuffers;
        const rss = after.rss - before.rss;
        assert.ok(arrayBuffers <= maxPayload + 1 * MiB, `arrayBuffers grew ${arrayBuffers} bytes`);
        assert.ok(rss <= maxPayload + 48 * MiB, `rss grew ${rss} bytes`);
      });
    }
  }

  it('a 1 KiB frame that inflates to 1 MiB is refused past a 64 KiB limit', () => {
    const small = zlib.deflateRawSync(Buffer.alloc(MiB), {
      level: 9,
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    const body = small.subarray(0, small.length - 4);
    assert.ok(body.length <= 1100, `${body.length} bytes`);
    for (const role of ['server', 'client'] as const) {
      const { connection, seen } = receiver(role, 64 * 1024);
      for (const chunk of frames(body, Number.MAX_SAFE_INTEGER, role === 'server')) connection.receive(chunk);
      assert.equal(seen.closes[0]?.code, CloseCode.MessageTooBig, role);
      assert.equal(seen.messages.length, 0);
    }
  });

  it('an incompressible message of maxPayload bytes is delivered although deflate made it larger', () => {
    const limit = 256 * 1024;
    const data = Buffer.alloc(limit);
    for (let i = 0; i < limit; i++) data[i] = (i * 2654435761) >>> 24;
    const deflated = zlib.deflateRawSync(data, { level: 0, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    const body = deflated.subarray(0, deflated.length - 4);
    assert.ok(body.length > limit, `${body.length} bytes on the wire`);
    for (const role of ['server', 'client'] as const) {
      const { connection, seen } = receiver(role, limit);
      for (const chunk of frames(body, 16 * 1024, role === 'server')) connection.receive(chunk);
      assert.equal(seen.closes.length, 0, role);
      assert.deepEqual(seen.messages[0]!.data, data);
    }
    // Plain (uncompressed) messages keep the exact limit.
    const { connection, seen } = receiver('client', limit);
    connection.receive(
      Buffer.concat([
        encodeFrameHeader({ opcode: Opcode.Binary, length: limit + 1 }),
        Buffer.alloc(limit + 1),
      ]),
    );
    assert.equal(seen.closes[0]?.code, CloseCode.MessageTooBig);
  });

  it('a message that inflates to exactly maxPayload is delivered', () => {
    const limit = 256 * 1024;
    const data = Buffer.alloc(limit, 7);
    const small = zlib.deflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    for (const role of ['server', 'client'] as const) {
      const { connection, seen } = receiver(role, limit);
      for (const chunk of frames(small.subarray(0, small.length - 4), 100, role === 'server')) {
        connection.receive(chunk);
      }
      assert.equal(seen.closes.length, 0, role);
      assert.deepEqual(seen.messages[0]!.data, data);
    }
  });
});
