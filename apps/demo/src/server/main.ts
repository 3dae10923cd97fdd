/**
 * `npm start` runs this (after building): the demo server on http://127.0.0.1:8080.
 *
 *   node --import tsx apps/demo/src/server/main.ts [--port N] [--host H]
 *
 * The port comes from `--port`, else `PORT`, else 8080. A port that is taken is one
 * clear line and exit code 1. With `REDIS_URL=redis://host:port`, the chat room is shared
 * with every demo server on that Redis (a `RedisBroker` from `@sockeye/redis`). With
 * `SOCKEYE_ADMIN_TOKEN` (16 characters or more), the admin page is on at `/admin`.
 *
 * Sessions (chat, Reconnect page) and the chat's latest lines wait across a restart in
 * a state file: `SOCKEYE_DEMO_STATE`, else `sockeye-demo/state-<port>.json` in the
 * temporary directory. The Reconnect page's buttons (`/control/…`) are on when the demo
 * listens on a loopback address; `SOCKEYE_DEMO_CONTROL=1` turns them on elsewhere too,
 * `SOCKEYE_DEMO_CONTROL=0` off.
 */
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Broker } from '@sockeye/sockeye/pubsub';
import { startDemoServer } from './demo-server.js';

const DEFAULT_PORT = 8080;
const publicDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'public');

function fail(message: string): never {
  console.error(`sockeye demo: ${message}`);
  process.exit(1);
}

let values: { port?: string; host?: string };
try {
  ({ values } = parseArgs({ options: { port: { type: 'string' }, host: { type: 'string' } } }));
} catch (error) {
  fail(`${(error as Error).message} (usage: npm start -- [--port N] [--host H])`);
}
const portText = values.port ?? process.env.PORT ?? String(DEFAULT_PORT);
const port = Number(portText);
if (!/^\d+$/.test(portText) || port > 65535) fail(`invalid port ${JSON.stringify(portText)}`);
const host = values.host ?? '127.0.0.1';

const redisUrl = process.env.REDIS_URL;
let broker: Broker | undefined;
if (redisUrl !== undefined && redisUrl !== '') {
  if (!/^rediss?:\/\//.test(redisUrl))
    fail(`REDIS_URL must be a redis:// URL, not ${JSON.stringify(redisUrl)}`);
  // Loaded only when asked for: without REDIS_URL the demo needs nothing but sockeye.
  const { RedisBroker } = await import('@sockeye/redis');
  broker = new RedisBroker({ url: redisUrl });
}

try {
  const adminToken = process.env.SOCKEYE_ADMIN_TOKEN || undefined;
  if (adminToken !== undefined && adminToken.length < 16)
    fail('SOCKEYE_ADMIN_TOKEN must have at least 16 characters');
  // Port 0 (any free port) has no successor to hand the state to.
  const stateFile =
    process.env.SOCKEYE_DEMO_STATE ||
    (port === 0 ? undefined : join(tmpdir(), 'sockeye-demo', `state-${port}.json`));
  const controlSetting = process.env.SOCKEYE_DEMO_CONTROL;
  const loopback = host === '127.0.0.1' || host === '::1' || host === 'localhost';
  const control = controlSetting === '1' || (controlSetting !== '0' && loopback);
  const server = await startDemoServer({ publicDir, port, host, broker, adminToken, stateFile, control });
  console.log(`sockeye demo listening on ${server.origin}`);
  if (redisUrl) console.log(`  chat shared through Redis at ${redisUrl}`);
  console.log(`  ${server.origin}/handshake.html  the opening handshake, step by step`);
  console.log(`  ${server.origin}/protocol.html   frame header, fragments, ping/pong, close, compression`);
  console.log(`  ${server.origin}/flow.html       backpressure and latency`);
  console.log(`  ${server.origin}/echo.html       echo: text, Blob, ArrayBuffer`);
  console.log(`  ${server.origin}/inspector.html  frame inspector`);
  console.log(`  ${server.origin}/chat.html       chat`);
  console.log(`  ${server.origin}/reconnect.html  reconnect: sessions that survive cuts and restarts`);
  if (adminToken !== undefined) console.log(`  ${server.origin}/admin           admin (SOCKEYE_ADMIN_TOKEN)`);
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(1);
      stopping = true;
      void server.close().then(() => process.exit(0));
    });
  }
} catch (error) {
  await broker?.close();
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    fail(
      `port ${port} on ${host} is already in use; choose another with PORT=8081 npm start or npm start -- --port 8081`,
    );
  }
  if (code === 'EACCES') fail(`not allowed to listen on port ${port} (try a port above 1023)`);
  fail(`cannot start: ${(error as Error).message}`);
}
