/**
 * The clients' defaults let through what a browser accepts (a message of several MiB),
 * and their Node options are checked once, at construction, naming the option.
 */
import assert from 'node:assert/strict';
import { constants as bufferConstants } from 'node:buffer';
import { describe, it } from 'node:test';
import { DEFAULT_CLIENT_MAX_PAYLOAD } from '../../src/client/index.js';
import {
  type ClientOptions,
  WebSocket,
  WebSocketStream,
  type WebSocketStreamOptions,
} from '../../src/index.js';
import { record, serverFrame, withRawServer } from './helpers.js';

const MiB = 1024 * 1024;

describe('the default maxPayload lets a browser-sized message through', () => {
  it('is 64 MiB', () => {
    assert.equal(DEFAULT_CLIENT_MAX_PAYLOAD, 64 * MiB);
  });

  it('a 4 MiB message arrives at a WebSocket with default options (it used to fail with 1009)', {
    timeout: 30_000,
  }, async () => {
    await withRawServer(
      (socket, _request, accept) => {
        socket.write(accept());
        socket.write(serverFrame(0x2, Buffer.alloc(4 * MiB, 7)));
        socket.write(serverFrame(0x8, Buffer.from([0x03, 0xe8])));
        socket.on('data', () => socket.end());
      },
      async (raw) => {
        const ws = new WebSocket(raw.url);
        ws.binaryType = 'arraybuffer';
        assert.deepEqual(await record(ws), [
          ['open', 1, ''],
          ['message', `arraybuffer:${4 * MiB}`],
          ['close', 3, 1000, '', true],
        ]);
      },
    );
  });

  it('a 4 MiB message arrives at a WebSocketStream with default options', { timeout: 30_000 }, async () => {
    await withRawServer(
      (socket, _request, accept) => {
        socket.write(accept());
        socket.write(serverFrame(0x2, Buffer.alloc(4 * MiB, 7)));
      },
      async (raw) => {
        const stream = new WebSocketStream(raw.url);
        const { readable } = await stream.opened;
        const { value } = await readable.getReader().read();
        assert.equal((value as Uint8Array).byteLength, 4 * MiB);
        stream.close();
      },
    );
  });
});

describe('client options are refused at construction, naming the option', () => {
  const url = 'ws://127.0.0.1:1/';
  const cases: Array<[Record<string, unknown>, typeof TypeError | typeof RangeError, RegExp]> = [
    [{ maxPayload: 0 }, RangeError, /^maxPayload/],
    [{ maxPayload: -5 }, RangeError, /^maxPayload/],
    [{ maxPayload: Number.NaN }, RangeError, /^maxPayload/],
    [{ maxPayload: '1' }, TypeError, /^maxPayload must be a number/],
    // Every text message is decoded to a string: a longer limit cannot work.
    [{ maxPayload: bufferConstants.MAX_STRING_LENGTH + 1 }, RangeError, /^maxPayload .*MAX_STRING_LENGTH/],
    [{ maxFragments: 0 }, RangeError, /^maxFragments/],
    [{ handshakeTimeout: -1 }, RangeError, /^handshakeTimeout/],
    [{ closeTimeout: Number.POSITIVE_INFINITY }, RangeError, /^closeTimeout/],
    [{ maxHandshakeBytes: 0 }, RangeError, /^maxHandshakeBytes/],
    [{ followRedirects: -1 }, RangeError, /^followRedirects/],
    [{ followRedirects: 'yes' }, TypeError, /^followRedirects must be a boolean/],
    [{ proxy: true }, TypeError, /^proxy must be a string/],
    [{ perMessageDeflate: 'on' }, TypeError, /^perMessageDeflate must be an object/],
    [{ signal: {} }, TypeError, /^signal must be an AbortSignal/],
    [{ headers: { 'X-Evil': 'a\r\nb: c' } }, TypeError, /^headers: invalid value for X-Evil/],
    // Headers the handshake writes itself would go twice (a server refuses two keys).
    [
      { headers: { 'sec-websocket-key': 'x' } },
      TypeError,
      /^headers: sec-websocket-key is set by the handshake/,
    ],
    [{ headers: { Upgrade: 'h2c' } }, TypeError, /^headers: Upgrade is set by the handshake/],
    [{ headers: { Connection: 'close' } }, TypeError, /^headers: Connection is set by the handshake/],
    [{ headers: { 'Sec-WebSocket-Version': '8' } }, TypeError, /^headers: Sec-WebSocket-Version is set/],
    [
      { headers: { 'Sec-WebSocket-Protocol': 'chat' } },
      TypeError,
      /^headers: .* \(give subprotocols as `protocols`\)/,
    ],
    [{ headers: { 'Sec-WebSocket-Extensions': 'x' } }, TypeError, /^headers: .*`perMessageDeflate` option/],
    [{ headers: { Origin: 'https://a' }, origin: 'https://b' }, TypeError, /^headers: Origin is given twice/],
    [{ origin: 'https://a\r\nb' }, TypeError, /^origin/],
    [{ rejectUnauthorized: 'no' }, TypeError, /^rejectUnauthorized must be a boolean/],
    [{ servername: 5 }, TypeError, /^servername must be a string/],
  ];

  it('WebSocket', () => {
    for (const [options, kind, name] of cases) {
      assert.throws(
        () => new WebSocket(url, [], options as ClientOptions),
        (error: unknown) => error instanceof kind && name.test(error.message),
        JSON.stringify(options),
      );
    }
  });

  it('WebSocketStream, and its readableHighWaterMark', () => {
    const streamCases = [
      ...cases,
      [{ readableHighWaterMark: 0 }, RangeError, /^readableHighWaterMark/] as const,
    ];
    for (const [options, kind, name] of streamCases) {
      assert.throws(
        () => new WebSocketStream(url, options as WebSocketStreamOptions),
        (error: unknown) => error instanceof kind && name.test(error.message),
        JSON.stringify(options),
      );
    }
  });

  it('the largest limit that works is accepted', () => {
    const ws = new WebSocket(url, [], { maxPayload: bufferConstants.MAX_STRING_LENGTH });
    ws.close();
  });
});
