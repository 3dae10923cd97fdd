/**
 * Prometheus metrics for a sockeye `WebSocketServer`, with `prom-client`. Counters and
 * gauges are read from `server.stats()` when Prometheus scrapes (nothing is done per
 * message); connection durations and publish fan-out times come from the server's
 * diagnostics channels into histograms.
 *
 * @example
 * ```ts
 * const metrics = collectMetrics(server);
 * http.createServer(async (req, res) => {
 *   if (req.url === '/metrics') return metrics.handle(req, res);
 * });
 * ```
 * @packageDocumentation
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CloseDiagnostic, PublishDiagnostic, ServerStats, WebSocketServer } from '@sockeye/sockeye';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Options of {@link collectMetrics}. */
export interface MetricsOptions {
  /** The registry to register the metrics in. @defaultValue a new `Registry` of its own */
  registry?: Registry;
  /** Prefix of every metric name. @defaultValue `'sockeye_'` */
  prefix?: string;
  /** Labels added to every metric (e.g. `{ server: 'chat' }` for several servers in one registry). @defaultValue none */
  labels?: Readonly<Record<string, string>>;
  /** Buckets of the connection duration histogram, in seconds. @defaultValue 1 s to 1 day */
  durationBuckets?: readonly number[];
  /** Buckets of the publish fan-out histogram, in seconds. @defaultValue 10 µs to 1 s */
  fanOutBuckets?: readonly number[];
}

/** What {@link collectMetrics} returns. */
export interface ServerMetrics {
  /** The registry holding the metrics. */
  readonly registry: Registry;
  /** The metrics in Prometheus' text format. */
  text(): Promise<string>;
  /** An HTTP handler answering with the metrics (for a `/metrics` route). */
  handle(request: IncomingMessage, response: ServerResponse): Promise<void>;
  /** Stop listening to the server's channels and remove the metrics from the registry. */
  close(): void;
}

const DEFAULT_DURATION_BUCKETS = [1, 10, 60, 300, 1800, 3600, 4 * 3600, 24 * 3600];
const DEFAULT_FAN_OUT_BUCKETS = [0.00001, 0.0001, 0.001, 0.01, 0.1, 1];

/**
 * Register Prometheus metrics for `server`:
 * - gauges `connections`, `sockets`, `queued_bytes`, `topics`, `subscriptions`;
 * - counters `handshakes_total{result,status}`, `messages_total{direction}` (with the
 *   server's `countMessages`), `bytes_total{direction}`, `closes_total{code}`,
 *   `limits_total{kind}`;
 * - histograms `connection_duration_seconds` and `publish_fanout_seconds`.
 *
 * @throws Error from prom-client when a metric of the same name is already registered
 *   (give another `prefix` or `registry`, or `labels` with one registry per server)
 */
