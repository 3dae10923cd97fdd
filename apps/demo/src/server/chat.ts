/**
 * The chat room (`/ws/chat`), protocol in `../shared/chat.ts`: a client joins under a
 * name, then says things; everyone in the room sees the lines and the join and leave
 * notices, live.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { type ServerWebSocket, WebSocketServer } from 'sockeye/server';
import {
  ChatProtocolError,
  type ChatServerMessage,
  MAX_CLIENT_MESSAGE_LENGTH,
  parseClientMessage,
} from '../shared/chat.js';

interface Member {
  /** Null until the join is accepted. */
  name: string | null;
}

function sendJson(ws: ServerWebSocket<Member>, message: ChatServerMessage): void {
  ws.send(JSON.stringify(message));
}

/** One chat room on its own {@link WebSocketServer}. */
export class ChatService {
  private readonly server: WebSocketServer<Member>;
  private readonly room = new Set<ServerWebSocket<Member>>();

  constructor() {
    this.server = new WebSocketServer<Member>({
      noServer: true,
      // UTF-16 code units of JSON at most: 4 bytes of UTF-8 each at worst.
      maxPayload: 4 * MAX_CLIENT_MESSAGE_LENGTH,
      authenticate: () => ({ name: null }),
      handlers: {
        message: (ws, data, isBinary) => this.receive(ws, data, isBinary),
        close: (ws) => this.leave(ws),
      },
    });
  }

  /** Names in the room, in the order they joined. */
  get members(): string[] {
    const names: string[] = [];
    for (const ws of this.room) if (ws.data.name !== null) names.push(ws.data.name);
    return names;
  }

  /** Take an upgrade to `/ws/chat`. */
  handleUpgrade(request: IncomingMessage, socket: Socket, head: Buffer): void {
    void this.server.handleUpgrade(request, socket, head);
  }

  /** Close every socket. */
  async close(): Promise<void> {
    await this.server.close();
  }

  private receive(ws: ServerWebSocket<Member>, data: string | Buffer, isBinary: boolean): void {
    try {
      if (isBinary) throw new ChatProtocolError('messages are JSON text');
      const message = parseClientMessage(data as string);
      const name = ws.data.name;
      if (message.type === 'join') {
        if (name !== null) throw new ChatProtocolError('you are already in the room');
        if (this.members.includes(message.name)) throw new ChatProtocolError('that name is taken');
        ws.data.name = message.name;
        this.room.add(ws);
        sendJson(ws, { type: 'welcome', name: message.name, members: this.members });
        this.broadcast({ type: 'presence', event: 'join', name: message.name, members: this.members }, ws);
      } else {
        if (name === null) throw new ChatProtocolError('join first');
        this.broadcast({ type: 'message', from: name, text: message.text, time: Date.now() });
      }
    } catch (error) {
      if (!(error instanceof ChatProtocolError)) throw error;
      sendJson(ws, { type: 'error', reason: error.message });
    }
  }

  private leave(ws: ServerWebSocket<Member>): void {
    const name = ws.data.name;
    if (!this.room.delete(ws) || name === null) return;
    this.broadcast({ type: 'presence', event: 'leave', name, members: this.members });
  }

  private broadcast(message: ChatServerMessage, except?: ServerWebSocket<Member>): void {
    const text = JSON.stringify(message);
    for (const ws of this.room) if (ws !== except) ws.send(text);
  }
}
