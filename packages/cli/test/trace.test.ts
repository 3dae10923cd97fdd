/**
 * The `-v` frame trace reads frame headers from a byte stream however it is cut: every
 * header is reported once, with its fields, and payloads are skipped without being kept.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeFrameHeader } from '@sockeye/sockeye/protocol';
import fc from 'fast-check';
import { describeTracedHeader, FrameTracer, type TracedHeader } from '../src/frame/trace.js';

const frameArbitrary = fc.record({
  fin: fc.boolean(),
  rsv: fc.constantFrom(0, 0x40, 0x20, 0x10, 0x70),
  opcode: fc.constantFrom(0, 1, 2, 8, 9, 10, 3, 11),
  // Around each length encoding's edges: 7-bit, 16-bit and 64-bit lengths.
  length: fc.oneof(fc.integer({ min: 0, max: 130 }), fc.integer({ min: 65_530, max: 65_545 })),
  maskKey: fc.option(fc.uint8Array({ minLength: 4, maxLength: 4 }), { nil: undefined }),
});

describe('FrameTracer', () => {
  it('reports every header of a stream cut anywhere, fields intact', () => {
    fc.assert(
      fc.property(
        fc.array(frameArbitrary, { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (frames, cuts) => {
          const stream = Buffer.concat(
            frames.flatMap((frame) => [encodeFrameHeader(frame), Buffer.alloc(frame.length, 0x7f)]),
          );
          const seen: TracedHeader[] = [];
          const tracer = new FrameTracer((header) => seen.push(header));
          const points = [...new Set(cuts.map((cut) => cut % (stream.length + 1)))].sort((a, b) => a - b);
          let from = 0;
          for (const point of [...points, stream.length]) {
            tracer.push(stream.subarray(from, point));
            from = point;
          }
          assert.deepEqual(
            seen,
            frames.map((frame) => ({
              fin: frame.fin,
              rsv1: (frame.rsv & 0x40) !== 0,
              rsv2: (frame.rsv & 0x20) !== 0,
              rsv3: (frame.rsv & 0x10) !== 0,
              opcode: frame.opcode,
              masked: frame.maskKey !== undefined,
              maskKey: frame.maskKey === undefined ? null : Buffer.from(frame.maskKey),
              payloadLength: frame.length,
            })),
          );
        },
      ),
    );
  });

  it('describes a header in one line', () => {
    let line = '';
    new FrameTracer((header) => {
      line = describeTracedHeader(header);
    }).push(Buffer.from('818537fa213d7f9f4d5158', 'hex'));
    assert.equal(line, 'text fin=1 rsv1=0 mask=1 key=37fa213d len=5');
    new FrameTracer((header) => {
      line = describeTracedHeader(header);
    }).push(Buffer.from([0x31, 0x00]));
    assert.equal(line, 'text fin=0 rsv1=0 rsv2=1 rsv3=1 mask=0 len=0');
  });
});
