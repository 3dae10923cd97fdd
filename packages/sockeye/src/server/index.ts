/**
 * The sockeye WebSocket server: {@link WebSocketServer} (standalone, attached to an
 * HTTP(S) server, or `noServer`) and its connections, {@link ServerWebSocket}.
 * @packageDocumentation
 */
export { constantTimeEqual } from './auth.js';
export { checkServerOptions } from './options.js';
export { isOriginAllowed, isSameOrigin, type OriginPolicy } from './origin.js';
export {
  SERVER_DEFLATE_DEFAULTS,
  type ServerCloseOptions,
  WebSocketServer,
  type WebSocketServerEvents,
} from './server.js';
export {
  type AttachedServerOptions,
  type CommonServerOptions,
  type NoServerOptions,
  type PublishData,
  type PublishOptions,
  type SendData,
  SendStatus,
  type StandaloneServerOptions,
  type UpgradeRequestContext,
  type WebSocketHandlers,
  type WebSocketServerOptions,
  type WireDirection,
} from './types.js';
export { ServerWebSocket } from './websocket.js';
