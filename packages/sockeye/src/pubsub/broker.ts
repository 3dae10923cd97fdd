/**
 * The contract between a sockeye server and whatever carries its topic publishes to the
 * other server processes (nodes) of one application: {@link InProcessBroker} by default,
 * `@sockeye/redis` across processes and machines.
 *
 * The division of labour:
 * - The server owns local delivery. `server.publish(topic, ...)` writes to its own
 *   subscribers itself, then hands the message to {@link Broker.publish}, which carries it
 *   to every OTHER node subscribed to the topic. A broker never echoes a publish back to
 *   the node that sent it.
 * - Subscriptions are per node, not per socket. The server calls
 *   {@link Broker.subscribe} when the first local socket joins a topic and
 *   {@link Broker.unsubscribe} when the last one leaves (or the connection ends). The
 *   broker does not count: subscribing twice and unsubscribing once leaves the topic
 *   unsubscribed.
 * - What the broker receives it hands to {@link BrokerHandler.onMessage}; the server
 *   then writes it to its local subscribers of that topic.
 * @module
 */

import { SockeyeError } from '../protocol/errors.js';

/**
 * A message carried from another node. `data` belongs to the broker and may be shared
 * with other receivers: treat it as read-only (a server frames it once and writes the
 * same bytes to every local subscriber, which is exactly that).
 */
export interface BrokerMessage {
  /** The topic it was published to. */
  readonly topic: string;
  /** The payload bytes, exactly as published (UTF-8 bytes when `isBinary` is false). */
  readonly data: Buffer;
  /** Whether it goes out as a binary (true) or a text (false) WebSocket message. */
  readonly isBinary: boolean;
  /** The {@link Broker.nodeId} of the publishing node. */
  readonly publisher: string;
  /**
   * The publisher's sequence number for this topic: 1 for its first publish to the topic,
   * then one more for each publish it sent. A broker that can lose messages uses it to
   * detect gaps (see {@link GapDetector}); a receiver may log it.
   */
  readonly sequence: number;
}

/**
 * Why messages were lost.
 * - `'transport-down'`: this node published while the broker's transport (e.g. the Redis
 *   connection) was down; the message was never sent.
 * - `'send-failed'`: this node handed the message to the transport, which then failed
 *   (e.g. the connection dropped with the command in flight). Other nodes may or may not
 *   have received it.
 * - `'gap'`: this node, as a subscriber, saw a publisher's sequence number jump: messages
 *   that other node sent on this topic never arrived here.
 * - `'overloaded'`: this node published while the transport had more unanswered
 *   publishes than the broker's bound allows (a stalled transport must not grow memory
 *   without limit); the message was never sent.
 * - `'closed'`: this node published after {@link Broker.close}.
 */
export type LossReason = 'transport-down' | 'send-failed' | 'gap' | 'overloaded' | 'closed';

/**
 * Messages that did not make it, as this node observed them. Each node reports what it
 * sees: a message that a publisher reports as `'send-failed'` may also show up as a
 * `'gap'` on its subscribers. A message published while the transport was down is
 * reported once, by its publisher, and does not consume a sequence number (so it causes
 * no gap on the subscribers).
 */
export interface BrokerLoss {
  /** Why. */
  readonly reason: LossReason;
  /** The topic the messages were published to. */
  readonly topic: string;
  /** The publishing node: this node's id for outgoing losses, the other node's for gaps. */
  readonly publisher: string;
  /** How many messages were lost (1 for an outgoing loss; the size of the gap for `'gap'`). */
  readonly count: number;
  /** The transport's error, when there is one. */
  readonly error?: Error;
}

/**
 * Whether the broker can carry messages right now. `'up'`: connected and every topic
 * subscribed; `'down'`: the transport is down or (re)subscribing, publishes are reported
 * lost; `'closed'`: {@link Broker.close} was called.
 */
export type BrokerStatus = 'up' | 'down' | 'closed';

/** What kind of thing went wrong in a broker. */
export type BrokerErrorKind =
  /** The transport failed or could not connect (it keeps retrying). */
  | 'connection'
  /** A subscribe or unsubscribe was refused (it is retried on the next reconnection). */
  | 'subscribe'
  /** A publish failed (the message is also reported through {@link BrokerHandler.onLost}). */
  | 'publish'
  /** Something arrived that is not a message this broker understands (it is dropped). */
  | 'decode'
  /** A {@link BrokerHandler} callback threw (the broker carries on). */
  | 'handler'
  /** Bad configuration, such as an invalid or duplicate node id. */
  | 'config';

/** Something went wrong in a broker. Brokers report these through {@link BrokerHandler.onError}. */
export class BrokerError extends SockeyeError {
  override readonly name = 'BrokerError';
  /** What kind of thing went wrong (the same as {@link BrokerError.kind}). */
  readonly code: BrokerErrorKind;

  /**
   * @param kind - what kind of thing went wrong
   * @param message - what happened, in words a person can read
   * @param options - `cause`: the underlying error, if any
   */
  constructor(
    readonly kind: BrokerErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = kind;
  }
}

