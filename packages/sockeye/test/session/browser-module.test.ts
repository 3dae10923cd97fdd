/** The browser-safe part of sessions (`@sockeye/sockeye/session`) imports nothing but itself. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const sessionDir = join(dirname(fileURLToPath(import.meta.url)), '../../src/session');

/** Every module specifier `file` imports or re-exports (type-only imports included). */
function specifiers(file: string): string[] {
  const source = readFileSync(join(sessionDir, file), 'utf8');
  return [...source.matchAll(/\bfrom\s+'([^']+)'/g)].map((match) => match[1]!);
}

describe('sockeye/session in a page without a bundler', () => {
  it('its import graph is relative ES modules of its own, with no Node built-in', () => {
    const seen = new Set<string>();
    const queue = ['index.ts'];
    while (queue.length > 0) {
      const file = queue.shift()!;
      if (seen.has(file)) continue;
      seen.add(file);
      for (const specifier of specifiers(file)) {
        assert.match(specifier, /^\.\/[a-z-]+\.js$/, `${file} imports ${specifier}`);
        queue.push(specifier.slice(2).replace(/\.js$/, '.ts'));
      }
    }
    assert.deepEqual([...seen].sort(), ['client.ts', 'core.ts', 'index.ts', 'store.ts', 'wire.ts']);
  });

  it('its source names no Node global (Buffer, process, require)', () => {
    for (const file of ['client.ts', 'core.ts', 'index.ts', 'store.ts', 'wire.ts']) {
      const code = readFileSync(join(sessionDir, file), 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      assert.doesNotMatch(code, /\b(Buffer|process|require|setImmediate)\b/, file);
    }
  });
});
