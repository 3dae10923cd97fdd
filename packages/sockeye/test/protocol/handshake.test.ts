/**
 * The opening handshake (RFC 6455 section 4): keys and accept values, the server's
 * validation of a request, the client's validation of a response, the header builders,
 * and the Sec-WebSocket-Protocol / Sec-WebSocket-Extensions grammars in linear time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  buildAcceptResponse,
  buildRejectResponse,
  buildRequest,
  computeAccept,
  type ExtensionOffer,
  formatExtensions,
  generateKey,
  HandshakeError,
  type HeaderMap,
  HttpHeadParser,
  isValidHost,
  isValidKey,
  type OfferedHandshake,
  parseExtensions,
  parseProtocols,
  parseTokenList,
  type RequestHead,
  type ResponseHead,
  validateRequest,
  validateResponse,
  WEBSOCKET_GUID,
} from '../../src/protocol/index.js';
import { vectors } from '../vectors/vectors.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const HEADERS = {
  host: 'example.com',
  upgrade: 'websocket',
  connection: 'Upgrade',
  'sec-websocket-key': KEY,
  'sec-websocket-version': '13',
};

function request(headers: HeaderMap, method = 'GET', httpVersion = '1.1') {
  return { method, httpVersion, headers };
}

/** validateRequest must throw a HandshakeError with `status` (and a message matching `message`). */
function refused(headers: HeaderMap, status: number, message: RegExp, method = 'GET', version = '1.1') {
  assert.throws(
    () => validateRequest(request(headers, method, version)),
    (error: unknown) =>
      error instanceof HandshakeError && error.status === status && message.test(error.message),
  );
}

describe('RFC 6455 1.3 and 4.2.2: Sec-WebSocket-Accept', () => {
  it('uses the RFC GUID', () => assert.equal(WEBSOCKET_GUID, vectors.guid));

  for (const { source, key, accept } of vectors.handshake_accept) {
    it(`computeAccept(${key}) = ${accept} (${source})`, () => {
      assert.equal(computeAccept(key), accept);
    });
  }

  it('generateKey: 16 random bytes in base64, different each time', () => {
    const keys = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const key = generateKey();
      assert.equal(Buffer.from(key, 'base64').length, 16);
      assert.equal(isValidKey(key), true);
      keys.add(key);
    }
    assert.equal(keys.size, 100);
  });

  it('isValidKey: base64 of exactly 16 bytes', () => {
    assert.equal(isValidKey(KEY), true);
    const bad = [
      '',
      Buffer.alloc(15).toString('base64'),
      Buffer.alloc(17).toString('base64'),
      'dGhlIHNhbXBsZSBub25jZQ=',
      'dGhlIHNhbXBsZSBub25jZR==', // non-zero padding bits
      'dGhlIHNhbXBsZSBub2*jZQ==',
      ` ${KEY}`,
    ];
    for (const key of bad) assert.equal(isValidKey(key), false, key);
  });
});

