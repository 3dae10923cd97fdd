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
}

/** Options of {@link MemoryTopicHistory}. */
export interface MemoryTopicHistoryOptions {
  /** Most messages kept per topic; past it the oldest are dropped. @defaultValue 10 000 */
  maxLength?: number;
}

/**
 * One topic's log: a ring indexed by position. The message at position `p` sits at
 * `(p - 1) % maxLength`; the ring grows by `push` until it holds `maxLength`, then each
 * append overwrites the oldest, so an append is O(1) however full the log is (an array
 * trimmed with `shift()` moves every kept entry on each append once full).
 */
interface TopicLog {
  /** The position the next message gets. */
  next: number;
  /** The kept messages: `min(next - 1, maxLength)` of them. */
  ring: TopicHistoryEntry[];
}

/** A {@link TopicHistory} in this process's memory, for the servers of one process. */
export class MemoryTopicHistory implements TopicHistory {
  private readonly topics = new Map<string, TopicLog>();
  private readonly maxLength: number;
  private waiters = new Set<() => void>();

  /** @param options - see {@link MemoryTopicHistoryOptions} */
  constructor(options: MemoryTopicHistoryOptions = {}) {
    this.maxLength = options.maxLength ?? 10_000;
    if (!Number.isInteger(this.maxLength) || this.maxLength < 1) {
      throw new RangeError('maxLength must be a positive integer');
    }
  }

  /** Append (see {@link TopicHistory.append}); past `maxLength`, the oldest message is dropped. */
  async append(topic: string, data: WireMessage): Promise<number> {
    let log = this.topics.get(topic);
    if (log === undefined) {
      log = { next: 1, ring: [] };
      this.topics.set(topic, log);
    }
    const position = log.next++;
    const entry = { position, data };
    if (log.ring.length < this.maxLength) log.ring.push(entry);
    else log.ring[(position - 1) % this.maxLength] = entry;
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const wake of waiters) wake();
    return position;
  }

  /** The last position of `topic`. */
  async last(topic: string): Promise<number> {
    return (this.topics.get(topic)?.next ?? 1) - 1;
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

  private collect(after: ReadonlyMap<string, number>, limit: number): Map<string, TopicHistoryRead> {
    const found = new Map<string, TopicHistoryRead>();
    for (const [topic, position] of after) {
      const log = this.topics.get(topic);
      if (log === undefined || log.next - 1 <= position) continue;
      const ring = log.ring;
      const first = log.next - ring.length;
      const from = Math.max(position + 1, first);
      const to = Math.min(log.next, from + Math.max(0, Math.trunc(limit)));
      const entries: TopicHistoryEntry[] = [];
      for (let at = from; at < to; at++) entries.push(ring[(at - 1) % this.maxLength]!);
      found.set(topic, { entries, lost: Math.max(0, first - position - 1) });
    }
    return found;
  }
}
