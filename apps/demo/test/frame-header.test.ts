import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeFrameHeader } from '@sockeye/sockeye/protocol';
import fc from 'fast-check';
import { hex, vectors } from '../../../packages/sockeye/test/vectors/vectors.js';
import { FrameRecorder, recordFrames } from '../src/server/frame-record.js';
import { readHeader } from '../src/shared/frame-header.js';
import {
  type FrameRecord,
  MAX_FRAGMENT_TEXT,
  MAX_FRAGMENTS,
  parseFeedCommand,
  splitText,
} from '../src/shared/inspector.js';

const seed = vectors.masking[0]!;

describe('frame records keep each header as it was sent', () => {
  it('the seed frame: 81 8f and the masking key', () => {
    const [frame] = recordFrames(hex(`818f${seed.mask_key_hex}${seed.masked_hex}`), {
      direction: 'client-to-server',
    });
    assert.equal(frame!.headerHex, `818f${seed.mask_key_hex}`);
  });

  it('7-bit, 16-bit and 64-bit lengths (100, 200 and 70,000 bytes), whatever the chunking', () => {
    for (const [size, header] of [
      [100, '8164'],
      [200, '827e00c8'],
      [70_000, '827f0000000000011170'],
    ] as const) {
      const bytes = Buffer.concat([hex(header), Buffer.alloc(size, 0x61)]);
      for (const chunk of [1, 3, 7, bytes.length]) {
        const records: FrameRecord[] = [];
        const recorder = new FrameRecorder({ direction: 'server-to-client' }, (r) => records.push(r));
        for (let i = 0; i < bytes.length; i += chunk) recorder.push(bytes.subarray(i, i + chunk));
        assert.equal(records.length, 1);
        assert.equal(records[0]!.headerHex, header, `${size} bytes in chunks of ${chunk}`);
      }
    }
  });

  it('a non-minimal length shows as sent (16 bits for 5 bytes)', () => {
    const [frame] = recordFrames(hex('817e000548656c6c6f'), { direction: 'server-to-client' });
    assert.equal(frame!.headerHex, '817e0005');
  });

  it('any sequence of frames split anywhere: each record has its own header (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ length: fc.constantFrom(0, 1, 125, 126, 200, 65_535, 65_536), fin: fc.boolean() }),
          {
            minLength: 1,
            maxLength: 4,
          },
        ),
        fc.integer({ min: 1, max: 50_000 }),
        (frames, chunk) => {
          const headers = frames.map((f, i) => {
            // A message's later fragments are continuation frames.
            const opcode = i === 0 || frames[i - 1]!.fin ? 2 : 0;
            const header = encodeFrameHeader({ fin: f.fin, opcode, length: f.length });
            return Buffer.from(header).toString('hex');
          });
          const bytes = Buffer.concat(frames.flatMap((f, i) => [hex(headers[i]!), Buffer.alloc(f.length)]));
          const records: FrameRecord[] = [];
          const recorder = new FrameRecorder({ direction: 'server-to-client' }, (r) => records.push(r));
          for (let i = 0; i < bytes.length; i += chunk) recorder.push(bytes.subarray(i, i + chunk));
          assert.deepEqual(
            records.map((r) => r.headerHex),
            headers,
          );
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe('readHeader: the header bit by bit', () => {
  it('a masked text frame with a 7-bit length', () => {
    const reading = readHeader(`818f${seed.mask_key_hex}`);
    assert.equal(reading.lengthEncoding, '7-bit');
    assert.equal(reading.payloadLength, 15);
    assert.deepEqual(
      reading.fields.map((f) => [f.name, f.bits]),
      [
        ['FIN', '1'],
        ['RSV1', '0'],
        ['RSV2', '0'],
        ['RSV3', '0'],
        ['opcode', '0001'],
        ['MASK', '1'],
        ['length (7 bits)', '0001111'],
        ['masking key', '00001000 11110110 11101111 10110001'],
      ],
    );
    assert.equal(reading.fields[4]!.meaning, '0x1 text');
  });

  it('16-bit and 64-bit extended lengths', () => {
    const r16 = readHeader('827e00c8');
    assert.equal(r16.lengthEncoding, '16-bit');
    assert.equal(r16.payloadLength, 200);
    assert.deepEqual(r16.fields.at(-1), {
      name: 'extended length (16 bits)',
      bits: '00000000 11001000',
      meaning: 'payload length 200',
    });
    assert.equal(r16.fields.at(-2)!.bits, '1111110');
    const r64 = readHeader('827f0000000000011170');
    assert.equal(r64.lengthEncoding, '64-bit');
    assert.equal(r64.payloadLength, 70_000);
    assert.equal(r64.fields.at(-2)!.bits, '1111111');
  });

  it('refuses bytes that are not exactly one header', () => {
    assert.throws(() => readHeader('81'), RangeError);
    assert.throws(() => readHeader('817e00'), RangeError);
    assert.throws(() => readHeader('818f0000'), RangeError);
  });
});

describe('feed commands', () => {
  it('accepts a ping and a fragment request within bounds', () => {
    assert.deepEqual(parseFeedCommand({ type: 'ping' }), { type: 'ping' });
    const fragment = { type: 'fragment', text: 'Hello, fragments', fragments: 3, interleavePing: true };
    assert.deepEqual(parseFeedCommand(fragment), fragment);
    const close = { type: 'close', code: 4000, reason: 'é'.repeat(61) };
    assert.deepEqual(parseFeedCommand(close), close);
  });

  it('refuses other shapes and out-of-bound requests', () => {
    for (const bad of [
      null,
      'ping',
      { type: 'close' },
      { type: 'fragment', text: 'abc', fragments: 1, interleavePing: false },
      { type: 'fragment', text: 'abc', fragments: 4, interleavePing: false },
      { type: 'fragment', text: 'a'.repeat(100), fragments: MAX_FRAGMENTS + 1, interleavePing: false },
      { type: 'fragment', text: 'a'.repeat(MAX_FRAGMENT_TEXT + 1), fragments: 2, interleavePing: false },
      { type: 'fragment', text: 'abc', fragments: 2.5, interleavePing: false },
      { type: 'fragment', text: 'abc', fragments: 2 },
      { type: 'close', code: 1005, reason: '' },
      { type: 'close', code: 2999, reason: '' },
      { type: 'close', code: 4000, reason: 'é'.repeat(62) },
      { type: 'close', code: 4000 },
    ]) {
      assert.equal(parseFeedCommand(bad), null, JSON.stringify(bad));
    }
  });

  it('splits text into whole characters, none empty, in order', () => {
    assert.deepEqual(splitText('我是阿宝哥', 2), ['我是阿', '宝哥']);
    assert.deepEqual(splitText('abcde', 4), ['ab', 'c', 'd', 'e']);
    fc.assert(
      fc.property(
        fc.string({ minLength: 2, maxLength: 60, unit: 'grapheme' }),
        fc.integer({ min: 2, max: 8 }),
        (text, n) => {
          const count = Math.min(n, [...text].length);
          const pieces = splitText(text, count);
          assert.equal(pieces.length, count);
          assert.equal(pieces.join(''), text);
          assert.ok(pieces.every((p) => p.length > 0));
        },
      ),
    );
  });
});
