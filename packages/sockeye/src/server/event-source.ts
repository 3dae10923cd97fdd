/**
 * Topics for a plain `EventSource`: Server-Sent Events (`text/event-stream`) over HTTP,
 * for a page that only needs push and loads no sockeye code. One endpoint per
 * {@link WebSocketServer} (`server.eventSource(options)`), mounted on any `http.Server`.
 *
 * Wire format, per message published to the stream's topic:
 * ```
 * id: 42
 * data: first line
 * data: second line
 *
 * ```
 * The id is the topic's sequence number on this endpoint; a browser sends the last one
 * back as `Last-Event-ID` when it reconnects, and the stream resumes from the topic's
 * history. A binary message is an `event: binary` whose data is base64. When messages
 * cannot be replayed, a `lost` event says how many (`{"after":4,"count":3}`, `count`
 * null when unknown).
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HandshakeError } from '../protocol/index.js';
import { checkInteger, MAX_TIMEOUT_MS } from '../protocol/validate.js';
import { type BrokerLoss, TopicError, TopicHistory, type TopicHistoryLimits } from '../pubsub/index.js';
import type { StatsCounters } from './diagnostics.js';
import type { LimitHit } from './limits.js';

/** Default of {@link EventSourceOptions.retry}: what a browser waits before reconnecting, 3 s. */
export const DEFAULT_EVENT_SOURCE_RETRY_MS = 3000;
/**
 * Default of {@link EventSourceOptions.heartbeatInterval}: 15 s, under the 30 to 60 s
 * after which proxies and load balancers commonly cut a silent connection.
 */
export const DEFAULT_EVENT_SOURCE_HEARTBEAT_MS = 15_000;
/**
 * Default of {@link EventSourceOptions.maxBufferedBytes}: 1 MiB queued for one stream
 * before it is ended as a slow reader (it reconnects and resumes from history).
 */
export const DEFAULT_EVENT_SOURCE_MAX_BUFFERED_BYTES = 1024 * 1024;
/**
 * Default of {@link EventSourceOptions.historyRetention}: a topic's history is kept 5 min
 * after its last stream ended, time for a browser to come back and resume.
 */
export const DEFAULT_EVENT_SOURCE_RETENTION_MS = 5 * 60_000;
/**
 * Default of {@link EventSourceOptions.maxTopics}: 10,000 topics with a stream or a
 * retained history. Topic names come from URLs: this bounds what a client can make a
 * node keep.
 */
export const DEFAULT_EVENT_SOURCE_MAX_TOPICS = 10_000;

/** Who asks for a stream: what {@link EventSourceOptions.authorize} decides on. */
export interface EventSourceRequest {
  /** The HTTP request. */
  readonly request: IncomingMessage;
  /** The request URL, parsed. */
  readonly url: URL;
  /** The topic asked for. */
  readonly topic: string;
  /** The client's address (through the server's trusted proxies, `trustProxy`). */
  readonly clientAddress: string;
}

/** Options of `WebSocketServer.eventSource()`. */
export interface EventSourceOptions {
  /**
   * The only path served: `handle()` returns false for any other (so handlers can be
   * chained). Undefined: every request handed to `handle()` is taken.
   * @defaultValue undefined
   */
  path?: string;
  /**
   * The topic a request asks for, or null for none (answered 400).
   * @defaultValue the `topic` query parameter
   */
  topic?: (url: URL, request: IncomingMessage) => string | null;
  /**
   * Whether this client may read this topic; false is answered 403. A thrown
   * `HandshakeError` is answered with its status; anything else thrown is answered 500
   * and reported on the server's `error` event.
   * @defaultValue every request may
   */
  authorize?: (request: EventSourceRequest) => boolean | Promise<boolean>;
  /**
   * Origins allowed to read streams cross-origin (`Access-Control-Allow-Origin` is sent
   * back to them); a request from any other origin is answered 403. Undefined: no CORS
   * headers, so a browser lets only same-origin pages read the stream.
   * @defaultValue undefined
   */
  origins?: readonly string[];
  /**
   * The `retry:` sent first on every stream: how long a browser waits before
   * reconnecting, in ms.
   * @defaultValue {@link DEFAULT_EVENT_SOURCE_RETRY_MS}
   */
  retry?: number;
  /**
   * A comment line (`:`) is written to a stream that has been silent this long, in ms,
   * so proxies keep it open and a dead peer is found (0: never).
   * @defaultValue {@link DEFAULT_EVENT_SOURCE_HEARTBEAT_MS}
   */
  heartbeatInterval?: number;
  /**
   * A stream that delivered no message for this long, in ms, is ended (heartbeats do not
   * count); the browser reconnects and resumes (0: never).
   * @defaultValue 0
   */
  idleTimeout?: number;
  /**
   * Bytes one stream may have queued (the response and its socket). A message that would
   * pass it ends the stream (a slow reader: it is reported as a `slow-reader` limit and
   * resumes from history when the browser reconnects).
   * @defaultValue {@link DEFAULT_EVENT_SOURCE_MAX_BUFFERED_BYTES}
   */
  maxBufferedBytes?: number;
  /** How much of each topic is kept for resuming (see {@link TopicHistoryLimits}). */
  history?: TopicHistoryLimits;
  /**
   * How long a topic's history is kept after its last stream ended, in ms.
   * @defaultValue {@link DEFAULT_EVENT_SOURCE_RETENTION_MS}
   */
  historyRetention?: number;
  /**
   * Most topics with a stream or a retained history. Past it the history that has been
   * unused longest is dropped; when every topic has a live stream, a stream for a new
   * topic is answered 503.
   * @defaultValue {@link DEFAULT_EVENT_SOURCE_MAX_TOPICS}
   */
  maxTopics?: number;
}

