/**
 * The servers under test. Each is a small entry file in bench/servers/ with one contract:
 * `--port P --host H`, print `listening on ws://H:P` when ready, echo every message with
 * its type. Swapping what a row runs is a one-line change here or in that file.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../scripts/lib/prereqs.js';

/** How to start one server. */
export interface Launch {
  command: string;
  args: string[];
  env?: Record<string, string>;
  /** Checks the server's startup output; returns why the row is invalid, or null. */
  check?: (output: string) => string | null;
  /** A version string for the report. */
  version?: string;
  /** A fan-out server that also takes `--redis URL --node ID` (topics across processes on Redis). */
  redis?: boolean;
}

/** A row of the benchmark. */
export interface ServerSpec {
  /** Short name, used by `--servers` and as the table's column heading. */
  name: string;
  /** One line on what it is. */
  description: string;
  /** Prepare the server (install it if needed); a string says why the row is left out. */
  prepare(): Launch | string;
  /** Whether the entry takes `--deflate` (permessage-deflate on). @defaultValue true */
  compression?: boolean;
  /**
   * The fan-out server of this row (bench/servers/fanout-*: `/sub` subscribes and is sent
   * `ok`, what `/pub` sends goes to every subscriber), called after `prepare()`; absent
   * when the row has none.
   */
  fanout?(): Launch | string;
}

/** The baseline every ratio is computed against. */
export const BASELINE = 'ws+native';

/** The Bun release installed on demand (the `bun` package ships its binary). */
export const BUN_VERSION = '1.4.5';

const NODE = process.execPath;
const entry = (file: string) => join(ROOT, 'bench', 'servers', file);
const wsVersion = (): string => {
  const result = spawnSync(NODE, ['-p', "require('ws/package.json').version"], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return `ws ${result.stdout.trim()}`;
};

/** The commit the working tree is on, with `+changes` when it has uncommitted ones. */
export function commit(): string {
  const git = (...args: string[]) =>
    spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() ?? '';
  const hash = git('rev-parse', '--short', 'HEAD') || 'unknown commit';
  return git('status', '--porcelain', '--untracked-files=no') === '' ? hash : `${hash}+changes`;
}

/** Install Bun into bench/.cache/bun (gitignored) unless it is there; returns the binary. */
export function installBun(): string {
  const prefix = join(ROOT, 'bench', '.cache', 'bun');
  const binary = join(prefix, 'node_modules', 'bun', 'bin', 'bun.exe');
  const works = () =>
    existsSync(binary) &&
    spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout?.trim() === BUN_VERSION;
  if (works()) return binary;
  mkdirSync(prefix, { recursive: true });
  console.log(`installing bun@${BUN_VERSION} into bench/.cache/bun ...`);
  const npm = spawnSync(
    'npm',
    [
      'install',
      '--prefix',
      prefix,
      '--no-save',
      '--no-package-lock',
      '--no-audit',
      '--no-fund',
      `bun@${BUN_VERSION}`,
    ],
    { cwd: ROOT, encoding: 'utf8', timeout: 180_000 },
  );
  if (npm.status !== 0) throw new Error(`npm install bun@${BUN_VERSION} failed: ${npm.stderr || npm.error}`);
  if (!works()) throw new Error(`bun@${BUN_VERSION} installed, but ${binary} does not run on this machine`);
  return binary;
}

/** Every server, in table order. */
export const SERVERS: ServerSpec[] = [
  {
    name: 'sockeye',
    description:
      'sockeye’s WebSocketServer, compiled (packages/sockeye/dist, as users run it): bench/servers/sockeye.mjs',
    prepare: () => ({
      command: NODE,
      args: [entry('sockeye.mjs')],
      version: `sockeye at ${commit()}`,
    }),
    fanout: () => ({
      command: NODE,
      args: [entry('fanout-sockeye.mjs')],
      version: `sockeye at ${commit()}`,
      redis: true,
    }),
  },
  {
    name: 'sockeye/ws',
    description:
      'the `ws`-compatible layer (`@sockeye/sockeye/ws`, compiled): bench/servers/sockeye-ws.mjs, the ws echo server with its import changed',
    prepare: () => ({
      command: NODE,
      args: [entry('sockeye-ws.mjs')],
      version: `sockeye at ${commit()}`,
    }),
  },
  {
    name: 'ws',
    description: '`ws` without native add-ons (WS_NO_BUFFER_UTIL=1, WS_NO_UTF_8_VALIDATE=1)',
    prepare: () => ({
      command: NODE,
      args: [entry('ws.mjs')],
      env: { WS_NO_BUFFER_UTIL: '1', WS_NO_UTF_8_VALIDATE: '1' },
      check: (output) => (/bufferutil=no/.test(output) ? null : 'plain ws loaded bufferutil'),
      version: wsVersion(),
    }),
    fanout: () => ({
      command: NODE,
      args: [entry('fanout-ws.mjs')],
      env: { WS_NO_BUFFER_UTIL: '1', WS_NO_UTF_8_VALIDATE: '1' },
    }),
  },
  {
    name: BASELINE,
    description:
      '`ws` with bufferutil (+ utf-8-validate installed; ws prefers Node’s buffer.isUtf8), as deployed',
    prepare: () => ({
      command: NODE,
      args: [entry('ws.mjs')],
      check: (output) =>
        /bufferutil=yes/.test(output) ? null : 'ws did not load bufferutil (is it installed and built?)',
      version: wsVersion(),
    }),
    fanout: () => ({ command: NODE, args: [entry('fanout-ws.mjs')] }),
  },
  {
    name: 'node-raw',
    description:
      'the raw Node ceiling: net server, handshake, cut-through reframing, one write per read; its fan-out (bench/servers/fanout-node-raw.mjs) frames a message once and writes that buffer to every subscriber',
    prepare: () => ({ command: NODE, args: [entry('node-raw.mjs')], version: `node ${process.version}` }),
    compression: false,
    fanout: () => ({ command: NODE, args: [entry('fanout-node-raw.mjs')] }),
  },
  {
    name: 'bun',
    description: `Bun.serve with websocket handlers (uWebSockets inside), bun@${BUN_VERSION} from npm`,
    prepare: () => {
      try {
        return { command: installBun(), args: [entry('bun.mjs')], version: `bun ${BUN_VERSION}` };
      } catch (error) {
        return `bun is not available: ${(error as Error).message}`;
      }
    },
    fanout: () => {
      try {
        return { command: installBun(), args: [entry('fanout-bun.mjs')], version: `bun ${BUN_VERSION}` };
      } catch (error) {
        return `bun is not available: ${(error as Error).message}`;
      }
    },
  },
];
