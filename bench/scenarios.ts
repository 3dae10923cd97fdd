/**
 * The benchmark's scenarios, as data. Each one is a load generator invocation plus the
 * metrics to tabulate and, where issue 3 sets one, the target ratio to `ws`+bufferutil.
 *
 * To add a scenario family, add a function here that returns more {@link Scenario}s and
 * list it in bench/run.ts; if it needs a new kind of load, add a mode to bench/loadgen
 * (its JSON line then carries the new metric, named in {@link MetricName}). The families
 * the roadmap asks for:
 * - compression (issue 5): a `-deflate` flag in the generator (Go's compress/flate speaks
 *   permessage-deflate's raw DEFLATE) and 16 KiB JSON-like payloads instead of the letter
 *   pattern; the server entries enable permessage-deflate when started with `--deflate`.
 * - pub/sub fan-out (issue 7): a `fanout` mode (N subscribers, one publisher, delivery
 *   latency and messages delivered per second) against a `/broadcast` path of each entry.
 * - the client benchmark (issue 4): the roles swap: a `serve` mode makes the generator a
 *   fast echo server, and the rows become client entries (bench/clients/: sockeye, `ws`,
 *   Node's built-in WebSocket) that run a fixed load and print the same JSON line.
 */

/** A number the table shows, from one load generator result. */
export type MetricName =
  | 'msgsPerSec'
  | 'mbPerSec'
  | 'perServerCpuSecond'
  | 'p50us'
  | 'p99us'
  | 'handshakesPerSec'
  | 'rssPerConnKiB'
  | 'fanoutMs'
  | 'cpuMsPerPublish'
  | 'echoWireBytes';

/** How to show a metric and which way is better. */
export interface MetricInfo {
  /** Column heading / unit. */
  unit: string;
  /** Whether a larger value is better (throughput) or a smaller one (latency, memory). */
  higherIsBetter: boolean;
}

/** Every metric's unit and direction. */
export const METRICS: Record<MetricName, MetricInfo> = {
  msgsPerSec: { unit: 'msg/s', higherIsBetter: true },
  mbPerSec: { unit: 'MB/s', higherIsBetter: true },
  // Messages (or handshakes) per second of server CPU time: the server's cost per message,
  // which stays meaningful when other jobs take part of the server's core.
  perServerCpuSecond: { unit: 'per server CPU-s', higherIsBetter: true },
  p50us: { unit: 'p50 µs', higherIsBetter: false },
  p99us: { unit: 'p99 µs', higherIsBetter: false },
  handshakesPerSec: { unit: 'handshakes/s', higherIsBetter: true },
  rssPerConnKiB: { unit: 'KiB RSS/conn', higherIsBetter: false },
  fanoutMs: { unit: 'ms to all (median)', higherIsBetter: false },
  cpuMsPerPublish: { unit: 'server CPU ms/publish', higherIsBetter: false },
  // Mean compressed size of an echo on the wire (permessage-deflate scenarios).
  echoWireBytes: { unit: 'B/echo on the wire', higherIsBetter: false },
};

/**
 * A target from issue 3: sockeye's value over the baseline's must be at least `ratio`
 * (for higher-is-better metrics) or at most `ratio` (for lower-is-better ones).
 */
export interface Target {
  metric: MetricName;
  ratio: number;
  /** The sentence in the issue this comes from. */
  text: string;
  /** The row the ratio is taken against. @defaultValue the baseline, ws+native */
  against?: string;
}

