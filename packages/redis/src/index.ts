/**
 * `@sockeye/redis`: scale sockeye topics across server processes and machines with
 * Redis pub/sub. Give each server a {@link RedisBroker} pointing at the same Redis, and a
 * {@link RedisSessionStore} so that resumable sessions move between processes.
 * @packageDocumentation
 */
export {
  decodeEnvelope,
  ENVELOPE_OVERHEAD,
  ENVELOPE_VERSION,
  type Envelope,
  EnvelopeError,
  encodeEnvelope,
  FLAG_BINARY,
} from './envelope.js';
export { RedisBroker, type RedisBrokerOptions } from './redis-broker.js';
export {
  decodeStoredSession,
  encodeStoredSession,
  RedisSessionStore,
  type RedisSessionStoreOptions,
  STORED_SESSION_VERSION,
} from './session-store.js';
export {
  DEFAULT_POSITION_TTL_MS,
  RedisTopicHistory,
  type RedisTopicHistoryOptions,
} from './topic-history.js';
