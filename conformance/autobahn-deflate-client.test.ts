/**
 * Autobahn TestSuite sections 12 and 13 (permessage-deflate) for the core's client role:
 * kosoku's fuzzing server (which accepts our offer in every way section 13 lists: no
 * context takeover, window bits 9 and 15) against a bare client shell on the core
 * (conformance/lib/core-client.ts) that echoes every message. Every case must be OK,
 * NON-STRICT or INFORMATIONAL. The report stays in reports/autobahn/client-deflate.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PerMessageDeflate } from '../packages/sockeye/src/protocol/index.js';
import { KOSOKU, missing } from '../scripts/lib/prereqs.js';
import { freePort } from '../scripts/lib/process.js';
import { casePassed, describeFailures, reportDir, startFuzzingServer } from './lib/autobahn.js';
import { runCoreClient } from './lib/core-client.js';

const AGENT = 'sockeye-core';

test('Autobahn sections 12 and 13 (permessage-deflate) for the client role', {
  skip: missing(KOSOKU, 'kosoku'),
  timeout: 1_800_000,
}, async () => {
  const port = await freePort();
  const fuzzer = await startFuzzingServer(port, {
    include: ['12.*', '13.*'],
    outDir: reportDir('client-deflate'),
    timeoutMs: 1_700_000,
  });
  try {
    // Compress every message, as the echo server does (see conformance/echo-server.ts).
    // Offer client_no_context_takeover: Autobahn 13.5-13.7 accept only offers that carry
    // it (its server asks for no client context takeover); without it they report
    // UNIMPLEMENTED. RFC 7692 section 7.1.1.2 makes the offer a promise, so the client
    // resets its compressor in every case; client-side context takeover is covered by the
    // in-memory pair tests and the ws interop tests.
    const deflate = new PerMessageDeflate({ threshold: 0, clientNoContextTakeover: true });
    const count = await runCoreClient(`${fuzzer.url}/getCaseCount`, { echo: false });
    const cases = Number(count.messages[0]?.data.toString());
    assert.ok(cases >= 200, `expected the whole of sections 12 and 13, got ${cases} cases`);
    for (let n = 1; n <= cases; n++) {
      await runCoreClient(`${fuzzer.url}/runCase?case=${n}&agent=${AGENT}`, { echo: true, deflate });
    }
    await runCoreClient(`${fuzzer.url}/updateReports?agent=${AGENT}`, { echo: false });
    const results = await fuzzer.results;
    assert.equal(results.length, cases);
    assert.equal(
      results.filter((r) => !casePassed(r)).length,
      0,
      `failing cases:\n${describeFailures(results)}`,
    );
  } finally {
    fuzzer.stop();
  }
});
