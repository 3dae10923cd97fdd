/**
 * Topic history for sessions: each message published to a topic gets a position (1, 2,
 * 3, ... per topic) in a bounded log that every server process reads, so that a session
 * that moves between processes catches up from the position it had reached, and is told
 * exactly how many messages the log no longer holds. No Node built-ins.
 * @module
 */
import type { WireMessage } from './wire.js';

/** One message of a topic's history. */
export interface TopicHistoryEntry {
  /** Its position in the topic: 1 for the first message ever published to it, then one more each. */
  readonly position: number;
  /** The message. */
  readonly data: WireMessage;
}

/** What {@link TopicHistory.read} found for one topic. */
export interface TopicHistoryRead {
  /** The messages after the position asked for, oldest first. */
  readonly entries: readonly TopicHistoryEntry[];
  /** How many messages right after the position asked for the history no longer holds (trimmed or expired). */
  readonly lost: number;
  /**
   * The generation of the topic's log the entries belong to (see
   * {@link TopicHistory.generation}), read after them. @defaultValue unknown
   */
  readonly generation?: string;
}

/**
 * A bounded, shared log of every topic's messages (see `docs/sessions.md`, "Topic
 * history"). The in-memory one serves the servers of one process; `@sockeye/redis` has
 * one on Redis Streams for servers in several processes.
 */
export interface TopicHistory {
  /** Append `data` to `topic`'s history. @returns its position */
  append(topic: string, data: WireMessage): Promise<number>;
  /** The position of the last message of `topic` (0 when it has none). */
  last(topic: string): Promise<number>;
  /**
   * The messages of each topic after its position in `after` (at most `limit` per topic).
   * With `waitMs`, waits up to that long for one to arrive when there is none yet.
   * Topics with nothing new are left out of the answer.
   */
  read(
    after: ReadonlyMap<string, number>,
    limit: number,
    waitMs?: number,
  ): Promise<Map<string, TopicHistoryRead>>;
  /** Stop: a pending `read` resolves (with what it has), and nothing is kept alive. */
  close(): Promise<void>;
  /**
   * The generation of `topic`'s log: an id that changes whenever the log starts again
   * from nothing (a store that lost it, a history that expired), so that a position in
   * an earlier log is never taken for one in this one, even once this one's positions
   * have passed it. '' when the topic has no log. Optional: a history without it is
   * known to have restarted only while its positions are below the old ones.
   */
  generation?(topic: string): Promise<string>;
}

/** A new generation id: 16 characters of base 36 (no Node built-in, for browsers too). */
function newGeneration(): string {
  let id = '';
  while (id.length < 16) id += Math.floor(Math.random() * 36).toString(36);
  return id;
}

/** Default of {@link MemoryTopicHistoryOptions.maxTopics}: 10,000 topics. */
export const DEFAULT_HISTORY_MAX_TOPICS = 10_000;
/** Default of {@link MemoryTopicHistoryOptions.ttl}: 2 minutes, the sessions' default resume window. */
export const DEFAULT_HISTORY_TTL_MS = 120_000;

/** Slots of the forgotten positions' floors (see {@link MemoryTopicHistory}): 8 KiB. */
const FLOOR_SLOTS = 1024;

/**
 * The floor slot of `topic`: FNV-1a over its UTF-16 code units. Only spreads the topics
 * a history forgot; a collision makes a loss count higher, never a position repeat.
 * @internal
 */
export function floorSlot(topic: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < topic.length; i++) hash = Math.imul(hash ^ topic.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % FLOOR_SLOTS;
}

/** Options of {@link MemoryTopicHistory}. */
export interface MemoryTopicHistoryOptions {
  /** Most messages kept per topic; past it the oldest are dropped. @defaultValue 10 000 */
  maxLength?: number;
  /**
   * Most topics whose messages are kept. Topic names are chosen by whoever publishes:
   * past this, the messages of the topic published to longest ago are dropped, as if
   * trimmed (its position is remembered, see {@link MemoryTopicHistory}).
   * @defaultValue {@link DEFAULT_HISTORY_MAX_TOPICS}
   */
  maxTopics?: number;
  /**
   * A topic's messages are dropped this long after its last publish, in ms, as
   * `RedisTopicHistory`'s `ttl` (make it at least the servers' resume window: a session
   * away for longer is lost anyway).
   * @defaultValue {@link DEFAULT_HISTORY_TTL_MS}
   */
  ttl?: number;
}

