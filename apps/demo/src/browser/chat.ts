/**
 * The chat page: pick a name, join the room, see everyone's messages and who comes and
 * goes, live. Protocol: `shared/chat.ts`, over a resumable session
 * (`ReconnectingWebSocket`): a cut link or a restart of the server loses no message in
 * either direction, and the page stays in the room. If the server lost the session, the
 * page joins again under the same name and shows the room's latest lines.
 */
import {
  type ReconnectCloseEvent,
  type ReconnectingEvent,
  ReconnectingWebSocket,
  type SessionOpenEvent,
} from '@sockeye/sockeye/session';
import {
  CHAT_PATH,
  type ChatClientMessage,
  type ChatLine,
  MAX_NAME_LENGTH,
  MAX_TEXT_LENGTH,
  parseServerMessage,
} from '../shared/chat.js';
import { appendBounded, byId, el } from './dom.js';
import { describeClose, shortText, socketUrl } from './format.js';

/** Lines kept on the page; older ones are dropped. */
const MAX_LINES = 500;

const joinForm = byId('join-form', HTMLFormElement);
const nameInput = byId('name', HTMLInputElement);
const joinButton = byId('join', HTMLButtonElement);
const room = byId('room', HTMLElement);
const state = byId('state', HTMLElement);
const members = byId('members', HTMLUListElement);
const lines = byId('lines', HTMLOListElement);
const sayForm = byId('say-form', HTMLFormElement);
const textInput = byId('text', HTMLInputElement);
const leaveButton = byId('leave', HTMLButtonElement);
const lastRaw = byId('last-raw', HTMLElement);

/** How to join this room from a terminal with the `sockeye` command (same host and port as the page). */
function connectCommand(url: string): string {
  return [
    `npx @sockeye/cli connect ${url} \\`,
    `  -x '{"type":"join","name":"Terminal"}' \\`,
    `  -x '{"type":"say","text":"hello from a terminal"}' -w 2`,
  ].join('\n');
}
byId('connect-command', HTMLElement).textContent = connectCommand(socketUrl(location.href, CHAT_PATH));

nameInput.maxLength = MAX_NAME_LENGTH;
textInput.maxLength = MAX_TEXT_LENGTH;

let socket: ReconnectingWebSocket | null = null;
/** Our name in the room once the server welcomed us; empty before that. */
let myName = '';

/** Kept and replayed by the session across breaks: a send while reconnecting is not lost. */
function send(message: ChatClientMessage): void {
  socket?.send(JSON.stringify(message));
}

function setJoined(joined: boolean): void {
  room.hidden = !joined;
  joinForm.hidden = joined;
  joinButton.disabled = false;
  if (joined) textInput.focus();
}

function showMembers(names: readonly string[]): void {
  members.replaceChildren(
    ...names.map((name) => el('li', { text: name === myName ? `${name} (you)` : name })),
  );
}

function notice(text: string, className = 'notice'): void {
  appendBounded(lines, el('li', { className, text }), MAX_LINES);
}

function line(from: string, text: string, time: number): void {
  const item = el('li', { className: from === myName ? 'line mine' : 'line' });
  const stamp = new Date(time);
  item.append(
    el('time', { text: stamp.toLocaleTimeString(), className: 'stamp' }),
    el('strong', { text: from }),
    el('span', { text: ` ${text}` }),
  );
  item.querySelector('time')?.setAttribute('datetime', stamp.toISOString());
  appendBounded(lines, item, MAX_LINES);
}

/** The room's latest lines, as the welcome gives them (replacing what the list shows). */
function showHistory(history: readonly ChatLine[]): void {
  lines.replaceChildren();
  if (history.length > 0)
    notice(`The room's latest ${history.length === 1 ? 'line' : `${history.length} lines`}:`);
  for (const entry of history) line(entry.from, entry.text, entry.time);
}

function join(name: string): void {
  joinButton.disabled = true;
  state.textContent = 'connecting';
  const ws = new ReconnectingWebSocket(socketUrl(location.href, CHAT_PATH));
  socket = ws;
  /** The name to join (again, after a lost session) under. */
  let joinAs = name;
  ws.addEventListener('open', (event) => {
    if ((event as SessionOpenEvent).resumed) {
      state.textContent = `in the room as ${myName} (resumed: nothing lost)`;
      return;
    }
    state.textContent = 'joining';
    send({ type: 'join', name: joinAs });
  });
  ws.addEventListener('reconnecting', (event) => {
    const { attempt, delay } = event as ReconnectingEvent;
    state.textContent = `reconnecting: attempt ${attempt} in ${(delay / 1000).toFixed(1)} s (messages you send wait)`;
  });
  ws.addEventListener('sessionlost', () => {
    // The server no longer had the session: join again under the same name.
    if (myName !== '') {
      joinAs = myName;
      myName = '';
      notice('The server lost this session: joining again.', 'notice error');
    }
  });
  ws.addEventListener('message', (received) => {
    const event = received as MessageEvent;
    if (ws !== socket || typeof event.data !== 'string') return;
    lastRaw.textContent = shortText(event.data, 500);
    const message = parseServerMessage(event.data);
    if (message === null) return;
    switch (message.type) {
      case 'welcome':
        myName = message.name;
        state.textContent = `in the room as ${message.name}`;
        setJoined(true);
        showMembers(message.members);
        showHistory(message.history ?? []);
        notice(`You joined as ${message.name}.`);
        break;
      case 'presence':
        showMembers(message.members);
        notice(`${message.name} ${message.event === 'join' ? 'joined' : 'left'}.`);
        break;
      case 'message':
        line(message.from, message.text, message.time);
        break;
      case 'error':
        if (myName === '') {
          // The join itself was refused (a taken name, say): let the person pick another.
          state.textContent = `not joined: ${message.reason}`;
          ws.close(1000, 'join refused');
        } else {
          notice(`The server refused that: ${message.reason}`, 'notice error');
        }
        break;
    }
  });
  ws.addEventListener('close', (closed) => {
    const event = closed as ReconnectCloseEvent;
    if (ws !== socket) return;
    socket = null;
    if (myName !== '') {
      state.textContent = `disconnected: ${describeClose(event.code, event.reason, event.wasClean)}`;
      notice('You left the room.');
    } else if (!state.textContent?.startsWith('not joined')) {
      state.textContent = `could not join: ${describeClose(event.code, event.reason, event.wasClean)}`;
    }
    myName = '';
    setJoined(false);
  });
}

joinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const name = nameInput.value.trim();
  if (name !== '') join(name);
});
sayForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = textInput.value.trim();
  if (text === '') return;
  send({ type: 'say', text });
  textInput.value = '';
});
leaveButton.addEventListener('click', () => socket?.close(1000, 'left the room'));
