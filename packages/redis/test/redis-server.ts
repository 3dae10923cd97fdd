/** Test support: a real redis-server on a free loopback port, started and stopped by PID. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REDIS_SERVER } from '../../../scripts/lib/prereqs.js';
import { freePort, type Started, startProcess } from '../../../scripts/lib/process.js';

/** A redis-server this test started. */
export class RedisServer {
  private process: Started | undefined;

  private constructor(
    /** Its port on 127.0.0.1. */
    readonly port: number,
    private readonly dir: string,
    private readonly appendOnly: boolean,
  ) {}

  /** Its URL. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /**
   * Start one on a free port, with a temp dir of its own and persistence off, or with
   * `appendOnly` an append-only file synced at every write (it survives a SIGKILL).
   */
  static async start(options: { appendOnly?: boolean } = {}): Promise<RedisServer> {
    const dir = mkdtempSync(join(tmpdir(), 'sockeye-redis-'));
    const server = new RedisServer(await freePort(), dir, options.appendOnly ?? false);
    await server.restart();
    return server;
  }

  /** (Re)start it on the same port. */
  async restart(): Promise<void> {
    this.process = await startProcess(
      REDIS_SERVER,
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        ...(this.appendOnly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
        '--dir',
        this.dir,
      ],
      /Ready to accept connections/,
    );
  }

  /** Kill it with SIGKILL (a crash: no goodbye to the clients) and wait until it is gone. */
  async kill(): Promise<void> {
    const started = this.process;
    this.process = undefined;
    if (started === undefined) return;
    const { child } = started;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }

  /** Stop it and remove its temp dir. */
  async stop(): Promise<void> {
    await this.process?.stop();
    this.process = undefined;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Poll `condition` every 10 ms until it holds; reject after `timeoutMs` (a guard, not a
 * measurement). `what` may be a function, to describe the state at the time of failure.
 */
export async function waitFor(
  condition: () => boolean,
  what: string | (() => string),
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
