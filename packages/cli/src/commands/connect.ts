/** `sockeye connect <url>`: an interactive WebSocket session, like wscat, or a pipe. */
import { readFile } from 'node:fs/promises';
import { STATUS_CODES } from 'node:http';
import { clearLine, createInterface, cursorTo, type Interface } from 'node:readline';
import { type ClientEnd, type ClientWebSocket, type ConnectOptions, connect } from '@sockeye/sockeye/client';
import { HandshakeError, isFieldValue, isToken } from '@sockeye/sockeye/protocol';
import { type Command, type Io, UsageError } from '../cli.js';
import { formatHex, HexError, parseHex } from '../frame/hex.js';
import { describeTracedHeader, FrameTracer } from '../frame/trace.js';
import { parseCommandArgs, parseInteger, parseSeconds, parseTarget } from './args.js';

const HELP = `Usage: sockeye connect <url> [options]

Open a WebSocket connection (ws:// or wss://; a URL without a scheme, localhost:8080,
means ws://). Each line you type is sent as a text message; every message, ping and
pong from the server is printed as it arrives. With stdin piped in, each line is sent,
then the connection is closed (after --wait).

Connection:
  -H, --header "Name: value"  add a request header (repeatable)
  -s, --subprotocol NAME      offer a subprotocol (repeatable, in order of preference)
  -o, --origin ORIGIN         send this Origin header (browsers always send one)
      --auth USER:PASS        send "Authorization: Basic ..." with these credentials
  -k, --insecure              accept a TLS certificate that does not verify (self-signed);
      --no-check              the same (wscat's name)
      --ca FILE               trust this CA certificate (PEM) instead of Node's bundle
      --cert FILE             present this client certificate (PEM) ...
      --key FILE              ... with this private key (PEM)
      --proxy URL             tunnel through this HTTP proxy (CONNECT); by default
                              HTTPS_PROXY / HTTP_PROXY, unless NO_PROXY matches
  -L, --location              follow HTTP redirects during the handshake
      --max-redirects N       ... at most this many (default 10)
      --deflate               offer permessage-deflate (the default), and say so when
                              the server declines it
      --no-deflate            do not offer permessage-deflate
      --max-size BYTES        refuse a message bigger than this (close 1009; default
                              16 MiB, at most 1 GiB)

Sending:
  -x, --execute MESSAGE       send this after connecting (repeatable; a /command works
                              too), then close after --wait instead of reading stdin
  -w, --wait SECONDS          after the last line (piped stdin, or --execute): keep
                              printing what arrives for this long, then close (default 0)
  -b, --binary                lines are hex bytes sent as binary messages; a line @PATH
                              sends the bytes of that file
      --ping-interval SECONDS send a ping this often (their pongs are printed)
      --count N               close after N messages have arrived

Output (messages on stdout; connection news, pings, pongs and what was sent on stderr
when stdout is not a terminal):
      --raw                   only the payload of each message, one per line (for jq, grep)
      --hex                   each message's payload in hex, one per line
      --json                  each message as JSON: a JSON text pretty-printed, anything
                              else as a JSON string (binary in hex)
      --timestamp             start each line with the time (UTC, ms)
  -v, --verbose               print the handshake and a trace of every frame (stderr)
  -P, --show-ping-pong        accepted for wscat's habit: pings and pongs are always shown

On a line of its own:
  /ping [text]                send a ping (its pong is printed)
  /close [code] [reason]      close with a code (default 1000) and a reason
  /binary <hex>               send hex bytes as a binary message
  /help                       list these
  //text                      send "/text" (a line starting with a slash)

"< " marks what arrived, "> " what was sent (on a terminal the prompt shows it).
Colour only on a terminal.

Exit code: 0 when the connection closed normally (1000, or a close without a code),
3 when it closed with any other code, 1 when it could not connect or dropped without a
closing handshake (1006), 2 for bad arguments.

Examples:
  sockeye connect ws://127.0.0.1:8080/ws/echo
  sockeye connect 127.0.0.1:8080/ws/echo -x hello -x '/ping' --wait 1
  echo '{"a":1}' | sockeye connect 127.0.0.1:8080/ws/echo --raw --wait 1
  printf '/binary 01 02 03\\n/ping\\n/close 1000 done\\n' | sockeye connect ws://127.0.0.1:8080/ws/echo
  sockeye connect ws://127.0.0.1:8080/ws/echo -v -x hi --no-deflate
  sockeye connect ws://127.0.0.1:8080/ws/echo --binary -x 'de ad be ef' --hex
  sockeye connect wss://localhost:8443 --insecure -s chat -H "Authorization: Bearer abc" -x hi`;

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

