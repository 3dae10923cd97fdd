/**
 * Run `jobs` in their order, each as soon as `total` slots have room for its `slots` (see
 * test-jobs.mjs); resolves true when every job passed, false after a failure (no job starts
 * after one).
 * @throws {RangeError} when a job needs more slots than the pool has
 */
export declare function runInSlots<J extends { name: string; slots: number }>(
  jobs: readonly J[],
  total: number,
  run: (job: J) => Promise<boolean>,
): Promise<boolean>;
