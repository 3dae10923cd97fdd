import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REUSABLE_PAYLOAD_MAX } from '../../src/protocol/extension.js';
import {
  CloseCode,
  type Extension,
  type ExtensionOffer,
  encodeFrameHeader,
  HandshakeError,
  Opcode,
  PerMessageDeflate,
  type PerMessageDeflateExtension,
  parseExtensions,
  RSV1_BIT,
} from '../../src/protocol/index.js';
import { deflateMessage } from '../../src/protocol/permessage-deflate-codec.js';
import { ZlibDriverError, type ZlibStream } from '../../src/protocol/permessage-deflate-zlib.js';
import { hex, vectors } from '../vectors/vectors.js';
import { frames, open, pump } from './deflate-helpers.js';
import { noiseBytes } from './helpers.js';

/** A client connection with permessage-deflate at default parameters (context takeover both ways). */
function client(params: Partial<Parameters<PerMessageDeflate['extension']>[1]> = {}, maxPayload?: number) {
  const extension = new PerMessageDeflate().extension('client', {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
    ...params,
  });
  return { ...open('client', { extensions: [extension], ...(maxPayload ? { maxPayload } : {}) }), extension };
}

/** A server frame (unmasked) with the given first byte and payload. */
function frame(b0: number, payload: Buffer): Buffer {
  return Buffer.concat([
    encodeFrameHeader({ fin: (b0 & 0x80) !== 0, rsv: b0 & 0x70, opcode: b0 & 0x0f, length: payload.length }),
    payload,
  ]);
}

describe('RFC 7692 section 7.2.3: the permessage_deflate vectors decode', () => {
  for (const vector of vectors.permessage_deflate) {
    it(vector.name, () => {
      const { connection, seen } = client();
      const wire = vector.frame_hex ? [vector.frame_hex] : (vector.frames_hex ?? vector.frames_hex_in_order!);
      for (const part of wire) connection.receive(hex(part));
      const expected = vector.messages_utf8 ?? [vector.message_utf8!];
      assert.deepEqual(
        seen.messages.map((m) => ({ text: m.data.toString('utf8'), isText: m.isText })),
        expected.map((text) => ({ text, isText: true })),
      );
      assert.equal(seen.closes.length, 0);
    });
  }

  it('the same vectors decode when fed one byte at a time', () => {
    for (const vector of vectors.permessage_deflate) {
      const { connection, seen } = client();
      const wire = vector.frame_hex ? [vector.frame_hex] : (vector.frames_hex ?? vector.frames_hex_in_order!);
      for (const part of wire) for (const byte of hex(part)) connection.receive(Buffer.from([byte]));
      assert.equal(seen.messages.length, (vector.messages_utf8 ?? [0]).length, vector.name);
      for (const m of seen.messages) assert.equal(m.data.toString(), 'Hello');
    }
  });

  it('after a message ended with BFINAL (7.2.3.4), the next message starts a new stream', () => {
    for (const serverNoContextTakeover of [false, true]) {
      const { connection, seen } = client({ serverNoContextTakeover });
      connection.receive(hex('c108f348cdc9c9070000'));
      connection.receive(hex('c107f248cdc9c90700'));
      connection.receive(hex('c108f348cdc9c9070000'));
      assert.deepEqual(
        seen.messages.map((m) => m.data.toString()),
        ['Hello', 'Hello', 'Hello'],
      );
      assert.equal(seen.closes.length, 0);
    }
  });

  it('the context-takeover pair fails without context takeover (the second refers to the first)', () => {
    const pair = vectors.permessage_deflate.find((v) => v.frames_hex_in_order)!;
    const { connection, seen } = client({ serverNoContextTakeover: true });
    for (const part of pair.frames_hex_in_order!) connection.receive(hex(part));
    assert.equal(seen.messages.length, 1);
    assert.equal(seen.closes[0]?.code, CloseCode.InvalidPayload);
    assert.equal(seen.closes[0]?.error?.rule, 'invalid-compressed-data');
  });
});

