/**
 * Resumable sessions, browser-safe part: the sans-I/O session core, its wire format
 * (`sockeye.session.v1`) and the reconnecting client. Nothing here imports a Node
 * built-in, so a page can load the built files as ES modules without a bundler. The
 * server side is in `@sockeye/sockeye/session/server`.
 * @packageDocumentation
 */

export {
  type ClientEnvironment,
  type ClientTransport,
  DEFAULT_STOP_CODES,
  DropEvent,
  type EventHandler,
  HeartbeatEvent,
  ReconnectCloseEvent,
  ReconnectingEvent,
  ReconnectingWebSocket,
  type ReconnectingWebSocketOptions,
  type ReconnectState,
  SessionLostEvent,
  SessionOpenEvent,
  type SessionUrl,
  type TransportMemory,
  type WebSocketConstructor,
  type WebSocketLike,
} from './client.js';
export {
  DEFAULT_ACK_EVERY,
  DEFAULT_REPLAY_BYTES,
  DEFAULT_REPLAY_MESSAGES,
  DEFAULT_RESUME_WINDOW,
  messageSize,
  type ReplayEntry,
  type ReplayLimits,
  SessionCore,
  type SessionEvent,
  type SessionSnapshot,
} from './core.js';
export {
  decodeLine,
  encodeCloseLine,
  encodeFrameLine,
  encodeLinkLine,
  type HttpLine,
  isLinkId,
  MAX_LINK_ID_LENGTH,
} from './http-lines.js';
export { type FetchFunction, HttpSessionLink, type HttpSessionLinkOptions } from './http-link.js';
export {
  DEFAULT_MAX_STORED_SESSIONS,
  MemorySessionStore,
  type MemorySessionStoreOptions,
  type SessionClaim,
  type SessionStore,
  type StoredSession,
  type TakeResult,
} from './store.js';
export {
  DEFAULT_HISTORY_MAX_TOPICS,
  DEFAULT_HISTORY_TTL_MS,
  MemoryTopicHistory,
  type MemoryTopicHistoryOptions,
  type TopicHistory,
  type TopicHistoryEntry,
  type TopicHistoryRead,
} from './topic-history.js';
export {
  decodeFrame,
  encodeAck,
  encodeData,
  encodeEnd,
  encodeHello,
  encodePing,
  encodePong,
  encodeWelcome,
  isSessionToken,
  MAX_END_REASON_LENGTH,
  MAX_ID_LENGTH,
  MAX_SEQUENCE,
  MAX_TOKEN_LENGTH,
  SESSION_PROTOCOL,
  SESSION_RULES,
  SessionError,
  type SessionFrame,
  type SessionRule,
  type WireMessage,
} from './wire.js';
