/**
 * A frame trace for `connect -v`: the headers of the frames crossing a connection, read
 * from the bytes as they pass, one line each (the demo inspector's view in a terminal).
 * It keeps at most one frame header (14 bytes) and skips payloads by counting, so a
 * trace costs no memory whatever the traffic.
 */
import { FIN_BIT, MASK_BIT, RSV1_BIT, RSV2_BIT, RSV3_BIT } from '@sockeye/sockeye/protocol';
import { opcodeName } from './decode.js';

/** What a trace line says about one frame header. */
export interface TracedHeader {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  /** The opcode nibble. */
  opcode: number;
  /** Whether MASK is set. */
  masked: boolean;
  /** The masking key (4 bytes) when MASK is set, else null. */
  maskKey: Buffer | null;
  /** The payload length the header declares. */
  payloadLength: number;
}

/** The longest frame header: 2 bytes, an 8-byte length, a 4-byte mask key. */
const MAX_HEADER = 14;

/** Reads a byte stream of frames and reports each header once it is complete. */
export class FrameTracer {
  private readonly header = Buffer.alloc(MAX_HEADER);
  private have = 0;
  private skip = 0;

  constructor(private readonly onHeader: (header: TracedHeader) => void) {}

  /** Feed the next bytes of the stream. */
  push(chunk: Uint8Array): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.skip > 0) {
        const skipped = Math.min(this.skip, chunk.length - offset);
        this.skip -= skipped;
        offset += skipped;
        continue;
      }
      this.header[this.have++] = chunk[offset++] as number;
      const needed = this.headerLength();
      if (needed === null || this.have < needed) continue;
      const traced = this.decode();
      this.have = 0;
      this.skip = traced.payloadLength;
      this.onHeader(traced);
    }
  }

  /** The size of the header being read, or null while its first two bytes are incomplete. */
  private headerLength(): number | null {
    if (this.have < 2) return null;
    const second = this.header[1] as number;
    const length = second & 0x7f;
    return 2 + (length === 126 ? 2 : length === 127 ? 8 : 0) + (second & MASK_BIT ? 4 : 0);
  }

  private decode(): TracedHeader {
    const first = this.header[0] as number;
    const second = this.header[1] as number;
    const short = second & 0x7f;
    const payloadLength =
      short === 126
        ? this.header.readUInt16BE(2)
        : short === 127
          ? Number(this.header.readBigUInt64BE(2))
          : short;
    const masked = (second & MASK_BIT) !== 0;
    const keyAt = 2 + (short === 126 ? 2 : short === 127 ? 8 : 0);
    return {
      fin: (first & FIN_BIT) !== 0,
      rsv1: (first & RSV1_BIT) !== 0,
      rsv2: (first & RSV2_BIT) !== 0,
      rsv3: (first & RSV3_BIT) !== 0,
      opcode: first & 0x0f,
      masked,
      maskKey: masked ? Buffer.from(this.header.subarray(keyAt, keyAt + 4)) : null,
      payloadLength,
    };
  }
}

/**
 * One trace line: `text fin=1 rsv1=0 mask=1 key=37fa213d len=5`, the header's fields as
 * RFC 6455's figure names them (RSV2 and RSV3 only when set).
 */
export function describeTracedHeader(header: TracedHeader): string {
  const rsv = header.rsv2 || header.rsv3 ? ` rsv2=${+header.rsv2} rsv3=${+header.rsv3}` : '';
  const key = header.maskKey === null ? '' : ` key=${header.maskKey.toString('hex')}`;
  return (
    `${opcodeName(header.opcode)} fin=${+header.fin} rsv1=${+header.rsv1}${rsv} ` +
    `mask=${+header.masked}${key} len=${header.payloadLength}`
  );
}
