/**
 * Long-poll round trips: how many message-and-echo round trips per second sockeye's
 * session long-polling transport (`SessionHttpTransport`) carries, with 1 and with 100
 * sessions at once, beside the same sessions over WebSocket on the same server (what
 * long-polling costs) and beside a minimal Node `http` long-poll echo server (the
 * ceiling of the transport itself). Servers: bench/servers/lp-sockeye.ts and
 * lp-node.ts; the client: bench/clients/lp-client.ts.
 *
 * Each round starts a fresh server per transport pinned to CPU 0 and runs the client on
 * CPU 1 for each session count; the transports take turns, the median round is kept.
 * Besides round trips per second (which the other jobs of a shared machine distort), the
 * client reads the server's CPU time over the timed phase: round trips per server
 * CPU-second is the cost per round trip. Part of `npm run bench` (`--only long-poll`), or
 * alone: `node --import tsx bench/long-poll.ts [--quick] [--round-trips N] [--rounds R]`.
 * Bounded: the client gives up after 120 s, a server is stopped after its round.
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ROOT } from '../scripts/lib/prereqs.js';
import { freePort, startProcess } from '../scripts/lib/process.js';
import { median, pinned, runForResult } from './lib/child.js';

/** What to measure. */
export interface LongPollBenchOptions {
  /** Session counts to measure, each a cell (sessions at once, one message in flight each). @defaultValue [1, 100] */
  sessions?: number[];
  /** Timed round trips per cell, over all its sessions (each makes its share). @defaultValue 3000 */
  roundTrips?: number;
  /** Untimed round trips each session makes first. @defaultValue 20 */
  warmup?: number;
  /** Payload bytes per message. @defaultValue 64 */
  size?: number;
  /** Rounds per transport (the median is kept). @defaultValue 3 */
  rounds?: number;
}

/** One transport with one session count: the medians of its rounds. */
export interface LongPollCell {
  /** `long-polling`, `websocket` (both sockeye sessions on one server) or `node-long-poll`. */
  transport: string;
  sessions: number;
  /** Round trips per second (the median round). */
  perSecond?: number;
  /** Round trips per second of the server's CPU time: the cost per round trip. */
  perServerCpuSecond?: number;
  /** The server's CPU time over the timed phase, in cores (1 = one core busy). */
  serverCpu?: number;
  /** The client's, likewise: near 1, the client may be what limits the rate. */
  clientCpu?: number;
  /** HTTP requests the client made per round trip (polls and POSTs; none over WebSocket). */
  requestsPerRoundTrip?: number;
  /** Bytes on the wire per round trip over HTTP, both ways: request and status lines, headers, bodies (not counted over WebSocket). */
  httpBytesPerRoundTrip?: number;
  /** Round trips of each round that came back, each echo checked. */
  completed: number[];
  /** Every round's round trips per second. */
  rounds: number[];
  error?: string;
}

/** Long-polling's figures over another transport's, for one session count. */
export interface LongPollRatio {
  sessions: number;
  /** Long-polling's round trips per second over the same sessions' on WebSocket. */
  vsWebSocket?: number;
  /** The same, per server CPU-second. */
  vsWebSocketPerCpu?: number;
  /** Long-polling's round trips per second over the plain Node long-poll server's. */
  vsNode?: number;
  /** The same, per server CPU-second. */
  vsNodePerCpu?: number;
}

/** The benchmark's result. */
export interface LongPollBenchReport {
  /** Timed round trips per cell (over all its sessions). */
  roundTrips: number;
  size: number;
  cells: LongPollCell[];
  ratios: LongPollRatio[];
}

const SOCKEYE_SERVER = join(ROOT, 'bench', 'servers', 'lp-sockeye.ts');
const TRANSPORTS = [
  { name: 'long-polling', script: SOCKEYE_SERVER, mode: 'long-polling' },
  { name: 'websocket', script: SOCKEYE_SERVER, mode: 'websocket' },
  { name: 'node-long-poll', script: join(ROOT, 'bench', 'servers', 'lp-node.ts'), mode: 'node' },
] as const;
const CLIENT = join(ROOT, 'bench', 'clients', 'lp-client.ts');

/** What the client prints. */
interface ClientResult {
  roundTrips: number;
  perSecond: number;
  requestsPerRoundTrip: number;
  httpBytesPerRoundTrip: number;
  serverCpu?: number;
  clientCpu: number;
}

