#!/usr/bin/env node
// `npm start`: build the packages (tsc -b) and the demo's pages (esbuild), then run the
// demo server on http://127.0.0.1:8080. No external service is needed.
//   npm start                    port 8080
//   PORT=9000 npm start          or: npm start -- --port 9000 [--host 0.0.0.0]
//   REDIS_URL=redis://127.0.0.1:6379 npm start   chat across processes through Redis
// Both builds are skipped when their output is newer than every source (tsc -b checks for
// itself; the pages are compared here), so that several demo servers can start at once
// (as the tests do) without rewriting the pages under each other's feet.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const demo = join(root, 'apps', 'demo');

/** Newest (or oldest) modification time of the files under `path`. */
function mtimes(path, pick) {
  if (!existsSync(path)) return undefined;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let result;
  for (const entry of readdirSync(path)) {
    const time = mtimes(join(path, entry), pick);
    if (time !== undefined) result = result === undefined ? time : pick(result, time);
  }
  return result;
}

function pagesAreCurrent() {
  const built = mtimes(join(demo, 'dist', 'public'), Math.min);
  if (built === undefined || !existsSync(join(demo, 'dist', 'public', 'index.html'))) return false;
  const sources = [join(demo, 'pages'), join(demo, 'src'), join(demo, 'scripts', 'bundle.mjs')];
  return sources.every((source) => (mtimes(source, Math.max) ?? 0) < built);
}

const build = spawnSync(join(root, 'node_modules', '.bin', 'tsc'), ['-b'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
if (!pagesAreCurrent()) {
  const pages = spawnSync(process.execPath, [join(demo, 'scripts', 'bundle.mjs')], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (pages.status !== 0) process.exit(pages.status ?? 1);
}
const child = spawn(
  process.execPath,
  ['--import', 'tsx', join(demo, 'src', 'server', 'main.ts'), ...process.argv.slice(2)],
  { cwd: root, stdio: 'inherit' },
);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 0 : 1)));
