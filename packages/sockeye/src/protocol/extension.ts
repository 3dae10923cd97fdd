import { MAX_HEADER_SIZE, RSV1_BIT, RSV2_BIT, RSV3_BIT } from './frame.js';
import { COPY_THRESHOLD, type Payload } from './output.js';

/**
 * @internal The largest payload {@link Extension.encodeMessage} may return as a view of a
 * buffer it reuses (16,370 bytes): `Connection` copies a frame of at most `COPY_THRESHOLD`
 * bytes, header included, into its output as it queues it.
 */
export const REUSABLE_PAYLOAD_MAX = COPY_THRESHOLD - MAX_HEADER_SIZE;

/**
 * A negotiated WebSocket extension that transforms data messages, as {@link Connection}
 * sees it (RFC 6455 section 9). sockeye ships one: permessage-deflate (RFC 7692, see
 * `PerMessageDeflateExtension`). An extension owns an RSV bit: the first frame of a
 * message it transformed carries that bit, and {@link Connection} routes such messages
 * through {@link Extension.decodePart}. Every method is synchronous: the core does no I/O
 * and keeps no promises.
 */
export interface Extension {
  /** The extension's registered token, e.g. `permessage-deflate`. */
  readonly name: string;
  /** The RSV bit (`RSV1_BIT`, ...) that marks a message this extension transformed. */
  readonly rsvBit: number;
  /**
   * Transform an outgoing whole message. Returns the new payload (sent with
   * {@link Extension.rsvBit} set on its first frame), or `null` to send `data` unchanged
   * with the bit clear (e.g. a message too small to be worth compressing).
   *
   * A payload of at most 16,370 bytes, and on a client (which masks every payload into
   * a copy) a payload of any size, is copied into the connection's output before
   * `Connection.send` returns, so it may be a view of a buffer the extension reuses for
   * the next message (no allocation per message). A larger one on a server may be
   * queued by reference and must not change until it is written.
   */
  encodeMessage(data: Payload, isText: boolean): Buffer | null;
  /**
   * Part of an incoming message whose first frame carried {@link Extension.rsvBit}, in
   * order. Returns the whole decoded message once `fin` (the last part of the message's
   * last frame) is true, `null` before.
   * @param maxPayload - the largest decoded message allowed
   * @throws {@link ProtocolError} 1009 when the decoded message would pass `maxPayload`
   * (checked while decoding, before the bytes are buffered), 1007 when `data` cannot be
   * decoded
   */
  decodePart(data: Buffer, fin: boolean, maxPayload: number): Buffer | null;
  /**
   * A message encoded once for many connections (a broadcast). Returns its payload when
   * this connection's negotiated parameters let the same bytes be sent to it, `null` when
   * the message must be encoded for this connection alone.
   */
  preparedPayload(message: PreparedMessage): Buffer | null;
  /** The connection ended: give back or free every resource (zlib streams, buffers). */
  close(): void;
}

/**
 * A message encoded once to be sent to many connections (see `prepareMessage` in
 * permessage-deflate.ts and {@link Connection.sendPrepared}).
 */
export interface PreparedMessage {
  /** The message as the application gave it. */
  readonly data: Buffer;
  /** Whether it is a text message. */
  readonly isText: boolean;
  /** The extension that encoded it (`permessage-deflate`), or `''` when it was not encoded. */
  readonly extension: string;
  /** The encoded payload, or `null` when it was not encoded (below the threshold). */
  readonly encoded: Buffer | null;
  /** The LZ77 window (in bits) the encoder used: a peer must accept at least this. */
  readonly windowBits: number;
  /**
   * The whole uncompressed frame (FIN, no RSV bit, unmasked, `data` as payload), built
   * once (`buildFrame`) for a broadcast: a server connection that sends `data` as it is
   * (no extension negotiated) queues these bytes by reference instead of framing `data`
   * again. Optional; ignored by clients (their frames are masked).
   */
  readonly frame?: Buffer | undefined;
}

/**
 * The extension a connection uses, from its `extensions` option: none, or one that owns
 * a single RSV bit. sockeye knows one extension (permessage-deflate), so more than one is
 * a configuration error.
 * @throws RangeError on more than one extension, or an RSV bit that is not RSV1-3
 */
export function selectExtension(extensions: readonly Extension[] | undefined): Extension | null {
  if (extensions === undefined || extensions.length === 0) return null;
  if (extensions.length > 1) throw new RangeError('at most one extension is supported');
  const extension = extensions[0]!;
  if (extension.rsvBit !== RSV1_BIT && extension.rsvBit !== RSV2_BIT && extension.rsvBit !== RSV3_BIT) {
    throw new RangeError(`extension ${extension.name} must own one of RSV1, RSV2 or RSV3`);
  }
  return extension;
}
