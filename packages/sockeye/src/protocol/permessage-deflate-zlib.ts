/**
 * How permessage-deflate drives `node:zlib`: the one file that knows Node's zlib internals.
 *
 * The core is synchronous (no promises, no thread pool), so compression runs on the
 * calling thread. Node offers two synchronous paths. Measured here on 16 KiB JSON-like
 * messages, level 1, in messages per CPU-second (bench/deflate.ts has the end-to-end
 * comparison with `ws`):
 * - `zlib.deflateRawSync` / `inflateRawSync` (the {@link publicDriver}): stateless. Every
 *   call creates a zlib stream (for deflate ~256 KiB allocated and a 64 KiB hash table
 *   cleared), runs it and frees it: ~6.3k deflates and ~15.6k inflates. Context takeover
 *   needs the previous window as a `dictionary` on every call, which deflate must hash
 *   again: ~5.6k. A message that arrives in parts is inflated once, at its end.
 * - A persistent zlib stream driven synchronously (the {@link nativeDriver}): ~8.8k
 *   deflates with a reset per message, ~8.2k with context takeover, ~32.6k inflates.
 *   Node's public `_processChunk(chunk, flush)` without a callback closes the stream after
 *   one call (Node 20), so we call the native handle's `writeSync` the way Node's own
 *   `zlibBufferSync` does (`stream._handle.writeSync(...)`, then `stream._writeState`).
 *   That is an internal of `node:zlib`, unchanged since Node 10, but not a promise.
 *
 * So the native driver is used when it works, and the public one otherwise: the first
 * `PerMessageDeflate` of the process runs a round trip through each (two messages with
 * context takeover, a part-by-part inflate and the output limit) and keeps the first that
 * passes ({@link zlibDriver}). When neither does, permessage-deflate is declined: a server
 * answers no offer and a client makes none. Nothing here throws for a missing or changed
 * internal; it only makes the probe fail.
 */
import { constants } from 'node:buffer';
import zlib from 'node:zlib';
import { SockeyeError } from './errors.js';

/** A compressor or a decompressor. */
export type ZlibKind = 'deflate' | 'inflate';

/** The name of a {@link ZlibDriver}. */
export type ZlibDriverName = 'native' | 'public';

/** Options of a stream: zlib's, with a window to start from (a raw preset dictionary). */
export type ZlibStreamOptions = Pick<zlib.ZlibOptions, 'level' | 'memLevel' | 'windowBits'> & {
  dictionary?: Buffer;
};

/**
 * zlib could not decode the data (a corrupt or hostile stream). The codec turns it into a
 * {@link ProtocolError} `invalid-compressed-data` (close code 1007).
 */
export class ZlibDataError extends SockeyeError {
  override readonly name = 'ZlibDataError';
  /** Stable code for logs and tests. */
  readonly code = 'ERR_ZLIB_DATA';
}

/**
 * `node:zlib` did not behave as a driver needs: its internal handle is missing, or its
 * output broke zlib's contract. A probe that meets it picks another driver; on a live
 * connection the codec's failure fails the connection with 1011 (an `InternalError`
 * whose `cause` is this).
 */
export class ZlibDriverError extends SockeyeError {
  override readonly name = 'ZlibDriverError';
  /** Stable code for logs and tests. */
  readonly code = 'ERR_ZLIB_DRIVER';
}

/**
 * Neither way of driving `node:zlib` passed its self-test in this process, so
 * permessage-deflate cannot be used (see `PerMessageDeflate.driver`).
 */
export class DeflateUnavailableError extends SockeyeError {
  override readonly name = 'DeflateUnavailableError';
  /** Stable code for logs and tests. */
  readonly code = 'ERR_DEFLATE_UNAVAILABLE';

  constructor() {
    super('permessage-deflate is unavailable: node:zlib failed its self-test');
  }
}

/**
 * One raw deflate or inflate stream with context kept between messages until
 * {@link ZlibStream.reset}. Every message ends with a sync flush.
 */
