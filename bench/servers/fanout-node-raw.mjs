// Fan-out server under test: the raw Node ceiling of a fan-out, "what Node allows".
// `--port P [--host H]`, prints `listening on ws://H:P`. A connection to `/sub` is a
// subscriber and is sent the text message `ok`; every data message a connection to `/pub`
// sends is framed once and that one buffer is written to every subscriber's socket.
//
// Like node-raw.mjs it is deliberately not a WebSocket library: a bare `net` server that
// answers the opening handshake and reads the publisher's frames (unmasking them), with
// none of a real server's checks (UTF-8, limits, fragmentation rules, backpressure, close
// handshakes with subscribers). What is left is the cost a Node server cannot avoid: one
// `socket.write` of the same bytes per subscriber.
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '9001' }, host: { type: 'string', default: '127.0.0.1' } },
});

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_HEAD = 16 * 1024;
/** The text message `ok`, as a server frame. */
const OK = Buffer.from([0x81, 2, 0x6f, 0x6b]);

const subscribers = new Set();

/** A server (unmasked) frame of `payload` with the first byte `first`. */
function frame(first, payload) {
  const length = payload.length;
  const size = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(size + length);
  out[0] = first;
  if (length < 126) out[1] = length;
  else if (length < 65536) {
    out[1] = 126;
    out.writeUInt16BE(length, 2);
  } else {
    out[1] = 127;
    out.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    out.writeUInt32BE(length >>> 0, 6);
  }
  payload.copy(out, size);
  return out;
}

/** Write the same framed message to every subscriber: the loop the benchmark measures. */
function publish(first, payload) {
  const bytes = frame(first, payload);
  for (const socket of subscribers) socket.write(bytes);
}

/**
 * The publisher's frames: whole frames are taken from the front of `pending` (masked client
 * frames), data frames published, a close frame answered and the connection ended. Returns
 * what is left of `pending`: the start of a frame still to come.
 */
function publisherFrames(socket, pending) {
  let at = 0;
  while (pending.length - at >= 2) {
    const first = pending[at];
    const short = pending[at + 1] & 0x7f;
    const lengthBytes = short === 127 ? 8 : short === 126 ? 2 : 0;
    const headerLength = 2 + lengthBytes + 4;
    if (pending.length - at < headerLength) break;
    const length =
      short === 127
        ? pending.readUInt32BE(at + 2) * 2 ** 32 + pending.readUInt32BE(at + 6)
        : short === 126
          ? pending.readUInt16BE(at + 2)
          : short;
    if (pending.length - at < headerLength + length) break;
    const key = pending.subarray(at + headerLength - 4, at + headerLength);
    const payload = Buffer.from(pending.subarray(at + headerLength, at + headerLength + length));
    for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
    at += headerLength + length;
    const opcode = first & 0x0f;
    if (opcode === 0x8) {
      socket.end(frame(0x88, payload.subarray(0, Math.min(2, payload.length))));
      return Buffer.alloc(0);
    }
    if (opcode === 0x9) socket.write(frame(0x8a, payload));
    else if (opcode !== 0xa) publish(first, payload);
  }
  return pending.subarray(at);
}

const server = createServer((socket) => {
  socket.setNoDelay(true);
  socket.on('error', () => {});
  let head = Buffer.alloc(0);
  let role = null; // 'sub' or 'pub', once the handshake is done
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    if (role === 'sub') return; // a subscriber's frames (its close at the end) are not read
    if (role === 'pub') {
      pending = publisherFrames(socket, pending.length === 0 ? chunk : Buffer.concat([pending, chunk]));
      return;
    }
    head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end === -1) {
      if (head.length > MAX_HEAD) socket.destroy();
      return;
    }
    const text = head.toString('latin1', 0, end);
    const match = /^sec-websocket-key:[ \t]*(\S+)/im.exec(text);
    if (match === null) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const accept = createHash('sha1')
      .update(match[1] + GUID)
      .digest('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    if (/^GET \/sub/.test(text)) {
      role = 'sub';
      subscribers.add(socket);
      socket.on('close', () => subscribers.delete(socket));
      socket.write(OK);
    } else {
      role = 'pub';
      pending = publisherFrames(socket, head.subarray(end + 4));
    }
    head = Buffer.alloc(0);
  });
});
server.listen(Number(values.port), values.host, () =>
  console.log(`listening on ws://${values.host}:${values.port}`),
);