/** What an endpoint needs of its server (a `WebSocketServer`). @internal */
export interface EventSourceHost {
  readonly topicRegistry: {
    checkTopic(topic: string): void;
    hold(topic: string): void;
    release(topic: string): void;
  };
  _addTap(tap: TopicTap): void;
  _removeTap(tap: TopicTap): void;
  _admitHttp(request: IncomingMessage): { clientAddress: string; release: () => void };
  limitHit(hit: LimitHit): void;
  reportServerError(error: unknown): void;
  /** Where the streams are counted for `stats()`. */
  readonly _statsCounters: StatsCounters;
}

/** A local consumer of topic messages that is not a connection. @internal */
export interface TopicTap {
  /** A message for `topic`; how many recipients it is queued for. */
  deliver(topic: string, bytes: Uint8Array, isText: boolean): number;
  /** The broker lost messages (reported before the message that revealed a gap is delivered). */
  lost(loss: BrokerLoss): void;
  /** The server is closing. */
  close(): void;
}

/** One open stream. */
interface Stream {
  readonly response: ServerResponse;
  readonly clientAddress: string;
  readonly channel: Channel;
  /** When a message was last written (for the idle timeout). */
  lastEventAt: number;
  /** When anything was last written (for heartbeats). */
  lastWriteAt: number;
  ended: boolean;
  release: () => void;
}

/** A topic served by the endpoint: its history and its streams. */
interface Channel {
  readonly topic: string;
  readonly history: TopicHistory<Buffer>;
  readonly streams: Set<Stream>;
  /** When the last stream left (0 while there are streams). */
  unusedSince: number;
  /** Messages of other servers the broker lost since the last message (told with the next one). */
  unreported: number;
  /** Events of this event-loop turn not written yet (see `EventSourceEndpoint.flush`). */
  pending: Buffer[];
  pendingBytes: number;
}

const HEARTBEAT = Buffer.from(':\n\n');
const MIN_SWEEP_MS = 10;
const MAX_SWEEP_MS = 1000;
const LF = 0x0a;
const CR = 0x0d;
const DATA_PREFIX = Buffer.from('data: ');
const NEWLINE = Buffer.from('\n');

/**
 * Encode one message as an event: `id:`, `event: binary` for bytes (base64), then one
 * `data:` line per line of the text (CR, LF and CRLF all end a line for the browser;
 * they arrive as LF).
 */
export function encodeEvent(sequence: number, bytes: Uint8Array, isText: boolean): Buffer {
  const parts: Uint8Array[] = [
    Buffer.from(isText ? `id: ${sequence}\n` : `id: ${sequence}\nevent: binary\n`, 'latin1'),
  ];
  const body = isText ? bytes : Buffer.from(Buffer.from(bytes).toString('base64'), 'latin1');
  let start = 0;
  for (let i = 0; i <= body.length; i++) {
    const byte = i < body.length ? body[i] : LF;
    if (byte !== LF && byte !== CR) continue;
    parts.push(DATA_PREFIX, body.subarray(start, i), NEWLINE);
    if (byte === CR && body[i + 1] === LF) i++;
    start = i + 1;
  }
  parts.push(NEWLINE);
  return Buffer.concat(parts);
}

