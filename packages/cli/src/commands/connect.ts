/** `sockeye connect <url>`: an interactive WebSocket session, like wscat, or a pipe. */
import { readFile } from 'node:fs/promises';
import { clearLine, createInterface, cursorTo, type Interface } from 'node:readline';
import { type Command, type Io, UsageError } from '../cli.js';
import { formatHex, HexError, parseHex } from '../frame/hex.js';
import { type ClientConnection, type ClientEnd, openClient } from '../net/client.js';
import { parseCommandArgs, parseSeconds } from './args.js';

const HELP = `Usage: sockeye connect <url> [options]

Open a WebSocket connection (ws:// or wss://). Each line you type is sent as a text
message; every message, ping and pong from the server is printed as it arrives.
With stdin piped in, each line is sent, then the connection is closed (after --wait).

Options:
  -H, --header "Name: value"  add a request header (repeatable)
  -s, --subprotocol NAME      offer a subprotocol (repeatable, in order of preference)
  -o, --origin ORIGIN         send this Origin header (browsers always send one)
  -b, --binary                lines are hex bytes sent as binary messages; a line @PATH
                              sends the bytes of that file
  -k, --insecure              accept a TLS certificate that does not verify (self-signed)
  -w, --wait SECONDS          with stdin piped: after the last line, keep printing what
                              arrives for this long, then close (default 0)

On a line of its own:
  /ping [text]                send a ping (its pong is printed)
  /close [code] [reason]      close with a code (default 1000) and a reason
  /binary <hex>               send hex bytes as a binary message
  /help                       list these
  //text                      send "/text" (a line starting with a slash)

Output: "< " marks what arrived, "> " what was sent (on a terminal the prompt shows
it). Colour only on a terminal. Connection news goes to stderr, messages to stdout.

Exit code: 0 when the connection closed normally (1000, or a close without a code),
3 when it closed with any other code, 1 when it could not connect or dropped without a
closing handshake (1006), 2 for bad arguments.

Examples:
  sockeye connect ws://127.0.0.1:8080/ws/echo
  sockeye connect wss://localhost:8443 --insecure -s chat -H "Authorization: Bearer abc"
  echo hello | sockeye connect ws://127.0.0.1:8080/ws/echo --wait 1
  printf '/binary 01 02 03\\n/close 4000 done\\n' | sockeye connect ws://127.0.0.1:8080/ws/echo
  sockeye connect ws://127.0.0.1:8080/ws/echo --binary   (then type: de ad be ef)`;

const CLOSE_NAMES: Record<number, string> = {
  1000: 'normal closure',
  1001: 'going away',
  1002: 'protocol error',
  1003: 'unsupported data',
  1005: 'no status code',
  1006: 'abnormal closure',
  1007: 'invalid payload data',
  1008: 'policy violation',
  1009: 'message too big',
  1010: 'mandatory extension',
  1011: 'internal error',
  1012: 'service restart',
  1013: 'try again later',
};

/** Most bytes of a binary message printed as hex (the length is always printed). */
export const MAX_PRINTED_BINARY_BYTES = 256;

/** The exit code for how a connection ended: 0 normal, 1 dropped (1006), 3 another code. */
export function exitCodeFor(end: ClientEnd): number {
  if (end.code === 1000 || end.code === 1005) return end.error === null ? 0 : 1;
  if (end.code === 1006) return 1;
  return 3;
}

/** One line describing a close: `closed: 4000 "done"`, `closed: 1000 (normal closure)`. */
export function describeClose(end: ClientEnd): string {
  const name = CLOSE_NAMES[end.code];
  let line = `closed: ${end.code}${name === undefined ? '' : ` (${name})`}`;
  if (end.reason !== '') line += ` ${JSON.stringify(end.reason)}`;
  if (end.error !== null && end.code !== 1000) line += `: ${end.error.message}`;
  return line;
}

function parseHeader(text: string): [string, string] {
  const colon = text.indexOf(':');
  if (colon <= 0)
    throw new UsageError(`connect: --header must be "Name: value", not ${JSON.stringify(text)}`);
  return [text.slice(0, colon).trim(), text.slice(colon + 1).trim()];
}

