import { randomFillSync } from 'node:crypto';
import { headerSize, MAX_HEADER_SIZE, writeFrameHeader } from './frame.js';
import { maskCopy, maskRegion } from './mask.js';

/**
 * Frames whose header and payload together are at most this many bytes are copied into
 * a shared slab so that many small frames leave as one buffer (one write system call);
 * larger payloads are passed through untouched (zero copy) after their header. An
 * extension may return an encoded payload that fits as a view of a buffer it reuses
 * (`REUSABLE_PAYLOAD_MAX` in extension.ts): lowering this lowers that limit.
 */
export const COPY_THRESHOLD = 16 * 1024;

/** Size of each slab that small frames are copied into. */
const SLAB_SIZE = 64 * 1024;

/** Masking keys come from one pooled random buffer, not one `randomFillSync` call per frame. */
const KEY_POOL_SIZE = 8 * 1024;

const NO_BYTES = Buffer.alloc(0);

/**
 * The buffers that outbound frames are written into, shared by the connections of one
 * owner (a server, or the clients of a process): the slab small frames are copied into,
 * and the pool of masking keys. Each is allocated on first use, so an owner that never
 * sends (or never masks) holds none.
 *
 * Slabs are handed out front to back, never rewritten, like Node's own Buffer pool: a
 * region given to a socket stays valid until the socket lets go of it, and an idle
 * connection holds no slab at all.
 */
export class OutputBuffers {
  /** @internal The slab being filled. */
  slab: Buffer = NO_BYTES;
  /** @internal How much of `slab` is handed out (full until the first slab is made). */
  slabUsed = SLAB_SIZE;
  /** @internal The pool of masking keys. */
  keyPool: Buffer = NO_BYTES;
  private keyPoolUsed = KEY_POOL_SIZE;

  /** Next 4-byte masking key (RFC 6455 section 5.3: unpredictable, from a strong source). */
  nextMaskKey(): Buffer {
    const at = this.takeMaskKey();
    return this.keyPool.subarray(at, at + 4);
  }

  /**
   * @internal Reserve the next key of the pool and return its offset in `keyPool` (no
   * view: the hot path reads it in place).
   */
  takeMaskKey(): number {
    if (this.keyPoolUsed === KEY_POOL_SIZE) {
      if (this.keyPool === NO_BYTES) this.keyPool = Buffer.allocUnsafeSlow(KEY_POOL_SIZE);
      randomFillSync(this.keyPool);
      this.keyPoolUsed = 0;
    }
    const at = this.keyPoolUsed;
    this.keyPoolUsed += 4;
    return at;
  }

  /** @internal Start a new slab (the current one is full). */
  newSlab(): void {
    this.slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
    this.slabUsed = 0;
  }
}

/**
 * The buffers of connections whose owner brings none: the clients of the process (a
 * server makes its own). Shared because a client is one connection: buffers of its own
 * would cost each client that ever sends a 64 KiB slab (and, masking, an 8 KiB key pool)
 * for as long as it lives: see `test/protocol/output-buffers.test.ts`, which measures it.
 */
export const defaultOutputBuffers = new OutputBuffers();

/** Next 4-byte masking key from {@link defaultOutputBuffers} (RFC 6455 section 5.3). */
export function nextMaskKey(): Buffer {
  return defaultOutputBuffers.nextMaskKey();
}

/** A payload the queue accepts: bytes, or a string to encode as UTF-8. */
export type Payload = Uint8Array | string;

/**
 * Outbound frames of one connection, waiting to be written. Sans-I/O: the owner takes
 * the bytes with {@link OutputQueue.take} and writes them however it likes (one
 * `write()`, or a corked batch).
 */
export class OutputQueue {
  /** Frames ready to take (null when none: an idle connection keeps no array). */
  private chunks: Buffer[] | null = null;
  /** The region of the shared slab this queue is filling: [regionStart, regionEnd) of regionSlab. */
  private regionSlab: Buffer | null = null;
  private regionStart = 0;
  private regionEnd = 0;
  /** Bytes queued and not yet taken. */
  bytes = 0;

  /**
   * @param mask - mask every frame (a client must, RFC 6455 section 5.3)
   * @param buffers - the slab and masking keys to use (its owner's)
   * @defaultValue `buffers`: {@link defaultOutputBuffers}
   */
  constructor(
    private readonly mask: boolean,
    private readonly buffers: OutputBuffers = defaultOutputBuffers,
  ) {}

