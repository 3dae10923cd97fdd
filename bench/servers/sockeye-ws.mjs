// Server under test: the `ws`-compatible layer (`@sockeye/sockeye/ws`), compiled as its users run it
// (packages/sockeye/dist, built by `tsc -b`), with the echo server of bench/servers/ws.mjs written
// against it line for line: what a `ws` user gets by changing the import. `--port P [--host H]
// [--deflate]`, prints `listening on ws://H:P`, echoes every message with its type.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const built = fileURLToPath(new URL('../../packages/sockeye/dist/ws/index.js', import.meta.url));
if (!existsSync(built)) {
  console.error(`sockeye is not built (${built} is missing): run \`npx tsc -b\` first`);
  process.exit(1);
}
const { WebSocketServer } = await import('@sockeye/sockeye/ws');

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
  maxPayload: 64 * 1024 * 1024,
  perMessageDeflate: values.deflate,
});
server.on('connection', (socket) => {
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  socket.on('error', () => {});
});
server.on('listening', () => console.log(`listening on ws://${values.host}:${values.port}`));
