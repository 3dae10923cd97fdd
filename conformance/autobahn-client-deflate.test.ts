/**
 * Autobahn TestSuite sections 12 and 13 (permessage-deflate) for sockeye's client, against
 * kosoku's fuzzing server with the standard client flow (conformance/lib/client-driver.ts).
 * Every case must be OK, NON-STRICT or INFORMATIONAL with an acceptable closing handshake,
 * and must really have run compressed with the parameters its subsection is about: the
 * test reads each case's report (the HTTP response kosoku sent) to check it. The report
 * stays in reports/autobahn/client-deflate (gitignored).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { KOSOKU, missing } from '../scripts/lib/prereqs.js';
import { casePassed, describeFailures, reportDir } from './lib/autobahn.js';
import { DEFLATE_CASE_IDS, runSockeyeDeflateClientSuite } from './lib/client-driver.js';

/** Parameters the server's answer must carry in each subsection of 13 (what the case tests). */
const EXPECTED_ANSWER: Readonly<Record<string, readonly string[]>> = {
  '13.2': ['server_no_context_takeover', 'client_no_context_takeover'],
  '13.3': ['server_max_window_bits=9', 'client_max_window_bits=9'],
  '13.4': ['server_max_window_bits=15', 'client_max_window_bits=15'],
  '13.5': ['server_no_context_takeover', 'client_no_context_takeover', 'client_max_window_bits=9'],
  '13.6': ['server_no_context_takeover', 'client_no_context_takeover', 'client_max_window_bits=15'],
  '13.7': ['server_no_context_takeover', 'client_no_context_takeover', 'client_max_window_bits=9'],
};

interface CaseReport {
  id: string;
  case: number;
  httpResponse: string;
}

test('Autobahn sections 12 and 13 (permessage-deflate) for the sockeye client', {
  skip: missing(KOSOKU, 'kosoku'),
  timeout: 1_500_000,
}, async () => {
  const outDir = reportDir('client-deflate');
  const results = await runSockeyeDeflateClientSuite(outDir);
  assert.equal(results.length, DEFLATE_CASE_IDS.length, 'every case of sections 12 and 13 ran');
  assert.equal(
    results.filter((r) => !casePassed(r)).length,
    0,
    `failing cases:\n${describeFailures(results)}`,
  );
  const index = JSON.parse(readFileSync(join(outDir, 'index.json'), 'utf8')) as Record<
    string,
    Record<string, { reportfile: string }>
  >;
  for (const cases of Object.values(index)) {
    for (const [id, entry] of Object.entries(cases)) {
      const report = JSON.parse(readFileSync(join(outDir, entry.reportfile), 'utf8')) as CaseReport;
      // The driver chose the offer from the case's position: check it was this case.
      assert.equal(DEFLATE_CASE_IDS[report.case - 1], id, `case number ${report.case}`);
      const answer = /^sec-websocket-extensions: *(.*)$/im.exec(report.httpResponse)?.[1]?.trim() ?? '';
      assert.match(answer, /^permessage-deflate\b/, `${id} ran without compression`);
      for (const param of EXPECTED_ANSWER[id.split('.').slice(0, 2).join('.')] ?? []) {
        assert.ok(answer.includes(param), `${id}: ${param} missing from "${answer}"`);
      }
    }
  }
});
