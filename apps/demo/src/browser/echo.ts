/**
 * The echo page: the seed's example done well. Text, Blob and ArrayBuffer go out on
 * one socket; every echo comes back and is shown with the type the browser gave it
 * (string, Blob or ArrayBuffer, chosen by `binaryType`) and its bytes.
 */
import { ECHO_PATH } from '../shared/routes.js';
import { appendBounded, byId, clock, definitionList, el } from './dom.js';
import {
  describeClose,
  parseProtocolList,
  readyStateName,
  shortText,
  socketUrl,
  spacedHex,
} from './format.js';

/** Log entries kept on the page; older ones are dropped. */
const MAX_LOG_ENTRIES = 200;

const state = byId('state', HTMLElement);
const urlField = byId('url', HTMLElement);
const protocolField = byId('protocol', HTMLElement);
const extensionsField = byId('extensions', HTMLElement);
const offerInput = byId('offer', HTMLInputElement);
const binaryTypeSelect = byId('binary-type', HTMLSelectElement);
const reconnectButton = byId('reconnect', HTMLButtonElement);
const closeButton = byId('close', HTMLButtonElement);
const form = byId('send-form', HTMLFormElement);
const input = byId('message', HTMLTextAreaElement);
const sendButtons = [
  byId('send-text', HTMLButtonElement),
  byId('send-blob', HTMLButtonElement),
  byId('send-arraybuffer', HTMLButtonElement),
];
const log = byId('log', HTMLOListElement);

let socket: WebSocket | null = null;

function showState(): void {
  const name = socket === null ? 'closed' : readyStateName(socket.readyState);
  state.textContent = name;
  state.dataset.state = name;
  const open = socket?.readyState === WebSocket.OPEN;
  for (const button of sendButtons) button.disabled = !open;
  closeButton.disabled = !open;
  protocolField.textContent = open ? socket!.protocol || 'none' : '-';
  extensionsField.textContent = open ? socket!.extensions || 'none' : '-';
}

/** Add a log entry: direction, what kind of data, its bytes and text. */
function logEntry(
  kind: 'sent' | 'received' | 'event',
  title: string,
  rows: Array<[string, string]> = [],
): void {
  const item = el('li', { className: `entry ${kind}` });
  const heading = el('p', { className: 'entry-title' });
  heading.append(
    el('span', { className: 'arrow', text: kind === 'sent' ? '→' : kind === 'received' ? '←' : '•' }),
  );
  heading.append(` ${title} `, el('time', { text: clock() }));
  item.append(heading);
  if (rows.length > 0) item.append(definitionList(rows));
  appendBounded(log, item, MAX_LOG_ENTRIES);
}

async function describeData(data: unknown): Promise<{ type: string; rows: Array<[string, string]> }> {
  if (typeof data === 'string') {
    const bytes = new TextEncoder().encode(data);
    return {
      type: 'string (text message)',
      rows: [
        ['text', shortText(data)],
        ['UTF-8 bytes', `${bytes.length}: ${spacedHex(bytes)}`],
      ],
    };
  }
  if (data instanceof Blob) {
    const bytes = new Uint8Array(await data.arrayBuffer());
    return { type: 'Blob (binary message)', rows: [['bytes', `${bytes.length}: ${spacedHex(bytes)}`]] };
  }
  if (data instanceof ArrayBuffer) {
    const bytes = new Uint8Array(data);
    return {
      type: 'ArrayBuffer (binary message)',
      rows: [['bytes', `${bytes.length}: ${spacedHex(bytes)}`]],
    };
  }
  return { type: typeof data, rows: [] };
}

function connect(): void {
  if (socket !== null && socket.readyState !== WebSocket.CLOSED) socket.close(1000, 'reconnecting');
  const url = socketUrl(location.href, ECHO_PATH);
  urlField.textContent = url;
  const ws = new WebSocket(url, parseProtocolList(offerInput.value));
  ws.binaryType = binaryTypeSelect.value === 'arraybuffer' ? 'arraybuffer' : 'blob';
  socket = ws;
  showState();
  ws.addEventListener('open', () => {
    if (ws !== socket) return;
    showState();
    logEntry('event', 'connected', [
      ['subprotocol', ws.protocol || 'none'],
      ['extensions', ws.extensions || 'none'],
    ]);
  });
  // Reading a Blob is asynchronous: chain the entries so they stay in arrival order.
  let shown = Promise.resolve();
  ws.addEventListener('message', (event: MessageEvent) => {
    shown = shown
      .then(() => describeData(event.data))
      .then(({ type, rows }) => logEntry('received', `echo received as ${type}`, rows));
  });
  ws.addEventListener('error', () => {
    if (ws === socket) logEntry('event', 'connection error (see the close code below)');
  });
  ws.addEventListener('close', (event: CloseEvent) => {
    if (ws !== socket) return;
    showState();
    logEntry('event', `closed: ${describeClose(event.code, event.reason, event.wasClean)}`);
  });
}

function send(as: 'text' | 'blob' | 'arraybuffer'): void {
  if (socket?.readyState !== WebSocket.OPEN) return;
  const text = input.value;
  const bytes = new TextEncoder().encode(text);
  if (as === 'text') {
    socket.send(text);
    logEntry('sent', 'sent a string (text message)', [
      ['text', shortText(text)],
      ['UTF-8 bytes', `${bytes.length}: ${spacedHex(bytes)}`],
    ]);
  } else if (as === 'blob') {
    socket.send(new Blob([bytes]));
    logEntry('sent', 'sent a Blob (binary message)', [['bytes', `${bytes.length}: ${spacedHex(bytes)}`]]);
  } else {
    socket.send(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    logEntry('sent', 'sent an ArrayBuffer (binary message)', [
      ['bytes', `${bytes.length}: ${spacedHex(bytes)}`],
    ]);
  }
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const submitter = (event as SubmitEvent).submitter;
  const as = submitter instanceof HTMLButtonElement ? submitter.value : 'text';
  send(as === 'blob' || as === 'arraybuffer' ? as : 'text');
});
reconnectButton.addEventListener('click', connect);
closeButton.addEventListener('click', () => socket?.close(1000, 'closed from the page'));
binaryTypeSelect.addEventListener('change', () => {
  if (socket !== null) socket.binaryType = binaryTypeSelect.value === 'arraybuffer' ? 'arraybuffer' : 'blob';
});
byId('clear-log', HTMLButtonElement).addEventListener('click', () => log.replaceChildren());

connect();
