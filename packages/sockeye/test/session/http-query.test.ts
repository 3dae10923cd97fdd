/**
 * The HTTP transports read a poll's or a POST's query in place (no `URL` per request):
 * property, for any request target over an alphabet rich in the characters a query
 * parser treats specially, the endpoint takes the same targets and reads the same
 * parameters as `new URL(target).searchParams` does.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { queryOf } from '../../src/session/http-server.js';

const NAMES = ['link', 'since', 'from', 'release', 'transport', 'hello', ''];

/** What the endpoint read before: `URL`, its path and its `searchParams`. */
function byUrl(target: string, path: string, name: string): string | null | 'not-taken' {
  let url: URL;
  try {
    url = new URL(target, 'http://localhost');
  } catch {
    return 'not-taken';
  }
  return url.pathname === path ? url.searchParams.get(name) : 'not-taken';
}

describe('session HTTP endpoint: reading the query', () => {
  it('answers as URL and URLSearchParams do, for any target', () => {
    const piece = fc.oneof(
      fc.constantFrom(
        ...NAMES,
        '/s',
        '?',
        '&',
        '=',
        '%',
        '%20',
        '%6Cink',
        '+',
        '#',
        '/',
        '.',
        '..',
        ' ',
        '\t',
        'é',
      ),
      fc.stringMatching(/^[a-z0-9_-]{0,4}$/),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), fc.constantFrom(...NAMES), (pieces, name) => {
        const target = `/s${pieces.join('')}`;
        const query = queryOf(target, '/s');
        const expected = byUrl(target, '/s', name);
        assert.equal(query === null ? 'not-taken' : query.get(name), expected, target);
      }),
      { numRuns: 5000 },
    );
  });

  it('reads the common targets in place', () => {
    const query = queryOf('/s?link=abc_-9&since=12&release', '/s');
    assert.ok(query !== null && !(query instanceof URLSearchParams));
    assert.equal(query.get('link'), 'abc_-9');
    assert.equal(query.get('since'), '12');
    assert.equal(query.get('release'), '');
    assert.equal(query.get('from'), null);
    assert.equal(queryOf('/t?link=a', '/s'), null);
    assert.equal(queryOf('/s/?link=a', '/s'), null);
  });
});
