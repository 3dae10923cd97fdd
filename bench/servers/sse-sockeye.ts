/**
 * SSE fan-out server under test: sockeye's topic EventSource endpoint.
 * `--port P [--host H]`, prints `listening on http://H:P`. `GET /events?topic=bench` is a
 * stream of the topic `bench`; `POST /publish?count=N&size=S` publishes N text messages
 * of S bytes to it (`server.publish`: each message encoded once as an event, the same
 * bytes written to every stream), a batch per event-loop turn, and answers once all are
 * published.
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { WebSocketServer } from '../../packages/sockeye/src/index.js';
import { publishLoop } from './sse-publish.js';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '9001' }, host: { type: 'string', default: '127.0.0.1' } },
});

const wss = new WebSocketServer({ noServer: true, handlers: {} });
const events = wss.eventSource({
  path: '/events',
  heartbeatInterval: 0, // nothing but the messages on the wire
  maxBufferedBytes: 1024 * 1024 * 1024, // the benchmark measures throughput, not the slow-reader cut
});
const http = createServer((request, response) => {
  if (events.handle(request, response)) return;
  if (request.method === 'POST' && request.url?.startsWith('/publish')) {
    publishLoop(request.url, (payload) => wss.publish('bench', payload)).then(() => response.end('done\n'));
    return;
  }
  response.writeHead(404).end();
});
http.listen(Number(values.port), values.host, () =>
  console.log(`listening on http://${values.host}:${values.port}`),
);
