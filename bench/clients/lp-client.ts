/**
 * The long-poll round-trip benchmark's client:
 * `--port P --mode long-polling|websocket|node --sessions N --round-trips R [--warmup W]
 * [--size S] [--server-pid PID] [--timeout T]`.
 *
 * Opens N sessions, then each makes W round trips (not timed) and R timed ones: send one
 * message, wait for its echo (checked byte for byte) and for the send to be taken, then
 * the next. The sessions run at once, so N messages are in flight.
 *
 * - `long-polling`: a sockeye session over its long-polling transport, spoken from
 *   docs/transports.md on raw keep-alive HTTP/1.1 (one connection for the polls, one for
 *   the POSTs): a poll is always held; a round trip is a `POST` of `d<payload>` answered
 *   204 and the `d<payload>` line in a poll's answer. Acknowledgements (`a <n>` after
 *   every 32 messages received, as sockeye's client does) ride in the next POST.
 * - `websocket`: the same session protocol over a WebSocket (sockeye's client), on the
 *   same server: `d<payload>` up, `d<payload>` down, `a <n>` every 32.
 * - `node`: the plain Node long-poll server (bench/servers/lp-node.ts): `POST /send`, and
 *   a held `GET /poll` answered with the body.
 *
 * A raw client rather than `HttpSessionLink` (which runs on `fetch`): the client must cost
 * less than the server it measures. Prints one JSON line, `{ roundTrips, seconds,
 * perSecond, requestsPerRoundTrip, httpBytesPerRoundTrip, clientCpu, serverCpu }` (HTTP
 * bytes both ways; the CPU shares are of one core over the timed phase), or `{ fatal }`;
 * gives up after `--timeout` s.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
// sockeye's client from the compiled package (the server entry checks that it is built).
import { WebSocket } from '@sockeye/sockeye/client';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    mode: { type: 'string', default: 'long-polling' },
    sessions: { type: 'string', default: '1' },
    'round-trips': { type: 'string', default: '1000' },
    warmup: { type: 'string', default: '50' },
    size: { type: 'string', default: '64' },
    'server-pid': { type: 'string' },
    timeout: { type: 'string', default: '120' },
  },
});
const host = values.host;
const port = Number(values.port);
const size = Number(values.size);
/** The client acknowledges after this many messages received, as sockeye's client does. */
const ACK_EVERY = 32;
/** Longest HTTP answer taken, in bytes. */
const MAX_ANSWER = 1024 * 1024;

/** HTTP requests made (all connections), for requests per round trip. */
let requests = 0;
/** Bytes written and read on the HTTP connections (request and answer lines, headers, bodies). */
let httpBytes = 0;

interface HttpAnswer {
  status: number;
  body: string;
}

/**
 * One keep-alive HTTP/1.1 connection, one request at a time. Reads only what these
 * servers send: a status line, headers with `content-length` (none for 204), a body.
 */
