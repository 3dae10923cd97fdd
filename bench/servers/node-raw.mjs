// Server under test: the raw Node ceiling, "what Node allows". `--port P [--host H]`,
// prints `listening on ws://H:P`, echoes every frame with its opcode.
//
// It is deliberately not a WebSocket library: a bare `net` server that answers the opening
// handshake, then reframes the client's frames into server frames cut-through (a frame is
// echoed as its bytes arrive, never buffered whole), unmasking in place and sliding the
// payload down over the 4 bytes of the mask so that every reply of one read leaves in a
// single (corked) write of the very buffer it arrived in: no allocation, and no copy but a
// memmove of small payloads (large runs are written where they lie).
// It checks nothing a real server must check (UTF-8, limits, fragmentation rules): it is
// the ceiling a conforming server can approach, not a server to deploy.
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { xorMask } from './raw-xor.mjs';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '9001' }, host: { type: 'string', default: '127.0.0.1' } },
});

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_HEAD = 16 * 1024;
/** From this many payload bytes on, a run is written in place rather than moved (as the core's COPY_THRESHOLD). */
const ZERO_COPY_MIN = 16 * 1024;

/** Write a server (unmasked) frame header into `target` at `at`; returns its length. */
function writeHeader(target, at, first, length) {
  target[at] = first;
  if (length < 126) {
    target[at + 1] = length;
    return 2;
  }
  if (length < 65536) {
    target[at + 1] = 126;
    target.writeUInt16BE(length, at + 2);
    return 4;
  }
  target[at + 1] = 127;
  target.writeUInt32BE(Math.floor(length / 2 ** 32), at + 2);
  target.writeUInt32BE(length >>> 0, at + 6);
  return 10;
}

function serverHeaderLength(length) {
  return length < 126 ? 2 : length < 65536 ? 4 : 10;
}

const server = createServer((socket) => {
  socket.setNoDelay(true);
  let handshaken = false;
  let headBytes = Buffer.alloc(0);
  // Frame state: the header being collected, then the payload bytes still to come.
  const header = Buffer.alloc(14);
  let headerHave = 0;
  let remaining = 0;
  let first = 0;
  let maskOffset = 0;
  let control = null; // a control frame's payload, collected whole (at most 125 bytes)
  let controlHave = 0;
  let closed = false;
  const key = new Uint8Array(4);

  function handshake(chunk) {
    headBytes = headBytes.length === 0 ? chunk : Buffer.concat([headBytes, chunk]);
    const end = headBytes.indexOf('\r\n\r\n');
    if (end === -1) {
      if (headBytes.length > MAX_HEAD) socket.destroy();
      return null;
    }
    const match = /^sec-websocket-key:[ \t]*(\S+)/im.exec(headBytes.toString('latin1', 0, end));
    if (match === null) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return null;
    }
    const accept = createHash('sha1')
      .update(match[1] + GUID)
      .digest('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    handshaken = true;
    const rest = headBytes.subarray(end + 4);
    headBytes = Buffer.alloc(0);
    return rest;
  }

  function onControl(opcode, payload, parts) {
    if (opcode === 0x9) {
      const pong = Buffer.allocUnsafe(2 + payload.length);
      writeHeader(pong, 0, 0x8a, payload.length);
      pong.set(payload, 2);
      parts.push(pong);
    } else if (opcode === 0x8) {
      const code = payload.length >= 2 ? payload.subarray(0, 2) : Buffer.alloc(0);
      const reply = Buffer.allocUnsafe(2 + code.length);
      writeHeader(reply, 0, 0x88, code.length);
      reply.set(code, 2);
      parts.push(reply);
      closed = true;
    }
  }

  function frames(chunk) {
    const parts = [];
    let read = 0;
    let write = 0; // server frames are written over the chunk itself, behind `read`
    let flushed = 0;
    const length = chunk.length;
    while (read < length && !closed) {
      if (remaining === 0 && control === null) {
        // Collect the client header (2 to 14 bytes; it may span reads).
        let need = 2;
        while (read < length) {
          header[headerHave++] = chunk[read++];
          if (headerHave === 2) {
            if ((header[1] & 0x80) === 0) {
              socket.destroy(); // unmasked client frame
              return;
            }
            const short = header[1] & 0x7f;
            need = short === 127 ? 14 : short === 126 ? 8 : 6;
          } else if (headerHave > 2) {
            const short = header[1] & 0x7f;
            need = short === 127 ? 14 : short === 126 ? 8 : 6;
          }
          if (headerHave >= 2 && headerHave === need) break;
        }
        if (headerHave < 2 || headerHave !== need) return flush(chunk, parts, flushed, write);
        const short = header[1] & 0x7f;
        const payloadLength =
          short === 127
            ? header.readUInt32BE(2) * 2 ** 32 + header.readUInt32BE(6)
            : short === 126
              ? header.readUInt16BE(2)
              : short;
        key.set(header.subarray(need - 4, need));
        headerHave = 0;
        first = header[0];
        maskOffset = 0;
        if ((first & 0x08) !== 0) {
          control = Buffer.allocUnsafe(payloadLength);
          controlHave = 0;
          remaining = payloadLength;
        } else {
          remaining = payloadLength;
          const size = serverHeaderLength(payloadLength);
          if (read - write >= size) write += writeHeader(chunk, write, first, payloadLength);
          else {
            // The header straddled two reads and this one holds too little of it to
            // rewrite in place: send the header on its own, ahead of this read's frames.
            parts.push(chunk.subarray(flushed, write));
            const own = Buffer.allocUnsafe(size);
            writeHeader(own, 0, first, payloadLength);
            parts.push(own);
            flushed = write;
          }
        }
        if (remaining > 0) continue;
      }
      const n = Math.min(remaining, length - read);
      if (control !== null) {
        xorMask(chunk, read, read + n, key, maskOffset);
        chunk.copy(control, controlHave, read, read + n);
        controlHave += n;
      } else {
        xorMask(chunk, read, read + n, key, maskOffset);
        if (n >= ZERO_COPY_MIN) {
          // A large run of payload leaves where it lies (a write of its own in the same
          // batch) instead of sliding down over the mask bytes: no copy at all.
          if (write > flushed) parts.push(chunk.subarray(flushed, write));
          parts.push(chunk.subarray(read, read + n));
          write = flushed = read + n;
        } else {
          if (write !== read) chunk.copyWithin(write, read, read + n);
          write += n;
        }
      }
      read += n;
      remaining -= n;
      maskOffset = (maskOffset + n) & 3;
      if (remaining === 0 && control !== null) {
        parts.push(chunk.subarray(flushed, write));
        flushed = write;
        const payload = control;
        control = null;
        onControl(first & 0x0f, payload, parts);
      }
    }
    flush(chunk, parts, flushed, write);
  }

  function flush(chunk, parts, flushed, write) {
    if (write > flushed) parts.push(chunk.subarray(flushed, write));
    const nonEmpty = parts.filter((part) => part.length > 0);
    if (nonEmpty.length === 1) socket.write(nonEmpty[0]);
    else if (nonEmpty.length > 1) {
      socket.cork();
      for (const part of nonEmpty) socket.write(part);
      socket.uncork();
    }
    if (closed) socket.end();
  }

  socket.on('data', (chunk) => {
    if (closed) return;
    if (!handshaken) {
      const rest = handshake(chunk);
      if (rest === null || rest.length === 0) return;
      frames(rest);
      return;
    }
    frames(chunk);
  });
  socket.on('error', () => {});
});
server.listen(Number(values.port), values.host, () =>
  console.log(`listening on ws://${values.host}:${values.port}`),
);
