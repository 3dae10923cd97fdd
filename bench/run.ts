/**
 * `npm run bench`: the server benchmark of issue 3 (item 6), then the client benchmark of
 * issue 4 (item 7, bench/client-bench.ts: sockeye's client, `ws`'s and Node's against one
 * fixed server, with the same pinning).
 *
 * One run, the same Go load generator (bench/loadgen, built into bench/.build/) for every
 * server in bench/servers.ts, the server pinned to CPU 0 and the generator to CPU 1 with
 * `taskset`. Each scenario of bench/scenarios.ts runs against every server in turn (so
 * the machine's background load falls on all of them alike); the table gives each value
 * and its ratio to `ws` with bufferutil. Results go to reports/bench/ (results-<date>.json
 * and latest.json), and a full run rewrites its own sections of docs/benchmarks.md (between the
 * bench:servers and bench:clients markers; other sections of that file belong to other benchmarks).
 * The sockeye rows run the compiled package: the run starts with `tsc -b`. Each section ends
 * with its targets judged on the run (bench/targets.ts: issue 17's, and the earlier ones it
 * did not replace): met or not per target and per cell, with the ratio, and for throughput
 * the same on messages per CPU-second.
 *
 * Then the SSE fan-out (bench/sse.ts: sockeye's topic EventSource beside a plain Node SSE
 * server, 1,000 streams; id `sse-fanout`), and the long-poll round trips (bench/long-poll.ts:
 * sockeye's session long-polling beside the same sessions over WebSocket and a plain Node
 * long-poll server, 1 and 100 sessions; id `long-poll`).
 *
 * A full run takes about 25 minutes on the quiet 2-core machine (summed from the cells'
 * timings). Options: --quick (a subset, about 4 minutes), --only <substring or /regex/>
 * (scenario ids; the client cells' ids start with `client-`), --servers a,b (by name; the
 * ws+native baseline always runs), --duration <s>, --warmup <s>, --write-docs / --no-docs,
 * --no-confirm (no extra runs of close calls: cells within 15% of a target's bound are
 * otherwise run twice more, sockeye, the server it is judged against and node-raw in turn, and the
 * median of the three is kept),
 * --from <reports/bench/….json> (re-render a saved run's table and docs without measuring),
 * --no-settle (start at once: by default a run first waits, up to SETTLE_LIMIT_S, for the
 * load average left by whatever ran before it to fall to QUIET_LOAD).
 * Never part of `npm test`'s pass/fail.
 *
 * Then the session benchmark (bench/sessions.ts: session overhead, memory per idle
 * session, the reconnect storm), unless `--only`, `--servers` or `--from` narrows the run
 * (`--only sessions` runs it alone).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REDIS_SERVER, ROOT } from '../scripts/lib/prereqs.js';
import { freePort, type Started, startProcess } from '../scripts/lib/process.js';
import {
  buildClients,
  CLIENTS,
  type ClientReport,
  type ClientScenario,
  clientDocsSection,
  clientScenarios,
  clientTable,
  clientTargetsSection,
  measureClients,
} from './client-bench.js';
import { longPollSection, measureLongPoll } from './long-poll.js';
import { fanoutScenarios, METRICS, type MetricName, type Scenario, serverScenarios } from './scenarios.js';
import { BASELINE, type Launch, SERVERS, type ServerSpec } from './servers.js';
import { measureSse, sseSection } from './sse.js';
import {
  CLOSE_BAND,
  closeCalls,
  GENERATOR_LIMIT,
  medianOfRuns,
  REPLACED,
  serverVerdicts,
  targetsSummary,
  type Verdict,
} from './targets.js';

const { values: options } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    servers: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    'write-docs': { type: 'boolean', default: false },
    'no-docs': { type: 'boolean', default: false },
    'no-confirm': { type: 'boolean', default: false },
    'no-settle': { type: 'boolean', default: false },
    from: { type: 'string' },
  },
});

const DURATION_S = Number(options.duration ?? (options.quick ? 1 : 2));
/** Extra runs of a close call (see confirmCloseCalls); none with --quick or --no-confirm. */
const CONFIRM_ROUNDS = options.quick || options['no-confirm'] ? 0 : 2;
const WARMUP_S = Number(options.warmup ?? (options.quick ? 0.3 : 0.5));
/** A 1-minute load average at most this when a run begins marks the machine quiet (see machineLines). */
const QUIET_LOAD = 0.5;
/** The most a run waits for the load to fall to QUIET_LOAD before it begins anyway (marked provisional). */
const SETTLE_LIMIT_S = 180;
const LOADGEN = join(ROOT, 'bench', '.build', 'loadgen');
const REPORT_DIR = join(ROOT, 'reports', 'bench');
const DOCS = join(ROOT, 'docs', 'benchmarks.md');
const SERVER_CPU = '0';
const LOADGEN_CPU = '1';

/** One measured cell: the metrics, or why it failed. */
interface Cell {
  values: Partial<Record<MetricName, number>>;
  /** Server CPU time over the measured time (1.0 = one core busy). */
  serverCpu?: number;
  /** The load generator's CPU time over the measured time (near 1.0: it may be the bottleneck). */
  loadgenCpu?: number;
  error?: string;
  raw?: unknown;
  /** Wall-clock seconds the cell took, its server's start and stop included where it has its own. */
  wallS?: number;
  /** How many runs the values are the median of (a close call, measured again); absent: one. */
  runs?: number;
  /** Each run's values, when there were several. */
  runValues?: Partial<Record<MetricName, number>>[];
}

type Results = Record<string, Record<string, Cell>>;

// --- setup -----------------------------------------------------------------------------

function allScenarios(): Scenario[] {
  return [...serverScenarios(), ...fanoutScenarios()];
}

function selectScenarios(): Scenario[] {
  let scenarios = allScenarios().filter((s) => (options.quick ? s.quick : !s.quickOnly));
  const only = options.only;
  if (only !== undefined) {
    const regex = only.startsWith('/') && only.endsWith('/') ? new RegExp(only.slice(1, -1)) : null;
    scenarios = allScenarios().filter((s) => (regex ? regex.test(s.id) : s.id.includes(only)));
  }
  return scenarios;
}

function selectClientScenarios(): ClientScenario[] {
  const only = options.only;
  if (only === undefined) return clientScenarios().filter((s) => !options.quick || s.quick);
  const regex = only.startsWith('/') && only.endsWith('/') ? new RegExp(only.slice(1, -1)) : null;
  return clientScenarios().filter((s) => (regex ? regex.test(s.id) : s.id.includes(only)));
}

/** The fixed echo server of the client benchmark. */
const CLIENT_BENCH_SERVER = 'node-raw';
/** Rounds of every client per client cell (the median is kept): a cell is a few seconds. */
const CLIENT_ROUNDS = options.quick ? 1 : 3;

