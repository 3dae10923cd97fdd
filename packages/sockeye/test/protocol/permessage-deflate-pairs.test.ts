/**
 * A client Connection and a server Connection, both with permessage-deflate as negotiated
 * by PerMessageDeflate itself, exchange random messages in memory (fast-check), for every
 * combination of context takeover and window bits, with the bytes between them split at
 * random points. Every message must arrive intact, in order, with its type.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  PerMessageDeflate,
  type PerMessageDeflateOptions,
  parseExtensions,
  RSV1_BIT,
} from '../../src/protocol/index.js';
import { frames, open, pump } from './deflate-helpers.js';

/** Messages worth compressing (repetitive text and bytes) and not (random bytes), of any size up to 70 KiB. */
const message = fc.oneof(
  fc
    .record({ word: fc.string({ minLength: 1, maxLength: 12 }), times: fc.integer({ min: 0, max: 3000 }) })
    .map(({ word, times }) => ({ data: Buffer.from(word.repeat(times)), isText: true })),
  fc.uint8Array({ maxLength: 70_000 }).map((bytes) => ({ data: Buffer.from(bytes), isText: false })),
  fc
    .record({ byte: fc.integer({ min: 0, max: 255 }), length: fc.integer({ min: 0, max: 70_000 }) })
    .map(({ byte, length }) => ({ data: Buffer.alloc(length, byte), isText: false })),
);

const exchange = fc.record({
  toServer: fc.array(message, { maxLength: 6 }),
  toClient: fc.array(message, { maxLength: 6 }),
  split: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5000 })),
});

function pairFor(serverOptions: PerMessageDeflateOptions, clientOptions: PerMessageDeflateOptions) {
  const clientSide = new PerMessageDeflate(clientOptions);
  const agreement = new PerMessageDeflate(serverOptions).negotiate(parseExtensions(clientSide.offer()));
  assert.ok(agreement);
  const clientExtension = clientSide.accept(parseExtensions(agreement.responseHeaderValue));
  assert.ok(clientExtension);
  const maxPayload = 1 << 20;
  const server = open('server', { extensions: [agreement.extension], maxPayload });
  const client = open('client', { extensions: [clientExtension], maxPayload });
  return { server, client, serverExtension: agreement.extension, clientExtension };
}

const combinations: Array<[string, PerMessageDeflateOptions, PerMessageDeflateOptions]> = [];
for (const serverNoContextTakeover of [false, true])
  for (const clientNoContextTakeover of [false, true])
    for (const serverMaxWindowBits of [undefined, 8, 9, 12, 15])
      for (const clientMaxWindowBits of [true, 8, 9, 15] as const) {
        const clientOptions: PerMessageDeflateOptions = {
          serverNoContextTakeover,
          clientNoContextTakeover,
          clientMaxWindowBits,
          ...(serverMaxWindowBits === undefined ? {} : { serverMaxWindowBits }),
          threshold: 64,
        };
        combinations.push([
          new PerMessageDeflate(clientOptions).offer(),
          { threshold: 64, level: 6 },
          clientOptions,
        ]);
      }
// Server-side choices too: imposed no context takeover, lowered windows, memLevel.
combinations.push(
  [
    'server imposes both no context takeovers',
    { serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: 0 },
    {},
  ],
  [
    'server lowers both windows',
    { serverMaxWindowBits: 9, clientMaxWindowBits: 10, memLevel: 1, threshold: 0 },
    {},
  ],
);

