/**
 * Property tests of the protocol core (fast-check): 10,000 cases each under CI=true,
 * 1,000 otherwise. Each property states a rule of RFC 6455 or of the limits that must
 * hold for every input, not just the hand-picked ones of the unit tests.
 */
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  FIN_BIT,
  isValidWireCloseCode,
  maskSlow,
  Opcode,
  OutputQueue,
  ProtocolError,
  type Role,
  Utf8Validator,
  unmask,
} from '../../src/protocol/index.js';
import { closePayload, collectingParser, decodeFrames, frame, noiseBytes, Recorder } from './helpers.js';

const IN_CI = process.env.CI === 'true' || process.env.CI === '1';
const RUNS = IN_CI ? 10_000 : 1_000;
/** A generous guard per property: the CI run does ten times the work on a shared machine. */
const TIMEOUT = IN_CI ? 600_000 : 120_000;

// ---- generators ----

const keyArb = fc.uint8Array({ minLength: 4, maxLength: 4 });

const controlArb = fc.record({
  ping: fc.boolean(),
  payload: fc.uint8Array({ maxLength: 125 }),
  key: keyArb,
});

const messageArb = fc.record({
  isText: fc.boolean(),
  text: fc.string({ unit: 'binary', maxLength: 40 }),
  bytes: fc.uint8Array({ maxLength: 200 }),
  /** Where the payload is cut into fragments (clipped to its length; repeats give empty fragments). */
  cuts: fc.array(fc.nat({ max: 200 }), { maxLength: 4 }),
  /** Control frames between fragments: `controls[i]` goes after fragment i (not after the last). */
  controls: fc.array(fc.option(controlArb, { nil: undefined }), { maxLength: 5 }),
  /** A control frame after the message. */
  after: fc.option(controlArb, { nil: undefined }),
  key: keyArb,
});

const streamArb = fc.record({
  role: fc.constantFrom<Role>('server', 'client'),
  messages: fc.array(messageArb, { maxLength: 4 }),
  close: fc.option(fc.constantFrom(1000, 1001, 1011, 3000, 4999), { nil: undefined }),
});

type Stream = typeof streamArb extends fc.Arbitrary<infer T> ? T : never;

/** What a Connection must report for a stream, in order. */
type Expected = Array<[type: 'message' | 'ping' | 'pong' | 'close', data: string]>;

/** Build the bytes of a valid stream and the events it must produce. */
function build(stream: Stream): { bytes: Buffer; expected: Expected } {
  const masked = stream.role === 'server';
  const parts: Buffer[] = [];
  const expected: Expected = [];
  const control = (c: { ping: boolean; payload: Uint8Array; key: Uint8Array }) => {
    parts.push(frame(c.ping ? Opcode.Ping : Opcode.Pong, c.payload, { mask: masked ? c.key : false }));
    expected.push([c.ping ? 'ping' : 'pong', Buffer.from(c.payload).toString('hex')]);
  };
  for (const m of stream.messages) {
    const payload = m.isText ? Buffer.from(m.text, 'utf8') : Buffer.from(m.bytes);
    const cuts = [...new Set(m.cuts.map((c) => Math.min(c, payload.length)))].sort((a, b) => a - b);
    const bounds = [0, ...cuts, payload.length];
    const pieces = bounds.slice(1).map((end, i) => payload.subarray(bounds[i], end));
    pieces.forEach((piece, i) => {
      const opcode = i === 0 ? (m.isText ? Opcode.Text : Opcode.Binary) : Opcode.Continuation;
      parts.push(frame(opcode, piece, { fin: i === pieces.length - 1, mask: masked ? m.key : false }));
      const between = m.controls[i];
      if (i < pieces.length - 1 && between !== undefined) control(between);
    });
    expected.push(['message', `${m.isText ? 'text' : 'binary'}:${payload.toString('hex')}`]);
    if (m.after !== undefined) control(m.after);
  }
  if (stream.close !== undefined) {
    parts.push(frame(Opcode.Close, closePayload(stream.close), { mask: masked }));
    expected.push(['close', String(stream.close)]);
  }
  return { bytes: Buffer.concat(parts), expected };
}

/** Chunking: all 1-byte chunks, or sizes taken in turn from a list. */
const splitArb = fc.oneof(
  fc.constant<number[]>([1]),
  fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 16 }),
);

function split(bytes: Buffer, sizes: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (let pos = 0, i = 0; pos < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    chunks.push(Buffer.from(bytes.subarray(pos, pos + size)));
    pos += size;
  }
  return chunks;
}

