/** The sans-I/O session core and its wire format: byte vectors, rules, and properties over broken links. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decodeFrame,
  encodeAck,
  encodeData,
  encodeEnd,
  encodeHello,
  encodePing,
  encodePong,
  encodeWelcome,
  messageSize,
  SessionCore,
  SessionError,
  type WireMessage,
} from '../../src/session/index.js';

const bytes = (...values: number[]) => new Uint8Array(values);

describe('wire format: byte-exact vectors', () => {
  const vectors: [string, WireMessage, WireMessage][] = [
    ['text data', encodeData('hi'), 'dhi'],
    ['empty text data', encodeData(''), 'd'],
    ['binary data', encodeData(bytes(1, 2, 255)), bytes(0x64, 1, 2, 255)],
    ['empty binary data', encodeData(bytes()), bytes(0x64)],
    ['hello, new session', encodeHello(0), 'h 0'],
    ['hello, resume', encodeHello(17, 'AbC_-9', 'e1'), 'h 17 AbC_-9 e1'],
    ['welcome, resumed', encodeWelcome('AbC_-9', 'e1', 42, true), 'w AbC_-9 e1 42 r'],
    ['welcome, new', encodeWelcome('id', 'ep', 0, false), 'w id ep 0 n'],
    ['ack', encodeAck(9007199254740991), 'a 9007199254740991'],
    ['ping', encodePing('7'), 'p 7'],
    ['pong', encodePong('7'), 'q 7'],
    ['end', encodeEnd('bye'), 'x bye'],
    ['end without reason', encodeEnd(), 'x'],
  ];
  for (const [name, actual, expected] of vectors) {
    it(`encodes ${name}`, () => assert.deepEqual(actual, expected));
  }

  it('decodes every kind', () => {
    assert.deepEqual(decodeFrame('dhi'), { type: 'data', data: 'hi' });
    assert.deepEqual(decodeFrame(bytes(0x64, 7)), { type: 'data', data: bytes(7) });
    assert.deepEqual(decodeFrame('h 0'), { type: 'hello', received: 0, id: undefined, epoch: undefined });
    assert.deepEqual(decodeFrame('h 3 abc e'), { type: 'hello', received: 3, id: 'abc', epoch: 'e' });
    assert.deepEqual(decodeFrame('w abc e 5 r'), {
      type: 'welcome',
      id: 'abc',
      epoch: 'e',
      received: 5,
      resumed: true,
    });
    assert.deepEqual(decodeFrame('a 12'), { type: 'ack', seq: 12 });
    assert.deepEqual(decodeFrame('p t'), { type: 'ping', token: 't' });
    assert.deepEqual(decodeFrame('q t'), { type: 'pong', token: 't' });
    assert.deepEqual(decodeFrame('x'), { type: 'end', reason: '' });
    assert.deepEqual(decodeFrame('x going away'), { type: 'end', reason: 'going away' });
  });

  it('data keeps the message type: text stays text, binary stays binary', () => {
    assert.equal(typeof (decodeFrame(encodeData('é')) as { data: WireMessage }).data, 'string');
    assert.ok((decodeFrame(encodeData(bytes(0x61))) as { data: WireMessage }).data instanceof Uint8Array);
  });

  const malformed: [string, WireMessage][] = [
    ['an empty text message', ''],
    ['an empty binary message', bytes()],
    ['a binary control frame', bytes(0x61, 0x20, 0x31)],
    ['an unknown kind', 'z 1'],
    ['a missing separator', 'a1'],
    ['an ack without a number', 'a '],
    ['a leading zero', 'a 01'],
    ['a negative number', 'a -1'],
    ['a number past 2^53 - 1', 'a 9007199254740992'],
    ['a hex number', 'a 0x1'],
    ['two spaces', 'a  1'],
    ['an extra field', 'a 1 2'],
    ['a hello with 2 fields', 'h 1 id'],
    ['a welcome with a bad flag', 'w id e 1 y'],
    ['a token with a space character class', 'p a.b'],
    ['a token too long', `p ${'t'.repeat(33)}`],
    ['an id too long', `h 0 ${'i'.repeat(65)} e`],
    ['an end reason too long', `x ${'r'.repeat(124)}`],
  ];
  for (const [name, message] of malformed) {
    it(`refuses ${name}`, () => {
      assert.throws(
        () => decodeFrame(message),
        (error: unknown) =>
          error instanceof SessionError && error.rule === 'malformed-frame' && error.closeCode === 1002,
      );
    });
  }

  it('charges the UTF-8 length of text', () => {
    assert.equal(messageSize('abc'), 3);
    assert.equal(messageSize('é'), 2);
    assert.equal(messageSize('€'), 3);
    assert.equal(messageSize('😀'), 4);
    assert.equal(messageSize(bytes(1, 2)), 2);
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => messageSize(s) === Buffer.byteLength(s)));
  });
});

/** A linked pair: client and server cores with their handshake done. */
function pair(limits = {}): { client: SessionCore; server: SessionCore } {
  const client = new SessionCore('', '', limits);
  const server = new SessionCore('id', 'ep', limits);
  server.link(client.received);
  client.id = 'id';
  client.epoch = 'ep';
  client.link(server.received);
  return { client, server };
}

