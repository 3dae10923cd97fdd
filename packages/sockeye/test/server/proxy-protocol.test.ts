/** The PROXY protocol header parser: versions 1 and 2, strict, bounded, incremental. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  ProxyHeaderParser,
  ProxyProtocolError,
  type ProxyProtocolRule,
} from '../../src/server/proxy-protocol.js';
import { proxyV2, v2Inet } from './ops-helpers.js';

function parseAll(bytes: Buffer, parser = new ProxyHeaderParser()) {
  return parser.push(bytes);
}

function rule(fn: () => unknown): ProxyProtocolRule {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ProxyProtocolError);
    assert.equal(error.code, 'ERR_PROXY_PROTOCOL');
    return error.rule;
  }
  assert.fail('expected a ProxyProtocolError');
}

describe('PROXY protocol version 1', () => {
  it('reads TCP4 and TCP6 lines and hands back the bytes after them', () => {
    const header = parseAll(
      Buffer.from('PROXY TCP4 198.51.100.22 203.0.113.7 35646 80\r\nGET / HTTP/1.1\r\n'),
    );
    assert.deepEqual(header?.source, { address: '198.51.100.22', port: 35646 });
    assert.equal(header?.version, 1);
    assert.equal(header?.rest.toString(), 'GET / HTTP/1.1\r\n');
    const six = parseAll(Buffer.from('PROXY TCP6 2001:db8::1 2001:db8::2 65535 443\r\n'));
    assert.deepEqual(six?.source, { address: '2001:db8::1', port: 65535 });
    assert.equal(six?.rest.length, 0);
  });

  it('reads UNKNOWN as "no address": the TCP peer is used', () => {
    assert.equal(parseAll(Buffer.from('PROXY UNKNOWN\r\n'))?.source, null);
    assert.equal(parseAll(Buffer.from('PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n'))?.source, null);
  });

  it('waits for more bytes while the line is incomplete', () => {
    const parser = new ProxyHeaderParser();
    assert.equal(parser.push(Buffer.from('PRO')), null);
    assert.equal(parser.push(Buffer.from('XY TCP4 192.0.2.1 192.0.2.2 1 2')), null);
    assert.deepEqual(parser.push(Buffer.from('\r\n'))?.source, { address: '192.0.2.1', port: 1 });
  });

  it('refuses malformed lines', () => {
    const cases: Array<[string, ProxyProtocolRule]> = [
      ['PROXY TCP4 198.51.100.22 203.0.113.7 35646\r\n', 'malformed-v1'],
      ['PROXY TCP4 2001:db8::1 203.0.113.7 1 2\r\n', 'malformed-v1'],
      ['PROXY TCP4 999.0.0.1 203.0.113.7 1 2\r\n', 'malformed-v1'],
      ['PROXY UDP4 192.0.2.1 192.0.2.2 1 2\r\n', 'malformed-v1'],
      ['PROXY TCP4 192.0.2.1 192.0.2.2 65536 2\r\n', 'malformed-v1'],
      ['PROXY TCP4 192.0.2.1 192.0.2.2 01 2\r\n', 'malformed-v1'],
      ['PROXY TCP4  192.0.2.1 192.0.2.2 1 2\r\n', 'malformed-v1'],
      ['GET / HTTP/1.1\r\n', 'not-proxy-protocol'],
      ['proxy TCP4 192.0.2.1 192.0.2.2 1 2\r\n', 'not-proxy-protocol'],
    ];
    for (const [line, expected] of cases)
      assert.equal(
        rule(() => parseAll(Buffer.from(line))),
        expected,
        line,
      );
  });

  it('refuses a line past 107 bytes, without buffering more', () => {
    const parser = new ProxyHeaderParser();
    assert.equal(parser.push(Buffer.from(`PROXY TCP4 ${'1'.repeat(90)}`)), null);
    assert.equal(
      rule(() => parser.push(Buffer.from('1'.repeat(20)))),
      'header-too-long',
    );
    assert.equal(
      rule(() => parseAll(Buffer.from(`PROXY UNKNOWN ${'x'.repeat(100)}\r\n`))),
      'header-too-long',
    );
  });
});

describe('PROXY protocol version 2', () => {
  it('reads PROXY over IPv4, skipping TLVs', () => {
    const tlv = Buffer.from([0x04, 0x00, 0x03, 0x61, 0x62, 0x63]); // PP2_TYPE_NOOP
    const bytes = Buffer.concat([proxyV2(1, 0x11, v2Inet([192, 0, 2, 44], 50_000, tlv)), Buffer.from('GET')]);
    const header = parseAll(bytes);
    assert.equal(header?.version, 2);
    assert.deepEqual(header?.source, { address: '192.0.2.44', port: 50_000 });
    assert.equal(header?.rest.toString(), 'GET');
  });

  it('reads PROXY over IPv6', () => {
    const block = Buffer.alloc(36);
    Buffer.from('20010db8000000000000000000000009', 'hex').copy(block, 0);
    block.writeUInt16BE(1234, 32);
    assert.deepEqual(parseAll(proxyV2(1, 0x21, block))?.source, { address: '2001:db8::9', port: 1234 });
  });

  it('reads LOCAL, UNSPEC and UNIX as "no address"', () => {
    assert.equal(parseAll(proxyV2(0, 0x00, Buffer.alloc(0)))?.source, null);
    assert.equal(parseAll(proxyV2(1, 0x00, Buffer.alloc(0)))?.source, null);
    assert.equal(parseAll(proxyV2(1, 0x31, Buffer.alloc(216)))?.source, null);
  });

  it('refuses malformed headers', () => {
    const badVersion = proxyV2(1, 0x11, v2Inet([1, 2, 3, 4], 1));
    badVersion[12] = 0x11;
    assert.equal(
      rule(() => parseAll(badVersion)),
      'unsupported-version',
    );
    assert.equal(
      rule(() => parseAll(proxyV2(2, 0x11, v2Inet([1, 2, 3, 4], 1)))),
      'unsupported-command',
    );
    assert.equal(
      rule(() => parseAll(proxyV2(1, 0x11, Buffer.alloc(11)))),
      'malformed-v2',
    );
    assert.equal(
      rule(() => parseAll(proxyV2(1, 0x21, Buffer.alloc(35)))),
      'malformed-v2',
    );
    assert.equal(
      rule(() => parseAll(proxyV2(1, 0x31, Buffer.alloc(100)))),
      'malformed-v2',
    );
    assert.equal(
      rule(() => parseAll(proxyV2(1, 0x41, Buffer.alloc(12)))),
      'malformed-v2',
    );
    assert.equal(
      rule(() => parseAll(proxyV2(1, 0x13, Buffer.alloc(12)))),
      'malformed-v2',
    );
    const wrongSignature = proxyV2(1, 0x11, v2Inet([1, 2, 3, 4], 1));
    wrongSignature[11] = 0x0b;
    assert.equal(
      rule(() => parseAll(wrongSignature)),
      'not-proxy-protocol',
    );
  });

  it('refuses a header longer than its bound as soon as the length is read', () => {
    const parser = new ProxyHeaderParser(64);
    const fixed = proxyV2(1, 0x11, Buffer.alloc(65)).subarray(0, 16);
    assert.equal(
      rule(() => parser.push(fixed)),
      'header-too-long',
    );
  });
});

describe('ProxyHeaderParser as a state machine', () => {
  const headers = [
    Buffer.from('PROXY TCP4 198.51.100.22 203.0.113.7 35646 80\r\n'),
    Buffer.from('PROXY UNKNOWN\r\n'),
    proxyV2(1, 0x11, v2Inet([192, 0, 2, 44], 50_000, Buffer.from([4, 0, 1, 0]))),
    proxyV2(0, 0x00, Buffer.alloc(0)),
  ];

  it('gives the same header and rest however the bytes are split', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...headers),
        fc.uint8Array({ maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 16 }), { maxLength: 40 }),
        (header, tail, sizes) => {
          const bytes = Buffer.concat([header, tail]);
          const whole = new ProxyHeaderParser().push(bytes)!;
          const parser = new ProxyHeaderParser();
          let at = 0;
          let result = null;
          for (const size of [...sizes, bytes.length]) {
            if (at >= bytes.length) break;
            result = parser.push(bytes.subarray(at, at + size));
            at += size;
            if (result !== null) break;
          }
          assert.ok(result !== null);
          assert.deepEqual(result.source, whole.source);
          // What followed in the completing chunk, then what was not pushed yet, is the tail.
          assert.deepEqual(Buffer.concat([result.rest, bytes.subarray(at)]), Buffer.from(tail));
        },
      ),
    );
  });

  it('never accepts bytes that do not start with a signature, and never holds more than a header', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), (random) => {
        const bytes = Buffer.from(random);
        const parser = new ProxyHeaderParser(64);
        try {
          const header = parser.push(bytes);
          if (header !== null) assert.ok(bytes.subarray(0, 5).toString() === 'PROXY' || bytes[0] === 0x0d);
          else assert.ok(bytes.length < 16 + 64 + 16);
        } catch (error) {
          assert.ok(error instanceof ProxyProtocolError);
        }
      }),
    );
  });
});
