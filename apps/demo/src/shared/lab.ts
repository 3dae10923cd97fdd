/**
 * The transport lab: one message stream carried by five transports, measured side by
 * side. Shared by the lab's server endpoints (`server/lab.ts`) and its page
 * (`browser/lab.ts`): the paths, the transports, the limits, the message and the
 * statistics, and the latency percentile.
 *
 * The lab's endpoints are its own, deliberately simple: a short poll is a GET answered at
 * once, a long poll a GET held until there is something, SSE one `text/event-stream`
 * response, WebSocket one connection (with and without permessage-deflate). They compare
 * the transports themselves, not a session protocol built on them.
 */

/** The transports, in the order the lab runs them. */
export const LAB_TRANSPORTS = ['short-poll', 'long-poll', 'sse', 'websocket', 'websocket-deflate'] as const;
/** One of {@link LAB_TRANSPORTS}. */
export type LabTransport = (typeof LAB_TRANSPORTS)[number];

/** What each transport is called on the page. */
export const LAB_TRANSPORT_NAMES: Readonly<Record<LabTransport, string>> = {
  'short-poll': 'Short polling',
  'long-poll': 'Long polling',
  sse: 'Server-Sent Events',
  websocket: 'WebSocket',
  'websocket-deflate': 'WebSocket + deflate',
};

/** Where the lab's endpoints are. */
export const LAB_PATHS = {
  /** `POST ?transport=&count=&interval=`: a new run, answered `{ id }`. */
  run: '/lab/run',
  /** `POST ?id=`: the server starts emitting the run's messages. */
  start: '/lab/start',
  /** `GET ?id=`: the run's {@link LabServerStats}. */
  stats: '/lab/stats',
  /** `GET`: the server's clock, `{ now }` (ms), for the page's offset estimate. */
  clock: '/lab/clock',
  /** `GET ?id=&after=`: the messages after `after`, at once (maybe none). */
  poll: '/lab/poll',
  /** `GET ?id=&after=`: the messages after `after`, held until there is one (or the hold time passes). */
  longPoll: '/lab/long-poll',
  /** `GET ?id=`: the messages as Server-Sent Events. */
  sse: '/lab/sse',
  /** WebSocket `?id=`: the messages as text messages, no compression. */
  websocket: '/lab/ws',
  /** WebSocket `?id=`: the same with permessage-deflate (context takeover, no threshold). */
  websocketDeflate: '/lab/ws-deflate',
} as const;

/** Bounds of the lab's endpoints: it is a public page, so everything a visitor asks for is bounded. */
export const LAB_LIMITS = {
  /** Most messages in a run. */
  maxCount: 1000,
  /** Shortest interval between messages, ms. */
  minInterval: 5,
  /** Longest interval between messages, ms. */
  maxInterval: 5000,
  /** Runs kept at once; past it the oldest is dropped (its connections closed). */
  maxRuns: 64,
  /** A run is dropped this long after it was made, ms. */
  runLifetime: 10 * 60_000,
  /** Longest a long poll is held before it is answered empty, ms. */
  longPollHold: 25_000,
  /** Long polls waiting at once on one run (more are answered 429). */
  maxWaitingPolls: 4,
  /** SSE streams or WebSockets open at once on one run (more are answered 429). */
  maxStreams: 4,
} as const;

/** One message of the stream, as JSON. `sentAt` is the server's clock when it was made (ms). */
export interface LabMessage {
  seq: number;
  sentAt: number;
  symbol: string;
  price: number;
  note: string;
}

/** What the server counted for a run's transport requests, headers and framing included. */
export interface LabServerStats {
  transport: LabTransport;
  /** Messages emitted so far. */
  emitted: number;
  /** HTTP requests made for the transport (a WebSocket's upgrade counts one). */
  requests: number;
  /** TCP connections those requests came on. */
  connections: number;
  /** Bytes received from the browser: request lines, headers, bodies, frames. */
  bytesIn: number;
  /** Bytes sent to the browser: status lines, headers, bodies, chunk framing, frames. */
  bytesOut: number;
}

/** The `p`-th percentile (0 to 100) of `values`, nearest rank; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}