describe('RFC 7692 section 6: RSV1', () => {
  it('RSV1 on a continuation frame fails with 1002', () => {
    const { connection, seen } = client();
    connection.receive(hex('4103f248cd'));
    connection.receive(hex('c004c9c90700'));
    assert.equal(seen.closes[0]?.code, CloseCode.ProtocolError);
    assert.equal(seen.messages.length, 0);
  });

  for (const [name, opcode] of [
    ['ping', Opcode.Ping],
    ['pong', Opcode.Pong],
    ['close', Opcode.Close],
  ] as const) {
    it(`RSV1 on a ${name} frame fails with 1002`, () => {
      const { connection, seen } = client();
      connection.receive(frame(0x80 | RSV1_BIT | opcode, Buffer.alloc(0)));
      assert.equal(seen.closes[0]?.code, CloseCode.ProtocolError);
      assert.equal(seen.closes[0]?.error?.rule, 'reserved-bits');
    });
  }

  it('RSV1 without permessage-deflate still fails with 1002', () => {
    const { connection, seen } = open('client');
    connection.receive(hex(vectors.permessage_deflate[0]!.frame_hex!));
    assert.equal(seen.closes[0]?.code, CloseCode.ProtocolError);
  });

  it('a connection takes at most one extension, owning one RSV bit', () => {
    const deflate = new PerMessageDeflate();
    const params = {
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
    };
    const one = deflate.extension('client', params);
    assert.throws(
      () => open('client', { extensions: [one, deflate.extension('client', params)] }),
      RangeError,
    );
    const odd = Object.assign(Object.create(one) as PerMessageDeflateExtension, { rsvBit: 0x80 });
    assert.throws(() => open('client', { extensions: [odd] }), RangeError);
    assert.doesNotThrow(() => open('client', { extensions: [] }));
  });

  it('RSV2 and RSV3 stay forbidden with permessage-deflate', () => {
    for (const bit of [0x20, 0x10]) {
      const { connection, seen } = client();
      connection.receive(frame(0x80 | bit | Opcode.Text, Buffer.from('hi')));
      assert.equal(seen.closes[0]?.code, CloseCode.ProtocolError);
    }
  });

  it('a message without RSV1 is delivered as is', () => {
    const { connection, seen } = client();
    connection.receive(frame(0x80 | Opcode.Binary, Buffer.from([1, 2, 3])));
    assert.deepEqual([...seen.messages[0]!.data], [1, 2, 3]);
  });

  it('corrupt compressed data fails with 1007', () => {
    const { connection, seen } = client();
    connection.receive(frame(0x80 | RSV1_BIT | Opcode.Binary, Buffer.from([0xff, 0xff, 0xff, 0xff])));
    assert.equal(seen.closes[0]?.code, CloseCode.InvalidPayload);
  });

  it('compressed invalid UTF-8 in a text message fails with 1007', () => {
    const { connection: sender } = client();
    const { connection, seen } = client();
    // A binary message compressed by one end, relabelled as text: the bytes are not UTF-8.
    sender.send(Buffer.alloc(2000, 0xff), false);
    const [sent] = frames(Buffer.concat(sender.takeOutput()));
    connection.receive(frame(0x80 | RSV1_BIT | Opcode.Text, sent!.payload));
    assert.equal(seen.closes[0]?.code, CloseCode.InvalidPayload);
    assert.equal(seen.closes[0]?.error?.rule, 'invalid-utf8');
  });
});

