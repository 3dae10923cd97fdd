/**
 * Shared client benchmark loop for bench/clients/*.ts. Each entry connects to `--url`
 * with its own WebSocket client (all three speak the browser API), keeps `--window`
 * messages in flight (1 = strict round trips) for `--duration` seconds after a short
 * warm-up, and prints one JSON line:
 * `{"client","url","window","size","messages","seconds","messagesPerSecond","p50Ms","p99Ms"}`.
 * Latency is per message, from send() to its echo. The server must echo (e.g. `npm run echo`).
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
  let done!: () => void;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const sendOne = () => {
    sentAt.push(performance.now());
    inFlight++;
    socket.send(payload);
  };
  socket.addEventListener('message', () => {
    const started = sentAt[head++] ?? 0;
    inFlight--;
    if (measuring) latencies.push(performance.now() - started);
    if (head > 65536) {
      sentAt.splice(0, head);
      head = 0;
    }
    if (!stopping) sendOne();
    else if (inFlight === 0) done();
  });
  for (let i = 0; i < options.window; i++) sendOne();
  await new Promise((resolve) => setTimeout(resolve, options.warmup * 1000));
  measuring = true;
  const start = performance.now();
  await new Promise((resolve) => setTimeout(resolve, options.duration * 1000));
  measuring = false;
  const seconds = (performance.now() - start) / 1000;
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
      messagesPerSecond: Math.round(latencies.length / seconds),
      p50Ms: Number(percentile(sorted, 50).toFixed(3)),
      p99Ms: Number(percentile(sorted, 99).toFixed(3)),
    }),
  );
}

/** Resolve once `socket` is open; reject if it closes first. */
export function whenOpen<T extends BenchSocket>(socket: T): Promise<T> {
  return new Promise((resolve, reject) => {
    socket.addEventListener('open', () => resolve(socket));
    socket.addEventListener('close', () => reject(new Error('closed before open')));
  });
}
