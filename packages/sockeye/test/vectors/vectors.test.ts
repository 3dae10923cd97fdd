import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SHARED_VECTORS_PATH, VECTORS_PATH } from './vectors.js';

/**
 * SHA-256 of ../shared/vectors/websocket-vectors.json when it was copied here. The copy is
 * committed so that a clone without ../shared still runs every vector; this digest proves the
 * copy was not edited by hand.
 */
const SHARED_SHA256 = '162fb8c7f3eadbdf6eb7a0b52d701902ae663b55d6fb7b59c7e3d1c531e846d3';

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

test('the committed vectors are the shared file, byte for byte', () => {
  assert.equal(sha256(VECTORS_PATH), SHARED_SHA256);
  // Where the shared folder is checked out beside the project, it must not have moved on.
  if (existsSync(SHARED_VECTORS_PATH)) assert.equal(sha256(SHARED_VECTORS_PATH), SHARED_SHA256);
});
