/**
 * TEST HARNESS, not the demo server: a bare shell on the protocol core (like
 * conformance/echo-server.ts) that serves the built pages and the three sockets they use,
 * so the pages can be driven in Chromium before WebSocketServer exists. The demo server
 * (next round, on WebSocketServer) replaces it and must keep what these tests check.
 *
 * Plain HTTP GET of a file under `publicDir`; WebSocket upgrades on the paths of
 * `shared/routes.ts`: echo (inspected when `?session=` names a live feed), the inspector
 * feed, and one chat room.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { extname, join, normalize } from 'node:path';
import {
  buildAcceptResponse,
  buildRejectResponse,
  type CloseInfo,
  Connection,
  HandshakeError,
  HttpHeadParser,
  type RequestHead,
  validateRequest,
} from 'sockeye/protocol';
import { FrameRecorder, recordHead } from '../../src/server/frame-record.js';
import { ChatProtocolError, type ChatServerMessage, parseClientMessage } from '../../src/shared/chat.js';
import type { InspectorMessage } from '../../src/shared/inspector.js';
import { CHAT_PATH, ECHO_PATH, INSPECTOR_FEED_PATH } from '../../src/shared/routes.js';

/** A running harness. */
export interface PageServer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** Stop listening and drop every connection. */
  close(): Promise<void>;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
};

interface Events {
  onMessage(data: Buffer, isText: boolean): void;
  onClose?(info: CloseInfo): void;
  /** Bytes read from the socket, before the connection sees (and unmasks) them. */
  tapIn?(chunk: Buffer): void;
  /** Bytes about to be written to the socket. */
  tapOut?(chunk: Buffer): void;
}

/** Run a server-side Connection on `socket`; `rest` is what followed the handshake head. */
function accept(socket: Socket, rest: Buffer, events: Events): Connection {
  const flush = () => {
    const chunks = connection.takeOutput();
    if (chunks.length === 0 || socket.destroyed) return;
    socket.cork();
    for (const chunk of chunks) {
      events.tapOut?.(chunk);
      socket.write(chunk);
    }
    socket.uncork();
  };
  const connection: Connection = new Connection(
    {
      onMessage: (data, isText) => events.onMessage(data, isText),
      onPing: () => {},
      onPong: () => {},
      onClose: (info) => {
        flush();
        socket.end();
        events.onClose?.(info);
      },
      onOutput: () => process.nextTick(flush),
    },
    { role: 'server' },
  );
  const receive = (chunk: Buffer) => {
    events.tapIn?.(chunk);
    connection.receive(chunk);
    flush();
  };
  socket.on('data', receive);
  socket.on('close', () => connection.receiveEof());
  if (rest.length > 0) receive(rest);
  return connection;
}

function sendJson(connection: Connection, message: InspectorMessage | ChatServerMessage): void {
  if (connection.state === 'open') connection.send(JSON.stringify(message), true);
}

