import { randomUUID } from 'node:crypto';
import { checkInteger, checkObject, checkString, MAX_TIMEOUT_MS } from '@sockeye/sockeye/protocol';
import {
  type Broker,
  BrokerError,
  type BrokerHandler,
  type BrokerLoss,
  type BrokerStatus,
  checkTopicWellFormed,
  GapDetector,
  isValidNodeId,
  isWellFormedTopic,
  MAX_NODE_ID_LENGTH,
  SequenceCounter,
} from '@sockeye/sockeye/pubsub';
import { Redis, type RedisOptions } from 'ioredis';
import { decodeEnvelope, ENVELOPE_OVERHEAD, encodeEnvelope } from './envelope.js';

/** Options of {@link RedisBroker}. */
export interface RedisBrokerOptions {
  /**
   * Where Redis is, as a `redis://` (or `rediss://`) URL with optional user, password and
   * database.
   * @defaultValue `'redis://127.0.0.1:6379'`
   */
  url?: string;
  /**
   * This node's id, unique among every node on this Redis and prefix (see
   * `isValidNodeId` in `@sockeye/sockeye/pubsub`). Two nodes with one id would drop each other's
   * messages as echoes.
   * @defaultValue a random UUID
   */
  nodeId?: string;
  /**
   * Prefix of the Redis channel names: topic `t` travels on channel `prefix + t`. Give
   * each application sharing a Redis its own. Like topic names, it must be well-formed
   * Unicode (no lone surrogate).
   * @defaultValue `'sockeye:'`
   */
  prefix?: string;
  /**
   * First delay before reconnecting after the connection to Redis dropped, in
   * milliseconds; it doubles on every failed attempt up to `maxReconnectDelayMs`.
   * @defaultValue 50
   */
  minReconnectDelayMs?: number;
  /**
   * Longest delay between reconnection attempts, in milliseconds. The broker never
   * gives up: it retries until {@link RedisBroker.close}.
   * @defaultValue 2000
   */
  maxReconnectDelayMs?: number;
  /**
   * Most topics (and (topic, publisher) pairs) whose sequence numbers are tracked; see
   * `SequenceCounter` and `GapDetector` in `@sockeye/sockeye/pubsub`.
   * @defaultValue 100000
   */
  maxTrackedTopics?: number;
  /**
   * Most bytes of publishes (envelopes) handed to Redis and not answered yet. Past it a
   * publish is not queued but reported lost with reason `'overloaded'`: a stalled Redis
   * (paused, or a connection that hangs without closing) must not grow the server's
   * memory without bound. 32 MiB: at 1 Gbit/s that is a quarter second of traffic, far
   * more than a healthy Redis ever leaves unanswered.
   * @defaultValue 33554432
   */
  maxPendingBytes?: number;
  /**
   * Further ioredis options (TLS, timeouts, ...) for both connections. The broker
   * overrides the ones its guarantees depend on: `enableOfflineQueue: false` and
   * `autoResendUnfulfilledCommands: false` (a message Redis did not take is reported
   * lost, not sent late and out of order), `autoResubscribe: false` (the broker
   * resubscribes itself, so it knows when that is done), `lazyConnect: false` and
   * `retryStrategy`.
   */
  redis?: RedisOptions;
}

/** A waiter for the next time the broker is up (or closed). */
type Waiter = () => void;

/** A publish handed to Redis and not yet answered. */
interface InFlight {
  readonly topic: string;
  /** Its envelope's size, counted against `maxPendingBytes`. */
  readonly bytes: number;
  /** Settled: answered, failed, or given up on when its connection closed. */
  done: boolean;
}

/**
 * What a command on the subscriber connection came to. ioredis (with
 * `autoResendUnfulfilledCommands: false`) neither resolves nor rejects a command whose
 * connection closed under it, so the broker races each command against the close.
 */
type Outcome = 'done' | 'failed' | 'dropped';

/** A promise and the function that resolves it (Node 20 has no `Promise.withResolvers`). */
interface Signal {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
}

