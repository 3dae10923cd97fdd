// Interop peer: Node's built-in WebSocket client (undici; behind --experimental-websocket
// in Node 20) against a sockeye echo server.
//
// Usage: node --experimental-websocket node-builtin-client.mjs ws://127.0.0.1:PORT
//
// Runs each scenario on its own connection and prints one JSON line per scenario with what
// it observed (never a verdict: conformance/interop-node.test.ts makes the assertions):
//   {"scenario": "...", ...observations}   or   {"scenario": "...", "error": "..."}
// The last line is {"done": true}. The WHATWG API has no way to send a ping.
import { createHash, randomBytes } from 'node:crypto';

const base = process.argv[2].replace(/\/$/, '');
const TIMEOUT_MS = 20_000; // per scenario: a guard against a hang, not a measurement
const ONE_MIB = 1024 * 1024;

if (typeof WebSocket !== 'function') {
  console.log(JSON.stringify({ fatal: 'no global WebSocket: run with --experimental-websocket' }));
  process.exit(2);
}

/** Open a connection; resolves on 'open', rejects on 'error' or a close before open. */
function open(path = '/', protocols = undefined, binaryType = undefined) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(base + path, protocols);
    if (binaryType) ws.binaryType = binaryType;
    ws.addEventListener('open', () => resolve(ws), { once: true });
    ws.addEventListener('error', () => reject(new Error('error event before open')), { once: true });
  });
}

function nextMessage(ws) {
  return new Promise((resolve, reject) => {
    ws.addEventListener('message', (event) => resolve(event.data), { once: true });
    ws.addEventListener('close', (event) => reject(new Error(`closed (${event.code}) before a message`)), {
      once: true,
    });
  });
}

function closed(ws) {
  return new Promise((resolve) => {
    ws.addEventListener(
      'close',
      (event) => resolve({ code: event.code, reason: event.reason, wasClean: event.wasClean }),
      { once: true },
    );
  });
}

/** What kind of value `data` is, and its bytes as hex (text as itself). */
async function describe(data) {
  if (typeof data === 'string') return { type: 'string', data };
  if (data instanceof ArrayBuffer) return { type: 'ArrayBuffer', data: Buffer.from(data).toString('hex') };
  if (data instanceof Blob)
    return { type: 'Blob', data: Buffer.from(await data.arrayBuffer()).toString('hex') };
  return { type: Object.prototype.toString.call(data), data: String(data) };
}

async function echo(message, binaryType) {
  const ws = await open('/', undefined, binaryType);
  try {
    const reply = nextMessage(ws);
    ws.send(message);
    return await describe(await reply);
  } finally {
    ws.close();
  }
}

const BINARY = Uint8Array.from([0, 1, 2, 0xfe, 0xff, 0x80, 0x7f]);

const scenarios = {
  text: async () => echo('héllo, wörld ✓'),
  'binary-blob': async () => ({ sent: Buffer.from(BINARY).toString('hex'), ...(await echo(BINARY)) }),
  'binary-arraybuffer': async () => ({
    sent: Buffer.from(BINARY).toString('hex'),
    ...(await echo(BINARY.buffer, 'arraybuffer')),
  }),
  'empty-text': async () => echo(''),
  'empty-binary': async () => echo(new ArrayBuffer(0), 'arraybuffer'),
  '1mib': async () => {
    const payload = randomBytes(ONE_MIB);
    const ws = await open('/', undefined, 'arraybuffer');
    try {
      const reply = nextMessage(ws);
      ws.send(payload);
      const data = await reply;
      const bytes = data instanceof ArrayBuffer ? Buffer.from(data) : Buffer.from(String(data));
      return {
        type: data instanceof ArrayBuffer ? 'ArrayBuffer' : typeof data,
        length: bytes.length,
        sentSha256: createHash('sha256').update(payload).digest('hex'),
        receivedSha256: createHash('sha256').update(bytes).digest('hex'),
      };
    } finally {
      ws.close();
    }
  },
  subprotocol: async () => {
    const ws = await open('/', ['chat.v2', 'chat.v1']);
    ws.close();
    return { protocol: ws.protocol };
  },
  'client-close': async () => {
    const ws = await open();
    const done = closed(ws);
    ws.close(4000, 'client says bye');
    return done;
  },
  'server-close': async () => {
    const ws = await open(`/?close=4001&reason=${encodeURIComponent('server says bye')}`);
    const reply = nextMessage(ws);
    const done = closed(ws);
    ws.send('last words');
    return { echoed: await reply, ...(await done) };
  },
  'server-ping': async () => {
    const ws = await open('/?ping=x');
    try {
      return await describe(await nextMessage(ws));
    } finally {
      ws.close();
    }
  },
};

console.log(JSON.stringify({ version: process.version }));
for (const [name, run] of Object.entries(scenarios)) {
  let timer;
  try {
    const guard = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no result within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    });
    const observed = await Promise.race([run(), guard]);
    console.log(JSON.stringify({ scenario: name, ...observed }));
  } catch (error) {
    console.log(JSON.stringify({ scenario: name, error: String(error?.stack ?? error) }));
  } finally {
    clearTimeout(timer);
  }
}
console.log(JSON.stringify({ done: true }));