function printable(data: Buffer): string {
  const shown = data.subarray(0, MAX_PRINTED_BINARY_BYTES);
  const more = data.length > shown.length ? ` ... (${data.length - shown.length} more)` : '';
  return `binary, ${data.length} byte${data.length === 1 ? '' : 's'}: ${formatHex(shown)}${more}`;
}

/** A running session: prints what arrives, runs what the user enters. */
class Session {
  private rl: Interface | null = null;

  constructor(
    private readonly io: Io,
    private readonly ws: ClientConnection,
    private readonly binaryLines: boolean,
    private readonly interactive: boolean,
  ) {}

  /** Print a line of output without garbling the prompt. */
  print(line: string, toErr = false): void {
    const rl = this.rl;
    if (rl !== null && this.interactive) {
      clearLine(this.io.stdout, 0);
      cursorTo(this.io.stdout, 0);
      this.io.stdout.write(`${line}\n`);
      rl.prompt(true);
      return;
    }
    if (toErr) this.io.err(line);
    else this.io.out(line);
  }

  received(text: string): void {
    this.print(`${this.io.style.label('<')} ${text}`);
  }

  sent(text: string): void {
    // On a terminal the line typed after the prompt already shows it.
    if (!this.interactive) this.print(`${this.io.style.dim('>')} ${text}`);
  }

