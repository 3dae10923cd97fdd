// Preloaded into every test file's process by scripts/test.mjs (`--import`): when a file's
// tests are all done but something it opened (a server, a socket, a timer, a child process)
// still keeps its process alive, node:test would wait for that process for ever and the run
// would hang. Instead, a grace period after the last test, the file fails with a list of
// what was left open.
//
// Not `--test-force-exit`: that exits as soon as the tests are done and, with several files
// at once, can drop verdicts still on their way to the parent (the run then reports fewer
// tests than ran, and passes). The grace period leaves the report plenty of time to arrive;
// a file that ends normally is not delayed at all (the timer is unref'd).
import { after } from 'node:test';

/** Seconds a file may stay alive after its last test. */
const GRACE_MS = Number(process.env.TEST_EXIT_GRACE_MS ?? 60_000);

// Only in the processes that run test files, not in the runner that starts them.
if (process.env.NODE_TEST_CONTEXT === 'child-v8') {
  after(() => {
    const timer = setTimeout(() => {
      console.error(
        `\n${process.argv[1] ?? 'this test file'}: still running ${GRACE_MS / 1000} s after its ` +
          `last test, held open by: ${process.getActiveResourcesInfo().join(', ')}`,
      );
      process.exit(1);
    }, GRACE_MS);
    timer.unref();
  });
}
