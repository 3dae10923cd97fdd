import type { ProtocolError } from '../protocol/index.js';

/**
 * The stable codes `ws` puts in `error.code` when a peer breaks the protocol or a limit,
 * plus `Z_DATA_ERROR` for a compressed message that does not inflate (zlib's code, as
 * `ws` passes it on).
 */
export type WsErrorCode =
  | 'WS_ERR_EXPECTED_FIN'
  | 'WS_ERR_EXPECTED_MASK'
  | 'WS_ERR_INVALID_CLOSE_CODE'
  | 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH'
  | 'WS_ERR_INVALID_OPCODE'
  | 'WS_ERR_INVALID_UTF8'
  | 'WS_ERR_TOO_MANY_BUFFERED_PARTS'
  | 'WS_ERR_UNEXPECTED_MASK'
  | 'WS_ERR_UNEXPECTED_RSV_1'
  | 'WS_ERR_UNEXPECTED_RSV_2_3'
  | 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH'
  | 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'
  | 'Z_DATA_ERROR';

/**
 * A frame broke a rule of RFC 6455 or a limit (`ws` raises these as `RangeError`s, so
 * `instanceof RangeError` and `error.name` stay what code written for `ws` expects).
 */
export class WsRangeError extends RangeError {
  /**
   * @param message - what happened, worded as `ws` words it
   * @param code - the stable `WS_ERR_*` code
   * @param closeCode - the close code the connection was failed with
   */
  constructor(
    message: string,
    readonly code: WsErrorCode,
    readonly closeCode: number,
  ) {
    super(message);
  }
}

/** A text message (or close reason) that is not UTF-8, or compressed data that does not inflate. */
export class WsDataError extends Error {
  /**
   * @param message - what happened, worded as `ws` words it
   * @param code - `WS_ERR_INVALID_UTF8` or `Z_DATA_ERROR`
   * @param closeCode - the close code the connection was failed with (1007)
   */
  constructor(
    message: string,
    readonly code: WsErrorCode,
    readonly closeCode: number,
  ) {
    super(message);
  }
}

/** Either error a `ws`-compatible socket emits for a broken rule. */
export type WsProtocolError = WsRangeError | WsDataError;

const PREFIX = 'Invalid WebSocket frame: ';

/**
 * The error `ws` emits for the rule the core saw broken: same class, message and
 * `code`. Where the core's error does not carry a detail `ws` prints (the exact length
 * of an oversized control frame, the opcode of a data frame inside a fragmented
 * message), the message names it generically; the `code` is always `ws`'s.
 */
export function toWsError(error: ProtocolError): WsProtocolError {
  const close = error.closeCode;
  switch (error.rule) {
    case 'reserved-bits':
    case 'extension-error':
      return /RSV2|RSV3/.test(error.message)
        ? new WsRangeError(`${PREFIX}RSV2 and RSV3 must be clear`, 'WS_ERR_UNEXPECTED_RSV_2_3', close)
        : new WsRangeError(`${PREFIX}RSV1 must be clear`, 'WS_ERR_UNEXPECTED_RSV_1', close);
    case 'reserved-opcode': {
      const hex = /0x([0-9a-f]+)/i.exec(error.message)?.[1];
      const opcode = hex === undefined ? '' : ` ${Number.parseInt(hex, 16)}`;
      return new WsRangeError(`${PREFIX}invalid opcode${opcode}`, 'WS_ERR_INVALID_OPCODE', close);
    }
    case 'unexpected-continuation':
      return new WsRangeError(`${PREFIX}invalid opcode 0`, 'WS_ERR_INVALID_OPCODE', close);
    case 'expected-continuation':
      return new WsRangeError(`${PREFIX}invalid opcode`, 'WS_ERR_INVALID_OPCODE', close);
    case 'unmasked-client-frame':
      return new WsRangeError(`${PREFIX}MASK must be set`, 'WS_ERR_EXPECTED_MASK', close);
    case 'masked-server-frame':
      return new WsRangeError(`${PREFIX}MASK must be clear`, 'WS_ERR_UNEXPECTED_MASK', close);
    case 'fragmented-control-frame':
      return new WsRangeError(`${PREFIX}FIN must be set`, 'WS_ERR_EXPECTED_FIN', close);
    case 'control-frame-too-long':
      return new WsRangeError(
        `${PREFIX}invalid payload length`,
        'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH',
        close,
      );
    case 'invalid-close-payload':
      return new WsRangeError(
        `${PREFIX}invalid payload length 1`,
        'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH',
        close,
      );
    case 'invalid-close-code': {
      const code = /(\d+)\s*$/.exec(error.message)?.[1] ?? '';
      return new WsRangeError(
        `${PREFIX}invalid status code ${code}`.trimEnd(),
        'WS_ERR_INVALID_CLOSE_CODE',
        close,
      );
    }
    case 'invalid-utf8':
      return new WsDataError(`${PREFIX}invalid UTF-8 sequence`, 'WS_ERR_INVALID_UTF8', close);
    case 'length-top-bit':
    case 'non-minimal-length':
      return new WsRangeError(
        'Unsupported WebSocket frame: payload length > 2^53 - 1',
        'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH',
        close,
      );
    case 'message-too-big':
      return new WsRangeError('Max payload size exceeded', 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', close);
    case 'too-many-fragments':
      return new WsRangeError('Too many message fragments', 'WS_ERR_TOO_MANY_BUFFERED_PARTS', close);
    case 'invalid-compressed-data':
      return new WsDataError(error.message, 'Z_DATA_ERROR', close);
  }
}
