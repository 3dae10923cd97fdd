import { DEFAULT_EARLY_ASSEMBLY_BYTES } from './limits.js';
import { checkInteger } from './validate.js';

/**
 * The bytes of message buffers that the connections of one owner (a server, or the
 * clients of a process) may have allocated ahead of their data.
 *
 * A single frame too large for one read is assembled in one buffer of its exact size,
 * allocated once an eighth of it has arrived, so that each later read is copied while it
 * is still in the CPU cache and nothing is copied twice. That allocation runs ahead of the
 * bytes received (a peer that sends an eighth of what it declares gets the whole buffer),
 * so it is charged here, and a connection allocates early only while the charge fits;
 * otherwise it holds the frame's reads as they are and joins them once the frame is
 * complete (as `ws` does), and memory follows the bytes received. The charge is given
 * back when the message is delivered or the connection ends.
 */
export class AssemblyBudget {
  /** The bound, in bytes. */
  readonly limit: number;
  private charged = 0;

  /**
   * @param limit most bytes allocated early at once
   * @throws TypeError when `limit` is not a number; RangeError unless it is an integer of at least 0
   */
  constructor(limit: number = DEFAULT_EARLY_ASSEMBLY_BYTES) {
    checkInteger('limit', limit, 0, Number.MAX_SAFE_INTEGER);
    this.limit = limit;
  }

  /** Bytes charged now. */
  get used(): number {
    return this.charged;
  }

  /** @internal Charge `bytes` if they fit under the bound; whether they did. */
  take(bytes: number): boolean {
    if (this.charged + bytes > this.limit) return false;
    this.charged += bytes;
    return true;
  }

  /** @internal Give back a charge taken with {@link AssemblyBudget.take}. */
  give(bytes: number): void {
    this.charged -= bytes;
  }
}

/**
 * The budget of connections whose owner brings none: the clients of the process (a server
 * makes its own), as `defaultOutputBuffers` is.
 */
export const defaultAssemblyBudget = new AssemblyBudget();
