/**
 * The client benchmark of issue 4 (item 7), part of `npm run bench`: the roles swap. One
 * fixed echo server (the raw Node ceiling, bench/servers/node-raw.mjs, the cheapest server
 * per message we have) runs pinned on one CPU, and each client entry of bench/clients/ runs
 * in turn on the other, through the same browser-API loop (bench/clients/common.ts):
 * messages/s with many messages in flight, and the p50/p99 round trip with one. Ratios are
 * to the `ws` client. bench/run.ts starts the server and renders the section of
 * docs/benchmarks.md between the bench:clients markers.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { ROOT } from '../scripts/lib/prereqs.js';
import { BUN_VERSION, commit, installBun } from './servers.js';
import { boundText, CEILING, judge, targetsSummary, type Verdict } from './targets.js';

/** A client under test: one entry of bench/clients/. */
export interface ClientSpec {
  /** Short name, the table's column heading. */
  name: string;
  /** One line on what it is. */
  description: string;
  /** The entry file under bench/clients/. */
  entry: string;
  /** Version string for the report. */
  version: () => string;
  /** The program that runs the entry (Node, unless given; may install it, or throw when it cannot). */
  runtime?: () => string;
  /** Environment variables for the client process, besides the harness's own. */
  env?: Record<string, string>;
}

/** The baseline every client ratio is computed against. */
export const CLIENT_BASELINE = 'ws';

const NODE = process.execPath;

