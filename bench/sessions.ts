/**
 * The session benchmark (part of `npm run bench`; alone: `node --import tsx bench/sessions.ts`):
 *
 * 1. **Overhead**: echo throughput over a session (`ReconnectingWebSocket`, numbered
 *    messages, acknowledgements, replay buffers on both sides) against plain WebSocket
 *    connections to the same `SessionServer`, with the same client library underneath
 *    (sockeye's `WebSocket`), the same connections, messages and messages in flight.
 *    Plain and session rounds alternate; the median of each is kept.
 * 2. **Memory per idle session** on the server: heap + arrayBuffers after two full
 *    collections, before and after opening 1,000, then 5,000, then 10,000 idle sessions,
 *    divided by their number (the server holds their state, links and empty replay buffers).
 * 3. **Reconnect storm**: 10,000 sessions on server A; A closes, and its clients resume on
 *    server B, another process (A, a child of B, keeps its suspended sessions in B's
 *    store, as two servers share a Redis; a client-side router plays the load balancer
 *    that sends new connections to B). Without spreading, A closes every link at once (1012,
 *    each once its session is in the store; the clients' own backoff, uniform in
 *    [0, 0.5 s)); with spreading, A drains (1012, links closed evenly over 5 s, clients
 *    told to come back within 1 s). Measured on B: the
 *    peak resumes per second (over 100 ms and 1 s windows) and the time from the start
 *    of the close until every session resumed.
 *
 * The servers (bench/servers/sessions.mjs, the compiled package) run in their own
 * processes, pinned to CPU 0 when `taskset` works; this process (the clients) goes to CPU 1. Loopback
 * only; every wait is bounded. Results go to stdout and, on a full run, to the
 * "Sessions" section of docs/benchmarks.md (between the bench:sessions markers).
 *
 * Options: --quick (small and short, to check the script), --sessions N (the storm's and
 * memory's largest count), --only overhead|memory|storm (one part), --no-docs.
 */
import { type ChildProcess, fork, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  ReconnectingWebSocket,
  type ReconnectingWebSocketOptions,
  type SessionOpenEvent,
  WebSocket,
  type WebSocketConstructor,
} from '@sockeye/sockeye';
import { ROOT } from '../scripts/lib/prereqs.js';

/** The sizes of a run. */
export interface SessionBenchSettings {
  /** Sessions of the reconnect storm (and the memory part's largest count). */
  sessions: number;
  /** The idle session counts the memory part measures at. */
  memorySteps: number[];
  /** The overhead part: connections, messages in flight on each, payload, and how long. */
  throughput: {
    connections: number;
    inFlight: number;
    payload: string;
    warmupMs: number;
    measureMs: number;
    rounds: number;
  };
  /** The drained storm: links closed evenly over this many ms... */
  drainPeriod: number;
  /** ...and clients told to come back within this many. */
  retryWindow: number;
}

/** The sizes of `npm run bench`, or (`quick`) small and short, to check the script. */
export function benchSettings(quick: boolean, sessions?: number): SessionBenchSettings {
  const max = sessions ?? (quick ? 1000 : 10_000);
  return {
    sessions: max,
    memorySteps: quick ? [500, 1000] : [1000, 5000, 10_000].filter((n) => n <= max),
    throughput: {
      connections: 8,
      inFlight: 64,
      payload: 'x'.repeat(64),
      warmupMs: quick ? 200 : 500,
      measureMs: quick ? 500 : 2000,
      rounds: quick ? 1 : 3,
    },
    drainPeriod: 5000,
    retryWindow: 1000,
  };
}

/** Hang guards: a step that takes longer fails the run (they are not measurements). */
const OPEN_TIMEOUT = 180_000;
const STORM_TIMEOUT = 180_000;
const DOCS = join(ROOT, 'docs', 'benchmarks.md');
const SERVER_CPU = '0';
const CLIENT_CPU = '1';

const NodeWebSocket = WebSocket as unknown as WebSocketConstructor;

function canPin(): boolean {
  return cpus().length >= 2 && spawnSync('taskset', ['-c', CLIENT_CPU, 'true']).status === 0;
}
/** Whether the servers go to CPU 0 (and this process to CPU 1): run from the command line only. */
let PINNED = false;

// ---- the server process ----

