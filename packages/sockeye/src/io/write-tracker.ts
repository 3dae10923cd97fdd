/** Called once the bytes of a message are handed to the kernel, or with the error that kept them from it. */
export type WrittenCallback = (error?: Error | null) => void;

/** Bytes of the pong that answers a ping of `payload` bytes from a server: a 2-byte header, the mask key, the payload. */
export function clientPongSize(payload: number): number {
  return 2 + 4 + payload;
}

/**
 * What a client driver counts about its writes (a server's driver has none: it measures
 * its output from the socket and the core, and pauses reading for all of it):
 * - the payload bytes of the messages in each flushed batch, reported once written (the
 *   WHATWG `bufferedAmount`) and the per-message callbacks (`WebSocketStream` writes);
 * - the pongs the peer made us queue (one per ping, answered by the core) and the kernel
 *   has not taken yet. A client stops reading while these are above its high-water mark:
 *   a server that floods pings and never reads cannot grow it without bound. Its own
 *   messages do not count: pausing reads for them could deadlock against a server that
 *   also stops reading while its output is full (both sides sending bulk data).
 * @internal
 */
export class WriteTracker {
  /** Payload bytes queued since the last flush. */
  payloadBytes = 0;
  /** Callbacks of the messages queued since the last flush. */
  callbacks: WrittenCallback[] | null = null;
  /** Pong bytes queued or handed to the socket and not yet written to the kernel. */
  pongBytes = 0;
  /** Pong bytes queued since the last flush (part of `pongBytes`). */
  unflushedPongBytes = 0;

  /** A message of `bytes` payload bytes was queued in the core. */
  queued(bytes: number, written: WrittenCallback | undefined): void {
    this.payloadBytes += bytes;
    if (written !== undefined) {
      this.callbacks ??= [];
      this.callbacks.push(written);
    }
  }

  /** The core queued a pong for a ping of `payload` bytes. */
  pongQueued(payload: number): void {
    const size = clientPongSize(payload);
    this.pongBytes += size;
    this.unflushedPongBytes += size;
  }

  /** Take what the next batch carries and start counting the one after. */
  takeBatch(): PendingBatch {
    const batch = new PendingBatch(this.payloadBytes, this.unflushedPongBytes, this.callbacks);
    this.payloadBytes = 0;
    this.unflushedPongBytes = 0;
    this.callbacks = null;
    return batch;
  }

  /** The connection is gone: messages queued and never flushed will not be written. */
  abandon(): void {
    const unsent = this.callbacks;
    this.callbacks = null;
    if (unsent === null) return;
    const error = new Error('The connection closed before the message was written');
    for (const callback of unsent) callback(error);
  }
}

/** What one flushed batch carried, for its write callback. @internal */
export class PendingBatch {
  constructor(
    readonly payloadBytes: number,
    readonly pongBytes: number,
    readonly callbacks: WrittenCallback[] | null,
  ) {}

  /** Settle the callbacks of its messages. */
  settle(error: Error | null | undefined): void {
    if (this.callbacks !== null) for (const callback of this.callbacks) callback(error);
  }
}
