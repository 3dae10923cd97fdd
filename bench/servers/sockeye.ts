/**
 * Server under test: sockeye's WebSocketServer. `--port P [--host H] [--deflate]`, prints
 * `listening on ws://H:P`, echoes every message with its type.
 *
 * The settings of the conformance echo server (conformance/echo-server.ts: text passed
 * through undecoded, limits raised for 64 MiB messages, no heartbeat), except compression:
 * off unless `--deflate` is given, and then the server's defaults
 * (`perMessageDeflate: true`: no context takeover either way, 1 KiB threshold, level 1),
 * as a deployment that turns nothing else would run it.
 */
import { parseArgs } from 'node:util';
import { WebSocketServer } from '../../packages/sockeye/src/index.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '9001' },
    host: { type: 'string', default: '127.0.0.1' },
    deflate: { type: 'boolean', default: false },
  },
});

const server = new WebSocketServer({
  port: Number(values.port),
  host: values.host,
  decodeText: false,
  maxPayload: 64 * 1024 * 1024,
  maxFragments: 1 << 20,
  maxBufferedBytes: 256 * 1024 * 1024,
  highWaterMark: 1024 * 1024,
  pingInterval: 0,
  origins: '*',
  perMessageDeflate: values.deflate,
  handlers: {
    message(ws, data, isBinary) {
      ws.send(data, isBinary);
    },
  },
});
server.on('listening', (address) => console.log(`listening on ws://${values.host}:${address.port}`));
