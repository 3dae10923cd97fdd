/**
 * The frame inspector page. It opens the feed socket first; the server answers with a
 * session id; the page then opens the inspected echo socket with that id, and the server
 * reports on the feed the handshake and every frame of it, both directions, as the
 * bytes crossed the wire (see `shared/inspector.ts`).
 */
import {
  type FrameRecord,
  type HttpHeadRecord,
  INSPECTED_ECHO_PATH,
  INSPECTOR_FEED_PATH,
  isInspectorMessage,
  xorSteps,
} from '../shared/inspector.js';
import { appendBounded, byId, clock, definitionList, el } from './dom.js';
import { describeClose, readyStateName, socketUrl, spaceHexString } from './format.js';

/** Frames kept on the page; older ones are dropped. */
const MAX_FRAMES = 300;
/** Bytes shown in a masking walkthrough table (the full payload is in the hex fields). */
const MAX_XOR_ROWS = 32;

const feedState = byId('feed-state', HTMLElement);
const socketState = byId('socket-state', HTMLElement);
const form = byId('send-form', HTMLFormElement);
const input = byId('message', HTMLInputElement);
const sendButtons = [byId('send-text', HTMLButtonElement), byId('send-binary', HTMLButtonElement)];
const closeButton = byId('close', HTMLButtonElement);
const reconnectButton = byId('reconnect', HTMLButtonElement);
const requestHead = byId('request-head', HTMLElement);
const responseHead = byId('response-head', HTMLElement);
const frames = byId('frames', HTMLOListElement);

let feed: WebSocket | null = null;
let inspected: WebSocket | null = null;

function setState(target: HTMLElement, text: string, state: string): void {
  target.textContent = text;
  target.dataset.state = state;
}

function showSocketState(): void {
  const name = inspected === null ? 'closed' : readyStateName(inspected.readyState);
  setState(socketState, name, name);
  const open = inspected?.readyState === WebSocket.OPEN;
  for (const button of sendButtons) button.disabled = !open;
  closeButton.disabled = !open;
}

function renderHead(target: HTMLElement, head: HttpHeadRecord): void {
  const lines = [head.startLine, ...head.headers.map(([name, value]) => `${name}: ${value}`)];
  target.textContent = lines.join('\n');
}

function flag(value: boolean): string {
  return value ? '1' : '0';
}

/** The masking walkthrough: payload XOR key = wire bytes, one column per byte. */
function xorTable(frame: FrameRecord): HTMLElement {
  const steps = xorSteps(frame).slice(0, MAX_XOR_ROWS);
  const figure = el('figure', { className: 'xor' });
  figure.append(
    el('figcaption', {
      text: 'Masking (RFC 6455 section 5.3): each payload byte i is XORed with key[i mod 4]; the server XORs again to unmask.',
    }),
  );
  const table = el('table');
  const rows: Array<[string, (step: (typeof steps)[number]) => string]> = [
    ['i', (step) => String(step.index)],
    ['payload', (step) => step.unmasked],
    ['XOR key[i mod 4]', (step) => step.key],
    ['= on the wire', (step) => step.masked],
  ];
  for (const [label, cell] of rows) {
    const tr = el('tr');
    tr.append(el('th', { text: label }));
    for (const step of steps) tr.append(el('td', { text: cell(step) }));
    table.append(tr);
  }
  const scroller = el('div', { className: 'table-scroll' });
  scroller.append(table);
  figure.append(scroller);
  if (frame.shownBytes > MAX_XOR_ROWS) {
    figure.append(
      el('p', { className: 'note', text: `First ${MAX_XOR_ROWS} of ${frame.shownBytes} bytes.` }),
    );
  }
  return figure;
}

