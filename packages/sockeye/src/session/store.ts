/**
 * Where suspended sessions wait for a link to resume them: the {@link SessionStore}
 * contract and the in-memory store. No Node built-ins.
 * @module
 */
import type { SessionSnapshot } from './core.js';

/** A suspended session as a store keeps it. */
export interface StoredSession {
  /** The session's state and replay buffer. */
  readonly snapshot: SessionSnapshot;
  /** When the resume window closes (ms since the epoch, on the server's clock). */
  readonly expiresAt: number;
  /** The topics the session is subscribed to (restored when it resumes). @defaultValue none */
  readonly topics?: readonly string[];
}

/**
 * Keeps suspended sessions until they resume or their resume window closes. Every method
 * may be asynchronous, so that a store can live in another process (Redis); `take` must
 * be atomic (two links racing to resume one session: only one gets it). Implementations
 * run the contract suite in `test/session/store-contract.ts`.
 */
export interface SessionStore {
  /**
   * Keep `session` until its `expiresAt`, replacing any kept under the same id. `now` is
   * the caller's clock (a store with a TTL keeps it for `expiresAt - now`); a session
   * already expired at `now` need not be kept.
   */
  put(session: StoredSession, now: number): Promise<void>;
  /** Remove and return the session `id` if it is kept and not expired at `now`. */
  take(id: string, now: number): Promise<StoredSession | undefined>;
  /** Forget the session `id` (it ended). Forgetting an unknown id is not an error. */
  delete(id: string): Promise<void>;
  /**
   * Remove and return the sessions expired at `now`, so the server can tell the
   * application. A store that expires entries by itself (a TTL) may return none.
   */
  expire(now: number): Promise<StoredSession[]>;
}

/** Options of {@link MemorySessionStore}. */
export interface MemorySessionStoreOptions {
  /**
   * Most sessions kept. Past it, the one kept longest is forgotten (as if it had
   * expired: its client gets a new session when it comes back).
   * @defaultValue 100 000
   */
  maxSessions?: number;
}

/** Default of {@link MemorySessionStoreOptions.maxSessions}. */
export const DEFAULT_MAX_STORED_SESSIONS = 100_000;

/** The default store: a bounded map in this process. Sessions do not survive the process. */
export class MemorySessionStore implements SessionStore {
  private readonly sessions = new Map<string, StoredSession>();
  private readonly maxSessions: number;

  /** @param options - see {@link MemorySessionStoreOptions} */
  constructor(options: MemorySessionStoreOptions = {}) {
    this.maxSessions = options.maxSessions ?? DEFAULT_MAX_STORED_SESSIONS;
    if (!Number.isInteger(this.maxSessions) || this.maxSessions < 1) {
      throw new RangeError('maxSessions must be a positive integer');
    }
  }

  /** How many sessions are kept now. */
  get size(): number {
    return this.sessions.size;
  }

  /** Keep `session` (see {@link SessionStore.put}); past `maxSessions`, the one kept longest is forgotten. */
  async put(session: StoredSession, _now?: number): Promise<void> {
    const id = session.snapshot.id;
    // Delete first so the Map's insertion order stays the order of `put`s.
    this.sessions.delete(id);
    while (this.sessions.size >= this.maxSessions) {
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
    }
    this.sessions.set(id, session);
  }

  /** Remove and return session `id` unless it expired at `now` (see {@link SessionStore.take}). */
  async take(id: string, now: number): Promise<StoredSession | undefined> {
    const session = this.sessions.get(id);
    if (session === undefined) return undefined;
    this.sessions.delete(id);
    return session.expiresAt > now ? session : undefined;
  }

  /** Forget session `id` (see {@link SessionStore.delete}). */
  async delete(id: string): Promise<void> {
    this.sessions.delete(id);
  }

  /** Remove and return every session expired at `now` (see {@link SessionStore.expire}). */
  async expire(now: number): Promise<StoredSession[]> {
    const expired: StoredSession[] = [];
    for (const [id, session] of this.sessions) {
      if (session.expiresAt <= now) {
        expired.push(session);
        this.sessions.delete(id);
      }
    }
    return expired;
  }
}
