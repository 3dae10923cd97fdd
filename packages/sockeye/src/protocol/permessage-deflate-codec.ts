/**
 * The permessage-deflate codec (RFC 7692 section 7.2): the {@link Extension} a
 * `Connection` calls to compress outgoing messages and decompress incoming ones, and the
 * {@link DeflatePool} of streams without context takeover that connections share. zlib
 * itself is driven through `permessage-deflate-zlib.ts`.
 *
 * ## Memory
 * A deflate stream costs `2^(windowBits+2) + 2^(memLevel+9)` bytes plus ~6 KiB (256 KiB
 * at 15/8), an inflate stream `2^windowBits` plus ~7 KiB (39 KiB at 15). They are
 * allocated lazily, on the first compressed message. A direction without context
 * takeover borrows a stream from a {@link DeflatePool} for one message and gives it back
 * reset, so idle connections hold none and many connections share a few streams. A
 * direction with context takeover must keep its stream (its window is the context) from
 * its first compressed message until the connection closes.
 *
 * ## The 8-bit window
 * zlib refuses a raw deflate stream with an 8-bit window (since 1.2.9). Decompressing is
 * unaffected: a 9-bit (or larger) inflate window decodes anything an 8-bit compressor
 * produces, so we inflate with `max(9, bits)`. Compressing under a negotiated 8-bit
 * limit is impossible with zlib, so such a direction sends every message uncompressed
 * (RSV1 clear), which RFC 7692 always allows.
 */
import { ProtocolError } from './errors.js';
import { type Extension, type PreparedMessage, REUSABLE_PAYLOAD_MAX } from './extension.js';
import { RSV1_BIT } from './frame.js';
import type { Payload } from './output.js';
import type { Role } from './parser.js';
import { type DeflateParameters, PERMESSAGE_DEFLATE } from './permessage-deflate-params.js';
import {
  ChunkedBytes,
  Window,
  ZlibDataError,
  type ZlibDriver,
  ZlibDriverError,
  type ZlibKind,
  type ZlibStream,
  type ZlibStreamOptions,
} from './permessage-deflate-zlib.js';

/** The 4 bytes a sync flush ends with, removed by the sender and put back by the receiver (RFC 7692 section 7.2.1). */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/** Output is produced into a scratch buffer of this size and copied out at its exact size. */
const SCRATCH_SIZE = 64 * 1024;

/**
 * Streams without context takeover, shared between connections: a connection borrows one
 * for one message and gives it back reset. Everything is synchronous, so a stream is
 * never used by two messages at once. Also holds the scratch buffer output goes through.
 * Each `PerMessageDeflate` has one; pass one in `PerMessageDeflateOptions.pool` to share it.
 */
export class DeflatePool {
  /** Most idle streams kept per configuration; more are freed when given back. */
  readonly maxIdle: number;
  private readonly idle = new Map<string, ZlibStream[]>();
  private scratchBuffer: Buffer | null = null;

  /** @param maxIdle - most idle streams kept per configuration @defaultValue 4 */
  constructor(maxIdle = 4) {
    this.maxIdle = maxIdle;
  }

  /** How many idle streams the pool holds (all configurations). */
  get idleCount(): number {
    let count = 0;
    for (const list of this.idle.values()) count += list.length;
    return count;
  }

  /** @internal The buffer zlib output goes through (64 KiB, allocated on first use). */
  get scratch(): Buffer {
    this.scratchBuffer ??= Buffer.allocUnsafe(SCRATCH_SIZE);
    return this.scratchBuffer;
  }

  /** @internal Borrow (or create) a stream. */
  acquire(driver: ZlibDriver, kind: ZlibKind, options: ZlibStreamOptions): ZlibStream {
    const key = `${driver.name}:${kind}:${options.level ?? ''}:${options.memLevel ?? ''}:${options.windowBits}`;
    const stream = this.idle.get(key)?.pop();
    return stream ?? driver.create(kind, key, options);
  }