/** Run the client once against a running server. */
async function runClient(
  port: number,
  serverPid: number,
  mode: string,
  sessions: number,
  perSession: number,
  warmup: number,
  size: number,
): Promise<ClientResult> {
  const [command, args] = pinned('1', [
    process.execPath,
    '--import',
    'tsx',
    CLIENT,
    '--port',
    String(port),
    '--mode',
    mode,
    '--sessions',
    String(sessions),
    '--round-trips',
    String(perSession),
    '--warmup',
    String(warmup),
    '--size',
    String(size),
    '--server-pid',
    String(serverPid),
  ]);
  const result = await runForResult<Partial<ClientResult> & { fatal?: string }>(command, args, 'the client');
  return {
    roundTrips: result.roundTrips ?? 0,
    perSecond: result.perSecond,
    requestsPerRoundTrip: result.requestsPerRoundTrip ?? 0,
    httpBytesPerRoundTrip: result.httpBytesPerRoundTrip ?? 0,
    serverCpu: result.serverCpu,
    clientCpu: result.clientCpu ?? 0,
  };
}

interface Tally {
  cell: LongPollCell;
  perCpu: number[];
  cpu: number[];
  clientCpu: number[];
  requests: number[];
  bytes: number[];
}

/** Run the benchmark: every transport in turn, `rounds` times, each session count against one server. */
export async function measureLongPoll(options: LongPollBenchOptions = {}): Promise<LongPollBenchReport> {
  const counts = options.sessions ?? [1, 100];
  const roundTrips = options.roundTrips ?? 3000;
  const warmup = options.warmup ?? 20;
  const size = options.size ?? 64;
  const rounds = options.rounds ?? 3;
  const tallies = TRANSPORTS.map((transport) =>
    counts.map(
      (sessions): Tally => ({
        cell: { transport: transport.name, sessions, completed: [], rounds: [] },
        perCpu: [],
        cpu: [],
        clientCpu: [],
        requests: [],
        bytes: [],
      }),
    ),
  );
  for (let r = 0; r < rounds; r++) {
    for (const [t, transport] of TRANSPORTS.entries()) {
      const cells = tallies[t]!.filter((tally) => tally.cell.error === undefined);
      if (cells.length === 0) continue;
      let server: Awaited<ReturnType<typeof startProcess>>;
      const port = await freePort();
      try {
        const [command, args] = pinned('0', [
          process.execPath,
          '--import',
          'tsx',
          transport.script,
          '--port',
          String(port),
          '--host',
          '127.0.0.1',
        ]);
        server = await startProcess(command, args, /listening on http:\/\//, {
          cwd: ROOT,
          timeoutMs: 30_000,
        });
      } catch (error) {
        for (const tally of cells) tally.cell.error = `the server did not start: ${String(error)}`;
        continue;
      }
      try {
        for (const tally of cells) {
          const { cell } = tally;
          const perSession = Math.ceil(roundTrips / cell.sessions);
          try {
            const result = await runClient(
              port,
              server.child.pid!,
              transport.mode,
              cell.sessions,
              perSession,
              warmup,
              size,
            );
            cell.completed.push(result.roundTrips);
            cell.rounds.push(result.perSecond);
            tally.requests.push(result.requestsPerRoundTrip);
            tally.bytes.push(result.httpBytesPerRoundTrip);
            tally.clientCpu.push(result.clientCpu);
            if (result.serverCpu !== undefined && result.serverCpu > 0) {
              tally.cpu.push(result.serverCpu);
              tally.perCpu.push(result.perSecond / result.serverCpu);
            }
            console.log(
              `  long-poll ${transport.name.padEnd(14)} ${String(cell.sessions).padStart(4)} sessions ${Math.round(result.perSecond)} round trips/s`,
            );
          } catch (error) {
            cell.error = String(error instanceof Error ? error.message : error);
            console.log(
              `  long-poll ${transport.name.padEnd(14)} ${cell.sessions} sessions ERROR: ${cell.error}`,
            );
          }
        }
      } finally {
        await server.stop();
      }
    }
  }
  const cells = tallies.flat().map(({ cell, perCpu, cpu, clientCpu, requests, bytes }): LongPollCell => {
    if (cell.rounds.length === 0) return cell;
    const overHttp = cell.transport !== 'websocket';
    return {
      ...cell,
      perSecond: median(cell.rounds),
      perServerCpuSecond: median(perCpu),
      serverCpu: median(cpu),
      clientCpu: median(clientCpu),
      requestsPerRoundTrip: overHttp ? median(requests) : undefined,
      httpBytesPerRoundTrip: overHttp ? median(bytes) : undefined,
    };
  });
  const find = (transport: string, sessions: number) =>
    cells.find((cell) => cell.transport === transport && cell.sessions === sessions);
  const over = (a: number | undefined, b: number | undefined) =>
    a !== undefined && b !== undefined ? a / b : undefined;
  const ratios = counts.map((sessions): LongPollRatio => {
    const ours = find('long-polling', sessions);
    const ws = find('websocket', sessions);
    const node = find('node-long-poll', sessions);
    return {
      sessions,
      vsWebSocket: over(ours?.perSecond, ws?.perSecond),
      vsWebSocketPerCpu: over(ours?.perServerCpuSecond, ws?.perServerCpuSecond),
      vsNode: over(ours?.perSecond, node?.perSecond),
      vsNodePerCpu: over(ours?.perServerCpuSecond, node?.perServerCpuSecond),
    };
  });
  return { roundTrips, size, cells, ratios };
}

