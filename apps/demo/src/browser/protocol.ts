/**
 * The protocol page: one inspected echo connection (see `inspection.ts`) and a section
 * per part of RFC 6455: the frame header bit by bit (100, 200 and 70,000 bytes), a
 * fragmented message with a ping between its frames (sent by the server on request),
 * ping and pong and the server's heartbeat, the closing handshake with the `CloseEvent`,
 * and permessage-deflate on a switch.
 */
import { readHeader } from '../shared/frame-header.js';
import {
  type FrameRecord,
  type InflatedMessage,
  isSendableCloseCode,
  REQUESTED_PING_PREFIX,
} from '../shared/inspector.js';
import { appendBounded, byId, clock, definitionList, el } from './dom.js';
import { describeClose, readyStateName, shortText, spaceHexString } from './format.js';
import { Inspection } from './inspection.js';

/** Trace entries kept on the page; older ones are dropped. */
const MAX_TRACE = 300;
/** Payload bytes shown per trace entry (the frame inspector shows them all). */
const SHOWN_PAYLOAD_BYTES = 32;

const socketState = byId('socket-state', HTMLElement);
const extensions = byId('extensions', HTMLElement);
const deflateParams = byId('deflate-params', HTMLElement);
const deflate = byId('deflate', HTMLInputElement);
const reconnect = byId('reconnect', HTMLButtonElement);
const sizeButtons = [
  byId('send-100', HTMLButtonElement),
  byId('send-200', HTMLButtonElement),
  byId('send-70000', HTMLButtonElement),
];
const headerFrame = byId('header-frame', HTMLElement);
const headerBytes = byId('header-bytes', HTMLElement);
const lengthEncoding = byId('length-encoding', HTMLElement);
const headerBits = byId('header-bits', HTMLTableSectionElement);
const fragmentForm = byId('fragment-form', HTMLFormElement);
const fragmentText = byId('fragment-text', HTMLInputElement);
const fragmentCount = byId('fragment-count', HTMLSelectElement);
const fragmentPing = byId('fragment-ping', HTMLInputElement);
const fragmentButton = byId('send-fragmented', HTMLButtonElement);
const fragmentResult = byId('fragment-result', HTMLElement);
const pingButton = byId('ping', HTMLButtonElement);
const pingResult = byId('ping-result', HTMLElement);
const closeForm = byId('close-form', HTMLFormElement);
const closeCode = byId('close-code', HTMLInputElement);
const closeReason = byId('close-reason', HTMLInputElement);
const closeButton = byId('close', HTMLButtonElement);
const serverCloseButton = byId('server-close', HTMLButtonElement);
const closeError = byId('close-error', HTMLElement);
const closeEventCode = byId('close-event-code', HTMLElement);
const closeEventReason = byId('close-event-reason', HTMLElement);
const closeEventClean = byId('close-event-clean', HTMLElement);
const trace = byId('trace', HTMLOListElement);

let inspection: Inspection | null = null;
/**
 * The fragmented message the page asked for: its frames counted until FIN (from the feed)
 * and the message event (from the socket), which may come in either order.
 */
let fragmented: { frames: number; fin: boolean; message: string | null } | null = null;

function showFragmentResult(): void {
  if (fragmented === null || !fragmented.fin || fragmented.message === null) return;
  fragmentResult.textContent = `${fragmented.frames} frames on the wire, one message event for the page: ${JSON.stringify(fragmented.message)}`;
  fragmented = null;
}

function setState(text: string, state: string): void {
  socketState.textContent = text;
  socketState.dataset.state = state;
}

function setControls(open: boolean): void {
  for (const button of [...sizeButtons, fragmentButton, pingButton, closeButton, serverCloseButton])
    button.disabled = !open;
}

/** A payload of `size` bytes of readable ASCII, so that every size is also text. */
function payloadOf(size: number): string {
  const phrase = 'sockeye frames bytes. ';
  return phrase.repeat(Math.ceil(size / phrase.length)).slice(0, size);
}