function wsVersion(): string {
  const result = spawnSync(NODE, ['-p', "require('ws/package.json').version"], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return `ws ${result.stdout.trim()}`;
}

/** Every client, in table order. */
export const CLIENTS: ClientSpec[] = [
  {
    name: 'sockeye',
    description:
      'sockeye’s `WebSocket` from the compiled package (`@sockeye/sockeye/client`, packages/sockeye/dist)',
    entry: 'sockeye-client.ts',
    version: () => `sockeye at ${commit()}`,
  },
  {
    name: CLIENT_BASELINE,
    description: 'the `ws` package’s `WebSocket`, with bufferutil installed (as deployed: it masks with it)',
    entry: 'ws-client.ts',
    version: wsVersion,
  },
  {
    name: 'ws-plain',
    description: 'the same `ws` client without native add-ons (WS_NO_BUFFER_UTIL=1, WS_NO_UTF_8_VALIDATE=1)',
    entry: 'ws-client.ts',
    env: { WS_NO_BUFFER_UTIL: '1', WS_NO_UTF_8_VALIDATE: '1' },
    version: wsVersion,
  },
  {
    name: 'node',
    description: 'Node’s built-in `WebSocket` (undici inside; Node 20 needs --experimental-websocket)',
    entry: 'node-client.ts',
    version: () => `undici ${process.versions.undici ?? '?'} (Node ${process.version})`,
  },
  {
    name: 'bun',
    description: `Bun’s built-in \`WebSocket\` client, run by bun@${BUN_VERSION} (from npm, as for the server benchmark)`,
    entry: 'bun-client.ts',
    runtime: installBun,
    version: () => `bun ${BUN_VERSION}`,
  },
  {
    name: 'node-raw',
    description:
      'the raw Node ceiling of a client (not a WebSocket client: no checks, no events, one write per read; it still makes the `ArrayBuffer` of each message and masks each frame with a random key)',
    entry: 'raw-client.ts',
    version: () => `Node ${process.version}`,
  },
];

/** A number the client table shows. */
export type ClientMetric = 'msgsPerSec' | 'perClientCpuSecond' | 'p50us' | 'p99us';

const CLIENT_METRICS: Record<ClientMetric, { unit: string; higherIsBetter: boolean }> = {
  msgsPerSec: { unit: 'msg/s', higherIsBetter: true },
  perClientCpuSecond: { unit: 'per client CPU-s', higherIsBetter: true },
  p50us: { unit: 'p50 µs', higherIsBetter: false },
  p99us: { unit: 'p99 µs', higherIsBetter: false },
};

/** One cell of the client benchmark: one run of every client. */
export interface ClientScenario {
  /** Stable id, matched by `--only` (all start with `client-`). */
  id: string;
  label: string;
  /** Binary message size in bytes. */
  size: number;
  /** Messages in flight (1 = strict round trips). */
  window: number;
  metrics: ClientMetric[];
  /**
   * Issue 17, item 7: sockeye's client over the `ws` client on `metric`, at least `ratio`
   * (msg/s, also judged per client CPU-second) or at most `ratio` (latency).
   */
  targets: { metric: ClientMetric; ratio: number }[];
  /** Part of the `--quick` subset. */
  quick: boolean;
}

/** Messages in flight in the pipelined cells (as the server benchmark's one-connection cells). */
const PIPELINE = 128;

/** The client benchmark's cells: 32 B and 1 KiB, pipelined and one at a time. */
export function clientScenarios(): ClientScenario[] {
  const sizes = [
    { bytes: 32, name: '32 B' },
    { bytes: 1024, name: '1 KiB' },
  ];
  return [
    ...sizes.map((size) => ({
      id: `client-echo-${size.name.replace(' ', '')}`,
      label: `client: ${size.name} pipelined, ${PIPELINE} in flight`,
      size: size.bytes,
      window: PIPELINE,
      metrics: ['msgsPerSec', 'perClientCpuSecond'] as ClientMetric[],
      targets: [{ metric: 'msgsPerSec' as const, ratio: 3 }],
      quick: size.bytes === 32,
    })),
    ...sizes.map((size) => ({
      id: `client-latency-${size.name.replace(' ', '')}`,
      label: `client: ${size.name} round trip, 1 in flight`,
      size: size.bytes,
      window: 1,
      metrics: ['p50us', 'p99us'] as ClientMetric[],
      targets: [{ metric: 'p50us' as const, ratio: 1 }],
      quick: size.bytes === 32,
    })),
  ];
}

/** One measured client cell. */
export interface ClientCell {
  values: Partial<Record<ClientMetric, number>>;
  /** The client's CPU time over its measured time (1.0 = its core busy). */
  clientCpu?: number;
  /** The fixed server's CPU time over the client's measured window (sampled every 100 ms). */
  serverCpu?: number;
  error?: string;
  raw?: unknown;
}

/** Client cells by scenario id, then client name. */
export type ClientResults = Record<string, Record<string, ClientCell>>;

/** What a run saves of the client benchmark. */
export interface ClientReport {
  /** Rounds of every client per cell (each value is the median over them). */
  rounds: number;
  /** The fixed echo server every client talked to. */
  server: string;
  clients: { name: string; version: string }[];
  results: ClientResults;
}

/** How the harness runs a process on a CPU (taskset, or unpinned). */
export type Pin = (cpu: string, command: string, args: string[]) => [string, string[]];

/** User + system CPU seconds a process has used (from /proc). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Where {@link buildClients} writes the client entries as plain JavaScript (gitignored). */
const BUILT = join(ROOT, 'bench', '.build', 'clients');

/**
 * Transpile the client entries (and their shared loop) to plain JavaScript with esbuild, so
 * each client process is plain `node`: no TypeScript loader at startup or in the process
 * measured. Packages stay imports (`@sockeye/sockeye/client` is the compiled package, `ws` is `ws`).
 */
export async function buildClients(): Promise<void> {
  await build({
    entryPoints: [...new Set(CLIENTS.map((spec) => join(ROOT, 'bench', 'clients', spec.entry)))],
    outdir: BUILT,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    packages: 'external',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
  });
}

/** Run one client entry to completion; resolves with its JSON line, or rejects. */
function runClient(
  spec: ClientSpec,
  scenario: ClientScenario,
  url: string,
  timing: { warmupS: number; durationS: number },
  cpu: string,
  pin: Pin,
): Promise<Record<string, unknown>> {
  const args = [
    join(BUILT, spec.entry.replace(/\.ts$/, '.mjs')),
    '--url',
    url,
    '--size',
    String(scenario.size),
    '--window',
    String(scenario.window),
    '--duration',
    String(timing.durationS),
    '--warmup',
    String(timing.warmupS),
  ];
  const [command, fullArgs] = pin(cpu, spec.runtime?.() ?? NODE, args);
  const child = spawn(command, fullArgs, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: spec.env === undefined ? process.env : { ...process.env, ...spec.env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (data: Buffer) => {
    stdout += data.toString();
  });
  child.stderr.on('data', (data: Buffer) => {
    stderr += data.toString();
  });
  // The loop ends by itself after warm-up + duration; this is the backstop.
  const budgetMs = (timing.warmupS + timing.durationS + 60) * 1000;
  const timer = setTimeout(() => child.kill('SIGKILL'), budgetMs);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout
        .split('\n')
        .map((text) => text.trim())
        .filter((text) => text.startsWith('{'))
        .at(-1);
      if (line !== undefined) {
        try {
          resolve(JSON.parse(line) as Record<string, unknown>);
          return;
        } catch {
          // Reported below with the output.
        }
      }
      reject(
        new Error(
          `${spec.name} client exited (${code ?? signal}) without a result: ${(stderr || stdout).trim().slice(-500)}`,
        ),
      );
    });
  });
}

