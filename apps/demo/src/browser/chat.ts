/**
 * The chat page: pick a name, join the room, see everyone's messages and who comes and
 * goes, live. Protocol: `shared/chat.ts`.
 */
import {
  CHAT_PATH,
  type ChatClientMessage,
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

let socket: WebSocket | null = null;
/** Our name in the room once the server welcomed us; empty before that. */
let myName = '';

function send(message: ChatClientMessage): void {
  if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
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

function join(name: string): void {
  joinButton.disabled = true;
  state.textContent = 'connecting';
  const ws = new WebSocket(socketUrl(location.href, CHAT_PATH));
  socket = ws;
  ws.addEventListener('open', () => {
    state.textContent = 'joining';
    send({ type: 'join', name });
  });
  ws.addEventListener('message', (event: MessageEvent) => {
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
  ws.addEventListener('close', (event: CloseEvent) => {
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
