import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeEnvelope, EnvelopeError, encodeEnvelope, FLAG_BINARY } from '../src/envelope.js';

const nodeIds = fc.stringMatching(/^[A-Za-z0-9._:-]{1,64}$/);

describe('the Redis envelope', () => {
  it('lays out version, flags, id length, id, 64-bit sequence, then the payload untouched', () => {
    const envelope = encodeEnvelope('n1', 2 ** 32 + 5, true, Uint8Array.of(0xde, 0xad));
    assert.deepEqual([...envelope], [1, FLAG_BINARY, 2, 0x6e, 0x31, 0, 0, 0, 1, 0, 0, 0, 5, 0xde, 0xad]);
    assert.equal(encodeEnvelope('n1', 1, false, new Uint8Array(0))[1], 0);
  });

  it('decodes what it encodes, for any node id, sequence, type and payload', () => {
    fc.assert(
      fc.property(
        nodeIds,
        fc.maxSafeNat(),
        fc.boolean(),
        fc.uint8Array({ maxLength: 2048 }),
        (publisher, sequence, isBinary, data) => {
          const decoded = decodeEnvelope(encodeEnvelope(publisher, sequence, isBinary, data));
          assert.equal(decoded.publisher, publisher);
          assert.equal(decoded.sequence, sequence);
          assert.equal(decoded.isBinary, isBinary);
          assert.ok(decoded.data.equals(data));
        },
      ),
    );
  });

  it('hands out the payload as a view of the envelope, not a copy', () => {
    const envelope = encodeEnvelope('n', 1, true, Uint8Array.of(7));
    const { data } = decodeEnvelope(envelope);
    assert.equal(data.buffer, envelope.buffer);
  });

  it('refuses a sequence of 2^53 or more (a double would round it; a forged 2^63 would fake a huge gap)', () => {
    const withSequence = (sequence: bigint) => {
      const envelope = encodeEnvelope('node', 1, false, Buffer.from('x'));
      envelope.writeBigUInt64BE(sequence, 3 + 4);
      return envelope;
    };
    assert.equal(decodeEnvelope(withSequence(2n ** 53n - 1n)).sequence, Number.MAX_SAFE_INTEGER);
    for (const sequence of [2n ** 53n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n]) {
      assert.throws(
        () => decodeEnvelope(withSequence(sequence)),
        (error: unknown) => error instanceof EnvelopeError && error.message.includes(String(sequence)),
        String(sequence),
      );
    }
    fc.assert(
      fc.property(fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n - 1n }), (sequence) => {
        assert.throws(() => decodeEnvelope(withSequence(sequence)), EnvelopeError);
      }),
    );
  });

  it('refuses to encode a sequence a reader would refuse or misread', () => {
    for (const sequence of [2 ** 53, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(
        () => encodeEnvelope('node', sequence, false, Buffer.alloc(0)),
        RangeError,
        String(sequence),
      );
    }
  });

  it('refuses what is not an envelope of this version', () => {
    const valid = encodeEnvelope('node', 1, true, Uint8Array.of(1, 2, 3));
    const cases: [string, Buffer][] = [
      ['empty', Buffer.alloc(0)],
      ['too short', valid.subarray(0, 11)],
      ['shorter than its header', valid.subarray(0, 12)],
      ['another version', Buffer.concat([Buffer.of(2), valid.subarray(1)])],
      ['unknown flags', Buffer.concat([Buffer.of(1, 0x02), valid.subarray(2)])],
      ['an empty node id', Buffer.concat([Buffer.of(1, 0, 0), Buffer.alloc(9)])],
      ['an invalid node id', Buffer.concat([Buffer.of(1, 0, 4), Buffer.from('a b!'), Buffer.alloc(8)])],
    ];
    for (const [what, bytes] of cases) {
      assert.throws(() => decodeEnvelope(bytes), EnvelopeError, what);
    }
  });
});
