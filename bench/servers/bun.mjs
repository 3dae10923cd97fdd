// Server under test: Bun's built-in server (uWebSockets inside). Run with `bun`:
// `--port P [--host H] [--deflate]`, prints `listening on ws://H:P`, echoes every message
// with its type. `--deflate` turns on Bun's `perMessageDeflate: true` (its defaults) and
// compresses every echo.
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '9001' },
    host: { type: 'string', default: '127.0.0.1' },
    deflate: { type: 'boolean', default: false },
  },
});

const server = globalThis.Bun.serve({
  port: Number(values.port),
  hostname: values.host,
  fetch(request, bunServer) {
    if (bunServer.upgrade(request)) return undefined;
    return new Response('WebSocket only', { status: 426 });
  },
  websocket: {
    maxPayloadLength: 64 * 1024 * 1024,
    backpressureLimit: 64 * 1024 * 1024,
    idleTimeout: 960,
    perMessageDeflate: values.deflate,
    message(socket, message) {
      // Bun compresses a message only when send() is asked to (its second argument).
      socket.send(message, values.deflate);
    },
  },
});
console.log(`listening on ws://${values.host}:${server.port}`);
