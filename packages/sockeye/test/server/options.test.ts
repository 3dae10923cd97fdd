/**
 * Server options are checked once, at construction: a value that cannot work is refused
 * with a TypeError or RangeError that names the option, and combinations of modes that
 * cannot work do not type-check.
 */
import assert from 'node:assert/strict';
import { constants as bufferConstants } from 'node:buffer';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import { WebSocketServer, type WebSocketServerOptions } from '../../src/index.js';
import { Opcode } from '../../src/protocol/index.js';
import { clientFrame, listen, rawOpen } from './helpers.js';

type Options = WebSocketServerOptions<undefined>;

/** Construct with `options` (which must be refused) and return the error. */
function refused(options: unknown): Error {
  try {
    const server = new WebSocketServer(options as Options);
    void server.close();
  } catch (error) {
    return error as Error;
  }
  assert.fail(`accepted ${JSON.stringify(options)}`);
}

function assertRefused(options: unknown, kind: typeof TypeError | typeof RangeError, name: RegExp): void {
  const error = refused(options);
  assert.ok(error instanceof kind, `${kind.name} expected, got ${error}`);
  assert.match(error.message, name);
}

describe('server options are refused at construction, naming the option', () => {
  const noServer = { noServer: true as const, handlers: {} };

  it("port: 'abc' is a TypeError (it used to listen on a UNIX socket named abc)", () => {
    assertRefused({ port: 'abc', handlers: {} }, TypeError, /^port must be a number/);
    assertRefused({ port: -1, handlers: {} }, RangeError, /^port must be an integer from 0 to 65535/);
    assertRefused({ port: 65536, handlers: {} }, RangeError, /^port/);
    assertRefused({ port: 80.5, handlers: {} }, RangeError, /^port/);
  });

  it('maxPayload: 0, -5, NaN and non-integers are RangeErrors (0 used to fail every message with 1009)', () => {
    for (const maxPayload of [0, -5, Number.NaN, 1.5]) {
      assertRefused({ ...noServer, maxPayload }, RangeError, /^maxPayload/);
    }
    assertRefused({ ...noServer, maxPayload: '1024' }, TypeError, /^maxPayload must be a number/);
  });

  it('maxPayload past what a Buffer, or with decodeText a string, can hold', () => {
    assertRefused(
      { ...noServer, maxPayload: bufferConstants.MAX_LENGTH + 1, decodeText: false },
      RangeError,
      /^maxPayload must be at most .*MAX_LENGTH/,
    );
    // 600 MiB: text would be decoded into a string longer than V8 allows.
    assertRefused(
      { ...noServer, maxPayload: 600 * 1024 * 1024 },
      RangeError,
      /^maxPayload must be at most .*MAX_STRING_LENGTH/,
    );
    // Without decoding, a Buffer of that size is fine.
    const server = new WebSocketServer({ ...noServer, maxPayload: 600 * 1024 * 1024, decodeText: false });
    void server.close();
    const atLimit = new WebSocketServer({ ...noServer, maxPayload: bufferConstants.MAX_STRING_LENGTH });
    void atLimit.close();
  });

  it('modes: none, several, noServer: false, host or tls outside standalone mode, a server that is not one', () => {
    assertRefused({ handlers: {} }, TypeError, /exactly one of port, server and noServer/);
    assertRefused({ port: 0, noServer: true, handlers: {} }, TypeError, /exactly one/);
    assertRefused({ noServer: false, handlers: {} }, TypeError, /^noServer must be true/);
    assertRefused({ ...noServer, host: '127.0.0.1' }, TypeError, /host option is for standalone mode/);
    assertRefused({ ...noServer, tls: {} }, TypeError, /tls option is for standalone mode/);
    assertRefused({ server: {}, handlers: {} }, TypeError, /^server must be an http.Server/);
  });

  it('handlers: missing, or a handler that is not a function', () => {
    assertRefused({ noServer: true }, TypeError, /^handlers must be an object/);
    assertRefused(
      { ...noServer, handlers: { message: 'echo' } },
      TypeError,
      /^handlers.message must be a function/,
    );
  });

  it('every other option, by type and range', () => {
    const cases: Array<[Record<string, unknown>, typeof TypeError | typeof RangeError, RegExp]> = [
      [{ path: 'chat' }, TypeError, /^path must start with "\/"/],
      [{ path: 5 }, TypeError, /^path must be a string/],
      [{ authenticate: true }, TypeError, /^authenticate must be a function/],
      [{ selectProtocol: 'chat' }, TypeError, /^selectProtocol must be a function/],
      [{ origins: 'https://a.example' }, TypeError, /^origins must be/],
      [{ origins: [5] }, TypeError, /^origins must hold/],
      [{ decodeText: 'no' }, TypeError, /^decodeText must be a boolean/],
      [{ maxFragments: 0 }, RangeError, /^maxFragments/],
      [{ handshakeTimeout: 0 }, RangeError, /^handshakeTimeout/],
      [{ handshakeTimeout: 2 ** 31 }, RangeError, /^handshakeTimeout/],
      [{ maxHandshakeBytes: -1 }, RangeError, /^maxHandshakeBytes/],
      [{ maxHandshakeHeaders: Number.NaN }, RangeError, /^maxHandshakeHeaders/],
      [{ closeTimeout: -1 }, RangeError, /^closeTimeout/],
      [{ pingInterval: -1 }, RangeError, /^pingInterval/],
      [{ pongTimeout: 0 }, RangeError, /^pongTimeout/],
      [{ maxBufferedBytes: 0 }, RangeError, /^maxBufferedBytes/],
      [{ highWaterMark: -1 }, RangeError, /^highWaterMark/],
      [{ closeOnBackpressureLimit: 1 }, TypeError, /^closeOnBackpressureLimit must be a boolean/],
      [{ perMessageDeflate: 'yes' }, TypeError, /^perMessageDeflate must be an object/],
      [{ broker: {} }, TypeError, /^broker must implement Broker/],
      [{ topics: { maxTopicLength: 0 } }, RangeError, /^topics.maxTopicLength/],
      [{ topics: { maxTopicsPerSubscriber: 1.5 } }, RangeError, /^topics.maxTopicsPerSubscriber/],
      [{ headers: { 'X-Evil': 'a\r\nInjected: yes' } }, TypeError, /^headers: invalid value for X-Evil/],
      [{ headers: { 'Bad Name': 'x' } }, TypeError, /^headers: invalid header name/],
      [{ wiretap: {} }, TypeError, /^wiretap must be a function/],
    ];
    for (const [option, kind, name] of cases) assertRefused({ ...noServer, ...option }, kind, name);
  });

  it('pingInterval 0 (heartbeats off) and highWaterMark 0 are valid', () => {
    const server = new WebSocketServer({ ...noServer, pingInterval: 0, highWaterMark: 0 });
    void server.close();
  });
});

