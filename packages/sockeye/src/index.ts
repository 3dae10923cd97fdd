/**
 * sockeye: a WebSocket toolkit for Node.js. This entry point re-exports the protocol
 * core and the pub/sub broker contract; the server and client are added by their own modules.
 * @packageDocumentation
 */
export * from './protocol/index.js';
export * from './pubsub/index.js';
