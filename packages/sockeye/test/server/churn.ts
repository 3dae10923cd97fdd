/**
 * The churn run: many connections opened and closed in rounds against a server with
 * caps, rates and lifetimes on, while one health connection stays open and echoes. After
 * the last round it reports heap and RSS after a full collection against the baseline,
 * open file descriptors (`/proc/self/fd`) and timers (`process.getActiveResourcesInfo()`)
 * against the baseline, and the health connection's slowest round trip. The connections
 * come from a child process (so the server process's descriptors and memory are its own,
 * and 10,000 connections need 10,000 descriptors here, not 20,000); the health connection
 * is the server process's own.
 *
 * `churn.test.ts` runs a bounded form in `npm test`. The long form (see
 * docs/operations.md):
 *
 *     node --import tsx packages/sockeye/test/server/churn.ts --rounds 10 --connections 10000
 */
import { type ChildProcess, fork } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gc } from '../../../../scripts/lib/memory.js';
import { WebSocketServer } from '../../src/index.js';
import { clientFrame, closePayload, RawClient, upgradeRequest } from './helpers.js';

/** What a churn run measured. */
export interface ChurnReport {
  connections: number;
  rounds: number;
  heapBaseline: number;
  heapAfter: number;
  rssBaseline: number;
  rssAfter: number;
  fdsBaseline: number;
  fdsAfter: number;
  timersBaseline: number;
  timersAfter: number;
  /** The health connection's slowest echo round trip, in ms. */
  slowestHealthRoundTripMs: number;
  /** Handshakes refused (there should be none: the caps are above the load). */
  refused: number;
}

function openDescriptors(): number {
  return readdirSync('/proc/self/fd').length;
}

function timers(): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
}

/** Open one connection (handshake done), or null when refused. */
async function openOne(port: number, request: string): Promise<RawClient | null> {
  const client = await RawClient.connect(port);
  client.write(request);
  const { status } = await client.response();
  if (status === 101) return client;
  client.destroy();
  return null;
}

/** Close a connection with a close handshake; resolves when its TCP connection is gone. */
async function closeOne(client: RawClient): Promise<void> {
  client.write(clientFrame(0x8, closePayload(1000)));
  await client.waitClosed(30_000);
}

/** A message from the load generator (the child process). */
type LoadReport = { type: 'opened'; failed: number } | { type: 'closed' };

/** The load generator: opens and closes connections when the parent says so. */
async function loadGenerator(port: number, perRound: number, parallel: number): Promise<void> {
  const request = upgradeRequest('/', {}, port);
  let held: RawClient[] = [];
  const send = (message: LoadReport) => process.send!(message);
  process.on('message', async (command: 'open' | 'close' | 'exit') => {
    if (command === 'exit') process.exit(0);
    if (command === 'open') {
      let failed = 0;
      let next = 0;
      const opener = async (): Promise<void> => {
        while (next < perRound) {
          next++;
          const client = await openOne(port, request);
          if (client === null) failed++;
          else held.push(client);
        }
      };
      await Promise.all(Array.from({ length: parallel }, opener));
      send({ type: 'opened', failed });
    } else {
      const closing = held;
      held = [];
      let at = 0;
      const closer = async (): Promise<void> => {
        while (at < closing.length) await closeOne(closing[at++]!);
      };
      await Promise.all(Array.from({ length: parallel }, closer));
      send({ type: 'closed' });
    }
  });
}

/** Ask the load generator to do `command` and wait for its answer. */
function ask(child: ChildProcess, command: 'open' | 'close'): Promise<LoadReport> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`the load generator exited (${code})`));
    child.once('exit', onExit);
    child.once('message', (message: LoadReport) => {
      child.off('exit', onExit);
      resolve(message);
    });
    child.send(command);
  });
}

/**
 * Run `rounds` rounds: open `perRound` connections (`parallel` handshakes at a time) from
 * a child process and hold them all, then close them all; the server process checks its
 * health connection all along.
 */
