/**
 * The conformance echo server: `npm run echo -- --port <P> [--host <H>] [--no-deflate]`.
 * Echoes every message with its type. Limits are raised to what the Autobahn suite needs
 * (its section 9 sends 16 MiB messages and 4 MiB in 64-byte fragments).
 *
 * Switches for interop tests (the contract every version of this server keeps):
 * - the first subprotocol the client offers is selected;
 * - `?close=<code>&reason=<text>`: after echoing the first message, close with that code and reason;
 * - `?ping=<payload>`: ping right after the handshake; when the pong arrives, send the
 *   text message `pong:<payload>`;
 * - permessage-deflate offers are accepted (the first one it can honour), unless
 *   `--no-deflate` is given.
 *
 * TEMPORARY: a bare shell on the protocol core, until WebSocketServer (issue 3) replaces it.
 */
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import {
  buildAcceptResponse,
  buildRejectResponse,
  Connection,
  HandshakeError,
  HttpHeadParser,
  PerMessageDeflate,
  type RequestHead,
  validateRequest,
} from '../packages/sockeye/src/protocol/index.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '9001' },
    host: { type: 'string', default: '127.0.0.1' },
    'no-deflate': { type: 'boolean', default: false },
  },
});
// Every message is compressed (threshold 0), so that Autobahn sections 12 and 13 exercise
// the codec at every size. (It also sidesteps kosoku 0.1.0, which fails its own cases
// with "Strings must be encoded before hashing" when a text message in a compressed
// session arrives uncompressed, as RFC 7692 allows and sockeye's default 1 KiB threshold does.)
const deflate = values['no-deflate'] ? null : new PerMessageDeflate({ threshold: 0 });
const port = Number(values.port);
const host = values.host;

const server = createServer((socket) => {
  socket.setNoDelay(true);
  const head = new HttpHeadParser<RequestHead>('request');
  let connection: Connection | null = null;
  const flush = () => {
    const chunks = connection?.takeOutput() ?? [];
    if (chunks.length === 1) socket.write(chunks[0]!);
    else if (chunks.length > 1) {
      socket.cork();
      for (const chunk of chunks) socket.write(chunk);
      socket.uncork();
    }
  };
  socket.on('data', (chunk: Buffer) => {
    if (connection !== null) {
      connection.receive(chunk);
      flush();
      return;
    }
    try {
      const parsed = head.push(chunk);
      if (parsed === null) return;
      const info = validateRequest(parsed.head);
      const query = new URL(parsed.head.target, 'ws://localhost').searchParams;
      const closeCode = query.has('close') ? Number(query.get('close')) : undefined;
      const pingPayload = query.get('ping');
      const agreement = deflate?.negotiate(info.extensions) ?? null;
      socket.write(
        buildAcceptResponse({
          key: info.key,
          protocol: info.protocols[0],
          extensions: agreement?.responseHeaderValue,
        }),
      );
      let echoed = false;
      const conn = new Connection(
        {
          onMessage: (data, isText) => {
            conn.send(data, isText);
            if (closeCode !== undefined && !echoed) conn.close(closeCode, query.get('reason') ?? '');
            echoed = true;
          },
          onPing: () => {},
          onPong: (data) => {
            if (pingPayload !== null) conn.send(`pong:${data.toString()}`, true);
          },
          onClose: () => {
            flush();
            socket.end();
          },
          onOutput: () => process.nextTick(flush),
        },
        {
          role: 'server',
          maxPayload: 64 * 1024 * 1024,
          maxFragments: 1 << 20,
          extensions: agreement === null ? [] : [agreement.extension],
        },
      );
      connection = conn;
      if (pingPayload !== null) conn.ping(pingPayload);
      if (parsed.rest.length > 0) {
        conn.receive(parsed.rest);
        flush();
      }
    } catch (error) {
      if (!(error instanceof HandshakeError)) throw error;
      socket.end(buildRejectResponse(error));
    }
  });
  socket.on('error', () => {});
  socket.on('close', () => connection?.receiveEof());
});
server.listen(port, host, () => console.log(`listening on ws://${host}:${port}`));
