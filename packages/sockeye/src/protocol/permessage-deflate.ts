/**
 * permessage-deflate (RFC 7692): the negotiation for both roles and the codec that plugs
 * into {@link Connection} as an {@link Extension}.
 *
 * ## How zlib is driven, and why
 * The core is synchronous (no promises, no thread pool), so compression runs on the
 * calling thread. Node offers two synchronous paths. Measured here on 16 KiB JSON-like
 * messages, level 1, in messages per CPU-second (bench/deflate.ts has the end-to-end
 * comparison with `ws`):
 * - `zlib.deflateRawSync` / `inflateRawSync`: stateless. Every call creates a zlib stream
 *   (for deflate ~256 KiB allocated and a 64 KiB hash table cleared), runs it and frees
 *   it: ~6.3k deflates and ~15.6k inflates. Context takeover would need the previous
 *   32 KiB as a `dictionary` on every call, which deflate must hash again: ~5.6k.
 * - A persistent zlib stream driven synchronously: ~8.8k deflates with a reset per
 *   message, ~8.2k with context takeover, ~32.6k inflates. Node's public
 *   `_processChunk(chunk, flush)` without a callback closes the stream after one call
 *   (Node 20), so we call the native handle's `writeSync` the way Node's own
 *   `zlibBufferSync` does (`stream._handle.writeSync(...)`, then `stream._writeState`).
 *   That is an internal of `node:zlib`, unchanged since Node 10; {@link ZlibStream} checks
 *   for it and fails loudly, and the tests exercise it on every run.
 * We take the persistent streams: 1.4x faster to compress, 2.1x to decompress, and the
 * only way to keep context takeover without hashing the window again per message.
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
 * (RSV1 clear), which RFC 7692 always allows; we still accept the offer so that the
 * other direction is compressed.
 */
import zlib from 'node:zlib';
import { CloseCode } from './close-codes.js';
import { HandshakeError, ProtocolError } from './errors.js';
import type { Extension, PreparedMessage } from './extension.js';
import { RSV1_BIT } from './frame.js';
import type { ExtensionOffer } from './handshake.js';
import type { Payload } from './output.js';
import type { Role } from './parser.js';

/** The extension's token in `Sec-WebSocket-Extensions`. */
export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/** Default for {@link PerMessageDeflateOptions.threshold}: 1 KiB. */
export const DEFAULT_DEFLATE_THRESHOLD = 1024;
/** Default for {@link PerMessageDeflateOptions.level}. */
export const DEFAULT_DEFLATE_LEVEL = 1;
/** Default for {@link PerMessageDeflateOptions.memLevel}. */
export const DEFAULT_DEFLATE_MEM_LEVEL = 8;

/** The 4 bytes a sync flush ends with, removed by the sender and put back by the receiver (RFC 7692 section 7.2.1). */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/** Output is produced into a scratch buffer of this size and copied out at its exact size. */
const SCRATCH_SIZE = 64 * 1024;