function dropSignal(): Signal {
  let resolve = () => {};
  const promise = new Promise<void>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

/**
 * A {@link Broker} on Redis pub/sub, for several server processes (on one machine or
 * many) that share one Redis. One Redis channel per topic (`prefix + topic`); each
 * publish travels in a small binary envelope (see `envelope.ts`) naming its publisher
 * and sequence number, with the payload bytes untouched.
 *
 * It keeps two connections: one subscribed (Redis allows nothing else on it), one to
 * publish. When either drops it reconnects by itself, with a doubling delay; the
 * subscriber resubscribes every topic and the status goes back to `'up'`.
 *
 * Redis pub/sub is at most once: what is published while a connection is down is gone.
 * This broker reports every such loss it can see: its own publishes made while the
 * publishing connection is down (`'transport-down'`) or that failed in flight
 * (`'send-failed'`), and gaps in other nodes' sequence numbers (`'gap'`): what they
 * published while this node's subscription was down.
 */
export class RedisBroker implements Broker {
  readonly nodeId: string;
  /** The channel prefix. */
  readonly prefix: string;
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly subscribed = new Set<string>();
  /** Subscribe commands in flight, so a second subscribe() of a topic waits for the first. */
  private readonly pending = new Map<string, Promise<void>>();
  private readonly sequences: SequenceCounter;
  private readonly gaps: GapDetector;
  private handler: BrokerHandler = { onMessage() {} };
  private attached = false;
  private publisherReady = false;
  private subscriberSynced = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  private lastStatus: BrokerStatus = 'down';
  private waiters: Waiter[] = [];
  /** Publishes in flight on the publisher connection (see {@link InFlight}). */
  private readonly inFlight = new Set<InFlight>();
  /** Bytes of the publishes in {@link RedisBroker.inFlight}. */
  private pendingBytes = 0;
  private readonly maxPendingBytes: number;
  /** Resolves when the current subscriber connection closes; renewed on each close. */
  private subscriberDropped = dropSignal();

  /**
   * Connects at once (in the background; see {@link RedisBroker.ready}).
   * @throws `BrokerError` of kind `'config'` when `nodeId` is invalid, or `prefix` is not
   *   well-formed Unicode; TypeError or RangeError, naming it, for another option that
   *   cannot work
   */
  constructor(options: RedisBrokerOptions = {}) {
    checkRedisBrokerOptions(options);
    this.nodeId = options.nodeId ?? randomUUID();
    if (!isValidNodeId(this.nodeId)) {
      throw new BrokerError(
        'config',
        `invalid node id ${JSON.stringify(this.nodeId)}: 1 to ${MAX_NODE_ID_LENGTH} characters of A-Z a-z 0-9 . _ : -`,
      );
    }
    this.prefix = options.prefix ?? 'sockeye:';
    if (!isWellFormedTopic(this.prefix)) {
      // The prefix is UTF-8 on the wire like the topics: "app\uD800:" would share the
      // channels of "app\uFFFD:", another application.
      throw new BrokerError(
        'config',
        `invalid prefix ${JSON.stringify(this.prefix)}: not well-formed Unicode (a lone surrogate)`,
      );
    }
    this.sequences = new SequenceCounter(options.maxTrackedTopics);
    this.gaps = new GapDetector(options.maxTrackedTopics);
    this.maxPendingBytes = options.maxPendingBytes ?? 32 * 1024 * 1024;
    const minDelay = options.minReconnectDelayMs ?? 50;
    const maxDelay = options.maxReconnectDelayMs ?? 2000;
    const connectionOptions = (role: string): RedisOptions => ({
      ...options.redis,
      connectionName: `sockeye-${role}-${this.nodeId}`,
      lazyConnect: false,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      autoResubscribe: false,
      retryStrategy: (attempt: number) => Math.min(minDelay * 2 ** Math.min(attempt - 1, 20), maxDelay),
    });
    const url = options.url ?? 'redis://127.0.0.1:6379';
    this.publisher = new Redis(url, connectionOptions('pub'));
    this.subscriber = new Redis(url, connectionOptions('sub'));

    this.publisher.on('ready', () => {
      this.publisherReady = true;
      this.updateStatus();
    });
    this.publisher.on('close', () => {
      this.publisherReady = false;
      // ioredis forgets the commands that were in flight on a closed connection without
      // settling them: they are lost as far as we can tell (Redis may have run them).
      const error = new Error('the connection to Redis closed before Redis answered');
      for (const publish of this.inFlight) {
        publish.done = true;
        this.reportLoss(
          { reason: 'send-failed', topic: publish.topic, publisher: this.nodeId, count: 1, error },
          false,
          true,
        );
      }
      this.inFlight.clear();
      this.pendingBytes = 0;
      this.updateStatus();
    });
    this.subscriber.on('ready', () => void this.resubscribe());
    this.subscriber.on('close', () => {
      this.subscriberSynced = false;
      this.subscriberDropped.resolve();
      this.subscriberDropped = dropSignal();
      this.updateStatus();
    });
    for (const connection of [this.publisher, this.subscriber]) {
      connection.on('error', (error: Error) => {
        this.reportError(new BrokerError('connection', `redis: ${error.message}`, { cause: error }));
      });
    }
    this.subscriber.on('messageBuffer', (channel: Buffer, envelope: Buffer) =>
      this.receive(channel, envelope),
    );
  }

  get status(): BrokerStatus {
    return this.lastStatus;
  }

  get topics(): ReadonlySet<string> {
    return this.subscribed;
  }

  attach(handler: BrokerHandler): void {
    if (this.attached)
      throw new BrokerError('config', 'a broker serves one server: a handler is already attached');
    this.attached = true;
    this.handler = handler;
  }

  /**
   * Resolves when the broker is `'up'`: both connections ready and every topic
   * subscribed (or when it is closed). Waits as long as Redis stays away: bound it with
   * a timeout of your own where that matters.
   */
  ready(): Promise<void> {
    if (this.lastStatus !== 'down') return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  subscribe(topic: string): Promise<void> {
    // A channel name is UTF-8, which has no lone surrogate: "room-\uD83D" would subscribe
    // the channel of "room-\uFFFD".
    checkTopicWellFormed(topic);
    if (this.closed) return Promise.resolve();
    if (this.subscribed.has(topic)) return this.pending.get(topic) ?? this.ready();
    this.subscribed.add(topic);
    // Before the subscriber connection is ready, the resubscription on 'ready' includes
    // the topic. Once it is, commands go straight out: Redis runs them in order, after a
    // resubscription already in flight.
    if (this.subscriber.status !== 'ready') return this.ready();
    const subscribing = this.onSubscriber(this.subscriber.subscribe(this.prefix + topic)).then((outcome) => {
      // Dropped or failed with the command in flight: the topic is in the set, so the
      // next resubscription includes it.
      if (outcome !== 'done') return this.ready();
    });
    const settled = subscribing.finally(() => {
      if (this.pending.get(topic) === settled) this.pending.delete(topic);
    });
    this.pending.set(topic, settled);
    return settled;
  }

  async unsubscribe(topic: string): Promise<void> {
    if (!this.subscribed.delete(topic)) return;
    this.gaps.forget(topic);
    if (this.closed || this.subscriber.status !== 'ready') return; // a resubscription will not include it
    // If the connection drops meanwhile, Redis forgets the subscription with it, and
    // messages for a topic no longer in the set are not delivered anyway.
    await this.onSubscriber(this.subscriber.unsubscribe(this.prefix + topic));
  }

  publish(topic: string, data: Uint8Array, isBinary: boolean): void {
    checkTopicWellFormed(topic); // see subscribe()
    if (this.closed) {
      this.reportLoss({ reason: 'closed', topic, publisher: this.nodeId, count: 1 }, true);
      return;
    }
    if (!this.publisherReady) {
      // Never sent, so it takes no sequence number: subscribers see no gap for it.
      this.reportLoss({ reason: 'transport-down', topic, publisher: this.nodeId, count: 1 });
      return;
    }
    const bytes = ENVELOPE_OVERHEAD + this.nodeId.length + data.length;
    if (this.pendingBytes + bytes > this.maxPendingBytes && this.inFlight.size > 0) {
      // Never sent, so no sequence number either. (One publish alone may exceed the
      // bound: refusing it would make it unsendable forever.)
      this.reportLoss({ reason: 'overloaded', topic, publisher: this.nodeId, count: 1 });
      return;
    }
    const envelope = encodeEnvelope(this.nodeId, this.sequences.next(topic), isBinary, data);
    const publish: InFlight = { topic, bytes, done: false };
    this.inFlight.add(publish);
    this.pendingBytes += bytes;
    this.publisher.publish(this.prefix + topic, envelope).then(
      () => this.settle(publish),
      (error: Error) => {
        if (publish.done) return; // already reported when its connection closed
        this.settle(publish);
        this.reportLoss(
          { reason: 'send-failed', topic, publisher: this.nodeId, count: 1, error },
          false,
          true,
        );
      },
    );
  }

  /** A publish in flight was answered or failed. */
  private settle(publish: InFlight): void {
    if (publish.done) return;
    publish.done = true;
    this.inFlight.delete(publish);
    this.pendingBytes -= publish.bytes;
  }

  /**
   * Leave Redis: pending publishes are flushed when the connection is up (QUIT waits for
   * their replies), then both connections end and no reconnection timer is left.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.subscribed.clear();
    this.updateStatus();
    this.closing = Promise.all([endConnection(this.publisher), endConnection(this.subscriber)]).then(
      () => {},
    );
    return this.closing;
  }

  /** (Re)subscribe every topic on a fresh subscriber connection, then report `'up'`. */
  private async resubscribe(): Promise<void> {
    const channels = [...this.subscribed].map((topic) => this.prefix + topic);
    if (channels.length > 0) {
      // Dropped again (or refused): the next 'ready' retries.
      if ((await this.onSubscriber(this.subscriber.subscribe(...channels))) !== 'done') return;
    }
    if (this.subscriber.status !== 'ready') return;
    this.subscriberSynced = true;
    this.updateStatus();
  }

  /**
   * Wait for a command on the subscriber connection, or for that connection to close
   * (see {@link Outcome}). A failure is reported as an error of kind `'subscribe'`.
   */
  private onSubscriber(command: Promise<unknown>): Promise<Outcome> {
    return Promise.race([
      command.then(
        (): Outcome => 'done',
        (error: unknown): Outcome => {
          this.reportError(new BrokerError('subscribe', `redis: ${String(error)}`, { cause: error }));
          return 'failed';
        },
      ),
      this.subscriberDropped.promise.then((): Outcome => 'dropped'),
    ]);
  }

  private receive(channel: Buffer, envelope: Buffer): void {
    if (this.closed) return;
    const topic = channel.toString('utf8', Buffer.byteLength(this.prefix));
    if (!this.subscribed.has(topic)) return; // unsubscribed while it was on its way
    let decoded: ReturnType<typeof decodeEnvelope>;
    try {
      decoded = decodeEnvelope(envelope);
    } catch (error) {
      this.reportError(
        new BrokerError('decode', `dropped a message on ${topic}: ${(error as Error).message}`, {
          cause: error,
        }),
      );
      return;
    }
    if (decoded.publisher === this.nodeId) return; // our own publish: the server delivered it locally
    const missed = this.gaps.observe(topic, decoded.publisher, decoded.sequence);
    if (missed > 0) {
      this.reportLoss({ reason: 'gap', topic, publisher: decoded.publisher, count: missed }, false, true);
    }
    this.call(() =>
      this.handler.onMessage({
        topic,
        data: decoded.data,
        isBinary: decoded.isBinary,
        publisher: decoded.publisher,
        sequence: decoded.sequence,
      }),
    );
  }

  private updateStatus(): void {
    const status: BrokerStatus = this.closed
      ? 'closed'
      : this.publisherReady && this.subscriberSynced
        ? 'up'
        : 'down';
    if (status === this.lastStatus) return;
    this.lastStatus = status;
    if (status !== 'down') {
      const waiters = this.waiters;
      this.waiters = [];
      for (const resolve of waiters) resolve();
    }
    // A closed broker calls no handler; close() is the caller's own doing.
    if (status !== 'closed') this.call(() => this.handler.onStatus?.(status));
  }

  /**
   * Report a loss. From inside {@link RedisBroker.publish} it is deferred to a
   * microtask (handlers are never called from inside a broker method); from an event it
   * is immediate, so it arrives before the message that revealed it.
   */
  private reportLoss(loss: BrokerLoss, evenIfClosed = false, immediate = false): void {
    if (this.closed && !evenIfClosed) return;
    const report = () => this.call(() => this.handler.onLost?.(loss));
    if (immediate) report();
    else queueMicrotask(report);
  }

  private reportError(error: BrokerError): void {
    if (this.closed) return;
    try {
      this.handler.onError?.(error);
    } catch (second) {
      process.emitWarning(`sockeye redis broker ${this.nodeId}: onError threw: ${String(second)}`);
    }
  }

  /** Run a handler callback; one that throws is reported to onError, never to the Redis client. */
  private call(callback: () => void): void {
    try {
      callback();
    } catch (cause) {
      this.reportError(
        new BrokerError('handler', `a broker handler callback threw: ${String(cause)}`, { cause }),
      );
    }
  }
}

/** How long close() lets Redis answer QUIT before it drops the connection, in milliseconds. */
const QUIT_GRACE_MS = 5000;

/** End a connection for good and wait until its socket is gone. */
async function endConnection(connection: Redis): Promise<void> {
  if (connection.status === 'end') return;
  if (connection.status === 'reconnecting') {
    // Waiting to reconnect: there is no socket, only the timer, which disconnect()
    // clears. ioredis emits no 'end' in this state, so there is nothing to wait for.
    connection.disconnect();
    return;
  }
  const ended = new Promise<void>((resolve) => connection.once('end', () => resolve()));
  let timer: NodeJS.Timeout | undefined;
  if (connection.status === 'ready') {
    // QUIT lets the publishes already written get their replies first; a Redis that
    // does not answer within QUIT_GRACE_MS is dropped without waiting any longer.
    connection.quit().catch(() => connection.disconnect());
    timer = setTimeout(() => connection.disconnect(), QUIT_GRACE_MS);
  } else {
    connection.disconnect(); // connecting: drop the socket being opened
  }
  await ended;
  clearTimeout(timer);
}

/**
 * Check the options of a {@link RedisBroker} once, before anything connects.
 * @throws TypeError for a value of the wrong type; RangeError for a number out of range
 */
function checkRedisBrokerOptions(options: RedisBrokerOptions): void {
  checkObject('options', options);
  checkString('url', options.url);
  checkString('nodeId', options.nodeId);
  checkString('prefix', options.prefix);
  checkInteger('minReconnectDelayMs', options.minReconnectDelayMs, 0, MAX_TIMEOUT_MS);
  checkInteger('maxReconnectDelayMs', options.maxReconnectDelayMs, 0, MAX_TIMEOUT_MS);
  const min = options.minReconnectDelayMs ?? 50;
  const max = options.maxReconnectDelayMs ?? 2000;
  if (max < min) {
    throw new RangeError(`maxReconnectDelayMs (${max}) must be at least minReconnectDelayMs (${min})`);
  }
  checkInteger('maxTrackedTopics', options.maxTrackedTopics, 1, Number.MAX_SAFE_INTEGER);
  checkInteger('maxPendingBytes', options.maxPendingBytes, 1, Number.MAX_SAFE_INTEGER);
  checkObject('redis', options.redis);
}
