/**
 * The handshake page: opens an inspected echo connection (see `inspection.ts`) and walks
 * through its opening handshake: the request head as the server received it, each
 * header explained, the `Sec-WebSocket-Accept` derivation, and the 101 response.
 */
import type { AcceptDerivation, HttpHeadRecord } from '../shared/inspector.js';
import { byId, el } from './dom.js';
import { describeClose, readyStateName, spaceHexString } from './format.js';
import { Inspection } from './inspection.js';

/** Why each header is in the request, by lower-case name. */
const REQUEST_WHY: Record<string, string> = {
  host: 'Required in every HTTP/1.1 request; the server checks it names a host it serves.',
  connection:
    'Upgrade: this connection is to change protocol (a proxy must not pass the Upgrade header on to another hop).',
  upgrade: 'websocket: the protocol to switch to.',
  'sec-websocket-key':
    '16 random bytes in base64, new for each connection; the server must hash it into Sec-WebSocket-Accept.',
  'sec-websocket-version':
    '13, the version of RFC 6455; a server that speaks another answers 426 with the ones it knows.',
  origin:
    'The page that opened the socket. Browsers always send it; a server uses it to refuse sockets from other sites.',
  'sec-websocket-extensions':
    'Extensions the browser offers, with their parameters: permessage-deflate compresses each message.',
  'sec-websocket-protocol':
    'Subprotocols the page offered, in its order of preference; the server picks one.',
  'user-agent': 'The browser, as for any request; not part of the WebSocket handshake.',
  'cache-control': 'no-cache, with Pragma: so that no cache in the way answers instead of the server.',
  pragma: 'no-cache, for HTTP/1.0 caches.',
  'accept-encoding': 'Sent as for any request; meaningless here, the answer has no body.',
  'accept-language': 'Sent as for any request; not part of the WebSocket handshake.',
  cookie: "The site's cookies, as for any request to it: a server can authenticate the socket with them.",
};

/** Why each header is in the response, by lower-case name. */
const RESPONSE_WHY: Record<string, string> = {
  upgrade: 'websocket: the protocol now spoken on this connection.',
  connection: 'Upgrade: this connection changes protocol.',
  'sec-websocket-accept': 'The proof the server understood the request (step 2 above).',
  'sec-websocket-extensions': 'The extensions the server accepted, with the parameters both sides will use.',
  'sec-websocket-protocol': 'The subprotocol the server picked from those offered.',
};

const socketState = byId('socket-state', HTMLElement);
const againButton = byId('again', HTMLButtonElement);
const requestHead = byId('request-head', HTMLElement);
const responseHead = byId('response-head', HTMLElement);
const requestHeaders = byId('request-headers', HTMLTableSectionElement);
const responseHeaders = byId('response-headers', HTMLTableSectionElement);
const acceptCheck = byId('accept-check', HTMLElement);
const steps = {
  key: byId('step-key', HTMLElement),
  guid: byId('step-guid', HTMLElement),
  concat: byId('step-concat', HTMLElement),
  sha1: byId('step-sha1', HTMLElement),
  accept: byId('step-accept', HTMLElement),
};

let inspection: Inspection | null = null;

function setState(text: string, state: string): void {
  socketState.textContent = text;
  socketState.dataset.state = state;
}

function renderHead(
  pre: HTMLElement,
  body: HTMLTableSectionElement,
  head: HttpHeadRecord,
  why: Record<string, string>,
) {
  pre.textContent = [head.startLine, ...head.headers.map(([name, value]) => `${name}: ${value}`)].join('\n');
  body.replaceChildren();
  for (const [name, value] of head.headers) {
    const row = el('tr');
    row.dataset.header = name.toLowerCase();
    row.append(
      el('th', { text: name }),
      el('td', { className: 'wrap', text: value }),
      el('td', {
        text:
          why[name.toLowerCase()] ??
          'Sent as for any HTTP request; the WebSocket handshake does not need it.',
      }),
    );
    body.append(row);
  }
}

function renderDerivation(derivation: AcceptDerivation, response: HttpHeadRecord): void {
  steps.key.textContent = derivation.key;
  steps.guid.textContent = derivation.guid;
  steps.concat.textContent = derivation.concatenated;
  steps.sha1.textContent = spaceHexString(derivation.sha1Hex);
  steps.accept.textContent = derivation.accept;
  const sent = response.headers.find(([name]) => name.toLowerCase() === 'sec-websocket-accept')?.[1];
  const ok = sent === derivation.accept;
  acceptCheck.textContent = ok
    ? `The response's Sec-WebSocket-Accept is ${sent}: the same. The browser accepted the connection.`
    : `The response's Sec-WebSocket-Accept is ${sent ?? 'missing'}: not the same.`;
  acceptCheck.dataset.ok = String(ok);
}

function start(): void {
  inspection?.close();
  for (const target of [requestHead, responseHead, acceptCheck, ...Object.values(steps)])
    target.textContent = '';
  requestHeaders.replaceChildren();
  responseHeaders.replaceChildren();
  setState('connecting', 'connecting');
  const current = new Inspection({
    onSocket: (socket) => {
      socket.addEventListener('open', () => setState(readyStateName(socket.readyState), 'open'));
      socket.addEventListener('close', (event: CloseEvent) => {
        if (inspection === current)
          setState(`closed: ${describeClose(event.code, event.reason, event.wasClean)}`, 'closed');
      });
    },
    onMessage: (message) => {
      if (message.type !== 'handshake') return;
      renderHead(requestHead, requestHeaders, message.request, REQUEST_WHY);
      renderHead(responseHead, responseHeaders, message.response, RESPONSE_WHY);
      renderDerivation(message.derivation, message.response);
    },
    onFeedClosed: (event) => {
      if (inspection === current && current.socket === null) {
        setState(`feed closed: ${describeClose(event.code, event.reason, event.wasClean)}`, 'closed');
      }
    },
  });
  inspection = current;
}

againButton.addEventListener('click', start);
start();
