/** Starting and stopping helper processes in tests: by PID, with bounded waits. */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { createServer } from 'node:net';

/**
 * A TCP port that is free now, for a child process to listen on: a random one below the
 * kernel's ephemeral range (32768 and up on Linux), checked by binding it on every address
 * (`::`, which on a dual-stack host covers 127.0.0.1 too) and releasing it.
 *
 * Not port 0's answer: that comes from the ephemeral range, which outgoing connections draw
 * their source ports from, so under a loaded test run another test's client could take the
 * port between our release and the child's listen (seen as EADDRINUSE).
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if ((await canListen(port, '::')) && (await canListen(port, '127.0.0.1'))) return port;
  }
  throw new Error('no free port found in 100 tries between 20000 and 32000');
}

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', (error: NodeJS.ErrnoException) =>
      // No IPv6 on this host: the IPv4 check decides.
      resolve(host === '::' && error.code === 'EAFNOSUPPORT'),
    );
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** A started child process and a way to stop it. */
export interface Started {
  /** The child process. */
  child: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Stop it (SIGTERM, then SIGKILL after `graceMs`) and wait for it to exit. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Spawn `command` and wait until its output matches `ready` (or it exits, or `timeoutMs`
 * passes, which reject with its output).
 */
export function startProcess(
  command: string,
  args: readonly string[],
  ready: RegExp,
  options: SpawnOptions & { timeoutMs?: number } = {},
): Promise<Started> {
  const { timeoutMs = 20_000, ...spawnOptions } = options;
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (graceMs = 3000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${command} not ready after ${timeoutMs} ms; output:\n${output}`));
    }, timeoutMs);
    const onData = (data: Buffer) => {
      output += data.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve({ child, output: () => output, stop });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited (${code ?? signal}) before it was ready; output:\n${output}`));
    });
  });
}
