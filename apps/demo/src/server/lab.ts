/**
 * The transport lab's endpoints (see `shared/lab.ts`): runs of one message stream,
 * carried by short polling, long polling, SSE or WebSocket (with and without
 * permessage-deflate), and the bytes, requests and connections each transport cost,
 * counted here where the raw bytes are known: a request's head as it came (request line
 * and header fields), and what went out on its socket while it was answered (status
 * line, headers, body, chunk framing); for a WebSocket, its whole TCP connection.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { HandshakeError } from '@sockeye/sockeye/protocol';
import { type ServerWebSocket, WebSocketServer } from '@sockeye/sockeye/server';
import {
  LAB_LIMITS,
  LAB_PATHS,
  LAB_TRANSPORTS,
  type LabMessage,
  type LabServerStats,
  type LabTransport,
} from '../shared/lab.js';
import { DEMO_LIMITS } from './limits.js';
import { requestUrl } from './request-url.js';

/** A socket whose bytes are counted for a run from some point on. */
interface Metered {
  socket: Socket;
  readBase: number;
  writtenBase: number;
}

interface Run {
  readonly id: string;
  readonly transport: LabTransport;
  readonly count: number;
  readonly interval: number;
  readonly createdAt: number;
  /** The messages so far, as JSON text; message n is at n - 1. */
  readonly messages: string[];
  timer: NodeJS.Timeout | null;
  readonly waiting: Set<() => void>;
  readonly streams: Set<ServerResponse>;
  readonly sockets: Set<ServerWebSocket<Run>>;
  /** Sockets seen, for the connection count. */
  readonly seen: WeakSet<Socket>;
  /** Long-lived exchanges (an SSE stream, a WebSocket) whose bytes are read when asked. */
  readonly live: Metered[];
  requests: number;
  connections: number;
  bytesIn: number;
  bytesOut: number;
}

/** The server's clock in ms, with sub-millisecond resolution. */
export function serverNow(): number {
  return performance.timeOrigin + performance.now();
}

/** The bytes of a request's head as it came: request line, header fields, blank line. */
export function requestHeadBytes(request: IncomingMessage): number {
  let bytes = Buffer.byteLength(`${request.method} ${request.url} HTTP/${request.httpVersion}\r\n\r\n`);
  const raw = request.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) bytes += Buffer.byteLength(`${raw[i]}: ${raw[i + 1]}\r\n`);
  return bytes;
}

const NOTE = 'the same message stream, over every transport';

/** The lab's endpoints and its two WebSocket servers. */
export class LabService {
  private readonly runs = new Map<string, Run>();
  private readonly plain: WebSocketServer<Run>;
  private readonly deflate: WebSocketServer<Run>;
  private readonly sweeper: NodeJS.Timeout;

  constructor() {
    const handlers = {
      open: (ws: ServerWebSocket<Run>) => {
        ws.data.sockets.add(ws);
      },
      close: (ws: ServerWebSocket<Run>) => {
        ws.data.sockets.delete(ws);
      },
    };
    const common = { ...DEMO_LIMITS, noServer: true as const, handlers };
    this.plain = new WebSocketServer<Run>({
      ...common,
      perMessageDeflate: false,
      authenticate: (context) => this.runFor(context.url, 'websocket'),
    });
    this.deflate = new WebSocketServer<Run>({
      ...common,
      // Context takeover and no threshold: a stream of similar small messages is where
      // permessage-deflate does its best, which is what the lab shows.
      perMessageDeflate: { threshold: 0, serverNoContextTakeover: false, clientNoContextTakeover: false },
      authenticate: (context) => this.runFor(context.url, 'websocket-deflate'),
    });
    this.sweeper = setInterval(() => this.sweep(), 10_000);
    this.sweeper.unref();
  }