export interface ZlibStream {
  /** The pool key it was made for. */
  readonly key: string;
  /** An inflate stream reached the end of a block with BFINAL set: it takes no more input until reset. */
  readonly ended: boolean;
  /**
   * Push part of a message (a compressor always gets a whole message, `last` true) and hand
   * the output to `sink` in pieces, each valid only during the call (a view of `scratch`,
   * which the native driver produces into; a piece that does not fill `scratch` is the
   * last of the call). `limit` bounds the output: past it, production
   * stops and `write` returns false (the stream must then be dropped).
   * @throws {@link ZlibDataError} on data zlib cannot decode
   */
  write(input: Buffer, last: boolean, scratch: Buffer, limit: number, sink: (piece: Buffer) => void): boolean;
  /** Forget the context (the window). */
  reset(): void;
  /** Free it. */
  close(): void;
}

/** The functions of `node:zlib` the drivers call (tests pass a changed copy, see {@link resetZlibDriver}). */
export type ZlibApi = Pick<
  typeof zlib,
  'createDeflateRaw' | 'createInflateRaw' | 'deflateRawSync' | 'inflateRawSync'
>;

/** A way of driving zlib (see the file comment). */
export interface ZlibDriver {
  readonly name: ZlibDriverName;
  create(kind: ZlibKind, key: string, options: ZlibStreamOptions): ZlibStream;
}

// ---- the native driver: Node's internal handle ----

/** The parts of Node's internal zlib handle that the synchronous path uses. */
interface NativeZlibHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOffset: number,
    inLength: number,
    output: Uint8Array,
    outOffset: number,
    outLength: number,
  ): void;
  reset(): void;
  onerror: (message: string, errno: number) => void;
}
interface NodeZlibInternals {
  _handle: NativeZlibHandle | null;
  _writeState: Uint32Array;
  close(): void;
}

/**
 * A persistent stream driven through Node's native handle: every part is inflated as it
 * arrives, into the scratch buffer.
 */
class NativeZlibStream implements ZlibStream {
  readonly key: string;
  ended = false;
  private readonly stream: NodeZlibInternals;
  private readonly handle: NativeZlibHandle;
  private readonly state: Uint32Array;
  private error: string | null = null;

  /** @throws Error when `node:zlib` does not expose the handle (the probe then fails) */
  constructor(api: ZlibApi, kind: ZlibKind, key: string, options: ZlibStreamOptions) {
    this.key = key;
    // chunkSize: the stream's own output buffer is never used here (output goes to our
    // scratch), so keep it at zlib's minimum instead of 16 KiB per stream.
    const streamOptions = { ...options, chunkSize: zlib.constants.Z_MIN_CHUNK };
    const stream = (kind === 'deflate'
      ? api.createDeflateRaw(streamOptions)
      : api.createInflateRaw(streamOptions)) as unknown as NodeZlibInternals;
    const handle = stream._handle;
    if (
      handle === null ||
      handle === undefined ||
      typeof handle.writeSync !== 'function' ||
      typeof handle.reset !== 'function' ||
      !(stream._writeState instanceof Uint32Array)
    ) {
      stream.close?.();
      throw new ZlibDriverError('node:zlib does not expose the synchronous handle');
    }
    this.stream = stream;
    this.handle = handle;
    this.state = stream._writeState;
    // Errors arrive synchronously inside writeSync; keep them instead of letting the
    // stream destroy itself and emit 'error' later.
    handle.onerror = (message: string) => {
      this.error = message;
    };
  }

