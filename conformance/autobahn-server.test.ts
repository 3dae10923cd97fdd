/**
 * Autobahn TestSuite sections 1-10 against sockeye's conformance echo server, driven by
 * kosoku's fuzzing client. Every case must be OK, NON-STRICT or INFORMATIONAL, with an
 * acceptable closing handshake. The report stays in reports/autobahn/server (gitignored).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KOSOKU, missing, ROOT } from '../scripts/lib/prereqs.js';
import { freePort, startProcess } from '../scripts/lib/process.js';
import { casePassed, describeFailures, reportDir, runFuzzingClient } from './lib/autobahn.js';

test('Autobahn sections 1-10 against the echo server', {
  skip: missing(KOSOKU, 'kosoku'),
  timeout: 900_000,
}, async () => {
  const port = await freePort();
  const server = await startProcess(
    process.execPath,
    ['--import', 'tsx', 'conformance/echo-server.ts', '--port', String(port)],
    /listening on ws:\/\//,
    { cwd: ROOT },
  );
  try {
    const results = await runFuzzingClient(`127.0.0.1:${port}`, {
      include: ['1.*', '2.*', '3.*', '4.*', '5.*', '6.*', '7.*', '9.*', '10.*'],
      outDir: reportDir('server'),
    });
    assert.ok(results.length >= 300, `expected the whole of sections 1-10, got ${results.length} cases`);
    assert.equal(
      results.filter((r) => !casePassed(r)).length,
      0,
      `failing cases:\n${describeFailures(results)}`,
    );
  } finally {
    await server.stop();
  }
});
