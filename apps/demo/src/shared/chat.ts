/**
 * The chat room's protocol: JSON text messages, one per WebSocket message. Shared by
 * the server and the browser bundle (no Node APIs).
 *
 * A client sends {@link JoinMessage} first, then {@link SayMessage}s. The server answers
 * the join with {@link WelcomeMessage}, tells everyone else with a {@link PresenceMessage},
 * relays each message to the whole room as a {@link ChatLine}, and sends
 * {@link ChatErrorMessage} for anything it refuses.
 * @packageDocumentation
 */

export { CHAT_PATH } from './routes.js';
/** Longest name, in characters. */
export const MAX_NAME_LENGTH = 32;
/** Longest message, in characters. */
export const MAX_TEXT_LENGTH = 2000;
/**
 * Longest JSON text a client may send, in UTF-16 code units (JavaScript string length):
 * room for the longest valid message with plenty of escaping. Anything longer is refused
 * before it is parsed.
 */
export const MAX_CLIENT_MESSAGE_LENGTH = 16 * 1024;

/** Client to server: enter the room under this name. */
export interface JoinMessage {
  type: 'join';
  name: string;
}

/** Client to server: say something to the room. */
export interface SayMessage {
  type: 'say';
  text: string;
}

/** What a client may send. */
export type ChatClientMessage = JoinMessage | SayMessage;

/** Server to the new member: you are in; these are here (you included); the room's latest lines. */
export interface WelcomeMessage {
  type: 'welcome';
  name: string;
  members: string[];
  /** The room's latest lines, oldest first (at most 100); absent when there are none. */
  history?: ChatLine[];
}

/** Server to the room: someone joined or left. */
export interface PresenceMessage {
  type: 'presence';
  event: 'join' | 'leave';
  name: string;
  members: string[];
}

/** Server to the room: a message, with who sent it and when (ms since the epoch, server clock). */
export interface ChatLine {
  type: 'message';
  from: string;
  text: string;
  time: number;
}

/** Server to one client: what it sent was refused. */
export interface ChatErrorMessage {
  type: 'error';
  reason: string;
}

/** What the server sends. */
export type ChatServerMessage = WelcomeMessage | PresenceMessage | ChatLine | ChatErrorMessage;

/** A client message the server refuses; `reason` is fit to send back in a {@link ChatErrorMessage}. */
export class ChatProtocolError extends Error {
  override readonly name = 'ChatProtocolError';
}

/**
 * A name as the room shows it: trimmed, inner runs of white space made one space.
 * @throws {@link ChatProtocolError} when it is empty, too long, or has control characters
 */
export function normalizeName(name: string): string {
  const trimmed = name.trim().replace(/\s+/g, ' ');
  if (trimmed === '') throw new ChatProtocolError('a name cannot be empty');
  if ([...trimmed].length > MAX_NAME_LENGTH) {
    throw new ChatProtocolError(`a name is at most ${MAX_NAME_LENGTH} characters`);
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(trimmed))
    throw new ChatProtocolError('a name cannot contain control characters');
  return trimmed;
}

/**
 * Parse and check a message from a client (the server's side of the protocol).
 * @throws {@link ChatProtocolError} for anything that is not a valid {@link ChatClientMessage}
 */
export function parseClientMessage(data: string): ChatClientMessage {
  if (data.length > MAX_CLIENT_MESSAGE_LENGTH) {
    throw new ChatProtocolError(`a message is at most ${MAX_CLIENT_MESSAGE_LENGTH} characters of JSON`);
  }
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    throw new ChatProtocolError('a message must be JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ChatProtocolError('a message must be a JSON object');
  }
  const message = value as Record<string, unknown>;
  switch (message.type) {
    case 'join':
      if (typeof message.name !== 'string') throw new ChatProtocolError('join needs a "name" string');
      return { type: 'join', name: normalizeName(message.name) };
    case 'say': {
      if (typeof message.text !== 'string') throw new ChatProtocolError('say needs a "text" string');
      const text = message.text.trim();
      if (text === '') throw new ChatProtocolError('a message cannot be empty');
      if ([...text].length > MAX_TEXT_LENGTH) {
        throw new ChatProtocolError(`a message is at most ${MAX_TEXT_LENGTH} characters`);
      }
      return { type: 'say', text };
    }
    default:
      throw new ChatProtocolError('"type" must be "join" or "say"');
  }
}

/**
 * Parse a message from the server (the page's side). Returns null for anything that is
 * not a {@link ChatServerMessage}, so a page ignores what it does not understand.
 */
export function parseServerMessage(data: string): ChatServerMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const message = value as Record<string, unknown>;
  const members = Array.isArray(message.members) && message.members.every((m) => typeof m === 'string');
  switch (message.type) {
    case 'welcome':
      return typeof message.name === 'string' && members && isHistory(message.history)
        ? (message as unknown as WelcomeMessage)
        : null;
    case 'presence':
      return (message.event === 'join' || message.event === 'leave') &&
        typeof message.name === 'string' &&
        members
        ? (message as unknown as PresenceMessage)
        : null;
    case 'message':
      return isLine(message) ? (message as unknown as ChatLine) : null;
    case 'error':
      return typeof message.reason === 'string' ? (message as unknown as ChatErrorMessage) : null;
    default:
      return null;
  }
}

function isLine(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const line = value as Record<string, unknown>;
  return typeof line.from === 'string' && typeof line.text === 'string' && typeof line.time === 'number';
}

/** An absent history, or an array of lines. */
function isHistory(value: unknown): boolean {
  return value === undefined || (Array.isArray(value) && value.every(isLine));
}
