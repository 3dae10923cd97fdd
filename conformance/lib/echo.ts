/**
 * Start the conformance echo server (`conformance/echo-server.ts`, the contract of
 * `npm run echo`) on a free loopback port for a test, and stop it by PID afterwards.
 */
import { ROOT } from '../../scripts/lib/prereqs.js';
import { freePort, type Started, startProcess } from '../../scripts/lib/process.js';

/** A running echo server. */
export interface EchoServer {
  /** Its base URL, e.g. `ws://127.0.0.1:40123`. */
  url: string;
  /** The port it listens on. */
  port: number;
  /** The process (for its output in failure messages). */
  process: Started;
  /** Stop it and wait for it to exit. */
  stop(): Promise<void>;
}

/** Start the echo server on `127.0.0.1` and a free port; resolves once it prints `listening on`. */
export async function startEchoServer(): Promise<EchoServer> {
  const port = await freePort();
  const started = await startProcess(
    process.execPath,
    ['--import', 'tsx', 'conformance/echo-server.ts', '--port', String(port), '--host', '127.0.0.1'],
    /listening on ws:\/\//,
    { cwd: ROOT },
  );
  return { url: `ws://127.0.0.1:${port}`, port, process: started, stop: () => started.stop() };
}

/** `count` bytes of a deterministic, non-repeating-looking pattern (so misplaced bytes are caught). */
export function patternBytes(count: number, seed = 1): Buffer {
  const bytes = Buffer.allocUnsafe(count);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    // xorshift32: cheap, deterministic, and no period short enough to hide an offset error.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

/** The interop test's 1 MiB message size. */
export const ONE_MIB = 1024 * 1024;