/** One cell of the benchmark: a load generator run against every server. */
export interface Scenario {
  /** Stable id, matched by `--only`. */
  id: string;
  /** What a reader sees in the table. */
  label: string;
  /** The load generator's mode. */
  mode: 'echo' | 'latency' | 'handshake' | 'idle' | 'fanout';
  /** Extra load generator flags (besides -url, -mode, -duration, -warmup). */
  args: string[];
  /** The metrics to show, in order. */
  metrics: MetricName[];
  /** Issue 3 targets for this cell, if any. */
  targets: Target[];
  /** Part of the `--quick` subset. */
  quick: boolean;
  /**
   * Seconds of warm-up and of measurement when the defaults are too short (a cell where
   * one round of messages takes seconds). Never shortened by `--quick`'s defaults.
   */
  timing?: { warmupS: number; durationS: number };
  /** Only in the `--quick` subset (a cheaper stand-in for a full-run cell). */
  quickOnly?: boolean;
  /**
   * Flags for a server started just for this scenario (e.g. `--deflate`); entries that
   * cannot take them (`ServerSpec.compression === false`) are left out of the cell.
   */
  serverArgs?: string[];
  /**
   * Fan-out across two server processes on one Redis (rows whose fan-out server takes
   * `--redis`): the publisher on the first, subscribers spread over both.
   */
  redis?: boolean;
}

const SIZES = [
  { bytes: 32, name: '32 B' },
  { bytes: 1024, name: '1 KiB' },
  { bytes: 64 * 1024, name: '64 KiB' },
  { bytes: 1024 * 1024, name: '1 MiB' },
] as const;
const CONNECTIONS = [1, 64, 1000] as const;

/**
 * Messages in flight per connection in the throughput scenarios: enough to keep a server
 * busy without queueing more than about 64 MiB in total (1 GiB for the 1 MiB x 1,000 cell,
 * where one message per connection is already that much).
 */
function windowFor(bytes: number, connections: number): number {
  if (bytes <= 1024) return connections === 1 ? 128 : connections === 64 ? 16 : 2;
  if (bytes <= 64 * 1024) return connections === 1 ? 16 : connections === 64 ? 4 : 1;
  return connections === 1 ? 4 : 1;
}

/** 1 MiB to each of 1,000 connections is a 1 GiB round: give it time for several rounds. */
function slowCell(bytes: number, connections: number): Pick<Scenario, 'timing'> {
  return bytes * connections >= 1024 * 1024 * 1000 ? { timing: { warmupS: 2, durationS: 6 } } : {};
}

function throughputTargets(bytes: number, connections: number): Target[] {
  if (connections === 1000) {
    return [{ metric: 'msgsPerSec', ratio: 2, text: '1,000 connections: at least 2x ws' }];
  }
  if (bytes <= 1024) {
    return [
      {
        metric: 'msgsPerSec',
        ratio: 4,
        text: 'small pipelined messages, 1 and 64 connections: at least 4x ws',
      },
    ];
  }
  return [{ metric: 'mbPerSec', ratio: 1, text: '64 KiB and 1 MiB: at least ws+bufferutil' }];
}

const QUICK = new Set(['echo-32B-c1', 'echo-32B-c64', 'echo-1KiB-c64', 'echo-64KiB-c1', 'latency-32B-c1']);

