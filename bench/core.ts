/**
 * Micro-benchmark of the protocol core (`npm run bench:core`): parse and serialize
 * throughput for 32 B, 1 KiB, 64 KiB and 1 MiB binary messages, masked and unmasked, and
 * masking throughput of `unmask` against the byte-at-a-time `maskSlow`. `ws` 8 (its
 * Receiver and Sender.frame, pure JavaScript: no bufferutil) runs beside it on the same
 * streams for scale.
 *
 * - parse: `Connection.receive` of a pre-built stream cut into 64 KiB reads (what a socket
 *   delivers), up to the `onMessage` of each message. Masked = a server reading client
 *   frames; unmasked = a client reading server frames.
 * - serialize: `Connection.send` of each message, then one `takeOutput()` (the bytes are
 *   ready to write). Masked = a client; unmasked = a server (payloads over 16 KiB pass
 *   through without a copy, so only the header is written).
 * - masking: `unmask` and `maskSlow` over one buffer, in place.
 *
 * Each row: a warm-up, then several timed runs of about `--run-ms` each; the median is
 * reported. Results go to stdout and to the "Protocol core" section of
 * docs/benchmarks.md (unless `--no-write`, or `--only <row>` which runs the rows whose
 * name, like "parse 1 MiB" or "mask 32 B", contains it). `--quick` runs briefly, to check
 * the script.
 */

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, cpus, platform } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  COPY_THRESHOLD,
  Connection,
  type ConnectionHandler,
  encodeFrameHeader,
  maskSlow,
  Opcode,
  unmask,
} from '../packages/sockeye/src/protocol/index.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    'no-write': { type: 'boolean' },
    'run-ms': { type: 'string' },
    runs: { type: 'string' },
    only: { type: 'string' },
  },
});
const RUN_MS = Number(values['run-ms'] ?? (values.quick ? 40 : 300));
const RUNS = Number(values.runs ?? (values.quick ? 3 : 5));
const WARMUP_MS = values.quick ? 40 : 300;
/** `--only "parse 1 MiB"`: run just the rows whose name contains this (and do not touch the docs). */
const ONLY = values.only;
const selected = (name: string) => ONLY === undefined || name.includes(ONLY);

const SIZES = [
  ['32 B', 32],
  ['1 KiB', 1024],
  ['64 KiB', 64 * 1024],
  ['1 MiB', 1024 * 1024],
] as const;
/** Each timed operation handles at least this many payload bytes, so the clock is read rarely. */
const BATCH_BYTES = 2 * 1024 * 1024;
/** The size of a socket read. */
const READ_SIZE = 64 * 1024;

// ---- timing ----

/** Run `op` (which handles `bytes` payload bytes) repeatedly; return the median rate in bytes per second. */
function measure(bytes: number, op: () => void): number {
  const runFor = (ms: number): number => {
    const budget = BigInt(ms) * 1_000_000n;
    const start = process.hrtime.bigint();
    let ops = 0;
    let elapsed = 0n;
    do {
      op();
      ops++;
      elapsed = process.hrtime.bigint() - start;
    } while (elapsed < budget);
    return (ops * bytes) / (Number(elapsed) / 1e9);
  };
  runFor(WARMUP_MS);
  const rates = Array.from({ length: RUNS }, () => runFor(RUN_MS)).sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)]!;
}

const mbps = (rate: number) => rate / 1e6;
const gbps = (rate: number) => rate / 1e9;

// ---- the streams ----

function payloadOf(size: number): Buffer {
  const payload = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) payload[i] = (i * 131 + 7) & 0xff;
  return payload;
}

/** A stream of `count` binary frames of `size` bytes, cut into socket-sized reads. */
function stream(size: number, count: number, masked: boolean): Buffer[] {
  const payload = payloadOf(size);
  const parts: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const key = masked ? Buffer.from([i & 0xff, 0x5a, 0xa5, 0x3c]) : undefined;
    parts.push(encodeFrameHeader({ opcode: Opcode.Binary, length: size, ...(key ? { maskKey: key } : {}) }));
    const body = Buffer.from(payload);
    if (key) maskSlow(body, key);
    parts.push(body);
  }
  const whole = Buffer.concat(parts);
  const reads: Buffer[] = [];
  for (let pos = 0; pos < whole.length; pos += READ_SIZE) reads.push(whole.subarray(pos, pos + READ_SIZE));
  return reads;
}

