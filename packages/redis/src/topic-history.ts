import { randomBytes } from 'node:crypto';
import type {
  TopicHistory,
  TopicHistoryEntry,
  TopicHistoryRead,
  WireMessage,
} from '@sockeye/sockeye/session';
import { Redis, type RedisOptions } from 'ioredis';

/** Options of {@link RedisTopicHistory}. */
export interface RedisTopicHistoryOptions {
  /** The Redis to keep the history in. @defaultValue `'redis://127.0.0.1:6379'` */
  url?: string;
  /** Prefix of the keys (a stream, a counter and a generation per topic). @defaultValue `'sockeye:history:'` */
  prefix?: string;
  /** Most messages kept per topic; past it the oldest are trimmed. @defaultValue 10 000 */
  maxLength?: number;
  /**
   * A topic's history expires this long after its last publish, in ms (make it at least
   * the servers' resume window: a session away for longer is lost anyway).
   * @defaultValue 120 000
   */
  ttl?: number;
  /**
   * A topic's position (its counter, one small key) is kept this long after its last
   * publish, in ms, at least `ttl`: a topic whose messages expired goes on numbering from
   * where it was, so a session behind it is told exactly how many messages it missed.
   * Past it the topic numbers from 1 again (as after a restart of Redis without
   * persistence).
   * @defaultValue {@link DEFAULT_POSITION_TTL_MS}
   */
  positionTtl?: number;
  /** ioredis options for the history's two connections (one for commands, one for blocking reads). */
  redis?: RedisOptions;
}

/** Default of {@link RedisTopicHistoryOptions.positionTtl}: 24 hours. */
export const DEFAULT_POSITION_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * `append`: KEYS the stream, the counter and the generation; ARGV data, '1' for binary,
 * maxLength, ttl, the counter's ttl, a new generation id. The position is the counter, and
 * the stream entry's id is `0-<position>`, so that ids are the positions and a gap between
 * two ids counts exactly the messages trimmed. A log that starts (the counter was absent: a
 * new topic, one idle past `positionTtl`, a Redis that restarted empty) gets the new
 * generation id; the generation lives as long as the counter.
 */
const APPEND = `
local n = redis.call('INCR', KEYS[2])
if n == 1 then
  redis.call('SET', KEYS[3], ARGV[6])
else
  redis.call('SET', KEYS[3], ARGV[6], 'NX')
end
redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[3], '0-' .. n, 'd', ARGV[1], 'b', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('PEXPIRE', KEYS[3], ARGV[5])
return n`;

interface HistoryCommands {
  sockeyeHistoryAppend(
    stream: string,
    counter: string,
    generation: string,
    data: string | Buffer,
    binary: string,
    maxLength: number,
    ttl: number,
    positionTtl: number,
    newGeneration: string,
  ): Promise<number>;
}

/** One stream of an XREAD answer: its key, and its entries as [id, [field, value, ...]]. */
type XReadReply = [Buffer, [Buffer, Buffer[]][]][] | null;

/**
 * A {@link TopicHistory} on Redis Streams, shared by server processes: one stream per
 * topic, bounded in length (`MAXLEN`) and expired after `ttl` without a publish; the
 * positions come from a counter per topic, kept `positionTtl` (longer), so that a topic
 * whose messages expired goes on from where it was. Needs Redis 5 or later.
 */
export class RedisTopicHistory implements TopicHistory {
  /** The key prefix. */
  readonly prefix: string;
  private readonly maxLength: number;
  private readonly ttl: number;
  private readonly positionTtl: number;
  private readonly redis: Redis & HistoryCommands;
  /** Blocking reads hold their connection: they get one of their own. */
  private readonly reader: Redis;