/** The server benchmark of issue 3, item 6. */
export function serverScenarios(): Scenario[] {
  const scenarios: Scenario[] = [];
  for (const size of SIZES) {
    for (const connections of CONNECTIONS) {
      const tag = `${size.name.replace(' ', '')}-c${connections}`;
      const window = windowFor(size.bytes, connections);
      scenarios.push({
        id: `echo-${tag}`,
        label: `echo ${size.name} x ${connections} conn, ${window} in flight`,
        mode: 'echo',
        args: ['-size', String(size.bytes), '-conns', String(connections), '-window', String(window)],
        metrics: ['msgsPerSec', 'mbPerSec', 'perServerCpuSecond'],
        targets: throughputTargets(size.bytes, connections),
        quick: QUICK.has(`echo-${tag}`),
        ...slowCell(size.bytes, connections),
      });
    }
  }
  // Low depth: one or two messages in flight per connection, so each echo waits for the one
  // before it (request/response traffic); a server's per-message latency shows, not its
  // batching.
  for (const window of [1, 2]) {
    scenarios.push({
      id: `echo-16KiB-c64-w${window}`,
      label: `echo 16 KiB x 64 conn, ${window} in flight`,
      mode: 'echo',
      args: ['-size', String(16 * 1024), '-conns', '64', '-window', String(window)],
      metrics: ['msgsPerSec', 'mbPerSec', 'perServerCpuSecond'],
      targets: [
        { metric: 'msgsPerSec', ratio: 1, text: 'low depth (1 and 2 in flight): at least ws+bufferutil' },
      ],
      quick: false,
    });
  }
  // Text messages cost a UTF-8 validation per message (binary ones do not): one cell shows it.
  scenarios.push({
    id: 'echo-text-1KiB-c64',
    label: 'echo 1 KiB text x 64 conn, 16 in flight',
    mode: 'echo',
    args: ['-size', '1024', '-conns', '64', '-window', '16', '-text'],
    metrics: ['msgsPerSec', 'mbPerSec', 'perServerCpuSecond'],
    targets: [],
    quick: false,
  });
  for (const size of SIZES) {
    for (const connections of CONNECTIONS) {
      const tag = `${size.name.replace(' ', '')}-c${connections}`;
      scenarios.push({
        id: `latency-${tag}`,
        label: `round trip ${size.name} x ${connections} conn, 1 in flight`,
        mode: 'latency',
        args: ['-size', String(size.bytes), '-conns', String(connections)],
        metrics: ['p50us', 'p99us'],
        targets: [{ metric: 'p50us', ratio: 1, text: 'round-trip latency p50 no worse than ws+bufferutil' }],
        quick: QUICK.has(`latency-${tag}`),
        ...slowCell(size.bytes, connections),
      });
    }
  }
  scenarios.push({
    id: 'handshakes',
    label: 'handshakes (connect, upgrade, close), 32 workers',
    mode: 'handshake',
    args: ['-conns', '32'],
    metrics: ['handshakesPerSec', 'perServerCpuSecond'],
    targets: [
      { metric: 'handshakesPerSec', ratio: 1.4, text: 'handshakes per second at least 1.4x ws' },
      {
        metric: 'handshakesPerSec',
        ratio: 2,
        text: 'handshakes per second at least 2x plain ws',
        against: 'ws',
      },
    ],
    quick: true,
  });
  scenarios.push({
    id: 'idle-10k',
    label: 'idle connections: 10,000 held open',
    mode: 'idle',
    args: ['-conns', '10000'],
    metrics: ['rssPerConnKiB'],
    targets: [
      { metric: 'rssPerConnKiB', ratio: 0.8, text: 'RSS per idle connection at most 0.8x ws' },
      {
        metric: 'rssPerConnKiB',
        ratio: 1,
        text: 'RSS per idle connection no more than a bare Node TCP socket (node-raw)',
        against: 'node-raw',
      },
    ],
    quick: false,
  });
  // What one message leaves behind, without compression: the baseline of the compressed
  // idle cells below, measurable on every server (node-raw has no permessage-deflate).
  scenarios.push({
    id: 'idle-1k-16KiB',
    label: 'idle connections: 1,000 after one 16 KiB text message each (no compression)',
    mode: 'idle',
    args: ['-conns', '1000', '-size', '16384', '-text', '-prime'],
    metrics: ['rssPerConnKiB'],
    targets: [
      {
        metric: 'rssPerConnKiB',
        ratio: 1,
        text: 'RSS per idle connection no more than a bare Node TCP socket (node-raw)',
        against: 'node-raw',
      },
    ],
    quick: false,
  });
  scenarios.push({
    id: 'idle-1k',
    label: 'idle connections: 1,000 held open',
    mode: 'idle',
    args: ['-conns', '1000'],
    metrics: ['rssPerConnKiB'],
    targets: [],
    quick: true,
    quickOnly: true,
  });
  scenarios.push(...compressionScenarios());
  return scenarios;
}

