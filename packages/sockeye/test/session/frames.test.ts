/** The data frames a session server builds and keeps for replay (`session/frames.ts`). */
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SessionCore } from '../../src/session/core.js';
import { FrameBuilder, MAX_SLAB } from '../../src/session/frames.js';
import { TextBytes } from '../../src/session/wire.js';

/** What a frame must hold: `d`, then the payload's bytes (text as UTF-8). */
function expected(payload: string | Uint8Array): Buffer {
  return Buffer.concat([Buffer.from('d'), typeof payload === 'string' ? Buffer.from(payload) : payload]);
}

/** A message of a test: text (as a string, or as its UTF-8 bytes) or binary. */
type Message =
  | { kind: 'text'; data: string }
  | { kind: 'text-bytes'; data: string }
  | { kind: 'binary'; data: Uint8Array };

const message: fc.Arbitrary<Message> = fc.oneof(
  // Any UTF-16, lone surrogates included (they go as U+FFFD, as Buffer.from writes them).
  fc.record({ kind: fc.constant('text' as const), data: fc.string({ unit: 'binary', maxLength: 40 }) }),
  // Now and then text past what a slab's quarter may hold at 3 bytes a unit: counted first.
  fc.record({
    kind: fc.constant('text' as const),
    data: fc.string({
      unit: 'grapheme',
      minLength: Math.ceil(MAX_SLAB / 12),
      maxLength: Math.ceil(MAX_SLAB / 12) + 40,
    }),
  }),
  fc.record({
    kind: fc.constant('text-bytes' as const),
    data: fc.string({ unit: 'grapheme', maxLength: 40 }),
  }),
  fc.record({ kind: fc.constant('binary' as const), data: fc.uint8Array({ maxLength: 2000 }) }),
  // Now and then one past a quarter of a slab: memory of its own.
  fc.record({
    kind: fc.constant('binary' as const),
    data: fc.uint8Array({ minLength: MAX_SLAB / 4, maxLength: MAX_SLAB / 4 + 10 }),
  }),
);

function build(frames: FrameBuilder, m: Message, kept: number): Uint8Array {
  switch (m.kind) {
    case 'text':
      return frames.text(m.data, kept);
    case 'text-bytes':
      return frames.textFromBytes(Buffer.from(m.data), kept);
    case 'binary':
      return frames.binary(m.data, kept);
  }
}