  /** Connects at once, in the background. @param options - see {@link RedisTopicHistoryOptions} */
  constructor(options: RedisTopicHistoryOptions = {}) {
    this.prefix = options.prefix ?? 'sockeye:history:';
    this.maxLength = options.maxLength ?? 10_000;
    this.ttl = options.ttl ?? 120_000;
    if (!Number.isInteger(this.maxLength) || this.maxLength < 1) {
      throw new RangeError('maxLength must be a positive integer');
    }
    if (!(this.ttl >= 1)) throw new RangeError('ttl must be at least 1 ms');
    this.positionTtl = options.positionTtl ?? Math.max(DEFAULT_POSITION_TTL_MS, this.ttl);
    if (!(this.positionTtl >= this.ttl)) throw new RangeError('positionTtl must be at least ttl');
    const redisOptions: RedisOptions = {
      commandTimeout: 5000,
      maxRetriesPerRequest: 2,
      connectionName: 'sockeye-history',
      enableAutoPipelining: true,
      ...options.redis,
    };
    const redis = new Redis(options.url ?? 'redis://127.0.0.1:6379', redisOptions);
    redis.defineCommand('sockeyeHistoryAppend', { numberOfKeys: 3, lua: APPEND });
    this.redis = redis as Redis & HistoryCommands;
    this.reader = new Redis(options.url ?? 'redis://127.0.0.1:6379', {
      ...redisOptions,
      enableAutoPipelining: false,
      connectionName: 'sockeye-history-reader',
    });
    // Connection errors are retried by ioredis; commands that fail reject on their own.
    this.redis.on('error', () => {});
    this.reader.on('error', () => {});
  }

  /** Append (see {@link TopicHistory.append}). */
  async append(topic: string, data: WireMessage): Promise<number> {
    const binary = typeof data !== 'string';
    const value = binary ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : data;
    return this.redis.sockeyeHistoryAppend(
      this.streamKey(topic),
      this.counterKey(topic),
      this.generationKey(topic),
      value,
      binary ? '1' : '0',
      this.maxLength,
      this.ttl,
      this.positionTtl,
      randomBytes(12).toString('base64url'),
    );
  }

  /** The generation of `topic`'s log ('' when it has none; see {@link TopicHistory.generation}). */
  async generation(topic: string): Promise<string> {
    return (await this.redis.get(this.generationKey(topic))) ?? '';
  }

  /** The counter of `topic` (0 when it has none). */
  async last(topic: string): Promise<number> {
    return Number((await this.redis.get(this.counterKey(topic))) ?? 0);
  }

  /** `XREAD` (with `BLOCK` on the reader's connection when `waitMs` is given). */
  async read(
    after: ReadonlyMap<string, number>,
    limit: number,
    waitMs = 0,
  ): Promise<Map<string, TopicHistoryRead>> {
    const found = new Map<string, TopicHistoryRead>();
    if (after.size === 0) return found;
    const keys = [...after.keys()].map((topic) => this.streamKey(topic));
    const ids = [...after.values()].map((position) => `0-${position}`);
    // The typed overloads do not take COUNT and BLOCK together: the arguments go as they are.
    const xread = (redis: Redis, ...args: (string | number)[]) =>
      (redis.xreadBuffer as (...args: (string | number)[]) => Promise<XReadReply>).apply(redis, args);
    const reply =
      waitMs > 0
        ? await xread(this.reader, 'COUNT', limit, 'BLOCK', waitMs, 'STREAMS', ...keys, ...ids)
        : await xread(this.redis, 'COUNT', limit, 'STREAMS', ...keys, ...ids);
    const streamPrefix = `${this.prefix}s:`;
    for (const [key, items] of reply ?? []) {
      const topic = key.toString().slice(streamPrefix.length);
      const position = after.get(topic);
      if (position === undefined) continue;
      const entries: TopicHistoryEntry[] = items.map(([id, fields]) => {
        const entry = new Map<string, Buffer>();
        for (let i = 0; i + 1 < fields.length; i += 2) entry.set(fields[i]!.toString(), fields[i + 1]!);
        const bytes = entry.get('d') ?? Buffer.alloc(0);
        return {
          position: Number(id.toString().split('-')[1]),
          data: entry.get('b')?.toString() === '1' ? new Uint8Array(bytes) : bytes.toString(),
        };
      });
      const first = entries[0]?.position;
      found.set(topic, { entries, lost: first === undefined ? 0 : Math.max(0, first - position - 1) });
    }
    if (found.size > 0) {
      // Read after the entries: if the log restarted between the two, the generation is
      // the new one and the reader starts over, never taking old entries for new ones.
      const topics = [...found.keys()];
      const generations = await this.redis.mget(topics.map((topic) => this.generationKey(topic)));
      for (const [i, topic] of topics.entries()) {
        found.set(topic, { ...found.get(topic)!, generation: generations[i] ?? '' });
      }
    }
    return found;
  }

  /** Close both connections. */
  async close(): Promise<void> {
    this.reader.disconnect();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private generationKey(topic: string): string {
    return `${this.prefix}g:${topic}`;
  }

  private streamKey(topic: string): string {
    return `${this.prefix}s:${topic}`;
  }

  private counterKey(topic: string): string {
    return `${this.prefix}n:${topic}`;
  }
}
