/**
 * Autobahn TestSuite sections 12 and 13 (permessage-deflate: compressed messages of 16 B
 * to 128 KiB, with every offer/accept combination of context takeover and window bits)
 * against the conformance echo server, which accepts permessage-deflate by default.
 * Every case must be OK, NON-STRICT or INFORMATIONAL. The report stays in
 * reports/autobahn/server-deflate (gitignored).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KOSOKU, missing, ROOT } from '../scripts/lib/prereqs.js';
import { freePort, startProcess } from '../scripts/lib/process.js';
import { casePassed, describeFailures, reportDir, runFuzzingClient } from './lib/autobahn.js';

test('Autobahn sections 12 and 13 (permessage-deflate) against the echo server', {
  skip: missing(KOSOKU, 'kosoku'),
  timeout: 1_800_000,
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
      include: ['12.*', '13.*'],
      outDir: reportDir('server-deflate'),
      timeoutMs: 1_700_000,
    });
    assert.ok(results.length >= 200, `expected the whole of sections 12 and 13, got ${results.length} cases`);
    assert.equal(
      results.filter((r) => !casePassed(r)).length,
      0,
      `failing cases:\n${describeFailures(results)}`,
    );
  } finally {
    await server.stop();
  }
});
