/**
 * The SSE fan-out benchmark's reader: `--port P --streams N --messages M --size S`.
 * Opens N `GET /events?topic=bench` streams on raw TCP (a reader costs a count, not a
 * parser), then asks the server to publish M messages (`POST /publish`) and times until
 * every stream has seen all M (`data: ` lines counted across reads). Prints one JSON line:
 * `{ deliveries, seconds, perSecond, bytes }`, or `{ fatal }`; gives up after `--timeout` s.
 */
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    streams: { type: 'string', default: '1000' },
    messages: { type: 'string', default: '500' },
    size: { type: 'string', default: '64' },
    timeout: { type: 'string', default: '120' },
  },
});
const host = values.host;
const port = Number(values.port);
const streams = Number(values.streams);
const messages = Number(values.messages);
const PATTERN = 'data: ';

interface Reader {
  socket: Socket;
  headed: boolean;
  seen: number;
  tail: string;
}

let done = 0;
let bytes = 0;
let onAllDone: () => void = () => {};
const readers: Reader[] = [];

function count(reader: Reader, chunk: Buffer): void {
  bytes += chunk.length;
  let text = reader.tail + chunk.toString('latin1');
  if (!reader.headed) {
    const end = text.indexOf('\r\n\r\n');
    if (end === -1) {
      reader.tail = text;
      return;
    }
    reader.headed = true;
    text = text.slice(end + 4);
  }
  const before = reader.seen;
  for (let at = text.indexOf(PATTERN); at !== -1; at = text.indexOf(PATTERN, at + PATTERN.length))
    reader.seen++;
  // Keep what could be the start of a pattern split across reads (shorter than the pattern: never counted twice).
  reader.tail = text.slice(-(PATTERN.length - 1));
  if (before < messages && reader.seen >= messages && ++done === streams) onAllDone();
}

function open(): Promise<Reader> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    const reader: Reader = { socket, headed: false, seen: 0, tail: '' };
    socket.once('error', reject);
    socket.on('data', (chunk: Buffer) => {
      const wasHeaded = reader.headed;
      count(reader, chunk);
      if (!wasHeaded && reader.headed) resolve(reader);
    });
    socket.write(
      `GET /events?topic=bench HTTP/1.1\r\nHost: ${host}:${port}\r\nAccept: text/event-stream\r\n\r\n`,
    );
  });
}

function publish(): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    socket.once('error', reject);
    socket.on('data', () => {});
    socket.once('close', () => resolve());
    socket.end(
      `POST /publish?count=${messages}&size=${values.size} HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
    );
  });
}

async function main(): Promise<void> {
  const guard = setTimeout(() => {
    console.log(
      JSON.stringify({ fatal: `not done after ${values.timeout} s (${done}/${streams} streams complete)` }),
    );
    process.exit(1);
  }, Number(values.timeout) * 1000);
  // Opened in groups of 100 so the accept queue is never the test.
  for (let i = 0; i < streams; i += 100) {
    const group = Math.min(100, streams - i);
    readers.push(...(await Promise.all(Array.from({ length: group }, open))));
  }
  bytes = 0;
  const allDone = new Promise<void>((resolve) => {
    onAllDone = resolve;
  });
  const started = performance.now();
  const published = publish();
  await allDone;
  const seconds = (performance.now() - started) / 1000;
  await published;
  clearTimeout(guard);
  const deliveries = streams * messages;
  console.log(JSON.stringify({ deliveries, seconds, perSecond: deliveries / seconds, bytes }));
  for (const reader of readers) reader.socket.destroy();
}

main().catch((error: unknown) => {
  console.log(JSON.stringify({ fatal: String(error) }));
  process.exit(1);
});