/** Run one client once and turn its JSON line into a cell. */
async function measureOnce(
  spec: ClientSpec,
  scenario: ClientScenario,
  options: MeasureOptions,
): Promise<ClientCell> {
  // The server's CPU time, sampled while the client runs, to read its share over the client's measured window.
  const samples: { at: number; cpu: number }[] = [];
  const sample = () => samples.push({ at: Date.now(), cpu: cpuSeconds(options.serverPid) });
  sample();
  const sampler = setInterval(sample, 100);
  try {
    const line = await runClient(spec, scenario, options.url, options.timing, options.cpu, options.pin);
    clearInterval(sampler);
    sample();
    const serverCpu = shareOver(samples, Number(line.startedAt), Number(line.endedAt));
    const seconds = Number(line.seconds);
    const values: ClientCell['values'] = {};
    if (scenario.metrics.includes('msgsPerSec')) values.msgsPerSec = Number(line.messagesPerSecond);
    if (scenario.metrics.includes('perClientCpuSecond') && typeof line.perCpuSecond === 'number')
      values.perClientCpuSecond = line.perCpuSecond;
    if (scenario.metrics.includes('p50us')) values.p50us = Number(line.p50Ms) * 1000;
    if (scenario.metrics.includes('p99us')) values.p99us = Number(line.p99Ms) * 1000;
    const cell: ClientCell = {
      values,
      raw: line,
      clientCpu: seconds > 0 ? Number(line.cpuSeconds) / seconds : undefined,
      serverCpu,
    };
    if (Number(line.errors ?? 0) > 0)
      cell.error = `${String(line.errors)} bad echoes; first: ${String(line.firstError)}`;
    else if (Number(line.messages) === 0) {
      cell.values = {};
      cell.error = 'no message completed in the measured time';
    }
    return cell;
  } catch (error) {
    return { values: {}, error: (error as Error).message };
  } finally {
    clearInterval(sampler);
  }
}

/** CPU time over wall time between the samples nearest to `from` and `to` (undefined if too close). */
function shareOver(samples: { at: number; cpu: number }[], from: number, to: number): number | undefined {
  const nearest = (at: number) =>
    samples.reduce((best, s) => (Math.abs(s.at - at) < Math.abs(best.at - at) ? s : best), samples[0]!);
  const first = nearest(from);
  const last = nearest(to);
  const seconds = (last.at - first.at) / 1000;
  return seconds > 0.2 ? (last.cpu - first.cpu) / seconds : undefined;
}

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The rounds of one client folded into one cell: each metric's median; any failed round fails the cell. */
function combine(rounds: ClientCell[]): ClientCell {
  const failed = rounds.find((round) => round.error !== undefined);
  const values: ClientCell['values'] = {};
  for (const metric of Object.keys(CLIENT_METRICS) as ClientMetric[]) {
    const value = median(
      rounds.flatMap((round) => (round.values[metric] === undefined ? [] : [round.values[metric]!])),
    );
    if (value !== undefined) values[metric] = value;
  }
  const share = (pick: (round: ClientCell) => number | undefined) =>
    median(rounds.flatMap((round) => (pick(round) === undefined ? [] : [pick(round)!])));
  const cell: ClientCell = {
    values,
    clientCpu: share((round) => round.clientCpu),
    serverCpu: share((round) => round.serverCpu),
    raw: rounds.map((round) => round.raw),
  };
  if (failed !== undefined) cell.error = failed.error;
  return cell;
}

interface MeasureOptions {
  url: string;
  serverPid: number;
  timing: { warmupS: number; durationS: number };
  cpu: string;
  pin: Pin;
}

/**
 * Measure every client on every scenario against the echo server at `url` (process
 * `serverPid`), each client pinned on `cpu`. A cell runs the clients in turn, `rounds`
 * times over (so a burst of someone else's load falls on all of them alike), and keeps each
 * metric's median over the rounds. Prints each round as it goes.
 */
