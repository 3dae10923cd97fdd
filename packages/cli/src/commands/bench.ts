/**
 * `sockeye bench <url>`: a load generator on sockeye's own client (the WHATWG
 * `WebSocket`): N connections to an echo server, each keeping `--window` messages in
 * flight, with a live progress line and a final table.
 */
import { type ClientOptions, type CloseEvent, WebSocket } from '@sockeye/sockeye/client';
import { HandshakeError } from '@sockeye/sockeye/protocol';
import { type Command, type Io, UsageError } from '../cli.js';
import { parseTarget } from '../net/client.js';
import { parseCommandArgs, parseInteger, parseSeconds } from './args.js';
import { describeConnectError } from './connect.js';

const HELP = `Usage: sockeye bench <url> [options]

Load an echo server (sockeye serve, npm run echo, the demo's /ws/echo, ...) with
sockeye's own client: every connection sends binary messages of --size bytes, keeping
--window of them in flight, and times each echo. Every echo is checked byte for byte
and in order against what its connection sent: a server that answers anything else (a
broadcast server, a chat room) stops the run with one line saying what it answered.
A live line shows the progress on a terminal; the final table gives connections,
messages/s, MB/s, the p50/p99 latency and the errors by kind.

Options:
  -c, --connections N   connections opened together (default 10, at most 10000)
  -s, --size BYTES      payload of each message (default 64, at most 16 MiB)
  -w, --window N        messages in flight per connection (default 1)
  -d, --duration SEC    stop after this long (default 10, at most 3600)
  -n, --count N         stop after this many echoes in total (whichever comes first)
  -k, --insecure        accept a TLS certificate that does not verify (self-signed)
      --no-deflate      do not offer permessage-deflate (offered by default, as browsers
                        do; the table says whether the server accepted it)
      --json            print the result as one JSON line instead of the table

Latency is from send() to the echo's arrival, for every message; percentiles come
from a uniform sample of at most 100,000 of them. MB/s counts echoed payload bytes
(10^6 bytes per MB).

Exit code: 0 when the run completed without errors, 1 when the server is not an echo
server (or answered nothing), no connection could be opened or a connection failed or
closed during the run, 2 for bad arguments.

Examples:
  sockeye bench ws://127.0.0.1:8080/ws/echo -d 2             # the demo's echo (npm start)
  sockeye bench ws://127.0.0.1:9000 -c 20 -s 1024 -d 2       # with: sockeye serve --port 9000
  sockeye bench 127.0.0.1:9000 -n 1000 -w 16 --json`;

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

/** Why a message or a connection counted as an error. */
export type BenchErrorKind =
  /** The connection could not be opened. */
  | 'connection failed'
  /** The server closed a connection during the run. */
  | 'closed early'
  /** An answer with another length than the message sent. */
  | 'wrong length'
  /** An answer of the right length whose bytes differ from what was sent (another client's message, say). */
  | 'wrong bytes'
  /** An echo of one of this connection's messages, but not the oldest one in flight. */
  | 'out of order'
  /** A text message in answer to a binary one. */
  | 'text'
  /** A message while nothing was in flight. */
  | 'unsolicited';

/** The kinds that mean the server does not echo: the run stops at the first one. */
const NOT_AN_ECHO: ReadonlySet<BenchErrorKind> = new Set([
  'wrong length',
  'wrong bytes',
  'out of order',
  'text',
  'unsolicited',
]);

/** The outcome of a run. */
export interface BenchResult {
  connections: number;
  messages: number;
  seconds: number;
  messagesPerSecond: number;
  megabytesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** All errors. */
  errors: number;
  /** The errors by kind (only kinds that happened). */
  errorsByKind: Partial<Record<BenchErrorKind, number>>;
  /** What the server answered that was not an echo, in words, or null when every answer was one. */
  notAnEcho: string | null;
  /** Whether permessage-deflate was negotiated (on the first connection). */
  deflate: boolean;
}