describe('RFC 7692 section 7.2.1: compressing', () => {
  it('messages of at least the threshold go compressed with RSV1, smaller ones plain', () => {
    const extension = new PerMessageDeflate({ threshold: 100 }).extension('server', {
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
    });
    const { connection } = open('server', { extensions: [extension] });
    connection.send('a'.repeat(99), true);
    connection.send('a'.repeat(100), true);
    connection.ping('x');
    const [small, big, ping] = frames(Buffer.concat(connection.takeOutput()));
    assert.equal(small!.b0, 0x80 | Opcode.Text);
    assert.equal(small!.payload.toString(), 'a'.repeat(99));
    assert.equal(big!.b0, 0x80 | RSV1_BIT | Opcode.Text);
    assert.ok(big!.payload.length < 20);
    assert.notDeepEqual([...big!.payload.subarray(-4)], [0, 0, 0xff, 0xff]);
    assert.equal(ping!.b0, 0x80 | Opcode.Ping);
  });

  it('the default threshold is 1 KiB', () => {
    const { connection } = client();
    connection.send(Buffer.alloc(1023), false);
    connection.send(Buffer.alloc(1024), false);
    const [a, b] = frames(Buffer.concat(connection.takeOutput()));
    assert.equal(a!.b0 & RSV1_BIT, 0);
    assert.equal(b!.b0 & RSV1_BIT, RSV1_BIT);
  });

  it('fragmented sends go uncompressed', () => {
    const { connection } = client();
    const writer = connection.startMessage(false);
    writer.write(Buffer.alloc(4096));
    writer.end(Buffer.alloc(4096));
    for (const f of frames(Buffer.concat(connection.takeOutput()))) assert.equal(f.b0 & RSV1_BIT, 0);
  });

  it('with context takeover a repeated message compresses to a few bytes; without, it does not', () => {
    const text = JSON.stringify(Array.from({ length: 100 }, (_, i) => ({ id: i, name: `n${i * 7919}` })));
    const sizes = (serverNoContextTakeover: boolean) => {
      const extension = new PerMessageDeflate().extension('server', {
        serverNoContextTakeover,
        clientNoContextTakeover: false,
        serverMaxWindowBits: 15,
        clientMaxWindowBits: 15,
      });
      const { connection } = open('server', { extensions: [extension] });
      connection.send(text, true);
      connection.send(text, true);
      return frames(Buffer.concat(connection.takeOutput())).map((f) => f.payload.length);
    };
    const [first, second] = sizes(false);
    assert.ok(second! * 4 < first!, `first ${first} bytes, second ${second}`);
    const [firstReset, secondReset] = sizes(true);
    assert.equal(firstReset, secondReset);
  });

  it('empty messages, repeated, with context takeover (zlib skips a repeated empty flush)', () => {
    const params = {
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
    };
    const deflate = new PerMessageDeflate({ threshold: 0 });
    const server = open('server', { extensions: [deflate.extension('server', params)] });
    const client = open('client', { extensions: [deflate.extension('client', params)] });
    const sent = ['', '', 'abc'.repeat(10), '', ''];
    for (const text of sent) server.connection.send(text, true);
    const wire = server.connection.takeOutput().map((c) => Buffer.from(c));
    for (const f of frames(Buffer.concat(wire))) assert.equal(f.b0 & RSV1_BIT, RSV1_BIT);
    for (const chunk of wire) client.connection.receive(chunk);
    assert.deepEqual(
      client.seen.messages.map((m) => m.data.toString()),
      sent,
    );
  });

  it('an 8-bit window for our compressor means sending uncompressed', () => {
    const { connection, extension } = client({ clientMaxWindowBits: 8 });
    assert.equal(extension.compressWindowBits, 0);
    connection.send(Buffer.alloc(5000), false);
    const [f] = frames(Buffer.concat(connection.takeOutput()));
    assert.equal(f!.b0 & RSV1_BIT, 0);
    assert.equal(f!.payload.length, 5000);
  });
});

