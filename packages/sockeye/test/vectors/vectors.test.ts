import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SHARED_VECTORS_PATH, VECTORS_PATH } from './vectors.js';

test('the committed vectors equal the shared file', {
  skip: !existsSync(SHARED_VECTORS_PATH) && 'no ../shared here',
}, () => {
  assert.equal(readFileSync(VECTORS_PATH, 'utf8'), readFileSync(SHARED_VECTORS_PATH, 'utf8'));
});
