/**
 * The Autobahn suites `npm run conformance` runs (conformance/generate.ts) and that the
 * conformance tests share. Each suite says what is under test, which cases, and how to run
 * them; adding a suite (the client under test, sections 12/13 with permessage-deflate) is
 * one more entry in {@link SUITES} built with {@link serverSuite} or {@link clientSuite}.
 */
import { ROOT } from '../../scripts/lib/prereqs.js';
import { freePort, startProcess } from '../../scripts/lib/process.js';
import {
  type CaseResult,
  reportDir,
  runFuzzingClient,
  SECTIONS_1_TO_10,
  startFuzzingServer,
} from './autobahn.js';
import { DEFLATE_CLIENT_SECTIONS, driveSockeyeClient, driveSockeyeDeflateClient } from './client-driver.js';

/** One Autobahn run: a peer under test and a case selection. */
export interface Suite {
  /** Short id; also the report folder under reports/autobahn/. */
  id: string;
  /** Heading in docs/conformance.md. */
  title: string;
  /** What is under test, in a sentence (Markdown). */
  underTest: string;
  /** kosoku's mode: `fuzzingclient` tests a server, `fuzzingserver` tests a client. */
  mode: 'fuzzingclient' | 'fuzzingserver';
  /** Case ids or globs passed to kosoku with `-i`. */
  include: readonly string[];
  /** Case ids or globs passed to kosoku with `-x`. */
  exclude: readonly string[];
  /** Shell commands that reproduce the run by hand (Markdown code block body). */
  reproduce: string;
  /** Run the suite, writing kosoku's reports to `outDir`; resolves with every case's result. */
  run(outDir: string): Promise<CaseResult[]>;
}

/** Where a suite's reports go: reports/autobahn/<id> (gitignored). */
export function suiteReportDir(suite: Suite): string {
  return reportDir(suite.id);
}

function kosokuArgs(include: readonly string[], exclude: readonly string[]): string {
  return [...include.map((id) => `-i '${id}'`), ...exclude.map((id) => `-x '${id}'`)].join(' ');
}

/**
 * A suite for a server under test: start it with `command(port)` on a free loopback port,
 * wait for `ready` in its output, run kosoku's fuzzing client against it, stop it.
 */
export function serverSuite(options: {
  id: string;
  title: string;
  underTest: string;
  include: readonly string[];
  exclude?: readonly string[];
  /** The server's command line for a port; `npmScript` is how a person starts it by hand. */
  command(port: number): { command: string; args: string[]; npmScript: string };
  ready: RegExp;
}): Suite {
  const exclude = options.exclude ?? [];
  const byHand = options.command(9001);
  return {
    id: options.id,
    title: options.title,
    underTest: options.underTest,
    mode: 'fuzzingclient',
    include: options.include,
    exclude,
    reproduce: [
      `${byHand.npmScript} &`,
      `.venv/bin/kosoku -m fuzzingclient -p 2 -o reports/autobahn/${options.id} ${kosokuArgs(options.include, exclude)} 127.0.0.1:9001`,
      `# HTML report: reports/autobahn/${options.id}/index.html`,
    ].join('\n'),
    async run(outDir) {
      const port = await freePort();
      const { command, args } = options.command(port);
      const server = await startProcess(command, args, options.ready, { cwd: ROOT });
      try {
        return await runFuzzingClient(`127.0.0.1:${port}`, { include: options.include, exclude, outDir });
      } finally {
        await server.stop();
      }
    },
  };
}

/**
 * A suite for a client under test: start kosoku's fuzzing server on a free loopback port
 * and let `driveClient(url)` run the standard Autobahn client flow against it
 * (`/getCaseCount`, then `/runCase?case=N&agent=A` for each case echoing every message,
 * then `/updateReports?agent=A`); kosoku then writes its report and exits.
 */
