/**
 * The Reconnect page: a `ReconnectingWebSocket` on `/ws/reconnect`, its state machine,
 * its backoff timeline, its heartbeat, what it has queued and what the server
 * acknowledged, and buttons that break its link from the server side (`/control/…`).
 * The server ticks once a second with a number per session, so the page can check that
 * nothing was lost or repeated across breaks.
 */
import {
  type HeartbeatEvent,
  type ReconnectCloseEvent,
  type ReconnectingEvent,
  ReconnectingWebSocket,
  type SessionOpenEvent,
} from '@sockeye/sockeye/session';
import { CONTROL_PATH, RECONNECT_PATH } from '../shared/routes.js';
import { appendBounded, byId, clock, el } from './dom.js';
import { describeClose, shortText, socketUrl } from './format.js';

/** Entries kept in each list. */
const MAX_ENTRIES = 200;
/** Heartbeat settings: short, so that a black hole shows within seconds. */
const HEARTBEAT = { heartbeatInterval: 3000, heartbeatTimeout: 2000 };
/** The backoff's largest delay (the client's default), for the timeline's bars. */
const MAX_DELAY = 30_000;

const machine = byId('machine', HTMLOListElement);
const state = byId('state', HTMLElement);
const sessionField = byId('session', HTMLElement);
const linksField = byId('links', HTMLElement);
const heartbeatField = byId('heartbeat', HTMLElement);
const sentField = byId('sent', HTMLElement);
const acknowledgedField = byId('acknowledged', HTMLElement);
const queuedField = byId('queued', HTMLElement);
const receivedField = byId('received', HTMLElement);
const ticksField = byId('ticks', HTMLElement);
const controlStatus = byId('control-status', HTMLElement);
const sendForm = byId('send-form', HTMLFormElement);
const textInput = byId('text', HTMLInputElement);
const timeline = byId('timeline', HTMLOListElement);
const log = byId('log', HTMLOListElement);

/** This tab, for the control endpoint: which link to break. */
const tab = crypto.randomUUID().replaceAll('-', '');
const ws = new ReconnectingWebSocket(socketUrl(location.href, RECONNECT_PATH, { tab }), HEARTBEAT);

let newSessions = 0;
let resumes = 0;
let lastTick = 0;
let ticks = 0;
let gaps = 0;
let repeats = 0;
let beats = 0;
let lastRtt = -1;
/** When the page last heard from the server (a message or a heartbeat's answer). */
let lastHeard = 0;

function entry(list: HTMLOListElement, className: string, text: string, delay?: number): void {
  const item = el('li', { className: `entry ${className}` });
  item.append(el('time', { text: clock() }), el('span', { text: ` ${text}` }));
  if (delay !== undefined) {
    // The delay drawn, against the largest the backoff allows.
    const bar = el('span', { className: 'delay-bar' });
    bar.style.width = `${Math.max(1, Math.min(100, (delay / MAX_DELAY) * 100))}%`;
    item.append(bar);
  }
  appendBounded(list, item, MAX_ENTRIES);
}

function show(): void {
  state.textContent = ws.state;
  state.dataset.state = ws.state === 'reconnecting' ? 'connecting' : ws.state;
  for (const item of machine.children) {
    const current = (item as HTMLElement).dataset.state === ws.state;
    item.classList.toggle('current', current);
    if (current) item.setAttribute('aria-current', 'step');
    else item.removeAttribute('aria-current');
  }
  sessionField.textContent = ws.sessionId === '' ? '-' : ws.sessionId;
  linksField.textContent = `${newSessions} new session${newSessions === 1 ? '' : 's'}, ${resumes} resumed`;
  const quiet = lastHeard === 0 ? '' : `last heard ${((Date.now() - lastHeard) / 1000).toFixed(1)} s ago; `;
  const answered = beats === 0 ? 'none needed yet' : `${beats} answered, last round trip ${lastRtt} ms`;
  heartbeatField.textContent = `${quiet}sent after ${HEARTBEAT.heartbeatInterval / 1000} s of silence, answer due within ${HEARTBEAT.heartbeatTimeout / 1000} s; ${answered}`;
  sentField.textContent = String(ws.sent);
  acknowledgedField.textContent = String(ws.acknowledged);
  queuedField.textContent = `${ws.bufferedMessages} message${ws.bufferedMessages === 1 ? '' : 's'}, ${ws.bufferedAmount} bytes`;
  receivedField.textContent = String(ws.received);
  ticksField.textContent =
    ticks === 0 ? '-' : `${ticks} received, last #${lastTick}; ${gaps} missing, ${repeats} repeated`;
}