export async function measureClients(
  options: MeasureOptions & { scenarios: ClientScenario[]; rounds: number },
): Promise<ClientResults> {
  const results: ClientResults = {};
  for (const scenario of options.scenarios) {
    console.log(`\n${scenario.label} [${scenario.id}]`);
    const rounds = new Map<string, ClientCell[]>(CLIENTS.map((spec) => [spec.name, []]));
    for (let round = 0; round < options.rounds; round++) {
      for (const spec of CLIENTS) {
        const cell = await measureOnce(spec, scenario, options);
        rounds.get(spec.name)!.push(cell);
        printCell(scenario, spec.name, cell);
      }
    }
    results[scenario.id] = Object.fromEntries([...rounds].map(([name, cells]) => [name, combine(cells)]));
  }
  return results;
}

function format(metric: ClientMetric, value: number): string {
  if (metric === 'msgsPerSec' || metric === 'perClientCpuSecond') {
    if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
    if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
    return value.toFixed(0);
  }
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

const percent = (share: number | undefined) => (share === undefined ? '?' : `${(share * 100).toFixed(0)}%`);

function printCell(scenario: ClientScenario, client: string, cell: ClientCell): void {
  const shown = scenario.metrics
    .map((m) =>
      cell.values[m] === undefined ? '' : `${format(m, cell.values[m]!)} ${CLIENT_METRICS[m].unit}`,
    )
    .filter(Boolean)
    .join(', ');
  const cpu = ` (CPU: client ${percent(cell.clientCpu)}, server ${percent(cell.serverCpu)})`;
  console.log(`  ${client.padEnd(10)} ${shown}${cpu}${cell.error ? `  ERROR: ${cell.error}` : ''}`);
}

/** A server CPU share from which the fixed server, not the client, may set the pace. */
const SERVER_LIMIT = 0.9;

function ratioOf(results: ClientResults, scenario: ClientScenario, metric: ClientMetric, client: string) {
  const value = results[scenario.id]?.[client]?.values[metric];
  const base = results[scenario.id]?.[CLIENT_BASELINE]?.values[metric];
  if (value === undefined || base === undefined || base === 0) return null;
  return value / base;
}

/**
 * Each cell's targets judged on `results`, by scenario id, in the order of its `targets`:
 * sockeye's client over the `ws` client; msg/s also per client CPU-second.
 */
function clientVerdicts(results: ClientResults, scenarios: ClientScenario[]): Map<string, Verdict[]> {
  const judged = new Map<string, Verdict[]>();
  for (const scenario of scenarios) {
    const measured = (client: string, metric: ClientMetric) => {
      const cell = results[scenario.id]?.[client];
      return cell?.error === undefined ? cell?.values[metric] : undefined;
    };
    judged.set(
      scenario.id,
      scenario.targets.map((target) => {
        const bound = { ratio: target.ratio, higherIsBetter: CLIENT_METRICS[target.metric].higherIsBetter };
        const verdict: Verdict = {
          goal: 'client',
          cell: scenario.label,
          metric: CLIENT_METRICS[target.metric].unit,
          bound: boundText(bound, `the ${CLIENT_BASELINE} client`),
          ...judge(measured('sockeye', target.metric), measured(CLIENT_BASELINE, target.metric), bound),
        };
        const perCpu = target.metric === 'msgsPerSec' && scenario.metrics.includes('perClientCpuSecond');
        if (measured(CEILING, target.metric) !== undefined) {
          // The raw client on the same bound: is the target within a Node client's reach?
          verdict.ceiling = judge(
            measured(CEILING, target.metric),
            measured(CLIENT_BASELINE, target.metric),
            bound,
          );
          if (perCpu)
            verdict.ceiling.perCpu = judge(
              measured(CEILING, 'perClientCpuSecond'),
              measured(CLIENT_BASELINE, 'perClientCpuSecond'),
              bound,
            );
        }
        if (perCpu) {
          verdict.perCpu = judge(
            measured('sockeye', 'perClientCpuSecond'),
            measured(CLIENT_BASELINE, 'perClientCpuSecond'),
            bound,
          );
          const serverBound = [results[scenario.id]?.sockeye, results[scenario.id]?.[CLIENT_BASELINE]].some(
            (cell) => (cell?.serverCpu ?? 0) >= SERVER_LIMIT,
          );
          if (serverBound) verdict.note = '‡ the fixed server saturated: per client CPU-s is the figure';
        }
        if (results[scenario.id]?.sockeye?.error !== undefined) {
          // A cell that failed (a wrong echo, no message completed) meets nothing.
          verdict.met = false;
          if (verdict.perCpu !== undefined) verdict.perCpu.met = false;
          verdict.note = 'sockeye’s cell failed';
        }
        return verdict;
      }),
    );
  }
  return judged;
}

/** The client's targets (issue 17, item 7), judged on this run: the summary and each cell. */
export function clientTargetsSection(report: ClientReport, scenarios: ClientScenario[]): string[] {
  const judged = clientVerdicts(report.results, scenarios);
  return [
    '### Client targets',
    '',
    'Goal 7, judged on this run: sockeye’s client over the `ws` client; msg/s also per',
    'client CPU-second, the figure to trust on a busy machine. A target is met when every cell of it is.',
    'The last column judges node-raw, the raw Node client (no checks, no events), on the same bound.',
    '',
    ...targetsSummary([...judged.values()].flat(), 'per client CPU-s'),
  ];
}

/** The client table: each value with its ratio to the `ws` client, and the cell's targets. */
export function clientTable(report: ClientReport, scenarios: ClientScenario[]): string {
  const names = report.clients.map((c) => c.name);
  const judged = clientVerdicts(report.results, scenarios);
  const rows = [
    ['scenario', 'metric', ...names, 'targets (sockeye against the ws client)'],
    ['---', '---', ...names.map(() => '---'), '---'],
  ];
  for (const scenario of scenarios) {
    if (report.results[scenario.id] === undefined) continue;
    for (const metric of scenario.metrics) {
      const row = [scenario.label, CLIENT_METRICS[metric].unit];
      for (const name of names) {
        const cell = report.results[scenario.id]?.[name];
        const value = cell?.values[metric];
        if (cell?.error !== undefined)
          row.push(`error${value === undefined ? '' : ` (${format(metric, value)})`}`);
        else if (value === undefined) row.push('–');
        else {
          const ratio = ratioOf(report.results, scenario, metric, name);
          const limited =
            (cell?.serverCpu ?? 0) >= SERVER_LIMIT && metric !== 'perClientCpuSecond' ? ' ‡' : '';
          row.push(
            name === CLIENT_BASELINE || ratio === null
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

/** The docs/benchmarks.md section of the client benchmark (without its markers). */
export function clientDocsSection(
  report: ClientReport,
  scenarios: ClientScenario[],
  context: { machineLines: string[]; timing: string },
): string {
  const descriptions = report.clients.map((client) => {
    const spec = CLIENTS.find((c) => c.name === client.name);
    return `- **${client.name}**: ${spec?.description ?? client.name}; ${client.version}`;
  });
  const failed = scenarios.flatMap((scenario) =>
    Object.entries(report.results[scenario.id] ?? {})
      .filter(([, cell]) => cell.error !== undefined)
      .map(([client, cell]) => `- ${scenario.id} / ${client}: ${cell.error}`),
  );
  const lines = [
    '## Client benchmark (`npm run bench`)',
    '',
    ...context.machineLines,
    `- Fixed server: ${report.server}`,
    `- Each cell: ${context.timing}; binary messages.`,
    '',
    'Method: the roles of the server benchmark swap. One echo server, the same for every client, runs',
    'pinned on CPU 0; each client runs alone on CPU 1 (bench/clients/: one connection, the browser',
    "`WebSocket` API for all of them (the raw client: the part of it the loop uses), `binaryType = 'arraybuffer'`, one shared loop in",
    'bench/clients/common.ts). It keeps a fixed number of messages in flight (messages/s) or one',
    '(round trip from `send()` to its echo, p50 and p99), and checks that every echo is a binary',
    'message of the size sent. "per client CPU-s" is messages per second of the client process’s',
    'own CPU time over the measured window: its cost per message, the figure a busy machine distorts',
    'least. Every client is a separate process, plain `node` (`bun` for Bun’s client), its entry and the',
    'shared loop transpiled by esbuild into bench/.build/clients/; sockeye’s client is the compiled package.',
    '',
    'Clients:',
    ...descriptions,
    '',
    'Values, with the ratio to the **ws** client in brackets. For latency, smaller is better.',
    `‡ the fixed server used at least ${SERVER_LIMIT * 100}% of its core in that cell: the client may be faster than shown.`,
    '',
    clientTable(report, scenarios),
    '',
    ...clientTargetsSection(report, scenarios),
  ];
  if (failed.length > 0) lines.push('', '### Client errors', '', ...failed);
  return lines.join('\n');
}