function selectServers(): ServerSpec[] {
  if (options.servers === undefined) return SERVERS;
  const names = options.servers.split(',');
  return SERVERS.filter((s) => names.includes(s.name) || s.name === BASELINE);
}

function buildLoadgen(): void {
  const result = spawnSync('go', ['build', '-o', LOADGEN, '.'], {
    cwd: join(ROOT, 'bench', 'loadgen'),
    stdio: 'inherit',
  });
  if (result.status !== 0)
    throw new Error(`go build of bench/loadgen failed (${result.status ?? result.error})`);
}

/**
 * Build the packages (`tsc -b`, incremental): the sockeye row runs the compiled package
 * (packages/sockeye/dist), as its users do, never the TypeScript sources.
 */
function buildSockeye(): void {
  const result = spawnSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-b'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (result.status !== 0)
    throw new Error(`tsc -b failed (${result.status ?? result.error}): sockeye is not built`);
  if (!existsSync(join(ROOT, 'packages', 'sockeye', 'dist', 'index.js')))
    throw new Error('tsc -b left no packages/sockeye/dist/index.js');
}

/** Whether both CPUs exist and taskset works; otherwise we run unpinned (and say so). */
function canPin(): boolean {
  if (cpus().length < 2) return false;
  return spawnSync('taskset', ['-c', LOADGEN_CPU, 'true']).status === 0;
}
const PINNED = canPin();
const pinned = (cpu: string, command: string, args: string[]): [string, string[]] =>
  PINNED ? ['taskset', ['-c', cpu, command, ...args]] : [command, args];

// --- servers ---------------------------------------------------------------------------

interface Running {
  spec: ServerSpec;
  launch: Launch;
  process: Started;
  url: string;
}

async function startServer(spec: ServerSpec, launch: Launch): Promise<Running> {
  const port = await freePort();
  const [command, args] = pinned(SERVER_CPU, launch.command, [
    ...launch.args,
    '--port',
    String(port),
    '--host',
    '127.0.0.1',
  ]);
  const started = await startProcess(command, args, /listening on ws:\/\//, {
    cwd: ROOT,
    env: { ...process.env, ...launch.env },
    timeoutMs: 30_000,
  });
  const problem = launch.check?.(started.output());
  if (problem) {
    await started.stop();
    throw new Error(`${spec.name}: ${problem}`);
  }
  return { spec, launch, process: started, url: `ws://127.0.0.1:${port}/` };
}

/** A field of /proc/<pid>/status in KiB (VmRSS, VmHWM). */
function procStatusKiB(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (match === null) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]);
}

/**
 * CPU seconds the process has used. From the scheduler's nanosecond count of each of its
 * threads (/proc/<pid>/task/<tid>/schedstat) where the kernel has it: a fan-out cell's
 * measured rounds take well under a second of CPU, where the 10 ms ticks of
 * /proc/<pid>/stat would be a 5-10% error. (The time of threads that have already exited
 * is lost there; only the main thread and the libuv pool run in these servers.)
 */
function cpuSeconds(pid: number): number {
  try {
    let nanoseconds = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      nanoseconds += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    }
    if (nanoseconds > 0) return nanoseconds / 1e9;
  } catch {
    // No schedstat (or a thread exited between the listing and the read): use the ticks.
  }
  return cpuTicksSeconds(pid);
}

/** User + system CPU seconds the process has used, in clock ticks of 1/100 s. */
function cpuTicksSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat (utime, stime), counted from the state field (3rd) on; in clock ticks of 1/100 s.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

// --- the load generator ----------------------------------------------------------------

interface LoadgenRun {
  child: ChildProcess;
  /** Resolves with each JSON line in order. */
  lines: AsyncIterableIterator<Record<string, unknown>>;
  exited: Promise<number | null>;
}

/** Warm-up and measured seconds for a scenario. */
function timing(scenario: Scenario): { warmupS: number; durationS: number } {
  if (options.duration === undefined && scenario.timing !== undefined) return scenario.timing;
  return { warmupS: WARMUP_S, durationS: DURATION_S };
}

function startLoadgen(url: string, scenario: Scenario, serverPid?: number, extra: string[] = []): LoadgenRun {
  const { warmupS, durationS } = timing(scenario);
  const args = [
    ...extra,
    '-url',
    url,
    '-mode',
    scenario.mode,
    '-duration',
    `${durationS}s`,
    '-warmup',
    `${warmupS}s`,
    ...(serverPid === undefined ? [] : ['-server-pid', String(serverPid)]),
    ...scenario.args,
  ];
  const [command, fullArgs] = pinned(LOADGEN_CPU, LOADGEN, args);
  const child = spawn(command, fullArgs, { stdio: ['pipe', 'pipe', 'pipe'] });
  const queue: Record<string, unknown>[] = [];
  const waiting: ((value: IteratorResult<Record<string, unknown>>) => void)[] = [];
  let ended = false;
  let pending = '';
  let stderr = '';
  const deliver = (line: Record<string, unknown> | null) => {
    const next = waiting.shift();
    if (line === null) {
      ended = true;
      next?.({ value: undefined, done: true });
      for (const w of waiting.splice(0)) w({ value: undefined, done: true });
      return;
    }
    if (next) next({ value: line, done: false });
    else queue.push(line);
  };
  child.stdout.on('data', (data: Buffer) => {
    pending += data.toString();
    let newline = pending.indexOf('\n');
    while (newline !== -1) {
      const text = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (text.length > 0) {
        try {
          deliver(JSON.parse(text) as Record<string, unknown>);
        } catch {
          deliver({ fatal: `unparsable load generator output: ${text}` });
        }
      }
      newline = pending.indexOf('\n');
    }
  });
  child.stderr.on('data', (data: Buffer) => {
    stderr += data.toString();
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once('close', (code) => {
      if (code !== 0 && stderr.trim().length > 0) deliver({ fatal: `load generator: ${stderr.trim()}` });
      deliver(null);
      resolve(code);
    });
  });
  const lines: AsyncIterableIterator<Record<string, unknown>> = {
    [Symbol.asyncIterator]() {
      return this;
    },
    next() {
      const line = queue.shift();
      if (line !== undefined) return Promise.resolve({ value: line, done: false });
      if (ended) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => waiting.push(resolve));
    },
  };
  return { child, lines, exited };
}

/** Kill the load generator if it outlives `ms` (it has its own budget; this is the backstop). */
function guard(run: LoadgenRun, ms: number): () => void {
  const timer = setTimeout(() => run.child.kill('SIGKILL'), ms);
  return () => clearTimeout(timer);
}