  write(
    input: Buffer,
    _last: boolean,
    scratch: Buffer,
    limit: number,
    sink: (piece: Buffer) => void,
  ): boolean {
    const state = this.state;
    const flush = zlib.constants.Z_SYNC_FLUSH;
    let inOffset = 0;
    let inLength = input.length;
    let produced = 0;
    for (;;) {
      // Never ask zlib for more than one byte past the limit: a bomb stops right there.
      const room = Math.min(scratch.length, limit - produced + 1);
      this.handle.writeSync(flush, input, inOffset, inLength, scratch, 0, room);
      if (this.error !== null) throw new ZlibDataError(this.error);
      const availOut = state[0]!;
      const availIn = state[1]!;
      const have = room - availOut;
      produced += have;
      if (have > 0) {
        if (produced > limit) return false;
        sink(scratch.subarray(0, have));
      }
      inOffset += inLength - availIn;
      inLength = availIn;
      if (availOut !== 0) {
        // Output space left over and input not consumed: the stream ended (BFINAL).
        if (availIn !== 0) this.ended = true;
        return true;
      }
    }
  }

  reset(): void {
    this.handle.reset();
    this.ended = false;
    this.error = null;
  }

  close(): void {
    this.stream.close();
  }
}

/** Drives zlib through Node's internal handle (see the file comment). */
export function nativeDriver(api: ZlibApi = zlib): ZlibDriver {
  return { name: 'native', create: (kind, key, options) => new NativeZlibStream(api, kind, key, options) };
}

// ---- the public driver: deflateRawSync / inflateRawSync ----

/**
 * A stream on Node's public one-shot functions. Context takeover is a copy of the window
 * given back as `dictionary` on every call; a message that arrives in parts is kept
 * (compressed, so within the connection's wire limit for it) and inflated at its end,
 * with `maxOutputLength` as the bound.
 */
class PublicZlibStream implements ZlibStream {
  readonly key: string;
  ended = false;
  private readonly api: ZlibApi;
  private readonly kind: ZlibKind;
  private readonly options: ZlibStreamOptions;
  private readonly window: Window;
  /** The compressed parts of the message in progress (inflate only). */
  private readonly input = new ChunkedBytes();

  constructor(api: ZlibApi, kind: ZlibKind, key: string, options: ZlibStreamOptions) {
    this.api = api;
    this.kind = kind;
    this.key = key;
    const { dictionary, ...rest } = options;
    this.options = rest;
    this.window = new Window(options.windowBits ?? 15);
    if (dictionary !== undefined) this.window.append(dictionary);
  }

  write(
    input: Buffer,
    last: boolean,
    _scratch: Buffer,
    limit: number,
    sink: (piece: Buffer) => void,
  ): boolean {
    if (this.kind === 'deflate') {
      const out = this.api.deflateRawSync(input, {
        ...this.options,
        ...this.window.dictionary(),
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
      });
      this.window.append(input);
      if (out.length > 0) sink(out);
      return true;
    }
    if (this.ended) return true; // bytes after a final block are ignored, as zlib does
    // The wire limit bounds a message's compressed bytes before they get here.
    this.input.append(input, Number.MAX_SAFE_INTEGER);
    if (!last) return true;
    const compressed = this.input.take();
    let result: { buffer: Buffer; engine: { bytesWritten: number } };
    try {
      result = this.api.inflateRawSync(compressed, {
        ...this.options,
        ...this.window.dictionary(),
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
        maxOutputLength: Math.min(Math.max(1, limit), constants.MAX_LENGTH),
        info: true,
      }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === 'ERR_BUFFER_TOO_LARGE') return false; // past maxOutputLength: a bomb
      if (typeof code === 'string' && code.startsWith('Z_'))
        throw new ZlibDataError((error as Error).message);
      throw error;
    }
    const out = result.buffer;
    if (out.length > limit) return false;
    // Input left over: the message ended its DEFLATE stream with BFINAL.
    if (result.engine.bytesWritten < compressed.length) this.ended = true;
    this.window.append(out);
    if (out.length > 0) sink(out);
    return true;
  }

  reset(): void {
    this.window.clear();
    this.input.clear();
    this.ended = false;
  }

  close(): void {
    this.reset();
  }
}

/** Drives zlib through `deflateRawSync` / `inflateRawSync` only (see the file comment). */
export function publicDriver(api: ZlibApi = zlib): ZlibDriver {
  return { name: 'public', create: (kind, key, options) => new PublicZlibStream(api, kind, key, options) };
}

