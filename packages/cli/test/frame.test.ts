import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { hex, vectors } from '../../sockeye/test/vectors/vectors.js';
import {
  closePayload,
  decodeFrames,
  describeFrame,
  encodeFrame,
  FrameDecodeError,
  parseOpcode,
} from '../src/frame/index.js';

const seed = vectors.masking[0]!;
const seedFrame = hex(`818f${seed.mask_key_hex}${seed.masked_hex}`);

describe('decodeFrames: the shared vectors', () => {
  it('decodes every single-frame vector of RFC 6455 section 5.7', () => {
    for (const vector of vectors.frames.filter((v) => v.hex !== undefined)) {
      const [frame, ...rest] = decodeFrames(hex(vector.hex!));
      assert.equal(rest.length, 0, vector.name);
      assert.equal(frame!.fin, vector.fin, vector.name);
      assert.equal(frame!.opcode, vector.opcode, vector.name);
      assert.equal(frame!.masked, vector.masked, vector.name);
      assert.equal(frame!.text, vector.payload_utf8, vector.name);
      assert.equal(frame!.maskKey?.toString('hex') ?? undefined, vector.mask_key_hex, vector.name);
      assert.deepEqual(frame!.violations, [], vector.name);
    }
  });

  it('decodes the fragmented vector as two frames, FIN clear then set', () => {
    const fragmented = vectors.frames.find((v) => v.frames_hex !== undefined)!;
    const frames = decodeFrames(hex(fragmented.frames_hex!.join('')));
    assert.deepEqual(
      frames.map((f) => [f.fin, f.opcode, f.text]),
      [
        [false, 1, 'Hel'],
        [true, 0, 'lo'],
      ],
    );
    assert.equal(frames[1]!.offset, 5);
  });

  it('reads 16-bit and 64-bit extended lengths', () => {
    for (const vector of vectors.frames.filter((v) => v.header_hex !== undefined)) {
      const bytes = Buffer.concat([hex(vector.header_hex!), Buffer.alloc(vector.payload_length!)]);
      const [frame] = decodeFrames(bytes);
      assert.equal(frame!.payloadLength, vector.payload_length, vector.name);
      assert.equal(frame!.headerSize, vector.header_hex!.length / 2, vector.name);
    }
  });

  it('unmasks the seed example: 我是阿宝哥 with key 08f6efb1', () => {
    const [frame] = decodeFrames(seedFrame);
    assert.equal(frame!.maskKey!.toString('hex'), seed.mask_key_hex);
    assert.equal(frame!.maskedPayload!.toString('hex'), seed.masked_hex);
    assert.equal(frame!.payload.toString('hex'), seed.payload_hex);
    assert.equal(frame!.text, seed.payload_utf8);
  });

  it('shows the RSV1 bit of a compressed frame (RFC 7692 section 7.2.3.1)', () => {
    const [frame] = decodeFrames(hex(vectors.permessage_deflate[0]!.frame_hex!));
    assert.equal(frame!.rsv1, true);
    assert.equal(frame!.text, null, 'DEFLATE bytes are not shown as text');
  });
});

describe('decodeFrames: what is not a frame', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['one byte', '81', /incomplete frame header at byte 0/],
    ['a masked header without all of its key', '818537fa', /this header takes 6/],
    ['a payload shorter than declared', '810548656c', /declares 5 payload bytes, 3 given/],
    ['a second frame cut short', '8100817e00', /incomplete frame header at byte 2/],
    ['a 64-bit length with its top bit set', '827f8000000000000000', /most significant bit/],
  ];
  for (const [name, bytes, message] of cases) {
    it(`refuses ${name}`, () => {
      assert.throws(
        () => decodeFrames(hex(bytes)),
        (error: unknown) => {
          assert.ok(error instanceof FrameDecodeError);
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }
  it('refuses empty input', () => assert.throws(() => decodeFrames(Buffer.alloc(0)), FrameDecodeError));
});

describe('decodeFrames: frames that break RFC 6455 are decoded and flagged', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['a reserved opcode', '8300', /opcode 0x3 is reserved/],
    ['a fragmented ping', '0900', /must not be fragmented/],
    ['a 1-byte close payload', '880103', /1-byte close payload/],
    ['close code 1005 on the wire', '880203ed', /1005 must never be sent/],
    ['a length not in its shortest form', '817e000548656c6c6f', /shortest form/],
  ];
  for (const [name, bytes, violation] of cases) {
    it(`flags ${name}`, () => {
      const [frame] = decodeFrames(hex(bytes));
      assert.equal(frame!.violations.length, 1);
      assert.match(frame!.violations[0]!, violation);
    });
  }
});

