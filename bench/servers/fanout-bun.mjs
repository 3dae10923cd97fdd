// Fan-out server under test: Bun's topics (uWebSockets inside). Run with `bun`:
// `--port P [--host H]`, prints `listening on ws://H:P`. A connection to `/sub` subscribes
// to `bench` and is sent the text message `ok`; every message a connection to `/pub`
// sends goes out with `server.publish('bench', message)`.
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '9001' }, host: { type: 'string', default: '127.0.0.1' } },
});

const server = globalThis.Bun.serve({
  port: Number(values.port),
  hostname: values.host,
  fetch(request, bunServer) {
    const subscriber = new URL(request.url).pathname.startsWith('/sub');
    if (bunServer.upgrade(request, { data: { subscriber } })) return undefined;
    return new Response('WebSocket only', { status: 426 });
  },
  websocket: {
    maxPayloadLength: 64 * 1024 * 1024,
    backpressureLimit: 16 * 1024 * 1024,
    idleTimeout: 960,
    perMessageDeflate: false,
    open(socket) {
      if (!socket.data.subscriber) return;
      socket.subscribe('bench');
      socket.send('ok');
    },
    message(_socket, message) {
      server.publish('bench', message);
    },
  },
});
console.log(`listening on ws://${values.host}:${server.port}`);
