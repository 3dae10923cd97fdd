/**
 * Where sessions are kept between processes: the {@link SessionStore} contract and the
 * in-memory store. No Node built-ins.
 * @module
 */
import type { SessionSnapshot } from './core.js';

/** A session as a store keeps it: suspended, or checkpointed while linked. */
export interface StoredSession {
  /** The session's state and replay buffer. `snapshot.epoch` is its owner's epoch. */
  readonly snapshot: SessionSnapshot;
  /** When the resume window closes (ms since the epoch, on the server's clock). */
  readonly expiresAt: number;
  /** The topics the session is subscribed to (restored when it resumes). @defaultValue none */
  readonly topics?: readonly string[];
  /**
   * With a topic history: the position the session reached in each of its topics (it
   * catches up from there where it resumes). @defaultValue none
   */
  readonly positions?: Readonly<Record<string, number>>;
  /**
   * With a topic history that has them: the generation of each topic's log its position
   * counts in (see `TopicHistory.generation`). A session whose topic's log started again
   * since (another generation) cannot catch up without a gap: it is not resumed.
   * @defaultValue none
   */
  readonly generations?: Readonly<Record<string, string>>;
}

/**
 * How a link claims the session it asks to resume (see {@link SessionStore.take}). A
 * session is owned by one epoch at a time: the claim hands it from the epoch the client
 * presented to `newEpoch`, so that a process still holding the old epoch can no longer
 * write it.
 */
export interface SessionClaim {
  /** The epoch the client presented: only a copy of this epoch is taken. */
  readonly epoch: string;
  /** The epoch the session is kept under from now on (the taker's; may equal `epoch`). */
  readonly newEpoch: string;
  /**
   * Whether the kept state stays resumable under `newEpoch` (a server that checkpoints:
   * should it die, the next process resumes from that state), or only the epoch is kept,
   * as a mark of ownership with no state (a server that writes sessions when their link
   * breaks: its live sessions are not in the store, and a copy taken now would be stale).
   */
  readonly keepState: boolean;
  /** When the claimed entry expires (ms since the epoch, on the server's clock). */
  readonly expiresAt: number;
}

/** What {@link SessionStore.take} found. */
export type TakeResult =
  /**
   * The session was kept under the claim's epoch and now belongs to `newEpoch`. `session`
   * is the state that was kept (its `snapshot.epoch` the claim's `epoch`, its `expiresAt`
   * the kept one), or undefined if only a mark of ownership was kept (the state lived,
   * and died, in the process that owned it).
   */
  | { readonly status: 'taken'; readonly session: StoredSession | undefined }
  /** Nothing is kept under the id (never written, ended, or expired). */
  | { readonly status: 'missing' }
  /**
   * The session is kept under another epoch: it moved on since the client (or a process)
   * last saw it. Nothing changed.
   */
  | { readonly status: 'moved' };

/**
 * Keeps sessions for the processes that share it, with one owner per session: the epoch.
 * Every method may be asynchronous, so that a store can live in another process (Redis),
 * and each is atomic per session: `take` hands ownership from one epoch to the next, and
 * `put` and `delete` by the holder of an older epoch change nothing. Implementations run
 * the contract suite in `test/session/store-contract.ts`.
 */
