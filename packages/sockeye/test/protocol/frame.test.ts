/**
 * RFC 6455 section 5.2 (base framing) and the section 5.7 examples: every frame vector of
 * the shared file is parsed, and serialized back to the same bytes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Connection,
  encodeFrameHeader,
  FIN_BIT,
  headerSize,
  MASK_BIT,
  MAX_HEADER_SIZE,
  maskSlow,
  Opcode,
  OutputQueue,
  RSV1_BIT,
  writeFrameHeader,
} from '../../src/protocol/index.js';
import { hex, vectors } from '../vectors/vectors.js';
import { chunksOf, collectingParser, decodeFrames, Recorder } from './helpers.js';

const single = vectors.frames.filter((v) => v.hex !== undefined);
const fragmented = vectors.frames.filter((v) => v.frames_hex !== undefined);
const headerOnly = vectors.frames.filter((v) => v.header_hex !== undefined);

describe('RFC 6455 5.7: examples', () => {
  it('the file has every kind of frame vector', () => {
    assert.equal(single.length + fragmented.length + headerOnly.length, vectors.frames.length);
    assert.ok(single.length >= 4 && fragmented.length >= 1 && headerOnly.length >= 2);
  });

  for (const vector of single) {
    describe(vector.name, () => {
      const role = vector.masked ? 'server' : 'client';

      for (const chunkSize of [Infinity, 1, 2, 3]) {
        it(`parses (${chunkSize === Infinity ? 'whole' : `${chunkSize}-byte chunks`})`, () => {
          const { parser, frames } = collectingParser(role);
          const bytes = hex(vector.hex!);
          for (const chunk of chunkSize === Infinity ? [bytes] : chunksOf(bytes, chunkSize))
            parser.push(chunk);
          assert.equal(frames.length, 1);
          const [f] = frames;
          assert.equal(f!.header.fin, vector.fin);
          assert.equal(f!.header.opcode, vector.opcode);
          assert.equal(f!.header.masked, vector.masked);
          assert.equal(f!.header.rsv, 0);
          assert.equal(f!.header.length, Buffer.byteLength(vector.payload_utf8!));
          if (vector.masked) assert.equal(f!.header.maskKey.toString('hex'), vector.mask_key_hex);
          assert.equal(f!.payload.toString('utf8'), vector.payload_utf8);
        });
      }

      it('serializes to the same bytes', () => {
        const payload = Buffer.from(vector.payload_utf8!, 'utf8');
        const key = vector.masked ? hex(vector.mask_key_hex!) : undefined;
        const header = encodeFrameHeader({
          opcode: vector.opcode!,
          length: payload.length,
          ...(key === undefined ? {} : { maskKey: key }),
        });
        if (key !== undefined) maskSlow(payload, key);
        assert.equal(Buffer.concat([header, payload]).toString('hex'), vector.hex);
      });

      if (!vector.masked) {
        it('OutputQueue writes the same bytes', () => {
          const queue = new OutputQueue(false);
          queue.push(FIN_BIT | vector.opcode!, vector.payload_utf8!);
          assert.equal(Buffer.concat(queue.take()).toString('hex'), vector.hex);
        });
      } else {
        it('OutputQueue (masked) writes a frame that unmasks to the same payload', () => {
          const queue = new OutputQueue(true);
          queue.push(FIN_BIT | vector.opcode!, vector.payload_utf8!);
          const [f] = decodeFrames(Buffer.concat(queue.take()));
          assert.equal(f!.masked, true);
          assert.equal(f!.opcode, vector.opcode);
          assert.equal(f!.payload.toString('utf8'), vector.payload_utf8);
        });
      }
    });
  }

  for (const vector of fragmented) {
    describe(vector.name, () => {
      it('reassembles to the message', () => {
        const rec = new Recorder({ role: 'client' });
        rec.receive(...vector.frames_hex!.map(hex));
        assert.deepEqual(
          rec.messages().map((m) => [m.data.toString('utf8'), m.isText]),
          [[vector.message_utf8, true]],
        );
      });

      it('reassembles when fed one byte at a time', () => {
        const rec = new Recorder({ role: 'client' });
        rec.receive(...chunksOf(Buffer.concat(vector.frames_hex!.map(hex)), 1));
        assert.equal(rec.messages()[0]!.data.toString('utf8'), vector.message_utf8);
      });

      it('a MessageWriter writes the same frames', () => {
        const rec = new Recorder({ role: 'server' });
        const parts = vector.frames_hex!.map((h) => decodeFrames(hex(h))[0]!.payload.toString('utf8'));
        const writer = rec.connection.startMessage(true);
        parts.forEach((part, i) => {
          if (i === parts.length - 1) writer.end(part);
          else writer.write(part);
        });
        assert.equal(rec.output().toString('hex'), vector.frames_hex!.join(''));
      });
    });
  }

  for (const vector of headerOnly) {
    describe(vector.name, () => {
      const length = vector.payload_length!;

      it('encodes the header', () => {
        assert.equal(encodeFrameHeader({ opcode: Opcode.Binary, length }).toString('hex'), vector.header_hex);
        assert.equal(headerSize(length, false), vector.header_hex!.length / 2);
      });

      it('parses the header and the payload', () => {
        const { parser, frames } = collectingParser('client');
        const payload = Buffer.alloc(length, 0xa5);
        parser.push(Buffer.concat([hex(vector.header_hex!), payload]));
        assert.equal(frames.length, 1);
        assert.equal(frames[0]!.header.length, length);
        assert.equal(frames[0]!.header.opcode, Opcode.Binary);
        assert.ok(frames[0]!.payload.equals(payload));
      });

      it('Connection.send writes the header then the payload', () => {
        const conn = new Connection(
          { onMessage() {}, onPing() {}, onPong() {}, onClose() {}, onOutput() {} },
          { role: 'server' },
        );
        const payload = Buffer.alloc(length, 0x5a);
        conn.send(payload, false);
        const out = Buffer.concat(conn.takeOutput());
        assert.equal(out.subarray(0, vector.header_hex!.length / 2).toString('hex'), vector.header_hex);
        assert.ok(out.subarray(vector.header_hex!.length / 2).equals(payload));
      });
    });
  }
});

describe('RFC 6455 5.2: header encoding', () => {
  it('headerSize: 2, 4 or 10 bytes, plus 4 for the masking key', () => {
    assert.deepEqual(
      [0, 125, 126, 65535, 65536, 2 ** 40].map((n) => [headerSize(n, false), headerSize(n, true)]),
      [
        [2, 6],
        [2, 6],
        [4, 8],
        [4, 8],
        [10, 14],
        [10, 14],
      ],
    );
    assert.equal(MAX_HEADER_SIZE, 14);
  });

  it('writeFrameHeader writes at an offset and returns the size', () => {
    const target = Buffer.alloc(20, 0xff);
    const size = writeFrameHeader(target, 3, FIN_BIT | Opcode.Text, 0x10000 + 5, Buffer.from([1, 2, 3, 4]));
    assert.equal(size, 14);
    assert.equal(
      target.toString('hex'),
      `ffffff81${(MASK_BIT | 127).toString(16)}000000000001000501020304ffffff`,
    );
  });

  it('writeFrameHeader reads the key at maskKeyAt (a key kept in a pool)', () => {
    const pool = Buffer.from([9, 9, 9, 0xa1, 0xa2, 0xa3, 0xa4, 9]);
    const target = Buffer.alloc(6);
    assert.equal(writeFrameHeader(target, 0, FIN_BIT | Opcode.Binary, 3, pool, 3), 6);
    assert.equal(target.toString('hex'), '8283a1a2a3a4');
  });

  it('a 64-bit length above 2^32 is written in network order', () => {
    const header = encodeFrameHeader({ opcode: Opcode.Binary, length: 2 ** 40 + 7 });
    assert.equal(header.toString('hex'), '827f0000010000000007');
  });

  it('fin: false and rsv bits land in the first byte', () => {
    const header = encodeFrameHeader({ fin: false, rsv: RSV1_BIT, opcode: Opcode.Text, length: 0 });
    assert.equal(header.toString('hex'), '4100');
  });
});
