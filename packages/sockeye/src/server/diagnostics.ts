/**
 * What a server tells observers: `node:diagnostics_channel` channels (named
 * `sockeye:<event>`), each message carrying the connection's identity, and the shapes of
 * the server's `stats()` snapshot. A channel with no subscriber costs a property read
 * where it would publish; messages in and out are published only while someone listens.
 * @packageDocumentation
 */
import { type Channel, channel } from 'node:diagnostics_channel';
import type { LimitHit, LimitKind } from './limits.js';

/** Who a connection is, in every diagnostics message about it. */
export interface ConnectionIdentity {
  /** Unique in the process, increasing from 1. */
  readonly id: number;
  /** The real client address (after the PROXY header and trusted proxies' `Forwarded`). */
  readonly clientAddress: string;
  /** The path of the upgrade request, without the query. */
  readonly path: string;
}

/** A connection's identity plus what the server keeps about it for the `close` message. @internal */
export class ConnectionInfo implements ConnectionIdentity {
  /** The address group the connection caps count it in (null: no caps). */
  gateGroup: string | null = null;

  constructor(
    readonly id: number,
    readonly clientAddress: string,
    readonly path: string,
    /** When the connection opened (ms since the epoch). */
    readonly openedAt: number,
  ) {}
}

/**
 * Kept for the process rather than by each server: the diagnostics channels are the
 * process's, and a subscriber tells connections apart by this id whichever server
 * published (two servers counting from 1 would give two connections the same id).
 */
let lastConnectionId = 0;

/** The next connection id (unique in the process, from 1). @internal */
export function nextConnectionId(): number {
  return ++lastConnectionId;
}

/** `sockeye:handshake`: an upgrade was accepted (status 101) or refused. */
export interface HandshakeDiagnostic {
  /** The server (a `WebSocketServer`). */
  readonly server: object;
  /** Whether the upgrade was accepted (101) or refused. */
  readonly result: 'accepted' | 'rejected';
  /** 101, or the refusal's HTTP status. */
  readonly status: number;
  /** Why it was refused ('' when accepted). */
  readonly reason: string;
  /** The real client address ('' when the connection closed before it was known). */
  readonly clientAddress: string;
  /** The request's path without the query ('' when refused before the request was read). */
  readonly path: string;
  /** The new connection (accepted only). */
  readonly connection: ConnectionIdentity | null;
}

/** `sockeye:open`: a connection opened (after the 101). */
export interface OpenDiagnostic {
  /** The server (a `WebSocketServer`). */
  readonly server: object;
  /** The new connection. */
  readonly connection: ConnectionIdentity;
}

/** `sockeye:close`: a connection closed. */
export interface CloseDiagnostic {
  /** The server (a `WebSocketServer`). */
  readonly server: object;
  /** The connection that closed. */
  readonly connection: ConnectionIdentity;
  /** The code the `close` handler gets: the peer's, 1005, 1006, or the one we failed with. */
  readonly code: number;
  /** The reason that goes with `code`. */
  readonly reason: string;
  /** The code we sent in our close frame (0: we sent none). */
  readonly sentCode: number;
  /** Whether the closing handshake completed (close frames both ways). */
  readonly wasClean: boolean;
  /** How long the connection was open, in ms. */
  readonly durationMs: number;
}

/** `sockeye:backpressure`: the connection's output passed `highWaterMark` (reading paused) or drained. */
export interface BackpressureDiagnostic {
  /** The server (a `WebSocketServer`). */
  readonly server: object;
  /** The connection whose output piled up or drained. */
  readonly connection: ConnectionIdentity;
  /** `reached`: reading from the peer paused; `drained`: resumed. */
  readonly state: 'reached' | 'drained';
  /** The connection's `bufferedAmount` then. */
  readonly bufferedAmount: number;
}

/** `sockeye:limit`: a limit was hit. */
export interface LimitDiagnostic extends LimitHit {
  /** The server (a `WebSocketServer`). */
  readonly server: object;
}

/** `sockeye:publish`: a topic publish was delivered to this server's subscribers. */
export interface PublishDiagnostic {
  /** The server (a `WebSocketServer`). */
  readonly server: object;
  /** The topic published to. */
  readonly topic: string;
  /** Payload bytes. */
  readonly bytes: number;
  /** Local subscribers it was queued for. */
  readonly recipients: number;
  /** Time spent framing and queuing it for every subscriber, in ms. */
  readonly fanOutMs: number;
  /** The publishing connection, or null for `server.publish()` and the broker. */
  readonly connection: ConnectionIdentity | null;
}

