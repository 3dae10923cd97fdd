/**
 * The transport lab page: the same message stream over short polling, long polling,
 * SSE, WebSocket and WebSocket with permessage-deflate, one after the other, against the
 * demo server's lab endpoints (see `shared/lab.ts`). Latency is measured here (arrival
 * minus the server's stamp, corrected by the clock offset); bytes, requests and
 * connections are the server's counts. Charts are uPlot's, bundled by esbuild.
 *
 * `?count=&interval=&poll=` preset the fields, `?run` starts at once (the tests use both).
 * The results are also on `window.labResults`, and `document.body.dataset.lab` is
 * `done` when every transport has run.
 */
import uPlot from 'uplot';
import {
  LAB_PATHS,
  LAB_TRANSPORT_NAMES,
  LAB_TRANSPORTS,
  type LabMessage,
  type LabServerStats,
  type LabTransport,
  percentile,
} from '../shared/lab.js';
import { byId, el } from './dom.js';
import { socketUrl } from './format.js';

/** One transport's measured run. */
export interface LabResult {
  transport: LabTransport;
  /** Sequence numbers in the order they arrived. */
  received: number[];
  /** Latency of each message, ms, by arrival. */
  latencies: number[];
  p50: number;
  p99: number;
  bytesPerMessage: number;
  requests: number;
  connections: number;
  server: LabServerStats;
  error?: string;
}

const countInput = byId('lab-count', HTMLInputElement);
const intervalInput = byId('lab-interval', HTMLInputElement);
const pollInput = byId('lab-poll', HTMLInputElement);
const runButton = byId('lab-run', HTMLButtonElement);
const status = byId('lab-status', HTMLElement);
const tbody = byId('lab-results', HTMLTableSectionElement);
const latencyBox = byId('lab-latency-chart', HTMLElement);
const bytesBox = byId('lab-bytes-chart', HTMLElement);

const COLORS: Record<LabTransport, string> = {
  'short-poll': '#b91c1c',
  'long-poll': '#c2410c',
  sse: '#15803d',
  websocket: '#1d4ed8',
  'websocket-deflate': '#7c3aed',
};

const params = new URLSearchParams(location.search);
for (const [input, name] of [
  [countInput, 'count'],
  [intervalInput, 'interval'],
  [pollInput, 'poll'],
] as const) {
  const value = params.get(name);
  if (value !== null && /^\d+$/.test(value)) input.value = value;
}

const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function getJson<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(path, { cache: 'no-store', ...init });
  if (!response.ok) throw new Error(`${init?.method ?? 'GET'} ${path}: ${response.status}`);
  return (await response.json()) as T;
}

/** The server's clock minus ours, from the fastest of a few round trips (NTP's idea, once). */
async function clockOffset(): Promise<number> {
  let best = { rtt: Number.POSITIVE_INFINITY, offset: 0 };
  for (let i = 0; i < 7; i++) {
    const sent = now();
    const { now: server } = await getJson<{ now: number }>(LAB_PATHS.clock);
    const back = now();
    if (back - sent < best.rtt) best = { rtt: back - sent, offset: server - (sent + back) / 2 };
  }
  return best.offset;
}

/** Receives a transport's messages and knows when the stream is complete. */
class Receiver {
  readonly received: number[] = [];
  readonly latencies: number[] = [];
  private resolveDone: () => void = () => {};
  readonly done = new Promise<void>((resolve) => {
    this.resolveDone = resolve;
  });

  constructor(
    readonly count: number,
    private readonly offset: number,
  ) {}

  get last(): number {
    return this.received.at(-1) ?? 0;
  }

  get complete(): boolean {
    return this.received.length >= this.count;
  }

  take(message: LabMessage): void {
    if (message.seq <= this.last) return; // a repeat (a poll that raced): not counted twice
    this.latencies.push(now() + this.offset - message.sentAt);
    this.received.push(message.seq);
    if (this.complete) this.resolveDone();
  }

  takeAll(messages: LabMessage[]): void {
    for (const message of messages) this.take(message);
  }
}

