/**
 * sockeye: a WebSocket toolkit for Node.js. This entry point re-exports the protocol
 * core, the server, the client and the pub/sub broker contract.
 * @packageDocumentation
 */

export * from './client/index.js';
export * from './protocol/index.js';
export * from './pubsub/index.js';
export * from './server/index.js';
export * from './session/server.js';
