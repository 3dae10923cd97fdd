/**
 * The socket driver under every shell (`ServerWebSocket`, the client's `ClientWebSocket`):
 * one place for flushing, backpressure, the ordered send queue, the wiretap and the close.
 * Not a subpath of the package: the shells are the public API.
 * @packageDocumentation
 */
export { kSocketOwner, SocketDriver, type WireDirection } from './driver.js';
export { type QueuedMessage, SendQueue } from './send-queue.js';
export { clientPongSize, PendingBatch, WriteTracker, type WrittenCallback } from './write-tracker.js';
