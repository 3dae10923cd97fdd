/**
 * Drives sockeye's WHATWG `WebSocket` client through kosoku's fuzzing server with the
 * standard Autobahn client flow: `/getCaseCount`, then `/runCase?case=N&agent=sockeye` for
 * each case (echoing every message with its type), then `/updateReports?agent=sockeye`.
 * Used by conformance/autobahn-client.test.ts, conformance/autobahn-client-deflate.test.ts
 * and, for docs/conformance.md, by `npm run conformance`.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ClientOptions } from '../../packages/sockeye/src/client/options.js';
import { WebSocket } from '../../packages/sockeye/src/client/websocket.js';
import type { PerMessageDeflateOptions } from '../../packages/sockeye/src/protocol/permessage-deflate.js';
import { freePort } from '../../scripts/lib/process.js';
import {
  type CaseResult,
  type CaseSelection,
  reportDir,
  SECTIONS_1_TO_10,
  startFuzzingServer,
} from './autobahn.js';

/** The agent name in kosoku's reports. */
export const CLIENT_AGENT = 'sockeye';

/** Section 9 sends 16 MiB messages: the client's limit is raised above that for the suite. */
const SUITE_MAX_PAYLOAD = 64 * 1024 * 1024;
/** Section 9.3 and 9.4 send 4 MiB in 64-byte frames (65536 of them). */
const SUITE_MAX_FRAGMENTS = 128 * 1024;

/** Open `url`, echo every message until the connection closes; resolves on `close`. */
function echoUntilClosed(url: string, options: ClientOptions = {}): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, [], {
      maxPayload: SUITE_MAX_PAYLOAD,
      maxFragments: SUITE_MAX_FRAGMENTS,
      closeTimeout: 5000,
      ...options,
    });
    ws.binaryType = 'arraybuffer';
    ws.onmessage = (event) => {
      ws.send((event as MessageEvent<string | ArrayBuffer>).data);
    };
    ws.onclose = () => resolve();
  });
}

