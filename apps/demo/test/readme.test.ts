/**
 * The README's five-line server and client run as written (port 8080 swapped for a free
 * one): the client's message comes back from the server. And the README keeps the two
 * commands for a fresh machine and shows a screenshot that exists.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../../../scripts/lib/prereqs.js';
import { freePort, startProcess } from '../../../scripts/lib/process.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The first ```js block after the heading `## title`. */
function example(title: string): string {
  const section = readme.split(`## ${title}\n`)[1];
  const code = section === undefined ? undefined : /```js\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(code !== undefined, `README has a js block under "## ${title}"`);
  assert.ok(code.trim().split('\n').length <= 5, `"${title}" is five lines at most`);
  return code;
}

describe('README', () => {
  it('its server and client examples run against each other', { timeout: 60_000 }, async () => {
    const port = String(await freePort());
    const server = await startProcess(
      process.execPath,
      ['--input-type=module', '-e', example('A server in five lines').replaceAll('8080', port)],
      /echo server on ws:\/\/127\.0\.0\.1:\d+/,
      { cwd: ROOT, timeoutMs: 30_000 },
    );
    try {
      const output = await new Promise<string>((resolve, reject) => {
        execFile(
          process.execPath,
          ['--input-type=module', '-e', example('A client in five lines').replaceAll('8080', port)],
          { cwd: ROOT, timeout: 30_000 },
          (error, stdout, stderr) =>
            error === null ? resolve(stdout) : reject(new Error(`${error.message}\n${stderr}`)),
        );
      });
      assert.equal(output, 'echo: 我是阿宝哥\n');
    } finally {
      await server.stop();
    }
  });

  it('starts with the two commands and shows an existing screenshot', () => {
    const firstScreen = readme.split('\n').slice(0, 15).join('\n');
    assert.match(firstScreen, /^npm ci && npm start /m);
    assert.match(firstScreen, /^npm ci && npm test /m);
    const images = [...readme.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((match) => match[1]!);
    assert.ok(images.length > 0);
    for (const image of images) assert.ok(existsSync(join(ROOT, image)), image);
  });
});