describe('client and server connections with permessage-deflate exchange random messages', () => {
  for (const [label, serverOptions, clientOptions] of combinations) {
    it(label, { timeout: 120_000 }, () => {
      fc.assert(
        fc.property(exchange, ({ toServer, toClient, split }) => {
          const { server, client } = pairFor(serverOptions, clientOptions);
          for (const m of toServer) client.connection.send(m.data, m.isText);
          for (const m of toClient) server.connection.send(m.data, m.isText);
          pump(client.connection, server.connection, split);
          pump(server.connection, client.connection, split);
          assert.deepEqual(server.seen.closes, []);
          assert.deepEqual(client.seen.closes, []);
          assert.deepEqual(server.seen.messages, toServer);
          assert.deepEqual(client.seen.messages, toClient);
        }),
        { numRuns: 12 },
      );
    });
  }

  for (const [label, serverOptions, clientOptions] of [
    ['hibernation, context takeover both ways', {}, {}],
    ['hibernation, 9-bit windows', { serverMaxWindowBits: 9, clientMaxWindowBits: 9 }, {}],
    [
      'hibernation, 12-bit server window, no client context takeover',
      { serverMaxWindowBits: 12 },
      { clientNoContextTakeover: true },
    ],
  ] as Array<[string, PerMessageDeflateOptions, PerMessageDeflateOptions]>) {
    it(`${label}: streams freed between messages and rebuilt from the kept windows`, {
      timeout: 120_000,
    }, () => {
      fc.assert(
        fc.property(
          fc.array(
            fc.record({ m: message, up: fc.boolean(), sleepServer: fc.boolean(), sleepClient: fc.boolean() }),
            {
              maxLength: 10,
            },
          ),
          (steps) => {
            const pair = pairFor(
              { ...serverOptions, threshold: 0, hibernation: true },
              { ...clientOptions, threshold: 0, hibernation: true },
            );
            const { server, client } = pair;
            for (const { m, up, sleepServer, sleepClient } of steps) {
              const [from, to] = up ? [client, server] : [server, client];
              from.connection.send(m.data, m.isText);
              pump(from.connection, to.connection, 1000);
              if (sleepServer) pair.serverExtension.hibernate();
              if (sleepClient) pair.clientExtension.hibernate();
              if (sleepServer && sleepClient) {
                assert.equal(pair.serverExtension.holdsStreams, false);
                assert.equal(pair.clientExtension.holdsStreams, false);
              }
            }
            assert.deepEqual(server.seen.closes, []);
            assert.deepEqual(client.seen.closes, []);
            assert.deepEqual(
              server.seen.messages,
              steps.filter((s) => s.up).map((s) => s.m),
            );
            assert.deepEqual(
              client.seen.messages,
              steps.filter((s) => !s.up).map((s) => s.m),
            );
          },
        ),
        { numRuns: 25 },
      );
    });
  }

  it('hibernation keeps the context: a repeated message still compresses to a few bytes', () => {
    const { server, client, serverExtension, clientExtension } = pairFor(
      { hibernation: true },
      { hibernation: true },
    );
    const text = JSON.stringify(
      Array.from({ length: 200 }, (_, i) => ({ id: i, label: `item-${i * 7919}` })),
    );
    const sizes: number[] = [];
    for (const sleep of [false, true]) {
      server.connection.send(text, true);
      const wire = server.connection.takeOutput().map((c) => Buffer.from(c));
      sizes.push(frames(Buffer.concat(wire))[0]!.payload.length);
      for (const chunk of wire) client.connection.receive(chunk);
      if (sleep) continue;
      assert.equal(serverExtension.hibernate(), true);
      assert.equal(serverExtension.holdsStreams, false);
      assert.equal(serverExtension.hibernate(), false);
      // The client's decompressor too: the second message refers to the first one.
      assert.equal(clientExtension.hibernate(), true);
      assert.equal(clientExtension.holdsStreams, false);
    }
    assert.ok(sizes[1]! * 5 < sizes[0]!, `first ${sizes[0]} bytes, after hibernation ${sizes[1]}`);
    assert.deepEqual(
      client.seen.messages.map((m) => m.data.toString()),
      [text, text],
    );
  });

  it('without hibernation, hibernate() keeps context-takeover streams', () => {
    const { server, serverExtension } = pairFor({}, {});
    server.connection.send('x'.repeat(5000), true);
    assert.equal(serverExtension.hibernate(), false);
    assert.equal(serverExtension.holdsStreams, true);
  });

  it('compression actually happens in both directions (RSV1 on the wire, fewer bytes)', () => {
    const { server, client } = pairFor({}, {});
    const text = JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ id: i, label: `item-${i}` })));
    client.connection.send(text, true);
    server.connection.send(text, true);
    const up = client.connection.takeOutput().map((c) => Buffer.from(c));
    const down = server.connection.takeOutput().map((c) => Buffer.from(c));
    for (const wire of [up, down]) {
      const [f] = frames(Buffer.concat(wire));
      assert.equal(f!.b0 & RSV1_BIT, RSV1_BIT);
      assert.ok(f!.payload.length * 3 < Buffer.byteLength(text));
    }
    for (const chunk of up) server.connection.receive(chunk);
    for (const chunk of down) client.connection.receive(chunk);
    assert.equal(server.seen.messages[0]!.data.toString(), text);
    assert.equal(client.seen.messages[0]!.data.toString(), text);
  });

  it('interleaved traffic, pings and a close keep working with context takeover', () => {
    const { server, client, serverExtension, clientExtension } = pairFor({}, {});
    const texts = Array.from({ length: 30 }, (_, i) => `message ${i} `.repeat(100 + i));
    for (const [i, text] of texts.entries()) {
      client.connection.send(text, true);
      if (i % 7 === 0) client.connection.ping(`p${i}`);
      pump(client.connection, server.connection, 333);
      server.connection.send(text.toUpperCase(), true);
      pump(server.connection, client.connection, 333);
    }
    client.connection.close(1000, 'bye');
    pump(client.connection, server.connection);
    pump(server.connection, client.connection);
    assert.deepEqual(
      server.seen.messages.map((m) => m.data.toString()),
      texts,
    );
    assert.deepEqual(
      client.seen.messages.map((m) => m.data.toString()),
      texts.map((t) => t.toUpperCase()),
    );
    assert.equal(server.seen.closes[0]!.code, 1000);
    assert.equal(client.seen.closes[0]!.code, 1000);
    // Closed connections give their zlib streams back.
    assert.equal(serverExtension.holdsStreams, false);
    assert.equal(clientExtension.holdsStreams, false);
  });
});