describe('encodeFrame', () => {
  it('masks the seed example byte for byte', () => {
    const frame = encodeFrame({
      opcode: 1,
      payload: Buffer.from(seed.payload_utf8),
      maskKey: hex(seed.mask_key_hex),
    });
    assert.deepEqual(frame, seedFrame);
  });

  it('builds a close frame with code and reason', () => {
    const frame = encodeFrame({ opcode: 8, payload: closePayload(1000, 'bye') });
    assert.equal(frame.toString('hex'), '880503e8627965');
    assert.deepEqual(decodeFrames(frame)[0]!.close, { code: 1000, reason: 'bye', problem: null });
  });

  it('refuses what a peer would have to reject', () => {
    assert.throws(() => encodeFrame({ opcode: 9, payload: Buffer.alloc(0), fin: false }), /fragmented/);
    assert.throws(() => encodeFrame({ opcode: 9, payload: Buffer.alloc(126) }), /at most 125/);
    assert.throws(() => encodeFrame({ opcode: 3, payload: Buffer.alloc(0) }), /reserved/);
    assert.throws(
      () => encodeFrame({ opcode: 1, payload: Buffer.alloc(0), maskKey: Buffer.alloc(3) }),
      /4 bytes/,
    );
    assert.throws(() => parseOpcode('0x3'), /reserved/);
    assert.throws(() => parseOpcode('hello'), /unknown opcode/);
  });

  it('reads opcodes by name and number', () => {
    assert.deepEqual(['text', 'BINARY', 'ping', '0xa', '8', '0'].map(parseOpcode), [1, 2, 9, 10, 8, 0]);
  });

  it('round-trips through decodeFrames for any fields and payload', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0, 1, 2, 8, 9, 10),
        fc.uint8Array({ maxLength: 70000 }),
        fc.boolean(),
        fc.boolean(),
        fc.option(fc.uint8Array({ minLength: 4, maxLength: 4 })),
        (opcode, bytes, fin, rsv1, maskKey) => {
          const control = opcode >= 8;
          const payload = control ? bytes.subarray(0, 125) : bytes;
          const fields = { opcode, payload, fin: control || fin, rsv1, ...(maskKey ? { maskKey } : {}) };
          const [frame, ...rest] = decodeFrames(encodeFrame(fields));
          assert.equal(rest.length, 0);
          assert.equal(frame!.opcode, opcode);
          assert.equal(frame!.fin, fields.fin);
          assert.equal(frame!.rsv1, rsv1);
          assert.equal(frame!.masked, maskKey !== null);
          assert.deepEqual(new Uint8Array(frame!.payload), new Uint8Array(payload));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('describeFrame', () => {
  it('prints every header field of the seed frame and its unmasked text', () => {
    const text = describeFrame(decodeFrames(seedFrame)[0]!, 0).join('\n');
    for (const line of [
      /^ {2}FIN +1/m,
      /^ {2}RSV1 +0$/m,
      /^ {2}opcode +0x1 +text$/m,
      /^ {2}MASK +1/m,
      /^ {2}payload length +15$/m,
      /^ {2}masking key +08 f6 ef b1$/m,
      /^ {2}masked payload +ee 7e 7e 57/m,
      /^ {2}payload \(hex\) +e6 88 91 e6/m,
      /^ {2}payload \(text\) +"我是阿宝哥"$/m,
    ]) {
      assert.match(text, line);
    }
  });

  it('shows at most 1024 payload bytes and counts the rest', () => {
    const [frame] = decodeFrames(encodeFrame({ opcode: 2, payload: Buffer.alloc(3000, 0xab) }));
    const text = describeFrame(frame!, 0).join('\n');
    assert.match(text, /\.\.\. \(1976 more bytes\)/);
    assert.ok(text.length < 8000);
  });
});
