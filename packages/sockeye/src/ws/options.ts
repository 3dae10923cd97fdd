import type { ZlibOptions } from 'node:zlib';
import type { PerMessageDeflateOptions } from '../protocol/index.js';

/** `ws`'s `perMessageDeflate` options object, for the server and the client. */
export interface WsPerMessageDeflateOptions {
  /** Ask for (client) or agree to (server) `server_no_context_takeover`. @defaultValue false */
  serverNoContextTakeover?: boolean;
  /** Ask for (server) or announce (client) `client_no_context_takeover`. @defaultValue false */
  clientNoContextTakeover?: boolean;
  /** The server's LZ77 window, 8-15 bits. @defaultValue 15 (not requested by a client) */
  serverMaxWindowBits?: number;
  /** The client's LZ77 window, 8-15 bits, or `true` to offer `client_max_window_bits` without a value. @defaultValue client: `true` */
  clientMaxWindowBits?: number | boolean;
  /** zlib options of the compressor: `level` and `memLevel` are used. @defaultValue level 1, memLevel 8 */
  zlibDeflateOptions?: ZlibOptions;
  /** Accepted for compatibility (the inflater's limits come from `maxPayload`). */
  zlibInflateOptions?: ZlibOptions;
  /** Messages of at least this many bytes are compressed. @defaultValue 1024 */
  threshold?: number;
  /** Accepted for compatibility: sockeye's zlib work is synchronous, nothing queues. */
  concurrencyLimit?: number;
}

/**
 * The core's permessage-deflate options for `ws`'s. A client offers
 * `client_max_window_bits` unless told a number or `false`, as `ws` does.
 * @internal
 */
export function toDeflateOptions(
  options: WsPerMessageDeflateOptions,
  role: 'server' | 'client',
): PerMessageDeflateOptions {
  const result: PerMessageDeflateOptions = {
    serverNoContextTakeover: options.serverNoContextTakeover === true,
    clientNoContextTakeover: options.clientNoContextTakeover === true,
  };
  if (options.threshold !== undefined) result.threshold = options.threshold;
  if (options.serverMaxWindowBits !== undefined) result.serverMaxWindowBits = options.serverMaxWindowBits;
  if (options.clientMaxWindowBits !== undefined) result.clientMaxWindowBits = options.clientMaxWindowBits;
  else if (role === 'client') result.clientMaxWindowBits = true;
  const level = options.zlibDeflateOptions?.level;
  if (level !== undefined && level >= 0) result.level = level;
  const memLevel = options.zlibDeflateOptions?.memLevel;
  if (memLevel !== undefined) result.memLevel = memLevel;
  return result;
}
