/**
 * SSE fan-out: messages per second delivered to 1,000 `EventSource` streams, sockeye's
 * topic endpoint (`server.eventSource()`, bench/servers/sse-sockeye.ts) beside a minimal
 * Node `http` server writing `data:` lines to each response (bench/servers/sse-node.ts).
 * Each round starts a fresh server pinned to CPU 0 and the reader
 * (bench/clients/sse-client.ts) on CPU 1, opens the streams, publishes M messages and
 * times until every stream has all of them; the servers take turns, the median round is
 * kept. Part of `npm run bench` (`--only sse`), or alone: `node --import tsx bench/sse.ts
 * [--quick] [--streams N] [--messages M] [--rounds R]`. Bounded: the reader gives up
 * after 120 s, a server is stopped after its round.
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ROOT } from '../scripts/lib/prereqs.js';
import { freePort, startProcess } from '../scripts/lib/process.js';
import { median, pinned, runForResult } from './lib/child.js';

/** What to measure. */
export interface SseBenchOptions {
  /** Streams open at once. @defaultValue 1000 */
  streams?: number;
  /** Messages published per round. @defaultValue 500 */
  messages?: number;
  /** Payload bytes per message. @defaultValue 64 */
  size?: number;
  /** Rounds per server (the median is kept). @defaultValue 3 */
  rounds?: number;
}

/** One server's result. */
export interface SseServerResult {
  name: string;
  /** Messages delivered per second, over all streams (the median round). */
  perSecond?: number;
  /** Bytes on the wire per delivered message (body, chunk framing included). */
  bytesPerMessage?: number;
  /** Every round's messages per second. */
  rounds: number[];
  error?: string;
}

/** The benchmark's result. */
export interface SseBenchReport {
  streams: number;
  messages: number;
  size: number;
  servers: SseServerResult[];
  /** sockeye's messages per second over the plain server's. */
  ratio?: number;
}

const SERVERS = [
  { name: 'sockeye', script: join(ROOT, 'bench', 'servers', 'sse-sockeye.ts') },
  { name: 'node-sse', script: join(ROOT, 'bench', 'servers', 'sse-node.ts') },
];
const CLIENT = join(ROOT, 'bench', 'clients', 'sse-client.ts');

interface Round {
  perSecond: number;
  bytes: number;
  deliveries: number;
}

async function round(script: string, streams: number, messages: number, size: number): Promise<Round> {
  const port = await freePort();
  const [command, args] = pinned('0', [
    process.execPath,
    '--import',
    'tsx',
    script,
    '--port',
    String(port),
    '--host',
    '127.0.0.1',
  ]);
  const server = await startProcess(command, args, /listening on http:\/\//, {
    cwd: ROOT,
    timeoutMs: 30_000,
  });
  try {
    const [clientCommand, clientArgs] = pinned('1', [
      process.execPath,
      '--import',
      'tsx',
      CLIENT,
      '--port',
      String(port),
      '--streams',
      String(streams),
      '--messages',
      String(messages),
      '--size',
      String(size),
    ]);
    const result = await runForResult<{
      perSecond?: number;
      bytes?: number;
      deliveries?: number;
      fatal?: string;
    }>(clientCommand, clientArgs, 'the reader');
    return { perSecond: result.perSecond, bytes: result.bytes ?? 0, deliveries: result.deliveries ?? 1 };
  } finally {
    await server.stop();
  }
}

/** Run the benchmark: every server in turn, `rounds` times. */
export async function measureSse(options: SseBenchOptions = {}): Promise<SseBenchReport> {
  const streams = options.streams ?? 1000;
  const messages = options.messages ?? 500;
  const size = options.size ?? 64;
  const rounds = options.rounds ?? 3;
  const results = SERVERS.map((server): SseServerResult & { bytes: number[] } => ({
    name: server.name,
    rounds: [],
    bytes: [],
  }));
  for (let r = 0; r < rounds; r++) {
    for (const [i, server] of SERVERS.entries()) {
      const result = results[i]!;
      if (result.error !== undefined) continue;
      try {
        const measured = await round(server.script, streams, messages, size);
        result.rounds.push(measured.perSecond);
        result.bytes.push(measured.bytes / measured.deliveries);
        console.log(`  sse-fanout ${server.name.padEnd(9)} ${Math.round(measured.perSecond)} msg/s`);
      } catch (error) {
        result.error = String(error instanceof Error ? error.message : error);
        console.log(`  sse-fanout ${server.name.padEnd(9)} ERROR: ${result.error}`);
      }
    }
  }
  const servers = results.map(({ bytes, ...result }) =>
    result.rounds.length === 0
      ? result
      : { ...result, perSecond: median(result.rounds), bytesPerMessage: median(bytes) },
  );
  const [ours, plain] = servers;
  const ratio =
    ours?.perSecond !== undefined && plain?.perSecond !== undefined
      ? ours.perSecond / plain.perSecond
      : undefined;
  return { streams, messages, size, servers, ratio };
}

/** The report as a Markdown section (for docs/benchmarks.md). */
export function sseSection(report: SseBenchReport, conditions: string[]): string {
  const rows = report.servers.map((server) => {
    if (server.perSecond === undefined) return `| ${server.name} | failed: ${server.error ?? '?'} | | |`;
    const ratio = server.perSecond / (report.servers[1]?.perSecond ?? server.perSecond);
    return `| ${server.name} | ${Math.round(server.perSecond).toLocaleString('en-US')} | ${server.bytesPerMessage?.toFixed(1)} | ${ratio.toFixed(2)} |`;
  });
  return [
    '## SSE fan-out: topics to 1,000 EventSource streams',
    '',
    `\`npm run bench -- --only sse-fanout\` (bench/sse.ts): ${report.streams.toLocaleString('en-US')} streams, ${report.messages} messages of ${report.size} bytes published to all of them; messages delivered per second (over all streams, from the publish request until every stream has every message), the median of the rounds. sockeye is \`server.eventSource()\` (ids, history, per-stream bounds); node-sse is a minimal \`http\` server writing \`data:\` lines to each response (no ids, no history, no limits). Most of the difference is in the writes: sockeye writes the events of one event-loop turn to a stream as one Buffer (one chunk, one syscall), the minimal server one write per event per stream.`,
    '',
    ...conditions,
    '',
    '| server | messages/s | bytes/message on the wire | vs node-sse |',
    '| ------ | ---------: | ------------------------: | ----------: |',
    ...rows,
  ].join('\n');
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      streams: { type: 'string' },
      messages: { type: 'string' },
      rounds: { type: 'string' },
    },
  });
  const report = await measureSse({
    streams: values.streams === undefined ? undefined : Number(values.streams),
    messages: values.messages === undefined ? (values.quick ? 100 : undefined) : Number(values.messages),
    rounds: values.rounds === undefined ? (values.quick ? 1 : undefined) : Number(values.rounds),
  });
  console.log(sseSection(report, []));
}