/** The `lost` event: `count` messages after `after` cannot be replayed (null: unknown how many). */
export function encodeLostEvent(after: number | null, count: number | null): Buffer {
  return Buffer.from(`event: lost\ndata: ${JSON.stringify({ after, count })}\n\n`, 'latin1');
}

/**
 * The last event id a reconnecting browser sent: the `Last-Event-ID` header, else the
 * `lastEventId` query parameter (for clients that cannot set headers); undefined when
 * neither is there, null when it is there but not a sequence number.
 */
export function lastEventIdOf(request: IncomingMessage, url: URL): number | null | undefined {
  const header = request.headers['last-event-id'];
  const value = typeof header === 'string' ? header : (url.searchParams.get('lastEventId') ?? undefined);
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  return /^\d{1,15}$/.test(trimmed) ? Number(trimmed) : null;
}

/**
 * Serves a server's topics as Server-Sent Events to plain `EventSource` clients. Made by
 * `WebSocketServer.eventSource()`; mount {@link EventSourceEndpoint.handle} on an
 * `http.Server`. Streams count under the server's `connectionLimits` (global and per
 * address) like WebSocket connections, and end when the server closes.
 *
 * @example
 * ```ts
 * const events = wss.eventSource({ path: '/events' });
 * http.createServer((req, res) => events.handle(req, res) || serveFiles(req, res));
 * // in the browser: new EventSource('/events?topic=news').onmessage = (e) => show(e.data);
 * ```
 */
export class EventSourceEndpoint {
  /** The `path` option. */
  readonly path: string | undefined;
  private readonly server: EventSourceHost;
  private readonly topicOf: (url: URL, request: IncomingMessage) => string | null;
  private readonly authorize: EventSourceOptions['authorize'];
  private readonly origins: ReadonlySet<string> | null;
  private readonly retryLine: Buffer;
  private readonly heartbeatInterval: number;
  private readonly idleTimeout: number;
  private readonly maxBufferedBytes: number;
  private readonly historyLimits: TopicHistoryLimits;
  private readonly historyRetention: number;
  private readonly maxTopics: number;
  private readonly sweepMs: number;
  /** Topics in the order they were last left by a stream (a Map keeps insertion order). */
  private readonly channels = new Map<string, Channel>();
  private streams = 0;
  /** Channels with pending events, written out at the end of this event-loop turn. */
  private dirty: Channel[] = [];
  private readonly flushAll = () => this.flushDirty();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  /**
   * Made by `WebSocketServer.eventSource()`.
   * @param server - the server whose topics are served
   * @param options - see {@link EventSourceOptions}
   * @throws TypeError or RangeError for an option of the wrong type or out of range
   * @internal
   */
  static _create(server: EventSourceHost, options: EventSourceOptions = {}): EventSourceEndpoint {
    return new EventSourceEndpoint(server, options);
  }

  /** Not constructed by applications: `WebSocketServer.eventSource()` makes one. */
  private constructor(server: EventSourceHost, options: EventSourceOptions) {
    this.server = server;
    if (options.path !== undefined && (typeof options.path !== 'string' || !options.path.startsWith('/'))) {
      throw new TypeError('path must be a string starting with /');
    }
    for (const name of ['topic', 'authorize'] as const) {
      if (options[name] !== undefined && typeof options[name] !== 'function') {
        throw new TypeError(`${name} must be a function`);
      }
    }
    if (options.origins !== undefined && !Array.isArray(options.origins)) {
      throw new TypeError('origins must be an array of origins');
    }
    this.path = options.path;
    this.topicOf = options.topic ?? ((url) => url.searchParams.get('topic'));
    this.authorize = options.authorize;
    this.origins = options.origins === undefined ? null : new Set(options.origins);
    const retry = options.retry ?? DEFAULT_EVENT_SOURCE_RETRY_MS;
    checkInteger('retry', retry, 0, MAX_TIMEOUT_MS);
    this.retryLine = Buffer.from(`retry: ${retry}\n\n`);
    this.heartbeatInterval = options.heartbeatInterval ?? DEFAULT_EVENT_SOURCE_HEARTBEAT_MS;
    checkInteger('heartbeatInterval', this.heartbeatInterval, 0, MAX_TIMEOUT_MS);
    this.idleTimeout = options.idleTimeout ?? 0;
    checkInteger('idleTimeout', this.idleTimeout, 0, MAX_TIMEOUT_MS);
    this.maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_EVENT_SOURCE_MAX_BUFFERED_BYTES;
    checkInteger('maxBufferedBytes', this.maxBufferedBytes, 1, Number.MAX_SAFE_INTEGER);
    this.historyRetention = options.historyRetention ?? DEFAULT_EVENT_SOURCE_RETENTION_MS;
    checkInteger('historyRetention', this.historyRetention, 0, MAX_TIMEOUT_MS);
    this.maxTopics = options.maxTopics ?? DEFAULT_EVENT_SOURCE_MAX_TOPICS;
    checkInteger('maxTopics', this.maxTopics, 1, Number.MAX_SAFE_INTEGER);
    this.historyLimits = { ...options.history };
    void new TopicHistory(this.historyLimits); // checks the limits now, not at the first stream
    const periods = [this.historyRetention];
    if (this.heartbeatInterval > 0) periods.push(this.heartbeatInterval);
    if (this.idleTimeout > 0) periods.push(this.idleTimeout);
    // A deadline fires at most a quarter of its period late.
    this.sweepMs = Math.max(MIN_SWEEP_MS, Math.min(MAX_SWEEP_MS, Math.floor(Math.min(...periods) / 4)));
    // A TopicTap by shape (not by an `implements` clause: the interface is internal, and a
    // published declaration must not name it).
    this.server._addTap(this);
  }

