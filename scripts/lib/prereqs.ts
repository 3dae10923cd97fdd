/**
 * Where the test prerequisites live, and the rule for a missing one: under `CI=true` it
 * is an error (a test must never pass by skipping its peer); elsewhere the test is
 * skipped with the reason printed. `npm test` provisions them first (scripts/provision.mjs).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Whether we run under CI (`CI=true`). */
export const IN_CI = process.env.CI === 'true' || process.env.CI === '1';

/** The project venv's Python, with kosoku and websockets. */
export const VENV_PYTHON = join(ROOT, '.venv', 'bin', 'python');
/** The kosoku runner from the project venv. */
export const KOSOKU = join(ROOT, '.venv', 'bin', 'kosoku');
/** Debian's Chromium. */
export const CHROMIUM = '/usr/bin/chromium';
/** Debian's Redis server. */
export const REDIS_SERVER = '/usr/bin/redis-server';

/**
 * Check that `path` exists. Returns a skip reason (a string) when it does not and we are
 * not in CI; throws when it does not and we are. Use as `{ skip: missing(KOSOKU) }`.
 */
export function missing(path: string, what = path): string | false {
  if (existsSync(path)) return false;
  const message = `${what} is not installed (run: node scripts/provision.mjs)`;
  if (IN_CI) throw new Error(`CI=true and a prerequisite is missing: ${message}`);
  console.warn(`SKIPPING: ${message}`);
  return message;
}
