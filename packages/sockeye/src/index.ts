/**
 * sockeye: a WebSocket toolkit for Node.js. The package root holds what applications use:
 * the server ({@link WebSocketServer}), the client ({@link WebSocket} and
 * {@link WebSocketStream}), topics and their brokers, resumable sessions, the errors and
 * the types of their options and events.
 *
 * The rest lives behind subpaths: the sans-I/O protocol core (framing, handshakes,
 * masking, permessage-deflate) in `@sockeye/sockeye/protocol`; the building blocks of the
 * server and the client (address and origin checks, the PROXY protocol parser, the
 * low-level handshake) in `@sockeye/sockeye/server` and `@sockeye/sockeye/client`; what a
 * broker of your own needs in `@sockeye/sockeye/pubsub`; the browser-safe session client
 * in `@sockeye/sockeye/session`; the `ws` API in `@sockeye/sockeye/ws`.
 * @packageDocumentation
 */

// The client.
export {
  CloseEvent,
  type CloseEventInit,
  ErrorEvent,
  type ErrorEventInit,
} from './client/events.js';
export type { ClientOptions } from './client/options.js';
export {
  type WebSocketCloseInfo,
  WebSocketError,
  type WebSocketOpenInfo,
  WebSocketStream,
  type WebSocketStreamOptions,
} from './client/stream.js';
export {
  type BinaryType,
  WebSocket,
  type WebSocketData,
  type WebSocketEventHandler,
  type WebSocketEventMap,
} from './client/websocket.js';
// Close codes and the errors a peer, a handshake or a misuse can raise.
export { CloseCode } from './protocol/close-codes.js';
export type { CloseInfo } from './protocol/connection.js';
export {
  HandshakeError,
  type HandshakeErrorCode,
  InternalError,
  MessageWriterError,
  type MessageWriterMisuse,
  ProtocolError,
  type ProtocolRule,
  SockeyeError,
} from './protocol/errors.js';
export { DeflateUnavailableError, type PerMessageDeflateOptions } from './protocol/permessage-deflate.js';
// Topics and brokers.
export {
  type Broker,
  BrokerError,
  type BrokerErrorKind,
  type BrokerHandler,
  type BrokerLoss,
  type BrokerMessage,
  type BrokerStatus,
  type LossReason,
} from './pubsub/broker.js';
export { InProcessBroker, type InProcessBrokerOptions, InProcessHub } from './pubsub/in-process.js';
export { isWellFormedTopic, TopicError, type TopicRule } from './pubsub/topics.js';
// The server.
export { constantTimeEqual } from './server/auth.js';
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
} from './server/diagnostics.js';
export {
  EventSourceEndpoint,
  type EventSourceOptions,
  type EventSourceRequest,
} from './server/event-source.js';
export type {
  ConnectionLimitOptions,
  LimitHit,
  LimitKind,
  MessageLimitOptions,
  MessageLimitPolicy,
  RateLimit,
} from './server/limits.js';
export type { OriginPolicy } from './server/origin.js';
export { ProxyProtocolError, type ProxyProtocolRule } from './server/proxy-protocol.js';
export { type ServerCloseOptions, WebSocketServer, type WebSocketServerEvents } from './server/server.js';
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
} from './server/types.js';
export { ServerWebSocket } from './server/websocket.js';
// Resumable sessions.
export {
  type ClientTransport,
  ReconnectingWebSocket,
  type ReconnectingWebSocketOptions,
  type ReconnectState,
  SessionLostEvent,
  SessionOpenEvent,
  type SessionUrl,
  type TransportMemory,
  type WebSocketConstructor,
  type WebSocketLike,
} from './session/client.js';
export {
  type HttpTransportKind,
  SessionHttpTransport,
  type SessionHttpTransportOptions,
} from './session/http-server.js';
export {
  ServerSession,
  type SessionEndReason,
  type SessionHandlers,
  SessionServer,
  type SessionServerCloseOptions,
  type SessionServerOptions,
  type SessionSettings,
  type SessionState,
} from './session/server.js';
export {
  MemorySessionStore,
  type MemorySessionStoreOptions,
  type SessionClaim,
  type SessionStore,
  type StoredSession,
  type TakeResult,
} from './session/store.js';
export { MemoryTopicHistory, type TopicHistory } from './session/topic-history.js';
export { SESSION_PROTOCOL, SessionError, type SessionRule } from './session/wire.js';