/** Deliver `from`'s output to `to`; the application messages `to` saw. */
function pump(from: SessionCore, to: SessionCore): WireMessage[] {
  const seen: WireMessage[] = [];
  for (const frame of from.takeOutput()) {
    const event = to.receive(frame);
    if (event?.type === 'message') seen.push(event.data);
  }
  return seen;
}

describe('SessionCore', () => {
  it('numbers messages, acknowledges cumulatively and drops what was acknowledged', () => {
    const { client, server } = pair();
    client.send('a', 0);
    client.send(bytes(1), 0);
    assert.deepEqual(pump(client, server), ['a', bytes(1)]);
    assert.equal(client.bufferedMessages, 2);
    assert.equal(server.ackPending, true);
    server.flushAck();
    assert.deepEqual(server.takeOutput(), ['a 2']);
    client.receive('a 2');
    assert.equal(client.bufferedMessages, 0);
    assert.equal(client.bufferedBytes, 0);
    assert.equal(client.acknowledged, 2);
  });

  it('acknowledges by itself every ackEvery messages', () => {
    const { client, server } = pair({ ackEvery: 3 });
    for (let i = 0; i < 7; i++) client.send(`${i}`, 0);
    pump(client, server);
    assert.deepEqual(server.takeOutput(), ['a 3', 'a 6']);
  });

  it('answers a ping with a pong carrying its token', () => {
    const { server } = pair();
    assert.deepEqual(server.receive('p abc'), { type: 'ping', token: 'abc' });
    assert.deepEqual(server.takeOutput(), ['q abc']);
  });

  it('refuses an acknowledgement of a message never sent', () => {
    const { client } = pair();
    client.send('a', 0);
    assert.throws(() => client.receive('a 2'), { rule: 'ack-out-of-range' });
  });

  it('refuses a handshake frame after the handshake', () => {
    const { client } = pair();
    assert.throws(() => client.receive('w id ep 0 n'), { rule: 'unexpected-frame' });
  });

  it('replays from the peer’s received count after a break, even when nothing was acknowledged', () => {
    const { client, server } = pair();
    client.send('1', 0);
    client.send('2', 0);
    const first = client.takeOutput();
    server.receive(first[0]!); // the second frame is lost with the link
    client.unlink();
    server.unlink();
    assert.equal(server.link(client.received), true);
    assert.equal(client.link(server.received), true);
    assert.deepEqual(pump(client, server), ['2']);
  });

  it('keeps messages sent while unlinked and sends them on resume', () => {
    const { client, server } = pair();
    client.unlink();
    server.unlink();
    client.send('while away', 0);
    assert.deepEqual(client.takeOutput(), []);
    server.link(client.received);
    client.link(server.received);
    assert.deepEqual(pump(client, server), ['while away']);
  });

  it('bounds the replay buffer by count and by bytes, and then cannot resume from before it', () => {
    const byCount = new SessionCore('i', 'e', { maxMessages: 2 });
    for (let i = 0; i < 5; i++) byCount.send('x', 0);
    assert.equal(byCount.bufferedMessages, 2);
    assert.equal(byCount.firstReplayable, 4);
    assert.equal(byCount.canResume(2), false);
    assert.equal(byCount.canResume(3), true);
    assert.equal(byCount.link(2), false);

    const byBytes = new SessionCore('i', 'e', { maxBytes: 10 });
    for (let i = 0; i < 5; i++) byBytes.send('abcd', 0);
    assert.equal(byBytes.bufferedBytes, 8);
    assert.equal(byBytes.bufferedMessages, 2);
  });

  it('keeps one message larger than maxBytes (the newest is never dropped by its own size)', () => {
    const core = new SessionCore('i', 'e', { maxBytes: 2 });
    core.send('abcdef', 0);
    assert.equal(core.bufferedMessages, 1);
  });

  it('expires messages older than maxAge at the now it is given', () => {
    const core = new SessionCore('i', 'e', { maxAge: 100 });
    core.send('old', 0);
    core.send('new', 150);
    assert.equal(core.expire(120), 1);
    assert.equal(core.bufferedMessages, 1);
    assert.equal(core.canResume(0), false);
    assert.equal(core.canResume(1), true);
  });

  it('refuses a peer that claims to have received more than was sent', () => {
    const core = new SessionCore('i', 'e');
    core.send('a', 0);
    assert.equal(core.canResume(2), false);
  });

  it('ends: queues an x frame, drops the buffer, and refuses further sends', () => {
    const { client, server } = pair();
    client.send('a', 0);
    pump(client, server);
    server.end('done');
    assert.deepEqual(server.takeOutput(), ['a 1', 'x done']);
    assert.throws(() => server.send('b', 0), { rule: 'session-ended' });
    assert.deepEqual(client.receive('x done'), { type: 'end', reason: 'done' });
    assert.equal(client.isEnded, true);
    assert.equal(client.bufferedMessages, 0);
  });

  it('tells unacknowledged (written) messages from never-written ones', () => {
    const { client } = pair();
    client.send('on the wire', 0);
    client.takeOutput();
    client.unlink();
    client.send('never written', 0);
    assert.deepEqual(
      client.unacknowledged().map((entry) => entry.data),
      ['on the wire'],
    );
    assert.deepEqual(
      client.unwritten().map((entry) => entry.data),
      ['never written'],
    );
  });

  it('refuses limits below their minimum', () => {
    for (const limits of [{ maxMessages: 0 }, { maxBytes: -1 }, { maxAge: Number.NaN }, { ackEvery: 0 }]) {
      assert.throws(() => new SessionCore('i', 'e', limits), RangeError, JSON.stringify(limits));
    }
  });

  it('continues from a snapshot', () => {
    const { client, server } = pair();
    server.send('s1', 0);
    server.send('s2', 0);
    pump(server, client);
    server.unlink();
    const moved = new SessionCore('id', 'ep', {}, server.snapshot());
    assert.equal(moved.link(1), true);
    assert.deepEqual(moved.takeOutput(), ['ds2']);
    assert.equal(moved.sent, 2);
  });

  describe('sendFrameNow: the caller writes the frame itself when nothing waits before it', () => {
    it('linked with nothing queued: the frame is counted as written and not queued', () => {
      const { client, server } = pair();
      assert.equal(client.sendFrameNow('da', 0, 1), true);
      assert.deepEqual(client.takeOutput(), []);
      assert.equal(client.sent, 1);
      assert.equal(client.bufferedMessages, 1);
      assert.deepEqual(
        client.unacknowledged().map((entry) => entry.data),
        ['a'],
      );
      server.receive('da');
      server.flushAck();
      client.receive(server.takeOutput()[0]!);
      assert.equal(client.bufferedMessages, 0);
    });

    it('behind a queued frame (an acknowledgement): queued after it, in order', () => {
      const { client, server } = pair();
      server.send('s', 0);
      pump(server, client);
      client.flushAck();
      assert.equal(client.hasOutput, true);
      assert.equal(client.sendFrameNow('da', 0, 1), false);
      assert.deepEqual(client.takeOutput(), ['a 1', 'da']);
      assert.equal(client.hasOutput, false);
    });

    it('unlinked: kept, never written, and replayed when a link resumes', () => {
      const { client, server } = pair();
      client.unlink();
      server.unlink();
      assert.equal(client.sendFrameNow('dwhile away', 0, 10), false);
      assert.deepEqual(client.takeOutput(), []);
      assert.deepEqual(
        client.unwritten().map((entry) => entry.data),
        ['while away'],
      );
      server.link(client.received);
      client.link(server.received);
      assert.deepEqual(pump(client, server), ['while away']);
    });

    it('refuses a frame once the session ended', () => {
      const { client } = pair();
      client.end();
      assert.throws(() => client.sendFrameNow('da', 0, 1), { rule: 'session-ended' });
    });
  });
});

