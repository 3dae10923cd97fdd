/**
 * The echo socket and the frame inspector, on sockeye's {@link WebSocketServer}.
 *
 * - `/ws/echo` echoes each message with its type (text stays text, binary stays binary)
 *   and selects the first subprotocol the client offers.
 * - `/ws/inspector` is the inspector's feed: it sends a session id; an echo socket opened
 *   with `?session=<id>` is then inspected: the feed gets its opening handshake, every
 *   frame in both directions as it crossed the wire (the client's still masked, taken
 *   from the server's `wiretap`), and an `end` message when it closes.
 *
 * Plain and inspected echo sockets are served by two servers, so that only inspected
 * connections pay for the wiretap's copy of every chunk.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { PERMESSAGE_DEFLATE, RSV1_BIT } from 'sockeye/protocol';
import {
  type ServerStats,
  type ServerWebSocket,
  type UpgradeRequestContext,
  WebSocketServer,
} from 'sockeye/server';
import type { FrameRecord, InspectorMessage } from '../shared/inspector.js';
import { FrameRecorder, recordHead } from './frame-record.js';
import { DEMO_LIMITS } from './limits.js';

/** Most bytes a feed may have waiting for a slow page before records are dropped. */
const FEED_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/** An inspected echo connection: where its records go and what decodes them. */
interface Inspection {
  readonly feed: ServerWebSocket<FeedData>;
  /** The request head as Node received it (start line and raw header fields). */
  readonly request: string;
  /** The 101 response, captured from the socket as the server wrote it. */
  response: string;
  readonly incoming: FrameRecorder;
  readonly outgoing: FrameRecorder;
  /** False once a direction broke a framing rule (the connection fails on it too). */
  recording: boolean;
}

interface FeedData {
  readonly session: string;
}

function report(feed: ServerWebSocket<FeedData>, message: InspectorMessage): void {
  if (feed.readyState === 'open') feed.send(JSON.stringify(message));
}

/** The request head of an upgrade, rebuilt from what Node parsed (fields in order, with their case). */
function requestHead(request: IncomingMessage): string {
  let head = `${request.method} ${request.url} HTTP/${request.httpVersion}\r\n`;
  const raw = request.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) head += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return `${head}\r\n`;
}

const selectFirst = (offered: readonly string[]) => offered[0];

/** The echo and inspector sockets; {@link EchoService.handleUpgrade} routes an upgrade to them. */
export class EchoService {
  private readonly sessions = new Map<string, ServerWebSocket<FeedData>>();
  private readonly feeds: WebSocketServer<FeedData>;
  private readonly plain: WebSocketServer<undefined>;
  private readonly inspected: WebSocketServer<Inspection>;
  /** Upgrades to an inspected echo socket, by socket, until the 101 is written. */
  private readonly awaitingResponse = new WeakMap<Socket, (response: string) => void>();

  constructor() {
    this.feeds = new WebSocketServer<FeedData>({
      ...DEMO_LIMITS,
      noServer: true,
      maxPayload: 1024,
      maxBufferedBytes: FEED_MAX_BUFFERED_BYTES,
      authenticate: () => ({ session: randomUUID() }),
      handlers: {
        open: (ws) => {
          this.sessions.set(ws.data.session, ws);
          report(ws, { type: 'session', session: ws.data.session });
        },
        close: (ws) => {
          this.sessions.delete(ws.data.session);
        },
      },
    });
    this.plain = new WebSocketServer<undefined>({
      ...DEMO_LIMITS,
      noServer: true,
      decodeText: false,
      selectProtocol: selectFirst,
      handlers: { message: (ws, data, isBinary) => ws.send(data, isBinary) },
    });
    this.inspected = new WebSocketServer<Inspection>({
      ...DEMO_LIMITS,
      noServer: true,
      decodeText: false,
      // The inspector shows payloads as they cross the wire, masked and unmasked: keep
      // them readable (browsers compress every message once permessage-deflate is agreed).
      perMessageDeflate: false,
      selectProtocol: selectFirst,
      authenticate: (context) => this.inspection(context),
      wiretap: (ws, direction, bytes) => {
        const inspection = ws.data;
        if (!inspection.recording) return;
        try {
          (direction === 'in' ? inspection.incoming : inspection.outgoing).push(bytes);
        } catch (error) {
          // The connection itself fails on these bytes and closes; say why on the feed.
          inspection.recording = false;
          report(inspection.feed, { type: 'end', reason: `frames no longer shown: ${String(error)}` });
        }
      },
      handlers: {
        open: (ws) => {
          const inspection = ws.data;
          if (ws.extensions.includes(PERMESSAGE_DEFLATE)) {
            inspection.incoming.setAllowedRsv(RSV1_BIT);
            inspection.outgoing.setAllowedRsv(RSV1_BIT);
          }
          report(inspection.feed, {
            type: 'handshake',
            request: recordHead(inspection.request, 'request'),
            response: recordHead(inspection.response, 'response'),
          });
        },
        message: (ws, data, isBinary) => ws.send(data, isBinary),
        close: (ws, code, reason) => {
          report(ws.data.feed, {
            type: 'end',
            reason: `closed with ${code}${reason === '' ? '' : ` ${JSON.stringify(reason)}`}`,
          });
        },
      },
    });
  }

