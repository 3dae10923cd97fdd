#!/usr/bin/env node
// `npm test`: everything a change must pass, in order, stopping at the first failure.
//   1. provision   Debian packages and the Python venv the suites need
//   2. build       tsc -b (every package), then the demo's page bundles (esbuild)
//   3. typecheck   sources, tests, scripts, bench and conformance code
//   4. lint        biome check
//   5. tests       every *.test.ts under packages/, apps/ and conformance/ with node:test,
//                  under c8 so the protocol core's line coverage is printed and enforced (>= 95%)
//
// Options: --skip-provision, --only <substring> (run just the test files whose path contains it).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: { 'skip-provision': { type: 'boolean' }, only: { type: 'string' } },
});
const bin = (name) => join(root, 'node_modules', '.bin', name);

/** Test files: **\/*.test.ts below these folders (node_modules and dist excluded). */
const TEST_ROOTS = ['packages', 'apps', 'conformance'];

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

function stage(name, command, args, env = {}) {
  const started = Date.now();
  console.log(`\n=== ${name}: ${[command, ...args].map((a) => relative(root, a) || a).join(' ')}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (result.status !== 0) {
    console.error(`\n=== ${name} FAILED (exit ${result.status ?? result.signal}) after ${seconds} s`);
    process.exit(result.status || 1);
  }
  console.log(`=== ${name} passed in ${seconds} s`);
}

if (!values['skip-provision']) stage('provision', process.execPath, [join(root, 'scripts', 'provision.mjs')]);
stage('build', bin('tsc'), ['-b']);
stage('bundle', process.execPath, [join(root, 'apps', 'demo', 'scripts', 'bundle.mjs')]);
stage('typecheck', bin('tsc'), ['-p', 'tsconfig.test.json']);
stage('lint', bin('biome'), ['check', '.']);

let files = TEST_ROOTS.flatMap((dir) => findTests(join(root, dir))).sort();
if (values.only) files = files.filter((file) => file.includes(values.only));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
stage(
  'tests',
  bin('c8'),
  [
    '--all',
    '--src=packages/sockeye/src/protocol',
    '--include=packages/sockeye/src/protocol/**',
    '--exclude=**/*.test.ts',
    '--reporter=text',
    '--reports-dir=coverage',
    ...(values.only ? [] : ['--check-coverage', '--lines=95']),
    process.execPath,
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    ...files,
  ],
  { FORCE_COLOR: process.env.FORCE_COLOR ?? '0' },
);
console.log('\nnpm test: all stages passed');
