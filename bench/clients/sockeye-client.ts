/**
 * Client benchmark entry: sockeye's WebSocket, from the compiled package (packages/sockeye/dist,
 * built by `tsc -b`), as its users run it. See bench/clients/common.ts for the options.
 * `node --import tsx bench/clients/sockeye-client.ts --url ws://127.0.0.1:9001 --window 1 --duration 5`
 */
import { WebSocket } from '@sockeye/sockeye/client';
import { type BenchSocket, runBench, whenOpen } from './common.js';

await runBench('sockeye', (url) =>
  whenOpen(new WebSocket(url, [], { maxPayload: 64 * 1024 * 1024 }) as unknown as BenchSocket),
);