  /**
   * Take `request` if it is one of the lab's (a path under `/lab/`); answer it.
   * @returns false when it is not the lab's
   */
  handle(request: IncomingMessage, response: ServerResponse): boolean {
    const url = requestUrl(request);
    if (url === null || !url.pathname.startsWith('/lab/')) return false;
    const query = url.searchParams;
    switch (url.pathname) {
      case LAB_PATHS.clock:
        json(response, 200, { now: serverNow() });
        return true;
      case LAB_PATHS.run:
        if (!this.post(request, response)) return true;
        this.create(query, response);
        return true;
      case LAB_PATHS.start: {
        if (!this.post(request, response)) return true;
        const run = this.runs.get(query.get('id') ?? '');
        if (run === undefined) json(response, 404, { error: 'no such run' });
        else {
          this.start(run);
          json(response, 200, { started: true });
        }
        return true;
      }
      case LAB_PATHS.stats: {
        const run = this.runs.get(query.get('id') ?? '');
        if (run === undefined) json(response, 404, { error: 'no such run' });
        else json(response, 200, this.stats(run));
        return true;
      }
      case LAB_PATHS.poll:
        this.transportRequest(request, response, query, 'short-poll', (run, after) => {
          this.answerPoll(run, response, after);
        });
        return true;
      case LAB_PATHS.longPoll:
        this.transportRequest(request, response, query, 'long-poll', (run, after) => {
          this.longPoll(run, response, after);
        });
        return true;
      case LAB_PATHS.sse:
        this.transportRequest(request, response, query, 'sse', (run) => this.stream(run, request, response));
        return true;
      default:
        json(response, 404, { error: 'no such lab endpoint' });
        return true;
    }
  }

  /** Take an upgrade to one of the lab's WebSocket paths; false when the path is not the lab's. */
  handleUpgrade(request: IncomingMessage, socket: Socket, head: Buffer): boolean {
    const path = requestUrl(request)?.pathname;
    const server =
      path === LAB_PATHS.websocket ? this.plain : path === LAB_PATHS.websocketDeflate ? this.deflate : null;
    if (server === null) return false;
    void server.handleUpgrade(request, socket, head).then((ws) => {
      if (ws === undefined) return;
      const run = ws.data;
      run.requests++;
      run.connections++;
      // Everything on this connection is the run's: the upgrade request already read, the 101, the frames.
      run.live.push({ socket, readBase: 0, writtenBase: 0 });
    });
    return true;
  }

