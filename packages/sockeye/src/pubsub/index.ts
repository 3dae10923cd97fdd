/**
 * Topics across server processes: the {@link Broker} contract, the default
 * {@link InProcessBroker}, the {@link TopicRegistry} a server keeps its local
 * subscriptions in, the numbered {@link TopicHistory} a returning subscriber is replayed
 * from, and the sequence-number building blocks for brokers whose transport
 * can lose messages.
 * @packageDocumentation
 */
export {
  type Broker,
  BrokerError,
  type BrokerErrorKind,
  type BrokerHandler,
  type BrokerLoss,
  type BrokerMessage,
  type BrokerStatus,
  isValidNodeId,
  type LossReason,
  MAX_NODE_ID_LENGTH,
} from './broker.js';
export {
  DEFAULT_HISTORY_BYTES,
  DEFAULT_HISTORY_MESSAGES,
  type HistoryEntry,
  type HistoryReplay,
  TopicHistory,
  type TopicHistoryLimits,
} from './history.js';
export { InProcessBroker, type InProcessBrokerOptions, InProcessHub } from './in-process.js';
export { DEFAULT_MAX_TRACKED_TOPICS, GapDetector, SequenceCounter } from './sequence.js';
export {
  checkTopicWellFormed,
  DEFAULT_MAX_TOPIC_LENGTH,
  DEFAULT_MAX_TOPICS_PER_SUBSCRIBER,
  isWellFormedTopic,
  TopicError,
  TopicRegistry,
  type TopicRegistryOptions,
  type TopicRule,
} from './topics.js';