/** Ask the fuzzing server how many cases it will run. */
function caseCount(base: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base}/getCaseCount`);
    let count = Number.NaN;
    ws.onmessage = (event) => {
      count = Number((event as MessageEvent<string>).data);
    };
    ws.onclose = () => (Number.isInteger(count) ? resolve(count) : reject(new Error('no case count')));
  });
}

/**
 * The standard Autobahn client flow against a fuzzing server at `base` (ws://host:port):
 * every case in turn, echoing each message, then /updateReports so kosoku writes its report.
 * @param optionsFor - the client's options for the case run as number `n` (1-based);
 * sockeye's defaults (permessage-deflate offered) when omitted
 * @param expectedCount - fail unless the server runs exactly this many cases (when
 * `optionsFor` relies on the order of the cases)
 */
export async function driveSockeyeClient(
  base: string,
  optionsFor: (n: number) => ClientOptions = () => ({}),
  expectedCount?: number,
): Promise<void> {
  const count = await caseCount(base);
  if (expectedCount !== undefined && count !== expectedCount) {
    throw new Error(`the fuzzing server runs ${count} cases, expected ${expectedCount}`);
  }
  for (let n = 1; n <= count; n++) {
    await echoUntilClosed(`${base}/runCase?case=${n}&agent=${CLIENT_AGENT}`, optionsFor(n));
  }
  await echoUntilClosed(`${base}/updateReports?agent=${CLIENT_AGENT}`);
}

// ---- sections 12 and 13: permessage-deflate ----

/** Autobahn sections 12 (compressed echo, default offer) and 13 (offer and answer variants). */
export const DEFLATE_CLIENT_SECTIONS: readonly string[] = ['12.*', '13.*'];

/** Message sizes and fragmentations per subsection (MSG_SIZES in kosoku's case12_x_x.py). */
const DEFLATE_SIZES = 18;
/** Subsections: 12.1-12.5 (five data sets), 13.1-13.7 (seven offer/accept pairs). */
const DEFLATE_SUBSECTIONS: ReadonlyArray<readonly [number, number]> = [
  [12, 5],
  [13, 7],
];

/** Every case id of sections 12 and 13, in the order kosoku runs them (12.1.1 ... 13.7.18). */
export const DEFLATE_CASE_IDS: readonly string[] = DEFLATE_SUBSECTIONS.flatMap(([section, count]) =>
  Array.from({ length: count }, (_, sub) =>
    Array.from({ length: DEFLATE_SIZES }, (_, size) => `${section}.${sub + 1}.${size + 1}`),
  ).flat(),
);

/**
 * What the client offers in each subsection of 13: the offer the Autobahn client makes in
 * that case (`CLIENT_OFFERS`: server_no_context_takeover, server_max_window_bits), plus
 * what the fuzzing server's accept function looks for in it (`client_no_context_takeover`
 * for 13.2 and 13.5-13.7, `client_max_window_bits` for 13.3-13.7), so that every case runs
 * compressed with the parameters it is about. 13.7's first offer stands for its three
 * (sockeye offers one). Section 12 uses the default offer.
 */
export const DEFLATE_OFFERS: Readonly<Record<string, PerMessageDeflateOptions>> = {
  '13.1': {},
  '13.2': { serverNoContextTakeover: true, clientNoContextTakeover: true },
  '13.3': { serverMaxWindowBits: 9 },
  '13.4': { serverMaxWindowBits: 15 },
  '13.5': { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 9 },
  '13.6': { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 15 },
  '13.7': { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 9 },
};

/**
 * The client's permessage-deflate options for a case of section 12 or 13. By default
 * `threshold: 0` compresses every echoed message, so that small messages exercise our
 * compressor too; with the default threshold (1024) those under 1 KiB go plain, which is
 * also conformant (RFC 7692 section 6).
 */
export function deflateOptionsFor(caseId: string, threshold = 0): PerMessageDeflateOptions {
  const subsection = caseId.split('.').slice(0, 2).join('.');
  return { ...(DEFLATE_OFFERS[subsection] ?? {}), threshold };
}

/**
 * The Autobahn client flow for sections 12 and 13, each case with its offer
 * ({@link deflateOptionsFor}). `caseIds` are the cases the fuzzing server runs, in
 * {@link DEFLATE_CASE_IDS} order (it runs them in that order).
 */
export function driveSockeyeDeflateClient(
  base: string,
  caseIds: readonly string[] = DEFLATE_CASE_IDS,
  threshold = 0,
): Promise<void> {
  return driveSockeyeClient(
    base,
    (n) => ({ perMessageDeflate: deflateOptionsFor(caseIds[n - 1] as string, threshold) }),
    caseIds.length,
  );
}

/** One fuzzing server's share of a sharded run: its cases, in the order it ran them, and its report. */
export interface DeflateShard {
  /** kosoku's report folder for this shard. */
  readonly outDir: string;
  /** The cases this shard ran, in {@link DEFLATE_CASE_IDS} order. */
  readonly caseIds: readonly string[];
  /** Every case's result, sorted by id. */
  readonly results: CaseResult[];
}

/**
 * How many fuzzing servers the client's sections 12-13 are split across by default. Each
 * case is a strict ping-pong of 1,000 messages (kosoku sends one, the client echoes it,
 * kosoku checks it and sends the next), so one server and its client never keep more than
 * one core busy between them, about half of it in kosoku's Python and half in the client:
 * the suite is bound by that round trip, not by either side. Measured on the 2-core
 * machine while other work ran (load 4), 54 cases (12.1, 12.3, 13.5): 99 s with one
 * server, 87 s with two, 68 s with four. More servers only add memory.
 */
export const DEFAULT_DEFLATE_SHARDS = 4;

/**
 * Run sections 12 and 13 for the client (or the `caseIds` among them, listed in
 * {@link DEFLATE_CASE_IDS} order) with the given compression threshold, split across
 * `shards` fuzzing servers that run at once (case i goes to shard i mod `shards`, which
 * spreads the large-message cases evenly). Reports go to `outDir/1`, `outDir/2`, ...
 * (`outDir` is emptied first).
 */
export async function runSockeyeDeflateClientSuite(
  outDir = reportDir('client-deflate'),
  options: { caseIds?: readonly string[]; threshold?: number; shards?: number } = {},
): Promise<DeflateShard[]> {
  const caseIds = options.caseIds ?? DEFLATE_CASE_IDS;
  const count = Math.max(1, Math.min(options.shards ?? DEFAULT_DEFLATE_SHARDS, caseIds.length));
  rmSync(outDir, { recursive: true, force: true });
  const shards = Array.from({ length: count }, (_, k) => ({
    outDir: join(outDir, String(k + 1)),
    caseIds: caseIds.filter((_, i) => i % count === k),
  }));
  return Promise.all(
    shards.map(async (shard): Promise<DeflateShard> => {
      const server = await startFuzzingServer(await freePort(), {
        include: shard.caseIds,
        outDir: shard.outDir,
      });
      try {
        await driveSockeyeDeflateClient(server.url, shard.caseIds, options.threshold ?? 0);
        return { ...shard, results: await server.results };
      } finally {
        server.stop();
      }
    }),
  );
}

/**
 * Run the sockeye client through the selected cases (sections 1-10 by default) and return
 * every case's result, sorted by id. The report is written to `outDir`
 * (default: reports/autobahn/client).
 */
export async function runSockeyeClientSuite(
  outDir = reportDir('client'),
  selection: Omit<CaseSelection, 'outDir'> = { include: SECTIONS_1_TO_10 },
): Promise<CaseResult[]> {
  const server = await startFuzzingServer(await freePort(), { ...selection, outDir });
  try {
    await driveSockeyeClient(server.url);
    return await server.results;
  } finally {
    server.stop();
  }
}