ws.addEventListener('statechange', show);
ws.addEventListener('open', (event) => {
  const { resumed, sessionId } = event as SessionOpenEvent;
  if (resumed) resumes++;
  else newSessions++;
  entry(timeline, 'open', resumed ? `open: session resumed, nothing lost` : `open: new session ${sessionId}`);
  show();
});
ws.addEventListener('reconnecting', (event) => {
  const { attempt, delay, code, reason } = event as ReconnectingEvent;
  entry(
    timeline,
    'reconnecting',
    `reconnecting: link closed with ${describeClose(code, reason, true)}; attempt ${attempt} in ${delay} ms`,
    delay,
  );
  show();
});
ws.addEventListener('sessionlost', () => {
  entry(timeline, 'lost', 'the server no longer had the session: a new one started');
  lastTick = 0;
});
ws.addEventListener('heartbeat', (event) => {
  beats++;
  lastHeard = Date.now();
  lastRtt = Math.round((event as HeartbeatEvent).rtt);
  entry(timeline, 'heartbeat', `heartbeat answered in ${lastRtt} ms`);
  show();
});
ws.addEventListener('close', (event) => {
  const { code, reason, wasClean } = event as ReconnectCloseEvent;
  entry(timeline, 'closed', `closed for good: ${describeClose(code, reason, wasClean)}`);
  show();
});
ws.addEventListener('message', (event) => {
  const data = (event as MessageEvent).data;
  lastHeard = Date.now();
  if (typeof data !== 'string') return;
  let message: { type?: unknown; n?: unknown; text?: unknown; reason?: unknown };
  try {
    message = JSON.parse(data) as typeof message;
  } catch {
    return;
  }
  if (message.type === 'tick' && typeof message.n === 'number') {
    ticks++;
    if (message.n <= lastTick) repeats++;
    else if (lastTick !== 0) gaps += message.n - lastTick - 1;
    lastTick = Math.max(lastTick, message.n);
    entry(log, 'received', `tick #${message.n}`);
  } else if (message.type === 'echo' && typeof message.text === 'string') {
    entry(log, 'received', `echo: ${shortText(message.text, 200)}`);
  } else if (message.type === 'error' && typeof message.reason === 'string') {
    entry(log, 'received', `refused: ${message.reason}`);
  }
  show();
});

/** Ask the server to break this tab's link (or restart); say what happened. */
async function control(action: 'cut' | 'blackhole' | 'restart'): Promise<void> {
  const query = action === 'restart' ? '' : `?tab=${tab}`;
  try {
    const response = await fetch(`${CONTROL_PATH}/${action}${query}`, { method: 'POST' });
    if (response.status === 204) {
      controlStatus.textContent = `${action}: done at ${clock()}`;
      entry(
        timeline,
        'control',
        `asked the server to ${action === 'blackhole' ? 'black-hole' : action} the ${action === 'restart' ? 'server' : 'link'}`,
      );
    } else if (response.status === 404 && action !== 'restart' && ws.state !== 'open') {
      controlStatus.textContent = `${action}: there is no link right now`;
    } else {
      controlStatus.textContent = `${action}: the server said ${response.status} ${(await response.text()).trim()}`;
    }
  } catch (error) {
    controlStatus.textContent = `${action}: ${(error as Error).message}`;
  }
}

byId('cut', HTMLButtonElement).addEventListener('click', () => void control('cut'));
byId('blackhole', HTMLButtonElement).addEventListener('click', () => void control('blackhole'));
byId('restart', HTMLButtonElement).addEventListener('click', () => void control('restart'));
sendForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = textInput.value;
  if (text === '') return;
  ws.send(text); // kept and replayed by the session, whatever the state of the link
  textInput.value = '';
  show();
});

// The counters move without events (acknowledgements, the queue): refresh them often.
setInterval(show, 250);
show();
