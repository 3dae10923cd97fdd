/**
 * Memory measurements for the tests that bound what untrusted input can make a process
 * hold (trickled heads, compressed fragments, ping floods, connection churn). The test
 * runner does not pass `--expose-gc`, so the collector is exposed at run time.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');

/** A full garbage collection. */
export const gc = runInNewContext('gc') as () => void;

/**
 * What the process holds after two full collections: the JS heap and every ArrayBuffer
 * (Buffers live there), in bytes.
 */
export function heldBytes(): number {
  gc();
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}
