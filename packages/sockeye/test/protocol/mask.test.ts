/**
 * RFC 6455 5.3: client-to-server masking. The seed's example (the UTF-8 of 我是阿宝哥 with
 * key 08f6efb1) through both the reference loop and the word-at-a-time path.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { maskInto, maskSlow, nextMaskKey, unmask } from '../../src/protocol/index.js';
import { maskCopy, maskRegion, useSimdMask } from '../../src/protocol/mask.js';
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

describe('the SIMD kernel (WebAssembly) and the Uint32Array fallback agree with maskSlow', () => {
  const key = Buffer.from([0x08, 0xf6, 0xef, 0xb1]);
  // Around the SIMD threshold (512 B), the 64-byte loop step, the kernel's 16 KiB block and a 64 KiB read.
  const lengths = [
    511,
    512,
    513,
    512 + 63,
    1024 + 1,
    2048,
    4096 + 13,
    16383,
    16384,
    16385,
    16384 + 64 + 5,
    65535,
    65536,
    65537,
    2 * 65536 + 77,
  ];

  after(() => useSimdMask(true));

  it('the kernel is available on this Node (WebAssembly SIMD)', () => {
    assert.equal(useSimdMask(true), true);
  });

  for (const simd of [true, false]) {
    it(`${simd ? 'SIMD' : 'fallback'}: every length, key offset and alignment, nothing outside touched`, () => {
      useSimdMask(simd);
      for (const length of lengths) {
        const plain = Buffer.allocUnsafe(length);
        for (let i = 0; i < length; i++) plain[i] = (i * 131 + 7) & 0xff;
        for (let keyOffset = 0; keyOffset < 4; keyOffset++) {
          const expected = Buffer.from(plain);
          maskSlow(expected, key, keyOffset);
          for (let align = 0; align < 4; align++) {
            const backing = Buffer.alloc(length + 8, 0xee);
            const data = backing.subarray(align, align + length);
            plain.copy(data);
            unmask(data, key, keyOffset);
            assert.ok(data.equals(expected), `length ${length}, keyOffset ${keyOffset}, alignment ${align}`);
            assert.ok(backing.subarray(0, align).every((b) => b === 0xee));
            assert.ok(backing.subarray(align + length).every((b) => b === 0xee));
          }
        }
      }
    });

    it(`${simd ? 'SIMD' : 'fallback'}: maskCopy masks a region of the source into the target, source untouched`, () => {
      useSimdMask(simd);
      const pool = Buffer.from([9, ...key]);
      for (const length of lengths) {
        const source = Buffer.allocUnsafe(length + 10);
        for (let i = 0; i < source.length; i++) source[i] = (i * 131 + 7) & 0xff;
        const before = Buffer.from(source);
        for (let keyOffset = 0; keyOffset < 4; keyOffset++) {
          const expected = Buffer.from(source.subarray(3, 3 + length));
          maskSlow(expected, key, keyOffset);
          const target = Buffer.alloc(length + 9, 0xee);
          maskCopy(source, 3, 3 + length, target, 5, pool, 1, keyOffset);
          assert.ok(
            target.subarray(5, 5 + length).equals(expected),
            `length ${length}, keyOffset ${keyOffset}`,
          );
          assert.ok(target.subarray(0, 5).every((b) => b === 0xee));
          assert.ok(target.subarray(5 + length).every((b) => b === 0xee));
          assert.ok(source.equals(before), 'the source is left as it was');
        }
      }
    });

    it(`${simd ? 'SIMD' : 'fallback'}: maskRegion with a key inside a pool and a region inside a buffer`, () => {
      useSimdMask(simd);
      const pool = Buffer.from([9, 9, 9, ...key, 9]);
      const plain = Buffer.alloc(70_000, 0x3c);
      const expected = Buffer.from(plain);
      maskSlow(expected, key, 2);
      const buffer = Buffer.alloc(70_010, 0x11);
      plain.copy(buffer, 5);
      maskRegion(buffer, 5, 70_005, pool, 3, 2);
      assert.ok(buffer.subarray(5, 70_005).equals(expected));
      assert.ok(buffer.subarray(0, 5).every((b) => b === 0x11));
      assert.ok(buffer.subarray(70_005).every((b) => b === 0x11));
    });
  }
});