const LABELS: Record<string, string> = {
  'long-polling': 'sockeye long-polling',
  websocket: 'sockeye WebSocket',
  'node-long-poll': 'plain Node long-poll',
};

const whole = (value: number | undefined) =>
  value === undefined ? '' : Math.round(value).toLocaleString('en-US');
const fixed = (value: number | undefined, digits = 2) => (value === undefined ? '' : value.toFixed(digits));

/** The report as a Markdown section (for docs/benchmarks.md). */
export function longPollSection(report: LongPollBenchReport, conditions: string[]): string {
  const rows = report.cells.map((cell) => {
    const name = LABELS[cell.transport] ?? cell.transport;
    if (cell.perSecond === undefined)
      return `| ${name} | ${cell.sessions} | failed: ${cell.error ?? '?'} | | | | | |`;
    return `| ${name} | ${cell.sessions} | ${whole(cell.perSecond)} | ${whole(cell.perServerCpuSecond)} | ${fixed(cell.serverCpu)} | ${fixed(cell.clientCpu)} | ${fixed(cell.requestsPerRoundTrip, 1)} | ${whole(cell.httpBytesPerRoundTrip)} |`;
  });
  const ratioRows = report.ratios.map(
    (ratio) =>
      `| ${ratio.sessions} | ${fixed(ratio.vsWebSocket)} | ${fixed(ratio.vsWebSocketPerCpu)} | ${fixed(ratio.vsNode)} | ${fixed(ratio.vsNodePerCpu)} |`,
  );
  return [
    '## Long-poll round trips: sessions over long-polling, WebSocket and a plain Node server',
    '',
    `\`npm run bench -- --only long-poll\` (bench/long-poll.ts): each session sends a ${report.size}-byte text message and waits for its echo (checked) before the next, ${report.roundTrips.toLocaleString('en-US')} timed round trips per cell over all its sessions, after a warm-up; the median of the rounds. **sockeye long-polling** is a \`SessionServer\` with its \`SessionHttpTransport\` (the session protocol: a POST of the message answered 204, the echo in the answer to a held poll, acknowledgements riding in the POSTs; the per-session POST rate limit raised out of the way); **sockeye WebSocket** is the same server's sessions over WebSocket, so the ratio is what long-polling costs; **plain Node long-poll** is a minimal \`http\` server (a POST's body handed to the held GET: no sessions, numbering, acknowledgements or limits), the ceiling of the transport itself. The client (bench/clients/lp-client.ts) speaks HTTP/1.1 on raw keep-alive connections, one for polls and one for POSTs per session, so that it costs less than the server it measures. "Per server CPU-s" is round trips per second of the server process's own CPU time over the timed phase, the figure other jobs on the machine distort least; "server CPU" and "client CPU" are each process's CPU time over the timed phase, in cores: well under 1 for both, the round trips waited for something else (each other's latency with one session, or the machine's other jobs). "HTTP bytes" counts both ways: request and status lines, headers and bodies (the payload is ${report.size} bytes each way).`,
    '',
    ...conditions,
    '',
    '| transport | sessions | round trips/s | per server CPU-s | server CPU | client CPU | HTTP requests per round trip | HTTP bytes per round trip |',
    '| --------- | -------: | ------------: | ---------------: | ---------: | ---------: | ---------------------------: | ------------------------: |',
    ...rows,
    '',
    'sockeye long-polling over the others (above 1: long-polling is faster):',
    '',
    '| sessions | vs WebSocket, round trips/s | vs WebSocket, per server CPU-s | vs plain Node, round trips/s | vs plain Node, per server CPU-s |',
    '| -------: | --------------------------: | -----------------------------: | ---------------------------: | ------------------------------: |',
    ...ratioRows,
  ].join('\n');
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      'round-trips': { type: 'string' },
      rounds: { type: 'string' },
    },
  });
  const report = await measureLongPoll({
    roundTrips:
      values['round-trips'] === undefined ? (values.quick ? 1000 : undefined) : Number(values['round-trips']),
    rounds: values.rounds === undefined ? (values.quick ? 1 : undefined) : Number(values.rounds),
  });
  console.log(longPollSection(report, []));
}
