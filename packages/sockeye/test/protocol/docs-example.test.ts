/** docs/protocol.md's example (two `Connection`s wired in memory) runs and prints what the page says it prints. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { ROOT } from '../../../../scripts/lib/prereqs.js';

it('docs/protocol.md: the in-memory pair of connections prints what the page shows', {
  timeout: 60_000,
}, async () => {
  const page = readFileSync(join(ROOT, 'docs', 'protocol.md'), 'utf8');
  const code = /```js\n([\s\S]*?)```/.exec(page)?.[1];
  const shown = /\nprints\n\n```\n([\s\S]*?)```/.exec(page)?.[1];
  assert.ok(code !== undefined && shown !== undefined, 'the page has the example and its output');
  const output = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', code],
      { cwd: ROOT, timeout: 30_000 },
      (error, stdout, stderr) =>
        error === null ? resolve(stdout) : reject(new Error(`${error.message}\n${stderr}`)),
    );
  });
  assert.equal(output, shown);
});