interface ServerProcess {
  child: ChildProcess;
  port: number;
  /** With `withA`: server A's port (A is a child of this process). */
  portA?: number;
  /** Send a command; resolve with the next answer that has `key`. */
  ask<T>(command: Record<string, unknown>, key: string): Promise<T>;
  next<T>(key: string): Promise<T>;
  stop(): Promise<void>;
}

/** Start a server process (`withA`: B, which starts A with B's store as A's). */
async function startServer(name: string, withA = false): Promise<ServerProcess> {
  const script = join(ROOT, 'bench', 'servers', 'sessions.mjs');
  if (!existsSync(join(ROOT, 'packages', 'sockeye', 'dist', 'index.js'))) {
    throw new Error('sockeye is not built: run `npx tsc -b` first');
  }
  const child = fork(script, ['--name', name, ...(withA ? ['--with-a'] : [])], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  });
  if (PINNED && child.pid !== undefined) {
    spawnSync('taskset', ['-p', '-c', SERVER_CPU, String(child.pid)], { stdio: 'ignore' });
  }
  const waiting: Array<{ key: string; resolve: (value: never) => void }> = [];
  const backlog: Record<string, unknown>[] = [];
  child.on('message', (message: Record<string, unknown>) => {
    const index = waiting.findIndex((w) => w.key in message);
    if (index === -1) backlog.push(message);
    else waiting.splice(index, 1)[0]!.resolve(message as never);
  });
  const next = <T>(key: string): Promise<T> => {
    const index = backlog.findIndex((message) => key in message);
    if (index !== -1) return Promise.resolve(backlog.splice(index, 1)[0] as T);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the server did not answer ${key}`)), STORM_TIMEOUT);
      waiting.push({
        key,
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
      });
    });
  };
  const { port, portA } = await next<{ port: number; portA?: number }>('port');
  return {
    child,
    port,
    ...(portA === undefined ? {} : { portA }),
    next,
    ask: (command, key) => {
      child.send(command);
      return next(key);
    },
    stop: async () => {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.send({ cmd: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// ---- helpers ----

async function until(condition: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)]!;
};

/** A reconnecting client that stays quiet (no heartbeat within the run) unless told otherwise. */
function sessionClient(url: string, extra: ReconnectingWebSocketOptions = {}): ReconnectingWebSocket {
  return new ReconnectingWebSocket(url, {
    WebSocket: NodeWebSocket,
    lifecycle: false,
    heartbeatInterval: 600_000,
    heartbeatTimeout: 600_000,
    connectTimeout: 60_000,
    ...extra,
  });
}

/** Open `count` sessions in batches (so the accept queue is not what is measured), resolve when all are open. */
async function openSessions(
  count: number,
  url: (i: number) => string,
  extra: ReconnectingWebSocketOptions = {},
): Promise<ReconnectingWebSocket[]> {
  const clients: ReconnectingWebSocket[] = [];
  let open = 0;
  const BATCH = 250;
  for (let i = 0; i < count; i += BATCH) {
    for (let j = i; j < Math.min(count, i + BATCH); j++) {
      const client = sessionClient(url(j), extra);
      client.addEventListener('open', () => open++, { once: true });
      clients.push(client);
    }
    await until(
      () => open >= Math.min(count, i + BATCH),
      `${Math.min(count, i + BATCH)} sessions to open`,
      OPEN_TIMEOUT,
    );
  }
  return clients;
}

async function closeAll(clients: { close(): void }[]): Promise<void> {
  for (const client of clients) {
    try {
      client.close();
    } catch {
      // already closed
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
}

// ---- 1. overhead ----

/** One round: messages per second, and per CPU-second of the server and of the clients. */
interface Rate {
  perSecond: number;
  perServerCpuSecond: number;
  perClientCpuSecond: number;
}

interface Throughput {
  plain: Rate;
  session: Rate;
  ratio: number;
  rounds: number;
}

/** Echo throughput of `connections` clients keeping `inFlight` messages each, for `measureMs`. */
async function pump(
  THROUGHPUT: SessionBenchSettings['throughput'],
  server: ServerProcess,
  makeClients: () => Promise<{ send(data: string): void; onEcho(fn: () => void): void; close(): void }[]>,
): Promise<Rate> {
  const clients = await makeClients();
  let counting = false;
  let count = 0;
  let stop = false;
  for (const client of clients) {
    client.onEcho(() => {
      if (counting) count++;
      if (!stop) client.send(THROUGHPUT.payload);
    });
    for (let i = 0; i < THROUGHPUT.inFlight; i++) client.send(THROUGHPUT.payload);
  }
  await new Promise((resolve) => setTimeout(resolve, THROUGHPUT.warmupMs));
  const serverCpu = () => server.ask<{ cpuMicros: number }>({ cmd: 'cpu' }, 'cpuMicros');
  const serverBefore = (await serverCpu()).cpuMicros;
  const clientBefore = process.cpuUsage();
  counting = true;
  const start = performance.now();
  await new Promise((resolve) => setTimeout(resolve, THROUGHPUT.measureMs));
  counting = false;
  const elapsed = performance.now() - start;
  const client = process.cpuUsage(clientBefore);
  const serverMicros = (await serverCpu()).cpuMicros - serverBefore;
  stop = true;
  for (const client of clients) client.close();
  await new Promise((resolve) => setTimeout(resolve, 200));
  return {
    perSecond: (count * 1000) / elapsed,
    perServerCpuSecond: (count * 1e6) / serverMicros,
    perClientCpuSecond: (count * 1e6) / (client.user + client.system),
  };
}

async function plainClients(THROUGHPUT: SessionBenchSettings['throughput'], url: string) {
  return Promise.all(
    Array.from({ length: THROUGHPUT.connections }, async () => {
      const ws = new WebSocket(url);
      await new Promise<void>((resolve, reject) => {
        ws.onopen = () => resolve();
        ws.onerror = () => reject(new Error('a plain connection failed'));
      });
      return {
        send: (data: string) => ws.send(data),
        onEcho: (fn: () => void) => {
          ws.onmessage = fn;
        },
        close: () => ws.close(),
      };
    }),
  );
}

async function sessionClients(THROUGHPUT: SessionBenchSettings['throughput'], url: string) {
  const clients = await openSessions(THROUGHPUT.connections, () => url, { maxQueuedMessages: 10_000 });
  return clients.map((ws) => ({
    send: (data: string) => ws.send(data),
    onEcho: (fn: () => void) => {
      ws.onmessage = fn;
    },
    close: () => ws.close(),
  }));
}

/** Part 1: session against plain throughput, interleaved rounds. */
export async function measureOverhead(settings: SessionBenchSettings): Promise<Throughput> {
  const THROUGHPUT = settings.throughput;
  const server = await startServer('A');
  try {
    const url = `ws://127.0.0.1:${server.port}/`;
    const plain: Rate[] = [];
    const session: Rate[] = [];
    await pump(THROUGHPUT, server, () => plainClients(THROUGHPUT, url)); // V8 warm-up of both paths, unmeasured
    await pump(THROUGHPUT, server, () => sessionClients(THROUGHPUT, url));
    const show = (rate: Rate) =>
      `${Math.round(rate.perSecond)} msg/s (${Math.round(rate.perServerCpuSecond)} per server CPU-s, ${Math.round(rate.perClientCpuSecond)} per client CPU-s)`;
    for (let round = 0; round < THROUGHPUT.rounds; round++) {
      plain.push(await pump(THROUGHPUT, server, () => plainClients(THROUGHPUT, url)));
      session.push(await pump(THROUGHPUT, server, () => sessionClients(THROUGHPUT, url)));
      console.log(`  round ${round + 1}: plain ${show(plain.at(-1)!)}, session ${show(session.at(-1)!)}`);
    }
    const medianRate = (rates: Rate[]): Rate => ({
      perSecond: median(rates.map((r) => r.perSecond)),
      perServerCpuSecond: median(rates.map((r) => r.perServerCpuSecond)),
      perClientCpuSecond: median(rates.map((r) => r.perClientCpuSecond)),
    });
    const p = medianRate(plain);
    const s = medianRate(session);
    return { plain: p, session: s, ratio: s.perSecond / p.perSecond, rounds: THROUGHPUT.rounds };
  } finally {
    await server.stop();
  }
}