/** The events a Recorder saw, in the shape of {@link Expected}. */
function seen(rec: Recorder): Expected {
  return rec.events.flatMap((e): Expected => {
    switch (e.type) {
      case 'message':
        return [['message', `${e.isText ? 'text' : 'binary'}:${e.data.toString('hex')}`]];
      case 'ping':
      case 'pong':
        return [[e.type, e.data.toString('hex')]];
      case 'close':
        assert.equal(e.info.error, null, e.info.error?.message);
        return [['close', String(e.info.code)]];
      default:
        return [];
    }
  });
}

describe('properties of the framing (RFC 6455 5)', () => {
  it('any valid frame sequence split anywhere yields the same messages as fed whole', {
    timeout: TIMEOUT,
  }, () => {
    fc.assert(
      fc.property(streamArb, splitArb, (stream, sizes) => {
        const { bytes, expected } = build(stream);
        const whole = new Recorder({ role: stream.role }).receive(bytes);
        const chunked = new Recorder({ role: stream.role });
        for (const chunk of split(bytes, sizes)) chunked.connection.receive(chunk);
        assert.deepEqual(seen(whole), expected);
        assert.deepEqual(seen(chunked), expected);
        // The same pongs (and close echo) are written, whatever the chunking.
        const strip = (rec: Recorder) =>
          decodeFrames(rec.output()).map((f) => [f.opcode, f.fin, f.payload.toString('hex')]);
        assert.deepEqual(strip(chunked), strip(whole));
      }),
      { numRuns: RUNS },
    );
  });

  it('random mutations of valid streams only ever yield valid messages or a ProtocolError close, never an oversized allocation', {
    timeout: TIMEOUT,
  }, () => {
    const maxPayload = 1024;
    const mutationArb = fc.array(
      fc.record({
        at: fc.nat(),
        kind: fc.constantFrom('flip', 'set', 'insert', 'delete'),
        value: fc.integer({ min: 0, max: 255 }),
      }),
      { minLength: 1, maxLength: 8 },
    );
    const original = {
      allocUnsafe: Buffer.allocUnsafe,
      alloc: Buffer.alloc,
      allocUnsafeSlow: Buffer.allocUnsafeSlow,
    };
    let largest = 0;
    let largestSlow = 0;
    Buffer.allocUnsafe = (size: number) => {
      largest = Math.max(largest, size);
      return original.allocUnsafe(size);
    };
    Buffer.alloc = ((size: number, fill?: string | Uint8Array | number, encoding?: BufferEncoding) => {
      largest = Math.max(largest, size);
      return original.alloc(size, fill, encoding);
    }) as typeof Buffer.alloc;
    // The only user in the core is OutputQueue's shared 64 KiB output slab: fixed-size, never input-sized.
    Buffer.allocUnsafeSlow = (size: number) => {
      largestSlow = Math.max(largestSlow, size);
      return original.allocUnsafeSlow(size);
    };
    try {
      fc.assert(
        fc.property(streamArb, mutationArb, splitArb, (stream, mutations, sizes) => {
          const bytes = [...build(stream).bytes];
          for (const m of mutations) {
            const at = bytes.length === 0 ? 0 : m.at % bytes.length;
            if (m.kind === 'insert' || bytes.length === 0) bytes.splice(at, 0, m.value);
            else if (m.kind === 'delete') bytes.splice(at, 1);
            else if (m.kind === 'flip') bytes[at] = bytes[at]! ^ (1 << (m.value & 7));
            else bytes[at] = m.value;
          }
          const rec = new Recorder({ role: stream.role, maxPayload });
          for (const chunk of split(Buffer.from(bytes), sizes)) rec.connection.receive(chunk); // must not throw
          rec.connection.receiveEof();
          assert.equal(rec.closeCount(), 1);
          for (const event of rec.events) {
            if (event.type === 'message') {
              assert.ok(event.data.length <= maxPayload);
              if (event.isText) assert.ok(isUtf8(event.data), 'a text message is valid UTF-8');
            } else if (event.type === 'ping' || event.type === 'pong') {
              assert.ok(event.data.length <= 125);
            } else if (event.type === 'close') {
              const { code, error } = event.info;
              if (error !== null) {
                assert.ok(error instanceof ProtocolError);
                assert.equal(code, error.closeCode);
              } else {
                assert.ok(isValidWireCloseCode(code) || code === 1005 || code === 1006, `code ${code}`);
              }
            }
          }
        }),
        { numRuns: RUNS },
      );
    } finally {
      Buffer.allocUnsafe = original.allocUnsafe;
      Buffer.alloc = original.alloc;
      Buffer.allocUnsafeSlow = original.allocUnsafeSlow;
    }
    console.log(
      `  largest allocation: ${largest} bytes (maxPayload ${maxPayload}); output slab ${largestSlow}`,
    );
    assert.ok(largest <= maxPayload + 128, `an allocation of ${largest} bytes`);
    assert.ok(largestSlow <= 64 * 1024);
  });

  it('serialize then parse is identity (lengths 0, 1, 125, 126, 127, 65535, 65536 and random; masked and unmasked)', {
    timeout: TIMEOUT,
  }, () => {
    const lengthArb = fc.oneof(
      fc.constantFrom(0, 1, 125, 126, 127, 65535, 65536),
      fc.integer({ min: 0, max: 70_000 }),
      fc.integer({ min: 0, max: 300 }),
    );
    fc.assert(
      fc.property(
        lengthArb,
        fc.boolean(),
        fc.constantFrom(Opcode.Text, Opcode.Binary, Opcode.Continuation),
        fc.boolean(),
        fc.integer(),
        fc.boolean(),
        (length, masked, opcode, fin, seed, asString) => {
          const payload = noiseBytes(length, seed);
          if (asString) for (let i = 0; i < length; i++) payload[i]! &= 0x7f;
          const copy = Buffer.from(payload);
          const queue = new OutputQueue(masked);
          queue.push((fin ? FIN_BIT : 0) | opcode, asString ? payload.toString('latin1') : payload);
          const { parser, frames } = collectingParser(masked ? 'server' : 'client');
          if (opcode === Opcode.Continuation)
            parser.push(frame(Opcode.Binary, '', { fin: false, mask: masked }));
          for (const chunk of queue.take()) parser.push(Buffer.from(chunk));
          const f = frames[frames.length - 1]!;
          assert.equal(f.header.fin, fin);
          assert.equal(f.header.opcode, opcode);
          assert.equal(f.header.masked, masked);
          assert.equal(f.header.rsv, 0);
          assert.equal(f.header.length, length);
          assert.ok(f.payload.equals(copy));
          assert.ok(payload.equals(copy), 'the caller payload is untouched');
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('properties of masking (RFC 6455 5.3)', () => {
  it('unmask (fast) equals maskSlow for any data, key, offset and alignment', { timeout: TIMEOUT }, () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        keyArb,
        fc.nat({ max: 7 }),
        fc.nat({ max: 7 }),
        (data, key, keyOffset, align) => {
          const expected = Buffer.from(data);
          maskSlow(expected, key, keyOffset);
          const backing = new Uint8Array(data.length + 8);
          const view = backing.subarray(align, align + data.length);
          view.set(data);
          unmask(view, key, keyOffset);
          assert.deepEqual(Buffer.from(view), expected);
          assert.ok(
            backing.subarray(0, align).every((b) => b === 0),
            'nothing before the view is touched',
          );
          assert.ok(
            backing.subarray(align + data.length).every((b) => b === 0),
            'nothing after the view is touched',
          );
        },
      ),
      { numRuns: RUNS },
    );
  });
});

/** Index of the first byte after which `bytes` can no longer be valid UTF-8 (WHATWG decoder, streaming), or -1. */
function firstInvalid(bytes: Uint8Array): number {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (let i = 0; i < bytes.length; i++) {
    try {
      decoder.decode(bytes.subarray(i, i + 1), { stream: true });
    } catch {
      return i;
    }
  }
  return -1;
}

describe('properties of UTF-8 validation (RFC 3629, RFC 6455 8.1)', () => {
  // Mostly valid text with a few stray bytes, so that failures land anywhere.
  const bytesArb = fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc
      .array(
        fc.oneof(
          {
            weight: 8,
            arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }).map((s) => Buffer.from(s)),
          },
          { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 2 }) },
        ),
        { maxLength: 12 },
      )
      .map((parts) => Buffer.concat(parts)),
  );

  it('Utf8Validator over random splits agrees with isUtf8 and fails at the first invalid byte', {
    timeout: TIMEOUT,
  }, () => {
    fc.assert(
      fc.property(
        bytesArb,
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 8 }),
        (bytes, sizes) => {
          const bad = firstInvalid(bytes);
          const validator = new Utf8Validator();
          let rejectedIn: [number, number] | null = null;
          for (let pos = 0, i = 0; pos < bytes.length; i++) {
            const end = Math.min(bytes.length, pos + sizes[i % sizes.length]!);
            if (!validator.push(bytes.subarray(pos, end))) {
              rejectedIn = [pos, end];
              break;
            }
            pos = end;
          }
          if (bad === -1) {
            assert.equal(rejectedIn, null, 'a valid prefix is never rejected');
            assert.equal(validator.complete, isUtf8(bytes));
          } else {
            assert.ok(rejectedIn !== null, 'an invalid byte is always rejected');
            assert.ok(
              rejectedIn[0] <= bad && bad < rejectedIn[1],
              `rejected in ${rejectedIn}, first bad byte ${bad}`,
            );
            assert.equal(isUtf8(bytes), false);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});