/** Serve `publicDir` and the demo's sockets on 127.0.0.1:`port`. */
export async function startPageServer(publicDir: string, port: number): Promise<PageServer> {
  const sockets = new Set<Socket>();
  const feeds = new Map<string, Connection>();
  const room = new Map<Connection, string | null>();

  const serveFile = async (socket: Socket, pathname: string) => {
    const relative = normalize(pathname === '/' ? '/index.html' : pathname);
    let status = '200 OK';
    let body: Buffer;
    let type = CONTENT_TYPES[extname(relative)] ?? 'application/octet-stream';
    try {
      if (relative.includes('..')) throw new Error('outside');
      body = await readFile(join(publicDir, relative));
    } catch {
      status = '404 Not Found';
      body = Buffer.from('not found\n');
      type = 'text/plain';
    }
    socket.end(
      Buffer.concat([
        Buffer.from(
          `HTTP/1.1 ${status}\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
        ),
        body,
      ]),
    );
  };

  const openFeed = (socket: Socket, rest: Buffer) => {
    const session = randomUUID();
    const feed = accept(socket, rest, { onMessage: () => {}, onClose: () => feeds.delete(session) });
    feeds.set(session, feed);
    sendJson(feed, { type: 'session', session });
  };

  const openEcho = (socket: Socket, rest: Buffer, feed: Connection | undefined, heads: [Buffer, string]) => {
    let seq = 0;
    const nextSeq = () => ++seq;
    const report = (message: InspectorMessage) => {
      if (feed !== undefined) sendJson(feed, message);
    };
    const onRecord = (frame: Parameters<ConstructorParameters<typeof FrameRecorder>[1]>[0]) =>
      report({ type: 'frame', frame });
    const incoming = new FrameRecorder({ direction: 'client-to-server', nextSeq }, onRecord);
    const outgoing = new FrameRecorder({ direction: 'server-to-client', nextSeq }, onRecord);
    if (feed !== undefined) {
      report({
        type: 'handshake',
        request: recordHead(heads[0], 'request'),
        response: recordHead(heads[1], 'response'),
      });
    }
    const connection = accept(socket, rest, {
      onMessage: (data, isText) => connection.send(data, isText),
      onClose: (info) => report({ type: 'end', reason: `closed with ${info.code}` }),
      ...(feed === undefined
        ? {}
        : { tapIn: (chunk) => incoming.push(chunk), tapOut: (chunk) => outgoing.push(chunk) }),
    });
  };

  const broadcast = (message: ChatServerMessage, except?: Connection) => {
    for (const [member, name] of room) if (name !== null && member !== except) sendJson(member, message);
  };
  const names = () => [...room.values()].filter((name): name is string => name !== null);

  const openChat = (socket: Socket, rest: Buffer) => {
    const connection = accept(socket, rest, {
      onMessage: (data, isText) => {
        try {
          if (!isText) throw new ChatProtocolError('messages are JSON text');
          const message = parseClientMessage(data.toString('utf8'));
          const name = room.get(connection) ?? null;
          if (message.type === 'join') {
            if (name !== null) throw new ChatProtocolError('you are already in the room');
            if (names().includes(message.name)) throw new ChatProtocolError('that name is taken');
            room.set(connection, message.name);
            sendJson(connection, { type: 'welcome', name: message.name, members: names() });
            broadcast({ type: 'presence', event: 'join', name: message.name, members: names() }, connection);
          } else {
            if (name === null) throw new ChatProtocolError('join first');
            broadcast({ type: 'message', from: name, text: message.text, time: Date.now() });
          }
        } catch (error) {
          if (!(error instanceof ChatProtocolError)) throw error;
          sendJson(connection, { type: 'error', reason: error.message });
        }
      },
      onClose: () => {
        const name = room.get(connection) ?? null;
        room.delete(connection);
        if (name !== null) broadcast({ type: 'presence', event: 'leave', name, members: names() });
      },
    });
    room.set(connection, null);
  };

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const parser = new HttpHeadParser<RequestHead>('request');
    const received: Buffer[] = [];
    const onHead = (chunk: Buffer) => {
      received.push(chunk);
      try {
        const parsed = parser.push(chunk);
        if (parsed === null) return;
        socket.off('data', onHead);
        const all = Buffer.concat(received);
        const requestHead = all.subarray(0, all.length - parsed.rest.length);
        const url = new URL(parsed.head.target, 'http://localhost');
        if (parsed.head.headers.upgrade?.toLowerCase() !== 'websocket') {
          void serveFile(socket, url.pathname);
          return;
        }
        const info = validateRequest(parsed.head);
        if (![ECHO_PATH, INSPECTOR_FEED_PATH, CHAT_PATH].includes(url.pathname)) {
          throw new HandshakeError(404, 'no socket at this path');
        }
        const response = buildAcceptResponse({ key: info.key, protocol: info.protocols[0] });
        socket.write(response);
        if (url.pathname === INSPECTOR_FEED_PATH) openFeed(socket, parsed.rest);
        else if (url.pathname === CHAT_PATH) openChat(socket, parsed.rest);
        else {
          const session = url.searchParams.get('session');
          const feed = session === null ? undefined : feeds.get(session);
          openEcho(socket, parsed.rest, feed, [requestHead, response]);
        }
      } catch (error) {
        if (!(error instanceof HandshakeError)) throw error;
        socket.end(buildRejectResponse(error));
      }
    };
    socket.on('data', onHead);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    origin: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