/** Options of {@link PerMessageDeflate}, for either role. */
export interface PerMessageDeflateOptions {
  /**
   * Outgoing messages of at least this many bytes are compressed; smaller ones are sent
   * as they are (RSV1 clear): deflate cannot shrink a few bytes, and costs a stream.
   * @defaultValue {@link DEFAULT_DEFLATE_THRESHOLD} (1024)
   */
  threshold?: number;
  /**
   * zlib compression level, 0-9. 1 compresses JSON within ~15% of 6 at twice the speed.
   * @defaultValue {@link DEFAULT_DEFLATE_LEVEL} (1)
   */
  level?: number;
  /**
   * zlib memLevel, 1-9: the deflate hash table is `2^(memLevel+9)` bytes, and the buffer
   * of pending symbols as much again. 8 is zlib's default; lower saves memory per
   * context-takeover connection at a small cost in ratio.
   * @defaultValue {@link DEFAULT_DEFLATE_MEM_LEVEL} (8)
   */
  memLevel?: number;
  /**
   * The server's LZ77 window, 8-15 bits. On a server: the largest window our compressor
   * uses (answered as `server_max_window_bits` when the client asked for a limit). On a
   * client: requested from the server with `server_max_window_bits` when set.
   * @defaultValue 15 on a server; not requested by a client
   */
  serverMaxWindowBits?: number;
  /**
   * The client's LZ77 window, 8-15 bits. On a server: the limit asked of the client
   * (only possible when its offer has `client_max_window_bits`). On a client: offered as
   * `client_max_window_bits=N`, or without a value when `true` (we accept any limit), or
   * not at all when `false` (the server may then not limit us).
   * @defaultValue not limited on a server; `true` on a client
   */
  clientMaxWindowBits?: number | boolean;
  /**
   * Reset the server's compressor after every message (`server_no_context_takeover`).
   * A server then holds no compressor between messages and can send one compressed
   * broadcast to every such client; compression of small similar messages gets worse.
   * @defaultValue false
   */
  serverNoContextTakeover?: boolean;
  /**
   * Reset the client's compressor after every message (`client_no_context_takeover`):
   * requested by a server, announced by a client. A server then holds no decompressor
   * between messages.
   * @defaultValue false
   */
  clientNoContextTakeover?: boolean;
  /**
   * Where streams without context takeover are borrowed from. Pass one pool to several
   * {@link PerMessageDeflate} instances to share it.
   * @defaultValue a pool of this {@link PerMessageDeflate}
   */
  pool?: DeflatePool;
  /**
   * Let {@link PerMessageDeflateExtension.hibernate} free the zlib streams of an idle
   * connection that has context takeover. Each such direction then keeps a copy of its
   * LZ77 window (`2^windowBits` bytes: 32 KiB at 15) and copies the tail of every
   * message into it; a hibernated stream is rebuilt from that copy (as a preset
   * dictionary) on the next message. An idle connection then holds the copies (64 KiB at
   * 15 bits) instead of the streams (~250 KiB).
   * @defaultValue false
   */
  hibernation?: boolean;
}

/** The parameters both ends agreed on (RFC 7692 section 7.1). */
export interface DeflateParameters {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  /** The window limit of the server's compressor, 8-15 (15 when not negotiated). */
  serverMaxWindowBits: number;
  /** The window limit of the client's compressor, 8-15 (15 when not negotiated). */
  clientMaxWindowBits: number;
}

/** What {@link PerMessageDeflate.negotiate} returns when it accepts an offer. */
export interface DeflateAgreement {
  /** The element to put in the response's `Sec-WebSocket-Extensions` header. */
  responseHeaderValue: string;
  /** The extension to pass to `new Connection(handler, { extensions: [extension] })`. */
  extension: PerMessageDeflateExtension;
}

// ---- zlib streams ----

type ZlibKind = 'deflate' | 'inflate';

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
 * One raw deflate or inflate stream, driven synchronously through Node's native handle
 * (see the file comment for why). Output goes to a callback in pieces that are views of
 * a shared scratch buffer, valid only during the callback.
 */
class ZlibStream {
  readonly key: string;
  private readonly stream: NodeZlibInternals;
  private readonly handle: NativeZlibHandle;
  private readonly state: Uint32Array;
  private error: string | null = null;
  /** An inflate stream reached the end of a block with BFINAL set: it takes no more input until reset. */
  ended = false;

