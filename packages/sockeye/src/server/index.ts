/**
 * The sockeye WebSocket server: {@link WebSocketServer} (standalone, attached to an
 * HTTP(S) server, or `noServer`) and its connections, {@link ServerWebSocket}.
 * @packageDocumentation
 */
export { constantTimeEqual } from './auth.js';
export { AddressSet, addressGroup, normalizeIp, resolveClientAddress } from './client-address.js';
export {
  type BackpressureDiagnostic,
  type CloseDiagnostic,
  type ConnectionIdentity,
  channels as diagnosticChannels,
  type HandshakeDiagnostic,
  type LimitDiagnostic,
  type MessageDiagnostic,
  type OpenDiagnostic,
  type PublishDiagnostic,
  type ServerStats,
} from './diagnostics.js';
export {
  DEFAULT_EVENT_SOURCE_HEARTBEAT_MS,
  DEFAULT_EVENT_SOURCE_MAX_BUFFERED_BYTES,
  DEFAULT_EVENT_SOURCE_MAX_TOPICS,
  DEFAULT_EVENT_SOURCE_RETENTION_MS,
  DEFAULT_EVENT_SOURCE_RETRY_MS,
  EventSourceEndpoint,
  type EventSourceOptions,
  type EventSourceRequest,
  encodeEvent,
  encodeLostEvent,
  lastEventIdOf,
} from './event-source.js';
export {
  type ConnectionLimitOptions,
  type LimitHit,
  type LimitKind,
  type MessageLimitOptions,
  type MessageLimitPolicy,
  type RateLimit,
  TokenBucket,
} from './limits.js';
export { checkServerOptions } from './options.js';
export { isOriginAllowed, isSameOrigin, type OriginPolicy } from './origin.js';
export {
  PROXY_V1_MAX_BYTES,
  type ProxyHeader,
  ProxyHeaderParser,
  ProxyProtocolError,
  type ProxyProtocolRule,
  type ProxySource,
} from './proxy-protocol.js';
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
