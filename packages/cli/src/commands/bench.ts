/**
 * `sockeye bench <url>`: a load generator on sockeye's own client (the WHATWG
 * `WebSocket`): N connections to an echo server, each keeping `--window` messages in
 * flight, with a live progress line and a final table.
 */
import { WebSocket } from 'sockeye/client';
import { type Command, type Io, UsageError } from '../cli.js';
import { parseCommandArgs, parseInteger, parseSeconds } from './args.js';

const HELP = `Usage: sockeye bench <url> [options]

Load an echo server (sockeye serve, npm run echo, the demo's /ws/echo, ...) with
sockeye's own client: every connection sends binary messages of --size bytes, keeping
--window of them in flight, and times each echo. A live line shows the progress on a
terminal; the final table gives connections, messages/s, MB/s and the p50/p99 latency.

Options:
  -c, --connections N   connections opened together (default 10, at most 10000)
  -s, --size BYTES      payload of each message (default 64, at most 16 MiB)
  -w, --window N        messages in flight per connection (default 1)
  -d, --duration SEC    stop after this long (default 10, at most 3600)
  -n, --count N         stop after this many echoes in total (whichever comes first)
      --json            print the result as one JSON line instead of the table

Latency is from send() to the echo's arrival, for every message; percentiles come
from a uniform sample of at most 100,000 of them. MB/s counts echoed payload bytes
(10^6 bytes per MB).

Examples:
  sockeye bench ws://127.0.0.1:8080/ws/echo                 (the demo's echo: npm start)
  sockeye bench ws://127.0.0.1:9000 -c 100 -s 1024 -d 30    (with: sockeye serve --port 9000)
  sockeye bench ws://127.0.0.1:9000 -n 100000 -w 16 --json

Exit code: 0 when the run completed, 1 when no connection could be opened or a
connection failed, 2 for bad arguments.`;

/** Most latencies kept for the percentiles (a uniform reservoir sample). */
export const LATENCY_SAMPLE_SIZE = 100_000;

/** A uniform sample of at most `capacity` values (Algorithm R), bounded whatever the run's length. */
export class Reservoir {
  private readonly values: Float64Array;
  private seen = 0;

  constructor(private readonly capacity: number) {
    this.values = new Float64Array(capacity);
  }

  /** Offer one value. */
  add(value: number): void {
    if (this.seen < this.capacity) {
      this.values[this.seen] = value;
    } else {
      const slot = Math.floor(Math.random() * (this.seen + 1));
      if (slot < this.capacity) this.values[slot] = value;
    }
    this.seen++;
  }

  /** The `p`-th percentile (0-100) of the sample, or NaN when empty. */
  percentile(p: number): number {
    const n = Math.min(this.seen, this.capacity);
    if (n === 0) return Number.NaN;
    const sorted = this.values.slice(0, n).sort();
    return sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]!;
  }
}

