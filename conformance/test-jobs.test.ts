/**
 * The pool of test-file slots `npm test` runs its node:test runs in (scripts/lib/test-jobs.mjs):
 * the Autobahn deflate files, the other files and each Node major's run share it, so that
 * the long Autobahn files no longer hold back the Node majors.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runInSlots } from '../scripts/lib/test-jobs.mjs';

interface Job {
  name: string;
  slots: number;
}

/** A fake `run`: every job waits until the test ends it; records starts and the slots in use. */
function fakeRunner() {
  const started: string[] = [];
  const finish = new Map<string, (passed: boolean) => void>();
  let inUse = 0;
  let peak = 0;
  const run = (job: Job) =>
    new Promise<boolean>((resolve) => {
      started.push(job.name);
      inUse += job.slots;
      peak = Math.max(peak, inUse);
      finish.set(job.name, (passed) => {
        inUse -= job.slots;
        resolve(passed);
      });
    });
  /** Let the pool react to what just ended. */
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return { run, started, finish, settle, peak: () => peak };
}

describe('runInSlots', () => {
  it('starts each job as soon as the pool has room, in order, never over the pool', async () => {
    const jobs = [
      { name: 'autobahn', slots: 2 },
      { name: 'tests', slots: 2 },
      { name: 'node 22', slots: 2 },
      { name: 'node 24', slots: 2 },
    ];
    const fake = fakeRunner();
    const all = runInSlots(jobs, 4, fake.run);
    await fake.settle();
    assert.deepEqual(fake.started, ['autobahn', 'tests']);
    // The other files end long before the Autobahn files: the first major starts beside them.
    fake.finish.get('tests')!(true);
    await fake.settle();
    assert.deepEqual(fake.started, ['autobahn', 'tests', 'node 22']);
    fake.finish.get('node 22')!(true);
    await fake.settle();
    assert.deepEqual(fake.started, ['autobahn', 'tests', 'node 22', 'node 24']);
    fake.finish.get('autobahn')!(true);
    fake.finish.get('node 24')!(true);
    assert.equal(await all, true);
    assert.equal(fake.peak(), 4);
  });

  it('does not let a small job overtake a larger one that waits for room', async () => {
    const fake = fakeRunner();
    const all = runInSlots(
      [
        { name: 'a', slots: 3 },
        { name: 'b', slots: 2 },
        { name: 'c', slots: 1 },
      ],
      4,
      fake.run,
    );
    await fake.settle();
    assert.deepEqual(fake.started, ['a']);
    fake.finish.get('a')!(true);
    await fake.settle();
    assert.deepEqual(fake.started, ['a', 'b', 'c']);
    fake.finish.get('b')!(true);
    fake.finish.get('c')!(true);
    assert.equal(await all, true);
  });

  it('starts nothing after a failure and resolves false once the running jobs end', async () => {
    const fake = fakeRunner();
    const all = runInSlots(
      [
        { name: 'autobahn', slots: 2 },
        { name: 'tests', slots: 2 },
        { name: 'node 22', slots: 2 },
      ],
      4,
      fake.run,
    );
    await fake.settle();
    fake.finish.get('tests')!(false);
    await fake.settle();
    assert.deepEqual(fake.started, ['autobahn', 'tests'], 'no job starts after a failure');
    let resolved = false;
    void all.then(() => {
      resolved = true;
    });
    await fake.settle();
    assert.equal(resolved, false, 'it waits for the job still running');
    fake.finish.get('autobahn')!(true);
    assert.equal(await all, false);
  });

  it('counts a job whose run throws as failed', async () => {
    const passed = await runInSlots([{ name: 'x', slots: 1 }], 1, () =>
      Promise.reject(new Error('spawn failed')),
    );
    assert.equal(passed, false);
  });

  it('refuses a job that needs more slots than the pool has, instead of waiting for ever', async () => {
    await assert.rejects(
      runInSlots([{ name: 'big', slots: 5 }], 4, async () => true),
      (error: Error) =>
        error instanceof RangeError && /big needs 5 slots, the pool has 4/.test(error.message),
    );
  });
});
