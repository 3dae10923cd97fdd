/**
 * `sockeye listen [port]`: wait for WebSocket clients, print what they send, and send
 * them what you type (as `wscat -l` and `websocat -s` do).
 */
import type { AddressInfo } from 'node:net';
import { clearLine, createInterface, cursorTo, type Interface } from 'node:readline';
import { type ServerWebSocket, WebSocketServer } from '@sockeye/sockeye/server';
import { type Command, type Io, UsageError } from '../cli.js';
import { formatHex, parseHex } from '../frame/hex.js';
import { parseCommandArgs, parseInteger } from './args.js';

const HELP = `Usage: sockeye listen [port] [--host H]

Wait for WebSocket clients (ws://, on sockeye's WebSocketServer). What they send is
printed ("< "); each line you type is sent to every connected client. Clients come and
go; the listener stays until Ctrl-C (or Ctrl-D on a terminal). Connections and closes
are reported on stderr.

Options:
  -p, --port N        the port, also given as the first argument (default 8080; 0 picks
                      a free one, printed on stderr)
      --host H        the address to bind (default 127.0.0.1; 0.0.0.0 for every interface)

On a line of its own:
  /ping [text]        ping every client (their pongs are printed)
  /close [code] [reason]  close every client (default 1000)
  /binary <hex>       send hex bytes as a binary message
  //text              send "/text"

It selects the first subprotocol a client offers and accepts any Origin (a development
tool: do not expose it).

Exit code: 0 after Ctrl-C, 1 when it cannot listen (port taken), 2 for bad arguments.

Examples:
  sockeye listen 8080
  sockeye connect 127.0.0.1:8080             # in another terminal
  sockeye listen --port 9000 --host 127.0.0.1`;

function peer(ws: ServerWebSocket<unknown>): string {
  const address = ws.remoteAddress ?? '?';
  return `${address.includes(':') ? `[${address}]` : address}:${ws.remotePort ?? '?'}`;
}

/** A message as one line: text as it is, binary as hex (the first 256 bytes). */
function shown(data: string | Buffer, isBinary: boolean): string {
  if (!isBinary) return typeof data === 'string' ? data : data.toString('utf8');
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  return `binary, ${bytes.length} byte${bytes.length === 1 ? '' : 's'}: ${formatHex(bytes.subarray(0, 256))}${bytes.length > 256 ? ' ...' : ''}`;
}

async function run(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs('listen', args, {
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
  });
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  if (positionals.length > 1 || (positionals.length === 1 && values.port !== undefined))
    throw new UsageError('listen: give the port once (sockeye listen 8080)');
  const portText = positionals[0] ?? values.port;
  const port = portText === undefined ? 8080 : parseInteger(portText, 'listen: the port', 0, 65535);
  const host = values.host ?? '127.0.0.1';
  const interactive = io.stdin.isTTY && io.stdout.isTTY === true;
  let rl: Interface | null = null;

  const print = (line: string, toErr = false) => {
    if (rl !== null && interactive) {
      clearLine(io.stdout, 0);
      cursorTo(io.stdout, 0);
      io.stdout.write(`${line}\n`);
      rl.prompt(true);
    } else if (toErr) io.err(line);
    else io.out(line);
  };

  const server: WebSocketServer<undefined> = new WebSocketServer<undefined>({
    port,
    host,
    origins: '*',
    selectProtocol: (offered) => offered[0],
    handlers: {
      open: (ws) =>
        print(
          `+ ${peer(ws)} connected${ws.protocol === '' ? '' : ` (${ws.protocol})`}, ${server.clients.size} open`,
          true,
        ),
      message: (ws, data, isBinary) =>
        print(
          `${io.style.label('<')} ${server.clients.size > 1 ? `[${peer(ws)}] ` : ''}${shown(data, isBinary)}`,
        ),
      pong: (ws, data) =>
        print(
          `${io.style.label('<')} [${peer(ws)}] pong${data.length === 0 ? '' : ` ${JSON.stringify(data.toString())}`}`,
        ),
      close: (ws, code, reason) =>
        print(
          `- ${peer(ws)} closed ${code}${reason === '' ? '' : ` ${JSON.stringify(reason)}`}, ${server.clients.size} open`,
          true,
        ),
    },
  });
  let bound: AddressInfo;
  try {
    bound = (await server.listen()) as AddressInfo;
  } catch (error) {
    await server.close();
    const code = (error as NodeJS.ErrnoException).code;
    io.err(
      code === 'EADDRINUSE'
        ? `sockeye: port ${port} on ${host} is already in use (choose another)`
        : `sockeye: cannot listen on ${host}:${port}: ${error instanceof Error ? error.message : String(error)}`,
    );
    return 1;
  }
  // Ctrl-C is caught before "listening" is printed: whoever waits for that line may send it at once.
  const interrupted = io.interrupted();
  const shownHost = bound.address.includes(':') ? `[${bound.address}]` : bound.address;
  print(`listening on ws://${shownHost}:${bound.port}; Ctrl-C to stop`, true);

  const send = (line: string) => {
    const clients = [...server.clients];
    if (clients.length === 0) {
      print('sockeye: no client is connected', true);
      return;
    }
    try {
      if (line.startsWith('/') && !line.startsWith('//')) {
        const [name = '', ...rest] = line.slice(1).split(' ');
        if (name === 'ping') {
          for (const ws of clients) ws.ping(rest.join(' '));
        } else if (name === 'close') {
          const code = rest[0] === undefined || rest[0] === '' ? 1000 : Number(rest[0]);
          if (!(code === 1000 || (Number.isInteger(code) && code >= 3000 && code <= 4999)))
            throw new UsageError('/close takes a code of 1000 or 3000-4999');
          for (const ws of clients) ws.close(code, rest.slice(1).join(' '));
        } else if (name === 'binary') {
          const data = parseHex(rest.join(' '));
          for (const ws of clients) ws.send(data, true);
        } else {
          throw new UsageError(`unknown command /${name} (send "/${name}" as text with //${name})`);
        }
      } else {
        const text = line.startsWith('//') ? line.slice(1) : line;
        for (const ws of clients) ws.send(text);
      }
      if (!interactive) print(`> ${line}`, true);
    } catch (error) {
      print(`sockeye: ${error instanceof Error ? error.message : String(error)}`, true);
    }
  };

  const input = createInterface({
    input: io.stdin.stream,
    output: interactive ? io.stdout : undefined,
    terminal: interactive,
    prompt: '> ',
  });
  rl = input;
  input.on('line', (line) => {
    send(line);
    if (interactive) input.prompt();
  });
  const stopped = new Promise<void>((resolve) => {
    // Ctrl-D on a terminal stops; the end of piped input does not (a listener in the
    // background, with stdin from /dev/null, keeps listening until Ctrl-C).
    if (interactive) {
      input.once('close', () => resolve());
      input.on('SIGINT', () => input.close());
      input.prompt();
    }
    void interrupted.then(resolve);
  });
  await stopped;
  rl = null;
  if (interactive) {
    clearLine(io.stdout, 0);
    cursorTo(io.stdout, 0);
  }
  input.close();
  io.err('closing every connection');
  await server.close({ code: 1001, reason: 'listener stopped', timeout: 2000 });
  return 0;
}

/** The `listen` command. */
export const listenCommand: Command = {
  name: 'listen',
  summary: 'wait for WebSocket clients: see what they send, type back (like wscat -l)',
  help: HELP,
  run,
};