export function clientSuite(options: {
  id: string;
  title: string;
  underTest: string;
  include: readonly string[];
  exclude?: readonly string[];
  /** Runs the client under test through every case, then calls /updateReports. */
  driveClient(url: string): Promise<void>;
  /** How to run the client by hand against `ws://127.0.0.1:9001`. */
  reproduceClient: string;
}): Suite {
  const exclude = options.exclude ?? [];
  return {
    id: options.id,
    title: options.title,
    underTest: options.underTest,
    mode: 'fuzzingserver',
    include: options.include,
    exclude,
    reproduce: [
      `.venv/bin/kosoku -m fuzzingserver -o reports/autobahn/${options.id} ${kosokuArgs(options.include, exclude)} 127.0.0.1:9001 &`,
      options.reproduceClient,
      `# HTML report: reports/autobahn/${options.id}/index.html`,
    ].join('\n'),
    async run(outDir) {
      const fuzzer = await startFuzzingServer(await freePort(), {
        include: options.include,
        exclude,
        outDir,
      });
      try {
        await options.driveClient(fuzzer.url);
        return await fuzzer.results;
      } finally {
        fuzzer.stop();
      }
    },
  };
}

/** The conformance echo server (the `npm run echo` contract) as a server under test. */
export const ECHO_SERVER_SECTIONS_1_TO_10: Suite = serverSuite({
  id: 'server',
  title: 'Server: the conformance echo server, sections 1-10',
  underTest:
    '`conformance/echo-server.ts` (`npm run echo`), echoing every message with its type, limits raised to what section 9 needs.',
  include: SECTIONS_1_TO_10,
  command: (port) => ({
    command: process.execPath,
    args: ['--import', 'tsx', 'conformance/echo-server.ts', '--port', String(port)],
    npmScript: `npm run echo -- --port ${port}`,
  }),
  ready: /listening on ws:\/\//,
});

/** The conformance echo server with permessage-deflate (on by default): sections 12 and 13. */
export const ECHO_SERVER_DEFLATE: Suite = serverSuite({
  id: 'server-deflate',
  title: 'Server: the conformance echo server, sections 12-13 (permessage-deflate)',
  underTest:
    '`conformance/echo-server.ts` (`npm run echo`) accepting permessage-deflate (threshold 0, context takeover when the client allows it), echoing every message with its type.',
  include: ['12.*', '13.*'],
  command: (port) => ({
    command: process.execPath,
    args: ['--import', 'tsx', 'conformance/echo-server.ts', '--port', String(port)],
    npmScript: `npm run echo -- --port ${port}`,
  }),
  ready: /listening on ws:\/\//,
});

/** sockeye's WHATWG `WebSocket` client under test, through the standard Autobahn client flow. */
export const CLIENT_SECTIONS_1_TO_10: Suite = clientSuite({
  id: 'client',
  title: 'Client: the sockeye WebSocket client, sections 1-10',
  underTest:
    "sockeye's `WebSocket` (`packages/sockeye/src/client/`) driven by `conformance/lib/client-driver.ts`, echoing every message with its type, limits raised to what section 9 needs; permessage-deflate is offered as by default, and kosoku declines it outside sections 12-13.",
  include: SECTIONS_1_TO_10,
  driveClient: driveSockeyeClient,
  reproduceClient:
    "node --import tsx -e \"import('./conformance/lib/client-driver.ts').then((m) => m.driveSockeyeClient('ws://127.0.0.1:9001'))\"",
});

/** sockeye's client with permessage-deflate, sections 12 and 13, each case with the offer it is about. */
export const CLIENT_DEFLATE_SECTIONS_12_13: Suite = clientSuite({
  id: 'client-deflate',
  title: 'Client: the sockeye WebSocket client with permessage-deflate, sections 12-13',
  underTest:
    "sockeye's `WebSocket` driven by `conformance/lib/client-driver.ts` (`driveSockeyeDeflateClient`): permessage-deflate offered in every case, with the offer each subsection of 13 is about (`DEFLATE_OFFERS`), every echoed message compressed (threshold 0).",
  include: DEFLATE_CLIENT_SECTIONS,
  driveClient: (url) => driveSockeyeDeflateClient(url),
  reproduceClient:
    "node --import tsx -e \"import('./conformance/lib/client-driver.ts').then((m) => m.driveSockeyeDeflateClient('ws://127.0.0.1:9001'))\"",
});

/**
 * Every suite `npm run conformance` runs, in the order docs/conformance.md lists them.
 */
export const SUITES: readonly Suite[] = [
  ECHO_SERVER_SECTIONS_1_TO_10,
  ECHO_SERVER_DEFLATE,
  CLIENT_SECTIONS_1_TO_10,
  CLIENT_DEFLATE_SECTIONS_12_13,
];