// ---- 2. memory ----

interface MemoryStep {
  sessions: number;
  bytesPerSession: number;
}

/** Part 2: memory per idle session on the server. */
export async function measureMemory(settings: SessionBenchSettings): Promise<MemoryStep[]> {
  const server = await startServer('A');
  const clients: ReconnectingWebSocket[] = [];
  try {
    const url = `ws://127.0.0.1:${server.port}/`;
    const memory = () => server.ask<{ heldBytes: number; sessions: number }>({ cmd: 'memory' }, 'heldBytes');
    // One session opened and closed first, so the code paths are loaded before the baseline.
    await closeAll(await openSessions(1, () => url));
    const baseline = (await memory()).heldBytes;
    const steps: MemoryStep[] = [];
    for (const target of settings.memorySteps) {
      clients.push(...(await openSessions(target - clients.length, () => url)));
      await new Promise((resolve) => setTimeout(resolve, 500)); // the last acknowledgements settle
      const { heldBytes, sessions } = await memory();
      if (sessions < target) throw new Error(`the server holds ${sessions} sessions, not ${target}`);
      steps.push({ sessions: target, bytesPerSession: (heldBytes - baseline) / target });
      console.log(`  ${target} idle sessions: ${Math.round((heldBytes - baseline) / target)} bytes each`);
    }
    return steps;
  } finally {
    await closeAll(clients);
    await server.stop();
  }
}

