/**
 * The sweep: one timer per server for every deadline of its connections (no timer per
 * socket). It watches the handshakes in progress (through its host), the close deadline
 * of each closing connection, the heartbeat (a ping every `pingInterval`, a terminate when
 * the pong is `pongTimeout` late) and, through its host, lifetimes and idle timeouts.
 *
 * The deadlines of each connection live here, in a map the sweep owns, not on the
 * connection: a `ServerWebSocket` tells its server when it starts closing and when a pong
 * arrives, and knows nothing of timers.
 * @internal
 */

/** Sweep resolution bounds: never busier than every 10 ms, never coarser than 1 s. */
const MIN_SWEEP_MS = 10;
const MAX_SWEEP_MS = 1000;

/**
 * How often to sweep for deadlines with these periods (ms): a quarter of the shortest, so
 * that a deadline fires at most a quarter of its period late, within 10 ms to 1 s.
 */
export function sweepPeriod(periods: readonly number[]): number {
  return Math.max(MIN_SWEEP_MS, Math.min(MAX_SWEEP_MS, Math.floor(Math.min(...periods) / 4)));
}

/** What the sweep does to a connection. */
export interface SweptConnection {
  readonly readyState: 'open' | 'closing' | 'closed';
  /** Send a heartbeat ping. */
  ping(): void;
  /** Drop the TCP connection now. */
  terminate(): void;
}

/** What the sweep asks of its server on each pass. */
export interface SweepHost<Conn> {
  /** Refuse the handshakes whose deadline is `now` or past. */
  expireHandshakes(now: number): void;
  /** Close `ws` if it is past its lifetime or idle timeout; whether it did. */
  expireConnection(ws: Conn, now: number): boolean;
  /** A pass is over (the server may find itself idle and stop the sweep). */
  swept(): void;
}

/** The timing settings of a sweep (ms). */
export interface SweepSettings {
  /** How often the sweep runs (see {@link sweepPeriod}). */
  readonly periodMs: number;
  /** Ping a connection this long after its last pong (or its opening); 0: no heartbeat. */
  readonly pingInterval: number;
  /** Terminate a connection whose pong is this late. */
  readonly pongTimeout: number;
  /** Terminate a closing connection whose peer has not closed TCP by then. */
  readonly closeTimeout: number;
}

/**
 * One timer for every deadline of a server's connections. It holds the connections whose
 * TCP connection is still there (open ones, and closed ones until the peer lets go), with
 * their deadlines; the timer runs only while there is something to watch.
 *
 * An idle connection costs one map entry (its next heartbeat); the two rarer states, a
 * ping awaiting its pong and a close awaiting the peer, have maps of their own, empty
 * most of the time (three fields on an object per connection cost ~50 bytes more).
 */
export class Sweep<Conn extends SweptConnection> {
  /** Every connection watched, and when its next heartbeat is due (or, awaiting a pong, when to give up). 0: never. */
  private readonly heartbeats = new Map<Conn, number>();
  /** Connections whose heartbeat ping is unanswered. */
  private readonly awaitingPong = new Set<Conn>();
  /** Closing connections, and when to drop their TCP connection if the peer has not. */
  private readonly closing = new Map<Conn, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly host: SweepHost<Conn>,
    private readonly settings: SweepSettings,
  ) {}

  /** How many connections are watched. */
  get size(): number {
    return this.heartbeats.size;
  }

  /** The connections watched. */
  connections(): IterableIterator<Conn> {
    return this.heartbeats.keys();
  }

  /** Watch a connection that opened at `now` (its first heartbeat is due a `pingInterval` later). */
  add(ws: Conn, now: number): void {
    this.heartbeats.set(ws, this.settings.pingInterval > 0 ? now + this.settings.pingInterval : 0);
    this.start();
  }

  /** Stop watching a connection (its TCP connection is gone). */
  delete(ws: Conn): void {
    this.heartbeats.delete(ws);
    this.awaitingPong.delete(ws);
    this.closing.delete(ws);
  }

  /** Stop watching every connection. */
  clear(): void {
    this.heartbeats.clear();
    this.awaitingPong.clear();
    this.closing.clear();
  }

  /** `ws` started closing at `now`: its TCP connection is dropped after `closeTimeout`. */
  startCloseDeadline(ws: Conn, now: number): void {
    if (this.heartbeats.has(ws)) this.closing.set(ws, now + this.settings.closeTimeout);
  }

  /** A pong arrived on `ws` at `now`: the next heartbeat is a `pingInterval` later. */
  pongReceived(ws: Conn, now: number): void {
    if (!this.heartbeats.has(ws)) return;
    this.awaitingPong.delete(ws);
    if (this.settings.pingInterval > 0) this.heartbeats.set(ws, now + this.settings.pingInterval);
  }

  /** Run the timer (if it is not running). */
  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.tick(Date.now()), this.settings.periodMs);
  }

  /** Stop the timer (an idle server holds none). */
  stop(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
  }

  /** One pass at `now`: what the timer runs (and tests, with a clock of their own). */
  tick(now: number): void {
    this.host.expireHandshakes(now);
    const { pingInterval, pongTimeout } = this.settings;
    const closing = this.closing;
    // A closing connection has its close deadline and nothing else.
    for (const [ws, closeAt] of closing) if (now >= closeAt) ws.terminate();
    for (const [ws, heartbeatAt] of this.heartbeats) {
      if (closing.size > 0 && closing.has(ws)) continue;
      if (this.host.expireConnection(ws, now)) continue;
      if (pingInterval === 0 || heartbeatAt === 0 || now < heartbeatAt) continue;
      if (this.awaitingPong.has(ws)) {
        ws.terminate(); // reported as 1006
      } else if (ws.readyState === 'open') {
        this.awaitingPong.add(ws);
        this.heartbeats.set(ws, now + pongTimeout);
        ws.ping();
      }
    }
    this.host.swept();
  }
}