interface Options {
  url: string;
  /** What every connection is opened with (TLS checking, permessage-deflate). */
  client: ClientOptions;
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

/** `3 (closed early 2, connection failed 1)`, or `0`. */
export function formatErrors(result: Pick<BenchResult, 'errors' | 'errorsByKind'>): string {
  const kinds = Object.entries(result.errorsByKind).map(([kind, count]) => `${kind} ${formatNumber(count)}`);
  return kinds.length === 0
    ? formatNumber(result.errors)
    : `${formatNumber(result.errors)} (${kinds.join(', ')})`;
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
    ['deflate', result.deflate ? 'yes' : 'no'],
    ['errors', formatErrors(result)],
  ];
  return rows.map(([name, value]) => `${name.padEnd(12)} ${value.padStart(14)}`);
}

/** Bytes of each message that carry its sequence number (little-endian; fewer when the message is shorter). */
const SEQUENCE_BYTES = 8;

/**
 * The messages of one connection and the check of their echoes. Every message is the
 * connection's own random bytes with its sequence number over the first 8: an echo must
 * come back whole, byte for byte, and in the order sent. Another client's message (a
 * broadcast) differs in its random bytes, a reordered echo in its number.
 */
export class EchoChecker {
  private readonly base: Buffer;
  private readonly head: number;
  private nextSent = 0;
  private nextEchoed = 0;
  /** Scratch space for a sequence number, and for the start of the echo expected next. */
  private readonly number = Buffer.alloc(SEQUENCE_BYTES);
  private readonly expected = Buffer.alloc(SEQUENCE_BYTES);

  constructor(readonly size: number) {
    this.base = Buffer.alloc(size);
    for (let i = 0; i < size; i++) this.base[i] = Math.floor(Math.random() * 256);
    this.head = Math.min(SEQUENCE_BYTES, size);
  }

  /** Messages sent and not yet echoed. */
  get inFlight(): number {
    return this.nextSent - this.nextEchoed;
  }

  /** The next message to send (a new buffer: the previous one may not be written yet). */
  next(): Buffer {
    const message = Buffer.allocUnsafe(this.size);
    this.base.copy(message);
    this.stamp(message, this.nextSent++);
    return message;
  }

  /** Check an answer: null when it is the echo of the oldest message in flight, else what is wrong. */
  check(data: ArrayBuffer | string): BenchErrorKind | null {
    if (typeof data === 'string') return 'text';
    if (this.inFlight === 0) return 'unsolicited';
    const bytes = Buffer.from(data);
    if (bytes.length !== this.size) return 'wrong length';
    // The random part first: a message that is not ours fails here, whatever its number.
    if (bytes.compare(this.base, this.head, this.size, this.head, this.size) !== 0) return 'wrong bytes';
    this.stamp(this.expected, this.nextEchoed);
    // Ours (the random part matches) but not the oldest in flight: out of order.
    if (bytes.compare(this.expected, 0, this.head, 0, this.head) !== 0) return 'out of order';
    this.nextEchoed++;
    return null;
  }

  /** Write `sequence` (little-endian, as many bytes as the message has up to 8) at the start of `message`. */
  private stamp(message: Buffer, sequence: number): void {
    this.number.writeBigUInt64LE(BigInt(sequence));
    this.number.copy(message, 0, 0, this.head);
  }
}

/** One line for the first answer that was not an echo. */
function notAnEchoLine(kind: BenchErrorKind, size: number, data: ArrayBuffer | string): string {
  switch (kind) {
    case 'text': {
      const text = data as string;
      const shown = text.length > 60 ? `${text.slice(0, 60)}...` : text;
      return `answered a binary message with text: ${JSON.stringify(shown)}`;
    }
    case 'wrong length':
      return `answered a ${size}-byte message with ${(data as ArrayBuffer).byteLength} bytes`;
    case 'wrong bytes':
      return 'answered with bytes this connection did not send (a broadcast from another connection?)';
    case 'out of order':
      return "echoed this connection's messages out of order";
    default:
      return 'sent a message while none was in flight';
  }
}

