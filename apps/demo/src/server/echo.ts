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
 *   With `&deflate=1` it may negotiate permessage-deflate (the feed then also gets each
 *   message inflated); without, it is refused so that payloads stay readable on the wire.
 * - The page may ask on the feed for what a browser cannot do (see `FeedCommand`): a
 *   server ping, or a message sent in fragments with a ping between them.
 *
 * Plain and inspected echo sockets are served by different servers, so that only
 * inspected connections pay for the wiretap's copy of every chunk.
 */

import { isUtf8 } from 'node:buffer';
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { type Connection, PERMESSAGE_DEFLATE, RSV1_BIT, WEBSOCKET_GUID } from '@sockeye/sockeye/protocol';
import {
  type ServerStats,
  type ServerWebSocket,
  type UpgradeRequestContext,
  WebSocketServer,
} from '@sockeye/sockeye/server';
import {
  type AcceptDerivation,
  DEFLATE_PARAM,
  type FeedCommand,
  type FrameRecord,
  type InspectorMessage,
  MAX_SHOWN_BYTES,
  parseFeedCommand,
  REQUESTED_PING_PREFIX,
  splitText,
} from '../shared/inspector.js';
import { FrameRecorder, recordHead } from './frame-record.js';
import { DEMO_LIMITS } from './limits.js';

/** Most bytes a feed may have waiting for a slow page before records are dropped. */
const FEED_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/** An inspected echo connection: where its records go and what decodes them. */
interface Inspection {
  readonly feed: ServerWebSocket<FeedData>;
  readonly session: string;
  /** The request's `Sec-WebSocket-Key`. */
  readonly key: string;
  /** Pings sent on request so far (numbers their payloads). */
  pings: number;
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

/** `Sec-WebSocket-Accept` from `key`, each step kept (the server's `computeAccept` does the same in one go). */
export function deriveAccept(key: string): AcceptDerivation {
  const concatenated = key + WEBSOCKET_GUID;
  const digest = createHash('sha1').update(concatenated, 'latin1').digest();
  return {
    key,
    guid: WEBSOCKET_GUID,
    concatenated,
    sha1Hex: digest.toString('hex'),
    accept: digest.toString('base64'),
  };
}

/**
 * The protocol core under a server socket. The server's public API sends each message
 * as one frame; the demo shows fragmentation by queuing the frames on the core itself,
 * inside `cork`, so they go out through the server's own output path (and its wiretap)
 * in order with everything else.
 */
function coreOf(ws: ServerWebSocket<Inspection>): Connection {
  return (ws as unknown as { connection: Connection }).connection;
}

/** Carry out a page's request on its inspected connection. */
function runCommand(ws: ServerWebSocket<Inspection>, command: FeedCommand): void {
  if (ws.readyState !== 'open') return;
  if (command.type === 'ping') {
    ws.ping(`${REQUESTED_PING_PREFIX} #${++ws.data.pings}`);
    return;
  }
  if (command.type === 'close') {
    ws.close(command.code, command.reason);
    return;
  }
  const pieces = splitText(command.text, command.fragments);
  const core = coreOf(ws);
  ws.cork(() => {
    pieces.forEach((piece, index) => {
      core.sendFragment(Buffer.from(piece), true, index === pieces.length - 1, index === 0);
      if (index === 0 && command.interleavePing) core.ping(`${REQUESTED_PING_PREFIX}, between fragments`);
    });
  });
}

/** The feed's report of a whole (inflated) message. */
function inflatedMessage(
  direction: 'client-to-server' | 'server-to-client',
  data: Buffer | string,
  isBinary: boolean,
): InspectorMessage {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const shown = bytes.subarray(0, MAX_SHOWN_BYTES);
  return {
    type: 'message',
    direction,
    isBinary,
    length: bytes.length,
    payloadHex: shown.toString('hex'),
    payloadText: !isBinary && isUtf8(shown) ? shown.toString('utf8') : null,
  };
}

/** The echo and inspector sockets; {@link EchoService.handleUpgrade} routes an upgrade to them. */
export class EchoService {
  private readonly sessions = new Map<string, ServerWebSocket<FeedData>>();
  private readonly feeds: WebSocketServer<FeedData>;
  private readonly plain: WebSocketServer<undefined>;
  private readonly inspected: WebSocketServer<Inspection>;
  /** Inspected sockets that may negotiate permessage-deflate (`&deflate=1`). */
  private readonly compressed: WebSocketServer<Inspection>;
  /** Open inspected sockets, by feed session. */
  private readonly inspectedBySession = new Map<string, ServerWebSocket<Inspection>>();
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
        message: (ws, data) => {
          let command: FeedCommand | null = null;
          try {
            command = parseFeedCommand(JSON.parse(String(data)));
          } catch {
            // Not JSON: ignored, as any other shape is.
          }
          const inspected = this.inspectedBySession.get(ws.data.session);
          if (command !== null && inspected !== undefined) runCommand(inspected, command);
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
    this.inspected = this.inspectedServer(false);
    this.compressed = this.inspectedServer(true);
  }