  /** Open streams. */
  get streamCount(): number {
    return this.streams;
  }

  /** Topics with a stream or a retained history. */
  get topicCount(): number {
    return this.channels.size;
  }

  /**
   * Take `request` if it is for this endpoint's `path` (any request when there is no
   * `path`): answer it with a stream, or with an error status. Never throws; an
   * `authorize` that fails is reported on the server's `error` event.
   * @returns false when the path is not this endpoint's (the response is untouched)
   */
  handle(request: IncomingMessage, response: ServerResponse): boolean {
    let url: URL;
    try {
      url = new URL(request.url ?? '/', 'http://localhost');
    } catch {
      if (this.path !== undefined) return false;
      refuse(response, new HandshakeError(400, 'malformed request target'));
      return true;
    }
    if (this.path !== undefined && url.pathname !== this.path) return false;
    this.open(request, response, url).catch((error: unknown) => {
      // Not the client's doing: reported, answered 500 if nothing was sent yet.
      this.server.reportServerError(error);
      if (!response.headersSent) refuse(response, new HandshakeError(500, 'internal server error'));
      else response.destroy();
    });
    return true;
  }

  /** End every stream and stop serving (later requests are answered 503). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.server._removeTap(this);
    for (const channel of this.channels.values()) {
      for (const stream of channel.streams) this.end(stream, false);
      this.server.topicRegistry.release(channel.topic);
    }
    this.channels.clear();
    this.stopTimer();
  }

  /** @internal */
  deliver(topic: string, bytes: Uint8Array, isText: boolean): number {
    const channel = this.channels.get(topic);
    if (channel === undefined) return 0;
    // Encoded once and kept in the history; written with the turn's other events (below).
    let event = encodeEvent(channel.history.lastSequence + 1, bytes, isText);
    if (channel.unreported > 0) {
      // Messages that never reached this server: a `lost` event right before the next
      // one, for the live streams and for whoever is replayed this message later.
      event = Buffer.concat([encodeLostEvent(channel.history.lastSequence, channel.unreported), event]);
      channel.unreported = 0;
    }
    channel.history.append(event, event.length);
    if (channel.streams.size === 0) return 0;
    // The events of one event-loop turn go out as one Buffer, the same for every stream,
    // in one write per stream: a write per event per stream costs a chunk header and a
    // syscall each, and measured (bench/sse.ts) was most of the fan-out's time.
    if (channel.pending.length === 0) {
      if (this.dirty.length === 0) process.nextTick(this.flushAll);
      this.dirty.push(channel);
    }
    channel.pending.push(event);
    channel.pendingBytes += event.length;
    // A publisher that loops without yielding must not pile up a turn without bound.
    if (channel.pendingBytes >= this.maxBufferedBytes) this.flush(channel);
    return channel.streams.size;
  }

  /** @internal */
  lost(loss: BrokerLoss): void {
    // Only a gap is a loss for this server's streams: what this server published and the
    // broker could not carry was still delivered here (local first).
    if (loss.reason !== 'gap') return;
    const channel = this.channels.get(loss.topic);
    if (channel !== undefined) channel.unreported += loss.count;
  }