  /** Stop every run, close every lab socket. */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    for (const run of [...this.runs.values()]) this.drop(run);
    await Promise.all([this.plain.close(), this.deflate.close()]);
  }

  private post(request: IncomingMessage, response: ServerResponse): boolean {
    if (request.method === 'POST') return true;
    response.setHeader('Allow', 'POST');
    json(response, 405, { error: 'POST only' });
    return false;
  }

  private create(query: URLSearchParams, response: ServerResponse): void {
    const transport = query.get('transport') as LabTransport;
    const count = Number(query.get('count') ?? 100);
    const interval = Number(query.get('interval') ?? 100);
    if (
      !LAB_TRANSPORTS.includes(transport) ||
      !Number.isInteger(count) ||
      count < 1 ||
      count > LAB_LIMITS.maxCount ||
      !Number.isInteger(interval) ||
      interval < LAB_LIMITS.minInterval ||
      interval > LAB_LIMITS.maxInterval
    ) {
      json(response, 400, {
        error: `transport one of ${LAB_TRANSPORTS.join(', ')}; count 1 to ${LAB_LIMITS.maxCount}; interval ${LAB_LIMITS.minInterval} to ${LAB_LIMITS.maxInterval} ms`,
      });
      return;
    }
    if (this.runs.size >= LAB_LIMITS.maxRuns) this.drop(this.runs.values().next().value!);
    const run: Run = {
      id: randomUUID(),
      transport,
      count,
      interval,
      createdAt: Date.now(),
      messages: [],
      timer: null,
      waiting: new Set(),
      streams: new Set(),
      sockets: new Set(),
      seen: new WeakSet(),
      live: [],
      requests: 0,
      connections: 0,
      bytesIn: 0,
      bytesOut: 0,
    };
    this.runs.set(run.id, run);
    json(response, 200, { id: run.id });
  }

  /** The run a WebSocket upgrade names, for `authenticate` (refused 404 otherwise). */
  private runFor(url: string, transport: LabTransport): Run {
    const run = this.runs.get(new URL(url, 'http://localhost').searchParams.get('id') ?? '');
    if (run === undefined || run.transport !== transport) {
      throw new HandshakeError(404, 'no such run for this transport');
    }
    if (run.sockets.size >= LAB_LIMITS.maxStreams)
      throw new HandshakeError(429, 'too many sockets on this run');
    return run;
  }

  /** Count a transport request (its head, its connection, what goes out until it finishes), then serve it. */
  private transportRequest(
    request: IncomingMessage,
    response: ServerResponse,
    query: URLSearchParams,
    transport: LabTransport,
    serve: (run: Run, after: number) => void,
  ): void {
    const run = this.runs.get(query.get('id') ?? '');
    if (run === undefined || run.transport !== transport) {
      json(response, 404, { error: 'no such run for this transport' });
      return;
    }
    if (request.method !== 'GET') {
      response.setHeader('Allow', 'GET');
      json(response, 405, { error: 'GET only' });
      return;
    }
    const after = Number(query.get('after') ?? 0);
    if (!Number.isInteger(after) || after < 0) {
      json(response, 400, { error: 'after must be a message number' });
      return;
    }
    const socket = request.socket;
    run.requests++;
    if (!run.seen.has(socket)) {
      run.seen.add(socket);
      run.connections++;
    }
    run.bytesIn += requestHeadBytes(request);
    if (transport === 'sse') {
      run.live.push({ socket, readBase: socket.bytesRead, writtenBase: socket.bytesWritten });
    } else {
      // One request at a time on a keep-alive connection (browsers do not pipeline): what
      // goes out from here until the response is finished is this response.
      const base = socket.bytesWritten;
      response.once('finish', () => {
        run.bytesOut += socket.bytesWritten - base;
      });
    }
    serve(run, after);
  }

  private answerPoll(run: Run, response: ServerResponse, after: number): void {
    json(response, 200, run.messages.slice(after), true);
  }

  private longPoll(run: Run, response: ServerResponse, after: number): void {
    if (run.messages.length > after || run.messages.length >= run.count) {
      this.answerPoll(run, response, after);
      return;
    }
    if (run.waiting.size >= LAB_LIMITS.maxWaitingPolls) {
      json(response, 429, { error: 'too many polls waiting on this run' });
      return;
    }
    const answer = () => {
      clearTimeout(timer);
      run.waiting.delete(answer);
      if (!response.destroyed) this.answerPoll(run, response, after);
    };
    const timer = setTimeout(answer, LAB_LIMITS.longPollHold);
    run.waiting.add(answer);
    response.once('close', () => {
      clearTimeout(timer);
      run.waiting.delete(answer);
    });
  }

  private stream(run: Run, request: IncomingMessage, response: ServerResponse): void {
    if (run.streams.size >= LAB_LIMITS.maxStreams) {
      json(response, 429, { error: 'too many streams on this run' });
      return;
    }
    request.socket.setNoDelay(true);
    response.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
    });
    response.write('retry: 1000\n\n');
    run.messages.forEach((message, i) => {
      response.write(`id: ${i + 1}\ndata: ${message}\n\n`);
    });
    run.streams.add(response);
    response.once('close', () => run.streams.delete(response));
  }

  private start(run: Run): void {
    if (run.timer !== null || run.messages.length > 0) return;
    run.timer = setInterval(() => this.emit(run), run.interval);
  }

  /** The next message of the stream, to whoever is listening. */
  private emit(run: Run): void {
    const seq = run.messages.length + 1;
    const message: LabMessage = {
      seq,
      sentAt: serverNow(),
      symbol: 'SOCK',
      price: Math.round((100 + 10 * Math.sin(seq / 7)) * 100) / 100,
      note: NOTE,
    };
    const text = JSON.stringify(message);
    run.messages.push(text);
    for (const response of run.streams) response.write(`id: ${seq}\ndata: ${text}\n\n`);
    for (const ws of run.sockets) ws.send(text);
    for (const answer of [...run.waiting]) answer();
    if (seq >= run.count && run.timer !== null) {
      clearInterval(run.timer);
      run.timer = null;
    }
  }

  private stats(run: Run): LabServerStats {
    let bytesIn = run.bytesIn;
    let bytesOut = run.bytesOut;
    for (const metered of run.live) {
      bytesIn += metered.socket.bytesRead - metered.readBase;
      bytesOut += metered.socket.bytesWritten - metered.writtenBase;
    }
    return {
      transport: run.transport,
      emitted: run.messages.length,
      requests: run.requests,
      connections: run.connections,
      bytesIn,
      bytesOut,
    };
  }

  private drop(run: Run): void {
    this.runs.delete(run.id);
    if (run.timer !== null) clearInterval(run.timer);
    for (const answer of [...run.waiting]) answer();
    for (const response of run.streams) response.end();
    for (const ws of run.sockets) ws.close(1001, 'lab run over');
  }

  private sweep(): void {
    const now = Date.now();
    for (const run of [...this.runs.values()]) {
      if (now - run.createdAt > LAB_LIMITS.runLifetime) this.drop(run);
    }
  }
}

function json(response: ServerResponse, status: number, body: unknown, raw = false): void {
  const text = raw ? `[${(body as string[]).join(',')}]` : JSON.stringify(body);
  response.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  response.end(text);
}
