import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatHex, HexError, parseHex } from '../src/frame/hex.js';

describe('parseHex', () => {
  it('reads hex the way people paste it', () => {
    for (const text of [
      '818f08f6',
      '81 8f 08 f6',
      '81:8f:08:f6',
      '0x818f08f6',
      '0x81, 0x8f, 0x08, 0xF6',
      '81-8f\n08\tf6',
    ]) {
      assert.equal(parseHex(text).toString('hex'), '818f08f6', text);
    }
  });

  it('says what is wrong, in one line', () => {
    assert.throws(
      () => parseHex('81 zz'),
      (e: unknown) => e instanceof HexError && /"z" \(digit 3 of 4\)/.test(e.message),
    );
    assert.throws(() => parseHex('818'), /odd number of hex digits \(3\)/);
    assert.throws(() => parseHex(' , '), /no hex digits/);
  });

  it('formats bytes as spaced or joined pairs', () => {
    assert.equal(formatHex(Uint8Array.of(0x08, 0xf6, 0xef, 0xb1)), '08 f6 ef b1');
    assert.equal(formatHex(Uint8Array.of(0x08, 0xf6), ''), '08f6');
    assert.equal(formatHex(new Uint8Array(0)), '');
  });
});
