#!/usr/bin/env node
// `npm start`: build the packages (tsc -b) and the demo's pages (esbuild), then run the
// demo server on http://127.0.0.1:8080. No external service is needed.
//   npm start                    port 8080
//   PORT=9000 npm start          or: npm start -- --port 9000 [--host 0.0.0.0]
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const build = spawnSync(join(root, 'node_modules', '.bin', 'tsc'), ['-b'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const pages = spawnSync(process.execPath, [join(root, 'apps', 'demo', 'scripts', 'bundle.mjs')], {
  cwd: root,
  stdio: ['ignore', 'ignore', 'inherit'],
});
if (pages.status !== 0) process.exit(pages.status ?? 1);
const child = spawn(
  process.execPath,
  ['--import', 'tsx', join(root, 'apps', 'demo', 'src', 'server', 'main.ts'), ...process.argv.slice(2)],
  { cwd: root, stdio: 'inherit' },
);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 0 : 1)));