  constructor(kind: ZlibKind, key: string, options: zlib.ZlibOptions) {
    this.key = key;
    // chunkSize: the stream's own output buffer is never used here (output goes to our
    // scratch), so keep it at zlib's minimum instead of 16 KiB per stream.
    const streamOptions = { ...options, chunkSize: zlib.constants.Z_MIN_CHUNK };
    const stream = (kind === 'deflate'
      ? zlib.createDeflateRaw(streamOptions)
      : zlib.createInflateRaw(streamOptions)) as unknown as NodeZlibInternals;
    const handle = stream._handle;
    if (
      handle === null ||
      typeof handle.writeSync !== 'function' ||
      !(stream._writeState instanceof Uint32Array)
    ) {
      throw new Error('node:zlib no longer exposes the synchronous handle permessage-deflate uses');
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

  /**
   * Push `input` through with `flush`, handing every produced byte to `sink`. `limit`
   * bounds the output: production stops as soon as it is passed, and `write` returns
   * false (the stream must then be dropped).
   */
  write(
    input: Uint8Array,
    flush: number,
    scratch: Buffer,
    limit: number,
    sink: (piece: Buffer) => void,
  ): boolean {
    const state = this.state;
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

/** zlib could not decode the data (a corrupt or hostile stream). */
class ZlibDataError extends Error {}

/**
 * Streams without context takeover, shared between connections: a connection borrows one
 * for one message and gives it back reset. Everything is synchronous, so a stream is
 * never used by two messages at once. Also holds the scratch buffer output goes through.
 * Create one per server (or per process) and pass it in {@link PerMessageDeflateOptions.pool}.
 */
export class DeflatePool {
  /** Most idle streams kept per configuration; more are freed when given back. */
  readonly maxIdle: number;
  private readonly idle = new Map<string, ZlibStream[]>();
  /** @internal */
  readonly scratch = Buffer.allocUnsafe(SCRATCH_SIZE);

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

  /** @internal Borrow (or create) a stream. */
  acquire(kind: ZlibKind, options: zlib.ZlibOptions): ZlibStream {
    const key = `${kind}:${options.level ?? ''}:${options.memLevel ?? ''}:${options.windowBits}`;
    const stream = this.idle.get(key)?.pop();
    return stream ?? new ZlibStream(kind, key, options);
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

// ---- parameters ----

/** Parameters as written in an offer or a response; `client_max_window_bits` may be `true` in an offer. */
interface RawParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  clientMaxWindowBits: number | true | undefined;
}

/**
 * Read permessage-deflate parameters (RFC 7692 section 7.1). Throws a `SyntaxError` on
 * an unknown or repeated parameter or an invalid value. `client_max_window_bits` may lack
 * a value only in an offer (`inOffer`).
 */
function readParams(params: ExtensionOffer['params'], inOffer: boolean): RawParams {
  const out: RawParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const [name, value] of params) {
    if (seen.has(name)) throw new SyntaxError(`parameter ${name} repeated`);
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (value !== true) throw new SyntaxError(`parameter ${name} takes no value`);
        if (name === 'server_no_context_takeover') out.serverNoContextTakeover = true;
        else out.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits':
        out.serverMaxWindowBits = windowBits(name, value);
        break;
      case 'client_max_window_bits':
        out.clientMaxWindowBits = value === true && inOffer ? true : windowBits(name, value);
        break;
      default:
        throw new SyntaxError(`unknown parameter ${name}`);
    }
  }
  return out;
}

/** A window-bits value: one or two digits without a leading zero, 8 to 15 (RFC 7692 section 7.1.2). */
function windowBits(name: string, value: string | true): number {
  if (value === true || !/^(?:[89]|1[0-5])$/.test(value)) {
    throw new SyntaxError(`parameter ${name} needs a value from 8 to 15`);
  }
  return Number(value);
}

function checkBits(name: string, bits: number | undefined): void {
  if (bits !== undefined && !(Number.isInteger(bits) && bits >= 8 && bits <= 15)) {
    throw new RangeError(`${name} must be an integer from 8 to 15`);
  }
}

/** Format agreed or offered parameters as one `Sec-WebSocket-Extensions` element. */
function formatParams(params: RawParams): string {
  let value = PERMESSAGE_DEFLATE;
  if (params.serverNoContextTakeover) value += '; server_no_context_takeover';
  if (params.clientNoContextTakeover) value += '; client_no_context_takeover';
  if (params.serverMaxWindowBits !== undefined)
    value += `; server_max_window_bits=${params.serverMaxWindowBits}`;
  if (params.clientMaxWindowBits === true) value += '; client_max_window_bits';
  else if (params.clientMaxWindowBits !== undefined)
    value += `; client_max_window_bits=${params.clientMaxWindowBits}`;
  return value;
}

/**
 * permessage-deflate configuration for one server or one client: negotiates (server:
 * {@link PerMessageDeflate.negotiate}; client: {@link PerMessageDeflate.offer} then
 * {@link PerMessageDeflate.accept}) and makes the {@link PerMessageDeflateExtension} to
 * give to the connection. Holds the {@link DeflatePool} its connections share.
 */
export class PerMessageDeflate {
  /** The pool connections borrow streams without context takeover from. */
  readonly pool: DeflatePool;
  private readonly options: Required<Omit<PerMessageDeflateOptions, 'pool' | 'serverMaxWindowBits'>> & {
    serverMaxWindowBits: number | undefined;
  };

  /** @throws RangeError on an option out of range */
  constructor(options: PerMessageDeflateOptions = {}) {
    const level = options.level ?? DEFAULT_DEFLATE_LEVEL;
    const memLevel = options.memLevel ?? DEFAULT_DEFLATE_MEM_LEVEL;
    const threshold = options.threshold ?? DEFAULT_DEFLATE_THRESHOLD;
    if (!(Number.isInteger(level) && level >= 0 && level <= 9)) throw new RangeError('level must be 0-9');
    if (!(Number.isInteger(memLevel) && memLevel >= 1 && memLevel <= 9)) {
      throw new RangeError('memLevel must be 1-9');
    }
    if (!(threshold >= 0)) throw new RangeError('threshold must be 0 or more');
    checkBits('serverMaxWindowBits', options.serverMaxWindowBits);
    if (typeof options.clientMaxWindowBits === 'number') {
      checkBits('clientMaxWindowBits', options.clientMaxWindowBits);
    }
    this.pool = options.pool ?? new DeflatePool();
    this.options = {
      threshold,
      hibernation: options.hibernation ?? false,
      level,
      memLevel,
      serverMaxWindowBits: options.serverMaxWindowBits,
      clientMaxWindowBits: options.clientMaxWindowBits ?? true,
      serverNoContextTakeover: options.serverNoContextTakeover ?? false,
      clientNoContextTakeover: options.clientNoContextTakeover ?? false,
    };
  }

  // ---- server role ----

  /**
   * Server side: pick the first permessage-deflate offer we can honour (RFC 7692 section
   * 5: an offer with an unknown or repeated parameter or an invalid value is declined,
   * and the next one is tried). Returns `null` when every offer was declined (or none was
   * made): the connection then goes on without compression.
   * @param offers - every extension the client offered, from `validateRequest(...).extensions`
   */
  negotiate(offers: readonly ExtensionOffer[]): DeflateAgreement | null {
    const o = this.options;
    for (const offer of offers) {
      if (offer.name !== PERMESSAGE_DEFLATE) continue;
      let asked: RawParams;
      try {
        asked = readParams(offer.params, true);
      } catch {
        continue;
      }
      // server_max_window_bits: the client's limit (answered as is or lowered to ours),
      // or ours when it set none (a compressor may always use a smaller window).
      let serverBits = asked.serverMaxWindowBits;
      if (
        o.serverMaxWindowBits !== undefined &&
        (serverBits === undefined || serverBits > o.serverMaxWindowBits)
      ) {
        serverBits = o.serverMaxWindowBits;
      }
      // client_max_window_bits may only be answered when offered (section 7.1.2.2): with
      // our limit, or the client's own value when lower (a smaller inflate window for us).
      let clientBits: number | undefined;
      const ourClientBits = typeof o.clientMaxWindowBits === 'number' ? o.clientMaxWindowBits : 15;
      if (asked.clientMaxWindowBits === true) {
        if (ourClientBits < 15) clientBits = ourClientBits;
      } else if (asked.clientMaxWindowBits !== undefined) {
        clientBits = Math.min(asked.clientMaxWindowBits, ourClientBits);
      }
      const agreed: RawParams = {
        serverNoContextTakeover: asked.serverNoContextTakeover || o.serverNoContextTakeover,
        clientNoContextTakeover: asked.clientNoContextTakeover || o.clientNoContextTakeover,
        serverMaxWindowBits: serverBits,
        clientMaxWindowBits: clientBits,
      };
      return {
        responseHeaderValue: formatParams(agreed),
        extension: this.extension('server', {
          serverNoContextTakeover: agreed.serverNoContextTakeover,
          clientNoContextTakeover: agreed.clientNoContextTakeover,
          serverMaxWindowBits: serverBits ?? 15,
          clientMaxWindowBits: clientBits ?? 15,
        }),
      };
    }
    return null;
  }

  // ---- client role ----

  /** Client side: the `Sec-WebSocket-Extensions` value to offer. */
  offer(): string {
    const o = this.options;
    return formatParams({
      serverNoContextTakeover: o.serverNoContextTakeover,
      clientNoContextTakeover: o.clientNoContextTakeover,
      serverMaxWindowBits: o.serverMaxWindowBits,
      clientMaxWindowBits: o.clientMaxWindowBits === false ? undefined : o.clientMaxWindowBits,
    });
  }

  /**
   * Client side: check the server's answer to {@link PerMessageDeflate.offer} and make the
   * extension. Returns `null` when the server did not accept permessage-deflate.
   * @param extensions - the extensions the server accepted, from `validateResponse(...).extensions`
   * @throws {@link HandshakeError} (status 0: fail the connection, RFC 6455 section 4.1)
   * when the response is malformed or does not match what we offered
   */
  accept(extensions: readonly ExtensionOffer[]): PerMessageDeflateExtension | null {
    const accepted = extensions.filter((extension) => extension.name === PERMESSAGE_DEFLATE);
    if (accepted.length === 0) return null;
    const fail = (why: string): never => {
      throw new HandshakeError(0, `Invalid permessage-deflate response: ${why}`);
    };
    if (accepted.length > 1) fail('accepted more than once');
    let got: RawParams;
    try {
      got = readParams(accepted[0]!.params, false);
    } catch (error) {
      return fail((error as Error).message);
    }
    const o = this.options;
    // We asked the server not to take over context: it must agree (section 7.1.1.1).
    if (o.serverNoContextTakeover && !got.serverNoContextTakeover) fail('server_no_context_takeover missing');
    // We limited the server's window: it must answer with that limit or a lower one (section 7.1.2.1).
    if (o.serverMaxWindowBits !== undefined) {
      if (got.serverMaxWindowBits === undefined) fail('server_max_window_bits missing');
      if (got.serverMaxWindowBits! > o.serverMaxWindowBits) fail('server_max_window_bits above the offer');
    }
    // client_max_window_bits only when offered, and within our offer (section 7.1.2.2).
    const clientBits = got.clientMaxWindowBits as number | undefined;
    if (clientBits !== undefined) {
      if (o.clientMaxWindowBits === false) fail('client_max_window_bits was not offered');
      if (typeof o.clientMaxWindowBits === 'number' && clientBits > o.clientMaxWindowBits) {
        fail('client_max_window_bits above the offer');
      }
    }
    return this.extension('client', {
      serverNoContextTakeover: got.serverNoContextTakeover,
      clientNoContextTakeover: got.clientNoContextTakeover || o.clientNoContextTakeover,
      serverMaxWindowBits: got.serverMaxWindowBits ?? 15,
      // Without an answer we may use our offered window (a hint, section 7.1.2.2) or any.
      clientMaxWindowBits:
        clientBits ?? (typeof o.clientMaxWindowBits === 'number' ? o.clientMaxWindowBits : 15),
    });
  }

  /**
   * Make an extension for already agreed parameters (for tests and for shells that
   * negotiate by other means). Normally {@link PerMessageDeflate.negotiate} or
   * {@link PerMessageDeflate.accept} calls this.
   */
  extension(role: Role, params: DeflateParameters): PerMessageDeflateExtension {
    return new PerMessageDeflateExtension(role, params, this.options, this.pool);
  }

  /**
   * Compress a message once so that the same bytes can go to every connection whose
   * compressor has no context takeover and a window of at least ours (see
   * {@link Connection.sendPrepared}; others compress it themselves). Below the threshold
   * it is not compressed.
   */
  prepareMessage(data: Payload, isText: boolean): PreparedMessage {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : toBuffer(data);
    const windowBits = compressBits(this.options.serverMaxWindowBits ?? 15);
    if (bytes.length < this.options.threshold || windowBits === 0) {
      return { data: bytes, isText, extension: '', encoded: null, windowBits: 0 };
    }
    const stream = this.pool.acquire('deflate', this.deflateOptions(windowBits));
    let encoded: Buffer;
    try {
      encoded = deflateMessage(stream, bytes, this.pool.scratch);
    } catch (error) {
      stream.close();
      throw error;
    }
    this.pool.release(stream);
    return { data: bytes, isText, extension: PERMESSAGE_DEFLATE, encoded, windowBits };
  }

  private deflateOptions(windowBits: number): zlib.ZlibOptions {
    return { level: this.options.level, memLevel: this.options.memLevel, windowBits };
  }
}

/** The window our compressor uses under a negotiated limit, or 0 when zlib cannot honour it (8 bits). */
function compressBits(limit: number): number {
  return limit < 9 ? 0 : limit;
}

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
}

/** Compress one whole message with a sync flush and drop the trailing `00 00 ff ff` (RFC 7692 section 7.2.1). */
function deflateMessage(stream: ZlibStream, data: Buffer, scratch: Buffer): Buffer {
  // zlib skips a flush that follows a flush with no input in between, so an empty message
  // after another message would come out empty. RFC 7692 section 7.2.3.6: a single 0x00
  // byte (with the tail put back, an empty stored block) is an empty message, and leaves
  // both LZ77 windows as they were.
  if (data.length === 0) return Buffer.from([0x00]);
  const pieces: Buffer[] = [];
  let length = 0;
  stream.write(data, zlib.constants.Z_SYNC_FLUSH, scratch, Number.MAX_SAFE_INTEGER, (piece) => {
    pieces.push(Buffer.from(piece));
    length += piece.length;
  });
  const out = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, length);
  // A sync flush of new input always ends with an empty stored block (zlib's contract).
  if (out.length < TAIL.length || !out.subarray(out.length - TAIL.length).equals(TAIL)) {
    throw new Error('zlib output does not end with a sync flush');
  }
  return out.subarray(0, out.length - TAIL.length);
}

/**
 * permessage-deflate on one connection: compresses outgoing messages of at least the
 * threshold and decompresses incoming messages with RSV1 set, with or without context
 * takeover as negotiated. Made by {@link PerMessageDeflate}; given to `Connection` in
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
  private readonly deflateOptions: zlib.ZlibOptions;
  private readonly inflateOptions: zlib.ZlibOptions;
  /** Our compressor keeps its context between messages. */
  private readonly deflateTakeover: boolean;
  /** The peer's compressor keeps its context: so must our decompressor. */
  private readonly inflateTakeover: boolean;
  /** Window our compressor uses; 0 when the agreed limit is 8 bits (we then never compress). */
  readonly compressWindowBits: number;

