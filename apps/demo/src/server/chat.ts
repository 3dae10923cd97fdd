/**
 * The chat room (`/ws/chat`), protocol in `../shared/chat.ts`, on sockeye topics: every
 * member's socket subscribes to the topic `chat`; a line is one `server.publish()` (framed
 * once, written to every member), a join notice one too, published before the newcomer
 * subscribes (everyone but the newcomer). With a Redis broker (`REDIS_URL`), the same topic spans every demo server
 * on that Redis: one room across processes.
 *
 * The chat page joins with a resumable session (`sockeye.session.v1`, a
 * {@link SessionServer}): its member is the session, not the socket, so a cut link or a
 * restart of the server (the session waits in {@link DemoState}, with its replay buffer
 * and topic) loses nothing and the member stays in the room. A session member leaves
 * when its session ends. Plain WebSocket clients (`sockeye connect`) still join as
 * before, for as long as their socket lives. The welcome carries the room's latest lines.
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
import type { ServerWebSocket, WebSocketServer } from '@sockeye/sockeye/server';
import { ServerSession, SessionServer } from '@sockeye/sockeye/session/server';
import {
  type ChatLine,
  ChatProtocolError,
  type ChatServerMessage,
  MAX_CLIENT_MESSAGE_LENGTH,
  parseClientMessage,
} from '../shared/chat.js';
import { DEMO_LIMITS } from './limits.js';
import { RoomBroker } from './room-broker.js';
import { DemoState } from './state.js';

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

/** A plain socket or a session: what the room talks to. */
type Peer = ServerWebSocket<Member> | ServerSession<Member>;

function sendJson(peer: Peer, message: ChatServerMessage): void {
  peer.send(JSON.stringify(message));
}

function parseJson(data: Buffer): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(data.toString('utf8'));
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** How often session members whose session ended elsewhere are dropped from the roster, in ms. */
const ROSTER_SWEEP_INTERVAL = 5000;

/** The chat room on its own {@link SessionServer}, across servers through `broker`. */
export class ChatService {
  private readonly sessions: SessionServer<Member>;
  private readonly server: WebSocketServer<Member>;
  private readonly broker: RoomBroker;
  /** Every name in the room, in the order this server learnt of it, with the node it is on. */
  private readonly roster = new Map<string, string>();
  private readonly sweeper: ReturnType<typeof setInterval>;
  /**
   * Sessions that came with the state (from before a restart), with `state.linesAdded`
   * when they came: until one resumes here it is in no topic of this process, so the
   * room's lines meanwhile are sent to it from the history when it does.
   */
  private readonly missedSince = new Map<string, number>();

  /**
   * @param broker - carries the room to other servers @defaultValue an in-process broker (this server only)
   * @param state - sessions, their names and the room's lines across restarts @defaultValue memory only
   */
  constructor(
    broker: Broker = new InProcessBroker(),
    private readonly state: DemoState = new DemoState(),
  ) {
    this.broker = new RoomBroker(broker);
    this.sessions = new SessionServer<Member>({
      ...DEMO_LIMITS,
      noServer: true,
      broker: this.broker,
      // UTF-16 code units of JSON at most: 4 bytes of UTF-8 each at worst (+1: the session's data prefix).
      maxPayload: 4 * MAX_CLIENT_MESSAGE_LENGTH + 1,
      authenticate: () => ({ name: null }),
      store: state.store,
      handlers: {
        message: (ws, data, isBinary) => this.receive(ws, data, isBinary),
        close: (ws) => this.leave(ws.data.name),
      },
      sessions: {
        open: (session) => {
          session.data = { name: null };
        },
        resume: (session) => {
          session.data = { name: this.state.chatNames.get(session.id) ?? null };
          this.catchUp(session);
        },
        message: (session, data, isBinary) => this.receive(session, data, isBinary),
        close: (session, reason) => {
          // 'shutdown' and 'moved': the session lives on (in the state file, or elsewhere).
          if (reason === 'shutdown' || reason === 'moved') return;
          const name = this.state.chatNames.get(session.id);
          this.state.chatNames.delete(session.id);
          this.missedSince.delete(session.id);
          if (name !== undefined) this.leave(name);
        },
      },
    });
    this.server = this.sessions.server;
    // Session members kept from before a restart are in the room until their session
    // resumes here or expires unresumed.
    for (const [id, name] of this.state.chatNames) {
      this.roster.set(name, this.broker.nodeId);
      this.missedSince.set(id, this.state.linesAdded);
    }
    this.sweeper = setInterval(() => this.sweepSessions(), ROSTER_SWEEP_INTERVAL);
    this.sweeper.unref();
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

  /** The chat's WebSocket server (for the admin page). */
  get webSocketServer(): WebSocketServer<Member> {
    return this.server;
  }

  /** Close every socket; the sessions wait in the state (see {@link DemoState.save}). */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    // 1012 (service restart): clients come back within 1.5 s, to this server's successor.
    // Closing handshakes get 2 s: the sessions are in the state as soon as their links close.
    await this.sessions.close({ code: 1012, reason: 'retry-after=1500', timeout: 2000 });
  }

