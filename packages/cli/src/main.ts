/**
 * The `sockeye` command line: `sockeye <command> [options]`. Commands live one per file
 * under `commands/`; this file only dispatches and turns errors into one line.
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs';
import { type Command, type Input, type Io, styleFor, UsageError } from './cli.js';
import { didYouMean } from './commands/args.js';
import { commands } from './commands/index.js';

export { type Command, type Input, type Io, type Style, styleFor, UsageError } from './cli.js';
export { commands } from './commands/index.js';

/** The text of `sockeye --help`, built from the registered commands. */
export function mainHelp(list: readonly Command[] = commands): string {
  const width = Math.max(...list.map((command) => command.name.length));
  return [
    'sockeye: WebSocket tools built on sockeye: connect, listen, serve, bench, frame.',
    '',
    'Usage: sockeye <command> [options]',
    '',
    'Commands:',
    ...list.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    'Run `sockeye <command> --help` for the options and examples of a command.',
    'wscat and websocat habits work too: `sockeye -c URL` and `sockeye ws://...` connect,',
    '`sockeye -l PORT` and `sockeye -s PORT` listen.',
    '`sockeye --version` prints the version.',
    'From npm the package is @sockeye/cli: `npm install -g @sockeye/cli`, or',
    '`npx @sockeye/cli <command>` without installing it.',
    '',
    'Exit code: 0 on success, 1 when something failed (a connection, a listen), 2 for',
    "bad arguments; each command's --help gives its own.",
  ].join('\n');
}

/**
 * The command meant by wscat's and websocat's ways of starting: `-c URL` and a bare
 * `ws://` URL mean `connect`, `-l PORT` and `-s PORT` mean `listen`; else null.
 */
function habitCommand(first: string): string | null {
  if (first === '-c' || first === '--connect' || /^wss?:\/\//i.test(first)) return 'connect';
  if (first === '-l' || first === '--listen' || first === '-s' || first === '--server-mode') return 'listen';
  return null;
}

/** The version of the `sockeye` command (from its package.json). */
export function version(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return manifest.version;
}

const guarded = new WeakSet<NodeJS.WritableStream>();

/**
 * A reader that goes away (`sockeye frame encode ... | head -1`) is not an error: on
 * `EPIPE` the process ends quietly, with exit code 0, instead of printing a stack.
 * Any other error on the stream is one line on stderr and exit code 1.
 */
export function exitQuietlyOnBrokenPipe(stream: NodeJS.WritableStream, exit: (code: number) => void): void {
  if (guarded.has(stream)) return;
  guarded.add(stream);
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') {
      exit(0);
      return;
    }
    process.stderr.write(`sockeye: cannot write: ${error.message}\n`);
    exit(1);
  });
}

/** An {@link Io} on the process's own stdout and stderr. */
export function processIo(): Io {
  exitQuietlyOnBrokenPipe(process.stdout, (code) => process.exit(code));
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    style: styleFor(process.stdout.isTTY === true, process.env),
    stdin: processStdin(),
    stdout: process.stdout,
    interrupted: () =>
      new Promise((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      }),
  };
}

/** The process's stdin as an {@link Input}. */
function processStdin(): Input {
  return {
    isTTY: process.stdin.isTTY === true,
    stream: process.stdin,
    readAll: (maxBytes) =>
      new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const stdin = process.stdin;
        const onData = (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            stdin.off('data', onData);
            stdin.destroy();
            reject(new UsageError(`stdin holds more than ${maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        };
        stdin.on('data', onData);
        stdin.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        stdin.once('error', reject);
      }),
  };
}

/**
 * Run the tool with `argv` (the arguments after `sockeye`) and return the exit code:
 * 0 on success, 2 for a usage error or bad input, 1 for anything unexpected.
 */
export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    if (name === 'help' && rest[0] !== undefined) return main([rest[0], '--help'], io);
    io.out(mainHelp());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    io.out(`sockeye ${version()}`);
    return 0;
  }
  const habit = habitCommand(name);
  if (habit !== null) return main([habit, ...(name.includes('://') ? [name] : []), ...rest], io);
  const command = commands.find((candidate) => candidate.name === name);
  try {
    if (command === undefined) {
      const guess = didYouMean(
        name,
        commands.map((candidate) => candidate.name),
      );
      throw new UsageError(
        `unknown command ${JSON.stringify(name)} (${guess === null ? '' : `did you mean ${guess}? `}try sockeye --help)`,
      );
    }
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`sockeye: ${error.message}`);
      return 2;
    }
    io.err(`sockeye: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}