/** The outcome of a run. */
export interface BenchResult {
  connections: number;
  messages: number;
  seconds: number;
  messagesPerSecond: number;
  megabytesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

interface Options {
  url: string;
  connections: number;
  size: number;
  window: number;
  seconds: number;
  count: number;
}

function formatNumber(value: number, digits = 0): string {
  return Number.isFinite(value)
    ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : '-';
}

/** The final table. */
export function formatTable(result: BenchResult): string[] {
  const rows: Array<[string, string]> = [
    ['connections', formatNumber(result.connections)],
    ['messages', formatNumber(result.messages)],
    ['duration', `${formatNumber(result.seconds, 2)} s`],
    ['messages/s', formatNumber(result.messagesPerSecond)],
    ['MB/s', formatNumber(result.megabytesPerSecond, 2)],
    ['p50 latency', `${formatNumber(result.p50Ms, 3)} ms`],
    ['p99 latency', `${formatNumber(result.p99Ms, 3)} ms`],
    ['errors', formatNumber(result.errors)],
  ];
  return rows.map(([name, value]) => `${name.padEnd(12)} ${value.padStart(14)}`);
}

async function bench(options: Options, io: Io): Promise<BenchResult> {
  const payload = new Uint8Array(options.size).fill(0x61);
  const latencies = new Reservoir(LATENCY_SAMPLE_SIZE);
  let received = 0;
  let receivedBytes = 0;
  let errors = 0;
  let stopping = false;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const stop = () => {
    if (stopping) return;
    stopping = true;
    finish();
  };

  const sockets: WebSocket[] = [];
  const reported = new Set<string>();
  const opened = await Promise.all(
    Array.from(
      { length: options.connections },
      () =>
        new Promise<WebSocket | null>((resolve) => {
          const ws = new WebSocket(options.url);
          ws.binaryType = 'arraybuffer';
          ws.onopen = () => resolve(ws);
          ws.onerror = (event) => {
            errors++;
            const message = (event as Event & { message?: string }).message ?? 'connection failed';
            // One line per distinct reason, not one per connection.
            if (!reported.has(message)) {
              reported.add(message);
              io.err(`sockeye: ${message}`);
            }
            resolve(null);
          };
        }),
    ),
  );
  for (const ws of opened) if (ws !== null) sockets.push(ws);
  if (sockets.length === 0) return summary(0);

  const started = performance.now();
  for (const ws of sockets) {
    const inFlight: number[] = [];
    let head = 0;
    const send = () => {
      inFlight.push(performance.now());
      ws.send(payload);
    };
    ws.onmessage = (event: Event) => {
      const now = performance.now();
      const sentAt = inFlight[head++];
      if (head > 1024) {
        inFlight.splice(0, head);
        head = 0;
      }
      const data = (event as MessageEvent).data as ArrayBuffer | string;
      const length = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
      if (sentAt === undefined || length !== options.size) errors++;
      else latencies.add(now - sentAt);
      received++;
      receivedBytes += length;
      if (received >= options.count) stop();
      else if (!stopping) send();
    };
    ws.onclose = () => {
      if (!stopping) {
        errors++;
        stop();
      }
    };
    for (let i = 0; i < options.window; i++) send();
  }

  const timer = setTimeout(stop, options.seconds * 1000);
  let lastReceived = 0;
  let lastAt = started;
  const live = io.stdout.isTTY === true;
  const progress = live
    ? setInterval(() => {
        const now = performance.now();
        const rate = ((received - lastReceived) * 1000) / (now - lastAt);
        lastReceived = received;
        lastAt = now;
        io.stdout.write(
          `\r\u001b[2K${formatNumber((now - started) / 1000, 0)} s  ${sockets.length} connections  ` +
            `${formatNumber(rate)} msg/s  ${formatNumber((rate * options.size) / 1e6, 2)} MB/s  ` +
            `p50 ${formatNumber(latencies.percentile(50), 3)} ms  p99 ${formatNumber(latencies.percentile(99), 3)} ms`,
        );
      }, 1000)
    : undefined;
  void io.interrupted().then(stop);
  await finished;
  const seconds = (performance.now() - started) / 1000;
  clearTimeout(timer);
  clearInterval(progress);
  if (live) io.stdout.write('\r\u001b[2K');
  const closes = sockets.map(
    (ws) =>
      new Promise<void>((resolve) => {
        ws.onmessage = null;
        ws.onclose = () => resolve();
        ws.close(1000);
      }),
  );
  await Promise.race([Promise.all(closes), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
  return summary(seconds);

  function summary(seconds: number): BenchResult {
    return {
      connections: sockets.length,
      messages: received,
      seconds,
      messagesPerSecond: seconds > 0 ? received / seconds : 0,
      megabytesPerSecond: seconds > 0 ? receivedBytes / seconds / 1e6 : 0,
      p50Ms: latencies.percentile(50),
      p99Ms: latencies.percentile(99),
      errors,
    };
  }
}

async function run(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs('bench', args, {
    connections: { type: 'string', short: 'c' },
    size: { type: 'string', short: 's' },
    window: { type: 'string', short: 'w' },
    duration: { type: 'string', short: 'd' },
    count: { type: 'string', short: 'n' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  const [url, ...extra] = positionals;
  if (url === undefined)
    throw new UsageError('bench: give the URL of an echo server (try sockeye bench --help)');
  if (extra.length > 0) throw new UsageError(`bench: one URL only (unexpected ${JSON.stringify(extra[0])})`);
  if (!/^(wss?|https?):\/\//.test(url)) throw new UsageError(`bench: not a ws:// or wss:// URL: ${url}`);
  const options: Options = {
    url,
    connections:
      values.connections === undefined
        ? 10
        : parseInteger(values.connections, 'bench: --connections', 1, 10_000),
    size: values.size === undefined ? 64 : parseInteger(values.size, 'bench: --size', 0, 16 * 1024 * 1024),
    window: values.window === undefined ? 1 : parseInteger(values.window, 'bench: --window', 1, 1000),
    seconds: values.duration === undefined ? 10 : parseSeconds(values.duration, 'bench: --duration', 3600),
    count:
      values.count === undefined
        ? Number.POSITIVE_INFINITY
        : parseInteger(values.count, 'bench: --count', 1, 1e12),
  };
  if (options.seconds === 0) throw new UsageError('bench: --duration must be more than 0');
  const result = await bench(options, io);
  if (result.connections === 0) {
    io.err(`sockeye: could not open any connection to ${url}`);
    return 1;
  }
  if (values.json) io.out(JSON.stringify(result));
  else for (const line of formatTable(result)) io.out(line);
  return result.errors === 0 ? 0 : 1;
}

/** The `bench` command. */
export const benchCommand: Command = {
  name: 'bench',
  summary: 'load an echo server: messages/s, MB/s, p50/p99 latency (sockeye client)',
  help: HELP,
  run,
};