async function measure(server: Running, scenario: Scenario): Promise<Cell> {
  const pid = server.process.child.pid!;
  const cpuBefore = cpuSeconds(pid);
  const began = performance.now();
  const run = startLoadgen(server.url, scenario, pid);
  const { warmupS, durationS } = timing(scenario);
  const cancel = guard(run, (warmupS + durationS + 120) * 1000);
  try {
    let last: Record<string, unknown> | undefined;
    for await (const line of run.lines) last = line;
    await run.exited;
    const wall = (performance.now() - began) / 1000;
    if (last === undefined) return { values: {}, error: 'the load generator printed nothing' };
    if (typeof last.fatal === 'string') return { values: {}, error: last.fatal };
    const values: Cell['values'] = {};
    for (const metric of scenario.metrics) {
      const value = last[metric];
      if (typeof value === 'number') values[metric] = value;
    }
    const errors = Number(last.errors ?? 0);
    const unconnected = Number(last.unconnected ?? 0);
    const cell: Cell = {
      values,
      raw: last,
      // The generator measures the server's CPU over the measured time; this is the fallback.
      serverCpu: typeof last.serverCpu === 'number' ? last.serverCpu : (cpuSeconds(pid) - cpuBefore) / wall,
      loadgenCpu: typeof last.loadgenCpu === 'number' ? last.loadgenCpu : undefined,
    };
    if (errors > 0 || unconnected > 0) {
      cell.error = `${errors} errors, ${unconnected} connections failed; first: ${String(last.firstError)}`;
    } else if (Number(scenario.mode === 'handshake' ? last.handshakes : last.messages) === 0) {
      cell.values = {};
      cell.error = 'nothing completed in the measured time';
    }
    return cell;
  } finally {
    cancel();
  }
}

/** A scenario that needs its own server started with extra flags (e.g. `--deflate`). */
async function measureWithFlags(shared: Running, scenario: Scenario, flags: string[]): Promise<Cell> {
  if (flags.includes('--deflate') && shared.spec.compression === false) {
    return { values: {}, raw: 'this entry has no permessage-deflate' };
  }
  const launch: Launch = { ...shared.launch, args: [...shared.launch.args, ...flags] };
  if (scenario.mode === 'idle') return measureIdle(shared.spec, launch, scenario);
  const server = await startServer(shared.spec, launch);
  try {
    return await measure(server, scenario);
  } finally {
    await server.process.stop();
  }
}

/** RSS per idle connection: a fresh server, N connections opened and held, RSS read from /proc. */
async function measureIdle(spec: ServerSpec, launch: Launch, scenario: Scenario): Promise<Cell> {
  const server = await startServer(spec, launch);
  try {
    const pid = server.process.child.pid!;
    await new Promise((resolve) => setTimeout(resolve, 500));
    const before = procStatusKiB(pid, 'VmRSS');
    const run = startLoadgen(server.url, scenario);
    const cancel = guard(run, 300_000);
    try {
      const ready = (await run.lines.next()).value as Record<string, unknown> | undefined;
      if (ready === undefined || ready.event !== 'ready') {
        return { values: {}, error: `no ready line: ${JSON.stringify(ready)}` };
      }
      // Let the server finish its per-connection work (timers, buffers) before reading.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const after = procStatusKiB(pid, 'VmRSS');
      run.child.stdin?.end();
      const done = (await run.lines.next()).value as Record<string, unknown> | undefined;
      await run.exited;
      const conns = Number(ready.conns);
      const cell: Cell = {
        values: { rssPerConnKiB: (after - before) / conns },
        raw: { ...ready, rssBeforeKiB: before, rssAfterKiB: after, done },
      };
      if (Number(ready.unconnected) > 0 || Number(ready.errors ?? 0) > 0 || Number(done?.dropped ?? 0) > 0) {
        cell.error = `${String(ready.unconnected)} failed to open, ${String(done?.dropped)} dropped; first: ${String(ready.firstError)}`;
      }
      return cell;
    } finally {
      cancel();
      run.child.stdin?.destroy();
      run.child.kill();
    }
  } finally {
    await server.process.stop();
  }
}

/** Start a redis-server for a fan-out cell, on a free port, pinned with the servers. */
async function startRedis(): Promise<{ process: Started; url: string }> {
  const port = await freePort();
  const [command, args] = pinned(SERVER_CPU, REDIS_SERVER, [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
  ]);
  const started = await startProcess(command, args, /Ready to accept connections/, { cwd: ROOT });
  return { process: started, url: `redis://127.0.0.1:${port}` };
}

/**
 * A fan-out cell: fresh fan-out server(s) (two on one fresh Redis for a `redis`
 * scenario), the load generator's subscribers and publisher, and the servers' CPU time
 * over the rounds only (sampled after the connections are open, from /proc/<pid>/stat).
 * Returns null for a row without a fan-out server (or without Redis support when asked).
 */
