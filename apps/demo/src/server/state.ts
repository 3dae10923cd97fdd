/**
 * What the demo keeps across a restart of its server: the suspended sessions (replay
 * buffers, topics), who each chat session is, and the chat's recent lines. It lives in
 * memory and goes to one JSON file when the server closes; the next server on the same
 * file (`stateFile`) reads it back, so the pages' sessions resume there with nothing
 * lost. A process killed without closing writes nothing: its clients get new sessions.
 *
 * One file per demo, for one process at a time: sessions across processes use a shared
 * store (`RedisSessionStore` from `@sockeye/redis`), not this.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { decodeStoredSession, encodeStoredSession } from '@sockeye/redis';
import { MemorySessionStore, type StoredSession } from '@sockeye/sockeye/session';
import type { ChatLine } from '../shared/chat.js';

/** Most suspended sessions kept (a bound on what clients can make the demo hold). */
export const MAX_KEPT_SESSIONS = 10_000;
/** Chat lines kept for history. */
export const HISTORY_LINES = 100;
/** Largest state file read, in bytes (a bigger one is ignored). */
export const MAX_STATE_BYTES = 64 << 20;

/** What the file holds. */
interface StateFile {
  v: 1;
  sessions: string[];
  chatNames: Array<[string, string]>;
  history: ChatLine[];
  ticks: Array<[string, number]>;
}

/**
 * The suspended sessions of every demo socket (one store for all: ids are random), kept
 * in memory, bounded, and written to the state file at close: a {@link MemorySessionStore}
 * (the same ownership rules as every store) with the demo's bound.
 */
export class DemoSessionStore extends MemorySessionStore {
  constructor() {
    super({ maxSessions: MAX_KEPT_SESSIONS });
  }

  /** The session states kept now, for the state file. */
  values(): IterableIterator<StoredSession> {
    return this.sessions();
  }
}

/** The demo's state across restarts. */
export class DemoState {
  /** Suspended sessions. */
  readonly store = new DemoSessionStore();
  /** Chat session id to the name it joined with. */
  readonly chatNames = new Map<string, string>();
  /** The chat's latest lines, oldest first (at most {@link HISTORY_LINES}). */
  readonly history: ChatLine[] = [];
  /** Lines added since this state was made or read (a count, not kept in the file). */
  linesAdded = 0;
  /** Reconnect page session id to its last tick's number. */
  readonly ticks = new Map<string, number>();

  /** @param file - where the state is read from and written to; undefined: memory only */
  constructor(readonly file?: string) {}

  /**
   * Read the state file, if there is one. A missing, oversized or unreadable file is an
   * empty state (reported on stderr when it exists but cannot be used).
   */
  load(now = Date.now()): this {
    if (this.file === undefined) return this;
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return this; // no file yet
    }
    try {
      this.parse(text, now);
    } catch (error) {
      console.error(`sockeye demo: ignoring the state file ${this.file}: ${(error as Error).message}`);
    }
    return this;
  }

  /**
   * Read state written by {@link DemoState.toText} (what a restart in the same process
   * does, through the same format as the file).
   * @throws Error for text that is not the demo's state
   */
  parse(text: string, now = Date.now()): this {
    if (text.length > MAX_STATE_BYTES) throw new Error('too large');
    const parsed = JSON.parse(text) as Partial<StateFile>;
    if (parsed.v !== 1) throw new Error('unknown version');
    for (const encoded of parsed.sessions ?? []) {
      const session = decodeStoredSession(encoded);
      if (session.expiresAt > now) void this.store.put(session, now);
    }
    // Only for the sessions still in their resume window.
    for (const [id, name] of parsed.chatNames ?? []) {
      if (typeof name === 'string' && this.store.has(id)) this.chatNames.set(id, name);
    }
    for (const line of (parsed.history ?? []).slice(-HISTORY_LINES)) {
      if (typeof line?.from === 'string' && typeof line.text === 'string' && typeof line.time === 'number') {
        this.history.push({ type: 'message', from: line.from, text: line.text, time: line.time });
      }
    }
    for (const [id, n] of parsed.ticks ?? []) {
      if (Number.isSafeInteger(n) && this.store.has(id)) this.ticks.set(id, n);
    }
    return this;
  }

  /** Remember a chat line (the oldest goes past {@link HISTORY_LINES}). */
  addLine(line: ChatLine): void {
    this.history.push(line);
    this.linesAdded++;
    if (this.history.length > HISTORY_LINES) this.history.shift();
  }

  /** The state as the file holds it. */
  toText(): string {
    const state: StateFile = {
      v: 1,
      sessions: [...this.store.values()].map(encodeStoredSession),
      chatNames: [...this.chatNames],
      history: this.history,
      ticks: [...this.ticks],
    };
    return JSON.stringify(state);
  }

  /** Write the state file (atomically: a temporary file renamed over it). */
  save(): void {
    if (this.file === undefined) return;
    mkdirSync(dirname(this.file), { recursive: true });
    const temporary = `${this.file}.${process.pid}.tmp`;
    writeFileSync(temporary, this.toText());
    renameSync(temporary, this.file);
  }
}
