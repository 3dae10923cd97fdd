/**
 * sockeye's client: the WHATWG `WebSocket` for Node (with Node-only options) and
 * `WebSocketStream`, on the sans-I/O protocol core.
 * @packageDocumentation
 */

/** The type of {@link ClientOptions.perMessageDeflate}'s object form (from the protocol core). */
export type { PerMessageDeflateOptions } from '../protocol/permessage-deflate.js';
export {
  DEFAULT_MAX_REDIRECTS,
  type HandshakeHandle,
  noProxyMatches,
  type OpenedSocket,
  openHandshake,
  resolveProxy,
} from './connect.js';
export { CloseEvent, type CloseEventInit, ErrorEvent, type ErrorEventInit } from './events.js';
export { type ClientOptions, checkClientOptions } from './options.js';
export {
  type ClientEnd,
  type ClientEvents,
  ClientWebSocket,
  type ConnectOptions,
  connect,
} from './session.js';
export {
  DEFAULT_READABLE_HIGH_WATER_MARK,
  type WebSocketCloseInfo,
  WebSocketError,
  type WebSocketOpenInfo,
  WebSocketStream,
  type WebSocketStreamOptions,
} from './stream.js';
export {
  type BinaryType,
  checkProtocols,
  DEFAULT_CLIENT_MAX_PAYLOAD,
  parseWebSocketUrl,
  WebSocket,
  type WebSocketData,
  type WebSocketEventHandler,
  type WebSocketEventMap,
} from './websocket.js';
