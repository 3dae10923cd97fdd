/** The client address: IP parsing, IPv6 groups, trusted proxy sets, the `Forwarded` / `X-Forwarded-For` walk. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  AddressSet,
  addressGroup,
  formatIp,
  normalizeIp,
  parseIp,
  resolveClientAddress,
} from '../../src/server/client-address.js';

describe('parseIp and formatIp', () => {
  it('reads IPv4, IPv6 and IPv4-mapped IPv6 (as IPv4), and ignores a zone', () => {
    assert.deepEqual([...parseIp('192.0.2.1')!], [192, 0, 2, 1]);
    assert.equal(formatIp(parseIp('::ffff:192.0.2.1')!), '192.0.2.1');
    assert.equal(formatIp(parseIp('2001:DB8:0:0:0:0:0:1')!), '2001:db8::1');
    assert.equal(formatIp(parseIp('fe80::1%eth0')!), 'fe80::1');
    assert.equal(formatIp(parseIp('::')!), '::');
    assert.equal(formatIp(parseIp('::1')!), '::1');
    assert.equal(formatIp(parseIp('1:0:0:2:0:0:0:3')!), '1:0:0:2::3');
    assert.equal(formatIp(parseIp('::ffff:c000:0201')!), '192.0.2.1');
  });

  it('refuses what is not an address', () => {
    for (const text of [
      '',
      'unknown',
      '1.2.3',
      '1.2.3.4.5',
      '256.1.1.1',
      '01.2.3.4',
      '1::2::3',
      '12345::',
      ':::',
      '1:2:3:4:5:6:7:8:9',
      'g::1',
    ]) {
      assert.equal(parseIp(text), null, text);
    }
  });

  it('normalizes, and leaves non-addresses alone', () => {
    assert.equal(normalizeIp('::ffff:127.0.0.1'), '127.0.0.1');
    assert.equal(normalizeIp('not-an-ip'), 'not-an-ip');
  });

  it('gives every dotted IPv4 address, canonical or not, the text parsing and formatting give', () => {
    const octet = fc.oneof(
      fc.integer({ min: 0, max: 255 }).map(String),
      // Leading zeros and out-of-range values: not canonical, not addresses at all.
      fc.integer({ min: 0, max: 255 }).map((n) => `0${n}`),
      fc.integer({ min: 256, max: 999 }).map(String),
    );
    fc.assert(
      fc.property(fc.array(octet, { minLength: 3, maxLength: 5 }), (octets) => {
        const text = octets.join('.');
        const bytes = parseIp(text);
        assert.equal(normalizeIp(text), bytes === null ? text : formatIp(bytes));
        assert.equal(normalizeIp(`::ffff:${text}`), bytes === null ? `::ffff:${text}` : formatIp(bytes));
      }),
    );
  });
});

describe('addressGroup', () => {
  it('keeps IPv4 addresses apart and groups IPv6 by prefix', () => {
    assert.equal(addressGroup('192.0.2.1', 64), '192.0.2.1');
    assert.equal(addressGroup('2001:db8:1:2:aaaa::1', 64), '2001:db8:1:2::/64');
    assert.equal(addressGroup('2001:db8:1:2:bbbb::9', 64), '2001:db8:1:2::/64');
    assert.notEqual(addressGroup('2001:db8:1:3::1', 64), addressGroup('2001:db8:1:2::1', 64));
    assert.equal(addressGroup('2001:db8:1:2:3:4:5:6', 128), '2001:db8:1:2:3:4:5:6/128');
    assert.equal(addressGroup('2001:db8:ffff::1', 36), '2001:db8:f000::/36');
  });
});

describe('AddressSet', () => {
  it('matches addresses and CIDRs of both families', () => {
    const set = new AddressSet(['127.0.0.1', '10.0.0.0/8', 'fd00::/8', '::1', '::ffff:192.168.0.0/112']);
    assert.ok(set.has('127.0.0.1'));
    assert.ok(set.has('::ffff:127.0.0.1'));
    assert.ok(set.has('10.200.3.4'));
    assert.ok(!set.has('11.0.0.1'));
    assert.ok(set.has('fdab::7'));
    assert.ok(!set.has('fe00::7'));
    assert.ok(set.has('::1'));
    assert.ok(set.has('192.168.44.1'));
    assert.ok(!set.has('192.169.0.1'));
    assert.ok(!set.has(undefined));
    assert.ok(!set.has('garbage'));
  });

  it('names the option for a bad entry', () => {
    assert.throws(() => new AddressSet(['10.0.0.0/33']), /trustProxy: "10.0.0.0\/33" has an invalid prefix/);
    assert.throws(() => new AddressSet(['example.com']), /trustProxy: "example.com" is not an address/);
    assert.throws(() => new AddressSet('10.0.0.1' as unknown as string[]), TypeError);
  });
});

describe('resolveClientAddress', () => {
  const trusted = new AddressSet(['127.0.0.1', '10.0.0.0/8']);

  it('believes a trusted proxy: X-Forwarded-For walked from the right, trusted hops skipped', () => {
    assert.equal(
      resolveClientAddress('127.0.0.1', { 'x-forwarded-for': '203.0.113.7' }, trusted),
      '203.0.113.7',
    );
    assert.equal(
      resolveClientAddress(
        '127.0.0.1',
        { 'x-forwarded-for': '198.51.100.1, 203.0.113.7, 10.1.1.1' },
        trusted,
      ),
      '203.0.113.7',
    );
    assert.equal(
      resolveClientAddress('127.0.0.1', { 'x-forwarded-for': ['198.51.100.1', '10.1.1.1'] }, trusted),
      '198.51.100.1',
    );
  });

  it('prefers Forwarded (RFC 7239), with quoted IPv6 and ports', () => {
    const headers = {
      forwarded: 'for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711"',
      'x-forwarded-for': '198.51.100.99',
    };
    assert.equal(resolveClientAddress('10.0.0.2', headers, trusted), '2001:db8:cafe::17');
    assert.equal(
      resolveClientAddress('10.0.0.2', { forwarded: 'for="192.0.2.1:8080"' }, trusted),
      '192.0.2.1',
    );
  });

  it('stops at a hop that is not an address, at the proxy that reported it', () => {
    assert.equal(
      resolveClientAddress('127.0.0.1', { forwarded: 'for=unknown, for=10.0.0.5' }, trusted),
      '10.0.0.5',
    );
    assert.equal(resolveClientAddress('127.0.0.1', { 'x-forwarded-for': 'bogus' }, trusted), '127.0.0.1');
  });

  it('uses the leftmost hop when every hop is trusted', () => {
    assert.equal(
      resolveClientAddress('127.0.0.1', { 'x-forwarded-for': '10.0.0.1, 10.0.0.2' }, trusted),
      '10.0.0.1',
    );
  });

  it('ignores the headers from a peer that is not trusted, or without trusted proxies', () => {
    assert.equal(
      resolveClientAddress('192.0.2.5', { 'x-forwarded-for': '203.0.113.7' }, trusted),
      '192.0.2.5',
    );
    assert.equal(resolveClientAddress('127.0.0.1', { 'x-forwarded-for': '203.0.113.7' }, null), '127.0.0.1');
    assert.equal(resolveClientAddress('::ffff:127.0.0.1', {}, null), '127.0.0.1');
  });
});
