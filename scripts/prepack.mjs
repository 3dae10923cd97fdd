#!/usr/bin/env node
// `prepack` of every published package, run by `npm pack` and `npm publish` in the
// package's folder: build it (`tsc -b`, which builds the library first for the packages
// that depend on it, and does nothing when the build is fresh), so a clean clone packs after
// `npm ci` alone. Then refuse to pack a `dist/` file whose source is gone (a stale output
// of a renamed or deleted module would ship and be importable). The build is not wiped
// first: tests may be importing `dist/` while a pack runs.
//   node ../../scripts/prepack.mjs      (from packages/<name>)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';

const cwd = process.cwd();
// TypeScript is a devDependency of the repository root; its compiler is found from here.
const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
const build = spawnSync(process.execPath, [tsc, '-b', cwd], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

/** Every file below `dir`, as paths relative to it. */
function files(dir, base = dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(join(dir, entry.name), base) : [relative(base, join(dir, entry.name))],
  );
}

const stale = files(join(cwd, 'dist')).filter((file) => {
  const module = file.replace(/(\.d)?\.js(\.map)?$|\.d\.ts(\.map)?$/, '');
  return !existsSync(join(cwd, 'src', `${module}.ts`));
});
if (stale.length > 0) {
  console.error(`prepack: dist/ has outputs whose source is gone: ${stale.join(', ')}`);
  console.error('remove dist/ and tsconfig.tsbuildinfo in this package, then pack again');
  process.exit(1);
}
