/**
 * The churn test, bounded (a few thousand connections; the long form is in churn.ts and
 * docs/operations.md): with caps on, memory returns to its baseline after a collection,
 * no descriptor or timer is left behind, and a health connection keeps answering.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { churn, describeReport } from './churn.js';

it('opens and closes 3,000 connections in 3 rounds (after a warm-up round) without leaking', {
  timeout: 240_000,
}, async (t) => {
  const report = await churn({ rounds: 3, perRound: 1000, parallel: 50 });
  t.diagnostic(describeReport(report));
  assert.equal(report.refused, 0);
  assert.equal(report.fdsAfter, report.fdsBaseline, 'file descriptors');
  assert.equal(report.timersAfter, report.timersBaseline, 'timers');
  // Not exact (the heap holds compiled code, V8 and allocator caches): a leak of even
  // 1 KiB per connection would be 3 MiB here, so the bounds would catch one.
  assert.ok(report.heapAfter - report.heapBaseline < 2 * 1024 * 1024, 'heap back to its baseline');
  assert.ok(report.rssAfter - report.rssBaseline < 32 * 1024 * 1024, 'RSS back near its baseline');
  // The health connection's echo is a hang guard, not a measurement (10 s, loaded machine).
  assert.ok(report.slowestHealthRoundTripMs < 10_000);
});