  /**
   * Queue one frame. `firstByte` combines FIN, RSV and opcode. A `Uint8Array` payload
   * larger than {@link COPY_THRESHOLD} is queued by reference when no masking is needed:
   * the caller must not change it until it is written.
   */
  push(firstByte: number, payload: Payload): void {
    const length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    const hsize = headerSize(length, this.mask);
    // The key stays in the pool: `keyAt` is its offset there (-1 for an unmasked frame).
    const buffers = this.buffers;
    const keyAt = this.mask ? buffers.takeMaskKey() : -1;
    const key = keyAt === -1 ? undefined : buffers.keyPool;
    this.bytes += hsize + length;
    if (hsize + length <= COPY_THRESHOLD) {
      const target = this.reserve(hsize + length);
      const at = this.regionEnd;
      writeFrameHeader(target, at, firstByte, length, key, keyAt);
      const payloadAt = at + hsize;
      if (typeof payload === 'string') {
        target.write(payload, payloadAt, length, 'utf8');
        if (key !== undefined) maskRegion(target, payloadAt, payloadAt + length, key, keyAt);
      } else if (key !== undefined) {
        maskCopy(payload, 0, length, target, payloadAt, key, keyAt);
      } else {
        target.set(payload, payloadAt);
      }
      this.regionEnd += hsize + length;
      buffers.slabUsed = this.regionEnd;
      return;
    }
    const target = this.reserve(MAX_HEADER_SIZE);
    writeFrameHeader(target, this.regionEnd, firstByte, length, key, keyAt);
    this.regionEnd += hsize;
    buffers.slabUsed = this.regionEnd;
    this.closeRegion();
    let body: Buffer;
    if (typeof payload === 'string') {
      body = Buffer.from(payload, 'utf8');
      if (key !== undefined) maskRegion(body, 0, length, key, keyAt);
    } else if (key !== undefined) {
      // The caller's buffer is not ours to change: mask into a copy, in one pass.
      body = Buffer.allocUnsafe(length);
      maskCopy(payload, 0, length, body, 0, key, keyAt);
    } else {
      body = Buffer.isBuffer(payload)
        ? payload
        : Buffer.from(payload.buffer, payload.byteOffset, payload.length);
    }
    this.queue(body);
  }

  /**
   * Queue a complete frame (header and payload) built elsewhere, by reference: the same
   * bytes can be queued on many connections (a broadcast frames a message once and every
   * subscriber writes that one Buffer). Only for an unmasked queue (a server's): a
   * client's frames each need their own masking key. The caller must not change `frame`
   * until every queue it was given to has written it.
   * @throws RangeError on a masking queue
   */
  pushFrame(frame: Buffer): void {
    if (this.mask) throw new RangeError('a prebuilt frame cannot be sent by a masking (client) queue');
    this.closeRegion();
    this.queue(frame);
    this.bytes += frame.length;
  }

  /** Take every queued byte, in order, and leave the queue empty. Returns an empty array when there is nothing. */
  take(): Buffer[] {
    this.closeRegion();
    const chunks = this.chunks ?? [];
    this.chunks = null;
    this.bytes = 0;
    return chunks;
  }

  /** Make room for `size` bytes at `regionEnd` in the current slab, starting a new region (and maybe slab) if needed. */
  private reserve(size: number): Buffer {
    const buffers = this.buffers;
    const contiguous = this.regionSlab === buffers.slab && this.regionEnd === buffers.slabUsed;
    if (!contiguous || buffers.slabUsed + size > SLAB_SIZE) {
      this.closeRegion();
      if (buffers.slabUsed + size > SLAB_SIZE) buffers.newSlab();
      this.regionSlab = buffers.slab;
      this.regionStart = buffers.slabUsed;
      this.regionEnd = buffers.slabUsed;
    }
    return buffers.slab;
  }

  private queue(chunk: Buffer): void {
    if (this.chunks === null) this.chunks = [chunk];
    else this.chunks.push(chunk);
  }

  /** Move the filled part of the current region into `chunks`. */
  private closeRegion(): void {
    if (this.regionSlab !== null && this.regionEnd > this.regionStart) {
      this.queue(this.regionSlab.subarray(this.regionStart, this.regionEnd));
    }
    this.regionSlab = null;
    this.regionStart = 0;
    this.regionEnd = 0;
  }
}
