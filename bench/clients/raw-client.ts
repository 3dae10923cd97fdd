/**
 * Client benchmark entry: the raw Node ceiling of a client, "what Node allows" (as
 * bench/servers/node-raw.mjs is for servers). Deliberately not a WebSocket client: a bare
 * `net` socket that sends the opening handshake without checking the answer, reads the
 * server's frames with no check at all (no UTF-8, no limits, no fragmentation rules, no
 * close handshake), and dispatches each message to the listeners straight from the read,
 * as a plain `{ data }` object, not an event. What is left is the work a client cannot
 * avoid in Node: the `ArrayBuffer` each binary message must be handed over in (the loop of
 * bench/clients/common.ts takes that, as the browser API gives it), a random masking key
 * per frame (from a pool, filled 4 KiB at a time), masking the payload as it is copied
 * into the output (with the raw server's word-at-a-time XOR, bench/servers/raw-xor.mjs),
 * and one `socket.write` per read (or per microtask turn, for the sends made outside a
 * read). See bench/clients/common.ts for the options.
 * `node --import tsx bench/clients/raw-client.ts --url ws://127.0.0.1:9001 --window 1 --duration 5`
 */
import { randomFillSync } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { xorMask } from '../servers/raw-xor.mjs';
import { type BenchSocket, runBench } from './common.js';

/** Random bytes for masking keys, refilled when used up. */
const KEYS = Buffer.allocUnsafe(4096);
/** Output buffers are carved from slabs of this size (a larger frame gets its own). */
const SLAB = 64 * 1024;

type Listener = (event: { data?: unknown }) => void;

class RawClient implements BenchSocket {
  binaryType = 'arraybuffer';
  private readonly socket: Socket;
  private readonly listeners = new Map<string, Listener[]>();
  /** The bytes of a frame still to come, from the end of the last read. */
  private pending: Buffer | null = null;
  private opened = false;
  private slab = Buffer.allocUnsafe(SLAB);
  /** Where the output not yet written starts in `slab`, and where it ends. */
  private start = 0;
  private end = 0;
  private inRead = false;
  private flushQueued = false;
  private keyAt = KEYS.length;

  constructor(url: URL) {
    this.socket = connect(Number(url.port), url.hostname, () => {
      this.socket.setNoDelay(true);
      this.socket.write(
        `GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
    });
    this.socket.on('data', (chunk: Buffer) => this.read(chunk));
    this.socket.on('error', () => this.emit('close', {}));
    this.socket.on('close', () => this.emit('close', {}));
  }

  addEventListener(type: string, listener: Listener): void {
    const list = this.listeners.get(type) ?? [];
    list.push(listener);
    this.listeners.set(type, list);
  }

  send(data: string | ArrayBuffer | Uint8Array): void {
    const payload =
      typeof data === 'string'
        ? Buffer.from(data)
        : data instanceof ArrayBuffer
          ? new Uint8Array(data)
          : data;
    const length = payload.length;
    const header = length < 126 ? 6 : length < 65536 ? 8 : 14;
    const size = header + length;
    if (this.end + size > this.slab.length) this.newSlab(size);
    const out = this.slab;
    let at = this.end;
    out[at] = typeof data === 'string' ? 0x81 : 0x82;
    if (length < 126) {
      out[at + 1] = 0x80 | length;
      at += 2;
    } else if (length < 65536) {
      out[at + 1] = 0x80 | 126;
      out.writeUInt16BE(length, at + 2);
      at += 4;
    } else {
      out[at + 1] = 0x80 | 127;
      out.writeUInt32BE(Math.floor(length / 2 ** 32), at + 2);
      out.writeUInt32BE(length >>> 0, at + 6);
      at += 10;
    }
    if (this.keyAt + 4 > KEYS.length) {
      randomFillSync(KEYS);
      this.keyAt = 0;
    }
    const k = this.keyAt;
    this.keyAt += 4;
    const key = out.subarray(at, at + 4);
    KEYS.copy(key, 0, k, k + 4);
    at += 4;
    out.set(payload, at);
    xorMask(out, at, at + length, key, 0);
    this.end += size;
    if (!this.inRead && !this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => {
        this.flushQueued = false;
        this.flush();
      });
    }
  }

  close(): void {
    this.flush();
    this.socket.end(Buffer.from([0x88, 0x80, 0, 0, 0, 0]));
  }

  private emit(type: string, event: { data?: unknown }): void {
    const list = this.listeners.get(type);
    if (list !== undefined) for (const listener of list) listener(event);
  }

  private newSlab(size: number): void {
    this.flush();
    this.slab = Buffer.allocUnsafe(Math.max(SLAB, size));
    this.start = 0;
    this.end = 0;
  }

  private flush(): void {
    if (this.end === this.start) return;
    this.socket.write(this.slab.subarray(this.start, this.end));
    this.start = this.end;
  }

  private read(chunk: Buffer): void {
    let data = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = null;
    if (!this.opened) {
      const end = data.indexOf('\r\n\r\n');
      if (end === -1) {
        this.pending = data;
        return;
      }
      this.opened = true;
      data = data.subarray(end + 4);
      this.emit('open', {});
    }
    this.inRead = true;
    let at = 0;
    while (data.length - at >= 2) {
      const short = data[at + 1]! & 0x7f;
      const header = short === 127 ? 10 : short === 126 ? 4 : 2;
      if (data.length - at < header) break;
      const length =
        short === 127
          ? data.readUInt32BE(at + 2) * 2 ** 32 + data.readUInt32BE(at + 6)
          : short === 126
            ? data.readUInt16BE(at + 2)
            : short;
      if (data.length - at < header + length) break;
      const opcode = data[at]! & 0x0f;
      const from = at + header;
      at = from + length;
      if (opcode === 0x2) {
        // The ArrayBuffer the browser API hands over (the cheapest way to make one: see
        // copyToArrayBuffer in packages/sockeye/src/client/websocket.ts).
        const copy = new ArrayBuffer(length);
        new Uint8Array(copy).set(data.subarray(from, from + length));
        this.emit('message', { data: copy });
      } else if (opcode === 0x1) {
        this.emit('message', { data: data.toString('utf8', from, from + length) });
      }
    }
    this.inRead = false;
    if (at < data.length) this.pending = Buffer.from(data.subarray(at));
    this.flush();
  }
}

await runBench(
  'node-raw',
  (url) =>
    new Promise<BenchSocket>((resolve, reject) => {
      const client = new RawClient(new URL(url));
      client.addEventListener('open', () => resolve(client));
      client.addEventListener('close', () => reject(new Error('closed before open')));
    }),
);
