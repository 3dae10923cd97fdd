/**
 * Per-(publisher, topic) sequence numbers: the publisher numbers its messages to each
 * topic 1, 2, 3, ... and a subscriber that sees 7 after 4 knows it missed two. Building
 * blocks for brokers whose transport can lose messages (Redis pub/sub); both are bounded
 * so that many topics or many short-lived publishers cannot grow memory without limit.
 * @module
 */

/** Default for how many topics a {@link SequenceCounter} or {@link GapDetector} tracks. */
export const DEFAULT_MAX_TRACKED_TOPICS = 100_000;

/**
 * Hands out a publisher's sequence numbers, one counter per topic. At most `maxTopics`
 * counters are kept; past that the oldest counter is forgotten and that topic starts
 * again at 1, which subscribers take as a publisher restart (see {@link GapDetector}),
 * not as a loss.
 */
export class SequenceCounter {
  private readonly counters = new Map<string, number>();

  /** @param maxTopics - most topics to keep a counter for (default {@link DEFAULT_MAX_TRACKED_TOPICS}) */
  constructor(private readonly maxTopics = DEFAULT_MAX_TRACKED_TOPICS) {}

  /** The next sequence number for `topic` (1 for the first). */
  next(topic: string): number {
    const previous = this.counters.get(topic);
    if (previous === undefined && this.counters.size >= this.maxTopics) {
      // Map iterates in insertion order: the first key is the oldest counter.
      const oldest = this.counters.keys().next().value;
      if (oldest !== undefined) this.counters.delete(oldest);
    }
    const sequence = (previous ?? 0) + 1;
    this.counters.set(topic, sequence);
    return sequence;
  }

  /** How many topics have a counter now. */
  get size(): number {
    return this.counters.size;
  }
}

/**
 * Tells a subscriber how many messages it missed, from the sequence numbers it sees per
 * (topic, publisher). The first message from a publisher on a topic sets the baseline
 * (nothing before it was owed: the subscription may be newer than the publisher). A
 * number that does not go up means the publisher restarted (or forgot its counter):
 * the baseline resets and nothing is reported. At most `maxEntries` (topic, publisher)
 * pairs are remembered; past that the oldest is forgotten (a gap that spans its return
 * goes unnoticed; nothing false is reported).
 */
export class GapDetector {
  private readonly topics = new Map<string, Map<string, number>>();
  private entries = 0;

  /** @param maxEntries - most (topic, publisher) pairs to remember (default {@link DEFAULT_MAX_TRACKED_TOPICS}) */
  constructor(private readonly maxEntries = DEFAULT_MAX_TRACKED_TOPICS) {}

  /**
   * Record that message `sequence` from `publisher` on `topic` arrived.
   * @returns how many messages before it never arrived (0 when none)
   */
  observe(topic: string, publisher: string, sequence: number): number {
    const publishers = this.topics.get(topic);
    const last = publishers?.get(publisher);
    if (publishers === undefined || last === undefined) {
      if (this.entries >= this.maxEntries) this.evictOldest();
      // Look the map up again: eviction may have removed this topic's map.
      let map = this.topics.get(topic);
      if (map === undefined) {
        map = new Map();
        this.topics.set(topic, map);
      }
      map.set(publisher, sequence);
      this.entries++;
      return 0;
    }
    publishers.set(publisher, sequence);
    return sequence > last ? sequence - last - 1 : 0;
  }

  /** Forget everything about `topic` (call it on unsubscribe: what comes later owes nothing). */
  forget(topic: string): void {
    const publishers = this.topics.get(topic);
    if (publishers === undefined) return;
    this.entries -= publishers.size;
    this.topics.delete(topic);
  }

  /** How many (topic, publisher) pairs are remembered now. */
  get size(): number {
    return this.entries;
  }

  private evictOldest(): void {
    for (const [topic, publishers] of this.topics) {
      const oldest = publishers.keys().next().value;
      if (oldest !== undefined) {
        publishers.delete(oldest);
        this.entries--;
      }
      if (publishers.size === 0) this.topics.delete(topic);
      return;
    }
  }
}