/** Connect `transport` for run `id`, feeding `receiver`; resolves once it is ready for the stream to start. */
async function connect(
  transport: LabTransport,
  id: string,
  receiver: Receiver,
  pollInterval: number,
  cleanups: (() => void)[],
): Promise<void> {
  const query = `id=${encodeURIComponent(id)}`;
  switch (transport) {
    case 'short-poll':
      void (async () => {
        while (!receiver.complete) {
          const next = sleep(pollInterval); // a request every poll interval, however long it takes
          receiver.takeAll(await getJson<LabMessage[]>(`${LAB_PATHS.poll}?${query}&after=${receiver.last}`));
          await next;
        }
      })().catch(() => {});
      return;
    case 'long-poll':
      void (async () => {
        while (!receiver.complete) {
          receiver.takeAll(
            await getJson<LabMessage[]>(`${LAB_PATHS.longPoll}?${query}&after=${receiver.last}`),
          );
        }
      })().catch(() => {});
      await sleep(50); // the first poll is waiting before the stream starts
      return;
    case 'sse': {
      const source = new EventSource(`${LAB_PATHS.sse}?${query}`);
      cleanups.push(() => source.close());
      source.onmessage = (event) => {
        receiver.take(JSON.parse(event.data as string) as LabMessage);
        if (receiver.complete) source.close();
      };
      await new Promise<void>((resolve, reject) => {
        source.onopen = () => resolve();
        source.onerror = () => {
          if (source.readyState === EventSource.CLOSED) reject(new Error('EventSource failed'));
        };
      });
      return;
    }
    case 'websocket':
    case 'websocket-deflate': {
      const path = transport === 'websocket' ? LAB_PATHS.websocket : LAB_PATHS.websocketDeflate;
      const ws = new WebSocket(socketUrl(location.href, path, { id }));
      cleanups.push(() => ws.close());
      ws.onmessage = (event) => {
        receiver.take(JSON.parse(event.data as string) as LabMessage);
        if (receiver.complete) ws.close(1000, 'done');
      };
      await new Promise<void>((resolve, reject) => {
        ws.onopen = () => resolve();
        ws.onclose = () => reject(new Error('WebSocket closed before opening'));
      });
      return;
    }
  }
}

/** Run the stream over one transport and measure it. */
async function runTransport(
  transport: LabTransport,
  count: number,
  interval: number,
  pollInterval: number,
  offset: number,
): Promise<LabResult> {
  const { id } = await getJson<{ id: string }>(
    `${LAB_PATHS.run}?transport=${transport}&count=${count}&interval=${interval}`,
    { method: 'POST' },
  );
  const receiver = new Receiver(count, offset);
  const cleanups: (() => void)[] = [];
  let error: string | undefined;
  try {
    await connect(transport, id, receiver, pollInterval, cleanups);
    await getJson(`${LAB_PATHS.start}?id=${encodeURIComponent(id)}`, { method: 'POST' });
    // A hang guard, not a measurement: the stream takes count x interval.
    const guard = sleep(count * interval + pollInterval + 30_000).then(() => {
      throw new Error(`${receiver.received.length} of ${count} messages arrived`);
    });
    await Promise.race([receiver.done, guard]);
  } catch (caught) {
    error = caught instanceof Error ? caught.message : String(caught);
  } finally {
    for (const cleanup of cleanups) cleanup();
  }
  await sleep(100); // the last response's bytes are counted when it finishes
  const server = await getJson<LabServerStats>(`${LAB_PATHS.stats}?id=${encodeURIComponent(id)}`);
  const delivered = Math.max(1, receiver.received.length);
  return {
    transport,
    received: receiver.received,
    latencies: receiver.latencies,
    p50: percentile(receiver.latencies, 50),
    p99: percentile(receiver.latencies, 99),
    bytesPerMessage: (server.bytesIn + server.bytesOut) / delivered,
    requests: server.requests,
    connections: server.connections,
    server,
    error,
  };
}

