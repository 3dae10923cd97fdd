/**
 * Connection: the state machine above the framing (RFC 6455 sections 5.4-5.6, 7 and 8),
 * fed bytes and checked on what it reports and the exact bytes it writes back.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CloseCode,
  type CloseInfo,
  COPY_THRESHOLD,
  Connection,
  InternalError,
  isValidWireCloseCode,
  limits,
  Opcode,
  type Role,
  truncateUtf8,
} from '../../src/protocol/index.js';
import { vectors } from '../vectors/vectors.js';
import {
  allocations,
  assertFailed,
  chunksOf,
  closePayload,
  decodeFrames,
  frame,
  peerFrame,
  Recorder,
} from './helpers.js';

const ROLES: Role[] = ['server', 'client'];

/** The frames a connection wrote, decoded and unmasked; asserts the masking rule of its role. */
function written(rec: Recorder): Array<{ opcode: number; fin: boolean; payload: Buffer }> {
  return decodeFrames(rec.output()).map((f) => {
    assert.equal(f.masked, rec.connection.role === 'client', 'a client masks, a server does not');
    return { opcode: f.opcode, fin: f.fin, payload: f.payload };
  });
}

describe('RFC 6455 5.6: data frames', () => {
  for (const role of ROLES) {
    it(`${role}: a text and a binary message are delivered with their type`, () => {
      const rec = new Recorder({ role });
      rec.receive(
        peerFrame(role, Opcode.Text, 'héllo'),
        peerFrame(role, Opcode.Binary, Buffer.from([0, 255])),
      );
      assert.deepEqual(
        rec.messages().map((m) => [m.data.toString('hex'), m.isText]),
        [
          [Buffer.from('héllo').toString('hex'), true],
          ['00ff', false],
        ],
      );
    });
  }

  it('an empty text message and an empty binary message are delivered', () => {
    const rec = new Recorder({ role: 'client' });
    rec.receive(frame(Opcode.Text), frame(Opcode.Binary));
    assert.deepEqual(
      rec.messages().map((m) => [m.data.length, m.isText]),
      [
        [0, true],
        [0, false],
      ],
    );
  });

  it('a single frame split across many reads is delivered once, whole', () => {
    const payload = Buffer.from('0123456789'.repeat(300));
    const rec = new Recorder({ role: 'server' });
    rec.receive(...chunksOf(peerFrame('server', Opcode.Text, payload), 7));
    assert.equal(rec.messages().length, 1);
    assert.ok(rec.messages()[0]!.data.equals(payload));
  });

  it('a large single frame split across reads is reassembled (> 64 KiB)', () => {
    const payload = Buffer.alloc(200_000);
    for (let i = 0; i < payload.length; i++) payload[i] = i & 0xff;
    const rec = new Recorder({ role: 'client' });
    rec.receive(...chunksOf(frame(Opcode.Binary, payload), 9_999));
    assert.ok(rec.messages()[0]!.data.equals(payload));
  });
});

describe('RFC 6455 5.4: fragmentation', () => {
  it('fragments are reassembled into one message of the first frame type', () => {
    for (const role of ROLES) {
      const rec = new Recorder({ role });
      rec.receive(
        peerFrame(role, Opcode.Binary, 'ab', false),
        peerFrame(role, Opcode.Continuation, '', false),
        peerFrame(role, Opcode.Continuation, 'cd', false),
        peerFrame(role, Opcode.Continuation, 'e'),
      );
      assert.deepEqual(
        rec.messages().map((m) => [m.data.toString(), m.isText]),
        [['abcde', false]],
      );
    }
  });

  it('many fragments growing past the first assembly buffer keep every byte', () => {
    const rec = new Recorder({ role: 'client' });
    const parts: Buffer[] = [];
    for (let i = 0; i < 50; i++) parts.push(Buffer.alloc(1000, i));
    rec.receive(
      ...parts.map((p, i) => frame(i === 0 ? Opcode.Binary : Opcode.Continuation, p, { fin: i === 49 })),
    );
    assert.ok(rec.messages()[0]!.data.equals(Buffer.concat(parts)));
  });

  it('a ping between fragments is answered and the message still completes', () => {
    const rec = new Recorder({ role: 'server' });
    rec.receive(
      peerFrame('server', Opcode.Text, 'Hel', false),
      peerFrame('server', Opcode.Ping, 'between'),
      peerFrame('server', Opcode.Continuation, 'lo'),
    );
    assert.deepEqual(
      rec.events.filter((e) => e.type !== 'output').map((e) => e.type),
      ['ping', 'message'],
    );
    assert.equal(rec.messages()[0]!.data.toString(), 'Hello');
    assert.equal(rec.output().toString('hex'), frame(Opcode.Pong, 'between').toString('hex'));
  });
});