  /** @internal Give a stream back; it is reset, or freed when the pool is full. */
  release(stream: ZlibStream): void {
    let list = this.idle.get(stream.key);
    if (list === undefined) {
      list = [];
      this.idle.set(stream.key, list);
    }
    if (list.length >= this.maxIdle) {
      stream.close();
      return;
    }
    stream.reset();
    list.push(stream);
  }

  /** Free every idle stream. */
  clear(): void {
    for (const list of this.idle.values()) for (const stream of list) stream.close();
    this.idle.clear();
  }
}

/** The window our compressor uses under a negotiated limit, or 0 when zlib cannot honour it (8 bits). */
export function compressBits(limit: number): number {
  return limit < 9 ? 0 : limit;
}

/** A `Buffer` view of `data`, no copy. */
export function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
}

/**
 * Compress one whole message with a sync flush and drop the trailing `00 00 ff ff` (RFC
 * 7692 section 7.2.1). An output of at most `viewMax` bytes that zlib produced in one
 * piece is returned as a view of `scratch`, valid until the scratch is used again; any
 * other output is copied out at its exact size.
 */
export function deflateMessage(stream: ZlibStream, data: Buffer, scratch: Buffer, viewMax = 0): Buffer {
  // zlib skips a flush that follows a flush with no input in between, so an empty message
  // after another message would come out empty. RFC 7692 section 7.2.3.6: a single 0x00
  // byte (with the tail put back, an empty stored block) is an empty message, and leaves
  // both LZ77 windows as they were.
  if (data.length === 0) return Buffer.from([0x00]);
  const pieces: Buffer[] = [];
  let length = 0;
  // Every copy made per message is garbage until the next GC, and the heap such garbage
  // grew stays with an idle server (see "idle memory" in docs/benchmarks.md): an output
  // in one piece that the connection copies anyway is returned as a view, not copied here.
  // zlib produces every piece into the same scratch, so only the last piece can be a view:
  // one that does not fill the scratch is the last (see ZlibStream.write).
  let view = false;
  stream.write(data, true, scratch, Number.MAX_SAFE_INTEGER, (piece) => {
    if (view) throw new ZlibDriverError('zlib output went on after a piece that did not fill the scratch');
    view = pieces.length === 0 && piece.length <= viewMax + TAIL.length && piece.length < scratch.length;
    pieces.push(view ? piece : Buffer.from(piece));
    length += piece.length;
  });
  const out = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, length);
  // A sync flush of new input always ends with an empty stored block (zlib's contract).
  if (out.length < TAIL.length || !out.subarray(out.length - TAIL.length).equals(TAIL)) {
    throw new ZlibDriverError('zlib output does not end with a sync flush');
  }
  return out.subarray(0, out.length - TAIL.length);
}

/**
 * Compress one whole message with a stream borrowed from `pool` and given back (a message
 * compressed once for many connections without context takeover).
 */
export function deflateOnce(
  pool: DeflatePool,
  driver: ZlibDriver,
  options: ZlibStreamOptions,
  data: Buffer,
): Buffer {
  const stream = pool.acquire(driver, 'deflate', options);
  let encoded: Buffer;
  try {
    encoded = deflateMessage(stream, data, pool.scratch);
  } catch (error) {
    stream.close();
    throw error;
  }
  pool.release(stream);
  return encoded;
}

/**
 * permessage-deflate on one connection: compresses outgoing messages of at least the
 * threshold and decompresses incoming messages with RSV1 set, with or without context
 * takeover as negotiated. Made by `PerMessageDeflate`; given to `Connection` in
 * `extensions`.
 */
export class PerMessageDeflateExtension implements Extension {
  /** {@link PERMESSAGE_DEFLATE}. */
  readonly name = PERMESSAGE_DEFLATE;
  /** RSV1 marks a compressed message (RFC 7692 section 6). */
  readonly rsvBit = RSV1_BIT;
  /** The agreed parameters. */
  readonly params: Readonly<DeflateParameters>;
  /** Our role. */
  readonly role: Role;