export function collectMetrics<Data>(
  server: WebSocketServer<Data>,
  options: MetricsOptions = {},
): ServerMetrics {
  const registry = options.registry ?? new Registry();
  const prefix = options.prefix ?? 'sockeye_';
  const constant = options.labels ?? {};
  const constantNames = Object.keys(constant);
  // One snapshot per scrape, shared by every metric's collect().
  let snapshot: ServerStats | null = null;
  const stats = (): ServerStats => {
    if (snapshot === null) {
      snapshot = server.stats();
      queueMicrotask(() => {
        snapshot = null;
      });
    }
    return snapshot;
  };
  const names: string[] = [];
  const name = (suffix: string): string => {
    names.push(prefix + suffix);
    return prefix + suffix;
  };

  const gauge = (suffix: string, help: string, read: (s: ServerStats) => number): void => {
    new Gauge({
      name: name(suffix),
      help,
      labelNames: constantNames,
      registers: [registry],
      collect() {
        this.set(constant, read(stats()));
      },
    });
  };
  gauge('connections', 'Open WebSocket connections.', (s) => s.connections);
  gauge('sockets', 'TCP connections held: handshakes, WebSockets, closing ones.', (s) => s.sockets);
  gauge('queued_bytes', 'Outbound bytes buffered over every open connection.', (s) => s.queuedBytes);
  gauge('topics', 'Topics with a local subscriber.', (s) => s.topics);
  gauge('subscriptions', 'Topic subscriptions of the open connections.', (s) => s.subscriptions);
  gauge('event_source_streams', 'Open EventSource streams on topics.', (s) => s.eventSource.streams);

  const counter = <L extends string>(
    suffix: string,
    help: string,
    labelNames: readonly L[],
    read: (s: ServerStats) => Array<[Record<L, string>, number]>,
  ): void => {
    new Counter({
      name: name(suffix),
      help,
      labelNames: [...constantNames, ...labelNames],
      registers: [registry],
      collect() {
        // The server keeps the totals: show them as they are.
        this.reset();
        for (const [labels, value] of read(stats())) this.inc({ ...constant, ...labels }, value);
      },
    });
  };
  counter(
    'handshakes_total',
    'Opening handshakes answered, by result and HTTP status.',
    ['result', 'status'],
    (s) =>
      Object.entries(s.handshakes.byStatus).map(([status, count]) => [
        { result: status === '101' ? 'accepted' : 'rejected', status },
        count,
      ]),
  );
  counter('messages_total', 'WebSocket messages, by direction (with countMessages).', ['direction'], (s) => [
    [{ direction: 'in' }, s.messages.in],
    [{ direction: 'out' }, s.messages.out],
  ]);
  counter('bytes_total', 'Bytes on the wire, by direction.', ['direction'], (s) => [
    [{ direction: 'in' }, s.bytes.in],
    [{ direction: 'out' }, s.bytes.out],
  ]);
  counter('closes_total', 'Connections closed, by close code.', ['code'], (s) =>
    Object.entries(s.closeCodes).map(([code, count]) => [{ code }, count]),
  );
  counter('limits_total', 'Limits hit, by kind.', ['kind'], (s) =>
    Object.entries(s.limits).map(([kind, count]) => [{ kind }, count ?? 0]),
  );
  counter(
    'event_source_messages_total',
    'Messages written to EventSource streams (once per stream).',
    [],
    (s) => [[{}, s.eventSource.messagesOut]],
  );
  counter('event_source_bytes_total', 'Body bytes written to EventSource streams.', [], (s) => [
    [{}, s.eventSource.bytesOut],
  ]);

  const durations = new Histogram({
    name: name('connection_duration_seconds'),
    help: 'How long connections stayed open.',
    labelNames: constantNames,
    buckets: [...(options.durationBuckets ?? DEFAULT_DURATION_BUCKETS)],
    registers: [registry],
  });
  const fanOut = new Histogram({
    name: name('publish_fanout_seconds'),
    help: 'Time to frame and queue a topic message for every local subscriber.',
    labelNames: constantNames,
    buckets: [...(options.fanOutBuckets ?? DEFAULT_FAN_OUT_BUCKETS)],
    registers: [registry],
  });
  const onClose = (message: unknown): void => {
    const close = message as CloseDiagnostic;
    if (close.server === server) durations.observe(constant, close.durationMs / 1000);
  };
  const onPublish = (message: unknown): void => {
    const publish = message as PublishDiagnostic;
    if (publish.server === server) fanOut.observe(constant, publish.fanOutMs / 1000);
  };
  subscribe('sockeye:close', onClose);
  subscribe('sockeye:publish', onPublish);

  return {
    registry,
    text: () => registry.metrics(),
    async handle(_request, response) {
      try {
        const body = await registry.metrics();
        response.writeHead(200, { 'Content-Type': registry.contentType });
        response.end(body);
      } catch (error) {
        response.writeHead(500, { 'Content-Type': 'text/plain' });
        response.end(`${String(error)}\n`);
      }
    },
    close() {
      unsubscribe('sockeye:close', onClose);
      unsubscribe('sockeye:publish', onPublish);
      for (const metric of names) registry.removeSingleMetric(metric);
    },
  };
}