describe('RFC 6455 5.5.2-5.5.3: ping and pong', () => {
  for (const role of ROLES) {
    it(`${role}: a ping is reported and answered with a pong carrying its payload`, () => {
      const rec = new Recorder({ role });
      rec.receive(peerFrame(role, Opcode.Ping, 'are you there'));
      assert.deepEqual(
        rec.events.filter((e) => e.type === 'ping').map((e) => (e.type === 'ping' ? e.data.toString() : '')),
        ['are you there'],
      );
      assert.deepEqual(
        written(rec).map((f) => [f.opcode, f.payload.toString()]),
        [[Opcode.Pong, 'are you there']],
      );
    });
  }

  it('a ping split byte by byte is answered with the whole payload', () => {
    const rec = new Recorder({ role: 'server' });
    rec.receive(...chunksOf(peerFrame('server', Opcode.Ping, 'split ping'), 1));
    assert.equal(rec.output().toString('hex'), frame(Opcode.Pong, 'split ping').toString('hex'));
  });

  it('an empty ping gets an empty pong', () => {
    const rec = new Recorder({ role: 'server' });
    rec.receive(peerFrame('server', Opcode.Ping));
    assert.equal(rec.output().toString('hex'), '8a00');
  });

  it('with autoPong off, a ping is reported but not answered', () => {
    const rec = new Recorder({ role: 'server', autoPong: false });
    rec.receive(peerFrame('server', Opcode.Ping, 'x'));
    assert.equal(rec.events.filter((e) => e.type === 'ping').length, 1);
    assert.equal(rec.output().length, 0);
  });

  it('a pong is reported and not answered', () => {
    const rec = new Recorder({ role: 'client' });
    rec.receive(frame(Opcode.Pong, 'beat'));
    assert.deepEqual(
      rec.events.map((e) => (e.type === 'pong' ? e.data.toString() : e.type)),
      ['beat'],
    );
    assert.equal(rec.output().length, 0);
  });

  it('ping() and pong() write control frames; over 125 bytes is a RangeError', () => {
    const rec = new Recorder({ role: 'server' });
    assert.equal(rec.connection.ping('p'), true);
    assert.equal(rec.connection.pong(Buffer.from('q')), true);
    assert.equal(rec.connection.ping(), true);
    assert.equal(rec.output().toString('hex'), `${frame(Opcode.Ping, 'p').toString('hex')}8a01718900`);
    assert.throws(() => rec.connection.ping('x'.repeat(126)), RangeError);
    assert.throws(() => rec.connection.pong(Buffer.alloc(126)), RangeError);
  });

  it('no pong is sent once our close frame is out', () => {
    const rec = new Recorder({ role: 'server' });
    rec.connection.close(1000);
    rec.output();
    rec.receive(peerFrame('server', Opcode.Ping, 'late'));
    assert.equal(rec.events.filter((e) => e.type === 'ping').length, 1);
    assert.equal(rec.output().length, 0);
  });
});