  private readonly threshold: number;
  private readonly pool: DeflatePool;
  private readonly driver: ZlibDriver;
  private readonly deflateOptions: ZlibStreamOptions;
  private readonly inflateOptions: ZlibStreamOptions;
  /** Our compressor keeps its context between messages. */
  private readonly deflateTakeover: boolean;
  /** The peer's compressor keeps its context: so must our decompressor. */
  private readonly inflateTakeover: boolean;
  /** Window our compressor uses; 0 when the agreed limit is 8 bits (we then never compress). */
  readonly compressWindowBits: number;

  private deflater: ZlibStream | null = null;
  private inflater: ZlibStream | null = null;
  /** Copies of the context-takeover windows, kept only with `hibernation`. */
  private readonly deflateHistory: Window | null;
  private readonly inflateHistory: Window | null;
  /** The decompressed bytes of the message in progress (see {@link ChunkedBytes} for why chunks). */
  private readonly inflated = new ChunkedBytes();
  /** A compressed message is being received. */
  private inMessage = false;
  /** {@link PerMessageDeflateExtension.close} was called: allocate nothing any more. */
  private closed = false;

  /** @internal Made by `PerMessageDeflate` when an offer or a response is accepted. */
  static _create(
    role: Role,
    params: DeflateParameters,
    options: { threshold: number; level: number; memLevel: number; hibernation: boolean },
    pool: DeflatePool,
    driver: ZlibDriver,
  ): PerMessageDeflateExtension {
    return new PerMessageDeflateExtension(role, params, options, pool, driver);
  }

  /** Not constructed by applications: `PerMessageDeflate` makes one per negotiated connection. */
  private constructor(
    role: Role,
    params: DeflateParameters,
    options: { threshold: number; level: number; memLevel: number; hibernation: boolean },
    pool: DeflatePool,
    driver: ZlibDriver,
  ) {
    this.role = role;
    this.params = { ...params };
    this.threshold = options.threshold;
    this.pool = pool;
    this.driver = driver;
    const server = role === 'server';
    const ourBits = server ? params.serverMaxWindowBits : params.clientMaxWindowBits;
    const peerBits = server ? params.clientMaxWindowBits : params.serverMaxWindowBits;
    this.compressWindowBits = compressBits(ourBits);
    this.deflateTakeover = !(server ? params.serverNoContextTakeover : params.clientNoContextTakeover);
    this.inflateTakeover = !(server ? params.clientNoContextTakeover : params.serverNoContextTakeover);
    this.deflateOptions = {
      level: options.level,
      memLevel: options.memLevel,
      windowBits: this.compressWindowBits,
    };
    // A larger inflate window decodes any smaller one; zlib has no raw 8-bit window.
    this.inflateOptions = { windowBits: Math.max(9, peerBits) };
    const keep = options.hibernation;
    this.deflateHistory =
      keep && this.deflateTakeover && this.compressWindowBits !== 0
        ? new Window(this.compressWindowBits)
        : null;
    this.inflateHistory = keep && this.inflateTakeover ? new Window(Math.max(9, peerBits)) : null;
  }

  /** Whether this connection holds a compressor or decompressor right now (idle ones should not, without context takeover). */
  get holdsStreams(): boolean {
    return this.deflater !== null || this.inflater !== null;
  }

  /** Compress `data` when it is at least the threshold (see {@link Extension.encodeMessage}). */
  encodeMessage(data: Payload, _isText: boolean): Buffer | null {
    if (this.compressWindowBits === 0 || this.closed) return null;
    const length = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    if (length < this.threshold) return null;
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : toBuffer(data);
    const stream = this.deflater ?? this.newDeflater();
    this.deflater = null;
    let encoded: Buffer;
    try {
      // The output stays in the scratch when the connection copies it as it queues it:
      // a small one on a server, any on a client (masked into a copy).
      const viewMax = this.role === 'client' ? Number.MAX_SAFE_INTEGER : REUSABLE_PAYLOAD_MAX;
      encoded = deflateMessage(stream, bytes, this.pool.scratch, viewMax);
    } catch (error) {
      stream.close();
      throw error;
    }
    if (this.deflateTakeover) this.deflater = stream;
    else this.pool.release(stream);
    this.deflateHistory?.append(bytes);
    return encoded;
  }