/** `sockeye:message`: a message in or out (published only while the channel has subscribers). */
export interface MessageDiagnostic {
  /** The server (a `WebSocketServer`). */
  readonly server: object;
  /** The connection the message crossed. */
  readonly connection: ConnectionIdentity;
  /** `in`: from the peer (before the `message` handler); `out`: queued for it. */
  readonly direction: 'in' | 'out';
  /** Payload bytes (before compression). */
  readonly bytes: number;
  /** A binary message (false: text). */
  readonly isBinary: boolean;
}

/**
 * The server's diagnostics channels. Subscribe with `diagnostics_channel.subscribe(name, fn)`
 * (or `channels.open.subscribe(fn)`); each carries the message type of the same name.
 */
export const channels: {
  readonly handshake: Channel;
  readonly open: Channel;
  readonly close: Channel;
  readonly backpressure: Channel;
  readonly limit: Channel;
  readonly publish: Channel;
  readonly message: Channel;
} = Object.freeze({
  handshake: channel('sockeye:handshake'),
  open: channel('sockeye:open'),
  close: channel('sockeye:close'),
  backpressure: channel('sockeye:backpressure'),
  limit: channel('sockeye:limit'),
  publish: channel('sockeye:publish'),
  message: channel('sockeye:message'),
});

/** A snapshot of a server, from `server.stats()`. */
export interface ServerStats {
  /** Open WebSocket connections (state `open` or `closing`). */
  readonly connections: number;
  /** TCP connections held: handshakes in progress, WebSockets, closed ones not yet gone. */
  readonly sockets: number;
  /** Handshakes answered, accepted (101) and refused by status. */
  readonly handshakes: {
    readonly accepted: number;
    readonly rejected: number;
    readonly byStatus: Readonly<Record<string, number>>;
  };
  /**
   * Messages both ways. Counted only with the server's `countMessages` option (or a
   * message limit, lifetime or idle timeout): otherwise both are 0 and the receive path
   * counts nothing.
   */
  readonly messages: { readonly in: number; readonly out: number };
  /** Bytes on the wire both ways of the WebSocket connections (TCP payload, their handshakes included), closed ones too. */
  readonly bytes: { readonly in: number; readonly out: number };
  /** Connections closed, by the close code their `close` handler got. */
  readonly closeCodes: Readonly<Record<string, number>>;
  /** Outbound bytes buffered over every open connection (`bufferedAmount` summed). */
  readonly queuedBytes: number;
  /** Topics with a local subscriber. */
  readonly topics: number;
  /** Subscriptions (connection-topic pairs) of the open connections. */
  readonly subscriptions: number;
  /** Limits hit, by kind. */
  readonly limits: Readonly<Partial<Record<LimitKind, number>>>;
  /**
   * Plain `EventSource` streams on topics, served by the server's `eventSource()`
   * endpoints (they are not connections: `connections`, `bytes` and `messages` leave them out).
   */
  readonly eventSource: {
    /** Open streams. */
    readonly streams: number;
    /**
     * Messages written to streams, each time it is written to a stream (a message to ten
     * streams counts ten), live or replayed from `Last-Event-ID`, closed streams' too.
     */
    readonly messagesOut: number;
    /**
     * Bytes of the streams' response bodies written (events, replays, `retry:`, `lost`
     * events and heartbeats; not HTTP headers or chunk framing), closed streams' too.
     */
    readonly bytesOut: number;
  };
}

/** The counters behind `stats()`, kept by the server. @internal */
export class StatsCounters {
  accepted = 0;
  rejected = 0;
  readonly byStatus: Record<string, number> = {};
  messagesIn = 0;
  messagesOut = 0;
  /** Wire bytes of sockets already gone. */
  bytesIn = 0;
  bytesOut = 0;
  readonly closeCodes: Record<string, number> = {};
  readonly limits: Partial<Record<LimitKind, number>> = {};
  /** EventSource streams open, and what was written to them. */
  eventSourceStreams = 0;
  eventSourceMessagesOut = 0;
  eventSourceBytesOut = 0;

  handshake(status: number): void {
    if (status === 101) this.accepted++;
    else this.rejected++;
    this.byStatus[status] = (this.byStatus[status] ?? 0) + 1;
  }

  closed(code: number): void {
    this.closeCodes[code] = (this.closeCodes[code] ?? 0) + 1;
  }

  limit(kind: LimitKind): void {
    this.limits[kind] = (this.limits[kind] ?? 0) + 1;
  }
}
