/**
 * `@sockeye/redis`: scale sockeye topics across server processes and machines with
 * Redis pub/sub. Give each server a {@link RedisBroker} pointing at the same Redis.
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
