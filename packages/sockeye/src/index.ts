/**
 * sockeye: a WebSocket toolkit for Node.js. This entry point re-exports the protocol
 * core; the server and client are added by their own modules.
 * @packageDocumentation
 */

export * from './client/index.js';
export * from './protocol/index.js';