/** Show `frame`'s header field by field in the header section. */
function showHeader(frame: FrameRecord): void {
  const reading = readHeader(frame.headerHex);
  const from = frame.direction === 'client-to-server' ? 'browser to server' : 'server to browser';
  headerFrame.textContent = `#${frame.seq} ${from}: ${frame.opcodeName}, ${frame.payloadLength} payload bytes`;
  headerBytes.textContent = reading.bytes.join(' ');
  lengthEncoding.textContent = `${reading.lengthEncoding} (${reading.bytes.length}-byte header)`;
  lengthEncoding.dataset.encoding = reading.lengthEncoding;
  headerBits.replaceChildren();
  for (const field of reading.fields) {
    const row = el('tr');
    row.append(
      el('th', { text: field.name }),
      el('td', { className: 'bits-value', text: field.bits }),
      el('td', { text: field.meaning }),
    );
    headerBits.append(row);
  }
}

function isHeartbeat(frame: FrameRecord): boolean {
  return (
    frame.opcodeName === 'ping' &&
    frame.direction === 'server-to-client' &&
    !(frame.payloadText ?? '').startsWith(REQUESTED_PING_PREFIX)
  );
}

function traceEntry(kind: string, direction: string, title: string): HTMLLIElement {
  const fromClient = direction === 'client-to-server';
  const item = el('li', { className: `frame ${fromClient ? 'sent' : 'received'}` });
  item.dataset.kind = kind;
  item.dataset.direction = direction;
  const heading = el('p', { className: 'entry-title' });
  heading.append(
    el('span', { className: 'arrow', text: fromClient ? '→' : '←' }),
    ` ${title} `,
    el('time', { text: clock() }),
  );
  item.append(heading);
  return item;
}

function shownHex(hex: string): string {
  const bytes = hex.length / 2;
  const spaced = spaceHexString(hex.slice(0, SHOWN_PAYLOAD_BYTES * 2));
  return bytes > SHOWN_PAYLOAD_BYTES ? `${spaced} …` : spaced || '(empty)';
}

function renderFrame(frame: FrameRecord): void {
  const heartbeat = isHeartbeat(frame);
  const item = traceEntry(
    heartbeat ? 'heartbeat' : 'frame',
    frame.direction,
    `#${frame.seq} ${frame.opcodeName}, FIN ${frame.fin ? 1 : 0}, RSV1 ${frame.rsv1 ? 1 : 0}, ${frame.payloadLength} bytes`,
  );
  item.dataset.opcode = frame.opcodeName;
  item.dataset.fin = String(frame.fin);
  item.dataset.rsv1 = String(frame.rsv1);
  const rows: Array<[string, string]> = [
    ['header', spaceHexString(frame.headerHex)],
    [frame.rsv1 ? 'payload (compressed)' : 'payload', shownHex(frame.payloadHex)],
  ];
  if (frame.closeCode !== undefined) {
    rows.push(['close code', frame.closeCode === null ? 'none' : String(frame.closeCode)]);
    rows.push(['close reason', JSON.stringify(frame.closeReason ?? '')]);
  } else if (frame.payloadText !== null && !frame.rsv1 && frame.payloadLength > 0) {
    rows.push(['text', JSON.stringify(shortText(frame.payloadText, 80))]);
  }
  if (heartbeat)
    rows.push([
      'why',
      "the server's heartbeat: is the browser still there? The browser answers with a pong.",
    ]);
  item.append(definitionList(rows));
  const bits = el('button', { className: 'small', text: 'Header bit by bit' });
  bits.type = 'button';
  bits.addEventListener('click', () => showHeader(frame));
  item.append(bits);
  appendBounded(trace, item, MAX_TRACE);

  if (
    frame.direction === 'client-to-server' &&
    (frame.opcodeName === 'text' || frame.opcodeName === 'binary')
  ) {
    showHeader(frame);
  }
  if (
    fragmented !== null &&
    !fragmented.fin &&
    frame.direction === 'server-to-client' &&
    (frame.opcodeName === 'text' || frame.opcodeName === 'continuation')
  ) {
    fragmented.frames++;
    fragmented.fin = frame.fin;
    showFragmentResult();
  }
  if (frame.opcodeName === 'pong' && frame.direction === 'client-to-server') {
    pingResult.textContent = `The browser answered with a pong: ${JSON.stringify(frame.payloadText ?? '')}.`;
  }
}