describe('RFC 7692 section 7.2.2: decompressing with and without context takeover', () => {
  for (const serverNoContextTakeover of [false, true]) {
    it(`a server's repeated messages round-trip (server_no_context_takeover=${serverNoContextTakeover})`, () => {
      const params = {
        serverNoContextTakeover,
        clientNoContextTakeover: false,
        serverMaxWindowBits: 15,
        clientMaxWindowBits: 15,
      };
      const deflate = new PerMessageDeflate({ threshold: 0 });
      const server = open('server', { extensions: [deflate.extension('server', params)] });
      const client = open('client', { extensions: [deflate.extension('client', params)] });
      const text = 'Hello, permessage-deflate! '.repeat(50);
      for (let i = 0; i < 5; i++) server.connection.send(`${i}${text}`, true);
      pump(server.connection, client.connection, 7);
      assert.deepEqual(
        client.seen.messages.map((m) => m.data.toString()),
        [0, 1, 2, 3, 4].map((i) => `${i}${text}`),
      );
    });
  }

  it('without context takeover an idle connection holds no zlib stream', () => {
    const params = {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
    };
    const deflate = new PerMessageDeflate();
    const server = deflate.extension('server', params);
    const client = deflate.extension('client', params);
    const a = open('server', { extensions: [server] });
    const b = open('client', { extensions: [client] });
    a.connection.send('x'.repeat(5000), true);
    b.connection.send('y'.repeat(5000), true);
    pump(a.connection, b.connection);
    pump(b.connection, a.connection);
    assert.equal(a.seen.messages[0]!.data.toString(), 'y'.repeat(5000));
    assert.equal(b.seen.messages[0]!.data.toString(), 'x'.repeat(5000));
    assert.equal(server.holdsStreams, false);
    assert.equal(client.holdsStreams, false);
    assert.ok(deflate.pool.idleCount >= 2);
  });

  it('with context takeover the streams stay until the connection closes', () => {
    const { connection, extension } = client();
    connection.send('z'.repeat(5000), true);
    assert.equal(extension.holdsStreams, true);
    connection.receiveEof();
    assert.equal(extension.holdsStreams, false);
    // Nothing is allocated again for a send after the end.
    assert.equal(extension.encodeMessage('z'.repeat(5000), true), null);
    assert.equal(extension.holdsStreams, false);
  });
});