describe('modes in the types: invalid combinations do not type-check', () => {
  it('{ handlers } alone, two modes, and standalone-only options elsewhere are compile errors', () => {
    const http = createServer();
    const invalid = [
      // @ts-expect-error: no mode
      (): Options => ({ handlers: {} }),
      // @ts-expect-error: two modes
      (): Options => ({ port: 0, noServer: true, handlers: {} }),
      // @ts-expect-error: two modes
      (): Options => ({ port: 0, server: http, handlers: {} }),
      // @ts-expect-error: tls is for standalone mode
      (): Options => ({ server: http, tls: {}, handlers: {} }),
      // @ts-expect-error: host is for standalone mode
      (): Options => ({ noServer: true, host: 'localhost', handlers: {} }),
      // @ts-expect-error: noServer is true or absent
      (): Options => ({ noServer: false, handlers: {} }),
    ];
    const valid: Options[] = [
      { port: 0, host: '127.0.0.1', handlers: {} },
      { server: http, path: '/ws', handlers: {} },
      { noServer: true, handlers: {} },
    ];
    // The checks above are made by the compiler; at run time the same objects are refused.
    for (const make of invalid) assert.throws(() => new WebSocketServer(make()), TypeError);
    assert.equal(valid.length, 3);
  });
});

describe('server.close() options are checked before anything closes', () => {
  it('a code that may not be sent, a reason over 123 bytes, a bad timeout: RangeError, and the server serves on', async () => {
    const { server, port } = await listen({ handlers: { message: (ws, data) => ws.send(data) } });
    try {
      assert.throws(() => server.close({ code: 1005 }), RangeError);
      assert.throws(() => server.close({ reason: 'x'.repeat(124) }), RangeError);
      assert.throws(() => server.close({ timeout: -1 }), /^RangeError: timeout/);
      // It used to half-close: upgrades refused with 503 while the promise rejected.
      const client = await rawOpen(port);
      client.write(clientFrame(Opcode.Text, 'still serving'));
      await client.waitFor(() => client.frames().length > 0, 'the echo');
      assert.equal(client.frames()[0]!.payload.toString(), 'still serving');
    } finally {
      await server.close();
    }
  });
});
