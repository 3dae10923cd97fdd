/**
 * Microbenchmark of permessage-deflate codecs: compress + decompress of 16 KiB JSON-like
 * messages, with sockeye's codec (through Connection, as a server sends and a client
 * receives) beside `ws`'s PerMessageDeflate class used directly (its zlib work goes
 * through Node's thread pool). 64 connection pairs, context takeover, window 15,
 * memLevel 8, as both libraries negotiate by default; and sockeye with no context
 * takeover both ways, where the 64 pairs share one pooled compressor and decompressor.
 * Wall-clock rates depend on how much CPU the machine gives each thread (ws's zlib work
 * runs on up to 4 thread-pool threads, ours on the calling thread); messages per
 * CPU-second (all threads counted) compare the work itself.
 *
 *   node --import tsx bench/deflate.ts [--messages 3000] [--pairs 64]
 *
 * Not part of `npm test` and not wired into `npm run bench` yet. Prints messages per
 * second for each codec, the ratios, and the compressed sizes.
 */
import { createRequire } from 'node:module';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  Connection,
  type ConnectionHandler,
  PerMessageDeflate,
} from '../packages/sockeye/src/protocol/index.js';

const { values } = parseArgs({
  options: { messages: { type: 'string', default: '3000' }, pairs: { type: 'string', default: '64' } },
});
const MESSAGES = Number(values.messages);
const PAIRS = Number(values.pairs);

/** `ws`'s internal codec, which the library uses for every compressed message. */
interface WsCodec {
  params: Record<string, unknown> | null;
  offer(): Record<string, unknown>;
  accept(configurations: unknown[]): Record<string, unknown>;
  compress(data: Buffer, fin: boolean, callback: (error: Error | null, result?: Buffer) => void): void;
  decompress(data: Buffer, fin: boolean, callback: (error: Error | null, result?: Buffer) => void): void;
  cleanup(): void;
}
const require = createRequire(import.meta.url);
// Not in ws's package exports: load the files by path.
const wsLib = join(dirname(require.resolve('ws')), 'lib');
const WsPerMessageDeflate = require(join(wsLib, 'permessage-deflate.js')) as new (options: object) => WsCodec;
const wsExtension = require(join(wsLib, 'extension.js')) as {
  parse(header: string): Record<string, unknown[]>;
  format(extensions: Record<string, unknown>): string;
};

/** 16 KiB JSON-like messages with varied content (ids, words, numbers), one per pair. */
function jsonMessage(seed: number): Buffer {
  const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet'];
  let state = seed * 7919 + 1;
  const random = () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state / 0x7fffffff;
  };
  const items: unknown[] = [];
  const encode = () => Buffer.from(JSON.stringify({ type: 'update', seq: seed, items }));
  while (encode().length <= 16 * 1024) {
    items.push({
      id: Math.floor(random() * 1e9),
      user: `${words[Math.floor(random() * 10)]}_${Math.floor(random() * 1000)}`,
      score: Math.round(random() * 1e6) / 100,
      active: random() > 0.5,
      tags: [words[Math.floor(random() * 10)], words[Math.floor(random() * 10)]],
      updatedAt: new Date(1.7e12 + random() * 1e10).toISOString(),
    });
  }
  items.pop();
  return encode();
}

/** Distinct messages, so that context takeover cannot just point back at the previous one. */
const VARIETY = 256;
const messages = Array.from({ length: VARIETY }, (_, i) => jsonMessage(i));
/** The message a pair sends as its `n`-th: pairs walk the set at different offsets. */
const nth = (pair: number, n: number) => messages[(pair * 31 + n) % VARIETY]!;

