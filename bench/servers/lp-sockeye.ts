/**
 * Long-poll round-trip server under test: a sockeye `SessionServer` echoing every message,
 * with its HTTP transports (`SessionHttpTransport`) on the same HTTP server and path, so
 * one process serves the same sessions over long-polling and over WebSocket.
 * `--port P [--host H]`, prints `listening on http://H:P`. The endpoint is `/s`: a
 * WebSocket upgrade offering `sockeye.session.v1`, or `?transport=long-polling&hello=…`
 * then polls and POSTs (docs/transports.md).
 *
 * sockeye as its users run it: the compiled package (packages/sockeye/dist, built by
 * `tsc -b`; `npm run bench` builds it first) by its package name, not the TypeScript
 * sources through tsx (whose `__name` wrappers cost a few percent per request).
 */
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const built = fileURLToPath(new URL('../../packages/sockeye/dist/index.js', import.meta.url));
if (!existsSync(built)) {
  console.error(`sockeye is not built (${built} is missing): run \`npx tsc -b\` first`);
  process.exit(1);
}
const { SessionHttpTransport, SessionServer } = await import('@sockeye/sockeye');

const { values } = parseArgs({
  options: { port: { type: 'string', default: '9001' }, host: { type: 'string', default: '127.0.0.1' } },
});

const http = createServer();
const sessions = new SessionServer({
  server: http,
  path: '/s',
  sessions: { message: (session, data) => session.send(data) },
});
new SessionHttpTransport(sessions, {
  server: http,
  // The default of 50 POSTs per second per session is a guard against abuse: a benchmark
  // that kept it would measure the limit, not the transport.
  postRate: 1_000_000_000,
  postBurst: 1_000_000_000,
});
http.listen(Number(values.port), values.host, () =>
  console.log(`listening on http://${values.host}:${values.port}`),
);
