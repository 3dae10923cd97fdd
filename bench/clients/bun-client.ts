/**
 * Client benchmark entry: Bun's built-in WebSocket client (run with the `bun` binary, which
 * bench/client-bench.ts installs from npm as the server benchmark does). See
 * bench/clients/common.ts for the options.
 * `bun bench/.build/clients/bun-client.mjs --url ws://127.0.0.1:9001 --window 1 --duration 5`
 */
import { type BenchSocket, runBench, whenOpen } from './common.js';

const Builtin = (globalThis as { WebSocket?: new (url: string) => BenchSocket }).WebSocket;
if (Builtin === undefined || (globalThis as { Bun?: unknown }).Bun === undefined) {
  console.error('bun-client: run this entry with bun');
  process.exitCode = 1;
} else {
  await runBench('bun', (url) => whenOpen(new Builtin(url)));
}
