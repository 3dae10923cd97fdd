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
    throw new UsageError(
      `${command}: ${error instanceof Error ? error.message.split('. To specify')[0] : String(error)}`,
    );
  }
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
