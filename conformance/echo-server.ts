/**
 * The conformance echo server: `npm run echo -- --port <P> [--host <H>]`, built on
 * sockeye's WebSocketServer. Echoes every message with its type (text bytes go back as
 * text without being decoded). Limits are raised to what the Autobahn suite needs (its
 * section 9 sends 16 MiB messages, and 4 MiB as 65,536 fragments of 64 bytes).
 *
 * Switches for interop tests (the contract every version of this server keeps):
 * - the first subprotocol the client offers is selected;
 * - `?close=<code>&reason=<text>`: after echoing the first message, close with that code and reason;
 * - `?ping=<payload>`: ping right after the handshake; when the pong arrives, send the
 *   text message `pong:<payload>`;
 * - permessage-deflate offers are accepted (the first one it can honour), unless
 *   `--no-deflate` is given.
 */
import { parseArgs } from 'node:util';
import { WebSocketServer } from '../packages/sockeye/src/index.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '9001' },
    host: { type: 'string', default: '127.0.0.1' },
    'no-deflate': { type: 'boolean', default: false },
  },
});
const host = values.host;

/** What the request's query asked for. */
interface EchoOptions {
  closeCode: number | undefined;
  closeReason: string;
  ping: string | null;
  echoed: boolean;
}

const server = new WebSocketServer<EchoOptions>({
  port: Number(values.port),
  host,
  decodeText: false,
  maxPayload: 64 * 1024 * 1024,
  maxFragments: 1 << 20,
  maxBufferedBytes: 256 * 1024 * 1024,
  highWaterMark: 1024 * 1024,
  pingInterval: 0,
  origins: '*',
  // Every message is compressed (threshold 0) and context takeover is kept when the client
  // allows it, so that Autobahn sections 12 and 13 exercise the whole codec. (Threshold 0
  // also sidesteps kosoku 0.1.0, which fails its own cases with "Strings must be encoded
  // before hashing" when a short text message of a compressed session comes back
  // uncompressed, as RFC 7692 allows and the server's default 1 KiB threshold does.)
  perMessageDeflate: values['no-deflate']
    ? false
    : { threshold: 0, serverNoContextTakeover: false, clientNoContextTakeover: false },
  selectProtocol: (offered) => offered[0],
  authenticate(request) {
    const query = new URL(request.url, 'ws://localhost').searchParams;
    return {
      closeCode: query.has('close') ? Number(query.get('close')) : undefined,
      closeReason: query.get('reason') ?? '',
      ping: query.get('ping'),
      echoed: false,
    };
  },
  handlers: {
    open(ws) {
      if (ws.data.ping !== null) ws.ping(ws.data.ping);
    },
    message(ws, data, isBinary) {
      ws.send(data, isBinary);
      if (ws.data.closeCode !== undefined && !ws.data.echoed)
        ws.close(ws.data.closeCode, ws.data.closeReason);
      ws.data.echoed = true;
    },
    pong(ws, data) {
      if (ws.data.ping !== null) ws.send(`pong:${data.toString()}`);
    },
  },
});
server.on('listening', (address) => console.log(`listening on ws://${host}:${address.port}`));