// ---- 3. reconnect storm ----

interface Storm {
  name: string;
  sessions: number;
  /** Peak resumes per second on B over 100 ms windows (scaled to a second). */
  peak100ms: number;
  /** Peak resumes in any 1 s window. */
  peak1s: number;
  /** ms from the start of A's close until every session resumed on B. */
  allResumedMs: number;
  /** Sessions that came back as new ones (lost): should be 0. */
  lost: number;
  /** How long A took to close (its drain). */
  closeMs: number;
}

/** Part 3: the reconnect storm, A closing at once (`drainPeriod` 0) or draining. */
export async function measureStorm(
  settings: SessionBenchSettings,
  name: string,
  drainPeriod: number,
): Promise<Storm> {
  const MAX_SESSIONS = settings.sessions;
  // B starts A, which keeps its suspended sessions in B's store, as two servers share a Redis.
  const b = await startServer('B', true);
  const portA = b.portA!;
  const askA = <T>(command: Record<string, unknown>, key: string) => b.ask<T>({ ...command, toA: true }, key);
  let clients: ReconnectingWebSocket[] = [];
  try {
    // The load balancer: new connections go to A until it starts closing, then to B.
    let target = portA;
    const Routed = class extends WebSocket {
      constructor(_url: string, protocols: string[]) {
        super(`ws://127.0.0.1:${target}/`, protocols);
      }
    } as unknown as WebSocketConstructor;
    clients = await openSessions(MAX_SESSIONS, () => 'ws://load-balancer/', { WebSocket: Routed });
    let resumed = 0;
    let lost = 0;
    for (const client of clients) {
      client.addEventListener('open', (event) => {
        if ((event as SessionOpenEvent).resumed) resumed++;
      });
      client.addEventListener('sessionlost', () => lost++);
    }
    target = b.port;
    await b.ask({ cmd: 'mark' }, 'marked');
    await askA({ cmd: 'drain', drainPeriod, retryWindow: settings.retryWindow }, 'started');
    const progress = setInterval(
      () =>
        console.log(
          `    ${resumed} resumed, ${lost} lost, ${clients.filter((c) => c.state === 'open').length} open`,
        ),
      10_000,
    );
    try {
      await until(() => resumed + lost >= MAX_SESSIONS, 'every session to come back', STORM_TIMEOUT);
    } finally {
      clearInterval(progress);
    }
    const { drained: closeMs } = await b.next<{ drained: number }>('drained');
    const { times } = await b.ask<{ times: number[]; opens: number }>({ cmd: 'resumes' }, 'times');
    const sorted = [...times].sort((x, y) => x - y);
    const peakOver = (windowMs: number) => {
      let peak = 0;
      let start = 0;
      for (let end = 0; end < sorted.length; end++) {
        while (sorted[end]! - sorted[start]! >= windowMs) start++;
        peak = Math.max(peak, end - start + 1);
      }
      return peak;
    };
    const storm: Storm = {
      name,
      sessions: MAX_SESSIONS,
      peak100ms: peakOver(100) * 10,
      peak1s: peakOver(1000),
      allResumedMs: sorted.at(-1) ?? 0,
      lost,
      closeMs,
    };
    console.log(
      `  ${name}: peak ${storm.peak100ms}/s (100 ms windows), ${storm.peak1s} in 1 s; all resumed after ${Math.round(storm.allResumedMs)} ms (A closed in ${Math.round(closeMs)} ms); lost ${lost}`,
    );
    return storm;
  } finally {
    await closeAll(clients);
    await b.stop();
  }
}

