/**
 * The recent messages of one topic, numbered: what a subscriber that comes back (an
 * `EventSource` sending `Last-Event-ID`) is replayed from. Sans I/O, bounded in messages
 * and in bytes.
 * @module
 */

/** Default of {@link TopicHistoryLimits.maxMessages}: 1,000 messages per topic. */
export const DEFAULT_HISTORY_MESSAGES = 1000;
/**
 * Default of {@link TopicHistoryLimits.maxBytes}: 1 MiB per topic, so that a thousand
 * retained topics cost at most a GiB only if every one of them is full of large messages.
 */
export const DEFAULT_HISTORY_BYTES = 1024 * 1024;

/** How much of a topic a {@link TopicHistory} keeps. The oldest messages go first. */
export interface TopicHistoryLimits {
  /**
   * Most messages kept (0: none, sequence numbers are still handed out).
   * @defaultValue {@link DEFAULT_HISTORY_MESSAGES}
   */
  maxMessages?: number;
  /**
   * Most bytes kept, counted as the sizes given to {@link TopicHistory.append}. A single
   * message larger than this is numbered but not kept.
   * @defaultValue {@link DEFAULT_HISTORY_BYTES}
   */
  maxBytes?: number;
}

/** A kept message and its sequence number. */
export interface HistoryEntry<T> {
  /** Its number: 1 for the topic's first message, then one more for each. */
  readonly sequence: number;
  /** What was kept. */
  readonly value: T;
  /** The size it was counted as, in bytes. */
  readonly size: number;
}

/** What a subscriber that saw every message up to some sequence number has missed. */
export interface HistoryReplay<T> {
  /**
   * How many messages after the subscriber's last one are gone from the history (trimmed
   * by its limits) and cannot be replayed; 0 when nothing was lost.
   */
  readonly lost: number;
  /** The kept messages after the subscriber's last one, oldest first. */
  readonly entries: readonly HistoryEntry<T>[];
}

/**
 * The last messages of a topic, each with a sequence number (1, 2, 3, ...), in a ring of
 * at most `maxMessages` entries and `maxBytes` bytes.
 * @typeParam T - what is kept per message (an encoded event, say)
 */
export class TopicHistory<T> {
  private readonly maxMessages: number;
  private readonly maxBytes: number;
  /** A ring: `count` entries from `start`. */
  private readonly ring: (HistoryEntry<T> | undefined)[];
  private start = 0;
  private count = 0;
  private bytes = 0;
  private last = 0;

  /**
   * @throws RangeError when a limit is not a whole number from 0 up
   */
  constructor(limits: TopicHistoryLimits = {}) {
    this.maxMessages = limits.maxMessages ?? DEFAULT_HISTORY_MESSAGES;
    this.maxBytes = limits.maxBytes ?? DEFAULT_HISTORY_BYTES;
    for (const [name, value] of [
      ['maxMessages', this.maxMessages],
      ['maxBytes', this.maxBytes],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new RangeError(`${name} must be a whole number from 0 up, not ${value}`);
      }
    }
    this.ring = new Array<HistoryEntry<T> | undefined>(this.maxMessages);
  }

  /** The sequence number of the last message appended (0 before the first). */
  get lastSequence(): number {
    return this.last;
  }

  /** The sequence number of the oldest message kept (`lastSequence + 1` when none is). */
  get firstSequence(): number {
    return this.last - this.count + 1;
  }

  /** How many messages are kept. */
  get size(): number {
    return this.count;
  }

  /** How many bytes the kept messages were counted as. */
  get byteSize(): number {
    return this.bytes;
  }

  /**
   * Number a message and keep it, trimming the oldest ones to stay within the limits.
   * @param value - what to keep
   * @param size - its size in bytes, as counted against `maxBytes`
   * @returns its sequence number
   */
  append(value: T, size: number): number {
    const sequence = ++this.last;
    if (this.maxMessages === 0 || size > this.maxBytes) {
      this.clear(); // kept entries must stay contiguous up to the last sequence
      return sequence;
    }
    while (this.count > 0 && (this.count >= this.maxMessages || this.bytes + size > this.maxBytes)) {
      this.dropOldest();
    }
    this.ring[(this.start + this.count) % this.maxMessages] = { sequence, value, size };
    this.count++;
    this.bytes += size;
    return sequence;
  }

  /**
   * What comes after message `after` (the subscriber's last one; 0 for "from the
   * start"), or null when `after` is not a number this history handed out (above
   * {@link TopicHistory.lastSequence}, negative or not an integer): the subscriber's
   * numbering comes from elsewhere (another process, an earlier life of this topic).
   */
  since(after: number): HistoryReplay<T> | null {
    if (!Number.isSafeInteger(after) || after < 0 || after > this.last) return null;
    const first = this.firstSequence;
    const lost = Math.max(0, first - after - 1);
    const skip = Math.max(0, after + 1 - first);
    const entries: HistoryEntry<T>[] = [];
    for (let i = skip; i < this.count; i++) {
      entries.push(this.ring[(this.start + i) % this.maxMessages] as HistoryEntry<T>);
    }
    return { lost, entries };
  }

  private dropOldest(): void {
    const entry = this.ring[this.start] as HistoryEntry<T>;
    this.ring[this.start] = undefined;
    this.bytes -= entry.size;
    this.start = (this.start + 1) % this.maxMessages;
    this.count--;
  }

  private clear(): void {
    while (this.count > 0) this.dropOldest();
  }
}