/** Messages per second of wall time, per second of CPU time (all threads), and bytes on the wire per message. */
interface Result {
  rate: number;
  cpuRate: number;
  bytes: number;
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

function sockeye(level: number, noContextTakeover = false): Result {
  const deflate = new PerMessageDeflate({ level });
  let received = 0;
  let wireBytes = 0;
  const handler = (): ConnectionHandler => ({
    onMessage: () => {
      received++;
    },
    onPing: () => {},
    onPong: () => {},
    onClose: (info) => {
      if (info.error) throw info.error;
    },
    onOutput: () => {},
  });
  const pairs = Array.from({ length: PAIRS }, () => {
    const params = {
      serverNoContextTakeover: noContextTakeover,
      clientNoContextTakeover: noContextTakeover,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
    };
    return {
      server: new Connection(handler(), {
        role: 'server',
        extensions: [deflate.extension('server', params)],
      }),
      client: new Connection(handler(), {
        role: 'client',
        extensions: [deflate.extension('client', params)],
      }),
    };
  });
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (let sent = 0, round = 0; sent < MESSAGES; round++) {
    for (let p = 0; p < PAIRS && sent < MESSAGES; p++, sent++) {
      const { server, client } = pairs[p]!;
      server.send(nth(p, round), true);
      for (const chunk of server.takeOutput()) {
        wireBytes += chunk.length;
        client.receive(chunk);
      }
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpuUsed = cpuSeconds(cpu);
  if (received !== MESSAGES) throw new Error(`received ${received} of ${MESSAGES}`);
  return { rate: MESSAGES / seconds, cpuRate: MESSAGES / cpuUsed, bytes: wireBytes / MESSAGES };
}

async function ws(level: number | undefined): Promise<Result> {
  const options = level === undefined ? {} : { zlibDeflateOptions: { level } };
  const pairs = Array.from({ length: PAIRS }, () => {
    const server = new WsPerMessageDeflate({ ...options, isServer: true, threshold: 0 });
    const client = new WsPerMessageDeflate({ ...options, isServer: false, threshold: 0 });
    const offer = wsExtension.parse(wsExtension.format({ 'permessage-deflate': [client.offer()] }));
    server.accept(offer['permessage-deflate']!);
    const response = wsExtension.parse(wsExtension.format({ 'permessage-deflate': [server.params] }));
    client.accept(response['permessage-deflate']!);
    return { server, client };
  });
  let wireBytes = 0;
  const perPair = Math.ceil(MESSAGES / PAIRS);
  const roundTrip = (p: number, n: number) =>
    new Promise<void>((resolve, reject) => {
      const { server, client } = pairs[p]!;
      server.compress(nth(p, n), true, (error, compressed) => {
        if (error || !compressed) return reject(error);
        wireBytes += compressed.length;
        client.decompress(compressed, true, (error2) => (error2 ? reject(error2) : resolve()));
      });
    });
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  // Every pair runs its messages in sequence (a connection's messages are ordered); the
  // pairs run concurrently, as connections do, so ws can use the thread pool fully.
  await Promise.all(
    pairs.map(async (_, p) => {
      for (let i = 0; i < perPair; i++) await roundTrip(p, i);
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpuUsed = cpuSeconds(cpu);
  for (const { server, client } of pairs) {
    server.cleanup();
    client.cleanup();
  }
  const total = perPair * PAIRS;
  return { rate: total / seconds, cpuRate: total / cpuUsed, bytes: wireBytes / total };
}

const row = (name: string, r: Result) =>
  console.log(
    `${name.padEnd(28)} ${Math.round(r.rate).toString().padStart(7)} msg/s  ` +
      `${Math.round(r.cpuRate).toString().padStart(7)} msg/CPU-s  ${Math.round(r.bytes)} bytes/msg`,
  );
const ratio = (label: string, a: Result, b: Result) =>
  console.log(
    `${label.padEnd(34)} ${(a.rate / b.rate).toFixed(2)}x wall, ${(a.cpuRate / b.cpuRate).toFixed(2)}x per CPU-second`,
  );

console.log(
  `permessage-deflate: ${PAIRS} pairs, ${MESSAGES} messages of ${messages[0]!.length} bytes (JSON-like), compress + decompress`,
);
// Warm up both (JIT, zlib allocations), then measure.
sockeye(1);
await ws(undefined);
const wsDefault = await ws(undefined);
const wsLevel1 = await ws(1);
const ours = sockeye(1);
const ours6 = sockeye(6);
const oursShared = sockeye(1, true);
row('ws (default level 6)', wsDefault);
row('ws (level 1)', wsLevel1);
row('sockeye (default level 1)', ours);
row('sockeye (level 6)', ours6);
row('sockeye (no context takeover)', oursShared);
ratio('sockeye default / ws default:', ours, wsDefault);
ratio('sockeye level 1 / ws level 1:', ours, wsLevel1);
ratio('sockeye level 6 / ws level 6:', ours6, wsDefault);
ratio('sockeye shared streams / ws default:', oursShared, wsDefault);
console.log(
  `load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} on ${availableParallelism()} CPUs (wall rates are noisy on a shared machine)`,
);
