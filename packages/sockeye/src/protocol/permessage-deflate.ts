/**
 * permessage-deflate (RFC 7692): {@link PerMessageDeflate} negotiates for either role and
 * makes the {@link PerMessageDeflateExtension} that plugs into `Connection`. The work is
 * split by concern:
 * - `permessage-deflate-params.ts`: the parameters of offers and responses (section 7.1);
 * - `permessage-deflate-codec.ts`: the codec on one connection and the stream pool
 *   (section 7.2, memory);
 * - `permessage-deflate-zlib.ts`: how `node:zlib` is driven (Node's internal handle when
 *   it passes a self-test, its public one-shot functions otherwise, or no compression).
 */

import type { PreparedMessage } from './extension.js';
import type { ExtensionOffer } from './handshake.js';
import type { Payload } from './output.js';
import type { Role } from './parser.js';
import {
  compressBits,
  DeflatePool,
  deflateOnce,
  PerMessageDeflateExtension,
  toBuffer,
} from './permessage-deflate-codec.js';
import {
  answerOffer,
  checkAnswer,
  checkBits,
  type DeflateParameters,
  formatOffer,
  PERMESSAGE_DEFLATE,
} from './permessage-deflate-params.js';
import {
  DeflateUnavailableError,
  type ZlibDriver,
  type ZlibDriverName,
  type ZlibStreamOptions,
  zlibDriver,
} from './permessage-deflate-zlib.js';

export { DeflatePool, PerMessageDeflateExtension } from './permessage-deflate-codec.js';
export { type DeflateParameters, PERMESSAGE_DEFLATE } from './permessage-deflate-params.js';
export { DeflateUnavailableError, type ZlibDriverName } from './permessage-deflate-zlib.js';

/** Default for {@link PerMessageDeflateOptions.threshold}: 1 KiB. */
export const DEFAULT_DEFLATE_THRESHOLD = 1024;
/** Default for {@link PerMessageDeflateOptions.level}. */
export const DEFAULT_DEFLATE_LEVEL = 1;
/** Default for {@link PerMessageDeflateOptions.memLevel}. */
export const DEFAULT_DEFLATE_MEM_LEVEL = 8;

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

/** What {@link PerMessageDeflate.negotiate} returns when it accepts an offer. */
export interface DeflateAgreement {
  /** The element to put in the response's `Sec-WebSocket-Extensions` header. */
  responseHeaderValue: string;
  /** The extension to pass to `new Connection(handler, { extensions: [extension] })`. */
  extension: PerMessageDeflateExtension;
}

/**
 * permessage-deflate configuration for one server or one client: negotiates (server:
 * {@link PerMessageDeflate.negotiate}; client: {@link PerMessageDeflate.offer} then
 * {@link PerMessageDeflate.accept}) and makes the {@link PerMessageDeflateExtension} to
 * give to the connection. Holds the {@link DeflatePool} its connections share.
 *
 * The first one made in a process checks how zlib can be driven (see
 * {@link PerMessageDeflate.driver}); when it cannot be, every offer is declined and a
 * client offers nothing, so connections go on uncompressed.
 */
export class PerMessageDeflate {
  /** The pool connections borrow streams without context takeover from. */
  readonly pool: DeflatePool;
  private readonly zlib: ZlibDriver | null;
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
    this.zlib = zlibDriver();
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

  /**
   * How zlib is driven, found once per process by a round trip through each way:
   * `'native'`, Node's internal zlib handle (the fastest: persistent streams driven
   * synchronously); `'public'`, Node's documented `deflateRawSync` / `inflateRawSync`
   * (when the internal is missing or behaves differently: slower, context takeover through
   * `dictionary`); `null` when neither works: permessage-deflate is then declined.
   */
  get driver(): ZlibDriverName | null {
    return this.zlib?.name ?? null;
  }

  // ---- server role ----

  /**
   * Server side: pick the first permessage-deflate offer we can honour (RFC 7692 section
   * 5: an offer with an unknown or repeated parameter or an invalid value is declined,
   * and the next one is tried). Returns `null` when every offer was declined (or none was
   * made), or when zlib cannot be driven (see {@link PerMessageDeflate.driver}): the
   * connection then goes on without compression.
   * @param offers - every extension the client offered, from `validateRequest(...).extensions`
   */
  negotiate(offers: readonly ExtensionOffer[]): DeflateAgreement | null {
    if (this.zlib === null) return null;
    const answer = answerOffer(offers, this.options);
    if (answer === null) return null;
    return {
      responseHeaderValue: answer.responseHeaderValue,
      extension: this.extension('server', answer.params),
    };
  }

  // ---- client role ----

  /**
   * Client side: the `Sec-WebSocket-Extensions` value to offer; `''` (offer nothing) when
   * zlib cannot be driven (see {@link PerMessageDeflate.driver}).
   */
  offer(): string {
    return this.zlib === null ? '' : formatOffer(this.options);
  }

  /**
   * Client side: check the server's answer to {@link PerMessageDeflate.offer} and make the
   * extension. Returns `null` when the server did not accept permessage-deflate.
   * @param extensions - the extensions the server accepted, from `validateResponse(...).extensions`
   * @throws {@link HandshakeError} (status 0: fail the connection, RFC 6455 section 4.1)
   * when the response is malformed or does not match what we offered
   * @throws {@link DeflateUnavailableError} when the server accepted it although we could not offer it
   */
  accept(extensions: readonly ExtensionOffer[]): PerMessageDeflateExtension | null {
    const params = checkAnswer(extensions, this.options);
    return params === null ? null : this.extension('client', params);
  }

  /**
   * Make an extension for already agreed parameters (for tests and for shells that
   * negotiate by other means). Normally {@link PerMessageDeflate.negotiate} or
   * {@link PerMessageDeflate.accept} calls this.
   * @throws {@link DeflateUnavailableError} when zlib cannot be driven (see {@link PerMessageDeflate.driver})
   */
  extension(role: Role, params: DeflateParameters): PerMessageDeflateExtension {
    if (this.zlib === null) throw new DeflateUnavailableError();
    return PerMessageDeflateExtension._create(role, params, this.options, this.pool, this.zlib);
  }

  /**
   * Compress a message once so that the same bytes can go to every connection whose
   * compressor has no context takeover and a window of at least ours (see
   * {@link Connection.sendPrepared}; others compress it themselves). Below the threshold,
   * or when zlib cannot be driven, it is not compressed.
   */
  prepareMessage(data: Payload, isText: boolean): PreparedMessage {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : toBuffer(data);
    const windowBits = compressBits(this.options.serverMaxWindowBits ?? 15);
    const driver = this.zlib;
    if (bytes.length < this.options.threshold || windowBits === 0 || driver === null) {
      return { data: bytes, isText, extension: '', encoded: null, windowBits: 0 };
    }
    const encoded = deflateOnce(this.pool, driver, this.deflateOptions(windowBits), bytes);
    return { data: bytes, isText, extension: PERMESSAGE_DEFLATE, encoded, windowBits };
  }

  private deflateOptions(windowBits: number): ZlibStreamOptions {
    return { level: this.options.level, memLevel: this.options.memLevel, windowBits };
  }
}
