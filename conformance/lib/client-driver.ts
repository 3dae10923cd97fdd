/**
 * Drives sockeye's WHATWG `WebSocket` client through kosoku's fuzzing server with the
 * standard Autobahn client flow: `/getCaseCount`, then `/runCase?case=N&agent=sockeye` for
 * each case (echoing every message with its type), then `/updateReports?agent=sockeye`.
 * Used by conformance/autobahn-client.test.ts and, for docs/conformance.md, by
 * `npm run conformance`.
 */
import { WebSocket } from '../../packages/sockeye/src/client/websocket.js';
import { freePort } from '../../scripts/lib/process.js';
import { type CaseResult, type CaseSelection, reportDir, startFuzzingServer } from './autobahn.js';

/** The agent name in kosoku's reports. */
export const CLIENT_AGENT = 'sockeye';

/** Sections 1-10 of the Autobahn TestSuite (section 8 does not exist; 11+ need permessage-deflate). */
export const CLIENT_SECTIONS: readonly string[] = [
  '1.*',
  '2.*',
  '3.*',
  '4.*',
  '5.*',
  '6.*',
  '7.*',
  '9.*',
  '10.*',
];

/** Section 9 sends 16 MiB messages: the client's limit is raised above that for the suite. */
const SUITE_MAX_PAYLOAD = 64 * 1024 * 1024;
/** Section 9.3 and 9.4 send 4 MiB in 64-byte frames (65536 of them). */
const SUITE_MAX_FRAGMENTS = 128 * 1024;

/** Open `url`, echo every message until the connection closes; resolves on `close`. */
function echoUntilClosed(url: string): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, [], {
      maxPayload: SUITE_MAX_PAYLOAD,
      maxFragments: SUITE_MAX_FRAGMENTS,
      closeTimeout: 5000,
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
 */
export async function driveSockeyeClient(base: string): Promise<void> {
  const count = await caseCount(base);
  for (let n = 1; n <= count; n++) {
    await echoUntilClosed(`${base}/runCase?case=${n}&agent=${CLIENT_AGENT}`);
  }
  await echoUntilClosed(`${base}/updateReports?agent=${CLIENT_AGENT}`);
}

/**
 * Run the sockeye client through the selected cases (sections 1-10 by default) and return
 * every case's result, sorted by id. The report is written to `outDir`
 * (default: reports/autobahn/client).
 */
export async function runSockeyeClientSuite(
  outDir = reportDir('client'),
  selection: Omit<CaseSelection, 'outDir'> = { include: CLIENT_SECTIONS },
): Promise<CaseResult[]> {
  const server = await startFuzzingServer(await freePort(), { ...selection, outDir });
  try {
    await driveSockeyeClient(server.url);
    return await server.results;
  } finally {
    server.stop();
  }
}