// ---- report ----

/** The "Sessions" section of docs/benchmarks.md. */
export function docsSection(report: {
  date: string;
  loadBefore: string;
  loadAfter: string;
  throughput: Throughput;
  memory: MemoryStep[];
  storms: Storm[];
  settings: SessionBenchSettings;
}): string {
  const {
    throughput: THROUGHPUT,
    sessions: MAX_SESSIONS,
    drainPeriod: DRAIN_PERIOD,
    retryWindow: RETRY_WINDOW,
  } = report.settings;
  const k = (n: number) => (n >= 10_000 ? `${(n / 1000).toFixed(1)}k` : String(Math.round(n)));
  const cpu = (
    readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.+)$/m)?.[1] ?? 'unknown'
  ).trim();
  return [
    '## Sessions (`npm run bench`)',
    '',
    `**Measured** ${report.date}, ${cpu}, ${cpus().length} cores (load average ${report.loadBefore} before, ${report.loadAfter} after), Node ${process.version}, sockeye compiled (packages/sockeye/dist)${PINNED ? `; server process on CPU ${SERVER_CPU}, clients on CPU ${CLIENT_CPU}` : ', unpinned'}. Ratios are more trustworthy than absolute figures. Re-run with \`node --import tsx bench/sessions.ts\` (bench/sessions.ts; about 3 minutes).`,
    '',
    `**Overhead.** Echo of 64-byte text messages, ${THROUGHPUT.connections} connections, ${THROUGHPUT.inFlight} messages in flight each, to one \`SessionServer\`: plain WebSocket connections (sockeye's \`WebSocket\`) against sessions (\`ReconnectingWebSocket\` over the same client: numbering, acknowledgements, replay buffers on both sides). ${THROUGHPUT.warmupMs} ms warm-up then ${THROUGHPUT.measureMs} ms measured, plain and session alternating, median of ${report.throughput.rounds} rounds.`,
    '',
    '| | msg/s | per server CPU-s | per client CPU-s |',
    '| --- | ---: | ---: | ---: |',
    ...(['plain', 'session'] as const).map((kind) => {
      const rate = report.throughput[kind];
      const base = report.throughput.plain;
      const of = (value: number, baseline: number) =>
        kind === 'plain' ? '' : ` (${(value / baseline).toFixed(2)}x)`;
      return `| ${kind === 'plain' ? 'plain WebSocket' : 'session'} | ${k(rate.perSecond)}${of(rate.perSecond, base.perSecond)} | ${k(rate.perServerCpuSecond)}${of(rate.perServerCpuSecond, base.perServerCpuSecond)} | ${k(rate.perClientCpuSecond)}${of(rate.perClientCpuSecond, base.perClientCpuSecond)} |`;
    }),
    '',
    `Session / plain: **${report.throughput.ratio.toFixed(2)}x** in messages per second (target: at least 0.8x). On a shared machine that ratio swings from run to run with what the other jobs take (whichever side is starved sets the rate); the cost per message does not: a session message costs about ${(1 / (report.throughput.session.perServerCpuSecond / report.throughput.plain.perServerCpuSecond)).toFixed(1)}x the server CPU of a plain one and ${(1 / (report.throughput.session.perClientCpuSecond / report.throughput.plain.perClientCpuSecond)).toFixed(1)}x the client CPU (a number, a kept copy and a share of an acknowledgement each way, the data frame's prefix, the text decoded where the plain echo passes bytes through, and a second event on the client), so the session reaches plain throughput only where CPU is not the limit.`,
    '',
    '**Memory per idle session**, on the server: heap + arrayBuffers after two full collections, before and after opening the sessions (linked, idle, nothing unacknowledged), divided by their number. It covers the session (state, empty replay buffer) and its link (the WebSocket connection).',
    '',
    '| idle sessions | bytes per session |',
    '| ---: | ---: |',
    ...report.memory.map(
      (step) =>
        `| ${step.sessions.toLocaleString('en-US')} | ${Math.round(step.bytesPerSession).toLocaleString('en-US')} |`,
    ),
    '',
    `**Reconnect storm**: ${MAX_SESSIONS.toLocaleString('en-US')} sessions on server A; A closes and every client resumes on server B, another process on the same core (A's suspended sessions go to B's store, as two servers share a Redis). Without spreading, A closes every link at once with 1012, each as soon as the store holds its session (the clients' backoff spreads them over [0, 0.5 s)); with spreading, A drains: 1012 with \`retry-after=${RETRY_WINDOW}\`, links closed evenly over ${DRAIN_PERIOD / 1000} s. On B: peak resumes per second, and the time from the start of A's close until all ${MAX_SESSIONS.toLocaleString('en-US')} resumed.`,
    '',
    '| A closes | peak resumes/s on B (100 ms windows) | peak in any 1 s | all resumed after | A closed in | sessions lost |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...report.storms.map(
      (storm) =>
        `| ${storm.name} | ${k(storm.peak100ms)} | ${k(storm.peak1s)} | ${(storm.allResumedMs / 1000).toFixed(1)} s | ${(storm.closeMs / 1000).toFixed(1)} s | ${storm.lost} |`,
    ),
    '',
    'The clients run in one process on one core: the fastest B can see them come back is about as fast as that process reconnects them, so the peak "at once" is a floor of what a real storm of independent clients would be. Draining spreads the arrivals over the drain period plus the retry window, and A closes on schedule.',
    ...(report.storms.some((storm) => storm.lost > 0)
      ? [
          '',
          'Sessions lost: a session A could not put in the store within its `persistTimeout` (5 s) had its link closed anyway; its client got a new session (`sessionlost`) on B.',
        ]
      : []),
    '',
  ].join('\n');
}

