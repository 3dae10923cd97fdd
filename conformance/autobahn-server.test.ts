/**
 * Autobahn TestSuite sections 1-10 against sockeye's conformance echo server, driven by
 * kosoku's fuzzing client. Every case must be OK, NON-STRICT or INFORMATIONAL, with an
 * acceptable closing handshake. The report stays in reports/autobahn/server (gitignored).
 * The same suite definition feeds `npm run conformance` (docs/conformance.md).
 * Every verdict must also equal the one committed in conformance/expected/ (see
 * checkExpectedVerdicts), so any change of verdict fails with the cases that changed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KOSOKU, missing } from '../scripts/lib/prereqs.js';
import { casePassed, checkExpectedVerdicts, describeFailures } from './lib/autobahn.js';
import { ECHO_SERVER_SECTIONS_1_TO_10 as suite, suiteReportDir } from './lib/suites.js';

test('Autobahn sections 1-10 against the echo server', {
  skip: missing(KOSOKU, 'kosoku'),
  timeout: 900_000,
}, async () => {
  const results = await suite.run(suiteReportDir(suite));
  checkExpectedVerdicts(suite.id, results);
  assert.ok(results.length >= 300, `expected the whole of sections 1-10, got ${results.length} cases`);
  assert.equal(
    results.filter((r) => !casePassed(r)).length,
    0,
    `failing cases:\n${describeFailures(results)}`,
  );
});