describe('compressed output: no copy per message that the connection copies anyway', () => {
  const params = {
    serverNoContextTakeover: true,
    clientNoContextTakeover: true,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  };
  const json = (n: number) =>
    JSON.stringify(
      Array.from({ length: n }, (_, i) => ({ id: i * 7919, room: `room-${i % 17}`, on: i % 3 === 0 })),
    );

  it('a small compressed message is a view of the pool scratch; a large one on a server, and a prepared one, own their bytes', () => {
    const deflate = new PerMessageDeflate();
    const extension = deflate.extension('server', params);
    const small = extension.encodeMessage(json(400), true);
    assert.ok(small !== null && small.length < REUSABLE_PAYLOAD_MAX);
    // The view is what saves the copy (one allocation per message, garbage until the next GC).
    assert.equal(small.buffer, deflate.pool.scratch.buffer);
    const large = extension.encodeMessage(noiseBytes(20_000, 7), false);
    assert.ok(large !== null && large.length > REUSABLE_PAYLOAD_MAX);
    assert.notEqual(large.buffer, deflate.pool.scratch.buffer);
    // A client masks every payload into a copy: a large output stays a view too.
    const client = deflate.extension('client', params).encodeMessage(noiseBytes(20_000, 7), false);
    assert.ok(client !== null && client.length > REUSABLE_PAYLOAD_MAX);
    assert.equal(client.buffer, deflate.pool.scratch.buffer);
    // A prepared message is kept and sent many times: never a view.
    const prepared = deflate.prepareMessage(json(400), true);
    assert.ok(prepared.encoded !== null);
    assert.notEqual(prepared.encoded.buffer, deflate.pool.scratch.buffer);
  });

  for (const role of ['server', 'client'] as const) {
    it(`messages sent one after another keep their own bytes although the scratch is reused (${role})`, () => {
      const deflate = new PerMessageDeflate();
      const peer = role === 'server' ? 'client' : 'server';
      const sender = open(role, { extensions: [deflate.extension(role, params)] });
      const receiver = open(peer, { extensions: [new PerMessageDeflate().extension(peer, params)] });
      const sent = [json(300), noiseBytes(20_000, 3), json(500), noiseBytes(16_000, 5), json(200)];
      for (const message of sent) sender.connection.send(message, typeof message === 'string');
      // Nothing taken until every message is queued: each frame must hold its own bytes.
      const wire = sender.connection.takeOutput().map((chunk) => Buffer.from(chunk));
      for (const f of frames(Buffer.concat(wire))) assert.equal(f.b0 & RSV1_BIT, RSV1_BIT);
      for (const chunk of wire) receiver.connection.receive(chunk);
      assert.equal(receiver.seen.closes.length, 0);
      assert.deepEqual(
        receiver.seen.messages.map((m) => m.data),
        sent.map((m) => (typeof m === 'string' ? Buffer.from(m) : m)),
      );
    });
  }

  for (const role of ['server', 'client'] as const) {
    it(`the connection copies an encoded payload of up to 16,370 bytes (any size on a client) as it queues it (the Extension contract, ${role})`, () => {
      // An extension that encodes every message into the same buffer, as the contract allows.
      const reused = Buffer.alloc(20_000);
      const extension: Extension = {
        name: 'x-reuse',
        rsvBit: RSV1_BIT,
        encodeMessage(data) {
          const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data);
          bytes.copy(reused);
          return reused.subarray(0, bytes.length);
        },
        decodePart: (data) => data,
        preparedPayload: () => null,
        close() {},
      };
      const { connection } = open(role, { extensions: [extension] });
      const sent = [
        Buffer.alloc(REUSABLE_PAYLOAD_MAX, 1),
        Buffer.alloc(100, 2),
        Buffer.alloc(REUSABLE_PAYLOAD_MAX, 3),
      ];
      // A client masks every payload into a copy, whatever its size.
      if (role === 'client') sent.push(Buffer.alloc(20_000, 4), Buffer.alloc(100, 5));
      for (const message of sent) connection.send(message, false);
      reused.fill(9);
      const got = frames(Buffer.concat(connection.takeOutput().map((chunk) => Buffer.from(chunk))));
      assert.deepEqual(
        got.map((f) => f.payload),
        sent,
      );
    });
  }

  it('a driver that goes on after a piece shorter than the scratch is refused, not misread', () => {
    const scratch = Buffer.alloc(64);
    const stream: ZlibStream = {
      key: 'fake',
      ended: false,
      write(_input, _last, out, _limit, sink) {
        // Two pieces that together end like a sync flush: read as a view, the first would
        // be the second's bytes by the time the output is put together.
        out.fill(1, 0, 8);
        sink(out.subarray(0, 8));
        out.set([2, 2, 2, 2, 0, 0, 0xff, 0xff]);
        sink(out.subarray(0, 8));
        return true;
      },
      reset() {},
      close() {},
    };
    assert.throws(() => deflateMessage(stream, Buffer.from('x'), scratch, 1000), ZlibDriverError);
  });
});

