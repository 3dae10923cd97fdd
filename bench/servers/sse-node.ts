/**
 * SSE fan-out baseline: a minimal Node `http` server, what one writes in ten lines.
 * `--port P [--host H]`, prints `listening on http://H:P`. `GET /events` answers
 * `text/event-stream` and keeps the response; `POST /publish?count=N&size=S` writes
 * `data: <payload>\n\n` to every kept response, N times (the same loop as the sockeye
 * server's). No ids, no history, no limits: the floor of the work.
 */
import { createServer, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { publishLoop } from './sse-publish.js';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '9001' }, host: { type: 'string', default: '127.0.0.1' } },
});

const streams = new Set<ServerResponse>();
const http = createServer((request, response) => {
  if (request.url?.startsWith('/events')) {
    response.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    response.flushHeaders();
    streams.add(response);
    response.on('close', () => streams.delete(response));
    return;
  }
  if (request.method === 'POST' && request.url?.startsWith('/publish')) {
    publishLoop(request.url, (payload) => {
      const event = `data: ${payload}\n\n`;
      for (const stream of streams) stream.write(event);
    }).then(() => response.end('done\n'));
    return;
  }
  response.writeHead(404).end();
});
http.listen(Number(values.port), values.host, () =>
  console.log(`listening on http://${values.host}:${values.port}`),
);
