/**
 * FrameParser: the framing rules of RFC 6455 sections 5.1-5.5 that the headers alone
 * decide. Each rule is checked on the parser (the ProtocolError and its rule) and through
 * a Connection (the exact close frame written back).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  FIN_BIT,
  type FrameHeader,
  FrameParser,
  Opcode,
  ProtocolError,
  type Role,
  RSV1_BIT,
  RSV2_BIT,
  RSV3_BIT,
} from '../../src/protocol/index.js';
import { assertFailed, chunksOf, collectingParser, frame, KEY, peerFrame, Recorder } from './helpers.js';

/** Push `bytes` into a fresh parser, whole and byte by byte; both must throw `rule`. */
function assertRejected(role: Role, bytes: Buffer, rule: string, closeCode = 1002, allowedRsv = 0): void {
  for (const chunks of [[bytes], chunksOf(bytes, 1)]) {
    const { parser } = collectingParser(role, allowedRsv);
    assert.throws(
      () => {
        for (const chunk of chunks) parser.push(Buffer.from(chunk));
      },
      (error: unknown) =>
        error instanceof ProtocolError && error.rule === rule && error.closeCode === closeCode,
    );
  }
  const rec = new Recorder({ role });
  rec.receive(bytes);
  assertFailed(rec, rule, closeCode);
}

describe('RFC 6455 5.1: masking rule by role', () => {
  it('a server fails the connection on an unmasked client frame (1002)', () => {
    assertRejected('server', frame(Opcode.Text, 'hi'), 'unmasked-client-frame');
  });

  it('a client fails the connection on a masked server frame (1002)', () => {
    assertRejected('client', frame(Opcode.Text, 'hi', { mask: true }), 'masked-server-frame');
  });

  it('the server unmasks with the frame key and hands out the plain payload', () => {
    const { parser, frames } = collectingParser('server');
    parser.push(frame(Opcode.Binary, Buffer.from([1, 2, 3, 4, 5]), { mask: KEY }));
    assert.deepEqual([...frames[0]!.payload], [1, 2, 3, 4, 5]);
    assert.deepEqual([...frames[0]!.header.maskKey], [...KEY]);
  });

  it('a payload split across reads is unmasked with the right key offset', () => {
    const payload = Buffer.from('abcdefghijklmnopqrstuvwxyz0123456789'.repeat(3));
    const bytes = frame(Opcode.Binary, payload, { mask: true });
    for (const size of [1, 3, 5, 7, 50]) {
      const { parser, frames } = collectingParser('server');
      for (const chunk of chunksOf(bytes, size)) parser.push(chunk);
      assert.ok(frames[0]!.payload.equals(payload), `chunk size ${size}`);
    }
  });
});

describe('RFC 6455 5.2: base framing', () => {
  for (const [name, bit] of [
    ['RSV1', RSV1_BIT],
    ['RSV2', RSV2_BIT],
    ['RSV3', RSV3_BIT],
  ] as const) {
    it(`${name} set without a negotiated extension fails with 1002`, () => {
      assertRejected('server', frame(Opcode.Text, 'x', { rsv: bit, mask: true }), 'reserved-bits');
      assertRejected('client', frame(Opcode.Ping, '', { rsv: bit }), 'reserved-bits');
    });
  }

  it('RSV1 is accepted by the parser once allowed (setAllowedRsv)', () => {
    const { parser, frames } = collectingParser('client');
    assert.throws(() => parser.push(frame(Opcode.Text, 'x', { rsv: RSV1_BIT })), ProtocolError);
    const second = collectingParser('client', 0);
    second.parser.setAllowedRsv(RSV1_BIT);
    second.parser.push(frame(Opcode.Text, 'x', { rsv: RSV1_BIT }));
    assert.equal(second.frames[0]!.header.rsv, RSV1_BIT);
    assert.equal(frames.length, 0);
  });

  for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    it(`reserved opcode 0x${opcode.toString(16)} fails with 1002`, () => {
      assertRejected('server', frame(opcode, '', { mask: true }), 'reserved-opcode');
    });
  }

  it('a 64-bit length with the top bit set fails with 1002, as soon as that byte arrives', () => {
    const header = Buffer.from([0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1]);
    assertRejected('client', header, 'length-top-bit');
    // Byte by byte: the third byte alone is enough.
    const { parser } = collectingParser('client');
    parser.push(header.subarray(0, 1));
    parser.push(header.subarray(1, 2));
    assert.throws(() => parser.push(header.subarray(2, 3)), { rule: 'length-top-bit' });
  });

  it('a 64-bit length beyond 2^53 fails with 1009 (no limit could allow it)', () => {
    assertRejected(
      'client',
      Buffer.from([0x82, 0x7f, 0x00, 0x20, 0, 0, 0, 0, 0, 0]),
      'message-too-big',
      1009,
    );
  });

  it('7, 16 and 64-bit lengths decode, one byte at a time included', () => {
    for (const length of [0, 1, 125, 126, 127, 65535, 65536, 70000]) {
      const payload = Buffer.alloc(length, 7);
      const bytes = frame(Opcode.Binary, payload, { mask: true });
      for (const size of length > 1000 ? [bytes.length, 4096] : [bytes.length, 1]) {
        const { parser, frames } = collectingParser('server');
        for (const chunk of chunksOf(bytes, size)) parser.push(chunk);
        assert.equal(frames.length, 1);
        assert.equal(frames[0]!.header.length, length);
        assert.ok(frames[0]!.payload.equals(payload));
      }
    }
  });

  it('never allocates on a declared length: payload parts are views of the chunks, as they arrive', () => {
    // Declares 2^40 bytes; the parser accepts the header (limits are the Connection's job).
    let seen: FrameHeader | null = null;
    const parts: number[] = [];
    const p = new FrameParser(
      {
        onFrameHeader: (h) => {
          seen = { ...h };
        },
        onFramePayload: (data, last) => {
          assert.equal(last, false);
          parts.push(data.length);
        },
      },
      { role: 'client' },
    );
    const original = {
      alloc: Buffer.alloc,
      allocUnsafe: Buffer.allocUnsafe,
      allocUnsafeSlow: Buffer.allocUnsafeSlow,
    };
    const requests: number[] = [];
    Buffer.alloc = ((size: number) => {
      requests.push(size);
      return original.alloc(size);
    }) as typeof Buffer.alloc;
    Buffer.allocUnsafe = (size: number) => {
      requests.push(size);
      return original.allocUnsafe(size);
    };
    Buffer.allocUnsafeSlow = (size: number) => {
      requests.push(size);
      return original.allocUnsafeSlow(size);
    };
    try {
      p.push(Buffer.from([0x82, 0x7f, 0, 0, 0x01, 0]));
      p.push(Buffer.from([0, 0, 0, 0]));
      p.push(Buffer.from([1, 2, 3]));
    } catch (error) {
      assert.fail(String(error));
    } finally {
      Object.assign(Buffer, original);
    }
    assert.equal((seen as FrameHeader | null)?.length, 2 ** 40);
    assert.deepEqual(parts, [3]);
    assert.deepEqual(requests, []);
  });

  it('an empty frame gets exactly one empty, last payload part', () => {
    const parts: Array<[number, boolean]> = [];
    const p = new FrameParser(
      { onFrameHeader() {}, onFramePayload: (data, last) => parts.push([data.length, last]) },
      { role: 'client' },
    );
    p.push(frame(Opcode.Binary));
    p.push(frame(Opcode.Ping));
    assert.deepEqual(parts, [
      [0, true],
      [0, true],
    ]);
  });

  it('several frames in one chunk are all delivered', () => {
    const { parser, frames } = collectingParser('client');
    parser.push(Buffer.concat([frame(Opcode.Text, 'a'), frame(Opcode.Ping, 'b'), frame(Opcode.Binary, 'c')]));
    assert.deepEqual(
      frames.map((f) => [f.header.opcode, f.payload.toString()]),
      [
        [1, 'a'],
        [9, 'b'],
        [2, 'c'],
      ],
    );
  });

  it('stop() ignores the rest of the chunk and later chunks', () => {
    const seen: number[] = [];
    const p: FrameParser = new FrameParser(
      {
        onFrameHeader: (h) => {
          seen.push(h.opcode);
          p.stop();
        },
        onFramePayload() {},
      },
      { role: 'client' },
    );
    p.push(Buffer.concat([frame(Opcode.Text, 'a'), frame(Opcode.Binary, 'b')]));
    p.push(frame(Opcode.Binary, 'c'));
    assert.deepEqual(seen, [1]);
  });
});

