/** The in-memory session store: the contract, and its bound. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemorySessionStore } from '../../src/session/index.js';
import { claimOf, sessionStoreContract, storedSession } from './store-contract.js';

sessionStoreContract('MemorySessionStore', () => new MemorySessionStore());

describe('MemorySessionStore', () => {
  it('keeps at most maxSessions, forgetting the one kept longest', async () => {
    const store = new MemorySessionStore({ maxSessions: 2 });
    await store.put(storedSession('a', 1000), 0);
    await store.put(storedSession('b', 1000), 0);
    await store.put(storedSession('c', 1000), 0);
    assert.equal(store.size, 2);
    assert.equal((await store.take('a', 0, claimOf('e1', 'e2'))).status, 'missing');
    assert.equal((await store.take('b', 0, claimOf('e1', 'e2'))).status, 'taken');
    assert.equal((await store.take('c', 0, claimOf('e1', 'e2'))).status, 'taken');
  });

  it('refuses a bound that is not a positive integer', () => {
    assert.throws(() => new MemorySessionStore({ maxSessions: 0 }), RangeError);
  });
});