function ms(value: number): string {
  return Number.isNaN(value) ? '-' : `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;
}

function showRow(result: LabResult): void {
  const row = el('tr');
  row.dataset.transport = result.transport;
  const cells = [
    LAB_TRANSPORT_NAMES[result.transport],
    result.error === undefined
      ? String(result.received.length)
      : `${result.received.length} (${result.error})`,
    ms(result.p50),
    ms(result.p99),
    String(Math.round(result.bytesPerMessage)),
    String(result.requests),
    String(result.connections),
  ];
  cells.forEach((text, i) => {
    const cell = el(i === 0 ? 'th' : 'td', { text });
    if (i === 0) cell.setAttribute('scope', 'row');
    row.append(cell);
  });
  tbody.append(row);
}

function latencyChart(count: number): uPlot {
  return new uPlot(
    {
      width: Math.max(320, latencyBox.clientWidth),
      height: 260,
      scales: { x: { time: false }, y: { distr: 3 } },
      axes: [{ label: 'message' }, { label: 'latency (ms, log scale)' }],
      series: [
        { label: 'message' },
        ...LAB_TRANSPORTS.map((transport) => ({
          label: LAB_TRANSPORT_NAMES[transport],
          stroke: COLORS[transport],
          width: 1.5,
          points: { show: false },
        })),
      ],
      legend: { show: true },
    },
    [Array.from({ length: count }, (_, i) => i + 1), ...LAB_TRANSPORTS.map(() => [])],
    latencyBox,
  );
}

function bytesChart(): uPlot {
  const bars = uPlot.paths.bars?.({ size: [0.6, 80] });
  return new uPlot(
    {
      width: Math.max(320, bytesBox.clientWidth),
      height: 220,
      scales: {
        x: { time: false, range: [0.5, LAB_TRANSPORTS.length + 0.5] },
        y: { range: (_u, _min, max) => [0, max * 1.1 || 1] },
      },
      axes: [
        {
          label: 'transport',
          splits: () => LAB_TRANSPORTS.map((_, i) => i + 1),
          values: (_u, splits) => splits.map((i) => LAB_TRANSPORT_NAMES[LAB_TRANSPORTS[i - 1]!] ?? ''),
        },
        { label: 'bytes per message' },
      ],
      series: [
        { label: 'transport' },
        {
          label: 'bytes / message',
          stroke: '#1d4ed8',
          fill: '#93c5fd',
          paths: bars,
          points: { show: false },
        },
      ],
      legend: { show: false },
    },
    [LAB_TRANSPORTS.map((_, i) => i + 1), LAB_TRANSPORTS.map(() => null)],
    bytesBox,
  );
}

declare global {
  interface Window {
    labResults?: LabResult[];
  }
}

async function runAll(): Promise<void> {
  const count = Number(countInput.value);
  const interval = Number(intervalInput.value);
  const pollInterval = Number(pollInput.value);
  runButton.disabled = true;
  document.body.dataset.lab = 'running';
  tbody.replaceChildren();
  latencyBox.replaceChildren();
  bytesBox.replaceChildren();
  const latency = latencyChart(count);
  const bytes = bytesChart();
  const results: LabResult[] = [];
  window.labResults = results;
  try {
    status.textContent = 'Estimating the clock offset…';
    const offset = await clockOffset();
    for (const transport of LAB_TRANSPORTS) {
      status.textContent = `${LAB_TRANSPORT_NAMES[transport]}: ${count} messages, one every ${interval} ms…`;
      const result = await runTransport(transport, count, interval, pollInterval, offset);
      results.push(result);
      showRow(result);
      latency.setData([
        Array.from({ length: count }, (_, i) => i + 1),
        ...LAB_TRANSPORTS.map((t) => {
          const done = results.find((r) => r.transport === t);
          return done === undefined ? [] : done.latencies.map((value) => Math.max(0.01, value));
        }),
      ]);
      bytes.setData([
        LAB_TRANSPORTS.map((_, i) => i + 1),
        LAB_TRANSPORTS.map((t) => results.find((r) => r.transport === t)?.bytesPerMessage ?? null),
      ]);
    }
    status.textContent = `Done: ${count} messages over each transport (clock offset ${offset.toFixed(1)} ms).`;
  } catch (error) {
    status.textContent = `Failed: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    runButton.disabled = false;
    document.body.dataset.lab = 'done';
  }
}

runButton.addEventListener('click', () => void runAll());
if (params.has('run')) void runAll();