describe('broadcast: compress once for many no-context-takeover peers', () => {
  const params = (serverNoContextTakeover: boolean, serverMaxWindowBits = 15) => ({
    serverNoContextTakeover,
    clientNoContextTakeover: false,
    serverMaxWindowBits,
    clientMaxWindowBits: 15,
  });

  it('peers without context takeover get the same compressed bytes; others compress their own', () => {
    const deflate = new PerMessageDeflate();
    const text = 'broadcast '.repeat(500);
    const prepared = deflate.prepareMessage(text, true);
    assert.ok(prepared.encoded !== null);
    const peers = [params(true), params(true), params(false), params(true, 10)].map((p) => {
      const server = open('server', { extensions: [deflate.extension('server', p)] });
      const client = open('client', { extensions: [deflate.extension('client', p)] });
      server.connection.send('before '.repeat(300), true);
      server.connection.sendPrepared(prepared);
      server.connection.send('after '.repeat(300), true);
      const sent = frames(Buffer.concat(server.connection.takeOutput().map((c) => Buffer.from(c))));
      for (const f of sent) client.connection.receive(frame(f.b0, f.payload));
      return { sent, client };
    });
    for (const { client, sent } of peers) {
      assert.deepEqual(
        client.seen.messages.map((m) => m.data.toString()),
        ['before '.repeat(300), text, 'after '.repeat(300)],
      );
      assert.equal(sent[1]!.b0 & RSV1_BIT, RSV1_BIT);
    }
    assert.deepEqual(peers[0]!.sent[1]!.payload, prepared.encoded);
    assert.deepEqual(peers[1]!.sent[1]!.payload, prepared.encoded);
    // context takeover, or a smaller window than the prepared one: compressed per connection
    assert.notDeepEqual(peers[2]!.sent[1]!.payload, prepared.encoded);
    assert.notDeepEqual(peers[3]!.sent[1]!.payload, prepared.encoded);
  });

  it('a message below the threshold is prepared uncompressed and sent plain', () => {
    const deflate = new PerMessageDeflate();
    const prepared = deflate.prepareMessage('tiny', true);
    assert.equal(prepared.encoded, null);
    const server = open('server', { extensions: [deflate.extension('server', params(true))] });
    server.connection.sendPrepared(prepared);
    const [f] = frames(Buffer.concat(server.connection.takeOutput()));
    assert.equal(f!.b0, 0x80 | Opcode.Text);
    assert.equal(f!.payload.toString(), 'tiny');
  });
});

// ---- negotiation ----

const offers = (header: string): ExtensionOffer[] => parseExtensions(header);

