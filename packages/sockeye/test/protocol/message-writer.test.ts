/**
 * Sending a message in fragments (RFC 6455 section 5.4) through a MessageWriter: the
 * frames it writes are always a valid sequence for the peer's parser, whatever else is
 * sent meanwhile (other messages wait behind it; control frames may go between its
 * frames), and misuse is a MessageWriterError, never a frame the peer rejects.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MessageWriterError, Opcode, type PreparedMessage } from '../../src/protocol/index.js';
import { decodeFrames, Recorder } from './helpers.js';

const RUNS = process.env.CI === 'true' ? 2_000 : 300;

/** What `sender` wrote, fed to a peer of the other role: its messages, or its failure. */
function peerOf(sender: Recorder): Recorder {
  const peer = new Recorder({ role: sender.connection.role === 'server' ? 'client' : 'server' });
  peer.receive(Buffer.concat(sender.connection.takeOutput()));
  return peer;
}

function texts(rec: Recorder): string[] {
  return rec.messages().map((m) => m.data.toString());
}

describe('RFC 6455 5.4: a fragmented message, written with a MessageWriter', () => {
  it('a message sent meanwhile waits behind it: the peer gets both, whole, in order (it used to get 1002)', () => {
    const server = new Recorder({ role: 'server' });
    const writer = server.connection.startMessage(true);
    writer.write('frag');
    assert.equal(server.connection.send('whole', true), true);
    writer.end('mented');
    const frames = decodeFrames(Buffer.concat(server.connection.takeOutput()));
    assert.deepEqual(
      frames.map((f) => [f.opcode, f.fin, f.payload.toString()]),
      [
        [Opcode.Text, false, 'frag'],
        [Opcode.Continuation, true, 'mented'],
        [Opcode.Text, true, 'whole'],
      ],
    );
  });

  it('the earlier sendFragment() then send() (1002 at the peer before): the send waits behind the message', () => {
    const server = new Recorder({ role: 'server' });
    server.connection.sendFragment('frag', true, false, true);
    server.connection.send('whole', true);
    server.connection.sendFragment('mented', true, true, false);
    const peer = peerOf(server);
    assert.equal(peer.closed(), undefined, 'the peer did not fail the connection');
    assert.deepEqual(texts(peer), ['fragmented', 'whole']);
    assert.throws(() => server.connection.sendFragment('x', true, true, false), MessageWriterError);
  });

  it('the peer parses it: messages in order, no failure', () => {
    const client = new Recorder({ role: 'client' });
    const writer = client.connection.startMessage(false);
    writer.write(Buffer.from('ab'));
    client.connection.send('between', true);
    writer.write(Buffer.from('cd'));
    writer.end();
    const peer = peerOf(client);
    assert.equal(peer.closed(), undefined);
    assert.deepEqual(
      peer.messages().map((m) => [m.data.toString(), m.isText]),
      [
        ['abcd', false],
        ['between', true],
      ],
    );
  });

  it('a ping may go between its frames (control frames interleave, section 5.4)', () => {
    const server = new Recorder({ role: 'server' });
    const writer = server.connection.startMessage(true);
    writer.write('a');
    server.connection.ping('p');
    writer.end('b');
    const frames = decodeFrames(Buffer.concat(server.connection.takeOutput()));
    assert.deepEqual(
      frames.map((f) => f.opcode),
      [Opcode.Text, Opcode.Ping, Opcode.Continuation],
    );
  });

  it('messages waiting behind it count in bufferedBytes, prepared ones too', () => {
    const server = new Recorder({ role: 'server' });
    const writer = server.connection.startMessage(true);
    const before = server.connection.bufferedBytes;
    server.connection.send('12345', true);
    const prepared: PreparedMessage = {
      data: Buffer.from('abc'),
      isText: true,
      extension: '',
      encoded: null,
      windowBits: 0,
    };
    assert.equal(server.connection.sendPrepared(prepared), true);
    assert.equal(server.connection.bufferedBytes, before + 8);
    writer.end('!');
    assert.deepEqual(texts(peerOf(server)), ['!', '12345', 'abc']);
  });

  it('misuse throws a MessageWriterError: a second message before the first ends, a write after end()', () => {
    const server = new Recorder({ role: 'server' });
    const writer = server.connection.startMessage(true);
    assert.throws(
      () => server.connection.startMessage(false),
      (error: unknown) => error instanceof MessageWriterError && error.code === 'message-in-progress',
    );
    writer.end('x');
    assert.equal(writer.ended, true);
    assert.throws(
      () => writer.write('y'),
      (error: unknown) => error instanceof MessageWriterError && error.code === 'message-ended',
    );
    assert.throws(() => writer.end(), MessageWriterError);
    // A new message may start once the first ended.
    server.connection.startMessage(false).end(Buffer.from('z'));
    assert.deepEqual(texts(peerOf(server)), ['x', 'z']);
  });

  it('after a close frame, writes return false and what waited is dropped', () => {
    const server = new Recorder({ role: 'server' });
    const writer = server.connection.startMessage(true);
    writer.write('a');
    server.connection.send('waiting', true);
    server.connection.close(1000);
    assert.equal(server.connection.bufferedBytes > 0, true, 'the frames already queued stay');
    assert.equal(writer.write('b'), false);
    assert.equal(writer.end('c'), false);
    assert.equal(server.connection.startMessage(true).write('d'), false);
    const frames = decodeFrames(Buffer.concat(server.connection.takeOutput()));
    assert.deepEqual(
      frames.map((f) => f.opcode),
      [Opcode.Text, Opcode.Close],
    );
  });
});

describe('property: any interleaving of writer calls, sends and pings is valid for the peer', () => {
  type Op =
    | { kind: 'start'; isText: boolean }
    | { kind: 'write'; text: string }
    | { kind: 'end'; text: string }
    | { kind: 'send'; text: string }
    | { kind: 'ping' };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('start' as const), isText: fc.boolean() }),
    fc.record({ kind: fc.constant('write' as const), text: fc.string({ maxLength: 8 }) }),
    fc.record({ kind: fc.constant('end' as const), text: fc.string({ maxLength: 8 }) }),
    fc.record({ kind: fc.constant('send' as const), text: fc.string({ maxLength: 8 }) }),
    fc.constant({ kind: 'ping' as const }),
  );

  for (const role of ['server', 'client'] as const) {
    it(`as the ${role}`, () => {
      fc.assert(
        fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
          const sender = new Recorder({ role });
          // The model: messages in the order the peer must see them.
          const expected: string[] = [];
          let waiting: string[] = [];
          let writer: ReturnType<typeof sender.connection.startMessage> | null = null;
          let current = '';
          for (const op of ops) {
            if (op.kind === 'start') {
              if (writer !== null) {
                assert.throws(() => sender.connection.startMessage(op.isText), MessageWriterError);
                continue;
              }
              writer = sender.connection.startMessage(true);
              current = '';
            } else if (op.kind === 'write' && writer !== null) {
              writer.write(op.text);
              current += op.text;
            } else if (op.kind === 'end' && writer !== null) {
              writer.end(op.text);
              expected.push(current + op.text, ...waiting);
              waiting = [];
              writer = null;
            } else if (op.kind === 'send') {
              sender.connection.send(op.text, true);
              if (writer === null) expected.push(op.text);
              else waiting.push(op.text);
            } else if (op.kind === 'ping') {
              sender.connection.ping('p');
            }
          }
          const peer = peerOf(sender);
          assert.equal(peer.closed(), undefined, 'the peer accepted every frame');
          assert.deepEqual(texts(peer), expected);
        }),
        { numRuns: RUNS },
      );
    });
  }
});
