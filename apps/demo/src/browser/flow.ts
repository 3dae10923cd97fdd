/**
 * The backpressure and latency page. Charts are uPlot's (bundled into this page's script
 * by esbuild; its stylesheet is copied beside the pages as `uplot.css`).
 *
 * - Backpressure: 4 MiB in 64 KiB messages to the sink socket, all at once or paced
 *   under 256 KiB of `bufferedAmount`, sampled every 10 ms until it drains.
 * - Latency: a numbered message on the echo socket every 500 ms, timed until it returns.
 */
import uPlot from 'uplot';
import { ECHO_PATH, SINK_PATH } from '../shared/routes.js';
import { byId } from './dom.js';
import { describeClose, readyStateName, socketUrl } from './format.js';

const TOTAL_BYTES = 4 << 20;
const CHUNK_BYTES = 64 << 10;
const PACED_LIMIT = 256 << 10;
const SAMPLE_MS = 10;
/** Samples kept per run (a hang guard: a run that never drains stops drawing after 20 s). */
const MAX_SAMPLES = 2000;
const LATENCY_EVERY_MS = 500;
const LATENCY_POINTS = 60;

const sinkState = byId('sink-state', HTMLElement);
const floodButton = byId('flood', HTMLButtonElement);
const pacedButton = byId('paced', HTMLButtonElement);
const bufferPeak = byId('buffer-peak', HTMLElement);
const bufferStatus = byId('buffer-status', HTMLElement);
const bufferChartBox = byId('buffer-chart', HTMLElement);
const latencyState = byId('latency-state', HTMLElement);
const latencyLast = byId('latency-last', HTMLElement);
const latencyMedian = byId('latency-median', HTMLElement);
const latencyCount = byId('latency-count', HTMLElement);
const latencyToggle = byId('latency-toggle', HTMLButtonElement);
const latencyChartBox = byId('latency-chart', HTMLElement);

function setState(target: HTMLElement, socket: WebSocket, event?: CloseEvent): void {
  const name = readyStateName(socket.readyState);
  target.textContent =
    event === undefined ? name : `closed: ${describeClose(event.code, event.reason, event.wasClean)}`;
  target.dataset.state = name;
}

function chart(box: HTMLElement, yLabel: string, stroke: string, xLabel: string): uPlot {
  return new uPlot(
    {
      width: Math.max(320, box.clientWidth),
      height: 240,
      scales: { x: { time: false } },
      axes: [{ label: xLabel }, { label: yLabel }],
      series: [{ label: xLabel }, { label: yLabel, stroke, width: 2, points: { show: false } }],
      legend: { show: true },
    },
    [[], []],
    box,
  );
}

// ---- backpressure ----

const bufferChart = chart(bufferChartBox, 'bufferedAmount (KiB)', '#1d4ed8', 'ms since the first send');
const sink = new WebSocket(socketUrl(location.href, SINK_PATH));
let running = false;

sink.addEventListener('open', () => {
  setState(sinkState, sink);
  floodButton.disabled = pacedButton.disabled = false;
});
sink.addEventListener('close', (event) => {
  setState(sinkState, sink, event);
  floodButton.disabled = pacedButton.disabled = true;
});

function run(paced: boolean): void {
  if (running || sink.readyState !== WebSocket.OPEN) return;
  running = true;
  floodButton.disabled = pacedButton.disabled = true;
  const chunk = new Uint8Array(CHUNK_BYTES);
  const xs: number[] = [];
  const ys: number[] = [];
  let sent = 0;
  let peak = 0;
  const began = performance.now();
  const sendSome = () => {
    while (sent < TOTAL_BYTES && (!paced || sink.bufferedAmount < PACED_LIMIT)) {
      sink.send(chunk);
      sent += CHUNK_BYTES;
    }
  };
  const sample = () => {
    const buffered = sink.bufferedAmount;
    peak = Math.max(peak, buffered);
    xs.push(Math.round(performance.now() - began));
    ys.push(buffered / 1024);
    bufferChart.setData([xs, ys]);
    bufferPeak.textContent = `${Math.round(peak / 1024)} KiB`;
    bufferPeak.dataset.bytes = String(peak);
  };
  bufferStatus.textContent = paced ? 'sending, paced…' : 'sending at once…';
  bufferStatus.dataset.state = 'running';
  sendSome();
  sample();
  const timer = setInterval(() => {
    sendSome();
    sample();
    const done = sent >= TOTAL_BYTES && sink.bufferedAmount === 0;
    if (done || xs.length >= MAX_SAMPLES || sink.readyState !== WebSocket.OPEN) {
      clearInterval(timer);
      running = false;
      floodButton.disabled = pacedButton.disabled = sink.readyState !== WebSocket.OPEN;
      bufferStatus.textContent = done
        ? `${TOTAL_BYTES >> 20} MiB ${paced ? 'paced' : 'at once'}: drained after ${xs.at(-1)} ms, peak ${Math.round(peak / 1024)} KiB`
        : 'stopped before draining';
      bufferStatus.dataset.state = done ? 'drained' : 'stopped';
    }
  }, SAMPLE_MS);
}

floodButton.addEventListener('click', () => run(false));
pacedButton.addEventListener('click', () => run(true));

// ---- latency ----

const latencyChart = chart(latencyChartBox, 'round trip (ms)', '#047857', 'seconds since the page opened');
const echo = new WebSocket(socketUrl(location.href, ECHO_PATH));
const opened = performance.now();
const pending = new Map<number, number>();
const times: number[] = [];
const rtts: number[] = [];
let next = 0;
let total = 0;
let paused = false;

echo.addEventListener('open', () => setState(latencyState, echo));
echo.addEventListener('close', (event) => setState(latencyState, echo, event));
echo.addEventListener('message', (event: MessageEvent) => {
  const seq = typeof event.data === 'string' ? Number(/^rtt (\d+)$/.exec(event.data)?.[1]) : Number.NaN;
  const sentAt = pending.get(seq);
  if (sentAt === undefined) return;
  pending.delete(seq);
  const now = performance.now();
  times.push(Math.round((now - opened) / 100) / 10);
  rtts.push(Math.round((now - sentAt) * 100) / 100);
  if (times.length > LATENCY_POINTS) {
    times.shift();
    rtts.shift();
  }
  total++;
  latencyChart.setData([times, rtts]);
  const sorted = [...rtts].sort((a, b) => a - b);
  latencyLast.textContent = `${rtts.at(-1)} ms`;
  latencyMedian.textContent = `${sorted[Math.floor(sorted.length / 2)]} ms`;
  latencyCount.textContent = String(total);
});

setInterval(() => {
  if (paused || echo.readyState !== WebSocket.OPEN) return;
  // A lost echo (none is expected) must not grow the map.
  if (pending.size > 10) pending.clear();
  pending.set(next, performance.now());
  echo.send(`rtt ${next++}`);
}, LATENCY_EVERY_MS);

latencyToggle.addEventListener('click', () => {
  paused = !paused;
  latencyToggle.textContent = paused ? 'Resume' : 'Pause';
});