/**
 * Receives what a {@link Broker} has to say. A server attaches one with
 * {@link Broker.attach}. Callbacks are never called synchronously from inside a
 * {@link Broker} method call, so they may call back into the broker (publish from
 * `onMessage`, for example). A callback that throws is reported to `onError` with kind
 * `'handler'` and does not stop the broker.
 */
export interface BrokerHandler {
  /** A message from another node, for a topic this node is subscribed to. */
  onMessage(message: BrokerMessage): void;
  /** Messages were lost (see {@link BrokerLoss}). */
  onLost?(loss: BrokerLoss): void;
  /** Something went wrong; the broker carries on (reconnecting if it must). */
  onError?(error: BrokerError): void;
  /** {@link Broker.status} changed. */
  onStatus?(status: BrokerStatus): void;
}

/**
 * Carries topic publishes between the nodes (server processes) of one application.
 *
 * Guarantees every implementation gives:
 * - **No echo**: a node never receives its own publishes.
 * - **Per-publisher order**: the messages one node publishes to one topic arrive at
 *   every other node in the order they were published (messages to different topics, or
 *   from different publishers, have no order between them).
 * - **At most once**: a message arrives at most once per subscribed node. Whether it
 *   arrives at all depends on the transport: the in-process broker never loses one;
 *   Redis pub/sub loses what is published while a connection is down. Every loss a node
 *   can see is reported through {@link BrokerHandler.onLost}, never dropped silently.
 * - **Subscription timing**: a node receives the messages published after the promise
 *   of its {@link Broker.subscribe} resolved, until it calls {@link Broker.unsubscribe}.
 */
export interface Broker {
  /**
   * This node's identity, unique among the nodes sharing the transport. It is what
   * {@link BrokerMessage.publisher} says on the other nodes, and how echo is avoided.
   * Random by default; see {@link isValidNodeId} for what a configured one may be.
   */
  readonly nodeId: string;
  /** Whether the broker can carry messages right now. */
  readonly status: BrokerStatus;
  /** The topics this node is subscribed to. */
  readonly topics: ReadonlySet<string>;
  /**
   * Attach the handler that receives messages, losses, errors and status changes. A
   * broker serves one server: attaching a second handler throws a {@link BrokerError}
   * of kind `'config'`. Attach before subscribing: nothing is buffered for a late handler.
   */
  attach(handler: BrokerHandler): void;
  /**
   * Resolves when {@link Broker.status} is `'up'` (at once for a broker that is always
   * up), or when the broker is closed. It waits as long as the transport stays away:
   * bound it with a timeout of your own where that matters. A server may await it before
   * it reports itself listening.
   */
  ready(): Promise<void>;
  /**
   * Subscribe this node to `topic` (idempotent). The promise resolves once messages that
   * other nodes publish to it are delivered here. While the transport is down it
   * resolves after the reconnection has resubscribed; it also resolves on
   * {@link Broker.close}. It never rejects: failures go to {@link BrokerHandler.onError}
   * and the subscription is retried on the next reconnection.
   * @throws `TopicError` (rule `'malformed-topic'`), synchronously, when `topic` is not
   *   well-formed Unicode (see `isWellFormedTopic`): a caller's mistake, not a transport
   *   failure (a server checks every topic before it reaches the broker)
   */
  subscribe(topic: string): Promise<void>;
  /**
   * Unsubscribe this node from `topic` (idempotent). No message for it is delivered to
   * the handler after this call, even one already on its way. The promise resolves when
   * the transport has stopped sending it; it never rejects.
   */
  unsubscribe(topic: string): Promise<void>;
  /**
   * Send a message to every OTHER node subscribed to `topic`. Never blocks, and never
   * throws for a transport failure: a message that cannot be sent is reported through
   * {@link BrokerHandler.onLost}. It throws a `TopicError` (rule `'malformed-topic'`)
   * when `topic` is not well-formed Unicode, as {@link Broker.subscribe} does. The broker does not keep `data` after this call
   * returns (it copies or encodes it), so the caller may reuse the buffer.
   * @param topic - the topic
   * @param data - the payload bytes (UTF-8 bytes of the text when `isBinary` is false)
   * @param isBinary - whether receivers send it as a binary (true) or text (false) message
   */
  publish(topic: string, data: Uint8Array, isBinary: boolean): void;
  /**
   * Leave the transport: unsubscribe everything, release every socket and timer. After
   * the promise resolves nothing of the broker keeps the process alive and no handler
   * callback is called again, except `onLost` (reason `'closed'`) for a publish made
   * after `close()`. Idempotent.
   */
  close(): Promise<void>;
}

/** Longest node id, in bytes of UTF-8 (it travels in every envelope). */
export const MAX_NODE_ID_LENGTH = 64;

/**
 * Whether `id` can be a node id: 1 to {@link MAX_NODE_ID_LENGTH} characters from
 * `A-Z a-z 0-9 . _ : -` (so it is printable in logs and one byte per character on the wire).
 */
export function isValidNodeId(id: string): boolean {
  return id.length > 0 && id.length <= MAX_NODE_ID_LENGTH && /^[A-Za-z0-9._:-]+$/.test(id);
}
