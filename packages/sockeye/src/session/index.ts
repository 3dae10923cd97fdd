/**
 * Resumable sessions, browser-safe part: the sans-I/O session core, its wire format
 * (`sockeye.session.v1`) and the reconnecting client. Nothing here imports a Node
 * built-in, so a page can load the built files as ES modules without a bundler. The
 * server side is in `@sockeye/sockeye/session/server`.
 * @packageDocumentation
 */

export {
  type ClientEnvironment,
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
  DEFAULT_MAX_STORED_SESSIONS,
  MemorySessionStore,
  type MemorySessionStoreOptions,
  type SessionStore,
  type StoredSession,
} from './store.js';
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
  SessionError,
  type SessionFrame,
  type SessionRule,
  type WireMessage,
} from './wire.js';
