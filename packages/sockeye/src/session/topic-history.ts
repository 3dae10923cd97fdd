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

/** Options of {@link MemoryTopicHistory}. */
export interface MemoryTopicHistoryOptions {
  /** Most messages kept per topic; past it the oldest are dropped. @defaultValue 10 000 */
  maxLength?: number;
}

/** A {@link TopicHistory} in this process's memory, for the servers of one process. */
export class MemoryTopicHistory implements TopicHistory {
  private readonly topics = new Map<
    string,
    { next: number; entries: TopicHistoryEntry[]; generation: string }
  >();
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
      log = { next: 1, entries: [], generation: newGeneration() };
      this.topics.set(topic, log);
    }
    const position = log.next++;
    log.entries.push({ position, data });
    if (log.entries.length > this.maxLength) log.entries.shift();
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const wake of waiters) wake();
    return position;
  }

  /** The last position of `topic`. */
  async last(topic: string): Promise<number> {
    return (this.topics.get(topic)?.next ?? 1) - 1;
  }

  /** The generation of `topic`'s log ('' when it has none). */
  async generation(topic: string): Promise<string> {
    return this.topics.get(topic)?.generation ?? '';
  }

  /** Forget every topic, as a store restarted empty would (for tests). */
  clear(): void {
    this.topics.clear();
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
      const first = log.entries[0]?.position ?? log.next;
      const start = Math.max(0, position + 1 - first);
      found.set(topic, {
        entries: log.entries.slice(start, start + limit),
        lost: Math.max(0, first - position - 1),
        generation: log.generation,
      });
    }
    return found;
  }
}