describe('FrameBuilder', () => {
  it('builds `d` and the payload, text as TextBytes and binary as plain bytes', () => {
    const frames = new FrameBuilder();
    const text = frames.text('héllo 👋', 0);
    assert.ok(text instanceof TextBytes);
    assert.deepEqual(Buffer.from(text), expected('héllo 👋'));
    const fromBytes = frames.textFromBytes(Buffer.from('日本語'), text.length);
    assert.ok(fromBytes instanceof TextBytes);
    assert.deepEqual(Buffer.from(fromBytes), expected('日本語'));
    const binary = frames.binary(new Uint8Array([0, 255, 0x64]), 0);
    assert.ok(!(binary instanceof TextBytes));
    assert.deepEqual(Buffer.from(binary), expected(new Uint8Array([0, 255, 0x64])));
    assert.deepEqual(Buffer.from(frames.text('', 0)), Buffer.from('d'));
  });

  it('copies: the caller may reuse its buffer once the frame is built', () => {
    const frames = new FrameBuilder();
    const source = Buffer.from('abc');
    const frame = frames.textFromBytes(source, 0);
    source.fill(0x7a);
    assert.deepEqual(Buffer.from(frame), expected('abc'));
  });

  it('sends bytes that are not UTF-8 as their decoding, never as an invalid text message', () => {
    const frames = new FrameBuilder();
    const frame = frames.textFromBytes(new Uint8Array([0x61, 0xff, 0x62, 0xe2, 0x82]), 0);
    assert.deepEqual(Buffer.from(frame), expected('a\uFFFDb\uFFFD'));
    // Bytes the caller vouches for (the WebSocket parser checked them) are not checked again.
    assert.deepEqual(Buffer.from(frames.textFromBytes(Buffer.from('ok'), 0, true)), expected('ok'));
  });

  it('a frame many sessions keep (a topic message) has memory of its own', () => {
    const shared = new FrameBuilder(false);
    const one = shared.text('a', 0);
    const two = shared.text('b', 0);
    assert.notEqual(one.buffer, two.buffer);
    assert.equal(one.buffer.byteLength, 2);
  });

  it('property: no frame is ever changed by the ones built after it', () => {
    fc.assert(
      fc.property(
        fc.array(message, { maxLength: 120 }),
        fc.array(fc.boolean(), { maxLength: 120 }),
        (messages, releases) => {
          const frames = new FrameBuilder();
          const built: [Uint8Array, Buffer][] = [];
          let kept = 0;
          messages.forEach((m, i) => {
            const frame = build(frames, m, kept);
            kept += frame.length - 1;
            built.push([frame, expected(m.data)]);
            assert.equal(frame instanceof TextBytes, m.kind !== 'binary');
            if (releases[i] === true) frames.release();
          });
          for (const [frame, bytes] of built) assert.deepEqual(Buffer.from(frame), bytes);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('property: what the kept frames pin is their bytes plus at most two slabs', () => {
    // A replay buffer (oldest first) fed by the builder and drained by random
    // acknowledgements, as a session's is: the memory its frames keep alive (every
    // distinct buffer under them) stays within its bytes plus two of the largest slab.
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            message.map((m) => ({ send: m })),
            fc.nat({ max: 40 }).map((n) => ({ ack: n })),
          ),
          {
            maxLength: 300,
          },
        ),
        (steps) => {
          const frames = new FrameBuilder();
          const kept: Uint8Array[] = [];
          let keptBytes = 0;
          for (const step of steps) {
            if ('send' in step) {
              const frame = build(frames, step.send, keptBytes);
              kept.push(frame);
              keptBytes += frame.length;
            } else {
              for (const frame of kept.splice(0, step.ack)) keptBytes -= frame.length;
            }
            const pinned = new Set(kept.map((frame) => frame.buffer));
            let pinnedBytes = 0;
            for (const buffer of pinned) pinnedBytes += buffer.byteLength;
            assert.ok(
              pinnedBytes <= keptBytes + 2 * MAX_SLAB,
              `${pinnedBytes} bytes pinned for ${keptBytes} kept`,
            );
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a session that sends now and then uses small slabs', () => {
    const frames = new FrameBuilder();
    const frame = frames.text('hi', 0);
    assert.ok(frame.buffer.byteLength <= 256, `a ${frame.buffer.byteLength}-byte slab for one small message`);
  });
});

describe('SessionCore with frames built as bytes', () => {
  it('keeps text given as bytes as text: the snapshot has the string, and a resume elsewhere sends it as text', () => {
    const frames = new FrameBuilder();
    const core = new SessionCore('id', 'e1');
    core.link(0);
    const frame = frames.textFromBytes(Buffer.from('ünïcødé ✓'), 0);
    core.sendFrame(frame, 1000, frame.length - 1);
    core.sendFrame(frames.binary(new Uint8Array([7]), 0), 1000, 1);
    // The link writes the very frame kept (no copy, no encoding).
    const output = core.takeOutput();
    assert.equal(output.length, 2);
    assert.equal(output[0], frame);
    const snapshot = core.snapshot();
    assert.deepEqual(
      snapshot.entries.map((entry) => entry.data),
      ['ünïcødé ✓', new Uint8Array([7])],
    );
    assert.equal(core.bufferedBytes, Buffer.byteLength('ünïcødé ✓') + 1);
    // Another process restores it: text goes out as a text data frame.
    const moved = new SessionCore('id', 'e2', {}, snapshot);
    assert.ok(moved.link(0));
    const replayed = moved.takeOutput();
    assert.equal(replayed[0], 'dünïcødé ✓');
    assert.deepEqual(replayed[1], new Uint8Array([0x64, 7]));
  });
});