  attachInput(): Promise<void> {
    const rl = createInterface({
      input: this.io.stdin.stream,
      output: this.interactive ? this.io.stdout : undefined,
      terminal: this.interactive,
      prompt: '> ',
    });
    this.rl = rl;
    const queue: string[] = [];
    let running = false;
    const ended = new Promise<void>((resolve) => rl.once('close', () => resolve()));
    // Lines run one at a time, in order (a file read for @PATH must not let a later line overtake it).
    const drain = async () => {
      if (running) return;
      running = true;
      while (queue.length > 0) await this.line(queue.shift()!);
      running = false;
    };
    rl.on('line', (line) => {
      queue.push(line);
      void drain().then(() => {
        if (this.interactive && this.ws.isOpen) rl.prompt();
      });
    });
    if (this.interactive) {
      rl.on('SIGINT', () => rl.close());
      rl.prompt();
    }
    return ended.then(async () => {
      while (running || queue.length > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    });
  }

  stopInput(): void {
    const rl = this.rl;
    this.rl = null;
    if (rl !== null) {
      if (this.interactive) {
        clearLine(this.io.stdout, 0);
        cursorTo(this.io.stdout, 0);
      }
      rl.close();
    }
  }

  private async line(line: string): Promise<void> {
    if (!this.ws.isOpen) return;
    try {
      if (line.startsWith('/') && !line.startsWith('//')) {
        this.slash(line);
        return;
      }
      const text = line.startsWith('//') ? line.slice(1) : line;
      if (this.binaryLines) {
        const data = text.startsWith('@') ? await readFile(text.slice(1)) : Buffer.from(parseHex(text));
        this.ws.send(data, false);
        this.sent(printable(data));
      } else {
        this.ws.send(text, true);
        this.sent(text);
      }
    } catch (error) {
      const message =
        error instanceof HexError || error instanceof UsageError ? error.message : String(error);
      this.print(`sockeye: ${message}`, true);
    }
  }

  private slash(line: string): void {
    const [name = '', ...rest] = line.slice(1).split(' ');
    const argument = rest.join(' ');
    switch (name) {
      case 'ping': {
        if (Buffer.byteLength(argument) > 125) throw new UsageError('a ping carries at most 125 bytes');
        this.ws.ping(argument);
        this.sent(`ping${argument === '' ? '' : ` ${JSON.stringify(argument)}`}`);
        return;
      }
      case 'close': {
        const [codeText, ...reasonWords] = rest;
        const reason = reasonWords.join(' ');
        let code: number | undefined;
        if (codeText !== undefined && codeText !== '') {
          code = Number(codeText);
          const valid = /^\d+$/.test(codeText) && (code === 1000 || (code >= 3000 && code <= 4999));
          if (!valid) throw new UsageError('/close takes a code of 1000 or 3000-4999');
        }
        if (Buffer.byteLength(reason) > 123) throw new UsageError('a close reason is at most 123 bytes');
        this.ws.close(code ?? 1000, reason);
        this.sent(`close ${code ?? 1000}${reason === '' ? '' : ` ${JSON.stringify(reason)}`}`);
        return;
      }
      case 'binary': {
        const data = Buffer.from(parseHex(argument));
        this.ws.send(data, false);
        this.sent(printable(data));
        return;
      }
      case 'help':
        this.print('/ping [text]   /close [code] [reason]   /binary <hex>   //text sends "/text"', true);
        return;
      default:
        throw new UsageError(`unknown command /${name} (try /help; send "/${name}" as text with //${name})`);
    }
  }
}

async function run(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs('connect', args, {
    header: { type: 'string', short: 'H', multiple: true },
    subprotocol: { type: 'string', short: 's', multiple: true },
    origin: { type: 'string', short: 'o' },
    binary: { type: 'boolean', short: 'b' },
    insecure: { type: 'boolean', short: 'k' },
    wait: { type: 'string', short: 'w' },
  });
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  const [url, ...extra] = positionals;
  if (url === undefined)
    throw new UsageError('connect: give the URL to connect to (try sockeye connect --help)');
  if (extra.length > 0)
    throw new UsageError(`connect: one URL only (unexpected ${JSON.stringify(extra[0])})`);
  const waitSeconds = values.wait === undefined ? 0 : parseSeconds(values.wait, 'connect: --wait');
  const headers: Record<string, string> = {};
  for (const text of values.header ?? []) {
    const [name, value] = parseHeader(text);
    headers[name] = value;
  }
  const interactive = io.stdin.isTTY && io.stdout.isTTY === true;

  let ws: ClientConnection;
  try {
    ws = await openClient(url, {
      protocols: values.subprotocol ?? [],
      headers,
      origin: values.origin,
      insecure: values.insecure === true,
    });
  } catch (error) {
    io.err(`sockeye: cannot connect to ${url}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  const session = new Session(io, ws, values.binary === true, interactive);
  const details = [ws.protocol === '' ? '' : `subprotocol ${ws.protocol}`, ws.extensions]
    .filter((part) => part !== '')
    .join(', ');
  session.print(`connected to ${url}${details === '' ? '' : ` (${details})`}`, true);
  if (interactive)
    session.print('type a message and press Enter; /help for commands, Ctrl-C or Ctrl-D to quit', true);
  const closed = new Promise<ClientEnd>((resolve) => {
    ws.start({
      message: (data, isText) => session.received(isText ? data.toString('utf8') : printable(data)),
      ping: (data) =>
        session.received(`ping${data.length === 0 ? '' : ` ${JSON.stringify(data.toString())}`}`),
      pong: (data) =>
        session.received(`pong${data.length === 0 ? '' : ` ${JSON.stringify(data.toString())}`}`),
      closed: resolve,
    });
  });

  const input = session.attachInput().then(async () => {
    // stdin ended (Ctrl-D, or the end of the piped input): wait, then close normally.
    if (!interactive && waitSeconds > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        closed,
        new Promise((resolve) => (timer = setTimeout(resolve, waitSeconds * 1000))),
      ]);
      clearTimeout(timer);
    }
    if (ws.isOpen) ws.close(1000);
  });
  void io.interrupted().then(() => {
    if (ws.isOpen) ws.close(1000);
    else ws.terminate();
  });
  const end = await closed;
  session.stopInput();
  void input;
  io.err(describeClose(end));
  return exitCodeFor(end);
}

/** The `connect` command. */
export const connectCommand: Command = {
  name: 'connect',
  summary: 'open a WebSocket connection: type to send, see what arrives (like wscat)',
  help: HELP,
  run,
};