function renderFrame(frame: FrameRecord): void {
  const fromClient = frame.direction === 'client-to-server';
  const item = el('li', { className: `frame ${fromClient ? 'sent' : 'received'}` });
  const title = el('p', { className: 'entry-title' });
  title.append(
    el('span', { className: 'arrow', text: fromClient ? '→' : '←' }),
    ` #${frame.seq} ${fromClient ? 'browser to server' : 'server to browser'}: ${frame.opcodeName} `,
    el('time', { text: clock() }),
  );
  item.append(title);
  const shownNote = frame.shownBytes < frame.payloadLength ? ` (first ${frame.shownBytes} bytes)` : '';
  const rows: Array<[string, string]> = [
    ['FIN', flag(frame.fin)],
    ['RSV1', flag(frame.rsv1)],
    ['RSV2', flag(frame.rsv2)],
    ['RSV3', flag(frame.rsv3)],
    ['opcode', `0x${frame.opcode.toString(16)} (${frame.opcodeName})`],
    ['MASK', flag(frame.masked)],
    ['payload length', String(frame.payloadLength)],
    ['masking key', frame.maskKeyHex === null ? 'none' : spaceHexString(frame.maskKeyHex)],
    ['header bytes', spaceHexString(frame.headerHex)],
  ];
  if (frame.maskedHex !== null) rows.push([`masked payload${shownNote}`, spaceHexString(frame.maskedHex)]);
  rows.push([`payload (hex)${shownNote}`, spaceHexString(frame.payloadHex) || '(empty)']);
  if (frame.closeCode !== undefined) {
    rows.push(['close code', frame.closeCode === null ? 'none' : String(frame.closeCode)]);
    rows.push(['close reason', JSON.stringify(frame.closeReason ?? '')]);
  } else {
    rows.push([
      'payload (text)',
      frame.payloadText === null ? '(not UTF-8 text)' : JSON.stringify(frame.payloadText),
    ]);
  }
  item.append(definitionList(rows));
  if (frame.masked && frame.shownBytes > 0) item.append(xorTable(frame));
  appendBounded(frames, item, MAX_FRAMES);
}

function openInspected(session: string): void {
  const ws = new WebSocket(socketUrl(location.href, INSPECTED_ECHO_PATH, { session }));
  ws.binaryType = 'arraybuffer';
  inspected = ws;
  showSocketState();
  ws.addEventListener('open', showSocketState);
  ws.addEventListener('close', (event: CloseEvent) => {
    if (ws !== inspected) return;
    showSocketState();
    setState(socketState, `closed: ${describeClose(event.code, event.reason, event.wasClean)}`, 'closed');
  });
}

function start(): void {
  feed?.close(1000, 'restarting');
  inspected?.close(1000, 'restarting');
  frames.replaceChildren();
  requestHead.textContent = '';
  responseHead.textContent = '';
  const ws = new WebSocket(socketUrl(location.href, INSPECTOR_FEED_PATH));
  feed = ws;
  setState(feedState, 'connecting', 'connecting');
  ws.addEventListener('open', () => setState(feedState, 'open, waiting for a session', 'connecting'));
  ws.addEventListener('message', (event: MessageEvent) => {
    if (ws !== feed || typeof event.data !== 'string') return;
    let message: unknown;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (!isInspectorMessage(message)) return;
    switch (message.type) {
      case 'session':
        setState(feedState, 'open', 'open');
        openInspected(message.session);
        break;
      case 'handshake':
        renderHead(requestHead, message.request);
        renderHead(responseHead, message.response);
        break;
      case 'frame':
        renderFrame(message.frame);
        break;
      case 'end':
        setState(feedState, `inspected connection ended: ${message.reason}`, 'closed');
        break;
    }
  });
  ws.addEventListener('close', (event: CloseEvent) => {
    if (ws !== feed) return;
    setState(feedState, `closed: ${describeClose(event.code, event.reason, event.wasClean)}`, 'closed');
  });
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  if (inspected?.readyState !== WebSocket.OPEN) return;
  const submitter = (event as SubmitEvent).submitter;
  if (submitter instanceof HTMLButtonElement && submitter.value === 'binary') {
    inspected.send(new TextEncoder().encode(input.value));
  } else {
    inspected.send(input.value);
  }
});
closeButton.addEventListener('click', () => inspected?.close(1000, 'bye'));
reconnectButton.addEventListener('click', start);

start();
