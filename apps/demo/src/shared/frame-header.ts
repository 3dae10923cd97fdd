/**
 * A frame header read bit by bit, for the protocol page (RFC 6455 section 5.2):
 *
 * ```
 *  byte 0: FIN RSV1 RSV2 RSV3 opcode(4)
 *  byte 1: MASK length(7)          126: 16-bit length follows, 127: 64-bit length follows
 *  then the extended length (0, 2 or 8 bytes, big-endian), then the masking key (0 or 4)
 * ```
 *
 * Shared by the server's tests and the browser bundle: no `Buffer`, hex strings only.
 * @packageDocumentation
 */

/** One named run of bits in the header, with its value. */
export interface HeaderField {
  /** `FIN`, `RSV1`, `opcode`, `MASK`, `length (7 bits)`, `extended length (16 bits)`, `masking key`... */
  name: string;
  /** The bits as sent, most significant first. */
  bits: string;
  /** What they mean here, for people. */
  meaning: string;
}

/** A header read field by field. */
export interface HeaderReading {
  /** The header bytes, two hex digits each. */
  bytes: string[];
  /** How the payload length was written: in the 7 bits of byte 1, or 16 or 64 bits after it. */
  lengthEncoding: '7-bit' | '16-bit' | '64-bit';
  /** The payload length. */
  payloadLength: number;
  /** Every field in wire order. */
  fields: HeaderField[];
}

const OPCODES: Record<number, string> = {
  0: 'continuation',
  1: 'text',
  2: 'binary',
  8: 'close',
  9: 'ping',
  10: 'pong',
};

function bitsOf(value: number, width: number): string {
  return value.toString(2).padStart(width, '0');
}

/**
 * Read a frame header given as hex (2 to 14 bytes, exactly the header).
 * @throws RangeError when the bytes are not exactly one header
 */
export function readHeader(headerHex: string): HeaderReading {
  const bytes = (headerHex.match(/../g) ?? []).map((b) => Number.parseInt(b, 16));
  if (bytes.length < 2 || bytes.some(Number.isNaN)) throw new RangeError('a header has at least 2 bytes');
  const [b0, b1] = bytes as [number, number];
  const length7 = b1 & 0x7f;
  const extended = length7 === 126 ? 2 : length7 === 127 ? 8 : 0;
  const masked = (b1 & 0x80) !== 0;
  if (bytes.length !== 2 + extended + (masked ? 4 : 0)) {
    throw new RangeError(`a header with these first bytes has ${2 + extended + (masked ? 4 : 0)} bytes`);
  }
  const opcode = b0 & 0x0f;
  const flag = (bit: number) => ((b0 >> bit) & 1).toString();
  const fields: HeaderField[] = [
    {
      name: 'FIN',
      bits: flag(7),
      meaning: flag(7) === '1' ? 'last frame of its message' : 'more frames follow',
    },
    {
      name: 'RSV1',
      bits: flag(6),
      meaning: flag(6) === '1' ? 'compressed (permessage-deflate)' : 'not compressed',
    },
    { name: 'RSV2', bits: flag(5), meaning: 'reserved, 0' },
    { name: 'RSV3', bits: flag(4), meaning: 'reserved, 0' },
    {
      name: 'opcode',
      bits: bitsOf(opcode, 4),
      meaning: `0x${opcode.toString(16)} ${OPCODES[opcode] ?? 'reserved'}`,
    },
    {
      name: 'MASK',
      bits: masked ? '1' : '0',
      meaning: masked ? 'masked: a key follows (browser to server)' : 'not masked (server to browser)',
    },
  ];
  let payloadLength = length7;
  const lengthMeaning =
    extended === 0 ? `payload length ${length7}` : `${length7}: the length is in the next ${extended} bytes`;
  fields.push({ name: 'length (7 bits)', bits: bitsOf(length7, 7), meaning: lengthMeaning });
  if (extended > 0) {
    payloadLength = 0;
    let bits = '';
    for (let i = 0; i < extended; i++) {
      payloadLength = payloadLength * 256 + bytes[2 + i]!;
      bits += `${i === 0 ? '' : ' '}${bitsOf(bytes[2 + i]!, 8)}`;
    }
    fields.push({
      name: `extended length (${extended * 8} bits)`,
      bits,
      meaning: `payload length ${payloadLength}`,
    });
  }
  if (masked) {
    const key = bytes.slice(2 + extended).map((b) => b.toString(16).padStart(2, '0'));
    fields.push({
      name: 'masking key',
      bits: bytes
        .slice(2 + extended)
        .map((b) => bitsOf(b, 8))
        .join(' '),
      meaning: key.join(' '),
    });
  }
  return {
    bytes: bytes.map((b) => b.toString(16).padStart(2, '0')),
    lengthEncoding: extended === 0 ? '7-bit' : extended === 2 ? '16-bit' : '64-bit',
    payloadLength,
    fields,
  };
}