  private deflater: ZlibStream | null = null;
  private inflater: ZlibStream | null = null;
  /** Copies of the context-takeover windows, kept only with `hibernation`. */
  private readonly deflateHistory: History | null;
  private readonly inflateHistory: History | null;
  /** The decompressed bytes of the message in progress. */
  private readonly inflated = new InflatedMessage();
  /** A compressed message is being received. */
  private inMessage = false;
  /** {@link PerMessageDeflateExtension.close} was called: allocate nothing any more. */
  private closed = false;

  /** @internal Use {@link PerMessageDeflate}. */
  constructor(
    role: Role,
    params: DeflateParameters,
    options: { threshold: number; level: number; memLevel: number; hibernation: boolean },
    pool: DeflatePool,
  ) {
    this.role = role;
    this.params = { ...params };
    this.threshold = options.threshold;
    this.pool = pool;
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
        ? new History(this.compressWindowBits)
        : null;
    this.inflateHistory = keep && this.inflateTakeover ? new History(Math.max(9, peerBits)) : null;
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
      encoded = deflateMessage(stream, bytes, this.pool.scratch);
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
    if (data.length > 0) this.inflate(stream, data, maxPayload);
    if (!fin) return null;
    this.inflate(stream, TAIL, maxPayload);
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

  private inflate(stream: ZlibStream, data: Buffer, maxPayload: number): void {
    if (stream.ended) return; // bytes after a final block are ignored, as zlib does
    let ok: boolean;
    try {
      ok = stream.write(
        data,
        zlib.constants.Z_SYNC_FLUSH,
        this.pool.scratch,
        maxPayload - this.inflated.length,
        (piece) => this.inflated.append(piece, maxPayload),
      );
    } catch (error) {
      this.dropInflater();
      if (!(error instanceof ZlibDataError)) throw error;
      throw new ProtocolError(
        'invalid-compressed-data',
        CloseCode.InvalidPayload,
        `invalid compressed data: ${error.message}`,
      );
    }
    if (!ok) {
      this.dropInflater();
      throw new ProtocolError(
        'message-too-big',
        CloseCode.MessageTooBig,
        `decompressed message larger than the limit of ${maxPayload} bytes`,
      );
    }
  }

  /** Our compressor: from the pool without context takeover, else new (primed with the kept window after hibernation). */
  private newDeflater(): ZlibStream {
    if (this.deflateHistory === null) return this.pool.acquire('deflate', this.deflateOptions);
    return new ZlibStream('deflate', '', { ...this.deflateOptions, ...this.deflateHistory.dictionary() });
  }

  private newInflater(): ZlibStream {
    if (this.inflateHistory === null) return this.pool.acquire('inflate', this.inflateOptions);
    return new ZlibStream('inflate', '', { ...this.inflateOptions, ...this.inflateHistory.dictionary() });
  }

  private dropInflater(): void {
    this.inflater?.close();
    this.inflater = null;
    this.inflated.clear();
    this.inMessage = false;
  }
}

/** Chunks a decompressed message is copied into grow from this size... */
const MIN_INFLATED_CHUNK = 1024;
/** ...to this one (a 1 MiB message is then 16 chunks and one join). */
const MAX_INFLATED_CHUNK = 64 * 1024;

/**
 * The decompressed bytes of the message in progress. zlib hands its output over in pieces
 * as small as one byte: a peer that sends one compressed byte per read, or a message in a
 * million one-byte fragments, makes a piece per byte. Kept as a `Buffer` each, they cost
 * ~100 bytes of heap per byte of message. Copied into chunks that grow geometrically to
 * 64 KiB, an incomplete message holds at most `maxPayload` plus one chunk, as on the plain
 * path, and leaves no garbage behind while it grows (a buffer doubled up to the limit
 * would). The chunks are joined once, at the end; a message that comes out in one piece
 * (the usual case: a single frame under 64 KiB decompressed) is copied once, at its size.
 */
class InflatedMessage {
  /** Bytes held so far. */
  length = 0;
  /** Full chunks. */
  private chunks: Buffer[] = [];
  /** The chunk being filled, and how much of it is. */
  private current: Buffer | null = null;
  private used = 0;

  /** Copy `piece` (a view of the scratch buffer) in. The caller keeps `length` within `limit`. */
  append(piece: Buffer, limit: number): void {
    let at = 0;
    while (at < piece.length) {
      let current = this.current;
      if (current === null || this.used === current.length) {
        // The first chunk is the first piece's exact size; later ones grow with the message.
        const size =
          this.length === 0
            ? piece.length
            : Math.min(limit - this.length, MAX_INFLATED_CHUNK, Math.max(MIN_INFLATED_CHUNK, this.length));
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

  /** The whole message (an empty buffer when nothing came out), and start over. */
  take(): Buffer {
    const current = this.current;
    let message: Buffer;
    if (current === null) message = Buffer.alloc(0);
    else if (this.chunks.length === 0) message = current.subarray(0, this.used);
    else {
      this.chunks.push(current.subarray(0, this.used));
      message = Buffer.concat(this.chunks, this.length);
    }
    this.clear();
    return message;
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
 * The last `2^windowBits` bytes that went through a context-takeover stream: the content
 * of its LZ77 window, kept so that the stream can be freed and rebuilt (with the bytes as
 * a preset dictionary, which both zlib raw deflate and raw inflate accept).
 */
class History {
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
}
