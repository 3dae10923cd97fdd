// Server under test: `ws`. `--port P [--host H] [--deflate]`, prints `listening on ws://H:P`, echoes
// every message with its type. Run with WS_NO_BUFFER_UTIL=1 and WS_NO_UTF_8_VALIDATE=1 for
// plain `ws`; without them `ws` loads the native add-ons, as `ws` users deploy it. The
// second line it prints says which native helpers `ws` actually loaded, so the benchmark
// can refuse a "+native" row that silently fell back to JavaScript. `--deflate` turns on
// `perMessageDeflate: true` (ws's defaults: context takeover, zlib's default level,
// 1 KiB threshold, at most 10 zlib jobs at a time in Node's thread pool).
import { isUtf8 } from 'node:buffer';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { WebSocketServer } from 'ws';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '9001' },
    host: { type: 'string', default: '127.0.0.1' },
    deflate: { type: 'boolean', default: false },
  },
});

const loaded = Object.keys(createRequire(import.meta.url).cache);
const bufferutil = loaded.some((path) => path.includes('/node_modules/bufferutil/'));
const utf8Validate = loaded.some((path) => path.includes('/node_modules/utf-8-validate/'));
// ws prefers Node's own buffer.isUtf8 (a native validator) to utf-8-validate when it exists.
const utf8 = utf8Validate ? 'utf-8-validate' : isUtf8 ? 'buffer.isUtf8' : 'javascript';

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
server.on('listening', () => {
  console.log(
    `native helpers: bufferutil=${bufferutil ? 'yes' : 'no'} utf8=${utf8} deflate=${values.deflate ? 'yes' : 'no'}`,
  );
  console.log(`listening on ws://${values.host}:${values.port}`);
});
