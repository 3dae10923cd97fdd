/**
 * TEMPORARY: a bare WebSocket client shell on the protocol core, for conformance runs of
 * the core's client role (permessage-deflate included) until the Node client (issue 4)
 * can take its place. Connects to a `ws://` URL, echoes every message (or just collects
 * them), and resolves once the transport is closed.
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import {
  buildRequest,
  type CloseInfo,
  Connection,
  generateKey,
  HttpHeadParser,
  type PerMessageDeflate,
  type ResponseHead,
  validateResponse,
} from '../../packages/sockeye/src/protocol/index.js';

/** What a {@link runCoreClient} session saw. */
export interface CoreClientResult {
  /** Messages received, in order. */
  messages: Array<{ data: Buffer; isText: boolean }>;
  /** How the connection ended. */
  close: CloseInfo | null;
  /** The server's `Sec-WebSocket-Extensions` answer ('' when none). */
  extensions: string;
}

/**
 * Run one client session against `url`. With `echo`, every message is sent back with
 * its type. With `deflate`, permessage-deflate is offered and, if accepted, used.
 */
export async function runCoreClient(
  url: string,
  options: {
    echo: boolean;
    deflate?: PerMessageDeflate | null;
    /** Text messages to send once open. */
    send?: readonly string[];
    /** Close (1000) after receiving this many messages. */
    closeAfter?: number;
    maxPayload?: number;
    timeoutMs?: number;
  },
): Promise<CoreClientResult> {
  const target = new URL(url);
  const socket = connect(Number(target.port), target.hostname);
  socket.setNoDelay(true);
  await once(socket, 'connect');
  const key = generateKey();
  socket.write(
    buildRequest({
      host: target.host,
      path: `${target.pathname}${target.search}`,
      key,
      extensions: options.deflate?.offer(),
    }),
  );
  const head = new HttpHeadParser<ResponseHead>('response');
  const result: CoreClientResult = { messages: [], close: null, extensions: '' };
  let connection: Connection | null = null;
  const flush = () => {
    const chunks = connection?.takeOutput() ?? [];
    if (chunks.length === 0 || socket.destroyed) return;
    socket.cork();
    for (const chunk of chunks) socket.write(chunk);
    socket.uncork();
  };
  const closed = once(socket, 'close');
  const guard = setTimeout(() => socket.destroy(), options.timeoutMs ?? 120_000);
  socket.on('error', () => {});
  socket.on('close', () => connection?.receiveEof());
  socket.on('data', (chunk: Buffer) => {
    if (connection !== null) {
      connection.receive(chunk);
      flush();
      return;
    }
    try {
      const parsed = head.push(chunk);
      if (parsed === null) return;
      const accepted = validateResponse(parsed.head, {
        key,
        protocols: [],
        extensions: options.deflate ? ['permessage-deflate'] : [],
      });
      result.extensions = String(parsed.head.headers['sec-websocket-extensions'] ?? '');
      const extension = options.deflate?.accept(accepted.extensions) ?? null;
      const conn: Connection = new Connection(
        {
          onMessage: (data, isText) => {
            result.messages.push({ data: Buffer.from(data), isText });
            if (options.echo) conn.send(data, isText);
            if (result.messages.length === options.closeAfter) conn.close(1000);
          },
          onPing: () => {},
          onPong: () => {},
          onClose: (info) => {
            result.close = info;
            flush();
            // The server closes the transport first (RFC 6455 section 7.1.1); do it if it does not.
            setTimeout(() => socket.destroy(), 2_000).unref();
          },
          onOutput: () => process.nextTick(flush),
        },
        {
          role: 'client',
          maxPayload: options.maxPayload ?? 64 * 1024 * 1024,
          maxFragments: 1 << 20,
          extensions: extension === null ? [] : [extension],
        },
      );
      connection = conn;
      for (const message of options.send ?? []) conn.send(message, true);
      if (parsed.rest.length > 0) {
        conn.receive(parsed.rest);
        flush();
      }
    } catch {
      // A refused handshake (or a bad permessage-deflate answer): fail the connection.
      socket.destroy();
    }
  });
  try {
    await closed;
  } finally {
    clearTimeout(guard);
  }
  return result;
}