function renderInflated(message: InflatedMessage): void {
  const item = traceEntry(
    'inflated',
    message.direction,
    `${
      message.direction === 'client-to-server'
        ? 'the message as the server inflated it'
        : 'the message the server compressed'
    }: ${message.isBinary ? 'binary' : 'text'}, ${message.length} bytes`,
  );
  const rows: Array<[string, string]> = [['payload', shownHex(message.payloadHex)]];
  if (message.payloadText !== null) rows.push(['text', JSON.stringify(shortText(message.payloadText, 80))]);
  item.append(definitionList(rows));
  appendBounded(trace, item, MAX_TRACE);
}

function showDeflateParams(negotiated: string): void {
  extensions.textContent = negotiated === '' ? 'none' : negotiated;
  if (negotiated === '') {
    deflateParams.textContent = deflate.checked
      ? 'The server did not agree to compression.'
      : 'No compression: payloads cross the wire as sent (tick the box to negotiate permessage-deflate).';
    return;
  }
  const [name, ...params] = negotiated.split(';').map((part) => part.trim());
  deflateParams.replaceChildren(
    el('p', {
      text: `${name} agreed. Each message is compressed on its own; its first frame has RSV1 set. Parameters: ${
        params.length === 0
          ? 'none (both sides keep a 32 KiB window and their context between messages)'
          : params.join(', ')
      }.`,
    }),
  );
}

function start(): void {
  inspection?.close();
  trace.replaceChildren();
  extensions.textContent = '-';
  deflateParams.textContent = '';
  setControls(false);
  setState('connecting', 'connecting');
  const current = new Inspection(
    {
      onSocket: (socket) => {
        socket.addEventListener('open', () => {
          setState(readyStateName(socket.readyState), 'open');
          setControls(true);
        });
        socket.addEventListener('message', (event: MessageEvent) => {
          if (fragmented === null || fragmented.message !== null || typeof event.data !== 'string') return;
          fragmented.message = event.data;
          showFragmentResult();
        });
        socket.addEventListener('close', (event: CloseEvent) => {
          if (inspection !== current) return;
          setControls(false);
          setState(`closed: ${describeClose(event.code, event.reason, event.wasClean)}`, 'closed');
          closeEventCode.textContent = String(event.code);
          closeEventReason.textContent = JSON.stringify(event.reason);
          closeEventClean.textContent = String(event.wasClean);
        });
      },
      onMessage: (message) => {
        if (inspection !== current) return;
        if (message.type === 'handshake') showDeflateParams(message.extensions);
        else if (message.type === 'frame') renderFrame(message.frame);
        else if (message.type === 'message') renderInflated(message);
      },
      onFeedClosed: () => {},
    },
    deflate.checked,
  );
  inspection = current;
}

for (const button of sizeButtons) {
  button.addEventListener('click', () => inspection?.socket?.send(payloadOf(Number(button.dataset.size))));
}
fragmentForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const fragments = Number(fragmentCount.value);
  if ([...fragmentText.value].length < fragments) {
    fragmentResult.textContent = `Type at least ${fragments} characters: one per fragment.`;
    return;
  }
  fragmented = { frames: 0, fin: false, message: null };
  fragmentResult.textContent = 'asked the server…';
  inspection?.command({
    type: 'fragment',
    text: fragmentText.value,
    fragments,
    interleavePing: fragmentPing.checked,
  });
});
pingButton.addEventListener('click', () => {
  pingResult.textContent = 'asked the server…';
  inspection?.command({ type: 'ping' });
});
closeForm.addEventListener('submit', (event) => {
  event.preventDefault();
  closeError.textContent = '';
  try {
    inspection?.socket?.close(Number(closeCode.value), closeReason.value);
  } catch (error) {
    // The browser refuses a code a page may not send, or a reason over 123 bytes.
    closeError.textContent = (error as Error).message;
  }
});
serverCloseButton.addEventListener('click', () => {
  closeError.textContent = '';
  const code = Number(closeCode.value);
  if (!isSendableCloseCode(code)) {
    closeError.textContent = `A server may not send ${closeCode.value}: use 1000 to 1003, 1007 to 1014 or 3000 to 4999.`;
    return;
  }
  if (new TextEncoder().encode(closeReason.value).length > 123) {
    closeError.textContent = 'The reason is longer than 123 bytes of UTF-8.';
    return;
  }
  inspection?.command({ type: 'close', code, reason: closeReason.value });
});
deflate.addEventListener('change', start);
reconnect.addEventListener('click', start);

start();