  /** Decompress part of a compressed message, bounded by `maxPayload` (see {@link Extension.decodePart}). */
  decodePart(data: Buffer, fin: boolean, maxPayload: number): Buffer | null {
    let stream = this.inflater;
    if (stream === null) {
      stream = this.newInflater();
      this.inflater = stream;
    } else if (stream.ended && !this.inMessage) {
      // The previous message ended its DEFLATE stream with BFINAL (RFC 7692 section
      // 7.2.3.4): start a new one. Its window is lost; a peer that still refers to it
      // gets a 1007.
      stream.reset();
    }
    this.inMessage = true;
    if (data.length > 0) this.inflate(stream, data, false, maxPayload);
    if (!fin) return null;
    this.inflate(stream, TAIL, true, maxPayload);
    const message = this.inflated.take();
    this.inMessage = false;
    this.inflateHistory?.append(message);
    if (!this.inflateTakeover) {
      this.inflater = null;
      this.pool.release(stream);
    }
    return message;
  }

  /** The prepared payload when our compressor has no context takeover and a window at least as large. */
  preparedPayload(message: PreparedMessage): Buffer | null {
    if (message.encoded === null || message.extension !== PERMESSAGE_DEFLATE) return null;
    if (this.deflateTakeover || this.compressWindowBits === 0) return null;
    return message.windowBits <= this.compressWindowBits ? message.encoded : null;
  }

  /**
   * Free the zlib streams an idle connection holds because of context takeover (created
   * with `hibernation`; otherwise, and in the middle of a message, it does nothing). The
   * next message rebuilds them from the kept windows. Returns whether anything was freed.
   * Call it from the shell's idle timer: the core has none.
   */
  hibernate(): boolean {
    let freed = false;
    if (this.deflater !== null && this.deflateHistory !== null) {
      this.deflater.close();
      this.deflater = null;
      freed = true;
    }
    if (this.inflater !== null && this.inflateHistory !== null && !this.inMessage && !this.inflater.ended) {
      this.inflater.close();
      this.inflater = null;
      freed = true;
    }
    return freed;
  }

  /** Free the streams this connection holds (a borrowed one mid-message is freed, not pooled). */
  close(): void {
    this.closed = true;
    this.inflated.clear();
    this.inMessage = false;
    if (this.deflater !== null) this.deflater.close();
    if (this.inflater !== null) this.inflater.close();
    this.deflater = null;
    this.inflater = null;
  }

  private inflate(stream: ZlibStream, data: Buffer, last: boolean, maxPayload: number): void {
    if (stream.ended) return; // bytes after a final block are ignored, as zlib does
    let ok: boolean;
    try {
      ok = stream.write(data, last, this.pool.scratch, maxPayload - this.inflated.length, (piece) =>
        this.inflated.append(piece, maxPayload),
      );
    } catch (error) {
      this.dropInflater();
      if (!(error instanceof ZlibDataError)) throw error;
      throw new ProtocolError('invalid-compressed-data', `invalid compressed data: ${error.message}`);
    }
    if (!ok) {
      this.dropInflater();
      throw new ProtocolError(
        'message-too-big',
        `decompressed message larger than the limit of ${maxPayload} bytes`,
      );
    }
  }

  /** Our compressor: from the pool without context takeover, else new (primed with the kept window after hibernation). */
  private newDeflater(): ZlibStream {
    if (this.deflateHistory === null) return this.pool.acquire(this.driver, 'deflate', this.deflateOptions);
    return this.driver.create('deflate', '', { ...this.deflateOptions, ...this.deflateHistory.dictionary() });
  }

  private newInflater(): ZlibStream {
    if (this.inflateHistory === null) return this.pool.acquire(this.driver, 'inflate', this.inflateOptions);
    return this.driver.create('inflate', '', { ...this.inflateOptions, ...this.inflateHistory.dictionary() });
  }

  private dropInflater(): void {
    this.inflater?.close();
    this.inflater = null;
    this.inflated.clear();
    this.inMessage = false;
  }
}
