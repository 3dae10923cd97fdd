import type { Payload } from '../protocol/output.js';
import type { WrittenCallback } from './write-tracker.js';

/** A message waiting in a {@link SendQueue}: its bytes are null while its Blob is being read. */
export interface QueuedMessage {
  data: Payload | null;
  isText: boolean;
  /** Bytes it counts for in `bufferedAmount` while it waits. */
  size: number;
  /** Called once it is written (a client's per-message callback), if any. */
  written?: WrittenCallback;
}

/**
 * The messages sent after a `Blob` whose bytes are still being read, in order: a Blob is
 * read asynchronously, and what was sent after it must not overtake it. A close asked for
 * meanwhile waits at the end of the line. A driver makes one on its first Blob and drops it
 * once empty, so that the common connection (no Blob) carries a null field, no queue.
 * @internal
 */
export class SendQueue {
  readonly entries: QueuedMessage[] = [];
  /** Bytes of the messages waiting (part of `bufferedAmount`). */
  bytes = 0;
  /** `close()` was called while messages waited: its code and reason, sent after them. */
  close: [code: number | undefined, reason: string | undefined] | null = null;

  push(entry: QueuedMessage): void {
    this.entries.push(entry);
    this.bytes += entry.size;
  }

  /** The next message whose bytes are ready, removed from the line; null when the first is still a Blob being read (or none waits). */
  shiftReady(): QueuedMessage | null {
    const first = this.entries[0];
    if (first === undefined || first.data === null) return null;
    this.entries.shift();
    this.bytes -= first.size;
    return first;
  }

  /** Take `entry` out of the line (a Blob that could not be read, dropped). */
  remove(entry: QueuedMessage): void {
    const at = this.entries.indexOf(entry);
    if (at === -1) return;
    this.entries.splice(at, 1);
    this.bytes -= entry.size;
  }

  /** Nothing waits any more. */
  get empty(): boolean {
    return this.entries.length === 0;
  }
}