/**
 * The compression benchmark of issue 5 (item 7): 16 KiB JSON-like text (64 distinct
 * messages per connection), every server started with `--deflate` (its own default
 * permessage-deflate settings). Two offers: what browsers send (each server then keeps
 * its context between messages or not, as its defaults say: `ws` and Bun keep it, sockeye
 * declines it), and one asking for no context takeover either way (the same kind of work
 * for every server). The idle cells send one compressed message on each connection
 * before RSS is read.
 */
export function compressionScenarios(): Scenario[] {
  const offers = [
    { tag: '', flag: 'takeover', name: 'browser offer' },
    { tag: '-nct', flag: 'no-takeover', name: 'no context takeover offered' },
  ];
  const scenarios: Scenario[] = [];
  for (const offer of offers) {
    scenarios.push({
      id: `deflate-echo-16KiB-c64${offer.tag}`,
      label: `permessage-deflate echo 16 KiB JSON x 64 conn, 4 in flight (${offer.name})`,
      mode: 'echo',
      args: ['-size', '16384', '-conns', '64', '-window', '4', '-text', '-deflate', offer.flag],
      metrics: ['msgsPerSec', 'perServerCpuSecond', 'echoWireBytes'],
      targets:
        offer.tag === ''
          ? [{ metric: 'msgsPerSec', ratio: 4, text: 'compressed echo throughput at least 4x ws' }]
          : [],
      quick: true,
      serverArgs: ['--deflate'],
    });
    scenarios.push({
      id: `deflate-idle-1k${offer.tag}`,
      label: `permessage-deflate: 1,000 idle connections after one 16 KiB message each (${offer.name})`,
      mode: 'idle',
      args: ['-conns', '1000', '-size', '16384', '-text', '-deflate', offer.flag],
      metrics: ['rssPerConnKiB'],
      targets:
        offer.tag === ''
          ? [
              {
                metric: 'rssPerConnKiB',
                ratio: 0.5,
                text: 'RSS for 1,000 idle compressed connections at most 0.5x ws',
              },
            ]
          : [],
      quick: true,
      serverArgs: ['--deflate'],
    });
  }
  return scenarios;
}

/** Rounds per fan-out cell: each one message to every subscriber, one at a time. */
const FANOUT_ROUNDS = 30;

/**
 * The pub/sub fan-out benchmark of issue 7, item 5: one 256 B message to 1,000 and to
 * 10,000 subscribers, the time until every subscriber has it (median of the rounds after
 * three warm-up ones) and the server CPU per publish, sockeye topics beside the `ws`
 * broadcast idiom and Bun's `publish`; then the same across two sockeye processes on Redis.
 */
export function fanoutScenarios(): Scenario[] {
  const scenarios: Scenario[] = [];
  for (const subscribers of [1000, 10_000]) {
    const n = subscribers === 1000 ? '1k' : '10k';
    const args = ['-size', '256', '-conns', String(subscribers), '-rounds', String(FANOUT_ROUNDS)];
    scenarios.push({
      id: `fanout-256B-${n}`,
      label: `fan-out 256 B to ${subscribers.toLocaleString('en')} subscribers`,
      mode: 'fanout',
      args,
      metrics: ['fanoutMs', 'cpuMsPerPublish'],
      targets:
        subscribers === 10_000
          ? [
              {
                metric: 'fanoutMs',
                ratio: 1 / 3,
                text: '10,000 subscribers: at least 3x faster than the ws idiom',
              },
              {
                metric: 'fanoutMs',
                ratio: 1.5,
                text: '10,000 subscribers: within 1.5x of Bun publish',
                against: 'bun',
              },
            ]
          : [],
      quick: subscribers === 1000,
    });
    scenarios.push({
      id: `fanout-redis-256B-${n}`,
      label: `fan-out 256 B to ${subscribers.toLocaleString('en')} subscribers over 2 processes + Redis`,
      mode: 'fanout',
      args,
      metrics: ['fanoutMs', 'cpuMsPerPublish'],
      targets: [],
      quick: subscribers === 1000,
      redis: true,
    });
  }
  return scenarios;
}
