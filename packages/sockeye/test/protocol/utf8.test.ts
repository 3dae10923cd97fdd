/**
 * Utf8Validator (RFC 3629 section 4, as RFC 6455 section 8.1 requires): streaming
 * validation that fails at the first byte that cannot start or continue valid UTF-8.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Utf8Validator } from '../../src/protocol/index.js';

/** Feed `bytes` one at a time; the index of the first byte rejected, or -1. */
function firstRejected(bytes: number[]): number {
  const v = new Utf8Validator();
  for (let i = 0; i < bytes.length; i++) if (!v.push(Buffer.from([bytes[i]!]))) return i;
  return -1;
}

describe('RFC 3629: UTF-8 byte sequences', () => {
  it('accepts 1 to 4-byte code points, whole and byte by byte', () => {
    const text = 'a é 我 😀 \u{10ffff} \u{d7ff} \u{e000}';
    const bytes = Buffer.from(text);
    const v = new Utf8Validator();
    assert.equal(v.push(bytes), true);
    assert.equal(v.complete, true);
    assert.equal(firstRejected([...bytes]), -1);
  });

  const invalid: Array<[string, number[], number]> = [
    ['a lone continuation byte', [0x61, 0x80], 1],
    ['an overlong 2-byte form (C0, C1)', [0xc1, 0xbf], 0],
    ['an overlong 3-byte form (E0 80-9F)', [0xe0, 0x9f, 0x80], 1],
    ['a UTF-16 surrogate (ED A0-BF)', [0xed, 0xa0, 0x80], 1],
    ['an overlong 4-byte form (F0 80-8F)', [0xf0, 0x8f, 0x80, 0x80], 1],
    ['a code point above U+10FFFF (F4 90)', [0xf4, 0x90, 0x80, 0x80], 1],
    ['F5-FF as a lead byte', [0xf5], 0],
    ['FF', [0x61, 0x62, 0xff], 2],
    ['a lead byte cut short by ASCII', [0xe6, 0x88, 0x41], 2],
    ['a 4-byte lead cut short by another lead', [0xf1, 0x80, 0xc2], 2],
  ];
  for (const [name, bytes, at] of invalid) {
    it(`rejects ${name} at byte ${at}`, () => {
      assert.equal(firstRejected(bytes), at);
      const whole = new Utf8Validator();
      assert.equal(whole.push(Buffer.from(bytes)), false);
    });
  }

  it('an incomplete tail is not complete, and completes with the next part', () => {
    const bytes = Buffer.from('ab我');
    const v = new Utf8Validator();
    assert.equal(v.push(bytes.subarray(0, 3)), true);
    assert.equal(v.complete, false);
    assert.equal(v.push(bytes.subarray(3, 4)), true);
    assert.equal(v.complete, false);
    assert.equal(v.push(bytes.subarray(4)), true);
    assert.equal(v.complete, true);
  });

  it('a continuation that does not fit the carried lead fails in the next part', () => {
    const v = new Utf8Validator();
    assert.equal(v.push(Buffer.from([0x61, 0xed])), true);
    assert.equal(v.push(Buffer.from([0xa0, 0x80, 0x61])), false);
  });

  it('an invalid byte in the bulk of a long part is found', () => {
    const bytes = Buffer.alloc(1000, 0x61);
    bytes[500] = 0xfe;
    assert.equal(new Utf8Validator().push(bytes), false);
  });

  it('reset() forgets a sequence in progress', () => {
    const v = new Utf8Validator();
    v.push(Buffer.from([0xe6]));
    v.reset();
    assert.equal(v.complete, true);
    assert.equal(v.push(Buffer.from([0x41])), true);
  });

  it('a part of continuation bytes only (more than three) is rejected', () => {
    const v = new Utf8Validator();
    assert.equal(v.push(Buffer.from([0x61, 0x80, 0x80, 0x80, 0x80])), false);
  });
});
