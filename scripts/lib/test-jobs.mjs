// The pool of test-file slots `npm test` shares between its node:test runs (scripts/test.mjs):
// the Autobahn permessage-deflate files, the other test files and the library's suites on
// each other Node major. Each run takes `slots` files at a time; a run starts as soon as the
// pool has room for it, in the order given, so that a long run (the Autobahn files, about
// 425 s) does not hold back the ones after it. The pool never has more files running than a
// single node:test run at that concurrency would.

/**
 * Run `jobs` in their order, each as soon as `total` slots have room for its `slots`; a job
 * never overtakes an earlier one that is waiting. `run(job)` resolves true when the job
 * passed, false when it failed; after a failure no other job starts, and the promise
 * resolves false once the running ones have ended (stopping them is `run`'s business).
 * Resolves true when every job passed.
 * @template {{ name: string, slots: number }} J
 * @param {readonly J[]} jobs
 * @param {number} total
 * @param {(job: J) => Promise<boolean>} run
 * @returns {Promise<boolean>}
 * @throws {RangeError} when a job needs more slots than the pool has (it could never start)
 */
export async function runInSlots(jobs, total, run) {
  for (const job of jobs) {
    if (!(Number.isInteger(job.slots) && job.slots >= 1 && job.slots <= total)) {
      throw new RangeError(`${job.name} needs ${job.slots} slots, the pool has ${total}`);
    }
  }
  let free = total;
  let failed = false;
  const waiting = [...jobs];
  const active = new Set();
  for (;;) {
    while (!failed && waiting.length > 0 && waiting[0].slots <= free) {
      const job = waiting.shift();
      free -= job.slots;
      const running = run(job)
        .then(
          (passed) => passed,
          () => false,
        )
        .then((passed) => {
          if (!passed) failed = true;
          free += job.slots;
          active.delete(running);
        });
      active.add(running);
    }
    if (active.size === 0) return !failed;
    await Promise.race(active);
  }
}
