/**
 * Autobahn TestSuite sections 12 and 13 (permessage-deflate: compressed messages of 16 B
 * to 128 KiB, with every offer/accept combination of context takeover and window bits)
 * against the conformance echo server, which accepts permessage-deflate by default
 * (through WebSocketServer's `perMessageDeflate` option). Every case must be OK,
 * NON-STRICT or INFORMATIONAL. The report stays in reports/autobahn/server-deflate
 * (gitignored). The same suite definition feeds `npm run conformance` (docs/conformance.md).
 * Every verdict must also equal the one committed in conformance/expected/ (see
 * checkExpectedVerdicts), so any change of verdict fails with the cases that changed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KOSOKU, missing } from '../scripts/lib/prereqs.js';
import { casePassed, checkExpectedVerdicts, describeFailures } from './lib/autobahn.js';
import { ECHO_SERVER_DEFLATE as suite, suiteReportDir } from './lib/suites.js';

test('Autobahn sections 12 and 13 (permessage-deflate) against the echo server', {
  skip: missing(KOSOKU, 'kosoku'),
  timeout: 1_800_000,
}, async () => {
  const results = await suite.run(suiteReportDir(suite));
  checkExpectedVerdicts(suite.id, results);
  assert.ok(results.length >= 200, `expected the whole of sections 12 and 13, got ${results.length} cases`);
  assert.equal(
    results.filter((r) => !casePassed(r)).length,
    0,
    `failing cases:\n${describeFailures(results)}`,
  );
});
