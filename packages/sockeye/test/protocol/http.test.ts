/**
 * HttpHeadParser: the bounded, incremental HTTP/1.x head parser the handshakes stand on
 * (RFC 9112 sections 2-5), and its field syntax helpers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { heldBytes } from '../../../../scripts/lib/memory.js';
import {
  HandshakeError,
  HttpHeadParser,
  isFieldValue,
  isToken,
  type RequestHead,
  type ResponseHead,
} from '../../src/protocol/index.js';

const REQUEST =
  'GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

function parseRequest(text: string, options = {}): RequestHead {
  const result = new HttpHeadParser<RequestHead>('request', options).push(Buffer.from(text, 'latin1'));
  assert.ok(result !== null, 'the head is complete');
  return result.head;
}

function rejects(text: string, status: number, kind: 'request' | 'response' = 'request', options = {}): void {
  const parser =
    kind === 'request'
      ? new HttpHeadParser<RequestHead>('request', options)
      : new HttpHeadParser<ResponseHead>('response', options);
  assert.throws(
    () => parser.push(Buffer.from(text, 'latin1')),
    (error: unknown) => error instanceof HandshakeError && error.status === status,
  );
}

describe('RFC 9112 2-3: request heads', () => {
  it('parses the request line and the fields, names lower-cased', () => {
    const head = parseRequest(REQUEST);
    assert.equal(head.method, 'GET');
    assert.equal(head.target, '/chat?room=1');
    assert.equal(head.httpVersion, '1.1');
    assert.equal(head.headers.host, 'example.com');
    assert.equal(head.headers['sec-websocket-key'], 'dGhlIHNhbXBsZSBub25jZQ==');
    assert.equal(Object.keys(head.headers).length, 5);
  });

  it('a head split at every possible point parses the same, and returns what follows', () => {
    const bytes = Buffer.from(`${REQUEST}\x81\x05after`, 'latin1');
    const expected = parseRequest(REQUEST);
    for (let a = 1; a < bytes.length; a += 1) {
      for (const b of [a + 1, a + 2, a + 3, bytes.length]) {
        if (b > bytes.length) continue;
        const parser = new HttpHeadParser<RequestHead>('request');
        let result = parser.push(bytes.subarray(0, a));
        if (result === null) result = parser.push(bytes.subarray(a, b));
        if (result === null && b < bytes.length) result = parser.push(bytes.subarray(b));
        assert.ok(result !== null, `split at ${a}/${b}`);
        assert.deepEqual(result.head, expected, `split at ${a}/${b}`);
        assert.ok(result.rest.length <= 7);
      }
    }
  });

  it('fed one byte at a time, the head completes on the last LF', () => {
    const parser = new HttpHeadParser<RequestHead>('request');
    const bytes = Buffer.from(REQUEST, 'latin1');
    for (let i = 0; i < bytes.length - 1; i++) assert.equal(parser.push(bytes.subarray(i, i + 1)), null);
    assert.equal(parser.bytesReceived, bytes.length - 1);
    const result = parser.push(bytes.subarray(bytes.length - 1));
    assert.equal(result?.head.target, '/chat?room=1');
    assert.equal(result?.rest.length, 0);
  });

  it('chunks of two bytes that straddle the blank line are found', () => {
    const parser = new HttpHeadParser<RequestHead>('request');
    const bytes = Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\nXY', 'latin1');
    let result = null;
    for (let i = 0; i < bytes.length && result === null; i += 2)
      result = parser.push(bytes.subarray(i, i + 2));
    assert.equal(result?.head.headers.host, 'a');
    // The head is 27 bytes: the chunk that completes it is "\nX", and only that X follows it.
    assert.equal(result?.rest.toString(), 'X');
  });

  it('a request with no fields parses', () => {
    assert.deepEqual(Object.keys(parseRequest('GET / HTTP/1.0\r\n\r\n').headers), []);
  });

  it('repeated fields are joined with ", "', () => {
    const head = parseRequest('GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a: 2\r\n\r\n');
    assert.equal(head.headers['x-a'], '1, 2');
  });

  it('optional whitespace around a value is trimmed; tabs too', () => {
    assert.equal(parseRequest('GET / HTTP/1.1\r\nHost:\t a \t\r\n\r\n').headers.host, 'a');
  });

  for (const [name, text] of [
    ['a request line without a version', 'GET /\r\n\r\n'],
    ['a request line with one token', 'GET\r\n\r\n'],
    ['an empty method', ' / HTTP/1.1\r\n\r\n'],
    ['a method that is not a token', 'G(T / HTTP/1.1\r\n\r\n'],
    ['a target with a space', 'GET /a b HTTP/1.1\r\n\r\n'],
    ['a bad version', 'GET / HTTP/1\r\n\r\n'],
    ['a version in lower case', 'GET / http/1.1\r\n\r\n'],
    ['a field without a colon', 'GET / HTTP/1.1\r\nHost a\r\n\r\n'],
    ['a field with an empty name', 'GET / HTTP/1.1\r\n: a\r\n\r\n'],
    ['whitespace before the colon (smuggling)', 'GET / HTTP/1.1\r\nHost : a\r\n\r\n'],
    ['obs-fold (a continuation line)', 'GET / HTTP/1.1\r\nX-A: a\r\n b\r\nHost: h\r\n\r\n'],
    ['obs-fold with a colon', 'GET / HTTP/1.1\r\nX-A: a\r\n\tb: c\r\n\r\n'],
    ['a NUL in a value', 'GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n'],
    ['a bare LF in a value', 'GET / HTTP/1.1\r\nHost: a\nb: c\r\n\r\n'],
    ['a duplicate Host', 'GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n'],
  ] as const) {
    it(`400 on ${name}`, () => rejects(text, 400));
  }
});

describe('RFC 9112 3.2: the request-target is visible ASCII', () => {
  for (const [name, target] of [
    ['a NUL', '/a\x00b'],
    ['a bare CR', '/a\rb'],
    ['a bare LF', '/a\nb'],
    ['a DEL', '/a\x7fb'],
    ['an ESC', '/a\x1bb'],
    ['a tab', '/a\tb'],
    ['a byte above 0x7E', '/caf\xe9'],
  ] as const) {
    it(`400 on ${name} in the request-target`, () => {
      rejects(`GET ${target} HTTP/1.1\r\nHost: a\r\n\r\n`, 400);
    });
  }
  it('a bare LF cannot end the request line and smuggle a field', () => {
    rejects('GET / HTTP/1.1\nHost: a\r\n\r\n', 400);
    rejects('GET /\nX: y HTTP/1.1\r\nHost: a\r\n\r\n', 400);
  });
  it('the target has one of the four forms of RFC 9112 3.2', () => {
    for (const target of ['/', '/a?b', 'http://example.com/chat', 'ws://example.com', '*']) {
      assert.equal(parseRequest(`GET ${target} HTTP/1.1\r\nHost: a\r\n\r\n`).target, target);
    }
    assert.equal(
      parseRequest('CONNECT example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n').target,
      'example.com:443',
    );
    for (const target of ['chat', '../etc/passwd', 'example.com:443', '?a', '1http://x', 'http:/x']) {
      rejects(`GET ${target} HTTP/1.1\r\nHost: a\r\n\r\n`, 400);
    }
  });

  it('every visible ASCII character is accepted', () => {
    let target = '/';
    for (let c = 0x21; c <= 0x7e; c++) target += String.fromCharCode(c);
    assert.equal(parseRequest(`GET ${target} HTTP/1.1\r\nHost: a\r\n\r\n`).target, target);
  });
});

describe('a request that does not start like HTTP/1.x is refused at its first byte', () => {
  it('a TLS ClientHello (first byte 0x16) is 400, saying so', () => {
    const parser = new HttpHeadParser<RequestHead>('request');
    assert.throws(
      () => parser.push(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00])),
      (error: unknown) =>
        error instanceof HandshakeError &&
        error.status === 400 &&
        /TLS handshake on a plain-text port/.test(error.message),
    );
  });
  for (const first of [0x00, 0x15, 0x20, 0x0a, 0x80, 0xff, 0x28]) {
    it(`first byte 0x${first.toString(16).padStart(2, '0')} is 400`, () => {
      rejects(String.fromCharCode(first), 400);
    });
  }
  it('a response may start with anything its status line allows (the rule is for requests)', () => {
    const parser = new HttpHeadParser<ResponseHead>('response');
    assert.throws(
      () => parser.push(Buffer.from('\x16\x03\x01\r\n\r\n', 'latin1')),
      (error: unknown) => error instanceof HandshakeError && error.status === 0,
    );
  });
});

describe('RFC 9112 2.2: lines end with CRLF; a bare LF fails at once', () => {
  it('a request whose lines end with LF alone is 400 as soon as the first one arrives', () => {
    const parser = new HttpHeadParser<RequestHead>('request');
    assert.throws(
      () => parser.push(Buffer.from('GET / HTTP/1.1\nHost: a\n')),
      (error: unknown) =>
        error instanceof HandshakeError && error.status === 400 && /bare LF/.test(error.message),
    );
  });
  it('a bare LF split from its line by a read boundary is found too', () => {
    const parser = new HttpHeadParser<RequestHead>('request');
    assert.equal(parser.push(Buffer.from('GET / HTTP/1.1\r\nHost: a')), null);
    assert.throws(() => parser.push(Buffer.from('\n')), /bare LF/);
  });
  it('a CRLF split across reads is not a bare LF', () => {
    const parser = new HttpHeadParser<RequestHead>('request');
    assert.equal(parser.push(Buffer.from('GET / HTTP/1.1\r')), null);
    assert.equal(parser.push(Buffer.from('\nHost: a\r')), null);
    assert.equal(parser.push(Buffer.from('\n\r'))?.head, undefined);
    assert.equal(parser.push(Buffer.from('\n'))?.head.headers.host, 'a');
  });
  it('a response with LF line endings fails with status 0 instead of waiting', () => {
    const parser = new HttpHeadParser<ResponseHead>('response');
    assert.throws(
      () => parser.push(Buffer.from('HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\n')),
      (error: unknown) =>
        error instanceof HandshakeError && error.status === 0 && /bare LF/.test(error.message),
    );
  });
});

describe('RFC 9112 2.2: one empty line before the request line is skipped', () => {
  it('a leading CRLF is ignored', () => {
    const head = parseRequest(`\r\n${REQUEST}`);
    assert.equal(head.method, 'GET');
    assert.equal(head.target, '/chat?room=1');
    assert.equal(head.headers.host, 'example.com');
  });
  it('a leading CRLF arriving in its own read is ignored too', () => {
    const parser = new HttpHeadParser<RequestHead>('request');
    assert.equal(parser.push(Buffer.from('\r\n')), null);
    assert.equal(parser.push(Buffer.from(REQUEST, 'latin1'))?.head.target, '/chat?room=1');
  });
  it('two empty lines are a malformed request (only one is skipped)', () => {
    rejects(`\r\n\r\n${REQUEST}`, 400);
  });
  it('a response gets no such leniency', () => {
    rejects('\r\nHTTP/1.1 101 OK\r\n\r\n', 0, 'response');
  });
});

describe('memory: a head trickled one byte per read', () => {
  const used = heldBytes;

  it('is copied into one buffer bounded by maxBytes, not kept as one Buffer per read', () => {
    const maxBytes = 16 * 1024;
    const head = Buffer.from(
      `GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ${'p'.repeat(maxBytes - 100)}\r\n`,
      'latin1',
    );
    assert.ok(head.length < maxBytes);
    const parsers = Array.from(
      { length: 10 },
      () => new HttpHeadParser<RequestHead>('request', { maxBytes }),
    );
    const before = used();
    for (const parser of parsers) {
      for (let i = 0; i < head.length; i++) {
        // A socket hands over each read as a Buffer of its own, with its own ArrayBuffer.
        const read = Buffer.from(new ArrayBuffer(1));
        read[0] = head[i]!;
        assert.equal(parser.push(read), null);
      }
      assert.equal(parser.bytesReceived, head.length);
    }
    const grown = used() - before;
    // Ten heads of under 16 KiB each: what they hold is their bytes, plus a constant.
    // Keeping every read cost ~190 bytes of heap per byte (~30 MiB here).
    assert.ok(grown < 10 * maxBytes + 512 * 1024, `grew ${grown} bytes`);
    for (const parser of parsers) assert.ok(parser.bytesHeld <= maxBytes, `${parser.bytesHeld} bytes held`);
    for (const parser of parsers) {
      const result = parser.push(Buffer.from('\r\n\x81', 'latin1'));
      assert.equal(result?.head.headers['x-pad']?.length, maxBytes - 100);
      assert.deepEqual([...result!.rest], [0x81]);
    }
  });

  it('the buffer grows by doubling and never past maxBytes', () => {
    const parser = new HttpHeadParser<RequestHead>('request', { maxBytes: 5000 });
    const chunk = Buffer.alloc(700, 0x61);
    let error: unknown = null;
    for (let i = 0; i < 10 && error === null; i++) {
      try {
        parser.push(chunk);
      } catch (e) {
        error = e;
      }
      assert.ok(parser.bytesHeld <= 5000);
    }
    assert.ok(error instanceof HandshakeError && error.status === 431);
    assert.equal(parser.bytesReceived, 5000);
  });
});

describe('bounds: 431', () => {
  it('a head larger than maxBytes is refused as soon as the bound is crossed, without buffering the rest', () => {
    const parser = new HttpHeadParser<RequestHead>('request', { maxBytes: 16 * 1024 });
    const chunk = Buffer.alloc(1024, 0x61);
    let accepted = 0;
    let error: unknown = null;
    // 1 MiB offered in 1 KiB chunks: the parser must stop at the 17th.
    for (let i = 0; i < 1024 && error === null; i++) {
      try {
        parser.push(chunk);
        accepted++;
      } catch (e) {
        error = e;
      }
    }
    assert.ok(error instanceof HandshakeError && error.status === 431);
    assert.equal(accepted, 16);
    assert.ok(parser.bytesReceived <= 16 * 1024 + chunk.length);
  });

  it('a single 1 MB chunk without a blank line is refused at once', () => {
    rejects('a'.repeat(1024 * 1024), 431);
  });

  it('a complete head larger than maxBytes is refused', () => {
    rejects(`GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'b'.repeat(200)}\r\n\r\n`, 431, 'request', {
      maxBytes: 100,
    });
  });

  it('a head of exactly maxBytes is accepted', () => {
    const text = 'GET / HTTP/1.1\r\nHost: a\r\n\r\n';
    assert.equal(parseRequest(text, { maxBytes: text.length }).headers.host, 'a');
    rejects(text, 431, 'request', { maxBytes: text.length - 1 });
  });

  it('more than maxHeaders fields is 431', () => {
    const fields = Array.from({ length: 5 }, (_, i) => `X-${i}: v\r\n`).join('');
    rejects(`GET / HTTP/1.1\r\n${fields}\r\n`, 431, 'request', { maxHeaders: 4 });
    assert.equal(parseRequest(`GET / HTTP/1.1\r\n${fields}\r\n`, { maxHeaders: 5 }).headers['x-4'], 'v');
  });

  it('the default bound is 100 fields', () => {
    const fields = Array.from({ length: 101 }, (_, i) => `X-${i}: v\r\n`).join('');
    rejects(`GET / HTTP/1.1\r\n${fields}\r\n`, 431);
  });
});

describe('RFC 9112 4: response heads', () => {
  function parseResponse(text: string): ResponseHead {
    const result = new HttpHeadParser<ResponseHead>('response').push(Buffer.from(text, 'latin1'));
    assert.ok(result !== null);
    return result.head;
  }

  it('parses the status line and the fields', () => {
    const head = parseResponse(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
    );
    assert.equal(head.httpVersion, '1.1');
    assert.equal(head.statusCode, 101);
    assert.equal(head.statusMessage, 'Switching Protocols');
    assert.equal(head.headers.upgrade, 'websocket');
  });

  it('a status line without a reason phrase parses', () => {
    const head = parseResponse('HTTP/1.1 404\r\n\r\n');
    assert.equal(head.statusCode, 404);
    assert.equal(head.statusMessage, '');
  });

  it('a response may repeat a field named Host (the rule is for requests)', () => {
    assert.equal(parseResponse('HTTP/1.1 200 OK\r\nHost: a\r\nHost: b\r\n\r\n').headers.host, 'a, b');
  });

  for (const [name, text] of [
    ['a status line without a space', 'HTTP/1.1\r\n\r\n'],
    ['a status code that is not 3 digits', 'HTTP/1.1 20 OK\r\n\r\n'],
    ['a status code run into its reason', 'HTTP/1.1 2000 OK\r\n\r\n'],
    ['a status code out of range', 'HTTP/1.1 600 No\r\n\r\n'],
    ['a malformed field', 'HTTP/1.1 101 OK\r\nUpgrade websocket\r\n\r\n'],
  ] as const) {
    it(`a malformed response (${name}) is a HandshakeError with status 0`, () =>
      rejects(text, 0, 'response'));
  }

  it('a malformed version in a response is status 0, like every malformed response (not a 400 the server never sent)', () => {
    rejects('HTTX/1.1 101 OK\r\n\r\n', 0, 'response');
    rejects('HTTP/1.1x 101 OK\r\n\r\n', 0, 'response');
  });

  it('a malformed version in a request is 400', () => rejects('GET / HTTP/1.1x\r\n\r\n', 400));
});

describe('RFC 9110 5.5-5.6: field syntax', () => {
  it('isToken', () => {
    assert.equal(isToken("!#$%&'*+-.^_`|~09azAZ"), true);
    for (const bad of ['', 'a b', 'a,b', 'a;b', 'a"b', 'a:b', 'é', 'a\tb', '(a)'])
      assert.equal(isToken(bad), false);
  });

  it('isFieldValue', () => {
    assert.equal(isFieldValue('text/plain; q=0.5\tand obs-text \xe9'), true);
    for (const bad of ['a\rb', 'a\nb', 'a\x00b', 'a\x7fb', 'a\u0100b'])
      assert.equal(isFieldValue(bad), false);
  });
});

describe('properties: chunking never changes the outcome, memory stays bounded', () => {
  const IN_CI = process.env.CI === 'true' || process.env.CI === '1';
  const RUNS = IN_CI ? 5_000 : 500;
  const tokenArb = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/);
  const valueArb = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,30}[\x21-\x7e])?$/);
  const requestArb = fc.record({
    leadingEmptyLine: fc.boolean(),
    method: tokenArb,
    target: fc.stringMatching(/^\/[\x21-\x7e]{0,40}$/),
    // (a repeated Host is a 400 of its own: not what this property is about)
    fields: fc.array(
      fc.tuple(
        tokenArb.filter((name) => name.toLowerCase() !== 'host'),
        valueArb,
      ),
      {
        maxLength: 12,
      },
    ),
    after: fc.uint8Array({ maxLength: 20 }),
  });
  /** Cut `bytes` at the given points (sorted, deduplicated, inside it) into chunks. */
  const cut = (bytes: Buffer, points: number[]) => {
    const at = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
    const chunks: Buffer[] = [];
    let start = 0;
    for (const point of [...at, bytes.length]) {
      chunks.push(bytes.subarray(start, point));
      start = point;
    }
    return chunks.filter((chunk) => chunk.length > 0);
  };

  it('a valid request cut anywhere parses as in one piece, and what follows it is kept exactly', () => {
    fc.assert(
      fc.property(requestArb, fc.array(fc.nat(), { maxLength: 30 }), (request, points) => {
        let text = `${request.leadingEmptyLine ? '\r\n' : ''}${request.method} ${request.target} HTTP/1.1\r\n`;
        for (const [name, value] of request.fields) text += `${name}: ${value}\r\n`;
        const head = Buffer.from(`${text}\r\n`, 'latin1');
        const bytes = Buffer.concat([head, request.after]);
        const whole = new HttpHeadParser<RequestHead>('request').push(bytes);
        assert.ok(whole !== null);
        assert.deepEqual([...whole.rest], [...request.after]);
        const parser = new HttpHeadParser<RequestHead>('request', { maxBytes: 4096 });
        const chunks = cut(bytes, points);
        for (let i = 0; i < chunks.length; i++) {
          const result = parser.push(chunks[i]!);
          assert.ok(parser.bytesHeld <= 4096);
          if (result === null) continue;
          assert.deepEqual(result.head, whole.head);
          assert.deepEqual([...Buffer.concat([result.rest, ...chunks.slice(i + 1)])], [...request.after]);
          return;
        }
        assert.fail('the head never completed');
      }),
      { numRuns: RUNS },
    );
  });

  it('request lines: the method, target and version are what splitting the line at its first and last spaces gives', () => {
    // A plain reference: the line copied out, then split (what the parser did before it
    // cut the parts out of the head by index).
    const reference = (line: string): { method: string; target: string; httpVersion: string } | null => {
      const first = line.indexOf(' ');
      const last = line.lastIndexOf(' ');
      if (first <= 0 || last === first) return null;
      const method = line.slice(0, first);
      const target = line.slice(first + 1, last);
      const version = /^HTTP\/([0-9]\.[0-9])$/.exec(line.slice(last + 1));
      if (!isToken(method) || version === null) return null;
      if (!/^[\x21-\x7e]+$/.test(target) || !(target.startsWith('/') || target === '*')) return null;
      return { method, target, httpVersion: version[1]! };
    };
    const piece = fc.constantFrom(
      'GET',
      'get',
      ' ',
      '  ',
      '/',
      '/a',
      '*',
      'HTTP/1.1',
      'HTTP/1.0',
      'HTTP/1.1x',
      'HTTP/',
      '1.1',
      'x',
    );
    const line = fc.array(piece, { minLength: 1, maxLength: 6 }).map((pieces) => pieces.join(''));
    fc.assert(
      fc.property(line, fc.boolean(), (text, withField) => {
        const expected = reference(text);
        const head = `${text}\r\n${withField ? 'Host: a\r\n' : ''}\r\n`;
        try {
          const parsed = new HttpHeadParser<RequestHead>('request').push(Buffer.from(head, 'latin1'));
          assert.ok(parsed !== null);
          const { method, target, httpVersion } = parsed.head;
          assert.deepEqual({ method, target, httpVersion }, expected, JSON.stringify(text));
        } catch (error) {
          if (error instanceof assert.AssertionError) throw error;
          assert.ok(error instanceof HandshakeError && error.status === 400, String(error));
          assert.equal(expected, null, `${JSON.stringify(text)} was refused`);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('any bytes, cut anywhere: a head, a HandshakeError or a wait, never more than maxBytes held', () => {
    const alphabet = fc.constantFrom(...'GET /HTP1.\r\n:ab\x16\x00 '.split(''));
    fc.assert(
      fc.property(
        fc.array(alphabet, { maxLength: 300 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        fc.constantFrom('request' as const, 'response' as const),
        (chars, points, kind) => {
          const parser =
            kind === 'request'
              ? new HttpHeadParser<RequestHead>('request', { maxBytes: 128 })
              : new HttpHeadParser<ResponseHead>('response', { maxBytes: 128 });
          for (const chunk of cut(Buffer.from(chars.join(''), 'latin1'), points)) {
            try {
              if (parser.push(chunk) !== null) return;
            } catch (error) {
              assert.ok(error instanceof HandshakeError, String(error));
              assert.ok([0, 400, 431].includes(error.status));
              return;
            } finally {
              assert.ok(parser.bytesHeld <= 128);
            }
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});