async function measureFanout(spec: ServerSpec, scenario: Scenario): Promise<Cell | null> {
  const launch = spec.fanout?.();
  if (launch === undefined) return null;
  if (typeof launch === 'string') return { values: {}, error: launch };
  if (scenario.redis && launch.redis !== true) return null;
  if (scenario.redis && !existsSync(REDIS_SERVER))
    return { values: {}, error: 'redis-server is not installed' };
  const processes: Started[] = [];
  let redis: { process: Started; url: string } | undefined;
  try {
    let perProcess: string[][] = [[]];
    if (scenario.redis) {
      redis = await startRedis();
      perProcess = ['bench-a', 'bench-b'].map((node) => ['--redis', redis!.url, '--node', node]);
    }
    const urls: string[] = [];
    for (const extra of perProcess) {
      const port = await freePort();
      const [command, args] = pinned(SERVER_CPU, launch.command, [
        ...launch.args,
        '--port',
        String(port),
        '--host',
        '127.0.0.1',
        ...extra,
      ]);
      processes.push(
        await startProcess(command, args, /listening on ws:\/\//, {
          cwd: ROOT,
          env: { ...process.env, ...launch.env },
          timeoutMs: 30_000,
        }),
      );
      urls.push(`ws://127.0.0.1:${port}/`);
    }
    const run = startLoadgen(
      urls[0]!,
      scenario,
      undefined,
      urls.length > 1 ? ['-sub-urls', urls.join(',')] : [],
    );
    const cancel = guard(run, 900_000);
    try {
      const ready = (await run.lines.next()).value as Record<string, unknown> | undefined;
      if (ready === undefined || ready.event !== 'ready') {
        return { values: {}, error: `no ready line: ${JSON.stringify(ready)}` };
      }
      const pids = processes.map((p) => p.child.pid!);
      // Each server process's CPU seconds (the Redis rows' per process figure), and their sum.
      const each = () => pids.map((pid) => cpuSeconds(pid));
      const sum = (seconds: number[]) => seconds.reduce((total, value) => total + value, 0);
      const cpu = () => sum(each());
      const redisPid = redis?.process.child.pid;
      // The servers' CPU time over the measured rounds only: sampled at the generator's
      // "measuring" line (after its warm-up rounds) and at its "measured" line (before it
      // closes the connections, whose teardown is no part of a publish's cost). It waits
      // for a line on stdin after each, so nothing runs between the sample and the mark.
      const cpuAtGo = cpu();
      let eachBefore = each();
      let cpuBefore = cpuAtGo;
      let redisBefore = redisPid === undefined ? 0 : cpuSeconds(redisPid);
      let eachAfter: number[] = [];
      let cpuAfter: number | undefined;
      let redisAfter = 0;
      run.child.stdin?.write('go\n');
      let last: Record<string, unknown> | undefined;
      for await (const line of run.lines) {
        if (line.event === 'measuring') {
          eachBefore = each();
          cpuBefore = sum(eachBefore);
          redisBefore = redisPid === undefined ? 0 : cpuSeconds(redisPid);
          run.child.stdin?.write('go\n');
        } else if (line.event === 'measured') {
          eachAfter = each();
          cpuAfter = sum(eachAfter);
          redisAfter = redisPid === undefined ? 0 : cpuSeconds(redisPid);
          run.child.stdin?.write('go\n');
        } else {
          last = line;
        }
      }
      await run.exited;
      // Give the servers a moment to handle the closes, for the raw results' teardown figure.
      await new Promise((resolve) => setTimeout(resolve, 500));
      if (last === undefined) return { values: {}, error: 'the load generator printed nothing' };
      if (typeof last.fatal === 'string') return { values: {}, error: last.fatal };
      if (cpuAfter === undefined)
        return { values: {}, error: 'the load generator never ended its measured rounds' };
      const rounds = Number(last.measuredRounds ?? 0);
      const values: Cell['values'] = {};
      if (typeof last.fanoutMs === 'number') values.fanoutMs = last.fanoutMs;
      const perPublish = (seconds: number) => (seconds * 1000) / rounds;
      if (rounds > 0) {
        values.cpuMsPerPublish = perPublish(cpuAfter - cpuBefore);
        if (scenario.metrics.includes('cpuMsPerPublishPerProcess')) {
          values.cpuMsPerPublishPerProcess = Math.max(
            ...eachAfter.map((after, i) => perPublish(after - eachBefore[i]!)),
          );
        }
        if (redisPid !== undefined && scenario.metrics.includes('brokerCpuMsPerPublish')) {
          values.brokerCpuMsPerPublish = perPublish(redisAfter - redisBefore);
        }
      }
      // Left out of the cost per publish, kept in the raw results: the warm-up rounds and
      // the teardown of every connection (server CPU ms in all).
      const raw: Record<string, unknown> = {
        ...last,
        ready,
        warmupCpuMs: (cpuBefore - cpuAtGo) * 1000,
        teardownCpuMs: (cpu() - cpuAfter) * 1000,
      };
      if (rounds > 0 && pids.length > 1) {
        raw.cpuMsPerPublishOfEach = eachAfter.map((after, i) => perPublish(after - eachBefore[i]!));
      }
      const cell: Cell = { values, raw };
      const errors = Number(last.errors ?? 0) + Number(ready.errors ?? 0);
      const unconnected = Number(last.unconnected ?? 0);
      if (errors > 0 || unconnected > 0) {
        cell.error = `${errors} errors, ${unconnected} subscribers failed to connect; first: ${String(last.firstError ?? ready.firstError)}`;
      }
      return cell;
    } finally {
      cancel();
      run.child.stdin?.destroy();
      run.child.kill();
    }
  } finally {
    for (const started of processes) await started.stop();
    await redis?.process.stop();
  }
}

// --- the table -------------------------------------------------------------------------