function handler(onMessage: (data: Buffer) => void): ConnectionHandler {
  return { onMessage, onPing() {}, onPong() {}, onClose() {}, onOutput() {} };
}

// ---- ws, for scale ----

interface WsReceiver {
  write(chunk: Buffer): boolean;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
}
interface WsSenderStatic {
  frame(data: Buffer, options: { fin: boolean; mask: boolean; opcode: number; readOnly: boolean }): Buffer[];
}
const require = createRequire(import.meta.url);
// ws ships no types for these two internals; the shapes above are what this file uses.
const ws = require('ws') as { Receiver: new (options: object) => WsReceiver; Sender: WsSenderStatic };
const WsReceiver = ws.Receiver;
const WsSender = ws.Sender;
const wsVersion = (require('ws/package.json') as { version: string }).version;

// ---- rows ----

interface Row {
  operation: string;
  size: string;
  /** Payload bytes per message. */
  bytes: number;
  unmasked: number;
  masked: number;
  wsUnmasked: number;
  wsMasked: number;
}

function parseRow(label: string, size: number): Row {
  const count = Math.max(1, Math.floor(BATCH_BYTES / size));
  const rate = (masked: boolean) => {
    const reads = stream(size, count, masked);
    let received = 0;
    // Receiving unmasks in place; binary payloads need no validation, so the same reads can be fed again.
    const connection = new Connection(
      handler((data) => {
        received += data.length;
      }),
      { role: masked ? 'server' : 'client', maxPayload: 2 * size + 1024 },
    );
    const result = measure(count * size, () => {
      for (const read of reads) connection.receive(read);
    });
    if (received % (count * size) !== 0 || connection.state !== 'open')
      throw new Error('parse bench lost messages');
    return result;
  };
  const wsRate = (masked: boolean) => {
    const reads = stream(size, count, masked);
    let received = 0;
    const receiver = new WsReceiver({ isServer: masked, maxPayload: 2 * size + 1024 });
    receiver.on('message', (data) => {
      received += data.length;
    });
    const result = measure(count * size, () => {
      for (const read of reads) receiver.write(read);
    });
    if (received % (count * size) !== 0) throw new Error('ws parse bench lost messages');
    return result;
  };
  return {
    operation: 'parse',
    size: label,
    bytes: size,
    unmasked: rate(false),
    masked: rate(true),
    wsUnmasked: wsRate(false),
    wsMasked: wsRate(true),
  };
}

function serializeRow(label: string, size: number): Row {
  const count = Math.max(1, Math.floor(BATCH_BYTES / size));
  const payload = payloadOf(size);
  const rate = (masked: boolean) => {
    const connection = new Connection(
      handler(() => {}),
      { role: masked ? 'client' : 'server' },
    );
    let written = 0;
    const result = measure(count * size, () => {
      for (let i = 0; i < count; i++) connection.send(payload, false);
      for (const chunk of connection.takeOutput()) written += chunk.length;
    });
    if (written === 0) throw new Error('serialize bench wrote nothing');
    return result;
  };
  const wsRate = (masked: boolean) => {
    let written = 0;
    const result = measure(count * size, () => {
      for (let i = 0; i < count; i++) {
        for (const part of WsSender.frame(payload, { fin: true, mask: masked, opcode: 2, readOnly: true })) {
          written += part.length;
        }
      }
    });
    if (written === 0) throw new Error('ws serialize bench wrote nothing');
    return result;
  };
  return {
    operation: 'serialize',
    size: label,
    bytes: size,
    unmasked: rate(false),
    masked: rate(true),
    wsUnmasked: wsRate(false),
    wsMasked: wsRate(true),
  };
}

interface MaskRow {
  size: string;
  fast: number;
  slow: number;
}

function maskRow(label: string, size: number): MaskRow {
  const key = Buffer.from([0x08, 0xf6, 0xef, 0xb1]);
  const data = payloadOf(size);
  const count = Math.max(1, Math.floor(BATCH_BYTES / size));
  return {
    size: label,
    fast: measure(count * size, () => {
      for (let i = 0; i < count; i++) unmask(data, key);
    }),
    slow: measure(count * size, () => {
      for (let i = 0; i < count; i++) maskSlow(data, key);
    }),
  };
}

// ---- report ----

/** Unmasked payloads over COPY_THRESHOLD are queued by reference (ws: readOnly frames too): header work only. */
const byReference = (r: Row) =>
  r.operation === 'serialize' && r.bytes > COPY_THRESHOLD ? ' (by reference)' : '';