class HttpConnection {
  readonly #socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  #waiting: { resolve: (answer: HttpAnswer) => void; reject: (error: Error) => void } | null = null;
  #failure: Error | null = null;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      httpBytes += chunk.length;
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      this.#parse();
    });
    const fail = (error: Error) => {
      this.#failure ??= error;
      const waiting = this.#waiting;
      this.#waiting = null;
      waiting?.reject(this.#failure);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('the connection closed')));
  }

  static open(): Promise<HttpConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host, () => {
        socket.off('error', reject);
        resolve(new HttpConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  request(method: 'GET' | 'POST', path: string, body?: string): Promise<HttpAnswer> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    if (this.#waiting !== null) return Promise.reject(new Error('one request at a time'));
    requests++;
    const head = `${method} ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\n`;
    const text =
      body === undefined
        ? `${head}\r\n`
        : `${head}Content-Type: text/plain;charset=UTF-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    httpBytes += Buffer.byteLength(text);
    this.#socket.write(text);
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
    });
  }

  close(): void {
    this.#failure ??= new Error('closed');
    this.#socket.destroy();
  }

  #parse(): void {
    const end = this.#buffer.indexOf('\r\n\r\n');
    // The answers here are small: a megabyte without an end is a broken server, not a slow one.
    if (this.#buffer.length > MAX_ANSWER) {
      this.#socket.destroy(new Error(`an answer over ${MAX_ANSWER} bytes`));
      return;
    }
    if (end === -1) return;
    const head = this.#buffer.toString('latin1', 0, end);
    const status = Number(head.slice(9, 12));
    const declared = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (declared === null && status !== 204) {
      this.#socket.destroy(new Error(`an answer without content-length: ${head}`));
      return;
    }
    const length = status === 204 ? 0 : Number(declared![1]);
    if (this.#buffer.length < end + 4 + length) return;
    const answer = { status, body: this.#buffer.toString('utf8', end + 4, end + 4 + length) };
    this.#buffer = this.#buffer.subarray(end + 4 + length);
    const waiting = this.#waiting;
    this.#waiting = null;
    if (waiting === null) this.#socket.destroy(new Error(`an answer nobody asked for: ${head}`));
    else waiting.resolve(answer);
  }
}

/** Echoes arrived and not yet awaited, and who waits for the next. */
class Echoes {
  #arrived: string[] = [];
  #waiter: { resolve: (echo: string) => void; reject: (error: Error) => void } | null = null;
  #failure: Error | null = null;

  arrived(echo: string): void {
    const waiter = this.#waiter;
    this.#waiter = null;
    if (waiter !== null) waiter.resolve(echo);
    else this.#arrived.push(echo);
  }

  fail(error: Error): void {
    this.#failure ??= error;
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.reject(error);
  }

  next(): Promise<string> {
    const echo = this.#arrived.shift();
    if (echo !== undefined) return Promise.resolve(echo);
    if (this.#failure !== null) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }
}

/** One session (or plain long-poll client) of the benchmark. */
interface Session {
  open(): Promise<void>;
  /** Send `payload`; resolves with its echo once the send was taken too. */
  roundTrip(payload: string): Promise<string>;
  close(): void;
}

/** A sockeye session over long-polling (docs/transports.md, "The protocol"). */
class LongPollingSession implements Session {
  readonly #echoes = new Echoes();
  #polls!: HttpConnection;
  #posts!: HttpConnection;
  #link = '';
  /** Lines received on the link (the `l` line not counted): the next poll's `since`. */
  #since = 0;
  /** Frames POSTed on the link: the next POST's `from`. */
  #posted = 0;
  /** Data frames received (the acknowledgement's count). */
  #received = 0;
  /** Lines to go up with the next data frame (acknowledgements, pongs). */
  #extra: string[] = [];
  #closed = false;

  async open(): Promise<void> {
    [this.#polls, this.#posts] = await Promise.all([HttpConnection.open(), HttpConnection.open()]);
    const opening = await this.#polls.request('GET', '/s?transport=long-polling&hello=h%200');
    if (opening.status !== 200) throw new Error(`the opening poll got ${opening.status}`);
    const lines = opening.body.split('\n').filter((line) => line !== '');
    if (!lines[0]?.startsWith('l ')) throw new Error(`no link line: ${opening.body}`);
    this.#link = lines[0].slice(2);
    // The welcome comes with the link line: the poll waits until there is something to send.
    if (!this.#lines(lines.slice(1))) throw new Error(`no welcome: ${opening.body}`);
    void this.#pollLoop();
  }

  async roundTrip(payload: string): Promise<string> {
    const frames = [...this.#extra, `d${payload}`];
    this.#extra = [];
    const path = `/s?link=${this.#link}&from=${this.#posted}`;
    const [taken, echo] = await Promise.all([
      this.#posts.request('POST', path, frames.join('\n')),
      this.#echoes.next(),
    ]);
    if (taken.status !== 204) throw new Error(`a POST got ${taken.status}: ${taken.body}`);
    this.#posted += frames.length;
    return echo;
  }

  close(): void {
    this.#closed = true;
    this.#polls.close();
    this.#posts.close();
  }

  async #pollLoop(): Promise<void> {
    try {
      while (!this.#closed) {
        const answer = await this.#polls.request('GET', `/s?link=${this.#link}&since=${this.#since}`);
        if (answer.status !== 200) throw new Error(`a poll got ${answer.status}: ${answer.body}`);
        this.#lines(answer.body.split('\n').filter((line) => line !== ''));
      }
    } catch (error) {
      if (!this.#closed) this.#echoes.fail(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Take the lines of an answer. @returns whether the welcome was among them */
  #lines(lines: string[]): boolean {
    let welcome = false;
    for (const line of lines) {
      this.#since++;
      switch (line[0]) {
        case 'd':
          this.#echoes.arrived(line.slice(1));
          if (++this.#received % ACK_EVERY === 0) this.#extra.push(`a ${this.#received}`);
          break;
        case 'w':
          welcome = true;
          break;
        case 'p':
          this.#extra.push(`q ${line.slice(2)}`);
          break;
        case 'a':
          break;
        default:
          throw new Error(`an unexpected line: ${line}`);
      }
    }
    return welcome;
  }
}

/** The same session protocol over a WebSocket, on the same server. */
class WebSocketSession implements Session {
  readonly #echoes = new Echoes();
  #socket!: WebSocket;
  #received = 0;

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`ws://${host}:${port}/s`, 'sockeye.session.v1');
      this.#socket = socket;
      let welcomed = false;
      socket.onopen = () => socket.send('h 0');
      socket.onerror = () => reject(new Error('the WebSocket failed'));
      socket.onclose = (event) => this.#echoes.fail(new Error(`the WebSocket closed (${event.code})`));
      socket.onmessage = (event) => {
        const frame = event.data as string;
        switch (frame[0]) {
          case 'd':
            this.#echoes.arrived(frame.slice(1));
            if (++this.#received % ACK_EVERY === 0) socket.send(`a ${this.#received}`);
            break;
          case 'w':
            if (!welcomed) resolve();
            welcomed = true;
            break;
          case 'p':
            socket.send(`q ${frame.slice(2)}`);
            break;
          case 'a':
            break;
          default:
            this.#echoes.fail(new Error(`an unexpected frame: ${frame}`));
        }
      };
    });
  }

  roundTrip(payload: string): Promise<string> {
    this.#socket.send(`d${payload}`);
    return this.#echoes.next();
  }

  close(): void {
    this.#socket.onclose = null;
    this.#socket.close();
  }
}

/** The plain Node long-poll server's protocol. */
class PlainSession implements Session {
  static #next = 0;
  readonly #echoes = new Echoes();
  readonly #id = String(PlainSession.#next++);
  #polls!: HttpConnection;
  #posts!: HttpConnection;
  #closed = false;

  async open(): Promise<void> {
    [this.#polls, this.#posts] = await Promise.all([HttpConnection.open(), HttpConnection.open()]);
    void this.#pollLoop();
  }

  async roundTrip(payload: string): Promise<string> {
    const [taken, echo] = await Promise.all([
      this.#posts.request('POST', `/send?id=${this.#id}`, payload),
      this.#echoes.next(),
    ]);
    if (taken.status !== 204) throw new Error(`a POST got ${taken.status}`);
    return echo;
  }

  close(): void {
    this.#closed = true;
    this.#polls.close();
    this.#posts.close();
  }

  async #pollLoop(): Promise<void> {
    try {
      while (!this.#closed) {
        const answer = await this.#polls.request('GET', `/poll?id=${this.#id}`);
        if (answer.status !== 200) throw new Error(`a poll got ${answer.status}`);
        this.#echoes.arrived(answer.body);
      }
    } catch (error) {
      if (!this.#closed) this.#echoes.fail(error instanceof Error ? error : new Error(String(error)));
    }
  }
}

/**
 * CPU seconds of a process, from the scheduler's nanosecond count of each of its threads
 * where the kernel has it (a short phase takes well under a second of CPU), else from the
 * user and system clock ticks of /proc/<pid>/stat.
 */
function processCpuSeconds(pid: number): number {
  let nanoseconds = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      nanoseconds += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // No schedstat, or the thread exited between the listing and the read.
    }
  }
  if (nanoseconds > 0) return nanoseconds / 1e9;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime (fields 14 and 15 of stat, counted here from the state field), in ticks of 1/100 s.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** `count` round trips of one session, each echo checked. */
async function run(session: Session, index: number, phase: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const label = `${index}:${phase}${i}:`;
    const payload = label.padEnd(size, 'x');
    const echo = await session.roundTrip(payload);
    if (echo !== payload) throw new Error(`session ${index} sent ${payload} and got back ${echo}`);
  }
}

async function main(): Promise<void> {
  const guard = setTimeout(() => {
    console.log(JSON.stringify({ fatal: `not done after ${values.timeout} s` }));
    process.exit(1);
  }, Number(values.timeout) * 1000);
  const make = (): Session => {
    switch (values.mode) {
      case 'long-polling':
        return new LongPollingSession();
      case 'websocket':
        return new WebSocketSession();
      case 'node':
        return new PlainSession();
      default:
        throw new Error(`unknown --mode ${values.mode}`);
    }
  };
  const count = Number(values.sessions);
  const roundTrips = Number(values['round-trips']);
  const sessions = Array.from({ length: count }, make);
  // Opened in groups of 100 so the accept queue is never the test.
  for (let i = 0; i < count; i += 100) await Promise.all(sessions.slice(i, i + 100).map((s) => s.open()));
  await Promise.all(sessions.map((session, i) => run(session, i, 'w', Number(values.warmup))));
  const serverPid = values['server-pid'] === undefined ? undefined : Number(values['server-pid']);
  const serverBefore = serverPid === undefined ? 0 : processCpuSeconds(serverPid);
  const clientBefore = process.cpuUsage();
  const requestsBefore = requests;
  const bytesBefore = httpBytes;
  const started = performance.now();
  await Promise.all(sessions.map((session, i) => run(session, i, 't', roundTrips)));
  const seconds = (performance.now() - started) / 1000;
  const client = process.cpuUsage(clientBefore);
  const total = count * roundTrips;
  clearTimeout(guard);
  console.log(
    JSON.stringify({
      roundTrips: total,
      seconds,
      perSecond: total / seconds,
      requestsPerRoundTrip: (requests - requestsBefore) / total,
      httpBytesPerRoundTrip: (httpBytes - bytesBefore) / total,
      clientCpu: (client.user + client.system) / 1e6 / seconds,
      serverCpu:
        serverPid === undefined ? undefined : (processCpuSeconds(serverPid) - serverBefore) / seconds,
    }),
  );
  for (const session of sessions) session.close();
}

main().catch((error: unknown) => {
  console.log(JSON.stringify({ fatal: String(error instanceof Error ? error.message : error) }));
  process.exit(1);
});
