/**
 * What every command is given and what it returns, so that a new command is one file
 * that exports a {@link Command} and one line in `commands/index.ts`.
 */

import { SockeyeError } from '@sockeye/sockeye';

/** Where a command writes, and whether it may use colour there. */
export interface Io {
  /** Normal output (results). */
  out(line: string): void;
  /** Diagnostics and errors. */
  err(line: string): void;
  /** ANSI styling for `out`; does nothing when stdout is not a terminal. */
  style: Style;
  /** Standard input. */
  stdin: Input;
  /** Standard output as a stream, for commands that drive a terminal (a prompt, a live line). */
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  /**
   * Resolves when the user asks to stop (Ctrl-C: SIGINT, or SIGTERM), for long-running
   * commands; each call returns a fresh promise for the next request.
   */
  interrupted(): Promise<void>;
}

/** Standard input, for commands that read piped data. */
export interface Input {
  /** Whether stdin is a terminal (then nothing is piped in). */
  isTTY: boolean;
  /**
   * Read stdin to its end as UTF-8 text.
   * @throws {@link UsageError} when it holds more than `maxBytes`: it stops reading there
   */
  readAll(maxBytes: number): Promise<string>;
  /** The stream itself, for commands that read it line by line. */
  stream: NodeJS.ReadableStream;
}

/** ANSI styles that turn into plain text when colour is off. */
export interface Style {
  /** A field name in a breakdown. */
  label(text: string): string;
  /** Something to notice: a set flag, a warning. */
  accent(text: string): string;
  /** Secondary detail. */
  dim(text: string): string;
}

/** A command of the `sockeye` tool. */
export interface Command {
  /** The word that selects it: `sockeye <name> ...`. */
  name: string;
  /** One line for `sockeye --help`. */
  summary: string;
  /** The full `--help` text, examples included. */
  help: string;
  /**
   * Run with the arguments after the command's name. Returns the exit code. Throw a
   * {@link UsageError} for bad arguments or input: it is printed as one line with exit code 2.
   */
  run(args: string[], io: Io): Promise<number> | number;
}

/** Bad arguments or bad input: `main` prints `sockeye: <message>` and exits with 2. */
export class UsageError extends SockeyeError {
  override readonly name = 'UsageError';
  /** Stable code for logs and tests. */
  readonly code = 'ERR_SOCKEYE_USAGE';
}

const ESC = '\u001b[';

/**
 * Styles for a stream: ANSI colour only on a terminal, never when `NO_COLOR` is set or
 * `TERM=dumb` (https://no-color.org), always when `FORCE_COLOR` is set to something other than 0.
 */
export function styleFor(isTTY: boolean, env: NodeJS.ProcessEnv): Style {
  const forced = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== '';
  const enabled = forced || (isTTY && env.NO_COLOR === undefined && env.TERM !== 'dumb');
  const wrap = (open: string, close: string) =>
    enabled ? (text: string) => `${ESC}${open}m${text}${ESC}${close}m` : (text: string) => text;
  return { label: wrap('36', '39'), accent: wrap('33', '39'), dim: wrap('2', '22') };
}