describe('RFC 7692 section 7.1: server negotiation', () => {
  const table: Array<[string, string, string | null, ConstructorParameters<typeof PerMessageDeflate>[0]?]> = [
    ['plain offer', 'permessage-deflate', 'permessage-deflate'],
    ["Chromium's offer", 'permessage-deflate; client_max_window_bits', 'permessage-deflate'],
    [
      'client asks no context takeover of the server',
      'permessage-deflate; server_no_context_takeover',
      'permessage-deflate; server_no_context_takeover',
    ],
    [
      'client announces its own no context takeover',
      'permessage-deflate; client_no_context_takeover',
      'permessage-deflate; client_no_context_takeover',
    ],
    [
      'Autobahn 13: server_max_window_bits=9',
      'permessage-deflate; server_max_window_bits=9',
      'permessage-deflate; server_max_window_bits=9',
    ],
    [
      'Autobahn 13: no context takeover and 15 bits',
      'permessage-deflate; server_no_context_takeover; server_max_window_bits=15',
      'permessage-deflate; server_no_context_takeover; server_max_window_bits=15',
    ],
    [
      'quoted value',
      'permessage-deflate; server_max_window_bits="10"',
      'permessage-deflate; server_max_window_bits=10',
    ],
    [
      '8-bit window accepted (we then send uncompressed)',
      'permessage-deflate; server_max_window_bits=8',
      'permessage-deflate; server_max_window_bits=8',
    ],
    ['unknown parameter declined', 'permessage-deflate; foo', null],
    [
      'duplicate parameter declined',
      'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
      null,
    ],
    ['window bits 16 declined', 'permessage-deflate; server_max_window_bits=16', null],
    ['window bits 7 declined', 'permessage-deflate; server_max_window_bits=7', null],
    ['leading zero declined', 'permessage-deflate; server_max_window_bits=09', null],
    ['server_max_window_bits without value declined', 'permessage-deflate; server_max_window_bits', null],
    ['value on a flag declined', 'permessage-deflate; server_no_context_takeover=1', null],
    ['client_max_window_bits=16 declined', 'permessage-deflate; client_max_window_bits=16', null],
    ['other extensions ignored', 'x-webkit-deflate-frame', null],
    [
      'first acceptable offer wins',
      'permessage-deflate; foo, permessage-deflate; server_max_window_bits=12, permessage-deflate',
      'permessage-deflate; server_max_window_bits=12',
    ],
    [
      'our serverNoContextTakeover is imposed',
      'permessage-deflate',
      'permessage-deflate; server_no_context_takeover',
      { serverNoContextTakeover: true },
    ],
    [
      'our clientNoContextTakeover is imposed',
      'permessage-deflate',
      'permessage-deflate; client_no_context_takeover',
      { clientNoContextTakeover: true },
    ],
    [
      'our window limit lowers the client request',
      'permessage-deflate; server_max_window_bits=14',
      'permessage-deflate; server_max_window_bits=10',
      { serverMaxWindowBits: 10 },
    ],
    [
      'our window limit is announced when the client set none',
      'permessage-deflate',
      'permessage-deflate; server_max_window_bits=10',
      { serverMaxWindowBits: 10 },
    ],
    [
      'a lower client request than our limit is kept',
      'permessage-deflate; server_max_window_bits=9',
      'permessage-deflate; server_max_window_bits=9',
      { serverMaxWindowBits: 12 },
    ],
    [
      'client window limited when offered without value',
      'permessage-deflate; client_max_window_bits',
      'permessage-deflate; client_max_window_bits=11',
      { clientMaxWindowBits: 11 },
    ],
    [
      'client window: the smaller of its hint and our limit',
      'permessage-deflate; client_max_window_bits=10',
      'permessage-deflate; client_max_window_bits=10',
      { clientMaxWindowBits: 11 },
    ],
    [
      'client window never limited when not offered',
      'permessage-deflate',
      'permessage-deflate',
      { clientMaxWindowBits: 11 },
    ],
  ];
  for (const [name, offer, response, options] of table) {
    it(name, () => {
      const agreement = new PerMessageDeflate(options).negotiate(offers(offer));
      assert.equal(agreement?.responseHeaderValue ?? null, response);
      if (agreement !== null) {
        // The response is itself valid for a client that made this offer.
        assert.deepEqual(parseExtensions(agreement.responseHeaderValue)[0]!.name, 'permessage-deflate');
      }
    });
  }

  it('agreed parameters reach the extension', () => {
    const agreement = new PerMessageDeflate({ clientMaxWindowBits: 10 }).negotiate(
      offers(
        'permessage-deflate; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits',
      ),
    )!;
    assert.deepEqual(agreement.extension.params, {
      serverNoContextTakeover: false,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 12,
      clientMaxWindowBits: 10,
    });
  });

  it('invalid options are refused', () => {
    assert.throws(() => new PerMessageDeflate({ level: 10 }), RangeError);
    assert.throws(() => new PerMessageDeflate({ memLevel: 0 }), RangeError);
    assert.throws(() => new PerMessageDeflate({ serverMaxWindowBits: 16 }), RangeError);
    assert.throws(() => new PerMessageDeflate({ clientMaxWindowBits: 7 }), RangeError);
    assert.throws(() => new PerMessageDeflate({ threshold: -1 }), RangeError);
  });
});

