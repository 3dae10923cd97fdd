/**
 * Client benchmark entry: Node's built-in WebSocket (undici). Node 20 needs
 * `--experimental-websocket`; without it this script re-runs itself with the flag.
 * `node --import tsx bench/clients/node-client.ts --url ws://127.0.0.1:9001 --window 1 --duration 5`
 */
import { spawnSync } from 'node:child_process';
import { type BenchSocket, runBench, whenOpen } from './common.js';

const Builtin = (globalThis as { WebSocket?: new (url: string) => BenchSocket }).WebSocket;
if (Builtin === undefined) {
  const result = spawnSync(
    process.execPath,
    ['--experimental-websocket', '--no-warnings', ...process.execArgv, ...process.argv.slice(1)],
    { stdio: 'inherit' },
  );
  process.exitCode = result.status ?? 1;
} else {
  await runBench('node', (url) => whenOpen(new Builtin(url)));
}
