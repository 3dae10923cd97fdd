/**
 * Client benchmark entry: the `ws` package's client. See bench/clients/common.ts for the options.
 * `node --import tsx bench/clients/ws-client.ts --url ws://127.0.0.1:9001 --window 1 --duration 5`
 */
import WebSocket from 'ws';
import { type BenchSocket, runBench, whenOpen } from './common.js';

await runBench('ws', (url) => whenOpen(new WebSocket(url) as unknown as BenchSocket));