// ---- choosing a driver ----

/**
 * The driver found by the probe: undefined until probed, null when none works. Kept for
 * the process rather than by each server or client, because it describes the runtime
 * (which way of driving `node:zlib` works), not any owner, and a probe per owner would
 * cost every client connection a round trip through two zlib drivers (about 0.1 ms,
 * measured with `resetZlibDriver()` then `zlibDriver()` in a loop).
 */
let probed: ZlibDriver | null | undefined;
/** What the probe drives: `node:zlib` itself, except in tests. */
let probedApi: ZlibApi = zlib;

/**
 * The driver permessage-deflate uses in this process: the first of the native and the
 * public driver that passes {@link selfTest}, probed once and kept; null when neither
 * works (the extension is then declined).
 */
export function zlibDriver(): ZlibDriver | null {
  if (probed === undefined) {
    probed = [nativeDriver(probedApi), publicDriver(probedApi)].find(selfTest) ?? null;
  }
  return probed;
}

/**
 * @internal Forget the probe, so that the next {@link zlibDriver} call probes again,
 * driving `api` (for tests: `node:zlib`'s exports cannot be replaced).
 */
export function resetZlibDriver(api: ZlibApi = zlib): void {
  probed = undefined;
  probedApi = api;
}

/** The 4 bytes a sync flush ends with (RFC 7692 section 7.2.1). */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/**
 * A round trip through `driver` as the codec uses it: two messages with context takeover
 * (the second must come out smaller, so the context is really kept), each compressed whole
 * and inflated part by part, then the output limit. False on any difference or exception.
 */
export function selfTest(driver: ZlibDriver): boolean {
  // Every write is bounded: a driver that misreads zlib's state could otherwise produce
  // forever (a native handle whose counters changed meaning never reports the end).
  const BOUND = 64 * 1024;
  const streams: ZlibStream[] = [];
  try {
    const scratch = Buffer.allocUnsafe(1024);
    const deflater = driver.create('deflate', '', { level: 1, memLevel: 8, windowBits: 15 });
    streams.push(deflater);
    const inflater = driver.create('inflate', '', { windowBits: 15 });
    streams.push(inflater);
    const message = Buffer.from('permessage-deflate self-test: sockeye '.repeat(64));
    const sizes: number[] = [];
    for (let round = 0; round < 2; round++) {
      const compressed = collect((sink) => deflater.write(message, true, scratch, BOUND, sink));
      if (compressed === null || compressed.length < 4 || !compressed.subarray(-4).equals(TAIL)) return false;
      sizes.push(compressed.length);
      const body = compressed.subarray(0, -4);
      const half = body.length >> 1;
      const pieces: Buffer[] = [];
      const sink = (piece: Buffer) => pieces.push(Buffer.from(piece));
      const limit = message.length;
      if (!inflater.write(body.subarray(0, half), false, scratch, limit, sink)) return false;
      if (!inflater.write(body.subarray(half), false, scratch, limit, sink)) return false;
      if (!inflater.write(TAIL, true, scratch, limit, sink)) return false;
      if (!Buffer.concat(pieces).equals(message) || inflater.ended) return false;
    }
    if (!(sizes[1]! < sizes[0]!)) return false;
    // The limit: a message one byte over it is refused.
    const bounded = driver.create('inflate', '', { windowBits: 15 });
    streams.push(bounded);
    const fresh = driver.create('deflate', '', { level: 1, memLevel: 8, windowBits: 15 });
    streams.push(fresh);
    const compressed = collect((sink) => fresh.write(message, true, scratch, BOUND, sink));
    if (compressed === null) return false;
    return !bounded.write(compressed, true, scratch, message.length - 1, () => {});
  } catch {
    return false;
  } finally {
    for (const stream of streams) {
      try {
        stream.close();
      } catch {
        // A broken driver may fail to close too; it is not used.
      }
    }
  }
}