export interface SessionStore {
  /**
   * Keep `session` until its `expiresAt`, unless the copy kept under its id has another
   * epoch than `session.snapshot.epoch` (the session was claimed by another epoch since:
   * this writer's copy is stale). `now` is the caller's clock (a store with a TTL keeps it
   * for `expiresAt - now`); a session already expired at `now` is deleted instead.
   * @returns false when a copy of another epoch is kept (nothing written), true otherwise
   */
  put(session: StoredSession, now: number): Promise<boolean>;
  /**
   * Claim session `id` for a link that presented `claim.epoch` (atomic: of two racing
   * claims of one epoch, one gets it and the other finds it moved). An entry expired at
   * `now` counts as missing.
   */
  take(id: string, now: number, claim: SessionClaim): Promise<TakeResult>;
  /**
   * Forget the session `id` (it ended): only if it is kept under `epoch`, when given.
   * Forgetting an unknown id is not an error.
   */
  delete(id: string, epoch?: string): Promise<void>;
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

/** One entry of the memory store: the owning epoch, and the state unless it is only a mark. */
interface Entry {
  readonly epoch: string;
  readonly expiresAt: number;
  readonly session: StoredSession | undefined;
}

/** The default store: a bounded map in this process. Sessions do not survive the process. */
export class MemorySessionStore implements SessionStore {
  private readonly entries = new Map<string, Entry>();
  private readonly maxSessions: number;

  /** @param options - see {@link MemorySessionStoreOptions} */
  constructor(options: MemorySessionStoreOptions = {}) {
    this.maxSessions = options.maxSessions ?? DEFAULT_MAX_STORED_SESSIONS;
    if (!Number.isInteger(this.maxSessions) || this.maxSessions < 1) {
      throw new RangeError('maxSessions must be a positive integer');
    }
  }

  /** How many sessions are kept now (marks of ownership included). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * The session states kept now, oldest write first (marks of ownership, which hold no
   * state, left out): what a process that saves its store to a file writes, say.
   */
  *sessions(): IterableIterator<StoredSession> {
    for (const entry of this.entries.values()) if (entry.session !== undefined) yield entry.session;
  }

  /** Whether the state of session `id` is kept (expired or not: {@link MemorySessionStore.expire} removes those). */
  has(id: string): boolean {
    return this.entries.get(id)?.session !== undefined;
  }

  /** Keep `session` unless another epoch holds it (see {@link SessionStore.put}); past `maxSessions`, the one kept longest is forgotten. */
  async put(session: StoredSession, now: number): Promise<boolean> {
    const { id, epoch } = session.snapshot;
    const kept = this.entries.get(id);
    if (kept !== undefined && kept.expiresAt > now && kept.epoch !== epoch) return false;
    if (session.expiresAt <= now) {
      this.entries.delete(id);
      return true;
    }
    this.set(id, { epoch, expiresAt: session.expiresAt, session });
    return true;
  }

  /** Claim session `id` (see {@link SessionStore.take}). */
  async take(id: string, now: number, claim: SessionClaim): Promise<TakeResult> {
    const kept = this.entries.get(id);
    if (kept === undefined || kept.expiresAt <= now) {
      this.entries.delete(id);
      return { status: 'missing' };
    }
    if (kept.epoch !== claim.epoch) return { status: 'moved' };
    const session = kept.session;
    const claimed =
      session !== undefined && claim.keepState
        ? { ...session, snapshot: { ...session.snapshot, epoch: claim.newEpoch }, expiresAt: claim.expiresAt }
        : undefined;
    this.set(id, { epoch: claim.newEpoch, expiresAt: claim.expiresAt, session: claimed });
    return { status: 'taken', session };
  }

  /** Forget session `id` if `epoch` (when given) holds it (see {@link SessionStore.delete}). */
  async delete(id: string, epoch?: string): Promise<void> {
    if (epoch === undefined || this.entries.get(id)?.epoch === epoch) this.entries.delete(id);
  }

  /** Remove and return every session expired at `now` (see {@link SessionStore.expire}). */
  async expire(now: number): Promise<StoredSession[]> {
    const expired: StoredSession[] = [];
    for (const [id, entry] of this.entries) {
      if (entry.expiresAt <= now) {
        if (entry.session !== undefined) expired.push(entry.session);
        this.entries.delete(id);
      }
    }
    return expired;
  }

  private set(id: string, entry: Entry): void {
    // Delete first so the Map's insertion order stays the order of writes.
    this.entries.delete(id);
    while (this.entries.size >= this.maxSessions) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    this.entries.set(id, entry);
  }
}
