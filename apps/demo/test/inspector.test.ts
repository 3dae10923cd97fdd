import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HandshakeError, ProtocolError, RSV1_BIT } from '@sockeye/sockeye/protocol';
import { hex, vectors } from '../../../packages/sockeye/test/vectors/vectors.js';
import { FrameRecorder, recordFrames, recordHead } from '../src/server/frame-record.js';
import { type FrameRecord, isInspectorMessage, MAX_SHOWN_BYTES, xorSteps } from '../src/shared/inspector.js';

const seed = vectors.masking[0]!;
const seedFrameHex = `818f${seed.mask_key_hex}${seed.masked_hex}`;

function record(frameHex: string, direction: 'client-to-server' | 'server-to-client'): FrameRecord {
  const records = recordFrames(hex(frameHex), { direction });
  assert.equal(records.length, 1);
  return records[0]!;
}

describe('frame records: the seed masking example (我是阿宝哥, key 08f6efb1)', () => {
  it('keeps the masked bytes as they crossed the wire and the unmasked payload', () => {
    const frame = record(seedFrameHex, 'client-to-server');
    assert.deepEqual(frame, {
      seq: 1,
      direction: 'client-to-server',
      fin: true,
      rsv1: false,
      rsv2: false,
      rsv3: false,
      opcode: 1,
      opcodeName: 'text',
      masked: true,
      headerHex: `818f${seed.mask_key_hex}`,
      payloadLength: 15,
      shownBytes: 15,
      maskKeyHex: seed.mask_key_hex,
      maskedHex: seed.masked_hex,
      payloadHex: seed.payload_hex,
      payloadText: seed.payload_utf8,
    } satisfies FrameRecord);
  });

  it('walks through the XOR: e6 ^ 08 = ee, 88 ^ f6 = 7e, 91 ^ ef = 7e, ... key[i mod 4]', () => {
    const steps = xorSteps(record(seedFrameHex, 'client-to-server'));
    assert.equal(steps.length, 15);
    assert.deepEqual(steps.slice(0, 5), [
      { index: 0, masked: 'ee', key: '08', unmasked: 'e6' },
      { index: 1, masked: '7e', key: 'f6', unmasked: '88' },
      { index: 2, masked: '7e', key: 'ef', unmasked: '91' },
      { index: 3, masked: '57', key: 'b1', unmasked: 'e6' },
      { index: 4, masked: '90', key: '08', unmasked: '98' },
    ]);
    assert.equal(steps.map((s) => s.unmasked).join(''), seed.payload_hex);
    assert.equal(steps.map((s) => s.masked).join(''), seed.masked_hex);
  });

  it('gives the same record whatever the chunking (one byte at a time)', () => {
    const records: FrameRecord[] = [];
    const recorder = new FrameRecorder({ direction: 'client-to-server' }, (r) => records.push(r));
    hex(seedFrameHex).forEach((byte, index) => {
      assert.equal(records.length, 0, `no record before the last byte (byte ${index})`);
      recorder.push(Uint8Array.of(byte));
    });
    assert.deepEqual(records, [record(seedFrameHex, 'client-to-server')]);
  });

  it('leaves the caller bytes masked (the real connection still needs them)', () => {
    const bytes = hex(seedFrameHex);
    new FrameRecorder({ direction: 'client-to-server' }, () => {}).push(bytes);
    assert.equal(bytes.toString('hex'), seedFrameHex);
  });

  it('has no walkthrough for an unmasked frame', () => {
    assert.deepEqual(xorSteps(record('810548656c6c6f', 'server-to-client')), []);
  });
});