describe('RFC 6455 4.2.1: reading the client opening handshake', () => {
  it('a valid request yields its key, protocols, extensions, origin and host', () => {
    const info = validateRequest(
      request({
        ...HEADERS,
        origin: 'https://example.com',
        'sec-websocket-protocol': 'chat, superchat',
        'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits',
      }),
    );
    assert.deepEqual(info, {
      key: KEY,
      protocols: ['chat', 'superchat'],
      extensions: [{ name: 'permessage-deflate', params: [['client_max_window_bits', true]] }],
      origin: 'https://example.com',
      host: 'example.com',
    });
  });

  it('a request from a parsed head validates', () => {
    const result = new HttpHeadParser<RequestHead>('request').push(
      Buffer.from(
        `GET / HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n` +
          `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
    assert.ok(result !== null);
    assert.equal(validateRequest(result.head).key, KEY);
  });

  it('405 for a method other than GET, with Allow: GET', () => {
    assert.throws(
      () => validateRequest(request(HEADERS, 'POST')),
      (e: unknown) => e instanceof HandshakeError && e.status === 405 && e.headers.Allow === 'GET',
    );
  });

  for (const version of ['1.0', '0.9', '2.0', 'x']) {
    it(`400 for HTTP/${version}`, () => refused(HEADERS, 400, /HTTP\/1\.1 is required/, 'GET', version));
  }

  it('HTTP/1.2 is accepted (1.1 or later)', () => {
    assert.equal(validateRequest(request(HEADERS, 'GET', '1.2')).host, 'example.com');
  });

  it('400 without Host, or with an empty one', () => {
    refused({ ...HEADERS, host: undefined }, 400, /Host/);
    refused({ ...HEADERS, host: '' }, 400, /Host/);
  });

  it('Upgrade and Connection are case-insensitive token lists', () => {
    for (const [upgrade, connection] of [
      ['WebSocket', 'upgrade'],
      ['websocket, h2c', 'keep-alive, Upgrade'],
      ['WEBSOCKET', 'Upgrade,keep-alive'],
    ]) {
      assert.equal(validateRequest(request({ ...HEADERS, upgrade, connection })).key, KEY);
    }
    // Node joins repeated fields; an array is accepted too.
    assert.equal(validateRequest(request({ ...HEADERS, connection: ['keep-alive', 'Upgrade'] })).key, KEY);
  });

  for (const upgrade of [undefined, '', 'websockets', 'h2c', 'web socket']) {
    it(`400 for Upgrade: ${JSON.stringify(upgrade)}`, () => refused({ ...HEADERS, upgrade }, 400, /Upgrade/));
  }

  for (const connection of [undefined, 'keep-alive', 'upgraded', 'close']) {
    it(`400 for Connection: ${JSON.stringify(connection)}`, () =>
      refused({ ...HEADERS, connection }, 400, /Connection/));
  }

  for (const key of [
    undefined,
    '',
    'c2hvcnQ=',
    Buffer.alloc(20).toString('base64'),
    'not base64 at all!!!!!==',
  ]) {
    it(`400 for Sec-WebSocket-Key: ${JSON.stringify(key)}`, () =>
      refused({ ...HEADERS, 'sec-websocket-key': key }, 400, /Sec-WebSocket-Key/));
  }

  for (const version of [undefined, '8', '12', '14', '13, 8']) {
    it(`426 with Sec-WebSocket-Version: 13 for version ${JSON.stringify(version)}`, () => {
      assert.throws(
        () => validateRequest(request({ ...HEADERS, 'sec-websocket-version': version })),
        (e: unknown) =>
          e instanceof HandshakeError && e.status === 426 && e.headers['Sec-WebSocket-Version'] === '13',
      );
    });
  }

  it('400 for a malformed Sec-WebSocket-Protocol or Sec-WebSocket-Extensions', () => {
    refused({ ...HEADERS, 'sec-websocket-protocol': 'a b' }, 400, /Sec-WebSocket-Protocol/);
    refused({ ...HEADERS, 'sec-websocket-protocol': ',' }, 400, /Sec-WebSocket-Protocol/);
    refused({ ...HEADERS, 'sec-websocket-extensions': 'a; b="' }, 400, /Sec-WebSocket-Extensions/);
  });
});

describe('RFC 9110 7.2: the Host header', () => {
  for (const host of [
    'example.com',
    'example.com:8080',
    '127.0.0.1:0',
    '[::1]',
    '[::1]:443',
    '[v1.fe80::a+en1]',
    'xn--bcher-kva.example',
    'a%20b',
    "sub-delims!$&'()*+,;=",
    'h:',
  ]) {
    it(`accepts ${JSON.stringify(host)}`, () => {
      assert.equal(isValidHost(host), true);
      assert.equal(validateRequest(request({ ...HEADERS, host })).host, host);
    });
  }
  for (const host of [
    'a b@c/d?e',
    'user@example.com',
    'example.com/path',
    'example.com?q',
    'example.com#f',
    'example.com:80a',
    'example.com:80:81',
    ':80',
    '[::1',
    '[]',
    '[::1]x',
    '[::1]:8x',
    'a%2',
    'a%zz',
    'caf\u00e9.example',
    'a\tb',
  ]) {
    it(`400 for Host ${JSON.stringify(host)}`, () => {
      assert.equal(isValidHost(host), false);
      refused({ ...HEADERS, host }, 400, /invalid Host header/);
    });
  }
});

describe('RFC 9112 6 / RFC 9110 8.6: an upgrade request has no body', () => {
  it('Content-Length: 0 (or a list of zeros) is accepted', () => {
    validateRequest(request({ ...HEADERS, 'content-length': '0' }));
    validateRequest(request({ ...HEADERS, 'content-length': '0, 0' }));
  });
  for (const [name, extra, message] of [
    ['Content-Length above 0', { 'content-length': '5' }, /cannot have a body/],
    ['Transfer-Encoding', { 'transfer-encoding': 'chunked' }, /cannot have a body \(Transfer-Encoding\)/],
    [
      'both Transfer-Encoding and Content-Length',
      { 'transfer-encoding': 'chunked', 'content-length': '0' },
      /both Transfer-Encoding and Content-Length/,
    ],
    ['a Content-Length that is not a number', { 'content-length': '-1' }, /invalid Content-Length/],
    ['a Content-Length list that disagrees', { 'content-length': '0, 5' }, /invalid Content-Length/],
    ['an empty Content-Length', { 'content-length': '' }, /invalid Content-Length/],
  ] as const) {
    it(`400 for ${name}`, () => refused({ ...HEADERS, ...extra }, 400, message));
  }
});

describe('RFC 9110 10.1.1: Expect', () => {
  it('100-continue without content needs no interim response: the request is valid', () => {
    validateRequest(request({ ...HEADERS, expect: '100-continue' }));
    validateRequest(request({ ...HEADERS, expect: '100-Continue' }));
  });
  it('100-continue announcing content is refused for the body, before any is sent', () => {
    refused({ ...HEADERS, expect: '100-continue', 'content-length': '10' }, 400, /cannot have a body/);
  });
  it('417 for an expectation we do not meet', () => {
    refused({ ...HEADERS, expect: 'x-fancy' }, 417, /cannot meet the expectation "x-fancy"/);
    refused({ ...HEADERS, expect: '100-continue, x-more' }, 417, /x-more/);
  });
  it('buildRejectResponse names 417', () => {
    assert.match(
      buildRejectResponse(new HandshakeError(417, 'no')),
      /^HTTP\/1\.1 417 Expectation Failed\r\n/,
    );
  });
});

describe('RFC 9110 5.6.1: empty list elements in the handshake headers are ignored', () => {
  for (const value of ['chat,', 'chat,,x', ', chat', ' chat , , x ,']) {
    it(`Sec-WebSocket-Protocol: ${JSON.stringify(value)}`, () => {
      const expected = value.includes('x') ? ['chat', 'x'] : ['chat'];
      assert.deepEqual(parseProtocols(value), expected);
      assert.deepEqual(
        validateRequest(request({ ...HEADERS, 'sec-websocket-protocol': value })).protocols,
        expected,
      );
    });
  }
  for (const value of ['a,', 'a,,b', ', a', 'a; p=1, , b;q ,']) {
    it(`Sec-WebSocket-Extensions: ${JSON.stringify(value)}`, () => {
      const names = parseExtensions(value).map((offer) => offer.name);
      assert.deepEqual(names, value.includes('b') ? ['a', 'b'] : ['a']);
      const offers = validateRequest(request({ ...HEADERS, 'sec-websocket-extensions': value })).extensions;
      assert.deepEqual(
        offers.map((offer) => offer.name),
        names,
      );
    });
  }
});

describe('RFC 6455 4.2.2: the server response', () => {
  it('buildAcceptResponse writes the 101 head', () => {
    assert.equal(
      buildAcceptResponse({ key: KEY }),
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n',
    );
  });

  it('buildAcceptResponse adds the protocol, extensions and extra headers', () => {
    const head = buildAcceptResponse({
      key: KEY,
      protocol: 'chat',
      extensions: 'permessage-deflate',
      headers: { 'X-Id': '7' },
    });
    assert.ok(
      head.endsWith(
        'Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: permessage-deflate\r\nX-Id: 7\r\n\r\n',
      ),
    );
  });

  it('CRLF injection in extra headers is refused', () => {
    assert.throws(
      () => buildAcceptResponse({ key: KEY, headers: { 'X-A': 'a\r\nSet-Cookie: x' } }),
      TypeError,
    );
    assert.throws(() => buildAcceptResponse({ key: KEY, headers: { 'X-A\r\nB': 'a' } }), TypeError);
    assert.throws(() => buildAcceptResponse({ key: KEY, headers: { 'X-A': 'a\nb' } }), TypeError);
  });

  it('CRLF injection through the protocol or extensions is refused', () => {
    assert.throws(() => buildAcceptResponse({ key: KEY, protocol: 'chat\r\nSet-Cookie: x' }), TypeError);
    assert.throws(() => buildAcceptResponse({ key: KEY, protocol: 'two words' }), TypeError);
    assert.throws(() => buildAcceptResponse({ key: KEY, extensions: 'x\r\nSet-Cookie: x' }), TypeError);
  });

  it('buildRejectResponse writes a complete response with the reason as body', () => {
    const text = buildRejectResponse(
      new HandshakeError(426, 'unsupported WebSocket version 8', { 'Sec-WebSocket-Version': '13' }),
    );
    assert.equal(
      text,
      'HTTP/1.1 426 Upgrade Required\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n' +
        'Content-Length: 32\r\nSec-WebSocket-Version: 13\r\n\r\nunsupported WebSocket version 8\n',
    );
  });

  it('buildRejectResponse: an unknown status gets a generic phrase; a non-error status becomes 400', () => {
    assert.ok(buildRejectResponse(new HandshakeError(418, 'teapot')).startsWith('HTTP/1.1 418 Error\r\n'));
    assert.ok(buildRejectResponse(new HandshakeError(0, 'x')).startsWith('HTTP/1.1 400 Bad Request\r\n'));
    assert.ok(buildRejectResponse(new HandshakeError(101, 'x')).startsWith('HTTP/1.1 400 Bad Request\r\n'));
    const body = buildRejectResponse(new HandshakeError(400, 'é'));
    assert.match(body, /Content-Length: 3\r\n/);
  });
});

describe('RFC 6455 4.1: the client request', () => {
  it('buildRequest writes the GET head', () => {
    assert.equal(
      buildRequest({ host: 'example.com:8080', path: '/chat?x=1', key: KEY }),
      `GET /chat?x=1 HTTP/1.1\r\nHost: example.com:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
  });

  it('buildRequest adds protocols, extensions, origin and headers', () => {
    const head = buildRequest({
      host: 'h',
      path: '/',
      key: KEY,
      protocols: ['chat', 'v2.chat'],
      extensions: 'permessage-deflate; client_max_window_bits',
      origin: 'https://h',
      headers: { Authorization: 'Bearer t' },
    });
    assert.ok(
      head.endsWith(
        'Sec-WebSocket-Protocol: chat, v2.chat\r\n' +
          'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n' +
          'Origin: https://h\r\nAuthorization: Bearer t\r\n\r\n',
      ),
    );
    assert.ok(!buildRequest({ host: 'h', path: '/', key: KEY, protocols: [] }).includes('Protocol'));
  });

  it('buildRequest refuses what would break the head', () => {
    assert.throws(() => buildRequest({ host: 'h', path: 'no-slash', key: KEY }), TypeError);
    assert.throws(() => buildRequest({ host: 'h', path: '/a b', key: KEY }), TypeError);
    assert.throws(() => buildRequest({ host: 'h', path: '/a\r\nX: y', key: KEY }), TypeError);
    assert.throws(() => buildRequest({ host: 'h\r\nX: y', path: '/', key: KEY }), TypeError);
    assert.throws(() => buildRequest({ host: 'h', path: '/', key: KEY, protocols: ['a b'] }), SyntaxError);
    assert.throws(() => buildRequest({ host: 'h', path: '/', key: KEY, origin: 'o\r\n' }), TypeError);
    assert.throws(
      () => buildRequest({ host: 'h', path: '/', key: KEY, headers: { 'X-A': '\r\n' } }),
      TypeError,
    );
    assert.throws(() => buildRequest({ host: 'h', path: '/', key: `${KEY}\r\nX: y` }), TypeError);
    assert.throws(() => buildRequest({ host: 'h', path: '/', key: KEY, extensions: 'a\r\nX: y' }), TypeError);
  });
});

describe('RFC 6455 4.1: validating the server response', () => {
  const offered: OfferedHandshake = { key: KEY, protocols: [], extensions: [] };
  const good = {
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-accept': computeAccept(KEY),
  };

  function failsWith(statusCode: number, headers: HeaderMap, message: string, offer = offered) {
    assert.throws(
      () => validateResponse({ statusCode, headers }, offer),
      (e: unknown) => e instanceof HandshakeError && e.status === statusCode && e.message === message,
    );
  }

  it('a valid 101 is accepted', () => {
    assert.deepEqual(validateResponse({ statusCode: 101, headers: good }, offered), {
      protocol: '',
      extensions: [],
    });
  });

  it('a 101 with an offered subprotocol and extension is accepted', () => {
    const result = validateResponse(
      {
        statusCode: 101,
        headers: {
          ...good,
          'sec-websocket-protocol': 'b',
          'sec-websocket-extensions': 'permessage-deflate; server_no_context_takeover',
        },
      },
      { key: KEY, protocols: ['a', 'b'], extensions: ['permessage-deflate'] },
    );
    assert.deepEqual(result, {
      protocol: 'b',
      extensions: [{ name: 'permessage-deflate', params: [['server_no_context_takeover', true]] }],
    });
  });

  it('each failure carries the status and says what was wrong', () => {
    failsWith(400, good, 'Unexpected server response: 400');
    failsWith(101, { ...good, upgrade: 'h2c' }, "Invalid 'Upgrade' header value; expected 'websocket'");
    // The value must be exactly one `websocket` token: not a list that contains it.
    failsWith(
      101,
      { ...good, upgrade: 'websocket, h2c' },
      "Invalid 'Upgrade' header value; expected 'websocket'",
    );
    failsWith(
      101,
      { ...good, upgrade: ['foo', 'websocket'] },
      "Invalid 'Upgrade' header value; expected 'websocket'",
    );
    failsWith(
      101,
      { ...good, connection: undefined },
      "Invalid 'Connection' header value; expected 'Upgrade'",
    );
    failsWith(101, { ...good, 'sec-websocket-accept': 'x' }, "Incorrect 'Sec-WebSocket-Accept' header value");
    failsWith(
      101,
      { ...good, 'sec-websocket-protocol': 'c' },
      'Server selected a subprotocol that was not offered: c',
      { ...offered, protocols: ['a'] },
    );
    failsWith(
      101,
      { ...good, 'sec-websocket-protocol': 'c' },
      'Server selected a subprotocol that was not offered: c',
    );
    failsWith(101, good, 'Server sent no subprotocol', { ...offered, protocols: ['a'] });
    failsWith(
      101,
      { ...good, 'sec-websocket-extensions': 'x-foo' },
      'Server accepted an extension that was not offered: x-foo',
    );
    failsWith(
      101,
      { ...good, 'sec-websocket-extensions': 'x-foo, x-foo' },
      'Server accepted extension x-foo more than once',
      { ...offered, extensions: ['x-foo'] },
    );
    failsWith(
      101,
      { ...good, 'sec-websocket-extensions': 'x-foo;' },
      "Invalid 'Sec-WebSocket-Extensions' header: unexpected end of header",
      { ...offered, extensions: ['x-foo'] },
    );
  });
});

describe('RFC 6455 4.1: the Upgrade value of a 101 is one websocket token', () => {
  const good = { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-accept': computeAccept(KEY) };
  const offered: OfferedHandshake = { key: KEY, protocols: [], extensions: [] };
  for (const upgrade of ['websocket', 'WebSocket', ' websocket ', 'websocket,']) {
    it(`accepts ${JSON.stringify(upgrade)}`, () => {
      validateResponse({ statusCode: 101, headers: { ...good, upgrade } }, offered);
    });
  }
  for (const upgrade of ['websocket, h2c', 'h2c, websocket', 'websocket, websocket', 'websocket/13', '']) {
    it(`refuses ${JSON.stringify(upgrade)}`, () => {
      assert.throws(
        () => validateResponse({ statusCode: 101, headers: { ...good, upgrade } }, offered),
        /Invalid 'Upgrade' header value/,
      );
    });
  }
  it('refuses two Upgrade lines, foo and websocket, as the head parser joins them', () => {
    const head = new HttpHeadParser<ResponseHead>('response').push(
      Buffer.from(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${computeAccept(KEY)}\r\n\r\n`,
      ),
    );
    assert.ok(head !== null);
    assert.throws(() => validateResponse(head.head, offered), /Invalid 'Upgrade' header value/);
  });
});

describe('a response without an upgrade', () => {
  const offered: OfferedHandshake = { key: KEY, protocols: [], extensions: [] };
  it('a 2xx is "not a WebSocket endpoint", with the status line, code not-websocket', () => {
    assert.throws(
      () => validateResponse({ statusCode: 200, statusMessage: 'OK', headers: {} }, offered),
      (e: unknown) =>
        e instanceof HandshakeError &&
        e.status === 200 &&
        e.code === 'not-websocket' &&
        e.message === 'Not a WebSocket endpoint (HTTP 200 OK)',
    );
  });
  it('another status is an unexpected response, code refused', () => {
    assert.throws(
      () => validateResponse({ statusCode: 503, statusMessage: 'Service Unavailable', headers: {} }, offered),
      (e: unknown) =>
        e instanceof HandshakeError &&
        e.code === 'refused' &&
        e.message === 'Unexpected server response: 503 Service Unavailable',
    );
  });
});

describe('RFC 9110 5.6.1: token lists', () => {
  it('parseTokenList lower-cases, trims and skips empty elements', () => {
    assert.deepEqual(parseTokenList(' Keep-Alive ,, Upgrade,\t'), ['keep-alive', 'upgrade']);
    assert.deepEqual(parseTokenList(''), []);
  });

  it('Upgrade and Connection are accepted exactly when their lists hold the token (the single-token shortcut included)', () => {
    // Values built from pieces of the tokens, separators and case changes: many are as long
    // as the token itself, where validateRequest compares without building the list.
    const piece = fc.constantFrom(
      'upgrade',
      'Upgrade',
      'UPGRADE',
      'websocket',
      'WebSocket',
      'upgrad',
      'e',
      'w',
      ',',
      ' ',
      '\t',
      'keep-alive',
    );
    const value = fc.array(piece, { minLength: 1, maxLength: 5 }).map((pieces) => pieces.join(''));
    fc.assert(
      fc.property(value, value, (upgrade, connection) => {
        const expected =
          parseTokenList(upgrade).includes('websocket') && parseTokenList(connection).includes('upgrade');
        let accepted = true;
        try {
          validateRequest(request({ ...HEADERS, upgrade, connection }));
        } catch (error) {
          assert.ok(error instanceof HandshakeError && error.status === 400);
          accepted = false;
        }
        assert.equal(
          accepted,
          expected,
          `Upgrade: ${JSON.stringify(upgrade)}, Connection: ${JSON.stringify(connection)}`,
        );
      }),
      { numRuns: 2000 },
    );
  });

  it('HTTP versions: 1.1 and later 1.x upgrade; 1.0, 0.9 and 2.0 do not', () => {
    for (const version of ['1.1', '1.2', '1.9']) validateRequest(request(HEADERS, 'GET', version));
    for (const version of ['1.0', '0.9', '2.0', '']) refused(HEADERS, 400, /cannot upgrade/, 'GET', version);
  });
});

describe('RFC 6455 11.3.4: Sec-WebSocket-Protocol', () => {
  it('parses tokens in order, case preserved, with optional whitespace', () => {
    assert.deepEqual(parseProtocols('chat'), ['chat']);
    assert.deepEqual(parseProtocols(' Chat ,\tsuperchat\t, v2.x '), ['Chat', 'superchat', 'v2.x']);
  });

  for (const [value, message] of [
    ['', /no subprotocol in the list/],
    [' , ,', /no subprotocol in the list/],
    ['a b', /unexpected character at index 2/],
    ['a;b', /unexpected character at index 1/],
    ['a, "b"', /unexpected character at index 3/],
    ['chat, chat', /repeated/],
  ] as const) {
    it(`refuses ${JSON.stringify(value)}`, () => {
      assert.throws(
        () => parseProtocols(value),
        (e: unknown) => e instanceof SyntaxError && message.test(e.message),
      );
    });
  }
});

describe('RFC 6455 9.1: Sec-WebSocket-Extensions', () => {
  const cases: Array<[string, ExtensionOffer[]]> = [
    ['foo', [{ name: 'foo', params: [] }]],
    [
      'permessage-deflate; client_max_window_bits; server_max_window_bits=10',
      [
        {
          name: 'permessage-deflate',
          params: [
            ['client_max_window_bits', true],
            ['server_max_window_bits', '10'],
          ],
        },
      ],
    ],
    [
      'a;b=1,c ; d = "2" ;e, f',
      [
        {
          name: 'a',
          params: [['b', '1']],
        },
        {
          name: 'c',
          params: [
            ['d', '2'],
            ['e', true],
          ],
        },
        { name: 'f', params: [] },
      ],
    ],
    ['x; v="\\1\\0"', [{ name: 'x', params: [['v', '10']] }]],
    ['\tx\t;\tv="ab"\t', [{ name: 'x', params: [['v', 'ab']] }]],
  ];
  for (const [value, expected] of cases) {
    it(`parses ${JSON.stringify(value)}`, () => assert.deepEqual(parseExtensions(value), expected));
  }

  for (const [value, message] of [
    ['', /no extension in the list/],
    [', ,', /no extension in the list/],
    ['a,;', /unexpected character at index 2/],
    ['a;', /unexpected end of header/],
    ['a;;b', /unexpected character at index 2/],
    ['a; b=', /unexpected end of header/],
    ['a; b=,', /unexpected character at index 5/],
    ['a; =1', /unexpected character at index 3/],
    ['a b', /unexpected character at index 2/],
    ['a; b=1 2', /unexpected character at index 7/],
    ['a; b="x', /unexpected end of header/],
    ['a; b=""', /unexpected character at index 6/],
    ['a; b="x y"', /unexpected character at index 7/],
    ['a; b="x"y', /unexpected character at index 8/],
    ['a; b="x" y', /unexpected character at index 9/],
    ['a; b="x"=', /unexpected character at index 8/],
    ['a; b="\\ "', /unexpected character at index 7/],
    ['a; b=c=d', /unexpected character at index 6/],
    ['a; b; c=d"', /unexpected character at index 9/],
    ['a(', /unexpected character at index 1/],
    ['a=1', /unexpected character at index 1/],
    ['a; b"x"', /unexpected character at index 4/],
  ] as const) {
    it(`refuses ${JSON.stringify(value)}`, () => {
      assert.throws(
        () => parseExtensions(value),
        (e: unknown) => e instanceof SyntaxError && message.test(e.message),
      );
    });
  }

  it('formatExtensions is the inverse of parseExtensions', () => {
    for (const [, offers] of cases) assert.deepEqual(parseExtensions(formatExtensions(offers)), offers);
    assert.equal(
      formatExtensions(cases[1]![1]),
      'permessage-deflate; client_max_window_bits; server_max_window_bits=10',
    );
  });
});

describe('hostile headers parse or fail in linear time (ReDoS, 2020-2021 advisories)', () => {
  const MB = 1024 * 1024;
  const hostile: Array<[string, () => unknown]> = [
    ['protocol: 1 MB of spaces and tabs, then a token', () => parseProtocols(`${' \t'.repeat(MB / 2)}a`)],
    ['protocol: a token, 1 MB of spaces, a token', () => parseProtocols(`a${' '.repeat(MB)}b`)],
    ['protocol: ", " repeated', () => parseProtocols(', '.repeat(MB / 2))],
    [
      'protocol: 1 MB of distinct tokens',
      () => parseProtocols(Array.from({ length: MB / 8 }, (_, i) => `p${i}`).join(',')),
    ],
    ['extensions: 1 MB of spaces and tabs', () => parseExtensions(`a;${' \t'.repeat(MB / 2)}`)],
    ['extensions: ", " repeated', () => parseExtensions(`a${', '.repeat(MB / 2)}`)],
    [
      'extensions: an unterminated quoted string of escapes',
      () => parseExtensions(`a; b="${'\\c'.repeat(MB / 2)}`),
    ],
    ['extensions: a long quoted string', () => parseExtensions(`a; b="${'c'.repeat(MB)}"`)],
    ['extensions: many parameters', () => parseExtensions(`a${'; b=1'.repeat(MB / 6)}`)],
    [
      'validateRequest with both headers hostile',
      () =>
        validateRequest(
          request({
            ...HEADERS,
            'sec-websocket-protocol': `a${' '.repeat(MB)}`,
            'sec-websocket-extensions': `a; b="${'\\c'.repeat(MB / 2)}`,
          }),
        ),
    ],
  ];
  for (const [name, run] of hostile) {
    it(name, { timeout: 30_000 }, () => {
      const started = process.hrtime.bigint();
      let outcome = 'parsed';
      try {
        run();
      } catch (error) {
        assert.ok(error instanceof SyntaxError || error instanceof HandshakeError, String(error));
        outcome = 'refused';
      }
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      console.log(`  ${name}: ${outcome} in ${ms.toFixed(1)} ms`);
    });
  }
});
