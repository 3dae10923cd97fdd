import { SockeyeError } from '../protocol/errors.js';
import type { Broker } from './broker.js';

/**
 * Longest topic name accepted by a {@link TopicRegistry}, in UTF-16 code units. Topics
 * often come from clients (a room name in a URL), and each one becomes a broker
 * subscription (a Redis channel name) and a map key on every node: 256 is room for any
 * sensible name and stops a client from parking megabytes in topic names.
 */
export const DEFAULT_MAX_TOPIC_LENGTH = 256;

/**
 * Most topics one subscriber (socket) may be in at once in a {@link TopicRegistry}. 1,000:
 * far above what chat, games or dashboards use, low enough that one connection cannot
 * make a node hold millions of subscriptions.
 */
export const DEFAULT_MAX_TOPICS_PER_SUBSCRIBER = 1000;

/**
 * Which topic rule a subscribe or publish broke: `'malformed-topic'` is a name that is
 * not well-formed Unicode (it holds a lone surrogate).
 */
export type TopicRule = 'empty-topic' | 'topic-too-long' | 'too-many-topics' | 'malformed-topic';

/**
 * A subscribe was refused by a {@link TopicRegistry} limit. `closeCode` is 1008 (policy
 * violation), for a server that chooses to close the offending connection.
 */
export class TopicError extends SockeyeError {
  override readonly name = 'TopicError';
  /** The limit that was hit (the same as {@link TopicError.rule}). */
  readonly code: TopicRule;
  /** The close code for a connection closed over it: 1008, policy violation. */
  readonly closeCode = 1008;

  /**
   * @param rule - the limit that was hit
   * @param message - what happened, in words a person can read
   */
  constructor(
    readonly rule: TopicRule,
    message: string,
  ) {
    super(message);
    this.code = rule;
  }
}

/**
 * A lone surrogate: in a `u` regular expression a valid surrogate pair is one astral
 * code point, so only an unpaired half has the general category Cs.
 */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Whether `topic` is well-formed Unicode: no lone surrogate (as `"\ud800"` in JSON
 * gives). Brokers carry topic names as UTF-8 (a Redis channel name), which cannot
 * encode a lone surrogate: `"room-\uD83D"` would become `"room-\uFFFD"` on the other
 * nodes, another topic. Such names are refused everywhere, with or without a broker.
 */
export function isWellFormedTopic(topic: string): boolean {
  return !LONE_SURROGATE.test(topic);
}

/**
 * Throw a {@link TopicError} (rule `'malformed-topic'`) unless `topic` is well-formed
 * Unicode (see {@link isWellFormedTopic}). Brokers call it on every subscribe and publish.
 * @throws {@link TopicError} when `topic` holds a lone surrogate
 */
export function checkTopicWellFormed(topic: string): void {
  if (!isWellFormedTopic(topic)) {
    throw new TopicError(
      'malformed-topic',
      `topic name ${JSON.stringify(topic)} is not well-formed Unicode (it holds a lone surrogate)`,
    );
  }
}

/** Options of {@link TopicRegistry}. */
export interface TopicRegistryOptions {
  /**
   * Longest topic name, in UTF-16 code units.
   * @defaultValue {@link DEFAULT_MAX_TOPIC_LENGTH}
   */
  maxTopicLength?: number;
  /**
   * Most topics one subscriber may be in at once.
   * @defaultValue {@link DEFAULT_MAX_TOPICS_PER_SUBSCRIBER}
   */
  maxTopicsPerSubscriber?: number;
}

const NONE: ReadonlySet<never> = new Set();

/**
 * Who is subscribed to what on one node, kept in step with the node's {@link Broker}:
 * the first local subscriber of a topic subscribes the node on the broker, the last one
 * to leave unsubscribes it. A server keeps one registry and asks it, for each publish,
 * for the local subscribers to write to. Sans I/O: `S` is whatever the server uses for a
 * connection; the registry only holds references to it.
 */
export class TopicRegistry<S> {
  private readonly byTopic = new Map<string, Set<S>>();
  private readonly bySubscriber = new Map<S, Set<string>>();
  /** Topics held on the broker with no subscriber needed (see {@link TopicRegistry.hold}), with their count. */
  private readonly holds = new Map<string, number>();
  private readonly maxTopicLength: number;
  private readonly maxTopicsPerSubscriber: number;

  /**
   * @param broker - the node's broker; its subscribe/unsubscribe promises are not
   *   awaited (they never reject; see {@link Broker.subscribe})
   * @param onBrokerFailure - called when the broker breaks that contract (a subscribe or
   *   unsubscribe that throws or rejects), so that it is reported instead of ending the
   *   process as an unhandled rejection
   */
  constructor(
    private readonly broker: Broker,
    options: TopicRegistryOptions = {},
    private readonly onBrokerFailure: (error: unknown) => void = noop,
  ) {
    this.maxTopicLength = options.maxTopicLength ?? DEFAULT_MAX_TOPIC_LENGTH;
    this.maxTopicsPerSubscriber = options.maxTopicsPerSubscriber ?? DEFAULT_MAX_TOPICS_PER_SUBSCRIBER;
  }