export async function churn({
  rounds,
  perRound,
  parallel = 100,
  log = () => {},
}: {
  rounds: number;
  perRound: number;
  parallel?: number;
  log?: (line: string) => void;
}): Promise<ChurnReport> {
  const server = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    handlers: { message: (ws, data) => ws.send(data) },
    connectionLimits: {
      maxConnections: perRound + 10,
      maxConnectionsPerAddress: perRound + 10,
      handshakeRate: { perSecond: 1_000_000, burst: 1_000_000 },
    },
    messageLimits: { messages: { perSecond: 1000 } },
    maxLifetime: 3_600_000,
    idleTimeout: 600_000,
    countMessages: true,
  });
  const port = (await server.listen())!.port;
  const request = upgradeRequest('/', {}, port);
  const child = fork(
    fileURLToPath(import.meta.url),
    ['--load', String(port), String(perRound), String(parallel)],
    {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );

  const settle = async (): Promise<void> => {
    for (let i = 0; i < 500 && server.socketCount > 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  };
  /** Run one phase of the load generator, checking health every 50 ms meanwhile. */
  const phase = async (command: 'open' | 'close', check: () => Promise<void>): Promise<LoadReport> => {
    let done = false;
    const answer = ask(child, command).finally(() => {
      done = true;
    });
    while (!done) {
      await check();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        answer.catch(() => {}),
        new Promise((resolve) => (timer = setTimeout(resolve, 50))),
      ]);
      clearTimeout(timer);
    }
    return answer;
  };
  const round = async (check: () => Promise<void>): Promise<number> => {
    const opened = await phase('open', check);
    await check(); // every connection of the round open
    await phase('close', check);
    return opened.type === 'opened' ? opened.failed : 0;
  };

  try {
    // Warm up with one round (JIT, pools, allocator arenas at their working size), let every
    // socket go, then take the baseline.
    await round(async () => {});
    await settle();
    const fdsBaseline = openDescriptors();
    const timersBaseline = timers();
    const heapBaseline = process.memoryUsage().heapUsed;
    const rssBaseline = process.memoryUsage().rss;

    const health = await RawClient.connect(port);
    health.write(request);
    await health.response();
    let slowest = 0;
    let echoes = 0;
    const roundTrip = async (): Promise<void> => {
      const started = performance.now();
      const before = health.frames().length;
      health.write(clientFrame(0x1, `health ${echoes++}`));
      await health.waitFor(() => health.frames().length > before, 'the health echo', 10_000);
      slowest = Math.max(slowest, performance.now() - started);
    };

    let refused = 0;
    for (let index = 0; index < rounds; index++) {
      refused += await round(roundTrip);
      await roundTrip();
      gc();
      log(
        `round ${index + 1}/${rounds}: ${perRound} connections, heap after gc ${megabytes(process.memoryUsage().heapUsed)}, ` +
          `slowest health round trip ${slowest.toFixed(1)} ms`,
      );
    }

    health.write(clientFrame(0x8, closePayload(1000)));
    await health.waitClosed();
    await settle();
    child.send('exit');
    const report: ChurnReport = {
      connections: rounds * perRound,
      rounds,
      heapBaseline,
      heapAfter: process.memoryUsage().heapUsed,
      rssBaseline,
      rssAfter: process.memoryUsage().rss,
      fdsBaseline,
      fdsAfter: openDescriptors(),
      timersBaseline,
      timersAfter: timers(),
      slowestHealthRoundTripMs: slowest,
      refused,
    };
    return report;
  } finally {
    if (child.exitCode === null) child.kill();
    await server.close({ timeout: 100 });
  }
}

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** The report as lines a person reads. */
export function describeReport(report: ChurnReport): string {
  return [
    `${report.connections} connections in ${report.rounds} rounds (${report.refused} refused)`,
    `heap after gc: ${megabytes(report.heapBaseline)} -> ${megabytes(report.heapAfter)}`,
    `rss after gc:  ${megabytes(report.rssBaseline)} -> ${megabytes(report.rssAfter)}`,
    `descriptors:   ${report.fdsBaseline} -> ${report.fdsAfter}`,
    `timers:        ${report.timersBaseline} -> ${report.timersAfter}`,
    `slowest health round trip: ${report.slowestHealthRoundTripMs.toFixed(1)} ms`,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}` && process.argv[2] === '--load') {
  await loadGenerator(Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]));
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const { parseArgs } = await import('node:util');
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '10' },
      connections: { type: 'string', default: '10000' },
      parallel: { type: 'string', default: '200' },
    },
  });
  const report = await churn({
    rounds: Number(values.rounds),
    perRound: Number(values.connections),
    parallel: Number(values.parallel),
    log: (line) => console.log(line),
  });
  console.log(describeReport(report));
}
