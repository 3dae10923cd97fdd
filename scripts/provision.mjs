#!/usr/bin/env node
// Installs what `npm test` and `npm start` need beyond node_modules, idempotently:
// Debian packages (chromium, redis-server, openssl, tmux, fonts-noto-cjk) and a project-local Python venv
// with the tools in conformance/requirements.txt, plus a patch for a kosoku 0.1.0 bug
// (scripts/lib/kosoku-patch.mjs). Fast when everything is present.
//
// Usage: node scripts/provision.mjs [--only apt|venv]
// Under CI=true any failure is fatal; elsewhere too, since a test without its peer is no test.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { patchInstalledKosoku } from './lib/kosoku-patch.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { only: { type: 'string' } } });

/** Debian packages and the command each one provides. */
const APT = [
  ['chromium', '/usr/bin/chromium'],
  ['redis-server', '/usr/bin/redis-server'],
  ['openssl', '/usr/bin/openssl'],
  ['tmux', '/usr/bin/tmux'],
  // CJK glyphs for Chromium, so the demo's 我是阿宝哥 renders in screenshots (not as boxes).
  ['fonts-noto-cjk', '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc'],
];

function log(message) {
  console.log(`[provision] ${message}`);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed with exit code ${result.status}`);
  }
}

function provisionApt() {
  const missing = APT.filter(([, bin]) => !existsSync(bin)).map(([pkg]) => pkg);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `missing Debian packages ${missing.join(', ')} and not root: run 'sudo apt-get install -y ${missing.join(' ')}'`,
    );
  }
  log(`installing ${missing.join(', ')} with apt-get`);
  run('apt-get', ['update', '-qq']);
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

function provisionVenv() {
  const venv = join(root, '.venv');
  const requirements = join(root, 'conformance', 'requirements.txt');
  const stamp = join(venv, '.requirements.sha1');
  const digest = createHash('sha1').update(readFileSync(requirements)).digest('hex');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === digest) return;
  if (!existsSync(join(venv, 'bin', 'python'))) {
    log('creating .venv');
    run('python3', ['-m', 'venv', venv]);
  }
  log('installing Python tools into .venv');
  run(join(venv, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', '-r', requirements]);
  writeFileSync(stamp, digest);
}

/** Fix kosoku 0.1.0's str payloads in sections 12-13 (see scripts/lib/kosoku-patch.mjs); idempotent. */
function patchKosoku() {
  const outcome = patchInstalledKosoku(join(root, '.venv'));
  if (outcome === 'patched')
    log('patched kosoku 0.1.0 case12_x_x.py (str payloads of uncompressed messages)');
}

try {
  if (!values.only || values.only === 'apt') provisionApt();
  if (!values.only || values.only === 'venv') {
    provisionVenv();
    patchKosoku();
  }
  if (!values.only) {
    // Not with --only apt: the venv may not exist yet.
    const python = execFileSync(join(root, '.venv', 'bin', 'python'), ['--version'])
      .toString()
      .trim();
    log(`ready (${python}, chromium, redis-server)`);
  }
} catch (error) {
  console.error(`[provision] ${error.message}`);
  process.exit(1);
}