async function bench(options: Options, io: Io): Promise<BenchResult> {
  const latencies = new Reservoir(LATENCY_SAMPLE_SIZE);
  let received = 0;
  let receivedBytes = 0;
  let errors = 0;
  const errorsByKind: Partial<Record<BenchErrorKind, number>> = {};
  let notAnEcho: string | null = null;
  const count = (kind: BenchErrorKind) => {
    errors++;
    errorsByKind[kind] = (errorsByKind[kind] ?? 0) + 1;
  };
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
          const ws = new WebSocket(options.url, [], options.client);
          ws.binaryType = 'arraybuffer';
          ws.onopen = () => resolve(ws);
          ws.onerror = (event) => {
            count('connection failed');
            const message = describeOpenError((event as Event & { message?: string }).message);
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
  let closedEarly: CloseEvent | null = null;
  for (const ws of sockets) {
    const checker = new EchoChecker(options.size);
    const sentAt: number[] = [];
    let head = 0;
    const send = () => {
      sentAt.push(performance.now());
      ws.send(checker.next());
    };
    ws.onmessage = (event: Event) => {
      if (stopping) return;
      const now = performance.now();
      const data = (event as MessageEvent).data as ArrayBuffer | string;
      const problem = checker.check(data);
      if (problem !== null) {
        count(problem);
        if (NOT_AN_ECHO.has(problem) && notAnEcho === null) {
          // Not an echo server: the figures would mean nothing, so the run stops here.
          notAnEcho = notAnEchoLine(problem, options.size, data);
          stop();
        }
        return;
      }
      latencies.add(now - (sentAt[head++] as number));
      if (head > 1024) {
        sentAt.splice(0, head);
        head = 0;
      }
      received++;
      receivedBytes += options.size;
      if (received >= options.count) stop();
      else send();
    };
    ws.onclose = (event) => {
      if (!stopping) {
        count('closed early');
        closedEarly ??= event as CloseEvent;
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
  if (closedEarly !== null) {
    const event: CloseEvent = closedEarly;
    io.err(
      `sockeye: the server closed a connection during the run (${event.code}${event.reason === '' ? '' : ` ${JSON.stringify(event.reason)}`})`,
    );
  }
  const closes = sockets.map(
    (ws) =>
      new Promise<void>((resolve) => {
        ws.onmessage = null;
        if (ws.readyState === WebSocket.CLOSED) {
          resolve();
          return;
        }
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
      errorsByKind,
      notAnEcho,
      deflate: (sockets[0]?.extensions ?? '').startsWith('permessage-deflate'),
    };
  }
}

/** The client's handshake error in the words `connect` uses ("not a WebSocket endpoint (HTTP 200 OK)"). */
function describeOpenError(message: string | undefined): string {
  const status = /^Unexpected server response: (\d+)/.exec(message ?? '');
  if (status === null) return message ?? 'connection failed';
  return describeConnectError(new HandshakeError(Number(status[1]), message ?? ''));
}

async function run(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs('bench', args, {
    connections: { type: 'string', short: 'c' },
    size: { type: 'string', short: 's' },
    window: { type: 'string', short: 'w' },
    duration: { type: 'string', short: 'd' },
    count: { type: 'string', short: 'n' },
    json: { type: 'boolean' },
    insecure: { type: 'boolean', short: 'k' },
    'no-deflate': { type: 'boolean' },
  });
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  const [url, ...extra] = positionals;
  if (url === undefined)
    throw new UsageError('bench: give the URL of an echo server (try sockeye bench --help)');
  if (extra.length > 0) throw new UsageError(`bench: one URL only (unexpected ${JSON.stringify(extra[0])})`);
  let target: URL;
  try {
    target = parseTarget(url);
  } catch (error) {
    throw new UsageError(`bench: ${(error as Error).message}`);
  }
  const options: Options = {
    url: target.href,
    client: {
      rejectUnauthorized: values.insecure !== true,
      perMessageDeflate: values['no-deflate'] !== true,
    },
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
    io.err(`sockeye: could not open any connection to ${target.href}`);
    return 1;
  }
  if (result.notAnEcho === null && result.messages === 0 && result.errors === 0) {
    io.err(
      `sockeye: ${target.href} answered none of the messages sent in ${result.seconds.toFixed(1)} s (is it an echo server?)`,
    );
    return 1;
  }
  if (result.notAnEcho !== null) {
    io.err(`sockeye: ${target.href} is not an echo server: it ${result.notAnEcho}`);
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
