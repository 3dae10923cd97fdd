import type { ReplayEntry, SessionSnapshot, SessionStore, StoredSession } from '@sockeye/sockeye/session';
import { Redis, type RedisOptions } from 'ioredis';

/** Options of {@link RedisSessionStore}. */
export interface RedisSessionStoreOptions {
  /** The Redis to keep sessions in. @defaultValue `'redis://127.0.0.1:6379'` */
  url?: string;
  /** Prefix of the keys: session `id` is kept under `prefix + id`. @defaultValue `'sockeye:session:'` */
  prefix?: string;
  /**
   * ioredis options for the store's connection (merged over the store's defaults: a
   * command fails after 5 s rather than waiting for Redis forever, so a resume during an
   * outage fails and the client tries again later).
   */
  redis?: RedisOptions;
}

/** The version of the stored value's format. */
export const STORED_SESSION_VERSION = 1;

/**
 * A {@link SessionStore} on Redis: a session that lost its link on one server process
 * can resume on any other process using the same Redis and prefix. Each suspended
 * session is one string key with a TTL of its resume window (Redis expires it; `expire`
 * returns nothing), and `take` is `GETDEL`, so two links racing to resume one session
 * cannot both get it. Needs Redis 6.2 or later.
 */
export class RedisSessionStore implements SessionStore {
  /** The key prefix. */
  readonly prefix: string;
  private readonly redis: Redis;

  /** Connects at once, in the background. @param options - see {@link RedisSessionStoreOptions} */
  constructor(options: RedisSessionStoreOptions = {}) {
    this.prefix = options.prefix ?? 'sockeye:session:';
    this.redis = new Redis(options.url ?? 'redis://127.0.0.1:6379', {
      commandTimeout: 5000,
      maxRetriesPerRequest: 2,
      connectionName: 'sockeye-sessions',
      ...options.redis,
    });
    // Connection errors are retried by ioredis; commands that fail reject on their own.
    this.redis.on('error', () => {});
  }

  /** `SET` with a TTL of `expiresAt - now` (a `DEL` when that is not positive). */
  async put(session: StoredSession, now: number): Promise<void> {
    const key = this.prefix + session.snapshot.id;
    const ttl = Math.ceil(session.expiresAt - now);
    if (ttl <= 0) {
      await this.redis.del(key);
      return;
    }
    await this.redis.set(key, encodeStoredSession(session), 'PX', ttl);
  }

  /** `GETDEL`: atomic, so two racing resumes cannot both get the session. */
  async take(id: string, now: number): Promise<StoredSession | undefined> {
    const value = await this.redis.getdel(this.prefix + id);
    if (value === null) return undefined;
    const session = decodeStoredSession(value);
    return session.expiresAt > now ? session : undefined;
  }

  /** `DEL`. */
  async delete(id: string): Promise<void> {
    await this.redis.del(this.prefix + id);
  }

  /** Nothing to do: Redis expires the keys by their TTL. */
  async expire(_now: number): Promise<StoredSession[]> {
    return []; // Redis expires the keys by their TTL.
  }

  /** Close the connection to Redis. */
  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** A stored session as JSON: binary replay entries in base64. */
export function encodeStoredSession(session: StoredSession): string {
  const { snapshot } = session;
  return JSON.stringify({
    v: STORED_SESSION_VERSION,
    id: snapshot.id,
    epoch: snapshot.epoch,
    sent: snapshot.sent,
    received: snapshot.received,
    acknowledged: snapshot.acknowledged,
    written: snapshot.written,
    expiresAt: session.expiresAt,
    topics: session.topics ?? [],
    entries: snapshot.entries.map((entry) =>
      typeof entry.data === 'string'
        ? [entry.seq, entry.at, 't', entry.data]
        : [
            entry.seq,
            entry.at,
            'b',
            Buffer.from(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength).toString('base64'),
          ],
    ),
  });
}

/**
 * The stored session `value` holds.
 * @throws TypeError when it is not a stored session of this format
 */
export function decodeStoredSession(value: string): StoredSession {
  const bad = (what: string) => new TypeError(`not a stored session: ${what}`);
  const parsed: unknown = JSON.parse(value);
  if (typeof parsed !== 'object' || parsed === null) throw bad('not an object');
  const o = parsed as Record<string, unknown>;
  if (o.v !== STORED_SESSION_VERSION) throw bad(`version ${String(o.v)}`);
  const num = (name: string): number => {
    const n = o[name];
    if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw bad(name);
    return n;
  };
  const str = (name: string): string => {
    const s = o[name];
    if (typeof s !== 'string') throw bad(name);
    return s;
  };
  if (!Array.isArray(o.topics) || !o.topics.every((t) => typeof t === 'string')) throw bad('topics');
  if (!Array.isArray(o.entries)) throw bad('entries');
  const entries: ReplayEntry[] = o.entries.map((entry: unknown) => {
    if (!Array.isArray(entry) || entry.length !== 4) throw bad('entry');
    const [seq, at, kind, data] = entry as unknown[];
    if (typeof seq !== 'number' || typeof at !== 'number' || typeof data !== 'string') throw bad('entry');
    if (kind === 't') return { seq, at, data };
    if (kind === 'b') return { seq, at, data: new Uint8Array(Buffer.from(data, 'base64')) };
    throw bad('entry kind');
  });
  const snapshot: SessionSnapshot = {
    id: str('id'),
    epoch: str('epoch'),
    sent: num('sent'),
    received: num('received'),
    acknowledged: num('acknowledged'),
    written: num('written'),
    entries,
  };
  return { snapshot, expiresAt: num('expiresAt'), topics: o.topics as string[] };
}
