/**
 * The package's declarations in a consumer's strict, DOM-less project: consumer.ts is
 * compiled with `lib: ["es2023"]` and `strict` against the built `@sockeye/sockeye` package (its
 * `dist`, as `npm test` builds it first). Typed events (`event.data`, `event.code`,
 * `event.wasClean`) must compile there, and misuse must not (`@ts-expect-error` lines).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..', '..');

it('a strict consumer without the DOM lib type-checks against the declarations', { timeout: 120_000 }, () => {
  assert.ok(
    existsSync(join(root, 'packages', 'sockeye', 'dist', 'index.d.ts')),
    'build first (npx tsc -b): this checks the built declarations',
  );
  const result = spawnSync(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(here, 'tsconfig.json')],
    { encoding: 'utf8' },
  );
  assert.equal(result.status, 0, `tsc failed:\n${result.stdout}${result.stderr}`);
});