  /** Open connections: feeds, plain and inspected echo sockets. */
  get connectionCount(): number {
    return this.feeds.clients.size + this.plain.clients.size + this.inspected.clients.size;
  }

  /**
   * Take an upgrade to `/ws/echo` (inspected when `?session=` names a live feed) or to
   * `/ws/inspector`.
   */
  handleUpgrade(kind: 'echo' | 'feed', request: IncomingMessage, socket: Socket, head: Buffer): void {
    if (kind === 'feed') {
      void this.feeds.handleUpgrade(request, socket, head);
      return;
    }
    const session = new URL(request.url ?? '/', 'http://localhost').searchParams.get('session');
    if (session === null || !this.sessions.has(session)) {
      void this.plain.handleUpgrade(request, socket, head);
      return;
    }
    this.captureResponse(socket);
    void this.inspected.handleUpgrade(request, socket, head).finally(() => {
      // Refused or failed: nothing was captured, stop watching.
      this.awaitingResponse.delete(socket);
    });
  }

  /** Close every socket. */
  /** The WebSocket servers, by name (for the admin page). */
  servers(): Record<string, { stats(): ServerStats }> {
    return { echo: this.plain, inspector: this.inspected, 'inspector feed': this.feeds };
  }

  async close(): Promise<void> {
    await Promise.all([this.inspected.close(), this.plain.close(), this.feeds.close()]);
  }

  private inspection(context: UpgradeRequestContext): Inspection {
    const session = new URL(context.url, 'http://localhost').searchParams.get('session') ?? '';
    const feed = this.sessions.get(session);
    if (feed === undefined || context.incoming === undefined) {
      throw new Error('the inspected session ended during the handshake');
    }
    let seq = 0;
    const nextSeq = () => ++seq;
    const onRecord = (frame: FrameRecord) => report(feed, { type: 'frame', frame });
    const inspection: Inspection = {
      feed,
      request: requestHead(context.incoming),
      response: '',
      incoming: new FrameRecorder({ direction: 'client-to-server', nextSeq }, onRecord),
      outgoing: new FrameRecorder({ direction: 'server-to-client', nextSeq }, onRecord),
      recording: true,
    };
    const socket = context.incoming.socket;
    this.awaitingResponse.set(socket, (response) => {
      inspection.response = response;
    });
    return inspection;
  }

  /**
   * Capture the first bytes the server writes to `socket`: its 101 response, exactly as
   * written (the wiretap starts with the frames after it). The socket's own `write` is
   * restored at once.
   */
  private captureResponse(socket: Socket): void {
    const write = socket.write;
    const awaiting = this.awaitingResponse;
    socket.write = ((...args: Parameters<Socket['write']>) => {
      socket.write = write;
      const chunk: unknown = args[0];
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('latin1');
      awaiting.get(socket)?.(text);
      return write.apply(socket, args);
    }) as Socket['write'];
  }
}