  private receive(peer: Peer, data: string | Buffer, isBinary: boolean): void {
    try {
      if (isBinary) throw new ChatProtocolError('messages are JSON text');
      const message = parseClientMessage(typeof data === 'string' ? data : data.toString('utf8'));
      const name = peer.data.name;
      if (message.type === 'join') {
        if (name !== null) throw new ChatProtocolError('you are already in the room');
        if (this.roster.has(message.name)) throw new ChatProtocolError('that name is taken');
        peer.data.name = message.name;
        this.roster.set(message.name, this.broker.nodeId);
        const notice: ChatServerMessage = {
          type: 'presence',
          event: 'join',
          name: message.name,
          members: this.members,
        };
        const welcome: ChatServerMessage = {
          type: 'welcome',
          name: message.name,
          members: this.members,
          ...(this.state.history.length === 0 ? {} : { history: [...this.state.history] }),
        };
        if (peer instanceof ServerSession) this.state.chatNames.set(peer.id, message.name);
        // Published before the newcomer subscribes: to everyone else, sessions and sockets.
        this.sessions.publish(CHAT_TOPIC, JSON.stringify(notice));
        peer.subscribe(CHAT_TOPIC);
        sendJson(peer, welcome);
      } else {
        if (name === null) throw new ChatProtocolError('join first');
        const line: ChatLine = { type: 'message', from: name, text: message.text, time: Date.now() };
        this.state.addLine(line);
        this.sessions.publish(CHAT_TOPIC, JSON.stringify(line));
      }
    } catch (error) {
      if (!(error instanceof ChatProtocolError)) throw error;
      sendJson(peer, { type: 'error', reason: error.message });
    }
  }

  private leave(name: string | null): void {
    if (name === null || this.roster.get(name) !== this.broker.nodeId) return;
    this.roster.delete(name);
    const notice: ChatServerMessage = { type: 'presence', event: 'leave', name, members: this.members };
    this.sessions.publish(CHAT_TOPIC, JSON.stringify(notice));
  }

  /**
   * Session members whose session is neither here nor waiting in the store (it expired
   * there without coming back, after a restart) leave the room.
   */
  private sweepSessions(): void {
    for (const [id, name] of this.state.chatNames) {
      if (this.sessions.sessionsById.has(id) || this.state.store.has(id)) continue;
      this.state.chatNames.delete(id);
      this.missedSince.delete(id);
      this.leave(name);
    }
  }

  /**
   * A session from before a restart resumed here: send it the lines said since this
   * server started (the history's, at most; if more were said, it is told how many it
   * missed).
   */
  private catchUp(session: ServerSession<Member>): void {
    const since = this.missedSince.get(session.id);
    if (since === undefined) return;
    this.missedSince.delete(session.id);
    const missed = this.state.linesAdded - since;
    if (missed === 0) return;
    const kept = Math.min(missed, this.state.history.length);
    if (kept < missed) {
      sendJson(session, {
        type: 'error',
        reason: `${missed - kept} lines were said while you were away and are gone`,
      });
    }
    for (const line of this.state.history.slice(-kept)) sendJson(session, line);
  }

  /**
   * A room message from another server joins this server's history (the session server
   * delivers it to this server's session members itself, through the broker, as the
   * WebSocket server does to its plain sockets).
   */
  private rememberRemoteLine(value: Record<string, unknown>): void {
    if (value.type === 'message' && typeof value.from === 'string' && typeof value.text === 'string') {
      this.state.addLine({
        type: 'message',
        from: value.from,
        text: value.text,
        time: Number(value.time) || 0,
      });
    }
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
    if (message.topic === CHAT_TOPIC && node !== this.broker.nodeId) this.rememberRemoteLine(value);
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
