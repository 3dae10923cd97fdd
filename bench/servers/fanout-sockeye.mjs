/**
 * Fan-out server under test: sockeye topics, compiled (packages/sockeye/dist and
 * packages/redis/dist). `--port P [--host H] [--redis URL --node ID]`, prints `listening on ws://H:P`. A connection to `/sub` joins the topic `bench` and is
 * sent the text message `ok` once the subscription is in place (on Redis: once this
 * node's Redis subscription is confirmed); every message a connection to `/pub` sends is
 * published to `bench` (`ws.publish`: framed once, the same bytes to every subscriber).
 * With `--redis`, the server's broker is a RedisBroker, so subscribers of every process
 * on that Redis receive it.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

// The compiled packages, as users run them (like bench/servers/sockeye.mjs): the echo rows
// and this one then measure the same code.
for (const built of ['../../packages/sockeye/dist/index.js', '../../packages/redis/dist/index.js']) {
  const path = fileURLToPath(new URL(built, import.meta.url));
  if (!existsSync(path)) {
    console.error(`not built (${path} is missing): run \`npx tsc -b\` first`);
    process.exit(1);
  }
}
const { WebSocketServer } = await import('@sockeye/sockeye');
const { RedisBroker } = await import('@sockeye/redis');

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '9001' },
    host: { type: 'string', default: '127.0.0.1' },
    redis: { type: 'string' },
    node: { type: 'string' },
  },
});

const TOPIC = 'bench';
const broker =
  values.redis === undefined
    ? undefined
    : new RedisBroker({ url: values.redis, nodeId: values.node, prefix: 'bench:' });

const server = new WebSocketServer({
  port: Number(values.port),
  host: values.host,
  broker,
  decodeText: false,
  maxPayload: 64 * 1024 * 1024,
  pingInterval: 0,
  authenticate: (request) => ({ subscriber: request.url.startsWith('/sub') }),
  handlers: {
    open(ws) {
      if (!ws.data.subscriber) return;
      ws.subscribe(TOPIC);
      void server.broker.subscribe(TOPIC).then(() => ws.send('ok'));
    },
    message(ws, data, isBinary) {
      ws.publish(TOPIC, data, { isBinary });
    },
  },
});
server.on('lost', (loss) => console.error(`lost ${loss.count} (${loss.reason})`));
server.on('brokerError', (error) => console.error(`broker: ${error.message}`));
await server.listen();
await server.broker.ready();
console.log(`listening on ws://${values.host}:${values.port}`);
