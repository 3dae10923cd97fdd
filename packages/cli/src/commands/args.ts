/** Argument parsing shared by the commands: Node's `parseArgs`, errors as one-line {@link UsageError}s. */
import { type ParseArgsConfig, parseArgs } from 'node:util';

/** The options of a command, as `parseArgs` takes them. */
export type CommandOptions = NonNullable<ParseArgsConfig['options']>;

import { UsageError } from '../cli.js';

/**
 * Parse `args` for `command` with `options` plus `--help`/`-h`, positionals allowed.
 * @throws {@link UsageError} for an unknown option or a missing value
 */
export function parseCommandArgs<O extends CommandOptions>(
  command: string,
  args: string[],
  options: O,
): ReturnType<
  typeof parseArgs<{
    options: O & { help: { type: 'boolean'; short: 'h' } };
    allowPositionals: true;
    strict: true;
  }>
> {
  try {
    return parseArgs({
      args,
      options: { ...options, help: { type: 'boolean', short: 'h' } } as O & {
        help: { type: 'boolean'; short: 'h' };
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    let message = error instanceof Error ? (error.message.split('. To specify')[0] ?? '') : String(error);
    const unknown = /^Unknown option '(-{1,2}[^']+)'/.exec(message);
    if (unknown !== null) {
      const guess = didYouMean(unknown[1] as string, [
        ...Object.keys(options).map((name) => `--${name}`),
        '--help',
      ]);
      if (guess !== null) message = `unknown option '${unknown[1]}' (did you mean ${guess}?)`;
    }
    throw new UsageError(`${command}: ${message}`);
  }
}

/**
 * The candidate closest to a mistyped `word` (at most 2 edits away, or one of them the
 * start of the other: `fram`, `--raw-mode`), or null when none is close.
 */
export function didYouMean(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const distance = isPrefixEitherWay(word, candidate) ? 1 : editDistance(word, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Whether one word starts the other, with at least 3 letters besides the leading dashes. */
function isPrefixEitherWay(word: string, candidate: string): boolean {
  const a = word.replace(/^-+/, '');
  const b = candidate.replace(/^-+/, '');
  const [short, long] = a.length <= b.length ? [a, b] : [b, a];
  return short.length >= 3 && long.startsWith(short);
}

/** Levenshtein distance (insertions, deletions, substitutions), with adjacent swaps counted as one. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const above = rows[i - 1] as number[];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(
        (above[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (above[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, ((rows[i - 2] as number[])[j - 2] as number) + 1);
      }
      row.push(value);
    }
    rows.push(row);
  }
  return (rows[a.length] as number[])[b.length] as number;
}

/** A whole number within bounds, or a {@link UsageError} naming the option. */
export function parseInteger(text: string, what: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new UsageError(`${what} must be a whole number from ${min} to ${max}, not ${JSON.stringify(text)}`);
  }
  return value;
}

/** A number of seconds (fractions allowed), or a {@link UsageError} naming the option. */
export function parseSeconds(text: string, what: string, max = 86_400): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0 || value > max) {
    throw new UsageError(`${what} must be a number of seconds from 0 to ${max}, not ${JSON.stringify(text)}`);
  }
  return value;
}

/**
 * The URL of a command's target: `localhost:8080` means `ws://localhost:8080` (as wscat
 * and websocat read it); `http:` and `https:` are taken as `ws:` and `wss:`.
 * @throws UsageError for something that is not a ws: or wss: URL
 */
export function parseTarget(input: string): URL {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(input) ? input : `ws://${input}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`not a URL: ${input}`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:')
    throw new UsageError(`not a ws: or wss: URL: ${input}`);
  return url;
}
