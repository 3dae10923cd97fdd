/**
 * Runs the standard's argument and event cases against Node's built-in `WebSocket`
 * (undici). Start with `node --experimental-websocket --import tsx run-builtin.ts
 * <host:port> <EventCaseServers as JSON>`; prints the outcomes as one JSON line.
 */
import {
  type EventCaseServers,
  runArgumentCases,
  runEventCases,
  type WebSocketConstructor,
} from './standard-cases.js';

const builtin = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
if (builtin === undefined) {
  console.log(JSON.stringify({ unavailable: true }));
} else {
  const host = process.argv[2] ?? '127.0.0.1:1';
  const servers = JSON.parse(process.argv[3] ?? '{}') as EventCaseServers;
  const results = {
    ...(await runArgumentCases(builtin, host)),
    ...(await runEventCases(builtin, host, servers)),
  };
  console.log(JSON.stringify(results));
}