describe('RFC 6455 5.6 and 8.1: UTF-8 of text messages', () => {
  it('an invalid single-frame text message fails with 1007', () => {
    const rec = new Recorder({ role: 'server' });
    rec.receive(peerFrame('server', Opcode.Text, Buffer.from([0x68, 0xc0, 0xaf])));
    assertFailed(rec, 'invalid-utf8', 1007);
    assert.equal(rec.messages().length, 0);
  });

  it('a code point split across fragments is valid', () => {
    const bytes = Buffer.from('我是阿宝哥');
    const rec = new Recorder({ role: 'client' });
    rec.receive(
      frame(Opcode.Text, bytes.subarray(0, 4), { fin: false }),
      frame(Opcode.Continuation, bytes.subarray(4, 5), { fin: false }),
      frame(Opcode.Continuation, bytes.subarray(5)),
    );
    assert.equal(rec.messages()[0]!.data.toString(), '我是阿宝哥');
  });

  it('an invalid first fragment fails at once, before the message ends (fail fast)', () => {
    const rec = new Recorder({ role: 'client' });
    rec.receive(frame(Opcode.Text, Buffer.from([0x61, 0xff]), { fin: false }));
    assertFailed(rec, 'invalid-utf8', 1007);
  });

  it('a sequence made invalid by the next fragment fails on that fragment', () => {
    const rec = new Recorder({ role: 'client' });
    rec.receive(frame(Opcode.Text, Buffer.from([0xe6, 0x88]), { fin: false }));
    assert.equal(rec.closed(), undefined, 'a valid prefix so far');
    rec.receive(frame(Opcode.Continuation, Buffer.from([0x41]), { fin: false }));
    assertFailed(rec, 'invalid-utf8', 1007);
  });

  it('an invalid byte in the middle of a frame fails before the rest of the frame arrives', () => {
    const payload = Buffer.alloc(1000, 0x61);
    payload[10] = 0xf8;
    const bytes = peerFrame('server', Opcode.Text, payload);
    const rec = new Recorder({ role: 'server' });
    rec.receive(bytes.subarray(0, 8 + 5)); // header (8) and 5 valid bytes
    assert.equal(rec.closed(), undefined);
    rec.receive(bytes.subarray(13, 8 + 11)); // up to and including the bad byte
    assertFailed(rec, 'invalid-utf8', 1007);
  });

  it('a message that ends inside a code point fails with 1007', () => {
    const rec = new Recorder({ role: 'client' });
    rec.receive(
      frame(Opcode.Text, Buffer.from([0x61, 0xe6, 0x88]), { fin: false }),
      frame(Opcode.Continuation),
    );
    assertFailed(rec, 'invalid-utf8', 1007);
  });

  it('binary messages are not checked', () => {
    const rec = new Recorder({ role: 'client' });
    rec.receive(frame(Opcode.Binary, Buffer.from([0xff, 0xfe])));
    assert.deepEqual([...rec.messages()[0]!.data], [0xff, 0xfe]);
  });
});

describe('RFC 6455 10.4: limits', () => {
  it('a single frame declaring more than maxPayload fails with 1009 on its header alone', () => {
    const rec = new Recorder({ role: 'server', maxPayload: 1000 });
    // Header of a masked 1001-byte binary frame: no payload byte is fed.
    rec.receive(Buffer.from([0x82, 0xfe, 0x03, 0xe9, 1, 2, 3, 4]));
    assertFailed(rec, 'message-too-big', 1009);
  });

  it('a 64-bit declared length far above the limit fails on the header alone', () => {
    const rec = new Recorder({ role: 'client' });
    rec.receive(Buffer.from([0x82, 0x7f, 0, 0, 0, 0x10, 0, 0, 0, 0]));
    assertFailed(rec, 'message-too-big', 1009);
  });

  it('a message of exactly maxPayload bytes is accepted', () => {
    const rec = new Recorder({ role: 'client', maxPayload: 10 });
    rec.receive(
      frame(Opcode.Binary, Buffer.alloc(4), { fin: false }),
      frame(Opcode.Continuation, Buffer.alloc(6)),
    );
    assert.equal(rec.messages()[0]!.data.length, 10);
  });

  it('fragments whose declared lengths add up past maxPayload fail with 1009 at the header that crosses it', () => {
    const rec = new Recorder({ role: 'client', maxPayload: 10 });
    rec.receive(frame(Opcode.Binary, Buffer.alloc(6), { fin: false }));
    rec.receive(frame(Opcode.Continuation, Buffer.alloc(5)).subarray(0, 2));
    assertFailed(rec, 'message-too-big', 1009);
  });

  it('the count restarts with each message', () => {
    const rec = new Recorder({ role: 'client', maxPayload: 10 });
    for (let i = 0; i < 5; i++) rec.receive(frame(Opcode.Binary, Buffer.alloc(8)));
    assert.equal(rec.messages().length, 5);
  });

  it('more than maxFragments frames in one message fail with 1009', () => {
    const rec = new Recorder({ role: 'client', maxFragments: 3 });
    rec.receive(
      frame(Opcode.Text, 'a', { fin: false }),
      frame(Opcode.Continuation, 'b', { fin: false }),
      frame(Opcode.Continuation, 'c', { fin: false }),
    );
    assert.equal(rec.closed(), undefined);
    rec.receive(frame(Opcode.Continuation, 'd'));
    assertFailed(rec, 'too-many-fragments', 1009);
  });

  it('one byte of a fragmented message reserves about 1 KiB, not 64 KiB (default maxPayload)', () => {
    const rec = new Recorder({ role: 'server' });
    const original = Buffer.allocUnsafe;
    let largest = 0;
    Buffer.allocUnsafe = (size: number) => {
      largest = Math.max(largest, size);
      return original(size);
    };
    try {
      rec.receive(peerFrame('server', Opcode.Binary, 'x', false));
    } finally {
      Buffer.allocUnsafe = original;
    }
    assert.ok(largest <= 1024, `allocated ${largest} bytes for one byte`);
    rec.receive(peerFrame('server', Opcode.Continuation, Buffer.alloc(3000, 1)));
    assert.equal(rec.messages()[0]!.data.length, 3001);
  });

  it('a fragmented message never buffers more than maxPayload', () => {
    const messages: number[] = [];
    const conn = new Connection(
      {
        onMessage: (data) => messages.push(data.length),
        onPing() {},
        onPong() {},
        onClose() {},
        onOutput() {},
      },
      { role: 'client', maxPayload: 5000 },
    );
    const parts = [
      frame(Opcode.Binary, Buffer.alloc(1000), { fin: false }),
      frame(Opcode.Continuation, Buffer.alloc(2000), { fin: false }),
      frame(Opcode.Continuation, Buffer.alloc(2000)),
    ];
    // The sizes asked of Buffer.allocUnsafe, not `data.buffer.byteLength`: from Node 24 the
    // pool is 64 KiB, so a 5000-byte buffer may be a view of the pool's slab.
    const allocated = allocations(() => {
      for (const part of parts) conn.receive(part);
    });
    // 1000 + 2000 + 2000 bytes: the buffer doubles from twice the first part but stops at
    // the limit, not at 8 KiB. (The 4-byte allocations are not the message's.)
    assert.deepEqual(
      allocated.filter((size) => size > 4),
      [2000, 4000, 5000],
    );
    assert.deepEqual(messages, [5000]);
  });
});

