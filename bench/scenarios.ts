/**
 * The benchmark's scenarios, as data. Each one is a load generator invocation plus the
 * metrics to tabulate and the targets it is judged on (issue 17's, and the earlier issues'
 * it did not replace: bench/targets.ts lists them and says which is which).
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

import type { GoalId } from './targets.js';

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
  | 'cpuMsPerPublishPerProcess'
  | 'brokerCpuMsPerPublish'
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
  // Over every server process of the cell (both of the Redis rows').
  cpuMsPerPublish: { unit: 'server CPU ms/publish', higherIsBetter: false },
  // The Redis rows: the busiest of the two server processes alone.
  cpuMsPerPublishPerProcess: { unit: 'server CPU ms/publish, busiest process', higherIsBetter: false },
  // The Redis rows: redis-server's own CPU over the same measured rounds.
  brokerCpuMsPerPublish: { unit: 'redis-server CPU ms/publish', higherIsBetter: false },
  // Mean compressed size of an echo on the wire (permessage-deflate scenarios).
  echoWireBytes: { unit: 'B/echo on the wire', higherIsBetter: false },
};

/**
 * A target: sockeye's value over the reference's must be at least `ratio` (for
 * higher-is-better metrics) or at most `ratio` (for lower-is-better ones). Throughput
 * targets (msg/s, handshakes/s) are also judged on the cell's per server CPU-s.
 */