describe('RFC 7692 section 7.1: client negotiation', () => {
  it('offers', () => {
    assert.equal(new PerMessageDeflate().offer(), 'permessage-deflate; client_max_window_bits');
    assert.equal(
      new PerMessageDeflate({
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 10,
        clientMaxWindowBits: 12,
      }).offer(),
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12',
    );
    assert.equal(new PerMessageDeflate({ clientMaxWindowBits: false }).offer(), 'permessage-deflate');
  });

  const table: Array<[string, ConstructorParameters<typeof PerMessageDeflate>[0], string, string | null]> = [
    ['plain response', {}, 'permessage-deflate', 'ok'],
    ['server imposes its no context takeover', {}, 'permessage-deflate; server_no_context_takeover', 'ok'],
    ['server imposes our no context takeover', {}, 'permessage-deflate; client_no_context_takeover', 'ok'],
    [
      'server limits our window (offered without value)',
      {},
      'permessage-deflate; client_max_window_bits=9',
      'ok',
    ],
    ['server announces its window', {}, 'permessage-deflate; server_max_window_bits=10', 'ok'],
    ['declined', {}, 'x-other', null],
    ['unknown parameter', {}, 'permessage-deflate; foo', 'fail'],
    [
      'duplicate parameter',
      {},
      'permessage-deflate; client_no_context_takeover; client_no_context_takeover',
      'fail',
    ],
    ['client_max_window_bits without value', {}, 'permessage-deflate; client_max_window_bits', 'fail'],
    ['window bits out of range', {}, 'permessage-deflate; server_max_window_bits=16', 'fail'],
    ['accepted twice', {}, 'permessage-deflate, permessage-deflate', 'fail'],
    [
      'client_max_window_bits not offered',
      { clientMaxWindowBits: false },
      'permessage-deflate; client_max_window_bits=10',
      'fail',
    ],
    [
      'client_max_window_bits above the offer',
      { clientMaxWindowBits: 10 },
      'permessage-deflate; client_max_window_bits=11',
      'fail',
    ],
    [
      'client_max_window_bits within the offer',
      { clientMaxWindowBits: 10 },
      'permessage-deflate; client_max_window_bits=9',
      'ok',
    ],
    [
      'server_no_context_takeover requested but missing',
      { serverNoContextTakeover: true },
      'permessage-deflate',
      'fail',
    ],
    [
      'server_max_window_bits requested but missing',
      { serverMaxWindowBits: 10 },
      'permessage-deflate',
      'fail',
    ],
    [
      'server_max_window_bits above the request',
      { serverMaxWindowBits: 10 },
      'permessage-deflate; server_max_window_bits=11',
      'fail',
    ],
    [
      'server_max_window_bits within the request',
      { serverMaxWindowBits: 10 },
      'permessage-deflate; server_max_window_bits=9',
      'ok',
    ],
  ];
  for (const [name, options, response, outcome] of table) {
    it(name, () => {
      const deflate = new PerMessageDeflate(options);
      const run = () => deflate.accept(offers(response));
      if (outcome === 'fail') {
        assert.throws(run, HandshakeError);
      } else if (outcome === null) {
        assert.equal(run(), null);
      } else {
        const extension = run() as PerMessageDeflateExtension;
        assert.equal(extension.role, 'client');
      }
    });
  }

  it('every server response to every offer is accepted by the offering client', () => {
    const choices = [undefined, 9, 12, 15] as const;
    for (const serverNoContextTakeover of [false, true])
      for (const clientNoContextTakeover of [false, true])
        for (const serverMaxWindowBits of choices)
          for (const clientMaxWindowBits of [true, false, 9, 15] as const)
            for (const serverOptions of [
              {},
              { serverMaxWindowBits: 10 },
              { clientMaxWindowBits: 9 },
              { serverNoContextTakeover: true },
            ]) {
              const clientSide = new PerMessageDeflate({
                serverNoContextTakeover,
                clientNoContextTakeover,
                ...(serverMaxWindowBits === undefined ? {} : { serverMaxWindowBits }),
                clientMaxWindowBits,
              });
              const agreement = new PerMessageDeflate(serverOptions).negotiate(offers(clientSide.offer()));
              assert.ok(agreement, clientSide.offer());
              const extension = clientSide.accept(offers(agreement.responseHeaderValue))!;
              const label = `${clientSide.offer()} -> ${agreement.responseHeaderValue}`;
              assert.deepEqual(extension.params, agreement.extension.params, label);
            }
  });
});