  /** A server of inspected echo sockets, with or without permessage-deflate. */
  private inspectedServer(deflate: boolean): WebSocketServer<Inspection> {
    return new WebSocketServer<Inspection>({
      ...DEMO_LIMITS,
      noServer: true,
      decodeText: false,
      // Without the page's switch, payloads stay readable as they cross the wire (a
      // browser compresses every message once permessage-deflate is agreed).
      // With the switch, every message is compressed, however small (the default leaves
      // those under 1 KiB alone), so that RSV1 shows on both directions' frames.
      perMessageDeflate: deflate ? { threshold: 0 } : false,
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
          this.inspectedBySession.set(inspection.session, ws);
          if (ws.extensions.includes(PERMESSAGE_DEFLATE)) {
            inspection.incoming.setAllowedRsv(RSV1_BIT);
            inspection.outgoing.setAllowedRsv(RSV1_BIT);
          }
          report(inspection.feed, {
            type: 'handshake',
            request: recordHead(inspection.request, 'request'),
            response: recordHead(inspection.response, 'response'),
            derivation: deriveAccept(inspection.key),
            extensions: ws.extensions,
          });
        },
        message: (ws, data, isBinary) => {
          const compressedHere = ws.extensions.includes(PERMESSAGE_DEFLATE);
          if (compressedHere) report(ws.data.feed, inflatedMessage('client-to-server', data, isBinary));
          ws.send(data, isBinary);
          if (compressedHere) report(ws.data.feed, inflatedMessage('server-to-client', data, isBinary));
        },
        close: (ws, code, reason) => {
          if (this.inspectedBySession.get(ws.data.session) === ws)
            this.inspectedBySession.delete(ws.data.session);
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
    return (
      this.feeds.clients.size +
      this.plain.clients.size +
      this.inspected.clients.size +
      this.compressed.clients.size
    );
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
    const params = new URL(request.url ?? '/', 'http://localhost').searchParams;
    const session = params.get('session');
    if (session === null || !this.sessions.has(session)) {
      void this.plain.handleUpgrade(request, socket, head);
      return;
    }
    this.captureResponse(socket);
    const server = params.get(DEFLATE_PARAM) === '1' ? this.compressed : this.inspected;
    void server.handleUpgrade(request, socket, head).finally(() => {
      // Refused or failed: nothing was captured, stop watching.
      this.awaitingResponse.delete(socket);
    });
  }

  /** The WebSocket servers, by name (for the admin page). */
  servers(): Record<string, { stats(): ServerStats }> {
    return {
      echo: this.plain,
      inspector: this.inspected,
      'inspector (deflate)': this.compressed,
      'inspector feed': this.feeds,
    };
  }

  /** Close every socket. */
  async close(): Promise<void> {
    await Promise.all([
      this.inspected.close(),
      this.compressed.close(),
      this.plain.close(),
      this.feeds.close(),
    ]);
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
      session,
      key: context.incoming.headers['sec-websocket-key'] ?? '',
      pings: 0,
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