/**
 * One topic's log: a ring indexed by position. The message at position `p` sits at
 * `(p - start) % maxLength`; the ring grows by `push` until it holds `maxLength`, then each
 * append overwrites the oldest, so an append is O(1) however full the log is (an array
 * trimmed with `shift()` moves every kept entry on each append once full).
 */
interface TopicLog {
  /** The position the next message gets. */
  next: number;
  /** The position of the log's first message (1, or one past where it was dropped). */
  readonly start: number;
  /** The kept messages: `min(next - start, maxLength)` of them. */
  ring: TopicHistoryEntry[];
  /** When the last message was appended (ms), for `ttl`. */
  appendedAt: number;
  /** The log's generation (see {@link TopicHistory.generation}). */
  readonly generation: string;
}

/**
 * A {@link TopicHistory} in this process's memory, for the servers of one process.
 *
 * Bounded three ways: `maxLength` messages per topic, `maxTopics` topics, and `ttl` after
 * a topic's last publish. A topic dropped by the last two loses its messages but not its
 * numbering: its last position is remembered (for as many topics again, about a hundred
 * bytes each), so a later publish continues from it and a reader behind is told exactly
 * how many messages it lost, as for a trimmed history. Past that, the position of the
 * topic dropped longest ago is forgotten too; the history then numbers any topic it holds
 * no position for from above every forgotten position of the topics that share its slot
 * (one of 1,024, by a hash of the name; not from 1), so that no reader takes a new
 * message for one it already had: such a reader is told it lost at least what it lost.
 */
export class MemoryTopicHistory implements TopicHistory {
  /** The topics with messages, the one published to longest ago first. */
  private readonly topics = new Map<string, TopicLog>();
  /**
   * The last positions of topics whose messages were dropped, and their logs' generations
   * (the numbering goes on, so the log does), the one dropped longest ago first.
   */
  private readonly dropped = new Map<string, { last: number; generation: string }>();
  /**
   * For each of {@link FLOOR_SLOTS} slots, the highest last position of a topic of that
   * slot (by a hash of its name) whose position was forgotten too; null until one is.
   */
  private floors: Float64Array | null = null;
  private readonly maxLength: number;
  private readonly maxTopics: number;
  private readonly ttl: number;
  private waiters = new Set<() => void>();

  /**
   * @param options - see {@link MemoryTopicHistoryOptions}
   * @throws RangeError for a `maxLength` or `maxTopics` that is not a positive integer, or a `ttl` that is not a positive number
   */
  constructor(options: MemoryTopicHistoryOptions = {}) {
    this.maxLength = options.maxLength ?? 10_000;
    if (!Number.isInteger(this.maxLength) || this.maxLength < 1) {
      throw new RangeError('maxLength must be a positive integer');
    }
    this.maxTopics = options.maxTopics ?? DEFAULT_HISTORY_MAX_TOPICS;
    if (!Number.isInteger(this.maxTopics) || this.maxTopics < 1) {
      throw new RangeError('maxTopics must be a positive integer');
    }
    this.ttl = options.ttl ?? DEFAULT_HISTORY_TTL_MS;
    if (!(this.ttl > 0)) throw new RangeError('ttl must be a positive number of ms');
  }

  /** Topics whose messages are kept now (at most `maxTopics`). */
  get topicCount(): number {
    this.expire(Date.now());
    return this.topics.size;
  }

