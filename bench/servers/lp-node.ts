/**
 * Long-poll round-trip baseline: a minimal Node `http` long-poll echo server, what one
 * writes in twenty lines. `--port P [--host H]`, prints `listening on http://H:P`.
 * `GET /poll?id=X` is held until a message for `X` arrives, then answered with it (200);
 * `POST /send?id=X` with a body answers 204 and hands the body to `X`'s held poll (or
 * keeps it for the next one). No sessions, no numbering, no acknowledgements, no
 * limits: the ceiling of the transport itself.
 */
import { createServer, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '9001' }, host: { type: 'string', default: '127.0.0.1' } },
});

const held = new Map<string, ServerResponse>();
const waiting = new Map<string, Buffer[]>();

function answer(response: ServerResponse, body: Buffer): void {
  response.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
  response.end(body);
}

const http = createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const id = url.searchParams.get('id') ?? '';
  if (request.method === 'GET' && url.pathname === '/poll') {
    const queued = waiting.get(id);
    if (queued !== undefined && queued.length > 0) return answer(response, queued.shift()!);
    held.set(id, response);
    response.on('close', () => held.get(id) === response && held.delete(id));
    return;
  }
  if (request.method === 'POST' && url.pathname === '/send') {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const poll = held.get(id);
      if (poll !== undefined) {
        held.delete(id);
        answer(poll, body);
      } else {
        const queue = waiting.get(id) ?? [];
        queue.push(body);
        waiting.set(id, queue);
      }
      response.writeHead(204).end();
    });
    return;
  }
  response.writeHead(404).end();
});
http.listen(Number(values.port), values.host, () =>
  console.log(`listening on http://${values.host}:${values.port}`),
);
