/**
 * What the HTTP benchmarks (bench/sse.ts, bench/long-poll.ts) share: pinning a process to
 * a CPU, and running a measuring client that prints one JSON line as its last.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { ROOT } from '../../scripts/lib/prereqs.js';

/** Whether processes can be pinned (two CPUs or more, and `taskset` works). */
export const canPin = cpus().length >= 2 && spawnSync('taskset', ['-c', '1', 'true']).status === 0;

/** `args` (a command and its arguments) run on CPU `cpu` when pinning works, as they are otherwise. */
export const pinned = (cpu: string, args: string[]): [string, string[]] =>
  canPin ? ['taskset', ['-c', cpu, ...args]] : [args[0]!, args.slice(1)];

/** The middle value of `values` (the upper one of an even count); undefined for none. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Run a measuring client to its end and parse the last line it printed as JSON. The client
 * bounds itself (120 s); this kills it at 180 s as a backstop.
 * @param what - the client's name in errors ("the reader", "the client")
 * @throws Error when the last line is not JSON, says `fatal`, or has no `perSecond`
 */
export async function runForResult<T extends { perSecond?: number; fatal?: string }>(
  command: string,
  args: string[],
  what: string,
): Promise<T & { perSecond: number }> {
  const output = await new Promise<string>((done) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (data: Buffer) => {
      text += data.toString();
    });
    child.stderr.on('data', (data: Buffer) => {
      text += data.toString();
    });
    const backstop = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.once('close', () => {
      clearTimeout(backstop);
      done(text);
    });
  });
  const line = output.trim().split('\n').at(-1) ?? '';
  let result: T;
  try {
    result = JSON.parse(line) as T;
  } catch {
    throw new Error(`${what} printed no result: ${output.trim().slice(-500)}`);
  }
  if (result.fatal !== undefined || result.perSecond === undefined) throw new Error(result.fatal ?? line);
  return result as T & { perSecond: number };
}
