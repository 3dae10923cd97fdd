/** The in-memory session store: the contract, and its bound. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemorySessionStore } from '../../src/session/index.js';
import { sessionStoreContract, storedSession } from './store-contract.js';

sessionStoreContract('MemorySessionStore', () => new MemorySessionStore());

describe('MemorySessionStore', () => {
  it('keeps at most maxSessions, forgetting the one kept longest', async () => {
    const store = new MemorySessionStore({ maxSessions: 2 });
    await store.put(storedSession('a', 1000), 0);
    await store.put(storedSession('b', 1000), 0);
    await store.put(storedSession('c', 1000), 0);
    assert.equal(store.size, 2);
    assert.equal(await store.take('a', 0), undefined);
    assert.ok((await store.take('b', 0)) !== undefined);
    assert.ok((await store.take('c', 0)) !== undefined);
  });

  it('refuses a bound that is not a positive integer', () => {
    assert.throws(() => new MemorySessionStore({ maxSessions: 0 }), RangeError);
  });
});
