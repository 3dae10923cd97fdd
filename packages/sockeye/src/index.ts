/**
 * sockeye: a WebSocket toolkit for Node.js. This entry point re-exports the protocol
 * core and the server; the client is added by its own module.
 * @packageDocumentation
 */

export * from './client/index.js';
export * from './protocol/index.js';
export * from './server/index.js';