  private flushDirty(): void {
    const dirty = this.dirty;
    this.dirty = [];
    for (const channel of dirty) this.flush(channel);
  }

  /** Write a channel's pending events to each of its streams (ending the slow readers). */
  private flush(channel: Channel): void {
    if (channel.pending.length === 0) return;
    const count = channel.pending.length;
    const events = count === 1 ? channel.pending[0]! : Buffer.concat(channel.pending);
    channel.pending = [];
    channel.pendingBytes = 0;
    const now = Date.now();
    const counters = this.server._statsCounters;
    for (const stream of channel.streams) {
      const response = stream.response;
      if (response.destroyed) continue; // gone; its 'close' is on its way and ends the stream
      if (response.writableLength + events.length > this.maxBufferedBytes) {
        this.server.limitHit({
          kind: 'slow-reader',
          clientAddress: stream.clientAddress,
          connectionId: undefined,
          topic: channel.topic,
          action: 'closed',
        });
        // Destroyed, not ended: ending would wait for the queue the reader is not taking.
        this.end(stream, true);
        continue;
      }
      response.write(events);
      counters.eventSourceMessagesOut += count;
      counters.eventSourceBytesOut += events.length;
      stream.lastEventAt = now;
      stream.lastWriteAt = now;
    }
  }

  private async open(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    if (request.method !== 'GET') {
      refuse(response, new HandshakeError(405, 'method not allowed', { Allow: 'GET' }));
      return;
    }
    if (this.closed) {
      refuse(response, new HandshakeError(503, 'event stream closed'));
      return;
    }
    const origin = request.headers.origin;
    const cors: Record<string, string> = {};
    if (this.origins !== null && origin !== undefined) {
      if (!this.origins.has(origin)) {
        refuse(response, new HandshakeError(403, `origin ${origin} is not allowed`));
        return;
      }
      cors['Access-Control-Allow-Origin'] = origin;
      cors.Vary = 'Origin';
    }
    const topic = this.topicOf(url, request);
    if (topic === null) {
      refuse(response, new HandshakeError(400, 'no topic asked for'));
      return;
    }
    try {
      this.server.topicRegistry.checkTopic(topic);
    } catch (error) {
      if (!(error instanceof TopicError)) throw error;
      refuse(response, new HandshakeError(400, error.message));
      return;
    }
    let admission: { clientAddress: string; release: () => void };
    try {
      admission = this.server._admitHttp(request);
    } catch (error) {
      if (!(error instanceof HandshakeError)) throw error;
      refuse(response, error);
      return;
    }
    // From here the place under the caps is held: given back whatever happens.
    let handedOver = false;
    try {
      if (this.authorize !== undefined) {
        let allowed: boolean;
        try {
          allowed = await this.authorize({ request, url, topic, clientAddress: admission.clientAddress });
        } catch (error) {
          if (!(error instanceof HandshakeError)) throw error;
          refuse(response, error);
          return;
        }
        if (response.destroyed || request.socket.destroyed) return; // gone meanwhile
        if (!allowed) {
          refuse(response, new HandshakeError(403, 'not allowed to read this topic'));
          return;
        }
        if (this.closed) {
          refuse(response, new HandshakeError(503, 'event stream closed'));
          return;
        }
      }
      const channel = this.channelFor(topic);
      if (channel === null) {
        refuse(response, new HandshakeError(503, 'too many topics', { 'Retry-After': '5' }));
        return;
      }
      handedOver = true;
      this.start(request, response, url, channel, admission, cors);
    } finally {
      if (!handedOver) admission.release();
    }
  }