function writeDocs(section: string): void {
  const begin = '<!-- bench:sessions:begin (written by bench/sessions.ts; edits here are overwritten) -->';
  const end = '<!-- bench:sessions:end -->';
  const text = readFileSync(DOCS, 'utf8');
  const start = text.indexOf('<!-- bench:sessions:begin');
  const stop = text.indexOf(end);
  const block = `${begin}\n${section}${end}`;
  const updated =
    start !== -1 && stop !== -1
      ? text.slice(0, start) + block + text.slice(stop + end.length)
      : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(DOCS, updated);
  console.log('wrote the Sessions section of docs/benchmarks.md');
}

async function main(): Promise<void> {
  const { values: options } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      sessions: { type: 'string' },
      'no-docs': { type: 'boolean', default: false },
      only: { type: 'string' },
    },
  });
  /** `--only overhead|memory|storm`: one part (the docs are left alone). */
  const ONLY = options.only;
  const QUICK = options.quick;
  const settings = benchSettings(
    QUICK,
    options.sessions === undefined ? undefined : Number(options.sessions),
  );
  PINNED = canPin();
  if (PINNED) spawnSync('taskset', ['-p', '-c', CLIENT_CPU, String(process.pid)], { stdio: 'ignore' });
  const THROUGHPUT = settings.throughput;
  const loadBefore = loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');
  const part = (name: string) => ONLY === undefined || ONLY === name;
  let throughput: Throughput | undefined;
  if (part('overhead')) {
    console.log(
      `session overhead (${THROUGHPUT.connections} connections x ${THROUGHPUT.inFlight} in flight):`,
    );
    throughput = await measureOverhead(settings);
    console.log(
      `  median: plain ${Math.round(throughput.plain.perSecond)} msg/s, session ${Math.round(throughput.session.perSecond)} msg/s, ratio ${throughput.ratio.toFixed(2)}`,
    );
  }
  let memory: MemoryStep[] | undefined;
  if (part('memory')) {
    console.log('memory per idle session (server):');
    memory = await measureMemory(settings);
  }
  const storms: Storm[] = [];
  if (part('storm')) {
    console.log(`reconnect storm (${settings.sessions} sessions):`);
    storms.push(await measureStorm(settings, 'at once', 0));
    storms.push(
      await measureStorm(settings, `drained over ${settings.drainPeriod / 1000} s`, settings.drainPeriod),
    );
  }
  const loadAfter = loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');
  if (
    !QUICK &&
    !options['no-docs'] &&
    throughput !== undefined &&
    memory !== undefined &&
    storms.length > 0
  ) {
    writeDocs(
      docsSection({
        date: new Date().toISOString(),
        loadBefore,
        loadAfter,
        throughput,
        memory,
        storms,
        settings,
      }),
    );
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
