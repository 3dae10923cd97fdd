/**
 * RFC 6455 5.3: client-to-server masking. The seed's example (the UTF-8 of 我是阿宝哥 with
 * key 08f6efb1) through both the reference loop and the word-at-a-time path.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { maskInto, maskSlow, nextMaskKey, unmask } from '../../src/protocol/index.js';
import { hex, vectors } from '../vectors/vectors.js';

describe('RFC 6455 5.3: client-to-server masking', () => {
  for (const vector of vectors.masking) {
    describe(vector.name, () => {
      const key = hex(vector.mask_key_hex);

      it('the payload is the UTF-8 of the text', () => {
        assert.equal(Buffer.from(vector.payload_utf8, 'utf8').toString('hex'), vector.payload_hex);
      });

      it('maskSlow masks and unmasks', () => {
        const data = hex(vector.payload_hex);
        maskSlow(data, key);
        assert.equal(data.toString('hex'), vector.masked_hex);
        maskSlow(data, key);
        assert.equal(data.toString('utf8'), vector.payload_utf8);
      });

      it('unmask (short input: byte loop) masks and unmasks', () => {
        const data = hex(vector.payload_hex);
        unmask(data, key);
        assert.equal(data.toString('hex'), vector.masked_hex);
        unmask(data, key);
        assert.equal(data.toString('hex'), vector.payload_hex);
      });

      it('unmask (word path: the example repeated, at every alignment) agrees', () => {
        const plain = Buffer.from(vector.payload_hex.repeat(20), 'hex'); // 300 bytes: past the word-path threshold
        const masked = Buffer.from(plain);
        maskSlow(masked, key);
        assert.equal(masked.subarray(0, 15).toString('hex'), vector.masked_hex);
        for (let align = 0; align < 4; align++) {
          const backing = Buffer.alloc(plain.length + 8);
          const data = backing.subarray(align, align + plain.length);
          plain.copy(data);
          unmask(data, key);
          assert.ok(data.equals(masked), `alignment ${align}`);
          unmask(data, key);
          assert.ok(data.equals(plain), `alignment ${align}`);
        }
      });

      it('maskInto masks into a target and leaves the source untouched', () => {
        const source = hex(vector.payload_hex);
        const target = Buffer.alloc(source.length + 3, 0xee);
        maskInto(source, key, target, 3);
        assert.equal(target.subarray(3).toString('hex'), vector.masked_hex);
        assert.equal(target.subarray(0, 3).toString('hex'), 'eeeeee');
        assert.equal(source.toString('hex'), vector.payload_hex);
      });
    });
  }

  it('keyOffset continues the key where a previous part stopped', () => {
    const key = Buffer.from([1, 2, 3, 4]);
    const whole = Buffer.alloc(100, 0x55);
    maskSlow(whole, key);
    const parts = Buffer.alloc(100, 0x55);
    unmask(parts.subarray(0, 37), key, 0);
    unmask(parts.subarray(37, 38), key, 37);
    unmask(parts.subarray(38), key, 38);
    assert.ok(parts.equals(whole));
  });

  it('nextMaskKey returns 4-byte keys that differ', () => {
    const keys = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const key = nextMaskKey();
      assert.equal(key.length, 4);
      keys.add(key.toString('hex'));
    }
    // 5000 draws from 2^32: a repeat is possible but vanishingly rare; a broken pool repeats a lot.
    assert.ok(keys.size > 4990, `only ${keys.size} distinct keys`);
  });
});