describe('RFC 6455 5.4: fragmentation', () => {
  it('a continuation frame without a message to continue fails with 1002', () => {
    assertRejected('server', frame(Opcode.Continuation, 'x', { mask: true }), 'unexpected-continuation');
  });

  it('a new data frame inside a fragmented message fails with 1002', () => {
    const bytes = Buffer.concat([
      peerFrame('server', Opcode.Text, 'a', false),
      peerFrame('server', Opcode.Binary, 'b'),
    ]);
    assertRejected('server', bytes, 'expected-continuation');
  });

  it('a continuation after the final frame fails with 1002', () => {
    const bytes = Buffer.concat([
      peerFrame('client', Opcode.Text, 'a', false),
      peerFrame('client', Opcode.Continuation, 'b'),
      peerFrame('client', Opcode.Continuation, 'c'),
    ]);
    assertRejected('client', bytes, 'unexpected-continuation');
  });

  it('control frames may come between fragments', () => {
    const { parser, frames } = collectingParser('client');
    parser.push(peerFrame('client', Opcode.Text, 'a', false));
    assert.equal(parser.inFragmentedMessage, true);
    parser.push(peerFrame('client', Opcode.Ping, 'p'));
    assert.equal(parser.inFragmentedMessage, true);
    parser.push(peerFrame('client', Opcode.Continuation, 'b'));
    assert.equal(parser.inFragmentedMessage, false);
    assert.deepEqual(
      frames.map((f) => [f.header.opcode, f.header.fin]),
      [
        [1, false],
        [9, true],
        [0, true],
      ],
    );
  });
});

describe('RFC 6455 5.5: control frames', () => {
  for (const opcode of [Opcode.Close, Opcode.Ping, Opcode.Pong]) {
    it(`a fragmented control frame (0x${opcode.toString(16)}, FIN clear) fails with 1002`, () => {
      assertRejected('server', frame(opcode, '', { fin: false, mask: true }), 'fragmented-control-frame');
    });

    it(`a control frame (0x${opcode.toString(16)}) longer than 125 bytes fails with 1002`, () => {
      assertRejected('server', frame(opcode, Buffer.alloc(126), { mask: true }), 'control-frame-too-long');
    });
  }

  it('a 125-byte control frame is accepted', () => {
    const { parser, frames } = collectingParser('client');
    parser.push(frame(Opcode.Ping, Buffer.alloc(125, 1)));
    assert.equal(frames[0]!.payload.length, 125);
  });

  it('the FIN bit of a control frame is checked on its first byte', () => {
    const { parser } = collectingParser('client');
    assert.throws(() => parser.push(Buffer.from([Opcode.Ping & ~FIN_BIT])), {
      rule: 'fragmented-control-frame',
    });
  });
});