/** Run `write` and join what it sinks; null when it reports the limit passed. */
function collect(write: (sink: (piece: Buffer) => void) => boolean): Buffer | null {
  const pieces: Buffer[] = [];
  return write((piece) => pieces.push(Buffer.from(piece))) ? Buffer.concat(pieces) : null;
}

// ---- buffers ----

/** Chunks bytes are copied into grow from this size... */
const MIN_CHUNK = 1024;
/** ...to this one (1 MiB is then 16 chunks and one join). */
const MAX_CHUNK = 64 * 1024;

/**
 * Bytes that arrive in pieces, copied into chunks that grow geometrically to 64 KiB and
 * joined once at the end. zlib hands its output over in pieces as small as one byte (a
 * peer that sends one compressed byte per read, or a message in a million one-byte
 * fragments, makes a piece per byte); kept as a `Buffer` each, they would cost ~100 bytes
 * of heap per byte. Here they hold at most their length plus one chunk, and leave no
 * garbage behind while they grow (a buffer doubled up to the limit would). Bytes that come
 * in one piece (the usual case: a single frame under 64 KiB) are copied once, at their
 * size.
 */
export class ChunkedBytes {
  /** Bytes held so far. */
  length = 0;
  /** Full chunks. */
  private chunks: Buffer[] = [];
  /** The chunk being filled, and how much of it is. */
  private current: Buffer | null = null;
  private used = 0;

  /** Copy `piece` in (it may be a view of a buffer reused afterwards). The caller keeps `length` within `limit`. */
  append(piece: Buffer, limit: number): void {
    let at = 0;
    while (at < piece.length) {
      let current = this.current;
      if (current === null || this.used === current.length) {
        // The first chunk is the first piece's exact size; later ones grow with the bytes.
        const size =
          this.length === 0
            ? piece.length
            : Math.min(limit - this.length, MAX_CHUNK, Math.max(MIN_CHUNK, this.length));
        if (current !== null) this.chunks.push(current);
        this.current = current = Buffer.allocUnsafe(Math.max(1, size));
        this.used = 0;
      }
      const copied = piece.copy(current, this.used, at);
      this.used += copied;
      this.length += copied;
      at += copied;
    }
  }

  /** All the bytes (an empty buffer when none), and start over. */
  take(): Buffer {
    const current = this.current;
    let bytes: Buffer;
    if (current === null) bytes = Buffer.alloc(0);
    else if (this.chunks.length === 0) bytes = current.subarray(0, this.used);
    else {
      this.chunks.push(current.subarray(0, this.used));
      bytes = Buffer.concat(this.chunks, this.length);
    }
    this.clear();
    return bytes;
  }

  /** Drop what is held. */
  clear(): void {
    if (this.chunks.length > 0) this.chunks = [];
    this.current = null;
    this.used = 0;
    this.length = 0;
  }
}

/**
 * The last `2^windowBits` bytes that went through a stream with context takeover: the
 * content of its LZ77 window, given to a new stream as a preset dictionary (which both
 * zlib raw deflate and raw inflate accept) to continue where the old one was.
 */
export class Window {
  private readonly buffer: Buffer;
  private length = 0;

  constructor(windowBits: number) {
    this.buffer = Buffer.allocUnsafe(1 << windowBits);
  }

  append(data: Buffer): void {
    const size = this.buffer.length;
    if (data.length >= size) {
      data.copy(this.buffer, 0, data.length - size);
      this.length = size;
      return;
    }
    // Keep the newest bytes that still fit, moved to the front (copy handles the overlap).
    const keep = Math.min(this.length, size - data.length);
    this.buffer.copy(this.buffer, 0, this.length - keep, this.length);
    data.copy(this.buffer, keep);
    this.length = keep + data.length;
  }

  /** The zlib option that primes a new stream with the window, or nothing when it is empty. */
  dictionary(): { dictionary?: Buffer } {
    return this.length === 0 ? {} : { dictionary: Buffer.from(this.buffer.subarray(0, this.length)) };
  }

  clear(): void {
    this.length = 0;
  }
}
