/**
 * Autobahn TestSuite sections 1-10 for sockeye's client, against kosoku's fuzzing server
 * with the standard client flow. Every case must be OK, NON-STRICT or INFORMATIONAL with an
 * acceptable closing handshake. The report stays in reports/autobahn/client (gitignored).
 * Every verdict must also equal the one committed in conformance/expected/ (see
 * checkExpectedVerdicts), so any change of verdict fails with the cases that changed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KOSOKU, missing } from '../scripts/lib/prereqs.js';
import { casePassed, checkExpectedVerdicts, describeFailures } from './lib/autobahn.js';
import { runSockeyeClientSuite } from './lib/client-driver.js';

test('Autobahn sections 1-10 for the sockeye client', {
  skip: missing(KOSOKU, 'kosoku'),
  timeout: 900_000,
}, async () => {
  const results = await runSockeyeClientSuite();
  checkExpectedVerdicts('client', results);
  assert.ok(results.length >= 300, `expected the whole of sections 1-10, got ${results.length} cases`);
  assert.equal(
    results.filter((r) => !casePassed(r)).length,
    0,
    `failing cases:\n${describeFailures(results)}`,
  );
});
