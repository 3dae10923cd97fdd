/**
 * The chat room (`/ws/chat`), protocol in `../shared/chat.ts`, on sockeye topics: every
 * member's socket subscribes to the topic `chat`; a line is one `server.publish()` (framed
 * once, written to every member), a join notice one `ws.publish()` (everyone but the
 * newcomer). With a Redis broker (`REDIS_URL`), the same topic spans every demo server
 * on that Redis: one room across processes.
 *
 * The roster (who is in the room, for the member list and for refusing a taken name) is
 * kept by each server: its own members, plus the other servers' as their join and leave
 * notices arrive on the topic (the service listens to it through {@link RoomBroker}),
 * plus what they answer to a roster request a server sends on `chat/roster` when it
 * starts and whenever its broker comes back up.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { type Broker, type BrokerMessage, InProcessBroker } from '@sockeye/sockeye/pubsub';
import { type ServerWebSocket, WebSocketServer } from '@sockeye/sockeye/server';
import {
  ChatProtocolError,
  type ChatServerMessage,
  MAX_CLIENT_MESSAGE_LENGTH,
  parseClientMessage,
} from '../shared/chat.js';
import { DEMO_LIMITS } from './limits.js';
import { RoomBroker } from './room-broker.js';

/** The room's topic: what its members' sockets subscribe to. */
export const CHAT_TOPIC = 'chat';
/** Between servers only: roster requests and answers (no socket subscribes to it). */
export const ROSTER_TOPIC = 'chat/roster';

/** Server to server, on {@link ROSTER_TOPIC}. */
type RosterMessage = { type: 'roster-request' } | { type: 'roster'; names: string[] };

interface Member {
  /** Null until the join is accepted. */
  name: string | null;
}

function sendJson(ws: ServerWebSocket<Member>, message: ChatServerMessage): void {
  ws.send(JSON.stringify(message));
}

function parseJson(data: Buffer): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(data.toString('utf8'));
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The chat room on its own {@link WebSocketServer}, across servers through `broker`. */
export class ChatService {
  private readonly server: WebSocketServer<Member>;
  private readonly broker: RoomBroker;
  /** Every name in the room, in the order this server learnt of it, with the node it is on. */
  private readonly roster = new Map<string, string>();

  /** @param broker - carries the room to other servers @defaultValue an in-process broker (this server only) */
  constructor(broker: Broker = new InProcessBroker()) {
    this.broker = new RoomBroker(broker);
    this.server = new WebSocketServer<Member>({
      ...DEMO_LIMITS,
      noServer: true,
      broker: this.broker,
      // UTF-16 code units of JSON at most: 4 bytes of UTF-8 each at worst.
      maxPayload: 4 * MAX_CLIENT_MESSAGE_LENGTH,
      authenticate: () => ({ name: null }),
      handlers: {
        message: (ws, data, isBinary) => this.receive(ws, data, isBinary),
        close: (ws) => this.leave(ws),
      },
    });
    this.server.on('lost', () => {
      // Reported by the broker (Redis down): the room carries on; nothing to resend.
    });
    // A Redis that is away fails every reconnection attempt the same way: say it once.
    let lastError = '';
    this.server.on('brokerError', (error) => {
      if (error.message === lastError) return;
      lastError = error.message;
      console.error(`sockeye demo: chat broker: ${error.message}`);
    });
    this.server.on('brokerStatus', (status) => {
      if (status === 'up' && lastError !== '') console.error('sockeye demo: chat broker is up again');
      if (status === 'up') lastError = '';
    });
    this.broker.observe({
      message: (message) => this.fromOtherServer(message),
      status: (status) => {
        if (status === 'up') this.requestRoster();
      },
    });
  }

  /** Names in the room, on every server, in the order this server learnt of them. */
  get members(): string[] {
    return [...this.roster.keys()];
  }

  /**
   * Join the room's topics on the broker and ask the other servers who is there. Waits at
   * most `waitMs` for the broker (a Redis that is down): the broker keeps retrying, and
   * asks again for the roster when it comes up.
   */
  async start(waitMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const subscribed = Promise.all([this.broker.pin(CHAT_TOPIC), this.broker.pin(ROSTER_TOPIC)]);
    const ready = await Promise.race([
      subscribed.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), waitMs);
      }),
    ]);
    clearTimeout(timer);
    if (ready) this.requestRoster();
    else
      console.error(
        `sockeye demo: the chat broker is not up after ${waitMs} ms; the room is local until it is`,
      );
  }

  /** Take an upgrade to `/ws/chat`. */
  handleUpgrade(request: IncomingMessage, socket: Socket, head: Buffer): void {
    void this.server.handleUpgrade(request, socket, head);
  }

  /** Close every socket and the broker. */
  /** The chat's WebSocket server (for the admin page). */
  get webSocketServer(): WebSocketServer<Member> {
    return this.server;
  }

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
        if (this.roster.has(message.name)) throw new ChatProtocolError('that name is taken');
        ws.data.name = message.name;
        this.roster.set(message.name, this.broker.nodeId);
        ws.subscribe(CHAT_TOPIC);
        sendJson(ws, { type: 'welcome', name: message.name, members: this.members });
        const notice: ChatServerMessage = {
          type: 'presence',
          event: 'join',
          name: message.name,
          members: this.members,
        };
        ws.publish(CHAT_TOPIC, JSON.stringify(notice));
      } else {
        if (name === null) throw new ChatProtocolError('join first');
        const line: ChatServerMessage = { type: 'message', from: name, text: message.text, time: Date.now() };
        this.server.publish(CHAT_TOPIC, JSON.stringify(line));
      }
    } catch (error) {
      if (!(error instanceof ChatProtocolError)) throw error;
      sendJson(ws, { type: 'error', reason: error.message });
    }
  }

  private leave(ws: ServerWebSocket<Member>): void {
    const name = ws.data.name;
    if (name === null || this.roster.get(name) !== this.broker.nodeId) return;
    this.roster.delete(name);
    const notice: ChatServerMessage = { type: 'presence', event: 'leave', name, members: this.members };
    this.server.publish(CHAT_TOPIC, JSON.stringify(notice));
  }

  private localNames(): string[] {
    return this.members.filter((name) => this.roster.get(name) === this.broker.nodeId);
  }

  private requestRoster(): void {
    const request: RosterMessage = { type: 'roster-request' };
    this.broker.publish(ROSTER_TOPIC, Buffer.from(JSON.stringify(request)), false);
  }

  /** What another server published on a room topic: keep the roster in step. */
  private fromOtherServer(message: BrokerMessage): void {
    const value = parseJson(message.data);
    if (value === null) return;
    const node = message.publisher;
    if (message.topic === ROSTER_TOPIC) {
      if (value.type === 'roster-request') {
        const answer: RosterMessage = { type: 'roster', names: this.localNames() };
        this.broker.publish(ROSTER_TOPIC, Buffer.from(JSON.stringify(answer)), false);
      } else if (value.type === 'roster' && Array.isArray(value.names)) {
        for (const [name, on] of this.roster) if (on === node) this.roster.delete(name);
        for (const name of value.names) {
          if (typeof name === 'string' && !this.roster.has(name)) this.roster.set(name, node);
        }
      }
      return;
    }
    if (value.type === 'presence' && typeof value.name === 'string') {
      if (value.event === 'join' && !this.roster.has(value.name)) this.roster.set(value.name, node);
      if (value.event === 'leave' && this.roster.get(value.name) === node) this.roster.delete(value.name);
    }
  }
}