  /**
   * Subscribe `subscriber` to `topic`.
   * @returns true if it was not subscribed already
   * @throws {@link TopicError} when the topic is empty, too long or not well-formed
   *   Unicode, or the subscriber is in too many topics (nothing changes then)
   */
  subscribe(subscriber: S, topic: string): boolean {
    this.checkTopic(topic);
    let topics = this.bySubscriber.get(subscriber);
    if (topics?.has(topic)) return false;
    if (topics !== undefined && topics.size >= this.maxTopicsPerSubscriber) {
      throw new TopicError(
        'too-many-topics',
        `a subscriber may be in at most ${this.maxTopicsPerSubscriber} topics`,
      );
    }
    if (topics === undefined) {
      topics = new Set();
      this.bySubscriber.set(subscriber, topics);
    }
    topics.add(topic);
    let subscribers = this.byTopic.get(topic);
    if (subscribers === undefined) {
      subscribers = new Set();
      this.byTopic.set(topic, subscribers);
      // The first one here: the node joins the topic (unless a hold has it joined already).
      if (!this.holds.has(topic)) this.callBroker('subscribe', topic);
    }
    subscribers.add(subscriber);
    return true;
  }

  /**
   * Check a topic name against the limits (a server checks the topic of every publish,
   * which may come from a client too).
   * @throws {@link TopicError} when the topic is empty, too long or not well-formed Unicode
   */
  checkTopic(topic: string): void {
    if (topic.length === 0) throw new TopicError('empty-topic', 'a topic name cannot be empty');
    if (topic.length > this.maxTopicLength) {
      throw new TopicError('topic-too-long', `topic name longer than ${this.maxTopicLength} characters`);
    }
    checkTopicWellFormed(topic);
  }

  /**
   * Unsubscribe `subscriber` from `topic`.
   * @returns true if it was subscribed
   */
  unsubscribe(subscriber: S, topic: string): boolean {
    const topics = this.bySubscriber.get(subscriber);
    if (topics === undefined || !topics.delete(topic)) return false;
    if (topics.size === 0) this.bySubscriber.delete(subscriber);
    this.leave(subscriber, topic);
    return true;
  }

  /** Unsubscribe `subscriber` from every topic (call it when its connection ends). */
  unsubscribeAll(subscriber: S): void {
    const topics = this.bySubscriber.get(subscriber);
    if (topics === undefined) return;
    this.bySubscriber.delete(subscriber);
    for (const topic of topics) this.leave(subscriber, topic);
  }

  /**
   * The local subscribers of `topic`: a live view, not a copy. Unsubscribing while
   * iterating it is safe (a removed subscriber is not visited); one added meanwhile may
   * be visited.
   */
  subscribers(topic: string): ReadonlySet<S> {
    return this.byTopic.get(topic) ?? NONE;
  }

  /** How many local subscribers `topic` has. */
  subscriberCount(topic: string): number {
    return this.byTopic.get(topic)?.size ?? 0;
  }

  /** The topics `subscriber` is in. */
  topicsOf(subscriber: S): ReadonlySet<string> {
    return this.bySubscriber.get(subscriber) ?? NONE;
  }

  /**
   * Keep this node subscribed to `topic` on the broker without a subscriber: for a local
   * consumer of the topic's messages that is not a connection (an `EventSource` stream
   * hub recording the topic's history). Holds are counted: each one is given back with
   * {@link TopicRegistry.release}. A held topic is not counted in {@link TopicRegistry.topicCount}.
   * @throws {@link TopicError} when the topic is empty, too long or not well-formed Unicode
   */
  hold(topic: string): void {
    this.checkTopic(topic);
    const count = this.holds.get(topic) ?? 0;
    this.holds.set(topic, count + 1);
    if (count === 0 && !this.byTopic.has(topic)) this.callBroker('subscribe', topic);
  }

  /** Give back one {@link TopicRegistry.hold} of `topic` (nothing happens for a topic not held). */
  release(topic: string): void {
    const count = this.holds.get(topic);
    if (count === undefined) return;
    if (count > 1) {
      this.holds.set(topic, count - 1);
      return;
    }
    this.holds.delete(topic);
    if (!this.byTopic.has(topic)) this.callBroker('unsubscribe', topic);
  }

  /** How many topics have at least one local subscriber. */
  get topicCount(): number {
    return this.byTopic.size;
  }

  /** Call the broker, containing a failure it should never have (a throw, a rejection). */
  private callBroker(method: 'subscribe' | 'unsubscribe', topic: string): void {
    try {
      this.broker[method](topic).then(undefined, this.onBrokerFailure);
    } catch (error) {
      this.onBrokerFailure(error);
    }
  }

  private leave(subscriber: S, topic: string): void {
    const subscribers = this.byTopic.get(topic);
    if (subscribers === undefined) return;
    subscribers.delete(subscriber);
    if (subscribers.size === 0) {
      this.byTopic.delete(topic);
      // The last one left: the node leaves the topic, unless something holds it.
      if (!this.holds.has(topic)) this.callBroker('unsubscribe', topic);
    }
  }
}

function noop(): void {}
