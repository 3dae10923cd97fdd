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