describe('reassembly: each payload byte is copied once, and held parts stay bounded', () => {
  it('a 1 MiB frame in 64 KiB reads is assembled in one buffer of its exact size (no growth copies)', () => {
    const payload = Buffer.allocUnsafe(1024 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 131 + 7) & 0xff;
    const reads = chunksOf(peerFrame('server', Opcode.Binary, payload), 64 * 1024);
    const rec = new Recorder({ role: 'server', maxPayload: 2 * 1024 * 1024 });
    const sizes = allocations(() => rec.receive(...reads));
    assert.deepEqual(sizes, [payload.length]);
    assert.equal(rec.messages().length, 1);
    assert.ok(rec.messages()[0]!.data.equals(payload));
  });

  it('a large frame gets its buffer once an eighth of it has arrived, not before', () => {
    const size = 1024 * 1024;
    const reads = chunksOf(peerFrame('server', Opcode.Binary, Buffer.alloc(size, 9)), 64 * 1024);
    const connection = new Connection(
      { onMessage() {}, onPing() {}, onPong() {}, onClose() {}, onOutput() {} },
      { role: 'server', maxPayload: 2 * size },
    );
    let received = 0;
    let allocatedAfter = -1;
    for (const read of reads) {
      received += read.length;
      const sizes = allocations(() => connection.receive(read));
      if (sizes.includes(size)) allocatedAfter = received;
      if (allocatedAfter !== -1) break;
    }
    // Header: 14 bytes. The allocation comes with the read that brings the eighth, not earlier.
    assert.ok(allocatedAfter - 14 >= size / 8, `allocated after ${allocatedAfter} bytes`);
    assert.ok(allocatedAfter - 14 - 64 * 1024 < size / 8, `allocated after ${allocatedAfter} bytes`);
  });

  it('a fragmented message is joined once, at its exact size', () => {
    const rec = new Recorder({ role: 'server' });
    const first = peerFrame('server', Opcode.Text, 'a'.repeat(3000), false);
    const second = peerFrame('server', Opcode.Continuation, 'b'.repeat(5000));
    const sizes = allocations(() => rec.receive(first, second));
    assert.deepEqual(sizes, [8000]);
    assert.equal(rec.messages()[0]!.data.toString(), 'a'.repeat(3000) + 'b'.repeat(5000));
  });

  it('a message whose only data is in one part is delivered as a view of that read, without a copy', () => {
    const delivered: Buffer[] = [];
    const connection = new Connection(
      { onMessage: (data) => delivered.push(data), onPing() {}, onPong() {}, onClose() {}, onOutput() {} },
      { role: 'client' },
    );
    const first = frame(Opcode.Binary, Buffer.alloc(10_000, 7), { fin: false });
    const end = frame(Opcode.Continuation);
    const sizes = allocations(() => {
      connection.receive(first);
      connection.receive(end);
    });
    assert.deepEqual(sizes, []);
    assert.equal(delivered.length, 1);
    assert.ok(delivered[0]!.buffer === first.buffer, 'a view of the read');
    assert.ok(delivered[0]!.equals(Buffer.alloc(10_000, 7)));
  });

  for (const size of [64 * 1024, 1024 * 1024]) {
    it(`a server unmasks each byte of a ${size / 1024} KiB frame as it copies it: the reads are left masked`, () => {
      const payload = Buffer.allocUnsafe(size);
      for (let i = 0; i < payload.length; i++) payload[i] = (i * 131 + 7) & 0xff;
      const reads = chunksOf(peerFrame('server', Opcode.Binary, payload), 64 * 1024);
      const before = reads.map((read) => Buffer.from(read));
      const delivered: Buffer[] = [];
      const connection = new Connection(
        { onMessage: (data) => delivered.push(data), onPing() {}, onPong() {}, onClose() {}, onOutput() {} },
        { role: 'server', maxPayload: 2 * 1024 * 1024 },
      );
      for (const read of reads) connection.receive(read);
      assert.equal(delivered.length, 1);
      assert.ok(delivered[0]!.equals(payload));
      assert.ok(
        reads.every((read, i) => read.equals(before[i]!)),
        'one pass: no unmask in place before the copy',
      );
    });
  }

  it('text unmasked while copied is still validated as it arrives', () => {
    const text = 'é'.repeat(40_000); // 80,000 bytes, two-byte characters split across reads
    const ok = new Recorder({ role: 'server' });
    ok.receive(...chunksOf(peerFrame('server', Opcode.Text, text), 64 * 1024 - 1));
    assert.equal(ok.messages()[0]?.data.toString(), text);
    const bad = Buffer.from(text);
    bad[70_000] = 0xff;
    const rec = new Recorder({ role: 'server' });
    const reads = chunksOf(peerFrame('server', Opcode.Text, bad), 64 * 1024);
    rec.receive(reads[0]!, reads[1]!);
    assertFailed(rec, 'invalid-utf8', 1007);
  });

  it('one-byte fragments are copied into a buffer once their per-part charge reaches maxPayload', () => {
    const maxPayload = 4096;
    const rec = new Recorder({ role: 'client', maxPayload, maxFragments: 10_000 });
    const count = 1000;
    // Each fragment in its own read with its own memory (Buffer.alloc never uses the pool).
    const reads = Array.from({ length: count }, (_, i) => {
      const bytes = frame(i === 0 ? Opcode.Binary : Opcode.Continuation, Buffer.from([i & 0xff]), {
        fin: i === count - 1,
      });
      const own = Buffer.alloc(bytes.length);
      bytes.copy(own);
      return own;
    });
    let firstCopyAt = -1;
    for (let i = 0; i < count; i++) {
      const sizes = allocations(() => rec.connection.receive(reads[i]!));
      if (sizes.length > 0 && firstCopyAt === -1) firstCopyAt = i;
    }
    // Each part is charged its read (3 bytes) plus PART_OVERHEAD (128): at most 4096 / 131 views.
    assert.ok(
      firstCopyAt > 0 && firstCopyAt <= Math.floor(maxPayload / (3 + limits.PART_OVERHEAD)),
      `${firstCopyAt}`,
    );
    const data = rec.messages()[0]!.data;
    assert.equal(data.length, count);
    assert.ok(data.every((b, i) => b === (i & 0xff)));
  });
});