function format(metric: MetricName, value: number): string {
  if (metric === 'msgsPerSec' || metric === 'handshakesPerSec' || metric === 'perServerCpuSecond') {
    if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
    if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
    return value.toFixed(0);
  }
  if (metric === 'mbPerSec') return value >= 100 ? value.toFixed(0) : value.toFixed(1);
  if (metric === 'rssPerConnKiB') return value.toFixed(1);
  if (
    metric === 'fanoutMs' ||
    metric === 'cpuMsPerPublish' ||
    metric === 'cpuMsPerPublishPerProcess' ||
    metric === 'brokerCpuMsPerPublish'
  )
    return value >= 100 ? value.toFixed(0) : value.toFixed(2);
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

function ratioOf(
  results: Results,
  scenario: Scenario,
  metric: MetricName,
  server: string,
  against: string = BASELINE,
): number | null {
  const value = results[scenario.id]?.[server]?.values[metric];
  const base = results[scenario.id]?.[against]?.values[metric];
  if (value === undefined || base === undefined || base === 0) return null;
  return value / base;
}

/** The unmeasured run every server gets before the first cell. */
const PRIMING: Scenario = {
  id: 'priming',
  label: 'priming',
  mode: 'echo',
  args: ['-size', '1024', '-conns', '16', '-window', '16'],
  metrics: [],
  targets: [],
  quick: false,
  timing: { warmupS: 0.5, durationS: 1.5 },
};

function table(results: Results, scenarios: Scenario[], servers: string[]): string {
  const judged = serverVerdicts(results, scenarios);
  const header = ['scenario', 'metric', ...servers, 'targets (sockeye against the row named)'];
  const rows = [header, header.map(() => '---')];
  for (const scenario of scenarios) {
    for (const metric of scenario.metrics) {
      const row = [scenario.label, METRICS[metric].unit];
      for (const server of servers) {
        const cell = results[scenario.id]?.[server];
        const value = cell?.values[metric];
        if (cell?.error !== undefined)
          row.push(`error${value === undefined ? '' : ` (${format(metric, value)})`}`);
        else if (value === undefined) row.push('–');
        else {
          const ratio = ratioOf(results, scenario, metric, server);
          const limited =
            ((cell?.loadgenCpu ?? 0) >= GENERATOR_LIMIT && metric !== 'perServerCpuSecond' ? ' †' : '') +
            ((cell?.runs ?? 1) > 1 ? ' ‡' : '');
          row.push(
            server === BASELINE || ratio === null
              ? `${format(metric, value)}${limited}`
              : `${format(metric, value)}${limited} (${ratio.toFixed(2)}x)`,
          );
        }
      }
      const targets = (judged.get(scenario.id) ?? []).filter(
        (_, i) => scenario.targets[i]?.metric === metric,
      );
      row.push(
        targets.map((v) => `${v.bound}: ${v.met === null ? 'n/a' : v.met ? 'met' : 'NOT met'}`).join('; '),
      );
      rows.push(row);
    }
  }
  return rows.map((row) => `| ${row.join(' | ')} |`).join('\n');
}

// --- the report ------------------------------------------------------------------------

function commandOutput(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : 'unavailable';
}

function loadavg(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/** Rewrite the section of docs/benchmarks.md between the `bench:<name>` markers (appended if absent). */
function writeDocs(name: 'servers' | 'clients' | 'sse' | 'long-poll', section: string): void {
  const BEGIN = `<!-- bench:${name}:begin (written by npm run bench; edits here are overwritten) -->`;
  const END = `<!-- bench:${name}:end -->`;
  const block = `${BEGIN}\n${section.trim()}\n${END}\n`;
  let text = existsSync(DOCS) ? readFileSync(DOCS, 'utf8') : '# Benchmarks\n\n';
  const start = text.indexOf(BEGIN.slice(0, BEGIN.indexOf(' (')));
  const end = text.indexOf(END);
  const serversEnd = '<!-- bench:servers:end -->\n';
  if (start !== -1 && end !== -1) text = text.slice(0, start) + block + text.slice(end + END.length + 1);
  else if (text.includes(serversEnd)) {
    // A new section goes right after the server benchmark's.
    const at = text.indexOf(serversEnd) + serversEnd.length;
    text = `${text.slice(0, at)}\n${block}${text.slice(at)}`;
  } else text = `${text.trimEnd()}\n\n${block}`;
  writeFileSync(DOCS, text);
  console.log(`wrote ${DOCS}`);
}

/**
 * Wait (at most SETTLE_LIMIT_S) for the 1-minute load average to fall to QUIET_LOAD: a run
 * that starts right after a test run or a build measures its first cells against what those
 * left on the machine (two full runs that did moved three cells by 20-40%).
 */
async function settle(): Promise<void> {
  const load = () => Number(loadavg().split(' ')[0]);
  if (load() <= QUIET_LOAD) return;
  const deadline = Date.now() + SETTLE_LIMIT_S * 1000;
  console.log(
    `waiting up to ${SETTLE_LIMIT_S} s for the load average (${load()}) to fall to ${QUIET_LOAD} (--no-settle to skip)`,
  );
  while (load() > QUIET_LOAD && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 5000));
  console.log(`load average ${load()}: starting`);
}

/** The run's conditions: the provisional warning if the machine was busy, date, machine, versions, pinning. */
function machineLines(report: Report, pinning: string, clientVersions?: string[]): string[] {
  const { machine } = report;
  // Each version once; the raw Node row's is Node's, already on the line. The client section
  // names the clients' versions instead of the servers' (and has no use for Go's).
  const versions =
    clientVersions ??
    [...new Set(report.servers.map((s) => s.version))].filter(
      (v): v is string => v !== undefined && !v.startsWith('node '),
    );
  const tools = clientVersions === undefined ? `Node ${machine.node}, ${machine.go}` : `Node ${machine.node}`;
  const load = `load average ${machine.loadBefore} before, ${machine.loadAfter} after`;
  // Our own run adds about 2 (server and generator); anything beyond that is someone else's.
  const first = (load: string | undefined) => Number(load?.split(' ')[0]);
  const busy = first(machine.loadBefore) > QUIET_LOAD || first(machine.loadAfter) > 2.5;
  return [
    busy
      ? `**Provisional**: the machine was not idle when the run began or ended (${load}; the run itself adds about 2); ratios are more trustworthy than absolute figures. Re-run on a quiet machine.`
      : `Measured on a quiet machine (${load}).`,
    '',
    `- Date: ${machine.date}`,
    `- Machine: ${machine.cpu}, ${machine.cores} cores, Linux ${machine.kernel}`,
    `- ${tools}${versions.length > 0 ? `, ${versions.join(', ')}` : ''}`,
    `- Pinning: ${report.pinned ? `${pinning} (taskset)` : 'none (taskset or a second CPU missing)'}`,
  ];
}

function docsSection(report: Report, scenarios: Scenario[]): string {
  const { results, skipped } = report;
  const servers = report.servers.map((server) => ({
    name: server.name,
    version: server.version,
    description: SERVERS.find((spec) => spec.name === server.name)?.description ?? server.name,
  }));
  const judged = serverVerdicts(results, scenarios);
  const lines = [
    '## Server benchmark (`npm run bench`)',
    '',
    ...machineLines(report, `server on CPU ${SERVER_CPU}, load generator on CPU ${LOADGEN_CPU}`),
    `- Each cell: ${report.warmupS} s warm-up, then ${report.durationS} s measured (1 MiB x 1,000 cells: 2 s, then 6 s); binary messages unless the row says text.`,
    '',
    'Method: every server gets the same load from bench/loadgen, a Go program speaking raw RFC 6455',
    '(masked client frames) that checks every byte and the order of every echoed message and counts',
    'a cell with any error as failed (`cd bench/loadgen && go test` proves it catches corrupted,',
    'dropped, reordered and retyped echoes). Throughput cells keep a fixed number of messages in',
    'flight per connection; round-trip cells keep one. "per server CPU-s" is messages (or handshakes)',
    "per second of the server's own CPU time over the measured window (from /proc): the cost per",
    "message, which holds up when other jobs take part of the server's core, where msg/s does not.",
    'Idle memory: a fresh server, its RSS (/proc/<pid>/status) before and after the connections',
    'open, divided by their number. Fan-out: fresh fan-out servers, one publisher and N subscribers',
    'from the generator, one message at a time; the time until the last subscriber has it (median',
    'of the measured rounds) and the server CPU over the measured rounds only, per publish. The',
    'Redis rows run two sockeye processes on one redis-server, all pinned with the servers:',
    'the CPU of both, of the busiest one, and of redis-server over the same rounds.',
    'Every server first gets an unmeasured echo run (V8 warm-up).',
    `Re-run with \`npm run bench\`${runTime(report)}, \`npm run bench -- --quick\` (a subset, about`,
    '4 minutes), or `--only <id substring or /regex/>`; raw results go to reports/bench/.',
    '',
    'Servers:',
    ...servers.map((s) => `- **${s.name}**: ${s.description}`),
    ...skipped.map((reason) => `- left out: ${reason}`),
    '',
    'Values, with the ratio to **ws+native** (`ws` with bufferutil) in brackets. For latency and memory, smaller is better.',
    `† the load generator used at least ${GENERATOR_LIMIT * 100}% of its core in that cell: the server may be faster than shown.`,
    `‡ a close call (a ratio within ${CLOSE_BAND * 100}% of a target's bound after the first run): the median of ${CONFIRM_ROUNDS + 1} runs, sockeye, the server it is judged against and node-raw (judged on the same bound) measured in turn (one 2-second run of one server often moves by 10% or more between runs on this machine).`,
    '',
    table(
      results,
      scenarios,
      servers.map((s) => s.name),
    ),
    '',
    ...targetsSection(judged),
  ];
  // Throughput as a share of the ceiling's; for fan-out, server CPU per publish over the
  // ceiling's (its floor: one write of the same buffer per subscriber).
  const ceiling = scenarios.flatMap((scenario) => {
    const metric = scenario.metrics.includes('msgsPerSec')
      ? 'msgsPerSec'
      : scenario.metrics.includes('cpuMsPerPublish')
        ? 'cpuMsPerPublish'
        : undefined;
    const sockeye = metric === undefined ? undefined : results[scenario.id]?.sockeye?.values[metric];
    const raw = metric === undefined ? undefined : results[scenario.id]?.['node-raw']?.values[metric];
    if (sockeye === undefined || raw === undefined || raw === 0) return [];
    const share = `${((sockeye / raw) * 100).toFixed(0)}%`;
    return [
      `- ${scenario.label}: ${metric === 'msgsPerSec' ? share : `${share} of its server CPU per publish`}`,
    ];
  });
  if (ceiling.length > 0) {
    lines.push(
      '',
      '### sockeye against the raw Node ceiling (msg/s, sockeye / node-raw; fan-out: server CPU per publish)',
      '',
      ...ceiling,
    );
  }
  const failed = scenarios.flatMap((scenario) =>
    Object.entries(results[scenario.id] ?? {})
      .filter(([, cell]) => cell.error !== undefined)
      .map(([server, cell]) => `- ${scenario.id} / ${server}: ${cell.error}`),
  );
  if (failed.length > 0) lines.push('', '### Errors', '', ...failed);
  return lines.join('\n');
}

/**
 * The "Targets" section: issue 17's targets and the earlier ones kept, judged on this run
 * (the client's, item 7, are in the client benchmark's section).
 */
function targetsSection(judged: Map<string, Verdict[]>): string[] {
  return [
    '### Targets',
    '',
    'The current performance goals (numbered), then the earlier ones they did not replace. A target',
    'is met when every cell of it is. Each verdict is on the metric the goal names (sockeye’s value over the',
    'row named); throughput targets also get the verdict on messages (or handshakes) per server',
    'CPU-second, the figure to trust on a busy machine (on a quiet one, with the server saturated,',
    'the two agree). The last column judges node-raw, the raw Node ceiling (a server that does',
    'only the I/O: no checks, no assembled messages), on the same bound in the same run: where it',
    'misses too, the target is beyond what a Node server reached here. The client’s targets',
    '(goal 7) are judged in the client benchmark.',
    '',
    ...targetsSummary([...judged.values()].flat(), 'per server CPU-s'),
    '',
    'Earlier goals replaced by the current ones, no longer judged:',
    '',
    ...REPLACED.map((text) => `- ${text}`),
  ];
}

/**
 * Minutes the SSE fan-out, the long-poll round trips and the session benchmark add after the
 * server and client cells (measured 2026-12-06 on the loaded 2-core machine: 14 s, 26 s,
 * and about 3 minutes for the sessions).
 */
const OTHER_BENCHMARKS_MINUTES = 4;

/**
 * How long a full run takes, for the docs' re-run line: this run's server and client cells
 * as measured, the other benchmarks estimated; an estimate for saves without timings
 * (summed from the cells' timings of a quick run and of the 10,000-connection cells).
 */
function runTime(report: Report): string {
  const rest = `the SSE, long-poll and session benchmarks about ${OTHER_BENCHMARKS_MINUTES} more`;
  if (report.wallS === undefined)
    return ` (about 25 minutes: the server cells about 20, the client cells 3, ${rest})`;
  const minutes = (seconds: number) => Math.max(1, Math.round(seconds / 60));
  const clients =
    report.wallS.clients === undefined ? '' : `, the client cells ${minutes(report.wallS.clients)}`;
  return ` (in this run the server cells took ${minutes(report.wallS.servers)} minutes${clients}; ${rest})`;
}

// --- main ------------------------------------------------------------------------------

/** What a run saves to reports/bench/ (and what `--from` reads back). */
interface Report {
  machine: Record<string, string>;
  durationS: number;
  warmupS: number;
  pinned: boolean;
  servers: { name: string; version?: string }[];
  skipped: string[];
  results: Results;
  /** The client benchmark, when the run had client cells. */
  clients?: ClientReport;
  /** Wall-clock seconds the server cells (from the first server's start) and the client cells took. */
  wallS?: { servers: number; clients?: number };
}

async function measureAll(
  scenarios: Scenario[],
  clientCells: ClientScenario[],
  machine: Record<string, string>,
): Promise<Report> {
  console.log(`load average before: ${machine.loadBefore}`);
  if (!PINNED)
    console.warn('WARNING: not pinning (needs taskset and 2 CPUs): server and generator share CPUs');
  buildLoadgen();
  buildSockeye();
  const began = performance.now();
  const skipped: string[] = [];
  const results: Results = {};
  const running: Running[] = [];
  try {
    for (const spec of scenarios.length > 0 ? selectServers() : []) {
      try {
        const launch = spec.prepare();
        if (typeof launch === 'string') throw new Error(launch);
        running.push(await startServer(spec, launch));
      } catch (error) {
        console.warn(`leaving out ${spec.name}: ${(error as Error).message}`);
        skipped.push(`${spec.name} (${(error as Error).message})`);
      }
    }
    // Every server first gets an unmeasured echo run, so that the first measured cell does not
    // pay for V8 optimising its hot path (a busy machine gives a short warm-up little CPU).
    if (running.length > 0) console.log('\npriming every server (unmeasured echo runs)');
    for (const server of running) {
      const cell = await measure(server, PRIMING).catch((error: unknown) => ({ error: String(error) }));
      if (cell.error !== undefined) console.warn(`  ${server.spec.name}: priming failed: ${cell.error}`);
    }
    for (const scenario of scenarios) {
      results[scenario.id] = {};
      console.log(`\n${scenario.label} [${scenario.id}]`);
      for (const server of running) {
        const cell = await measureCell(server, scenario);
        if (cell === null) continue; // this row has no such server
        results[scenario.id]![server.spec.name] = cell;
        printCell(scenario, server.spec.name, cell);
      }
    }
    if (CONFIRM_ROUNDS > 0) await confirmCloseCalls(scenarios, running, results);
  } finally {
    for (const server of running) await server.process.stop();
  }
  const serversS = (performance.now() - began) / 1000;
  const clientsBegan = performance.now();
  const clients = clientCells.length > 0 ? await measureClientBench(clientCells) : undefined;
  const clientsS = clients === undefined ? undefined : (performance.now() - clientsBegan) / 1000;
  machine.loadAfter = loadavg();
  console.log(`\nload average after: ${machine.loadAfter}\n`);
  return {
    machine,
    durationS: DURATION_S,
    warmupS: WARMUP_S,
    pinned: PINNED,
    servers: running.map((r) => ({ name: r.spec.name, version: r.launch.version })),
    skipped,
    results,
    ...(clients === undefined ? {} : { clients }),
    wallS: { servers: serversS, ...(clientsS === undefined ? {} : { clients: clientsS }) },
  };
}

/**
 * One run of one cell, however its mode measures it (a fresh server for the fan-out, idle and
 * flagged cells, the running one for the rest), with its wall-clock time; null when the
 * server has no entry for that mode (fan-out rows).
 */
async function measureCell(server: Running, scenario: Scenario): Promise<Cell | null> {
  const began = performance.now();
  let cell: Cell;
  try {
    if (scenario.mode === 'fanout') {
      const measured = await measureFanout(server.spec, scenario);
      if (measured === null) return null;
      cell = measured;
    } else {
      cell =
        scenario.serverArgs !== undefined
          ? await measureWithFlags(server, scenario, scenario.serverArgs)
          : scenario.mode === 'idle'
            ? await measureIdle(server.spec, server.launch, scenario)
            : await measure(server, scenario);
    }
  } catch (error) {
    cell = { values: {}, error: (error as Error).message };
  }
  cell.wallS = (performance.now() - began) / 1000;
  return cell;
}

/**
 * Extra runs of a close call: a cell whose ratio (or per CPU-second ratio) is within
 * `CLOSE_BAND` of its target's bound is run {@link CONFIRM_ROUNDS} more times for sockeye,
 * the server it is judged against and node-raw (judged on the same bound), in turn, and each
 * value becomes the median of all its runs. One 2-second run of one server often moves by 10% or more between runs here:
 * enough to turn a verdict either way, and both sides are measured again, so the median is
 * not a second chance for sockeye alone. Every mode: the cells that start a fresh server per
 * run (idle memory, fan-out, the cells with their own server flags) start one per extra run
 * too.
 */
async function confirmCloseCalls(scenarios: Scenario[], running: Running[], results: Results): Promise<void> {
  const calls = closeCalls(results, scenarios);
  if (calls.size === 0) return;
  console.log(
    `\nclose calls (within ${CLOSE_BAND * 100}% of a bound): ${calls.size} cells, ${CONFIRM_ROUNDS} more runs each`,
  );
  for (const scenario of scenarios) {
    const names = calls.get(scenario.id);
    if (names === undefined) continue;
    const servers = running.filter(
      (server) => names.includes(server.spec.name) && results[scenario.id]![server.spec.name] !== undefined,
    );
    const runs = new Map<string, Cell[]>(
      servers.map((server) => [server.spec.name, [results[scenario.id]![server.spec.name]!]]),
    );
    for (let round = 0; round < CONFIRM_ROUNDS; round++) {
      for (const server of servers) {
        const cell = (await measureCell(server, scenario)) ?? { values: {}, error: 'no such cell' };
        runs.get(server.spec.name)!.push(cell);
      }
    }
    console.log(`${scenario.label} [${scenario.id}], median of ${CONFIRM_ROUNDS + 1} runs`);
    for (const [name, cells] of runs) {
      const combined = medianOfRuns(cells);
      combined.wallS = cells.reduce((sum, cell) => sum + (cell.wallS ?? 0), 0);
      combined.runs = cells.length;
      combined.runValues = cells.map((cell) => cell.values);
      results[scenario.id]![name] = combined;
      printCell(scenario, name, combined);
    }
  }
}

/** The client benchmark: a fresh fixed server on the server CPU, each client on the other. */
async function measureClientBench(cells: ClientScenario[]): Promise<ClientReport> {
  const spec = SERVERS.find((s) => s.name === CLIENT_BENCH_SERVER)!;
  const launch = spec.prepare();
  if (typeof launch === 'string') throw new Error(`the client benchmark's server: ${launch}`);
  await buildClients();
  const server = await startServer(spec, launch);
  try {
    console.log(`\nclient benchmark: every client against ${spec.name} (${server.url})`);
    const results = await measureClients({
      url: server.url,
      serverPid: server.process.child.pid!,
      scenarios: cells,
      timing: { warmupS: WARMUP_S, durationS: DURATION_S },
      rounds: CLIENT_ROUNDS,
      cpu: LOADGEN_CPU,
      pin: pinned,
    });
    return {
      rounds: CLIENT_ROUNDS,
      server: `${spec.name}: ${spec.description} (${launch.version ?? 'unknown version'})`,
      clients: CLIENTS.map((client) => ({ name: client.name, version: client.version() })),
      results,
    };
  } finally {
    await server.process.stop();
  }
}

function printCell(scenario: Scenario, server: string, cell: Cell): void {
  const shown = scenario.metrics
    .map((m) => (cell.values[m] === undefined ? '' : `${format(m, cell.values[m]!)} ${METRICS[m].unit}`))
    .filter(Boolean)
    .join(', ');
  const percent = (share: number | undefined) => (share === undefined ? '?' : `${(share * 100).toFixed(0)}%`);
  const cpu =
    cell.serverCpu === undefined
      ? ''
      : ` (CPU: server ${percent(cell.serverCpu)}, generator ${percent(cell.loadgenCpu)})`;
  console.log(`  ${server.padEnd(10)} ${shown}${cpu}${cell.error ? `  ERROR: ${cell.error}` : ''}`);
}

async function main(): Promise<void> {
  if (options.only === 'sessions') return; // the session benchmark alone (runSessionBenchmark)
  let report: Report;
  let scenarios: Scenario[];
  let clientCells: ClientScenario[];
  if (options.from !== undefined) {
    // Re-render a saved run (for example after a change to this page's layout).
    report = JSON.parse(readFileSync(options.from, 'utf8')) as Report;
    // Older saves lack the server list: take the names from the results, in table order.
    report.servers ??= SERVERS.filter((spec) =>
      Object.values(report.results).some((cells) => cells[spec.name] !== undefined),
    ).map((spec) => ({ name: spec.name }));
    scenarios = allScenarios().filter((s) => report.results[s.id] !== undefined);
    clientCells = clientScenarios().filter((s) => report.clients?.results[s.id] !== undefined);
  } else {
    scenarios = selectScenarios();
    clientCells = selectClientScenarios();
    if (scenarios.length === 0 && clientCells.length === 0 && !selected(SSE_ID) && !selected(LONG_POLL_ID))
      throw new Error(`no scenario matches --only ${options.only}`);
    if (!options['no-settle']) await settle();
    report = await measureAll(scenarios, clientCells, {
      date: new Date().toISOString(),
      cpu: (readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.+)$/m)?.[1] ?? 'unknown').trim(),
      cores: String(cpus().length),
      kernel: release(),
      node: process.version,
      go: commandOutput('go', ['version']).replace(/^go version go(\S+).*$/, 'Go $1'),
      loadBefore: loadavg(),
    });
    mkdirSync(REPORT_DIR, { recursive: true });
    const json = `${JSON.stringify(report, null, 2)}\n`;
    writeFileSync(join(REPORT_DIR, `results-${report.machine.date!.replace(/[:.]/g, '-')}.json`), json);
    writeFileSync(join(REPORT_DIR, 'latest.json'), json);
  }
  if (scenarios.length > 0) {
    console.log(
      table(
        report.results,
        scenarios,
        report.servers.map((s) => s.name),
      ),
    );
    console.log(`\n${targetsSection(serverVerdicts(report.results, scenarios)).join('\n')}`);
  }
  if (report.clients !== undefined) {
    console.log(`\n${clientTable(report.clients, clientCells)}`);
    console.log(`\n${clientTargetsSection(report.clients, clientCells).join('\n')}`);
  }
  if (report.wallS !== undefined) {
    const clients =
      report.wallS.clients === undefined ? '' : `, client cells ${report.wallS.clients.toFixed(0)} s`;
    console.log(`\nserver cells ${report.wallS.servers.toFixed(0)} s${clients}`);
  }
  const fullRun = !options.quick && options.only === undefined && options.servers === undefined;
  if (!options['no-docs'] && (fullRun || options['write-docs'])) {
    if (scenarios.length > 0) writeDocs('servers', docsSection(report, scenarios));
    if (report.clients !== undefined && clientCells.length > 0) {
      writeDocs(
        'clients',
        clientDocsSection(report.clients, clientCells, {
          machineLines: machineLines(
            report,
            `client on CPU ${LOADGEN_CPU}, fixed server on CPU ${SERVER_CPU}`,
            report.clients.clients.map((client) => client.version),
          ),
          timing: `${report.warmupS} s warm-up, then ${report.durationS} s measured, every client in turn, ${report.clients.rounds} rounds; the median of the rounds`,
        }),
      );
    }
  } else console.log('(docs/benchmarks.md left alone: only a full run, or --write-docs, rewrites it)');
  if (options.from === undefined && selected(SSE_ID))
    await timed('the SSE fan-out', () => runSseBench(fullRun));
  if (options.from === undefined && selected(LONG_POLL_ID))
    await timed('the long-poll round trips', () => runLongPollBench(fullRun));
}

