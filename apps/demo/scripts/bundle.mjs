#!/usr/bin/env node
// Build the demo's web pages: bundle each page script with esbuild and copy the HTML and
// CSS (uPlot's too) beside the bundles, into apps/demo/dist/public/ (what the demo server will serve).
//   node apps/demo/scripts/bundle.mjs [--outdir DIR]
// Run by `npm run build` and by the build stage of `npm test`; independent of tsc (the
// type check of these sources is tsconfig.test.json's job).
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const demo = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The page scripts, one bundle each. */
export const ENTRY_POINTS = [
  'handshake',
  'protocol',
  'flow',
  'echo',
  'inspector',
  'chat',
  'reconnect',
  'lab',
];

/**
 * Bundle the page scripts into `outdir` (emptied first) and copy the pages beside them.
 * @returns the files written, relative to outdir
 */
export async function bundle(outdir = join(demo, 'dist', 'public')) {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  await build({
    entryPoints: ENTRY_POINTS.map((name) => join(demo, 'src', 'browser', `${name}.ts`)),
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome111', 'firefox111', 'safari16.4'],
    minify: true,
    sourcemap: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  for (const file of readdirSync(join(demo, 'pages')))
    copyFileSync(join(demo, 'pages', file), join(outdir, file));
  // The charts' stylesheet, from the package that draws them (bundled into flow.js).
  copyFileSync(createRequire(import.meta.url).resolve('uplot/dist/uPlot.min.css'), join(outdir, 'uplot.css'));
  return readdirSync(outdir).sort();
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { outdir: { type: 'string' } } });
  const files = await bundle(values.outdir === undefined ? undefined : resolve(values.outdir));
  console.log(`demo pages built: ${files.join(' ')}`);
}
