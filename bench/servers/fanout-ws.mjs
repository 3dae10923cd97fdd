// Fan-out server under test: the `ws` broadcast idiom. `--port P [--host H]`, prints
// `listening on ws://H:P`. A connection to `/sub` is a subscriber and is sent the text
// message `ok`; every message a connection to `/pub` sends goes to every subscriber the
// way `ws` documents broadcasting: `clients.forEach((client) => client.send(data))`, each
// send framing (and, with bufferutil absent, copying) the message again. Run with
// WS_NO_BUFFER_UTIL=1 for plain `ws`.
import { parseArgs } from 'node:util';
import { WebSocketServer } from 'ws';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '9001' }, host: { type: 'string', default: '127.0.0.1' } },
});

const subscribers = new Set();
const server = new WebSocketServer({
  port: Number(values.port),
  host: values.host,
  maxPayload: 64 * 1024 * 1024,
  perMessageDeflate: false,
});
server.on('connection', (socket, request) => {
  socket.on('error', () => {});
  if (request.url?.startsWith('/sub')) {
    subscribers.add(socket);
    socket.on('close', () => subscribers.delete(socket));
    socket.send('ok');
    return;
  }
  socket.on('message', (data, isBinary) => {
    subscribers.forEach((client) => {
      if (client.readyState === 1) client.send(data, { binary: isBinary });
    });
  });
});
server.on('listening', () => console.log(`listening on ws://${values.host}:${values.port}`));