/** One step of a random schedule over a pair of cores and the link between them. */
type Step =
  | { op: 'clientSend' | 'serverSend'; text: boolean; now: boolean }
  | { op: 'toServer' | 'toClient'; count: number }
  | { op: 'clientAck' | 'serverAck' | 'cut' | 'reconnect' };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    op: fc.constantFrom('clientSend' as const, 'serverSend' as const),
    text: fc.boolean(),
    now: fc.boolean(),
  }),
  fc.record({
    op: fc.constantFrom('toServer' as const, 'toClient' as const),
    count: fc.integer({ min: 0, max: 5 }),
  }),
  fc.record({
    op: fc.constantFrom('clientAck' as const, 'serverAck' as const, 'cut' as const, 'reconnect' as const),
  }),
);

describe('SessionCore properties', () => {
  it('every message arrives exactly once and in order, both ways, over random breaks, losses and resumes', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 200 }), fc.integer({ min: 1, max: 8 }), (steps, ackEvery) => {
        const client = new SessionCore('', '', { ackEvery });
        const server = new SessionCore('id', 'ep', { ackEvery });
        // The wire in each direction: frames written and not yet read. A cut loses them.
        let up: WireMessage[] = [];
        let down: WireMessage[] = [];
        let linked = false;
        const sentUp: string[] = [];
        const sentDown: string[] = [];
        const seenUp: string[] = [];
        const seenDown: string[] = [];
        const label = (data: WireMessage) =>
          typeof data === 'string' ? data : `b${Buffer.from(data).toString()}`;
        const drainOutputs = () => {
          up.push(...client.takeOutput());
          down.push(...server.takeOutput());
        };
        const handshake = () => {
          // hello carries the client's received count; welcome the server's.
          assert.equal(server.link(client.received), true);
          assert.equal(client.link(server.received), true);
          linked = true;
        };
        const deliver = (frames: WireMessage[], to: SessionCore, seen: string[], count: number) => {
          for (const frame of frames.splice(0, count)) {
            const event = to.receive(frame);
            if (event?.type === 'message') seen.push(label(event.data));
          }
        };
        handshake();
        for (const s of steps) {
          switch (s.op) {
            case 'clientSend':
            case 'serverSend': {
              const sender = s.op === 'clientSend' ? client : server;
              const log = s.op === 'clientSend' ? sentUp : sentDown;
              const body = `${s.op[0]}${log.length}`;
              log.push(s.text ? body : `b${body}`);
              const data = s.text ? body : new TextEncoder().encode(body);
              if (s.now) {
                // As a shell writing each frame as it is sent: an acknowledgement may wait
                // in the output queue, and the frame must then go behind it.
                sender.flushAck();
                const frame = encodeData(data);
                if (sender.sendFrameNow(frame, 0, messageSize(data))) {
                  (sender === client ? up : down).push(frame);
                }
              } else {
                sender.send(data, 0);
              }
              break;
            }
            case 'toServer':
              if (linked) deliver(up, server, seenUp, s.count);
              break;
            case 'toClient':
              if (linked) deliver(down, client, seenDown, s.count);
              break;
            case 'clientAck':
              client.flushAck();
              break;
            case 'serverAck':
              server.flushAck();
              break;
            case 'cut':
              up = [];
              down = [];
              client.unlink();
              server.unlink();
              linked = false;
              break;
            case 'reconnect':
              if (!linked) handshake();
              break;
          }
          drainOutputs();
          // At every point, what was seen is a prefix of what was sent: no loss in the
          // middle, no duplicate, no reordering.
          assert.deepEqual(seenUp, sentUp.slice(0, seenUp.length));
          assert.deepEqual(seenDown, sentDown.slice(0, seenDown.length));
        }
        // Finally: a clean link and everything flows.
        if (!linked) handshake();
        for (let i = 0; i < 3; i++) {
          drainOutputs();
          deliver(up, server, seenUp, up.length);
          deliver(down, client, seenDown, down.length);
          client.flushAck();
          server.flushAck();
        }
        assert.deepEqual(seenUp, sentUp);
        assert.deepEqual(seenDown, sentDown);
        assert.equal(client.bufferedMessages, 0);
        assert.equal(server.bufferedMessages, 0);
      }),
      { numRuns: 300 },
    );
  });

  it('decode never throws anything but a SessionError, and encode then decode is identity', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.uint8Array()), (message) => {
        try {
          decodeFrame(message);
        } catch (error) {
          assert.ok(error instanceof SessionError);
        }
      }),
    );
    fc.assert(
      fc.property(fc.nat(), fc.string(), (seq, text) => {
        assert.deepEqual(decodeFrame(encodeAck(seq)), { type: 'ack', seq });
        assert.deepEqual(decodeFrame(encodeData(text)), { type: 'data', data: text });
      }),
    );
  });
});