describe('frame records: RFC 6455 section 5.7 frames', () => {
  it('records each single-frame vector with its fields', () => {
    for (const vector of vectors.frames.filter((v) => v.hex !== undefined)) {
      const frame = record(vector.hex!, vector.masked ? 'client-to-server' : 'server-to-client');
      assert.equal(frame.fin, vector.fin, vector.name);
      assert.equal(frame.opcode, vector.opcode, vector.name);
      assert.equal(frame.masked, vector.masked, vector.name);
      assert.equal(frame.maskKeyHex, vector.mask_key_hex ?? null, vector.name);
      assert.equal(frame.payloadText, vector.payload_utf8, vector.name);
      assert.equal(frame.payloadHex, Buffer.from(vector.payload_utf8!).toString('hex'), vector.name);
    }
  });

  it('records a fragmented message as two numbered frames', () => {
    const fragmented = vectors.frames.find((v) => v.frames_hex !== undefined)!;
    const records = recordFrames(hex(fragmented.frames_hex!.join('')), { direction: 'server-to-client' });
    assert.deepEqual(
      records.map((r) => [r.seq, r.fin, r.opcodeName, r.payloadText]),
      [
        [1, false, 'text', 'Hel'],
        [2, true, 'continuation', 'lo'],
      ],
    );
  });

  it('reads extended lengths and keeps only the first MAX_SHOWN_BYTES of a payload', () => {
    for (const vector of vectors.frames.filter((v) => v.header_hex !== undefined)) {
      const payload = Buffer.alloc(vector.payload_length!, 0x61);
      const [frame] = recordFrames(Buffer.concat([hex(vector.header_hex!), payload]), {
        direction: 'server-to-client',
      });
      assert.equal(frame!.payloadLength, vector.payload_length, vector.name);
      assert.equal(frame!.shownBytes, Math.min(vector.payload_length!, MAX_SHOWN_BYTES), vector.name);
      assert.equal(frame!.payloadHex.length, frame!.shownBytes * 2, vector.name);
      assert.equal(frame!.payloadText, 'a'.repeat(frame!.shownBytes), vector.name);
    }
  });

  it('cuts shown text at a character boundary', () => {
    const payload = Buffer.from('ééé'); // 6 bytes
    const bytes = Buffer.concat([Buffer.of(0x81, payload.length), payload]);
    const [frame] = recordFrames(bytes, { direction: 'server-to-client', maxShownBytes: 5 });
    assert.equal(frame!.shownBytes, 5);
    assert.equal(frame!.payloadText, 'éé');
  });

  it('shows RSV1 on a compressed frame when permessage-deflate allows it (RFC 7692 7.2.3.1)', () => {
    const deflated = hex(vectors.permessage_deflate[0]!.frame_hex!);
    const [frame] = recordFrames(deflated, { direction: 'server-to-client', allowedRsv: RSV1_BIT });
    assert.equal(frame!.rsv1, true);
    assert.equal(frame!.payloadText, null, 'DEFLATE bytes are not UTF-8 text');
    assert.throws(() => recordFrames(deflated, { direction: 'server-to-client' }), ProtocolError);
  });

  it('records the code and reason of a close frame', () => {
    const frame = record('880503e8627965', 'server-to-client');
    assert.equal(frame.closeCode, 1000);
    assert.equal(frame.closeReason, 'bye');
    assert.equal(record('8800', 'server-to-client').closeCode, null);
  });

  it('numbers both directions of a connection with one counter', () => {
    let seq = 0;
    const nextSeq = () => ++seq;
    const records: FrameRecord[] = [];
    const fromClient = new FrameRecorder({ direction: 'client-to-server', nextSeq }, (r) => records.push(r));
    const fromServer = new FrameRecorder({ direction: 'server-to-client', nextSeq }, (r) => records.push(r));
    fromClient.push(hex(seedFrameHex));
    fromServer.push(hex(`810f${seed.payload_hex}`));
    assert.deepEqual(
      records.map((r) => [r.seq, r.direction, r.payloadText]),
      [
        [1, 'client-to-server', seed.payload_utf8],
        [2, 'server-to-client', seed.payload_utf8],
      ],
    );
  });

  it('refuses what the connection would refuse: an unmasked client frame, a masked server frame', () => {
    assert.throws(
      () => recordFrames(hex('810548656c6c6f'), { direction: 'client-to-server' }),
      ProtocolError,
    );
    assert.throws(() => recordFrames(hex(seedFrameHex), { direction: 'server-to-client' }), ProtocolError);
  });

  it('accepts a length that is not in its shortest form, as the core parser does', () => {
    const [frame] = recordFrames(hex('817e000548656c6c6f'), { direction: 'server-to-client' });
    assert.equal(frame!.payloadText, 'Hello');
  });

  it('refuses bytes that end inside a frame', () => {
    assert.throws(() => recordFrames(hex('810548656c'), { direction: 'server-to-client' }), /inside a frame/);
    assert.throws(() => recordFrames(hex('81'), { direction: 'server-to-client' }), /inside a frame/);
    assert.throws(() => recordFrames(hex('817e00'), { direction: 'server-to-client' }), /inside a frame/);
    assert.throws(() => recordFrames(hex('8100810548'), { direction: 'server-to-client' }), /inside a frame/);
  });
});

describe('handshake records', () => {
  const request =
    'GET /ws/echo?session=abc HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\n' +
    'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
  const response =
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n';

  it('keeps the start line and the fields in order, with their case', () => {
    assert.deepEqual(recordHead(request, 'request'), {
      startLine: 'GET /ws/echo?session=abc HTTP/1.1',
      headers: [
        ['Host', '127.0.0.1:8080'],
        ['Upgrade', 'websocket'],
        ['Connection', 'Upgrade'],
        ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='],
        ['Sec-WebSocket-Version', '13'],
      ],
    });
    const head = recordHead(Buffer.from(`${response}\x81\x00`, 'latin1'), 'response');
    assert.equal(head.startLine, 'HTTP/1.1 101 Switching Protocols');
    assert.deepEqual(head.headers.at(-1), ['Sec-WebSocket-Accept', 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=']);
  });

  it('refuses a malformed head (400) and an oversized one (431) through the core parser', () => {
    assert.throws(
      () => recordHead('GET / HTTP/1.1\r\nno colon here\r\n\r\n', 'request'),
      (error: unknown) => error instanceof HandshakeError && error.status === 400,
    );
    const huge = `GET / HTTP/1.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`;
    assert.throws(
      () => recordHead(huge, 'request'),
      (error: unknown) => error instanceof HandshakeError && error.status === 431,
    );
    assert.throws(() => recordHead('GET / HTTP/1.1\r\nHost: x\r\n', 'request'), /incomplete/);
  });
});

describe('feed messages', () => {
  it('recognises each message type and rejects other shapes', () => {
    const frame = record(seedFrameHex, 'client-to-server');
    assert.ok(isInspectorMessage(JSON.parse(JSON.stringify({ type: 'frame', frame }))));
    assert.ok(isInspectorMessage({ type: 'session', session: 'abc' }));
    assert.ok(isInspectorMessage({ type: 'end', reason: 'closed 1000' }));
    assert.ok(
      isInspectorMessage({
        type: 'handshake',
        request: { startLine: 'GET / HTTP/1.1', headers: [] },
        response: { startLine: 'HTTP/1.1 101 Switching Protocols', headers: [] },
        derivation: { key: 'k', guid: 'g', concatenated: 'kg', sha1Hex: '00', accept: 'AA==' },
        extensions: '',
      }),
    );
    for (const bad of [
      null,
      'frame',
      { type: 'session' },
      { type: 'frame', frame: null },
      { type: 'nope' },
    ]) {
      assert.equal(isInspectorMessage(bad), false, JSON.stringify(bad));
    }
  });
});
