import type {
  ReplayEntry,
  SessionClaim,
  SessionSnapshot,
  SessionStore,
  StoredSession,
  TakeResult,
} from '@sockeye/sockeye/session';
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
   * outage fails and the client tries again later; commands issued in one turn of the
   * event loop go out in one write).
   */
  redis?: RedisOptions;
}

/** The version of the stored value's format. */
export const STORED_SESSION_VERSION = 1;

/*
 * Each session is a hash: `e` its owning epoch, `x` when it expires (ms, the servers'
 * clock, so that a server's `now` decides as in the memory store; the key's TTL is what
 * frees the memory), `d` its state (absent in a mark of ownership).
 */

/**
 * `put`: KEYS[1] the key; ARGV epoch, value, expiresAt, now, ttl (ms). Writes unless
 * another epoch owns the key and has not expired (0, nothing written); a ttl of 0 or
 * less deletes instead.
 */
const PUT = `
local kept = redis.call('HMGET', KEYS[1], 'e', 'x')
if kept[1] and kept[1] ~= ARGV[1] and tonumber(kept[2]) > tonumber(ARGV[4]) then return 0 end
if tonumber(ARGV[5]) <= 0 then
  redis.call('DEL', KEYS[1])
  return 1
end
redis.call('HSET', KEYS[1], 'e', ARGV[1], 'x', ARGV[3], 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`;

/**
 * `take`: KEYS[1] the key; ARGV epoch, new epoch, keep state ('1' or '0'), expiresAt,
 * now, ttl (ms). Hands the key from one epoch to the next; answers {'missing'},
 * {'moved'} or {'taken', value, expiresAt} (value '' when only a mark of ownership was
 * kept).
 */
const TAKE = `
local kept = redis.call('HMGET', KEYS[1], 'e', 'x', 'd')
if not kept[1] or tonumber(kept[2]) <= tonumber(ARGV[5]) then
  redis.call('DEL', KEYS[1])
  return {'missing'}
end
if kept[1] ~= ARGV[1] then return {'moved'} end
redis.call('HSET', KEYS[1], 'e', ARGV[2], 'x', ARGV[4])
if ARGV[3] ~= '1' then redis.call('HDEL', KEYS[1], 'd') end
if tonumber(ARGV[6]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
else
  redis.call('DEL', KEYS[1])
end
return {'taken', kept[3] or '', kept[2]}`;

/** `delete`: KEYS[1] the key; ARGV epoch ('' for any). */
const DELETE = `
if ARGV[1] == '' or redis.call('HGET', KEYS[1], 'e') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

/** The scripts, as ioredis custom commands. */
interface SessionCommands {
  sockeyeSessionPut(
    key: string,
    epoch: string,
    value: string,
    expiresAt: number,
    now: number,
    ttl: number,
  ): Promise<number>;
  sockeyeSessionTake(
    key: string,
    epoch: string,
    newEpoch: string,
    keepState: string,
    expiresAt: number,
    now: number,
    ttl: number,
  ): Promise<string[]>;
  sockeyeSessionDelete(key: string, epoch: string): Promise<number>;
}

/**
 * A {@link SessionStore} on Redis: a session that lost its link on one server process,
 * or whose process died (with checkpoints), can resume on any other process using the
 * same Redis and prefix. Each session is one hash (its owning epoch and its state) with
 * a TTL of its resume window; Redis expires it (`expire` returns nothing). `put`, `take`
 * and `delete` are small Lua scripts, so each checks the owning epoch and writes in one
 * atomic step: a stale process cannot overwrite a newer copy, and two links racing to
 * resume one session cannot both get it. Needs Redis 6.2 or later.
 */
export class RedisSessionStore implements SessionStore {
  /** The key prefix. */
  readonly prefix: string;
  private readonly redis: Redis & SessionCommands;

  /** Connects at once, in the background. @param options - see {@link RedisSessionStoreOptions} */
  constructor(options: RedisSessionStoreOptions = {}) {
    this.prefix = options.prefix ?? 'sockeye:session:';
    const redis = new Redis(options.url ?? 'redis://127.0.0.1:6379', {
      commandTimeout: 5000,
      maxRetriesPerRequest: 2,
      connectionName: 'sockeye-sessions',
      // A server checkpoints its changed sessions together: one write for the batch.
      enableAutoPipelining: true,
      ...options.redis,
    });
    redis.defineCommand('sockeyeSessionPut', { numberOfKeys: 1, lua: PUT });
    redis.defineCommand('sockeyeSessionTake', { numberOfKeys: 1, lua: TAKE });
    redis.defineCommand('sockeyeSessionDelete', { numberOfKeys: 1, lua: DELETE });
    this.redis = redis as Redis & SessionCommands;
    // Connection errors are retried by ioredis; commands that fail reject on their own.
    this.redis.on('error', () => {});
  }

  /** Write with a TTL of `expiresAt - now`, unless another epoch owns the session (see {@link SessionStore.put}). */
  async put(session: StoredSession, now: number): Promise<boolean> {
    const { id, epoch } = session.snapshot;
    const ttl = Math.ceil(session.expiresAt - now);
    const value = ttl > 0 ? encodeStoredSession(session) : '';
    const key = this.prefix + id;
    return (await this.redis.sockeyeSessionPut(key, epoch, value, session.expiresAt, now, ttl)) === 1;
  }

  /** Claim session `id` in one atomic step (see {@link SessionStore.take}). */
  async take(id: string, now: number, claim: SessionClaim): Promise<TakeResult> {
    const [status, value, expiresAt] = await this.redis.sockeyeSessionTake(
      this.prefix + id,
      claim.epoch,
      claim.newEpoch,
      claim.keepState ? '1' : '0',
      claim.expiresAt,
      now,
      Math.ceil(claim.expiresAt - now),
    );
    if (status === 'missing') return { status: 'missing' };
    if (status === 'moved') return { status: 'moved' };
    if (!value) return { status: 'taken', session: undefined };
    // The state as its owner wrote it, under the epoch and expiry that owned it until now
    // (a claim that kept the state changed those, not the value).
    const session = decodeStoredSession(value);
    return {
      status: 'taken',
      session: {
        ...session,
        snapshot: { ...session.snapshot, epoch: claim.epoch },
        expiresAt: Number(expiresAt),
      },
    };
  }

  /** Delete the session, if `epoch` (when given) owns it. */
  async delete(id: string, epoch?: string): Promise<void> {
    await this.redis.sockeyeSessionDelete(this.prefix + id, epoch ?? '');
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
    positions: session.positions ?? {},
    ...(session.generations === undefined ? {} : { generations: session.generations }),
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
  // Absent in values written before topic positions were kept.
  const positions = o.positions ?? {};
  if (
    typeof positions !== 'object' ||
    positions === null ||
    Array.isArray(positions) ||
    !Object.values(positions).every((p) => typeof p === 'number' && Number.isSafeInteger(p))
  ) {
    throw bad('positions');
  }
  // Absent in values written before topic generations were kept, or without any.
  const generations = o.generations ?? {};
  if (
    typeof generations !== 'object' ||
    generations === null ||
    Array.isArray(generations) ||
    !Object.values(generations).every((g) => typeof g === 'string')
  ) {
    throw bad('generations');
  }
  return {
    snapshot,
    expiresAt: num('expiresAt'),
    topics: o.topics as string[],
    ...(Object.keys(positions).length > 0 ? { positions: positions as Record<string, number> } : {}),
    ...(Object.keys(generations).length > 0 ? { generations: generations as Record<string, string> } : {}),
  };
}