/** Run one part of the benchmark and say how long it took (what the docs' run time is made of). */
async function timed(what: string, part: () => Promise<void> | void): Promise<void> {
  const began = performance.now();
  await part();
  console.log(`\n${what} took ${((performance.now() - began) / 1000).toFixed(0)} s`);
}

/** The SSE fan-out's id, for `--only`. */
const SSE_ID = 'sse-fanout';
/** The long-poll round trips' id, for `--only`. */
const LONG_POLL_ID = 'long-poll';

/**
 * Whether this run includes the benchmark `id` (the SSE fan-out, the long-poll round
 * trips): a run without `--only`/`--servers`, or an `--only` matching its id.
 */
function selected(id: string): boolean {
  const only = options.only;
  if (only === undefined) return options.servers === undefined;
  return only.startsWith('/') && only.endsWith('/')
    ? new RegExp(only.slice(1, -1)).test(id)
    : id.includes(only);
}

/** The conditions of a run of one of the HTTP benchmarks: the provisional warning if the machine was busy, date, load, pinning. */
function httpBenchConditions(loadBefore: string, client: string): string[] {
  const busy = Number(loadBefore.split(' ')[0]) > 0.5;
  return [
    ...(busy
      ? [
          '**Provisional**: the machine was not idle when the run began; the ratio is more trustworthy than the absolute figures.',
          '',
        ]
      : []),
    `- Date: ${new Date().toISOString()}, load average ${loadBefore} before, ${loadavg()} after`,
    `- Node ${process.version}; pinning: ${PINNED ? `server on CPU ${SERVER_CPU}, ${client} on CPU ${LOADGEN_CPU} (taskset)` : 'none'}`,
  ];
}

