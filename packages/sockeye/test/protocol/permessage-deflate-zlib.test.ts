/**
 * How permessage-deflate drives node:zlib: the native driver (Node's internal handle) when
 * it passes its self-test, the public one-shot functions when the internal is missing or
 * behaves differently, and no compression at all (offers declined, never a crash) when
 * neither works. Each path is forced by patching node:zlib the way a changed Node would
 * look, then probing again.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { afterEach, describe, it } from 'node:test';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { clientDeflate } from '../../src/client/connect.js';
import { WebSocket } from '../../src/client/websocket.js';
import {
  DeflateUnavailableError,
  PerMessageDeflate,
  type PerMessageDeflateOptions,
  parseExtensions,
  RSV1_BIT,
} from '../../src/protocol/index.js';
import {
  nativeDriver,
  publicDriver,
  resetZlibDriver,
  selfTest,
  type ZlibApi,
  zlibDriver,
} from '../../src/protocol/permessage-deflate-zlib.js';
import { WebSocketServer } from '../../src/server/index.js';
import { frames, open, pump } from './deflate-helpers.js';

/** node:zlib as the drivers see it (its own exports are read-only, so tests change a copy). */
const real: ZlibApi = {
  createDeflateRaw: zlib.createDeflateRaw,
  createInflateRaw: zlib.createInflateRaw,
  deflateRawSync: zlib.deflateRawSync,
  inflateRawSync: zlib.inflateRawSync,
};

/** Make the next PerMessageDeflate probe a node:zlib with some functions replaced. */
function patch(replacements: { [K in keyof ZlibApi]?: (...args: never[]) => unknown }): ZlibApi {
  const api = { ...real, ...replacements } as unknown as ZlibApi;
  resetZlibDriver(api);
  return api;
}

afterEach(() => resetZlibDriver());

/** A zlib stream factory whose streams lack the internal handle (as a Node that renamed it). */
function withoutHandle(create: (options?: zlib.ZlibOptions) => zlib.DeflateRaw | zlib.InflateRaw) {
  return (options?: zlib.ZlibOptions) => {
    const stream = create(options) as unknown as { _handle: unknown; close(): void };
    stream.close();
    stream._handle = undefined;
    return stream;
  };
}

/** A zlib stream factory whose handle's writeSync corrupts what it produces (an internal that changed meaning). */
function corruptingHandle(create: (options?: zlib.ZlibOptions) => zlib.DeflateRaw | zlib.InflateRaw) {
  return (options?: zlib.ZlibOptions) => {
    const stream = create(options) as unknown as {
      _handle: { writeSync(...args: unknown[]): void };
    };
    const handle = stream._handle;
    const writeSync = handle.writeSync.bind(handle);
    handle.writeSync = (flush, input, inOffset, inLength, output, outOffset, outLength) => {
      writeSync(flush, input, inOffset, inLength, output, outOffset, outLength);
      (output as Uint8Array)[outOffset as number] ^= 0x55;
    };
    return stream;
  };
}

/** A client and a server connection, negotiated by PerMessageDeflate itself. */
function pairFor(serverOptions: PerMessageDeflateOptions, clientOptions: PerMessageDeflateOptions) {
  const clientSide = new PerMessageDeflate(clientOptions);
  const agreement = new PerMessageDeflate(serverOptions).negotiate(parseExtensions(clientSide.offer()));
  assert.ok(agreement);
  const clientExtension = clientSide.accept(parseExtensions(agreement.responseHeaderValue));
  assert.ok(clientExtension);
  const server = open('server', { extensions: [agreement.extension], maxPayload: 1 << 20 });
  const client = open('client', { extensions: [clientExtension], maxPayload: 1 << 20 });
  return { server, client };
}

const message = fc.oneof(
  fc
    .record({ word: fc.string({ minLength: 1, maxLength: 12 }), times: fc.integer({ min: 0, max: 3000 }) })
    .map(({ word, times }) => ({ data: Buffer.from(word.repeat(times)), isText: true })),
  fc.uint8Array({ maxLength: 40_000 }).map((bytes) => ({ data: Buffer.from(bytes), isText: false })),
);