export interface Target {
  /** The goal of bench/targets.ts this target belongs to. */
  goal: GoalId;
  /** sockeye's metric. */
  metric: MetricName;
  ratio: number;
  /** The row the ratio is taken against. @defaultValue the baseline, ws+native */
  against?: string;
  /**
   * Another cell to take the reference from, when this one has no such row (node-raw has no
   * permessage-deflate; only sockeye runs topics over Redis).
   */
  reference?: {
    /** The scenario id. */
    scenario: string;
    /** The reference's metric. @defaultValue the target's `metric` */
    metric?: MetricName;
    /** How the target's text names that cell, e.g. `single process`. */
    name: string;
  };
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
  /** The targets this cell is judged on (none: shown, not judged). */
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

/** Issue 17, item 1: every echo cell at least ws+native in msg/s. */
const NOT_BELOW_WS: Target = { goal: 'echo-vs-ws', metric: 'msgsPerSec', ratio: 1 };

/**
 * The targets of a pipelined echo cell: never below ws+native (item 1), and 1.3x it for
 * 64 KiB and 1 MiB (item 2) or 0.9x Bun for 32 B and 1 KiB (item 3).
 */
function throughputTargets(bytes: number): Target[] {
  return [
    NOT_BELOW_WS,
    bytes <= 1024
      ? { goal: 'small-vs-bun', metric: 'msgsPerSec', ratio: 0.9, against: 'bun' }
      : { goal: 'large', metric: 'msgsPerSec', ratio: 1.3 },
  ];
}

const QUICK = new Set([
  'echo-32B-c1',
  'echo-32B-c64',
  'echo-1KiB-c64',
  'echo-64KiB-c1',
  'echo-32B-c64-w2',
  'latency-32B-c1',
]);

/** Issue 17, item 5: RSS per idle connection no more than the bare Node socket's (node-raw). */
const NOT_ABOVE_NODE_RAW: Target = { goal: 'idle', metric: 'rssPerConnKiB', ratio: 1, against: 'node-raw' };

/** The server benchmark of issue 3, item 6, with the cells issue 17 added. */
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
        targets: throughputTargets(size.bytes),
        quick: QUICK.has(`echo-${tag}`),
        ...slowCell(size.bytes, connections),
      });
    }
  }
  // The issue's own small-message row, as the independent load generator ran it: 32 B over one
  // connection with 256 in flight (the grid above keeps 128 there).
  scenarios.push({
    id: 'echo-32B-c1-w256',
    label: 'echo 32 B x 1 conn, 256 in flight',
    mode: 'echo',
    args: ['-size', '32', '-conns', '1', '-window', '256'],
    metrics: ['msgsPerSec', 'mbPerSec', 'perServerCpuSecond'],
    targets: throughputTargets(32),
    quick: false,
  });
  // Low depth: one or two messages in flight per connection, so each echo waits for the one
  // before it (request/response traffic); a server's per-message latency shows, not its
  // batching. Two in flight at every size, 1 and 64 connections (at 1,000 the pipelined
  // cells above already keep 1 or 2 in flight); one in flight is the round-trip cells below,
  // judged on their msg/s too; and 16 KiB over 64 connections at both, the issue's own row.
  for (const size of SIZES) {
    for (const connections of [1, 64]) {
      const tag = `${size.name.replace(' ', '')}-c${connections}-w2`;
      scenarios.push({
        id: `echo-${tag}`,
        label: `echo ${size.name} x ${connections} conn, 2 in flight`,
        mode: 'echo',
        args: ['-size', String(size.bytes), '-conns', String(connections), '-window', '2'],
        metrics: ['msgsPerSec', 'mbPerSec', 'perServerCpuSecond'],
        targets: [NOT_BELOW_WS],
        quick: QUICK.has(`echo-${tag}`),
      });
    }
  }
  for (const window of [1, 2]) {
    scenarios.push({
      id: `echo-16KiB-c64-w${window}`,
      label: `echo 16 KiB x 64 conn, ${window} in flight`,
      mode: 'echo',
      args: ['-size', String(16 * 1024), '-conns', '64', '-window', String(window)],
      metrics: ['msgsPerSec', 'mbPerSec', 'perServerCpuSecond'],
      targets: [NOT_BELOW_WS],
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
    targets: [NOT_BELOW_WS],
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
        // The messages per second of one in flight: the depth-1 echo case of item 1.
        metrics: ['p50us', 'p99us', 'msgsPerSec', 'perServerCpuSecond'],
        targets: [{ goal: 'keep', metric: 'p50us', ratio: 1 }, NOT_BELOW_WS],
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
    targets: [{ goal: 'handshakes', metric: 'handshakesPerSec', ratio: 2, against: 'ws' }],
    quick: true,
  });
  scenarios.push({
    id: 'idle-10k',
    label: 'idle connections: 10,000 held open',
    mode: 'idle',
    args: ['-conns', '10000'],
    metrics: ['rssPerConnKiB'],
    targets: [NOT_ABOVE_NODE_RAW],
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
    targets: [NOT_ABOVE_NODE_RAW],
    // The reference of the compressed idle cells, which are in the quick subset.
    quick: true,
  });
  scenarios.push({
    id: 'idle-1k',
    label: 'idle connections: 1,000 held open',
    mode: 'idle',
    args: ['-conns', '1000'],
    metrics: ['rssPerConnKiB'],
    targets: [NOT_ABOVE_NODE_RAW],
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
 * before RSS is read, but for one that holds 10,000 connections open with the extension
 * negotiated and nothing sent.
 */
export function compressionScenarios(): Scenario[] {
  const offers = [
    { tag: '', flag: 'takeover', name: 'browser offer' },
    { tag: '-nct', flag: 'no-takeover', name: 'no context takeover offered' },
  ];
  const scenarios: Scenario[] = [
    // Issue 17, item 5 with permessage-deflate negotiated: connections held open as in
    // idle-10k, the extension agreed on, no message sent; node-raw, which has no
    // permessage-deflate, is judged by its idle-10k figure.
    {
      id: 'deflate-idle-10k-open',
      label: 'permessage-deflate negotiated: 10,000 idle connections held open, no message (browser offer)',
      mode: 'idle',
      args: ['-conns', '10000', '-deflate', 'takeover', '-no-prime'],
      metrics: ['rssPerConnKiB'],
      targets: [
        {
          ...NOT_ABOVE_NODE_RAW,
          reference: { scenario: 'idle-10k', name: 'held open without permessage-deflate' },
        },
      ],
      quick: false,
      serverArgs: ['--deflate'],
    },
  ];
  for (const offer of offers) {
    scenarios.push({
      id: `deflate-echo-16KiB-c64${offer.tag}`,
      label: `permessage-deflate echo 16 KiB JSON x 64 conn, 4 in flight (${offer.name})`,
      mode: 'echo',
      args: ['-size', '16384', '-conns', '64', '-window', '4', '-text', '-deflate', offer.flag],
      metrics: ['msgsPerSec', 'perServerCpuSecond', 'echoWireBytes'],
      targets: [
        { goal: 'keep', metric: 'msgsPerSec', ratio: 1, against: 'bun' },
        ...(offer.tag === ''
          ? [{ goal: 'deflate-issue5', metric: 'msgsPerSec', ratio: 4 } satisfies Target]
          : []),
      ],
      quick: true,
      serverArgs: ['--deflate'],
    });
    scenarios.push({
      id: `deflate-idle-1k${offer.tag}`,
      label: `permessage-deflate: 1,000 idle connections after one 16 KiB message each (${offer.name})`,
      mode: 'idle',
      args: ['-conns', '1000', '-size', '16384', '-text', '-deflate', offer.flag],
      metrics: ['rssPerConnKiB'],
      targets: [
        // node-raw has no permessage-deflate: its figure after the same message uncompressed.
        {
          ...NOT_ABOVE_NODE_RAW,
          reference: { scenario: 'idle-1k-16KiB', name: 'after the same message uncompressed' },
        },
        ...(offer.tag === ''
          ? [{ goal: 'deflate-issue5', metric: 'rssPerConnKiB', ratio: 0.5 } satisfies Target]
          : []),
      ],
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
      targets: [
        { goal: 'fanout', metric: 'cpuMsPerPublish', ratio: 1, against: 'bun' },
        { goal: 'fanout', metric: 'fanoutMs', ratio: 0.8 },
        ...(subscribers === 10_000
          ? [{ goal: 'fanout-issue7', metric: 'fanoutMs', ratio: 1.5, against: 'bun' } satisfies Target]
          : []),
      ],
      quick: subscribers === 1000,
    });
    // Only sockeye runs topics over Redis: each process is judged against the
    // single-process cell's Bun and ws rows.
    const single = { scenario: `fanout-256B-${n}`, name: 'single process' };
    scenarios.push({
      id: `fanout-redis-256B-${n}`,
      label: `fan-out 256 B to ${subscribers.toLocaleString('en')} subscribers over 2 processes + Redis`,
      mode: 'fanout',
      args,
      metrics: ['fanoutMs', 'cpuMsPerPublish', 'cpuMsPerPublishPerProcess', 'brokerCpuMsPerPublish'],
      targets: [
        {
          goal: 'fanout',
          metric: 'cpuMsPerPublishPerProcess',
          ratio: 1,
          against: 'bun',
          reference: { ...single, metric: 'cpuMsPerPublish' },
        },
        { goal: 'fanout', metric: 'fanoutMs', ratio: 0.8, reference: single },
      ],
      quick: subscribers === 1000,
      redis: true,
    });
  }
  return scenarios;
}
