/**
 * Shared client benchmark loop for bench/clients/*.ts. Each entry connects to `--url`
 * with its own WebSocket client (each speaks the browser API; the raw client the part of it the loop uses), keeps `--window`
 * messages in flight (1 = strict round trips) for `--duration` seconds after a warm-up
 * (`--warmup` seconds and at least 5,000 echoes), and prints one JSON line:
 * `{"client","url","window","size","messages","seconds","messagesPerSecond","p50Ms","p99Ms",
 * "cpuSeconds","perCpuSecond","errors","firstError","startedAt","endedAt"}` (the measured
 * window in epoch milliseconds, so a harness can relate it to other processes' CPU time).
 * Latency is per message, from send() to its echo. `cpuSeconds` is this process's CPU time
 * over the measured window and `perCpuSecond` the messages per CPU-second (the client's cost
 * per message, which a busy machine distorts less than messages/s). Every echo must be a
 * binary message of `--size` bytes; anything else counts in `errors` (the process then exits
 * with status 1). The server must echo (e.g. `npm run echo`).
 */
import { parseArgs } from 'node:util';

/** The part of the browser WebSocket API the loop uses. */
export interface BenchSocket {
  binaryType: string;
  send(data: string | ArrayBuffer | Uint8Array): void;
  close(): void;
  addEventListener(type: string, listener: (event: { data?: unknown }) => void): void;
}

/** Options from the command line. */
export interface BenchOptions {
  url: string;
  window: number;
  size: number;
  duration: number;
  warmup: number;
}

/** Read `--url`, `--window`, `--size` (bytes, binary), `--duration` and `--warmup` (seconds). */
export function benchOptions(): BenchOptions {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: 'ws://127.0.0.1:9001' },
      window: { type: 'string', default: '1' },
      size: { type: 'string', default: '64' },
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
    },
  });
  return {
    url: values.url,
    window: Math.max(1, Number(values.window)),
    size: Math.max(0, Number(values.size)),
    duration: Number(values.duration),
    warmup: Number(values.warmup),
  };
}

/** Echoes the warm-up must see besides its time, so that V8 has optimised the loop and the client. */
const WARMUP_MESSAGES = 5000;
/** The most the warm-up waits for them. */
const WARMUP_LIMIT_MS = 10_000;

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Run the benchmark with an open socket and print the JSON line. */
export async function runBench(client: string, open: (url: string) => Promise<BenchSocket>): Promise<void> {
  const options = benchOptions();
  const socket = await open(options.url);
  socket.binaryType = 'arraybuffer';
  const payload = new Uint8Array(options.size).fill(0x61);
  const sentAt: number[] = [];
  let head = 0;
  const latencies: number[] = [];
  let measuring = false;
  let stopping = false;
  let inFlight = 0;
  let warmedUp = 0;
  let warm!: () => void;
  const warmedUpEnough = new Promise<void>((resolve) => {
    warm = resolve;
  });
  let errors = 0;
  let firstError: string | null = null;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const sendOne = () => {
    sentAt.push(performance.now());
    inFlight++;
    socket.send(payload);
  };
  socket.addEventListener('message', (event) => {
    const data = event.data;
    if (!(data instanceof ArrayBuffer) || data.byteLength !== options.size) {
      errors++;
      firstError ??= `expected a binary echo of ${options.size} bytes, got ${
        data instanceof ArrayBuffer ? `${data.byteLength} bytes` : typeof data
      }`;
    }
    const started = sentAt[head++] ?? 0;
    inFlight--;
    if (measuring) latencies.push(performance.now() - started);
    else if (++warmedUp === WARMUP_MESSAGES) warm();
    if (head > 65536) {
      sentAt.splice(0, head);
      head = 0;
    }
    if (!stopping) sendOne();
    else if (inFlight === 0) done();
  });
  for (let i = 0; i < options.window; i++) sendOne();
  await new Promise((resolve) => setTimeout(resolve, options.warmup * 1000));
  // On a busy machine the warm-up's wall time may give the process too little CPU for V8 to
  // optimise the hot path: also wait for WARMUP_MESSAGES echoes (bounded by WARMUP_LIMIT_MS).
  let limit: NodeJS.Timeout | undefined;
  await Promise.race([
    warmedUpEnough,
    new Promise((resolve) => (limit = setTimeout(resolve, WARMUP_LIMIT_MS))),
  ]);
  // Cleared, or it would keep the process alive for the rest of WARMUP_LIMIT_MS after the run.
  clearTimeout(limit);
  measuring = true;
  const start = performance.now();
  const startedAt = Date.now();
  const cpuStart = process.cpuUsage();
  await new Promise((resolve) => setTimeout(resolve, options.duration * 1000));
  measuring = false;
  const cpu = process.cpuUsage(cpuStart);
  const seconds = (performance.now() - start) / 1000;
  const endedAt = Date.now();
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  stopping = true;
  await finished;
  socket.close();
  const sorted = Float64Array.from(latencies).sort();
  console.log(
    JSON.stringify({
      client,
      url: options.url,
      window: options.window,
      size: options.size,
      messages: latencies.length,
      seconds: Number(seconds.toFixed(3)),
      startedAt,
      endedAt,
      messagesPerSecond: Math.round(latencies.length / seconds),
      p50Ms: Number(percentile(sorted, 50).toFixed(3)),
      p99Ms: Number(percentile(sorted, 99).toFixed(3)),
      cpuSeconds: Number(cpuSeconds.toFixed(3)),
      perCpuSecond: cpuSeconds > 0 ? Math.round(latencies.length / cpuSeconds) : null,
      errors,
      firstError,
    }),
  );
  if (errors > 0) process.exitCode = 1;
}

/** Resolve once `socket` is open; reject if it closes first. */
export function whenOpen<T extends BenchSocket>(socket: T): Promise<T> {
  return new Promise((resolve, reject) => {
    socket.addEventListener('open', () => resolve(socket));
    socket.addEventListener('close', () => reject(new Error('closed before open')));
  });
}
