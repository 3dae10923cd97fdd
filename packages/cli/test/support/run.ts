/** Run the `sockeye` command as a subprocess, the way people run it. */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** bin/sockeye.js */
export const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'sockeye.js');

/** What a run printed and returned. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `sockeye ...args` with `stdin` piped in (closed at once when absent). */
export function sockeye(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; stdin?: string; timeout?: number } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      { env: options.env ?? { ...process.env, FORCE_COLOR: '0' }, timeout: options.timeout ?? 30_000 },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') reject(error);
        else resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
      },
    );
    child.stdin?.on('error', () => {});
    child.stdin?.end(options.stdin ?? '');
  });
}

/**
 * A tmux server of the test's own, on a socket in a temp dir (never the user's or another
 * test's server). `close()` kills that server only and removes the socket.
 */
export function privateTmux(): { tmux: (...args: string[]) => string; close: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'sockeye-tmux-'));
  const socket = join(dir, 'tmux.sock');
  const tmux = (...args: string[]) =>
    execFileSync('tmux', ['-S', socket, ...args], { encoding: 'utf8', timeout: 10_000 });
  return {
    tmux,
    close: () => {
      try {
        tmux('kill-server');
      } catch {
        // no session was started, or it is already gone
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