describe('RFC 6455 5.5.1 and 7.4: close frames received', () => {
  it('a close frame with a 1-byte payload fails with 1002', () => {
    const rec = new Recorder({ role: 'server' });
    rec.receive(peerFrame('server', Opcode.Close, Buffer.from([0x03])));
    assertFailed(rec, 'invalid-close-payload', 1002);
  });

  for (const code of vectors.close_codes.never_on_wire) {
    it(`close code ${code} (never on the wire) fails with 1002`, () => {
      assert.equal(isValidWireCloseCode(code), false);
      const rec = new Recorder({ role: 'server' });
      rec.receive(peerFrame('server', Opcode.Close, closePayload(code)));
      assertFailed(rec, 'invalid-close-code', 1002);
    });
  }

  for (const code of vectors.close_codes.valid_on_wire) {
    it(`close code ${code} (valid) is reported and echoed`, () => {
      assert.equal(isValidWireCloseCode(code), true);
      const rec = new Recorder({ role: 'server' });
      rec.receive(peerFrame('server', Opcode.Close, closePayload(code, 'bye')));
      assert.deepEqual(rec.closed(), { code, reason: 'bye', error: null });
      assert.equal(rec.output().toString('hex'), frame(Opcode.Close, closePayload(code)).toString('hex'));
    });
  }

  for (const code of [1016, 1100, 2000, 2999, 5000, 6000]) {
    it(`reserved range code ${code} fails with 1002`, () => {
      const rec = new Recorder({ role: 'client' });
      rec.receive(frame(Opcode.Close, closePayload(code)));
      assertFailed(rec, 'invalid-close-code', 1002);
    });
  }

  it('a close reason that is not UTF-8 fails with 1007', () => {
    const rec = new Recorder({ role: 'server' });
    rec.receive(peerFrame('server', Opcode.Close, closePayload(1000, Buffer.from([0xce, 0xba, 0xe1]))));
    assertFailed(rec, 'invalid-utf8', 1007);
  });

  it('a close frame without a code reports 1005 and is answered with an empty close', () => {
    const rec = new Recorder({ role: 'server' });
    rec.receive(peerFrame('server', Opcode.Close));
    assert.deepEqual(rec.closed(), { code: 1005, reason: '', error: null });
    assert.equal(rec.output().toString('hex'), '8800');
  });
});

