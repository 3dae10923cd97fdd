// Server under test: sockeye, as its users run it: the compiled package (packages/sockeye/dist,
// built by `tsc -b`; `npm run bench` builds it first), imported by its package name through the
// workspace link. `--port P [--host H] [--deflate]`, prints `listening on ws://H:P`, echoes every message
// with its type. The server options are the conformance echo server's (conformance/echo-server.ts)
// without its interop switches (query parsing per handshake, which no other row pays for), and
// with compression off unless `--deflate` is given (then the server's defaults: no context
// takeover either way, 1 KiB threshold, level 1, as a deployment that changes nothing runs it).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const built = fileURLToPath(new URL('../../packages/sockeye/dist/index.js', import.meta.url));
if (!existsSync(built)) {
  console.error(`sockeye is not built (${built} is missing): run \`npx tsc -b\` first`);
  process.exit(1);
}
const { WebSocketServer } = await import('@sockeye/sockeye');

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
  // Text is echoed as the bytes it arrived in (validated, never decoded), as `ws` does.
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