const fmt = (value: number) =>
  value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);

function table(header: string[], rows: string[][]): string {
  const lines = [
    `| ${header.join(' | ')} |`,
    `| ${header.map((_, i) => (i < 2 ? '---' : '---:')).join(' | ')} |`,
  ];
  for (const row of rows) lines.push(`| ${row.join(' | ')} |`);
  return lines.join('\n');
}

const cpu = cpus();
const machine = `${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${cpu.length} cores, ${platform()}/${arch()}, Node ${process.version}`;
const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
console.log(`Protocol core micro-benchmark: ${machine}; ${RUNS} runs of ${RUN_MS} ms per cell, median\n`);

const rows: Row[] = [];
for (const [label, size] of SIZES) {
  if (!selected(`parse ${label}`)) continue;
  rows.push(parseRow(label, size));
  console.log(`parse ${label} done`);
}
for (const [label, size] of SIZES) {
  if (!selected(`serialize ${label}`)) continue;
  rows.push(serializeRow(label, size));
  console.log(`serialize ${label} done`);
}
const maskRows = SIZES.filter(([label]) => selected(`mask ${label}`)).map(([label, size]) =>
  maskRow(label, size),
);

const throughput = table(
  [
    'Operation',
    'Payload',
    'unmasked MB/s',
    'masked MB/s',
    `ws ${wsVersion} unmasked MB/s`,
    `ws ${wsVersion} masked MB/s`,
  ],
  rows.map((r) => [
    r.operation,
    r.size,
    fmt(mbps(r.unmasked)) + byReference(r),
    fmt(mbps(r.masked)),
    fmt(mbps(r.wsUnmasked)) + byReference(r),
    fmt(mbps(r.wsMasked)),
  ]),
);
const masking = table(
  ['Payload', 'unmask GB/s', 'maskSlow GB/s', 'speed-up'],
  maskRows.map((r) => [r.size, fmt(gbps(r.fast)), fmt(gbps(r.slow)), `${(r.fast / r.slow).toFixed(1)}x`]),
);
if (rows.length > 0) console.log(`\n${throughput}`);
if (maskRows.length > 0) console.log(`\n${masking}`);

const section = `## Protocol core

\`npm run bench:core\` (bench/core.ts), ${date} UTC, on ${machine}. ${RUNS} runs of
${RUN_MS} ms per cell after a warm-up; the median is shown. MB/s counts payload bytes
(10^6 bytes per second). Binary messages, so UTF-8 validation is not in the figures.

- **parse**: \`Connection.receive\` of a pre-built stream in 64 KiB reads, up to
  \`onMessage\` for every message. Masked: a server reading client frames (unmasking in
  place); unmasked: a client reading server frames. 1 MiB messages span reads, so they
  are reassembled (one copy).
- **serialize**: \`Connection.send\` for each message, then one \`takeOutput()\`. Masked: a
  client (payload copied and masked); unmasked: a server (payloads over 16 KiB are passed
  through by reference after their header, so those figures are bounded by the header
  work, not by the payload size).
- **ws** (for scale, same machine and run): \`Receiver\` fed the same reads, and
  \`Sender.frame\` for each message (framing only: ws then writes each frame itself;
  sockeye's figure includes coalescing into one output buffer). Pure JavaScript ws:
  \`bufferutil\` is not installed.

${throughput}

Masking, in place, over one buffer (\`unmask\` is the 32-bit word path used by the
parser and the serializer; \`maskSlow\` the byte-at-a-time reference):

${masking}

These figures are provisional: they were taken on a machine shared with other jobs, so
they are noisy; the lead re-runs the benchmark on a quiet machine.
`;

if (!values['no-write'] && ONLY === undefined) {
  const path = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'benchmarks.md');
  const current = existsSync(path)
    ? readFileSync(path, 'utf8')
    : '# Benchmarks\n\nMeasured numbers, with the machine and date they come from.\n\n';
  const start = current.indexOf('## Protocol core');
  let next: string;
  if (start === -1) {
    next = `${current.trimEnd()}\n\n${section}`;
  } else {
    const after = current.indexOf('\n## ', start + 1);
    next = current.slice(0, start) + section + (after === -1 ? '' : `\n${current.slice(after + 1)}`);
  }
  writeFileSync(path, next);
  console.log(`\nwrote the "Protocol core" section of ${path}`);
}
