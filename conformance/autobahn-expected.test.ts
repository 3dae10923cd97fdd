/**
 * The comparison of Autobahn verdicts with the committed expected results
 * (conformance/expected/<suite>.json): every kind of change is reported, case by case, and
 * every committed file is well-formed. No kosoku needed.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../scripts/lib/prereqs.js';
import { type CaseResult, compareCaseIds, verdictChanges } from './lib/autobahn.js';

const result = (id: string, behavior: string, behaviorClose = 'OK', reason = ''): CaseResult => ({
  id,
  behavior,
  behaviorClose,
  duration: 1,
  remoteCloseCode: 1000,
  result: reason,
});

describe('Autobahn verdicts against the expected results', () => {
  const expected = { '1.1.1': 'OK/OK', '6.4.1': 'NON-STRICT/OK', '7.1.6': 'INFORMATIONAL/OK' };

  it('finds no change when every case has its expected verdict', () => {
    const results = [result('1.1.1', 'OK'), result('6.4.1', 'NON-STRICT'), result('7.1.6', 'INFORMATIONAL')];
    assert.deepEqual(verdictChanges(expected, results), []);
  });

  it('reports a changed verdict, even a better one, a case that did not run and a new case', () => {
    const results = [
      result('1.1.1', 'FAILED', 'OK', 'Echo differs'),
      result('6.4.1', 'OK'),
      result('7.1.6', 'INFORMATIONAL', 'FAILED'),
      result('9.1.1', 'OK'),
    ];
    assert.deepEqual(verdictChanges({ ...expected, '5.1': 'OK/OK' }, results), [
      '1.1.1: expected OK/OK, got FAILED/OK (Echo differs)',
      '5.1: expected OK/OK, did not run',
      '6.4.1: expected NON-STRICT/OK, got OK/OK',
      '7.1.6: expected INFORMATIONAL/OK, got INFORMATIONAL/FAILED',
      '9.1.1: new case, OK/OK',
    ]);
  });

  it('has a well-formed expected file for every Autobahn suite in npm test', () => {
    const dir = join(ROOT, 'conformance', 'expected');
    const files = readdirSync(dir).sort();
    assert.deepEqual(files, [
      'client-deflate-threshold.json',
      'client-deflate.json',
      'client.json',
      'server-deflate.json',
      'server.json',
    ]);
    for (const file of files) {
      const verdicts = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, string>;
      const ids = Object.keys(verdicts);
      assert.ok(ids.length > 0, file);
      assert.deepEqual(ids, [...ids].sort(compareCaseIds), `${file} is in case order`);
      for (const [id, verdict] of Object.entries(verdicts)) {
        assert.match(id, /^\d+(\.\d+)*$/, `${file}: case id ${id}`);
        assert.match(verdict, /^[A-Z-]+\/[A-Z-]+$/, `${file}: ${id}`);
      }
    }
  });
});