describe('RFC 6455 7: the closing handshake', () => {
  for (const role of ROLES) {
    it(`${role}: we close: OPEN -> CLOSING -> CLOSED, the peer's code reported`, () => {
      const rec = new Recorder({ role });
      assert.equal(rec.connection.state, 'open');
      rec.connection.close(1000, 'done');
      assert.equal(rec.connection.state, 'closing');
      assert.deepEqual(
        written(rec).map((f) => [f.opcode, f.payload.toString('hex')]),
        [[Opcode.Close, closePayload(1000, 'done').toString('hex')]],
      );
      assert.equal(rec.closed(), undefined);
      rec.receive(peerFrame(role, Opcode.Close, closePayload(1000, 'ok')));
      assert.equal(rec.connection.state, 'closed');
      assert.deepEqual(rec.closed(), { code: 1000, reason: 'ok', error: null });
      assert.deepEqual(rec.connection.closeInfo, { code: 1000, reason: 'ok', error: null });
      assert.equal(rec.output().length, 0, 'our close is not sent twice');
    });

    it(`${role}: the peer closes: its code is echoed, OPEN -> CLOSED`, () => {
      const rec = new Recorder({ role });
      rec.receive(peerFrame(role, Opcode.Close, closePayload(4001, 'app')));
      assert.equal(rec.connection.state, 'closed');
      assert.deepEqual(rec.closed(), { code: 4001, reason: 'app', error: null });
      assert.deepEqual(
        written(rec).map((f) => [f.opcode, f.payload.toString('hex')]),
        [[Opcode.Close, '0fa1']],
      );
    });
  }

  it('close() without a code sends an empty close frame', () => {
    const rec = new Recorder({ role: 'server' });
    rec.connection.close();
    assert.equal(rec.output().toString('hex'), '8800');
    assert.equal(rec.connection.state, 'closing');
  });

  it('close() twice sends one close frame', () => {
    const rec = new Recorder({ role: 'server' });
    rec.connection.close(1001);
    rec.connection.close(1000, 'again');
    assert.equal(rec.output().toString('hex'), '880203e9');
  });

  it('close() argument errors are RangeErrors', () => {
    const rec = new Recorder({ role: 'server' });
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 1000.5]) {
      assert.throws(() => rec.connection.close(code), RangeError, `code ${code}`);
    }
    assert.throws(() => rec.connection.close(undefined, 'reason without a code'), RangeError);
    assert.throws(() => rec.connection.close(1000, 'é'.repeat(62)), RangeError); // 124 bytes
    rec.connection.close(1000, `${'é'.repeat(61)}x`); // 123 bytes is fine
    assert.equal(rec.output().length, 2 + 2 + 123);
  });

  it('data after the peer close is ignored, in the same chunk or later', () => {
    const rec = new Recorder({ role: 'server' });
    rec.receive(
      Buffer.concat([
        peerFrame('server', Opcode.Close, closePayload(1000)),
        peerFrame('server', Opcode.Text, 'late'),
      ]),
    );
    rec.receive(peerFrame('server', Opcode.Text, 'later'));
    rec.connection.receiveEof();
    assert.equal(rec.messages().length, 0);
    assert.equal(rec.closeCount(), 1);
  });

  it('nothing can be sent after a close frame went out', () => {
    const rec = new Recorder({ role: 'server' });
    rec.connection.close(1000);
    assert.equal(rec.connection.send('x', true), false);
    assert.equal(rec.connection.startMessage(true).end('x'), false);
    assert.equal(rec.connection.ping('x'), false);
    assert.equal(rec.connection.pong('x'), false);
    assert.equal(rec.output().toString('hex'), '880203e8');
    rec.receive(peerFrame('server', Opcode.Close, closePayload(1000)));
    assert.equal(rec.connection.send('x', false), false);
    rec.connection.close(1000);
    assert.equal(rec.output().length, 0);
  });

  it('receiveEof before a close reports 1006 once', () => {
    const rec = new Recorder({ role: 'client' });
    rec.receive(frame(Opcode.Text, 'a', { fin: false }));
    rec.connection.receiveEof();
    rec.connection.receiveEof();
    assert.deepEqual(rec.closed(), { code: CloseCode.Abnormal, reason: '', error: null });
    assert.equal(rec.closeCount(), 1);
    assert.equal(rec.connection.state, 'closed');
    assert.equal(rec.output().length, 0);
    rec.receive(frame(Opcode.Text, 'after'));
    assert.equal(rec.messages().length, 0);
  });

  it('receiveEof while closing reports 1006', () => {
    const rec = new Recorder({ role: 'client' });
    rec.connection.close(1000);
    rec.connection.receiveEof();
    assert.equal(rec.closed()?.code, 1006);
  });

  it('after a failure nothing more is reported or written', () => {
    const rec = new Recorder({ role: 'server' });
    rec.receive(frame(Opcode.Text, 'unmasked'));
    assertFailed(rec, 'unmasked-client-frame', 1002);
    rec.receive(peerFrame('server', Opcode.Text, 'x'));
    rec.connection.receiveEof();
    assert.equal(rec.closeCount(), 1);
    assert.equal(rec.output().length, 0);
  });

  it('a failure after our close frame went out does not send another', () => {
    const rec = new Recorder({ role: 'server' });
    rec.connection.close(1000);
    rec.output();
    rec.receive(frame(Opcode.Text, 'unmasked'));
    assert.equal(rec.closed()?.error?.rule, 'unmasked-client-frame');
    assert.equal(rec.output().length, 0);
  });

  it('an exception thrown by a handler fails the connection with 1011, not the caller of receive()', () => {
    const closes: CloseInfo[] = [];
    const conn = new Connection(
      {
        onMessage: () => {
          throw new TypeError('handler bug');
        },
        onPing() {},
        onPong() {},
        onClose: (info) => closes.push(info),
        onOutput() {},
      },
      { role: 'client' },
    );
    conn.receive(frame(Opcode.Text, 'x'));
    assert.equal(conn.state, 'closed');
    assert.equal(closes.length, 1);
    assert.equal(closes[0]!.code, CloseCode.InternalError);
    assert.ok(closes[0]!.error instanceof InternalError);
    assert.ok((closes[0]!.error.cause as Error) instanceof TypeError);
  });

  it('the failure reason is cut to 123 bytes of UTF-8', () => {
    assert.equal(truncateUtf8('short', 123), 'short');
    assert.equal(truncateUtf8('ééé', 5), 'éé');
    assert.equal(truncateUtf8('a我b', 3), 'a');
    assert.equal(Buffer.byteLength(truncateUtf8('é'.repeat(100), 123)), 122);
  });
});