  /** Answer 200 and start the stream: `retry:`, the replay, then live messages. */
  private start(
    request: IncomingMessage,
    response: ServerResponse,
    url: URL,
    channel: Channel,
    admission: { clientAddress: string; release: () => void },
    cors: Record<string, string>,
  ): void {
    const now = Date.now();
    // Events already numbered this turn go out to the streams there were: this one gets
    // them from the history (its replay), never twice.
    this.flush(channel);
    const stream: Stream = {
      response,
      clientAddress: admission.clientAddress,
      channel,
      lastEventAt: now,
      lastWriteAt: now,
      ended: false,
      release: admission.release,
    };
    channel.streams.add(stream);
    channel.unusedSince = 0;
    this.streams++;
    const counters = this.server._statsCounters;
    counters.eventSourceStreams++;
    response.on('close', () => this.end(stream, false));
    request.socket.setNoDelay(true);
    // No timeout of Node's on a stream meant to stay open (`requestTimeout` is the
    // request's, already received); our heartbeat and idle timeout look after it.
    request.socket.setTimeout(0);
    response.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      'X-Accel-Buffering': 'no', // nginx: do not buffer the stream
      ...cors,
    });
    response.write(this.retryLine);
    let written = this.retryLine.length;
    const last = lastEventIdOf(request, url);
    if (last !== undefined) {
      const replay = last === null ? null : channel.history.since(last);
      if (replay === null) {
        const lost = encodeLostEvent(last, null);
        response.write(lost);
        written += lost.length;
      } else {
        if (replay.lost > 0) {
          const lost = encodeLostEvent(last, replay.lost);
          response.write(lost);
          written += lost.length;
        }
        for (const entry of replay.entries) {
          response.write(entry.value);
          written += entry.value.length;
        }
        counters.eventSourceMessagesOut += replay.entries.length;
      }
    }
    counters.eventSourceBytesOut += written;
    this.startTimer();
  }

  /** The channel of `topic`, made (and the topic held on the broker) if need be; null when at `maxTopics`. */
  private channelFor(topic: string): Channel | null {
    const existing = this.channels.get(topic);
    if (existing !== undefined) return existing;
    if (this.channels.size >= this.maxTopics && !this.dropUnusedChannel()) return null;
    const channel: Channel = {
      topic,
      history: new TopicHistory(this.historyLimits),
      streams: new Set(),
      unusedSince: 0,
      unreported: 0,
      pending: [],
      pendingBytes: 0,
    };
    this.channels.set(topic, channel);
    this.server.topicRegistry.hold(topic);
    return channel;
  }

  /** Drop the history unused longest, to make room; false when every topic has a stream. */
  private dropUnusedChannel(): boolean {
    let oldest: Channel | null = null;
    for (const channel of this.channels.values()) {
      if (channel.streams.size === 0 && (oldest === null || channel.unusedSince < oldest.unusedSince)) {
        oldest = channel;
      }
    }
    if (oldest === null) return false;
    this.dropChannel(oldest);
    return true;
  }

  private dropChannel(channel: Channel): void {
    this.channels.delete(channel.topic);
    this.server.topicRegistry.release(channel.topic);
  }

  /** A stream is over: by the client, a limit (`destroy`) or a close. Idempotent. */
  private end(stream: Stream, destroy: boolean): void {
    if (stream.ended) return;
    stream.ended = true;
    stream.release();
    this.streams--;
    this.server._statsCounters.eventSourceStreams--;
    const channel = stream.channel;
    channel.streams.delete(stream);
    if (channel.streams.size === 0) channel.unusedSince = Date.now();
    if (destroy) stream.response.destroy();
    else stream.response.end();
  }

  /** Heartbeats, idle timeouts and expired histories, for every stream in one pass. */
  private sweep(): void {
    const now = Date.now();
    for (const channel of this.channels.values()) {
      if (channel.streams.size === 0) {
        if (now - channel.unusedSince >= this.historyRetention) this.dropChannel(channel);
        continue;
      }
      for (const stream of channel.streams) {
        if (this.idleTimeout > 0 && now - stream.lastEventAt >= this.idleTimeout) {
          this.server.limitHit({
            kind: 'idle-timeout',
            clientAddress: stream.clientAddress,
            connectionId: undefined,
            topic: channel.topic,
            action: 'closed',
          });
          this.end(stream, false);
        } else if (this.heartbeatInterval > 0 && now - stream.lastWriteAt >= this.heartbeatInterval) {
          // A heartbeat for a stream already past its bound is skipped: delivery ends it.
          if (stream.response.writableLength < this.maxBufferedBytes) {
            stream.response.write(HEARTBEAT);
            this.server._statsCounters.eventSourceBytesOut += HEARTBEAT.length;
          }
          stream.lastWriteAt = now;
        }
      }
    }
    if (this.channels.size === 0) this.stopTimer();
  }

  private startTimer(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.sweep(), this.sweepMs);
    // Streams keep the process alive by their sockets; a retained history alone does not.
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
  }
}

/** Answer a request that gets no stream. */
function refuse(response: ServerResponse, error: HandshakeError): void {
  if (response.headersSent || response.destroyed) return;
  response.writeHead(error.status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Cache-Control': 'no-store',
    ...error.headers,
  });
  response.end(`${error.message}\n`);
}
