/**
 * `ws` 8's API on sockeye's protocol core: `WebSocketServer`, `WebSocket` (client and
 * server socket) and `createWebSocketStream`, so that code written for `ws` (and the
 * libraries built on it) runs on sockeye by changing one import:
 * `import { WebSocket, WebSocketServer } from '@sockeye/sockeye/ws'`. Each API's status and
 * every deliberate difference are listed in docs/ws-compat.md.
 * @packageDocumentation
 */

import { WebSocketServer } from './server.js';
import { createWebSocketStream } from './stream.js';
import { WebSocket } from './websocket.js';

export { WsDataError, type WsErrorCode, type WsProtocolError, WsRangeError } from './errors.js';
export {
  type EventListenerLike,
  WsCloseEvent as CloseEvent,
  WsErrorEvent as ErrorEvent,
  WsEvent as Event,
  WsMessageEvent as MessageEvent,
} from './event-target.js';
export type { WsPerMessageDeflateOptions as PerMessageDeflateOptions } from './options.js';
export {
  type VerifyClientCallback,
  type VerifyClientInfo,
  WebSocketServer,
  type WebSocketServerEvents,
  type WebSocketServerOptions,
} from './server.js';
export {
  type BinaryType,
  type ClientOptions,
  type RawData,
  type ReadyState,
  WebSocket,
  type WebSocketEvents,
  type WsSendData,
  type WsSendOptions,
} from './websocket.js';
export { createWebSocketStream };

/** `ws`'s default export: the `WebSocket` class, carrying the server and the stream helper. */
const wsDefault = Object.assign(WebSocket, {
  /** The server (`ws`'s older name). */
  Server: WebSocketServer,
  /** The server. */
  WebSocketServer,
  /** The socket class itself. */
  WebSocket,
  /** The Duplex stream helper. */
  createWebSocketStream,
});
export default wsDefault;
