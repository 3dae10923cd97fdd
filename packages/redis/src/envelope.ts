/**
 * The envelope a publish travels in on Redis: a small binary header, then the payload
 * bytes untouched (no JSON, no base64: a binary WebSocket message costs its own size
 * plus the header).
 *
 * ```
 * offset  size  field
 * 0       1     version (1)
 * 1       1     flags: bit 0 set = binary message, clear = text; other bits must be 0
 * 2       1     L, the length of the publisher's node id in bytes (1..64)
 * 3       L     the publisher's node id (ASCII, see isValidNodeId)
 * 3+L     8     the publisher's sequence number for this topic, unsigned big-endian,
 *               below 2^53 (a larger one is refused)
 * 11+L    ...   the payload
 * ```
 * The topic is not in the envelope: it is the Redis channel (prefix + topic).
 * @module
 */
import { isValidNodeId } from '@sockeye/sockeye/pubsub';

/** The envelope version this code writes and reads. */
export const ENVELOPE_VERSION = 1;

/** Flag bit: the message is binary (otherwise text). */
export const FLAG_BINARY = 0x01;

/** A decoded envelope. `data` is a view of the received buffer, not a copy. */
export interface Envelope {
  /** The publisher's node id. */
  readonly publisher: string;
  /** The publisher's sequence number for the topic (1 for its first publish there). */
  readonly sequence: number;
  /** Whether the message is binary. */
  readonly isBinary: boolean;
  /** The payload bytes. */
  readonly data: Buffer;
}

/** Header bytes besides the node id: version, flags, id length, sequence. */
export const ENVELOPE_OVERHEAD = 3 + 8;
const FIXED_HEADER = ENVELOPE_OVERHEAD;
const TWO_32 = 2 ** 32;
/** The high 32 bits of 2^53, the first sequence a double cannot hold apart from its neighbour. */
const MAX_SEQUENCE_HIGH = 2 ** 21;

/**
 * Build the envelope for one publish: the header and a copy of `data` in one buffer
 * (the one copy a publish costs; the Redis client needs the bytes to outlive the call).
 * @param publisher - a valid node id (the caller checked it once, at construction)
 * @param sequence - a non-negative integer below 2^53
 * @throws RangeError when `sequence` is not a non-negative safe integer
 */
export function encodeEnvelope(
  publisher: string,
  sequence: number,
  isBinary: boolean,
  data: Uint8Array,
): Buffer {
  if (!Number.isSafeInteger(sequence) || sequence < 0) {
    throw new RangeError(`envelope sequence must be an integer from 0 to 2^53 - 1, got ${sequence}`);
  }
  const idLength = publisher.length; // ASCII: one byte per character
  const envelope = Buffer.allocUnsafe(FIXED_HEADER + idLength + data.length);
  envelope[0] = ENVELOPE_VERSION;
  envelope[1] = isBinary ? FLAG_BINARY : 0;
  envelope[2] = idLength;
  envelope.write(publisher, 3, 'latin1');
  envelope.writeUInt32BE(Math.floor(sequence / TWO_32), 3 + idLength);
  envelope.writeUInt32BE(sequence % TWO_32, 7 + idLength);
  envelope.set(data, FIXED_HEADER + idLength);
  return envelope;
}

/** Why an envelope could not be read. */
export class EnvelopeError extends Error {
  override readonly name = 'EnvelopeError';
}

/**
 * Read an envelope. The payload is a view of `envelope` (no copy).
 * @throws {@link EnvelopeError} when it is too short, of another version, has unknown
 *   flags, an invalid node id or a sequence of 2^53 or more
 */
export function decodeEnvelope(envelope: Buffer): Envelope {
  if (envelope.length < FIXED_HEADER + 1)
    throw new EnvelopeError(`envelope too short (${envelope.length} bytes)`);
  if (envelope[0] !== ENVELOPE_VERSION) throw new EnvelopeError(`unknown envelope version ${envelope[0]}`);
  const flags = envelope[1]!;
  if ((flags & ~FLAG_BINARY) !== 0) throw new EnvelopeError(`unknown envelope flags 0x${flags.toString(16)}`);
  const idLength = envelope[2]!;
  if (envelope.length < FIXED_HEADER + idLength) throw new EnvelopeError('envelope shorter than its header');
  const publisher = envelope.toString('latin1', 3, 3 + idLength);
  if (!isValidNodeId(publisher))
    throw new EnvelopeError(`invalid publisher node id ${JSON.stringify(publisher)}`);
  const high = envelope.readUInt32BE(3 + idLength);
  // A double holds every integer below 2^53 exactly; above, two sequences could read as
  // one, and a forged 2^63 would make the gap detector report 9.2e18 lost messages.
  if (high >= MAX_SEQUENCE_HIGH) {
    throw new EnvelopeError(
      `sequence ${envelope.readBigUInt64BE(3 + idLength)} is not below 2^53 (no publisher counts that far)`,
    );
  }
  const sequence = high * TWO_32 + envelope.readUInt32BE(7 + idLength);
  return {
    publisher,
    sequence,
    isBinary: (flags & FLAG_BINARY) !== 0,
    data: envelope.subarray(FIXED_HEADER + idLength),
  };
}
