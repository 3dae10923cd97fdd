/**
 * Runs the standard's argument cases against Node's built-in `WebSocket` (undici). Start
 * with `node --experimental-websocket --import tsx run-builtin.ts <host:port> <refused host:port>`; prints the
 * outcomes as one JSON line.
 */
import { runArgumentCases, runEventCases, type WebSocketConstructor } from './standard-cases.js';

const builtin = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
if (builtin === undefined) {
  console.log(JSON.stringify({ unavailable: true }));
} else {
  const host = process.argv[2] ?? '127.0.0.1:1';
  const refused = process.argv[3] ?? '127.0.0.1:1';
  const results = {
    ...(await runArgumentCases(builtin, host)),
    ...(await runEventCases(builtin, host, refused)),
  };
  console.log(JSON.stringify(results));
}