  /** Append (see {@link TopicHistory.append}); past `maxLength`, the oldest message is dropped. */
  async append(topic: string, data: WireMessage): Promise<number> {
    const now = Date.now();
    this.expire(now);
    let log = this.topics.get(topic);
    if (log === undefined) {
      const start = this.lastDropped(topic) + 1;
      // A dropped topic's log goes on (same numbering, same generation); any other starts.
      const generation = this.dropped.get(topic)?.generation ?? newGeneration();
      log = { next: start, start, ring: [], appendedAt: now, generation };
      this.dropped.delete(topic);
      if (this.topics.size >= this.maxTopics) this.drop(this.topics.keys().next().value!);
    } else {
      // Moved to the end: the map stays in order of last publish, the oldest first.
      this.topics.delete(topic);
      log.appendedAt = now;
    }
    this.topics.set(topic, log);
    const position = log.next++;
    const entry = { position, data };
    if (log.ring.length < this.maxLength) log.ring.push(entry);
    else log.ring[(position - log.start) % this.maxLength] = entry;
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const wake of waiters) wake();
    return position;
  }

  /** The last position of `topic` (kept after its messages were dropped). */
  async last(topic: string): Promise<number> {
    this.expire(Date.now());
    const log = this.topics.get(topic);
    return log === undefined ? this.lastDropped(topic) : log.next - 1;
  }

  /** The generation of `topic`'s log ('' when it has none: no messages and no position kept). */
  async generation(topic: string): Promise<string> {
    this.expire(Date.now());
    return this.topics.get(topic)?.generation ?? this.dropped.get(topic)?.generation ?? '';
  }

  /** Forget every topic and position, as a store restarted empty would (for tests). */
  clear(): void {
    this.topics.clear();
    this.dropped.clear();
    this.floors = null;
  }

  /** Read (see {@link TopicHistory.read}). */
  async read(
    after: ReadonlyMap<string, number>,
    limit: number,
    waitMs = 0,
  ): Promise<Map<string, TopicHistoryRead>> {
    let found = this.collect(after, limit);
    if (found.size === 0 && waitMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, waitMs);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.waiters.add(done);
      });
      found = this.collect(after, limit);
    }
    return found;
  }

  /** Wake every pending read. */
  async close(): Promise<void> {
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  /** The last position of a topic that holds no messages. */
  private lastDropped(topic: string): number {
    return this.dropped.get(topic)?.last ?? (this.floors === null ? 0 : this.floors[floorSlot(topic)]!);
  }

  /** Drop the messages of `topic`, remembering its last position (and forgetting the oldest such beyond `maxTopics`). */
  private drop(topic: string): void {
    const log = this.topics.get(topic);
    if (log === undefined) return;
    this.topics.delete(topic);
    if (this.dropped.size >= this.maxTopics) {
      const [oldest, { last }] = this.dropped.entries().next().value!;
      this.dropped.delete(oldest);
      this.floors ??= new Float64Array(FLOOR_SLOTS);
      const slot = floorSlot(oldest);
      this.floors[slot] = Math.max(this.floors[slot]!, last);
    }
    this.dropped.set(topic, { last: log.next - 1, generation: log.generation });
  }

  /** Drop the topics not published to for `ttl` (they come first: the map is in order of last publish). */
  private expire(now: number): void {
    for (const [topic, log] of this.topics) {
      if (now - log.appendedAt < this.ttl) return;
      this.drop(topic);
    }
  }

  private collect(after: ReadonlyMap<string, number>, limit: number): Map<string, TopicHistoryRead> {
    this.expire(Date.now());
    const found = new Map<string, TopicHistoryRead>();
    for (const [topic, position] of after) {
      const log = this.topics.get(topic);
      if (log === undefined || log.next - 1 <= position) continue;
      const ring = log.ring;
      const first = log.next - ring.length;
      const from = Math.max(position + 1, first);
      const to = Math.min(log.next, from + Math.max(0, Math.trunc(limit)));
      const entries: TopicHistoryEntry[] = [];
      for (let at = from; at < to; at++) entries.push(ring[(at - log.start) % this.maxLength]!);
      found.set(topic, { entries, lost: Math.max(0, first - position - 1), generation: log.generation });
    }
    return found;
  }
}