/** SSE fan-out (bench/sse.ts): sockeye's topic EventSource beside a plain Node SSE server. */
async function runSseBench(fullRun: boolean): Promise<void> {
  console.log('\nSSE fan-out (1,000 EventSource streams):');
  const loadBefore = loadavg();
  const report = await measureSse(options.quick ? { messages: 100, rounds: 1 } : {});
  mkdirSync(REPORT_DIR, { recursive: true });
  writeFileSync(join(REPORT_DIR, 'sse-latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  const section = sseSection(report, httpBenchConditions(loadBefore, 'reader'));
  console.log(`\n${section}`);
  if (report.ratio !== undefined) console.log(`\nsockeye / node-sse: ${report.ratio.toFixed(2)}`);
  if (!options['no-docs'] && (fullRun || options['write-docs'])) writeDocs('sse', section);
}

/** Long-poll round trips (bench/long-poll.ts): sockeye's session long-polling beside WebSocket and a plain Node server. */
async function runLongPollBench(fullRun: boolean): Promise<void> {
  console.log('\nLong-poll round trips (1 and 100 sessions):');
  const loadBefore = loadavg();
  const report = await measureLongPoll(options.quick ? { roundTrips: 1000, rounds: 1 } : {});
  mkdirSync(REPORT_DIR, { recursive: true });
  writeFileSync(join(REPORT_DIR, 'long-poll-latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  const section = longPollSection(report, httpBenchConditions(loadBefore, 'client'));
  console.log(`\n${section}`);
  if (!options['no-docs'] && (fullRun || options['write-docs'])) writeDocs('long-poll', section);
}

/** The session benchmark (bench/sessions.ts), in its own process, after the others. */
function runSessionBenchmark(): void {
  if (options.from !== undefined || options.servers !== undefined) return;
  if (options.only !== undefined && options.only !== 'sessions') return;
  const args = ['--import', 'tsx', join(ROOT, 'bench', 'sessions.ts')];
  if (options.quick) args.push('--quick');
  if (options['no-docs']) args.push('--no-docs');
  const began = performance.now();
  const result = spawnSync(process.execPath, args, { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`the session benchmark failed (${result.status ?? result.error})`);
  console.log(`\nthe session benchmark took ${((performance.now() - began) / 1000).toFixed(0)} s`);
}

timed('npm run bench', () => main().then(runSessionBenchmark)).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
