/** `sockeye serve`: a quick WebSocket server, echo or broadcast, plain or TLS. */
import { readFile } from 'node:fs/promises';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { type ServerWebSocket, WebSocketServer } from '@sockeye/sockeye/server';
import { type Command, type Io, UsageError } from '../cli.js';
import { parseCommandArgs, parseInteger } from './args.js';

const HELP = `Usage: sockeye serve [--echo | --broadcast] [--port N] [--host H] [--tls-cert FILE --tls-key FILE]

Start a WebSocket server on sockeye's WebSocketServer, for trying clients out.

Options:
  --echo              send every message back to its sender, with its type (the default)
  --broadcast         send every message to every connected client, the sender included
                      (one topic publish: framed once for all)
  -p, --port N        the port (default 8080; 0 picks a free one)
      --host H        the address to bind (default 127.0.0.1; 0.0.0.0 for every interface)
      --tls-cert FILE serve wss:// with this certificate (PEM) ...
      --tls-key FILE  ... and its private key (PEM)

It selects the first subprotocol a client offers and accepts any Origin (a development
tool: do not expose it). It holds at most 20,000 connections (more are answered 503,
and logged). Connections and closes are logged on stderr. Ctrl-C closes
every connection (1001) and exits.

Examples:
  sockeye serve
  sockeye connect 127.0.0.1:8080             # in another terminal
  sockeye serve --broadcast --port 9000
  openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 7 -subj /CN=localhost
  sockeye serve --tls-cert cert.pem --tls-key key.pem --port 8443

Exit code: 0 after Ctrl-C, 1 when it cannot listen (port taken, bad certificate),
2 for bad arguments.`;

/** Most connections `serve` holds (503 past it). */
const SERVE_MAX_CONNECTIONS = 20_000;

/** The topic every client subscribes to with --broadcast. */
const BROADCAST_TOPIC = 'all';

function peer(ws: ServerWebSocket<unknown>): string {
  const address = ws.remoteAddress ?? '?';
  return `${address.includes(':') ? `[${address}]` : address}:${ws.remotePort ?? '?'}`;
}

async function run(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs('serve', args, {
    echo: { type: 'boolean' },
    broadcast: { type: 'boolean' },
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
  });
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  if (positionals.length > 0)
    throw new UsageError(`serve: unexpected argument ${JSON.stringify(positionals[0])}`);
  if (values.echo && values.broadcast) throw new UsageError('serve: choose --echo or --broadcast, not both');
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) {
    throw new UsageError('serve: --tls-cert and --tls-key go together');
  }
  const port = values.port === undefined ? 8080 : parseInteger(values.port, 'serve: --port', 0, 65535);
  const host = values.host ?? '127.0.0.1';
  const broadcast = values.broadcast === true;

  let https: HttpsServer | undefined;
  if (values['tls-cert'] !== undefined && values['tls-key'] !== undefined) {
    try {
      const [cert, key] = await Promise.all([readFile(values['tls-cert']), readFile(values['tls-key'])]);
      https = createHttpsServer({ cert, key });
    } catch (error) {
      io.err(
        `sockeye: cannot use the TLS certificate: ${error instanceof Error ? error.message : String(error)}`,
      );
      return 1;
    }
  }

  const server: WebSocketServer<undefined> = new WebSocketServer<undefined>({
    ...(https === undefined ? { port, host } : { server: https }),
    origins: '*',
    // Room for `sockeye bench -c 10000` from this machine; past it, 503 rather than EMFILE.
    connectionLimits: { maxConnections: SERVE_MAX_CONNECTIONS },
    selectProtocol: (offered) => offered[0],
    decodeText: false,
    handlers: {
      open: (ws) => {
        if (broadcast) ws.subscribe(BROADCAST_TOPIC);
        io.err(
          `+ ${peer(ws)} connected${ws.protocol === '' ? '' : ` (${ws.protocol})`}, ${server.clients.size} open`,
        );
      },
      message: (ws, data, isBinary) => {
        // A broadcast is one publish: framed once, the same bytes written to every client.
        if (broadcast) server.publish(BROADCAST_TOPIC, data, { isBinary });
        else ws.send(data, isBinary);
      },
      close: (ws, code, reason) =>
        io.err(
          `- ${peer(ws)} closed ${code}${reason === '' ? '' : ` ${JSON.stringify(reason)}`}, ${server.clients.size} open`,
        ),
    },
  });
  let bound: AddressInfo;
  try {
    if (https === undefined) {
      bound = (await server.listen()) as AddressInfo;
    } else {
      const tls = https;
      await new Promise<void>((resolve, reject) => {
        tls.once('error', reject);
        tls.listen(port, host, () => {
          tls.off('error', reject);
          resolve();
        });
      });
      bound = tls.address() as AddressInfo;
    }
  } catch (error) {
    await server.close();
    const code = (error as NodeJS.ErrnoException).code;
    io.err(
      code === 'EADDRINUSE'
        ? `sockeye: port ${port} on ${host} is already in use (choose another with --port)`
        : `sockeye: cannot listen on ${host}:${port}: ${error instanceof Error ? error.message : String(error)}`,
    );
    return 1;
  }
  server.on('limit', (hit) => io.err(`! ${hit.clientAddress ?? '?'} refused: ${hit.kind}`));
  server.on('error', (error: unknown) =>
    io.err(`sockeye: ${error instanceof Error ? error.message : String(error)}`),
  );
  // Ctrl-C is caught before "listening" is printed: whoever waits for that line may send it at once.
  const interrupted = io.interrupted();
  const shownHost = bound.address.includes(':') ? `[${bound.address}]` : bound.address;
  io.out(
    `${broadcast ? 'broadcast' : 'echo'} server listening on ${https === undefined ? 'ws' : 'wss'}://${shownHost}:${bound.port}`,
  );
  await interrupted;
  io.err('closing every connection');
  await server.close({ code: 1001, reason: 'server stopped' });
  https?.close();
  return 0;
}

/** The `serve` command. */
export const serveCommand: Command = {
  name: 'serve',
  summary: 'start a WebSocket server: echo or broadcast, ws:// or wss://',
  help: HELP,
  run,
};
