/**
 * The Reconnect page's socket (`/ws/reconnect?tab=<id>`): a resumable session that
 * ticks once a second (`{"type":"tick","n":…}`, numbered per session, so a gap or a
 * repeat shows) and echoes what the page sends (`{"type":"echo","text":…}`). Ticks go on
 * while the page is away: they wait in the session's replay buffer and arrive when it
 * resumes.
 *
 * The page's buttons break its own link from the server side (see `control.ts`): a
 * cut (the TCP connection destroyed) or a black hole (the connection kept open, nothing
 * read from or written to it any more, no FIN: a half-open link the page can only find by
 * its heartbeat). The page's `tab` parameter names the TCP connection to break.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { ServerStats } from '@sockeye/sockeye/server';
import { type ServerSession, SessionServer } from '@sockeye/sockeye/session/server';
import { DEMO_LIMITS } from './limits.js';
import type { DemoState } from './state.js';

/** Time between two ticks, in ms. */
export const TICK_INTERVAL = 1000;
/** Longest text the page may send, in characters. */
export const MAX_ECHO_LENGTH = 1000;
/** Most tabs whose connection is remembered for the buttons. */
const MAX_TABS = 1000;

/** A tab id: what the page makes up (letters, digits, `-` and `_`, at most 32). */
export function isTabId(value: string | null): value is string {
  return value !== null && /^[\w-]{1,32}$/.test(value);
}

/** Server to page on the Reconnect socket. */
export type ReconnectServerMessage =
  | { type: 'tick'; n: number; time: number }
  | { type: 'echo'; text: string }
  | { type: 'error'; reason: string };

/** The Reconnect page's session server, and the TCP connection behind each tab's link. */
export class ReconnectService {
  private readonly sessions: SessionServer<undefined>;
  private readonly tickers = new Map<string, ReturnType<typeof setInterval>>();
  /** The latest connection of each tab (for the buttons), oldest first. */
  private readonly sockets = new Map<string, Socket>();

  /** @param state - where the sessions and their tick counts wait across a restart */
  constructor(private readonly state: DemoState) {
    this.sessions = new SessionServer<undefined>({
      ...DEMO_LIMITS,
      noServer: true,
      maxPayload: 4 * MAX_ECHO_LENGTH + 16,
      // No server pings: a black-holed link must be found by the page's own heartbeat
      // (the server drops the stale link when the session resumes on a new one).
      pingInterval: 0,
      store: state.store,
      sessions: {
        open: (session) => this.start(session),
        resume: (session) => this.start(session),
        message: (session, data, isBinary) => this.receive(session, data, isBinary),
        close: (session, reason) => {
          this.stop(session.id);
          // 'shutdown': the session waits in the state for the next server.
          if (reason !== 'shutdown') this.state.ticks.delete(session.id);
        },
      },
    });
  }

  /** For the admin page. */
  get webSocketServer(): { stats(): ServerStats } {
    return this.sessions.server;
  }

  /** Take an upgrade to `/ws/reconnect`; `tab` names its connection for the buttons. */
  handleUpgrade(request: IncomingMessage, socket: Socket, head: Buffer): void {
    const tab = new URL(request.url ?? '/', 'http://localhost').searchParams.get('tab');
    if (isTabId(tab)) {
      this.sockets.delete(tab);
      this.sockets.set(tab, socket);
      if (this.sockets.size > MAX_TABS) this.sockets.delete(this.sockets.keys().next().value!);
      socket.once('close', () => {
        if (this.sockets.get(tab) === socket) this.sockets.delete(tab);
      });
    }
    void this.sessions.server.handleUpgrade(request, socket, head);
  }

  /**
   * Destroy the tab's connection: the page sees its link close without a close frame.
   * @returns false when the tab has no connection
   */
  cut(tab: string): boolean {
    const socket = this.take(tab);
    socket?.destroy();
    return socket !== undefined;
  }

  /**
   * Black-hole the tab's connection: keep it open, read nothing more from it, write
   * nothing more to it (what is written is dropped), send no FIN. The page cannot tell
   * until its heartbeat goes unanswered.
   * @returns false when the tab has no connection
   */
  blackhole(tab: string): boolean {
    const socket = this.take(tab);
    if (socket === undefined) return false;
    socket.pause();
    // Whatever would resume reading, or write, or end the connection, does nothing now.
    socket.resume = () => socket;
    socket.write = ((...args: unknown[]) => {
      const callback = args.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      if (callback !== undefined) queueMicrotask(callback);
      return true;
    }) as Socket['write'];
    socket.end = (() => socket) as Socket['end'];
    return true;
  }

  /** Close every link; the sessions wait in the state. */
  async close(): Promise<void> {
    await this.sessions.close({ code: 1012, reason: 'retry-after=1500', timeout: 2000 });
    for (const id of [...this.tickers.keys()]) this.stop(id);
  }

  private take(tab: string): Socket | undefined {
    const socket = this.sockets.get(tab);
    this.sockets.delete(tab);
    return socket;
  }

  private start(session: ServerSession<undefined>): void {
    if (this.tickers.has(session.id)) return;
    if (!this.state.ticks.has(session.id)) this.state.ticks.set(session.id, 0);
    const timer = setInterval(() => {
      if (session.state === 'closed') {
        this.stop(session.id);
        return;
      }
      const n = (this.state.ticks.get(session.id) ?? 0) + 1;
      this.state.ticks.set(session.id, n);
      const tick: ReconnectServerMessage = { type: 'tick', n, time: Date.now() };
      session.send(JSON.stringify(tick));
    }, TICK_INTERVAL);
    this.tickers.set(session.id, timer);
  }

  private stop(id: string): void {
    clearInterval(this.tickers.get(id));
    this.tickers.delete(id);
  }

  private receive(session: ServerSession<undefined>, data: string | Buffer, isBinary: boolean): void {
    const text = typeof data === 'string' ? data : data.toString('utf8');
    const answer: ReconnectServerMessage =
      isBinary || text.length > MAX_ECHO_LENGTH
        ? { type: 'error', reason: `send text of at most ${MAX_ECHO_LENGTH} characters` }
        : { type: 'echo', text };
    session.send(JSON.stringify(answer));
  }
}
