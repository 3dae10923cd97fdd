/**
 * The behaviour every {@link SessionStore} promises, as a test suite any implementation
 * runs: `sessionStoreContract('name', makeStore)`. The in-memory store runs it here; a
 * Redis store runs it against a real Redis. Type-only imports, so an implementation may
 * load sockeye from its build.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SessionSnapshot, SessionStore, StoredSession } from '../../src/session/index.js';

/** A stored session `id` with a replay buffer of text and binary messages. */
export function storedSession(id: string, expiresAt: number, epoch = 'e1'): StoredSession {
  const snapshot: SessionSnapshot = {
    id,
    epoch,
    sent: 3,
    received: 7,
    acknowledged: 1,
    written: 3,
    entries: [
      { seq: 2, data: 'two', at: 10 },
      { seq: 3, data: new Uint8Array([0, 255, 3]), at: 11 },
    ],
  };
  return { snapshot, expiresAt, topics: ['room', 'news'] };
}

/** Run the contract against stores made by `makeStore` (a fresh, empty one per test). */
export function sessionStoreContract(
  name: string,
  makeStore: () => Promise<SessionStore> | SessionStore,
  options: { skip?: string | false } = {},
): void {
  describe(`SessionStore contract: ${name}`, { skip: options.skip ?? false }, () => {
    it('gives back what was put, replay buffer and types intact', async () => {
      const store = await makeStore();
      const session = storedSession('a', 1000);
      await store.put(session, 0);
      const taken = await store.take('a', 500);
      assert.ok(taken !== undefined);
      assert.equal(taken.expiresAt, 1000);
      assert.deepEqual(taken.snapshot.entries, session.snapshot.entries);
      assert.equal(typeof taken.snapshot.entries[0]!.data, 'string');
      assert.ok(taken.snapshot.entries[1]!.data instanceof Uint8Array);
      assert.deepEqual({ ...taken.snapshot, entries: [] }, { ...session.snapshot, entries: [] });
      assert.deepEqual(taken.topics, ['room', 'news']);
    });

    it('take is once: a second take finds nothing', async () => {
      const store = await makeStore();
      await store.put(storedSession('a', 1000), 0);
      const [first, second] = await Promise.all([store.take('a', 0), store.take('a', 0)]);
      assert.equal([first, second].filter((taken) => taken !== undefined).length, 1);
    });

    it('finds nothing for an unknown id, and deleting one is not an error', async () => {
      const store = await makeStore();
      assert.equal(await store.take('nobody', 0), undefined);
      await store.delete('nobody');
    });

    it('a put replaces the session kept under the same id', async () => {
      const store = await makeStore();
      await store.put(storedSession('a', 1000, 'old'), 0);
      await store.put(storedSession('a', 2000, 'new'), 0);
      const taken = await store.take('a', 0);
      assert.equal(taken?.snapshot.epoch, 'new');
      assert.equal(taken?.expiresAt, 2000);
    });

    it('delete forgets a session', async () => {
      const store = await makeStore();
      await store.put(storedSession('a', 1000), 0);
      await store.delete('a');
      assert.equal(await store.take('a', 0), undefined);
    });

    it('an expired session is not given back, and expire removes it', async () => {
      const store = await makeStore();
      await store.put(storedSession('old', 100), 0);
      await store.put(storedSession('fresh', 10_000), 0);
      assert.equal(await store.take('old', 100), undefined);
      await store.put(storedSession('old2', 100), 0);
      // A store may expire by itself (a TTL) and return nothing here; either way an
      // expired session is never given back.
      const expired = await store.expire(200);
      assert.ok(expired.every((session) => session.expiresAt <= 200));
      assert.equal(await store.take('old2', 200), undefined);
      assert.ok((await store.take('fresh', 200)) !== undefined);
    });
  });
}