/** Largest message by default: a tool may read big messages, but not without bound. */
export const DEFAULT_CLI_MAX_PAYLOAD = 16 * 1024 * 1024;

/** Most characters of a sent text message echoed back as "sent" (the message itself is whole). */
export const MAX_ECHOED_CHARACTERS = 256;

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
  if (end.error !== null && end.code !== 1000 && end.error.message !== end.reason)
    line += `: ${end.error.message}`;
  return line;
}

/** Request headers the opening handshake writes itself (the library refuses a second copy). */
const HANDSHAKE_HEADERS = new Set([
  'upgrade',
  'connection',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
]);

function parseHeader(text: string): [string, string] {
  const colon = text.indexOf(':');
  const name = text.slice(0, colon).trim();
  const value = text.slice(colon + 1).trim();
  if (colon <= 0 || !isToken(name) || !isFieldValue(value))
    throw new UsageError(`connect: --header must be "Name: value", not ${JSON.stringify(text)}`);
  return [name, value];
}

/** `--proxy`: an `http://` URL (the scheme may be left out), as the client takes it. */
function parseProxy(text: string): string {
  let url: URL;
  try {
    url = new URL(text.includes('://') ? text : `http://${text}`);
  } catch {
    throw new UsageError(`connect: --proxy must be a URL (http://host:port), not ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:')
    throw new UsageError(`connect: --proxy takes an HTTP CONNECT proxy (http://), not ${url.protocol}`);
  return text;
}

function printable(data: Buffer): string {
  const shown = data.subarray(0, MAX_PRINTED_BINARY_BYTES);
  const more = data.length > shown.length ? ` ... (${data.length - shown.length} more)` : '';
  return `binary, ${data.length} byte${data.length === 1 ? '' : 's'}: ${formatHex(shown)}${more}`;
}

/**
 * One line for a handshake that failed: a server that answered plain HTTP is "not a
 * WebSocket endpoint (HTTP 200 OK)", a redirect says where it leads, one that refused the
 * upgrade says so with its status. `following` says whether redirects were being followed (-L).
 */
export function describeConnectError(error: unknown, following = false): string {
  if (!(error instanceof HandshakeError) || error.status < 200 || error.status === 101) {
    return error instanceof Error ? error.message : String(error);
  }
  const reason = STATUS_CODES[error.status];
  const status = `HTTP ${error.status}${reason === undefined ? '' : ` ${reason}`}`;
  if (error.status >= 300 && error.status < 400) {
    const target = /redirect to (\S+) not followed/.exec(error.message)?.[1];
    // Too many redirects, or a Location that cannot be followed: the client's words say it.
    if (target === undefined)
      return error.message.startsWith('Unexpected') ? `not a WebSocket endpoint (${status})` : error.message;
    return `${status}: a redirect to ${target} (${following ? 'past --max-redirects' : 'follow it with -L'})`;
  }
  if (error.status < 300 || error.status === 404) return `not a WebSocket endpoint (${status})`;
  return `the server refused the WebSocket upgrade (${status})`;
}

/** How messages are printed: marked lines for people, or one payload a line for pipes. */
export type OutputMode = 'marked' | 'raw' | 'hex' | 'json';

/** A message's payload as one `--json` value: JSON text pretty-printed, anything else a JSON string. */
export function jsonOutput(data: Buffer, isText: boolean): string {
  if (!isText) return JSON.stringify(data.toString('hex'));
  const text = data.toString('utf8');
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return JSON.stringify(text);
  }
}

/** `06:36:15.123 ` (UTC), the `--timestamp` prefix. */
function timestamp(): string {
  return `${new Date().toISOString().slice(11, 23)} `;
}

/** A running session: prints what arrives, runs what the user enters. */
class Session {
  private rl: Interface | null = null;

  constructor(
    private readonly io: Io,
    private readonly ws: ClientWebSocket,
    private readonly binaryLines: boolean,
    /** stdin and stdout are a terminal and the output is for people: a prompt, echoes in it. */
    private readonly interactive: boolean,
    private readonly mode: OutputMode,
    private readonly timestamps: boolean,
  ) {}

  /** Print a line without garbling the prompt: stdout, or stderr for news and diagnostics. */
  print(line: string, toErr = false): void {
    const text = this.timestamps ? `${timestamp()}${line}` : line;
    const rl = this.rl;
    if (rl !== null && this.interactive) {
      clearLine(this.io.stdout, 0);
      cursorTo(this.io.stdout, 0);
      this.io.stdout.write(`${text}\n`);
      rl.prompt(true);
      return;
    }
    if (toErr) this.io.err(text);
    else this.io.out(text);
  }

  /** A message arrived. */
  message(data: Buffer, isText: boolean): void {
    switch (this.mode) {
      case 'raw':
        // The payload itself: text as it came, binary as its bytes.
        this.io.stdout.write(isText ? `${data.toString('utf8')}\n` : Buffer.concat([data, NEWLINE]));
        return;
      case 'hex':
        this.print(formatHex(data));
        return;
      case 'json':
        this.print(jsonOutput(data, isText));
        return;
      default:
        this.received(isText ? data.toString('utf8') : printable(data));
    }
  }

  /** A ping or pong arrived: a marked line among the messages, or on stderr beside a payload stream. */
  control(kind: 'ping' | 'pong', data: Buffer): void {
    const text = `${kind}${data.length === 0 ? '' : ` ${JSON.stringify(data.toString())}`}`;
    if (this.mode === 'marked') this.received(text);
    else this.print(`< ${text}`, true);
  }

  /** A frame header crossed the wire (`-v`). */
  trace(direction: '<' | '>', line: string): void {
    this.print(`${direction} frame ${line}`, true);
  }

  private received(text: string): void {
    this.print(`${this.io.style.label('<')} ${text}`, false);
  }

  private sent(text: string): void {
    // On a terminal the line typed after the prompt already shows it; otherwise stderr,
    // so that stdout holds only what arrived.
    if (!this.interactive) this.print(`> ${text}`, true);
  }

  /** Send what `--execute` gave, in order, as if typed. */
  async execute(lines: readonly string[]): Promise<void> {
    for (const line of lines) await this.line(line);
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
        this.sent(
          text.length > MAX_ECHOED_CHARACTERS
            ? `${text.slice(0, MAX_ECHOED_CHARACTERS)} ... (${text.length - MAX_ECHOED_CHARACTERS} more characters)`
            : text,
        );
      }
    } catch (error) {
      const message =
        error instanceof HexError || error instanceof UsageError
          ? error.message
          : error instanceof Error
            ? error.message
            : String(error);
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

const NEWLINE = Buffer.from('\n');

/** Read a PEM file named by an option, or say which one could not be read. */
async function readPem(path: string | undefined, option: string): Promise<Buffer | undefined> {
  if (path === undefined) return undefined;
  try {
    return await readFile(path);
  } catch (error) {
    throw new UsageError(
      `connect: cannot read ${option} ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
}

/** Everything the options decide, checked. */
interface ConnectSettings {
  url: URL;
  client: ConnectOptions;
  /** -L: redirects are followed. */
  following: boolean;
  /** --deflate: say so when the server declines it. */
  wantsDeflate: boolean;
  binaryLines: boolean;
  /** -x: what to send instead of reading stdin. */
  execute: readonly string[];
  waitSeconds: number;
  /** 0 for no pings. */
  pingSeconds: number;
  /** Messages to print before closing (Infinity for no limit). */
  count: number;
  mode: OutputMode;
  timestamps: boolean;
  verbose: boolean;
}

const OPTIONS = {
  header: { type: 'string', short: 'H', multiple: true },
  subprotocol: { type: 'string', short: 's', multiple: true },
  origin: { type: 'string', short: 'o' },
  auth: { type: 'string' },
  binary: { type: 'boolean', short: 'b' },
  insecure: { type: 'boolean', short: 'k' },
  'no-check': { type: 'boolean' },
  ca: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  proxy: { type: 'string' },
  location: { type: 'boolean', short: 'L' },
  'max-redirects': { type: 'string' },
  deflate: { type: 'boolean' },
  'no-deflate': { type: 'boolean' },
  execute: { type: 'string', short: 'x', multiple: true },
  wait: { type: 'string', short: 'w' },
  'ping-interval': { type: 'string' },
  'max-size': { type: 'string' },
  'show-ping-pong': { type: 'boolean', short: 'P' },
  count: { type: 'string' },
  raw: { type: 'boolean' },
  hex: { type: 'boolean' },
  json: { type: 'boolean' },
  timestamp: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
} as const;

/**
 * Check the options and read the files they name.
 * @throws {@link UsageError} for a bad or contradictory option, or a file that cannot be read
 */
async function readSettings(
  values: ReturnType<typeof parseCommandArgs<typeof OPTIONS>>['values'],
  target: string,
): Promise<ConnectSettings> {
  let url: URL;
  try {
    url = parseTarget(target);
  } catch (error) {
    throw new UsageError(`connect: ${(error as Error).message}`);
  }
  const pingText = values['ping-interval'];
  const pingSeconds = pingText === undefined ? 0 : parseSeconds(pingText, 'connect: --ping-interval');
  if (pingText !== undefined && pingSeconds < 0.01)
    throw new UsageError('connect: --ping-interval must be at least 0.01 seconds');
  const modes = (['raw', 'hex', 'json'] as const).filter((name) => values[name] === true);
  if (modes.length > 1)
    throw new UsageError(`connect: choose one of --raw, --hex and --json, not ${modes.join(' and ')}`);
  const mode: OutputMode = (modes[0] as OutputMode | undefined) ?? 'marked';
  if (values.timestamp && (mode === 'raw' || mode === 'json'))
    throw new UsageError(
      `connect: --timestamp would break --${mode}'s output (use it with --hex or no mode)`,
    );
  if (values.deflate && values['no-deflate'])
    throw new UsageError('connect: choose --deflate or --no-deflate, not both');
  if ((values.cert === undefined) !== (values.key === undefined))
    throw new UsageError('connect: --cert and --key go together');
  const maxRedirects =
    values['max-redirects'] === undefined
      ? undefined
      : parseInteger(values['max-redirects'], 'connect: --max-redirects', 0, 100);
  const headers: Record<string, string> = {};
  for (const text of values.header ?? []) {
    const [name, value] = parseHeader(text);
    const lower = name.toLowerCase();
    if (HANDSHAKE_HEADERS.has(lower)) {
      throw new UsageError(
        `connect: --header ${name} is written by the handshake (subprotocols: -s; compression: --deflate)`,
      );
    }
    if (lower === 'origin' && values.origin !== undefined) {
      throw new UsageError('connect: give the Origin once, with --origin or with --header');
    }
    headers[name] = value;
  }
  if (values.auth !== undefined) {
    if (!values.auth.includes(':')) throw new UsageError('connect: --auth must be USER:PASSWORD');
    headers.Authorization = `Basic ${Buffer.from(values.auth).toString('base64')}`;
  }
  const proxy = values.proxy === undefined ? undefined : parseProxy(values.proxy);
  const [ca, cert, key] = await Promise.all([
    readPem(values.ca, '--ca'),
    readPem(values.cert, '--cert'),
    readPem(values.key, '--key'),
  ]);
  const following = values.location === true;
  return {
    url,
    client: {
      protocols: values.subprotocol ?? [],
      headers,
      origin: values.origin,
      rejectUnauthorized: !(values.insecure === true || values['no-check'] === true),
      perMessageDeflate: values['no-deflate'] !== true,
      followRedirects: following ? (maxRedirects ?? true) : false,
      maxPayload:
        values['max-size'] === undefined
          ? DEFAULT_CLI_MAX_PAYLOAD
          : parseInteger(values['max-size'], 'connect: --max-size', 1, 1024 * 1024 * 1024),
      ...(proxy === undefined ? {} : { proxy }),
      ...(ca === undefined ? {} : { ca }),
      ...(cert === undefined ? {} : { cert }),
      ...(key === undefined ? {} : { key }),
    },
    following,
    wantsDeflate: values.deflate === true,
    binaryLines: values.binary === true,
    execute: values.execute ?? [],
    waitSeconds: values.wait === undefined ? 0 : parseSeconds(values.wait, 'connect: --wait'),
    pingSeconds,
    count:
      values.count === undefined
        ? Number.POSITIVE_INFINITY
        : parseInteger(values.count, 'connect: --count', 1, 1e12),
    mode,
    timestamps: values.timestamp === true,
    verbose: values.verbose === true,
  };
}

/** `-v`: the request as sent and the server's 101 response. */
function printHandshake(session: Session, ws: ClientWebSocket): void {
  for (const line of ws.request.trimEnd().split('\r\n')) session.print(`> ${line}`, true);
  const response = ws.response;
  session.print(`< HTTP/${response.httpVersion} ${response.statusCode} ${response.statusMessage}`, true);
  for (const [name, value] of Object.entries(response.headers)) session.print(`< ${name}: ${value}`, true);
}

async function run(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs('connect', args, OPTIONS);
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  const [target, ...extra] = positionals;
  if (target === undefined)
    throw new UsageError('connect: give the URL to connect to (try sockeye connect --help)');
  if (extra.length > 0)
    throw new UsageError(`connect: one URL only (unexpected ${JSON.stringify(extra[0])})`);
  const settings = await readSettings(values, target);
  // A prompt only when a person types and reads: stdin and stdout a terminal, nothing to execute, marked output.
  const interactive =
    io.stdin.isTTY && io.stdout.isTTY === true && settings.mode === 'marked' && settings.execute.length === 0;

  let ws: ClientWebSocket;
  try {
    ws = await connect(settings.url, settings.client);
  } catch (error) {
    io.err(
      `sockeye: cannot connect to ${settings.url.href}: ${describeConnectError(error, settings.following)}`,
    );
    return 1;
  }
  // Ctrl-C is caught before "connected" is printed: whoever waits for that line may send it at once.
  const interrupted = io.interrupted();
  const session = new Session(io, ws, settings.binaryLines, interactive, settings.mode, settings.timestamps);
  if (settings.verbose) printHandshake(session, ws);
  const details = [ws.protocol === '' ? '' : `subprotocol ${ws.protocol}`, ws.extensions]
    .filter((part) => part !== '')
    .join(', ');
  session.print(`connected to ${ws.url.href}${details === '' ? '' : ` (${details})`}`, true);
  if (settings.wantsDeflate && ws.extensions === '')
    session.print('the server declined permessage-deflate', true);
  if (interactive)
    session.print('type a message and press Enter; /help for commands, Ctrl-C or Ctrl-D to quit', true);
  let received = 0;
  const incoming = new FrameTracer((header) => session.trace('<', describeTracedHeader(header)));
  const outgoing = new FrameTracer((header) => session.trace('>', describeTracedHeader(header)));
  // Stdout may be a pipe whose reader is slower than the server (Node buffers what it
  // cannot write yet, without bound): stop reading the socket while stdout is behind, so
  // TCP flow control holds the server back, and read again once it drains.
  const stdout = io.stdout as NodeJS.WritableStream & { writableNeedDrain?: boolean };
  let waitingForStdout = false;
  const resumeAfterStdout = () => {
    waitingForStdout = false;
    ws.resume();
  };
  const closed = new Promise<ClientEnd>((resolve) => {
    ws.start({
      message: (data, isText) => {
        // Messages already on their way when the count was reached are not printed.
        if (received >= settings.count) return;
        session.message(data, isText);
        if (++received === settings.count && ws.isOpen) ws.close(1000);
        if (!waitingForStdout && stdout.writableNeedDrain === true) {
          waitingForStdout = true;
          ws.pause();
          stdout.once('drain', resumeAfterStdout);
        }
      },
      ping: (data) => session.control('ping', data),
      pong: (data) => session.control('pong', data),
      closed: resolve,
      ...(settings.verbose
        ? { wiretap: (direction, bytes) => (direction === 'in' ? incoming : outgoing).push(bytes) }
        : {}),
    });
  });
  const pinger =
    settings.pingSeconds > 0
      ? setInterval(() => {
          if (ws.isOpen) ws.ping();
        }, settings.pingSeconds * 1000)
      : undefined;

  const sent = settings.execute.length > 0 ? session.execute(settings.execute) : session.attachInput();
  void sent.then(async () => {
    // stdin ended (Ctrl-D, or the end of the piped input) or --execute is done: wait, then close normally.
    if (!interactive && settings.waitSeconds > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        closed,
        new Promise((resolve) => (timer = setTimeout(resolve, settings.waitSeconds * 1000))),
      ]);
      clearTimeout(timer);
    }
    if (ws.isOpen) ws.close(1000);
  });
  void interrupted.then(() => {
    if (ws.isOpen) ws.close(1000);
    else ws.terminate();
  });
  const end = await closed;
  stdout.removeListener('drain', resumeAfterStdout);
  clearInterval(pinger);
  session.stopInput();
  session.print(describeClose(end), true);
  return exitCodeFor(end);
}

/** The `connect` command. */
export const connectCommand: Command = {
  name: 'connect',
  summary: 'open a WebSocket connection: type to send, see what arrives (like wscat)',
  help: HELP,
  run,
};
