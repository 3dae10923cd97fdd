/**
 * The demo server as a user gets it: `node scripts/start.mjs --port P` (what `npm start`
 * runs: build, bundle the pages, start), in a subprocess on a free loopback port,
 * stopped by PID.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../../../scripts/lib/prereqs.js';
import { freePort, type Started, startProcess } from '../../../../scripts/lib/process.js';

/** A demo server started by {@link startDemo}. */
export interface DemoProcess {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** The process (`output()` has what it printed). */
  readonly process: Started;
  /** Stop it (SIGTERM; SIGKILL after `graceMs`) and wait for it to exit. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Start `scripts/start.mjs` with `env` added to the environment, on `port` (the port of
 * a server stopped before, to restart it) or a free one.
 */
export async function startDemo(env: Record<string, string> = {}, port?: number): Promise<DemoProcess> {
  port ??= await freePort();
  // A state file of its own unless the test gives one (to restart on it): never the one
  // a server of an earlier run on the same port left behind.
  const own = env.SOCKEYE_DEMO_STATE === undefined ? mkdtempSync(join(tmpdir(), 'sockeye-demo-')) : null;
  const stateEnv = own === null ? {} : { SOCKEYE_DEMO_STATE: join(own, 'state.json') };
  const started = await startProcess(
    process.execPath,
    [join(ROOT, 'scripts', 'start.mjs'), '--port', String(port)],
    /listening on http:\/\/127\.0\.0\.1:\d+/,
    { cwd: ROOT, env: { ...process.env, ...stateEnv, ...env }, timeoutMs: 120_000 },
  );
  const stop = async (graceMs?: number) => {
    await started.stop(graceMs);
    if (own !== null) rmSync(own, { recursive: true, force: true });
  };
  return { origin: `http://127.0.0.1:${port}`, process: started, stop };
}