describe('output: batching and zero copy', () => {
  it('many sends come out as one chunk, with one onOutput until taken', () => {
    const rec = new Recorder({ role: 'server' });
    for (let i = 0; i < 100; i++) rec.connection.send(`message ${i}`, true);
    assert.equal(rec.events.filter((e) => e.type === 'output').length, 1);
    assert.ok(rec.connection.bufferedBytes > 0);
    const chunks = rec.connection.takeOutput();
    assert.equal(chunks.length, 1);
    assert.equal(rec.connection.bufferedBytes, 0);
    const frames = decodeFrames(chunks[0]!);
    assert.equal(frames.length, 100);
    assert.equal(frames[99]!.payload.toString(), 'message 99');
    rec.connection.send('again', true);
    assert.equal(rec.events.filter((e) => e.type === 'output').length, 2);
    assert.deepEqual(rec.connection.takeOutput().length, 1);
    assert.deepEqual(rec.connection.takeOutput(), []);
  });

  it('sends from handlers during receive() signal output once, after the chunk', () => {
    const events: string[] = [];
    const conn: Connection = new Connection(
      {
        onMessage: (data) => {
          events.push('message');
          conn.send(data, false);
        },
        onPing: () => events.push('ping'),
        onPong() {},
        onClose() {},
        onOutput: () => events.push('output'),
      },
      { role: 'client' },
    );
    conn.receive(
      Buffer.concat([frame(Opcode.Binary, 'a'), frame(Opcode.Ping, 'p'), frame(Opcode.Binary, 'b')]),
    );
    assert.deepEqual(events, ['message', 'ping', 'message', 'output']);
    const frames = decodeFrames(Buffer.concat(conn.takeOutput()));
    assert.deepEqual(
      frames.map((f) => [f.opcode, f.payload.toString()]),
      [
        [Opcode.Binary, 'a'],
        [Opcode.Pong, 'p'],
        [Opcode.Binary, 'b'],
      ],
    );
  });

  it('a server sends a large Buffer without copying it', () => {
    const rec = new Recorder({ role: 'server' });
    const payload = Buffer.alloc(COPY_THRESHOLD + 1, 3);
    rec.connection.send('small first', true);
    rec.connection.send(payload, false);
    rec.connection.send('small after', true);
    const chunks = rec.connection.takeOutput();
    assert.equal(chunks.length, 3);
    assert.equal(chunks[1], payload, 'the very same buffer');
    const frames = decodeFrames(Buffer.concat(chunks));
    assert.deepEqual(
      frames.map((f) => f.payload.length),
      [11, COPY_THRESHOLD + 1, 11],
    );
  });

  it('a server sends a large Uint8Array as a view of the same memory', () => {
    const rec = new Recorder({ role: 'server' });
    const backing = new Uint8Array(COPY_THRESHOLD + 100);
    const payload = backing.subarray(50);
    rec.connection.send(payload, false);
    const chunks = rec.connection.takeOutput();
    assert.equal(chunks[1]!.buffer, backing.buffer);
    assert.equal(chunks[1]!.byteOffset, 50);
  });

  it('a large string is encoded once and sent after its header', () => {
    const rec = new Recorder({ role: 'server' });
    const text = 'é'.repeat(COPY_THRESHOLD);
    rec.connection.send(text, true);
    const [f] = decodeFrames(rec.output());
    assert.equal(f!.payload.toString(), text);
  });

  describe('client role: every frame is masked', () => {
    for (const size of [0, 5, 200, COPY_THRESHOLD + 1]) {
      it(`a ${size}-byte message unmasks with its written key to the original bytes`, () => {
        const rec = new Recorder({ role: 'client' });
        const payload = Buffer.alloc(size);
        for (let i = 0; i < size; i++) payload[i] = (i * 31) & 0xff;
        const copy = Buffer.from(payload);
        rec.connection.send(payload, false);
        rec.connection.send(payload.toString('latin1'), true);
        const frames = decodeFrames(rec.output());
        assert.equal(frames.length, 2);
        for (const f of frames) assert.equal(f.masked, true);
        assert.ok(frames[0]!.payload.equals(payload));
        assert.equal(frames[1]!.payload.toString(), payload.toString('latin1'));
        assert.ok(payload.equals(copy), "the caller's buffer is left untouched");
      });
    }

    it('two frames get different masking keys', () => {
      const rec = new Recorder({ role: 'client' });
      rec.connection.send('a', true);
      rec.connection.send('a', true);
      const [a, b] = decodeFrames(rec.output());
      assert.notDeepEqual(a!.maskKey, b!.maskKey);
    });
  });
});