/** Random messages both ways with the wire split at random points: all arrive intact. */
function exchangesIntact(serverOptions: PerMessageDeflateOptions, clientOptions: PerMessageDeflateOptions) {
  fc.assert(
    fc.property(
      fc.array(message, { maxLength: 5 }),
      fc.array(message, { maxLength: 5 }),
      fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3000 })),
      (toServer, toClient, split) => {
        const { server, client } = pairFor(serverOptions, clientOptions);
        for (const m of toServer) client.connection.send(m.data, m.isText);
        for (const m of toClient) server.connection.send(m.data, m.isText);
        pump(client.connection, server.connection, split);
        pump(server.connection, client.connection, split);
        assert.deepEqual(server.seen.closes, []);
        assert.deepEqual(client.seen.closes, []);
        assert.deepEqual(server.seen.messages, toServer);
        assert.deepEqual(client.seen.messages, toClient);
      },
    ),
    { numRuns: 10 },
  );
}

/** A sockeye server echoing through a sockeye client: the extensions agreed and the echo. */
async function echoThroughNetwork(): Promise<{ extensions: string; echoed: string }> {
  const server = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    perMessageDeflate: { threshold: 0 },
    handlers: { message: (ws, data) => ws.send(data) },
  });
  const address = await server.listen();
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${address!.port}`);
    await once(ws, 'open');
    const text = 'hello '.repeat(500);
    ws.send(text);
    const [event] = (await once(ws, 'message')) as [MessageEvent];
    ws.close();
    await once(ws, 'close');
    return { extensions: ws.extensions, echoed: String(event.data) === text ? 'same' : 'different' };
  } finally {
    await server.close();
  }
}

describe('the zlib drivers', () => {
  it('both pass their self-test on this Node, and the native one is chosen', () => {
    assert.equal(selfTest(nativeDriver()), true);
    assert.equal(selfTest(publicDriver()), true);
    assert.equal(zlibDriver()?.name, 'native');
    assert.equal(new PerMessageDeflate().driver, 'native');
  });

  it('the probe runs once per process, not per PerMessageDeflate', () => {
    let created = 0;
    patch({
      createDeflateRaw: (options?: zlib.ZlibOptions) => {
        created++;
        return zlib.createDeflateRaw(options);
      },
    });
    new PerMessageDeflate();
    const afterFirst = created;
    for (let i = 0; i < 10; i++) new PerMessageDeflate();
    assert.ok(afterFirst > 0);
    assert.equal(created, afterFirst);
  });

  it('the public driver keeps context takeover through the dictionary (a repeat compresses to a few bytes)', () => {
    patch({ createDeflateRaw: withoutHandle(zlib.createDeflateRaw) });
    const { server, client } = pairFor({ threshold: 0 }, {});
    const text = 'context takeover through a preset dictionary '.repeat(40);
    client.connection.send(text, true);
    const first = pump(client.connection, server.connection);
    client.connection.send(text, true);
    const second = pump(client.connection, server.connection);
    assert.ok(second < first / 2, `first ${first} bytes, second ${second}`);
    assert.deepEqual(
      server.seen.messages.map((m) => m.data.toString()),
      [text, text],
    );
  });
});

describe('node:zlib internal missing: the public API is used', () => {
  it('PerMessageDeflate reports the public driver', () => {
    const api = patch({
      createDeflateRaw: withoutHandle(zlib.createDeflateRaw),
      createInflateRaw: withoutHandle(zlib.createInflateRaw),
    });
    assert.equal(selfTest(nativeDriver(api)), false);
    assert.equal(new PerMessageDeflate().driver, 'public');
  });

  for (const [label, serverOptions, clientOptions] of [
    ['context takeover both ways', { threshold: 0 }, {}],
    [
      'no context takeover',
      { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true },
      {},
    ],
    ['9-bit windows', { threshold: 0, serverMaxWindowBits: 9, clientMaxWindowBits: 9 }, {}],
    ['hibernation', { threshold: 0, hibernation: true }, { hibernation: true }],
  ] as Array<[string, PerMessageDeflateOptions, PerMessageDeflateOptions]>) {
    it(`random messages round-trip, compressed (${label})`, () => {
      patch({
        createDeflateRaw: withoutHandle(zlib.createDeflateRaw),
        createInflateRaw: withoutHandle(zlib.createInflateRaw),
      });
      exchangesIntact(serverOptions, clientOptions);
      // And compression really happens: RSV1 on the wire, fewer bytes.
      const { server, client } = pairFor(serverOptions, clientOptions);
      client.connection.send('x'.repeat(10_000), true);
      const wire = Buffer.concat(client.connection.takeOutput());
      assert.ok(wire.length < 1000, `${wire.length} bytes`);
      assert.ok((frames(wire)[0]!.b0 & RSV1_BIT) !== 0);
      server.connection.receive(wire);
      assert.equal(server.seen.messages[0]!.data.toString(), 'x'.repeat(10_000));
    });
  }

  it('a decompression bomb is refused with 1009 within maxPayload', () => {
    patch({ createInflateRaw: withoutHandle(zlib.createInflateRaw) });
    const { server, client } = pairFor({ threshold: 0 }, {});
    client.connection.send(Buffer.alloc(2 << 20), false);
    pump(client.connection, server.connection, 4096);
    assert.equal(server.seen.messages.length, 0);
    assert.equal(server.seen.closes[0]?.code, 1009);
    assert.equal(server.seen.closes[0]?.error?.rule, 'message-too-big');
  });

  it('corrupt compressed data fails the connection with 1007', () => {
    patch({ createInflateRaw: withoutHandle(zlib.createInflateRaw) });
    const { server } = pairFor({ threshold: 0 }, {});
    const payload = Buffer.from([0xff, 0xff, 0xff, 0xff]);
    const key = Buffer.from([0, 0, 0, 0]);
    server.connection.receive(Buffer.concat([Buffer.from([0xc2, 0x80 | payload.length]), key, payload]));
    assert.equal(server.seen.closes[0]?.code, 1007);
    assert.equal(server.seen.closes[0]?.error?.rule, 'invalid-compressed-data');
  });

  it('a server and a client compress over the network', async () => {
    patch({
      createDeflateRaw: withoutHandle(zlib.createDeflateRaw),
      createInflateRaw: withoutHandle(zlib.createInflateRaw),
    });
    const { extensions, echoed } = await echoThroughNetwork();
    assert.match(extensions, /^permessage-deflate/);
    assert.equal(echoed, 'same');
  });
});

describe('node:zlib internal misbehaving: the self-test catches it and the public API is used', () => {
  it('a handle that corrupts its output fails the self-test', () => {
    const api = patch({ createInflateRaw: corruptingHandle(zlib.createInflateRaw) });
    assert.equal(selfTest(nativeDriver(api)), false);
    assert.equal(new PerMessageDeflate().driver, 'public');
    exchangesIntact({ threshold: 0 }, {});
  });

  it('a handle that reports a different write state fails the self-test', () => {
    const api = patch({
      createDeflateRaw: (options?: zlib.ZlibOptions) => {
        const stream = zlib.createDeflateRaw(options) as unknown as {
          _writeState: Uint32Array;
        };
        // The same type with the two counters swapped: what a reordering in Node would look like.
        const state = stream._writeState;
        stream._writeState = new Uint32Array(2);
        const real = (stream as unknown as { _handle: { writeSync(...args: unknown[]): void } })._handle;
        const writeSync = real.writeSync.bind(real);
        real.writeSync = (...args: unknown[]) => {
          writeSync(...args);
          stream._writeState[0] = state[1]!;
          stream._writeState[1] = state[0]!;
        };
        return stream;
      },
    });
    assert.equal(selfTest(nativeDriver(api)), false);
    assert.equal(new PerMessageDeflate().driver, 'public');
  });
});

describe('neither works: permessage-deflate is declined, never a crash', () => {
  const broken = () =>
    patch({
      createDeflateRaw: () => {
        throw new Error('no zlib streams here');
      },
      createInflateRaw: withoutHandle(zlib.createInflateRaw),
      deflateRawSync: () => Buffer.from('not deflate'),
    });

  it('the driver is null; offers are declined and a client offers nothing', () => {
    const api = broken();
    assert.equal(selfTest(nativeDriver(api)), false);
    assert.equal(selfTest(publicDriver(api)), false);
    const deflate = new PerMessageDeflate();
    assert.equal(deflate.driver, null);
    assert.equal(deflate.negotiate(parseExtensions('permessage-deflate; client_max_window_bits')), null);
    assert.equal(deflate.offer(), '');
    assert.equal(clientDeflate(true), null);
    assert.throws(
      () =>
        deflate.extension('server', {
          serverNoContextTakeover: false,
          clientNoContextTakeover: false,
          serverMaxWindowBits: 15,
          clientMaxWindowBits: 15,
        }),
      (error: unknown) =>
        error instanceof DeflateUnavailableError && error.code === 'ERR_DEFLATE_UNAVAILABLE',
    );
    const prepared = deflate.prepareMessage('x'.repeat(5000), true);
    assert.equal(prepared.encoded, null);
  });

  it('a server and a client with compression on connect uncompressed', async () => {
    broken();
    const { extensions, echoed } = await echoThroughNetwork();
    assert.equal(extensions, '');
    assert.equal(echoed, 'same');
  });
});
