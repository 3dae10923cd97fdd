/**
 * The behaviour every {@link SessionStore} promises, as a test suite any implementation
 * runs: `sessionStoreContract('name', makeStore)`. The in-memory store runs it here; a
 * Redis store runs it against a real Redis. Type-only imports, so an implementation may
 * load sockeye from its build.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type {
  SessionClaim,
  SessionSnapshot,
  SessionStore,
  StoredSession,
  TakeResult,
} from '../../src/session/index.js';

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
  return { snapshot, expiresAt, topics: ['room', 'news'], positions: { room: 12, news: 0 } };
}

/** A claim of `epoch` handing the session to `newEpoch` (state kept unless `keepState` is false). */
export function claimOf(epoch: string, newEpoch: string, keepState = true, expiresAt = 5000): SessionClaim {
  return { epoch, newEpoch, keepState, expiresAt };
}

/** The state a take found, or a failure naming what it found instead. */
function takenSession(result: TakeResult): StoredSession | undefined {
  assert.equal(result.status, 'taken');
  return result.status === 'taken' ? result.session : undefined;
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
      assert.equal(await store.put(session, 0), true);
      const taken = takenSession(await store.take('a', 500, claimOf('e1', 'e2')));
      assert.ok(taken !== undefined);
      assert.equal(taken.expiresAt, 1000);
      assert.deepEqual(taken.snapshot.entries, session.snapshot.entries);
      assert.equal(typeof taken.snapshot.entries[0]!.data, 'string');
      assert.ok(taken.snapshot.entries[1]!.data instanceof Uint8Array);
      assert.deepEqual({ ...taken.snapshot, entries: [] }, { ...session.snapshot, entries: [] });
      assert.deepEqual(taken.topics, ['room', 'news']);
      assert.deepEqual(taken.positions, { room: 12, news: 0 });
    });

    it('take is once per epoch: of two racing claims, one gets the session and the other finds it moved', async () => {
      const store = await makeStore();
      await store.put(storedSession('a', 1000), 0);
      const results = await Promise.all([
        store.take('a', 0, claimOf('e1', 'x1')),
        store.take('a', 0, claimOf('e1', 'x2')),
      ]);
      assert.deepEqual(results.map((r) => r.status).sort(), ['moved', 'taken']);
    });

    it('a claim keeps the state under the new epoch: the next claim must present it', async () => {
      const store = await makeStore();
      await store.put(storedSession('a', 1000), 0);
      assert.ok(takenSession(await store.take('a', 0, claimOf('e1', 'e2'))) !== undefined);
      assert.equal((await store.take('a', 0, claimOf('e1', 'e3'))).status, 'moved');
      const again = takenSession(await store.take('a', 0, claimOf('e2', 'e3')));
      assert.deepEqual(again?.snapshot.entries, storedSession('a', 1000).snapshot.entries);
    });

    it('a claim without keepState leaves only a mark of ownership: taking it again finds no state', async () => {
      const store = await makeStore();
      await store.put(storedSession('a', 1000), 0);
      assert.ok(takenSession(await store.take('a', 0, claimOf('e1', 'e2', false))) !== undefined);
      assert.deepEqual(await store.take('a', 0, claimOf('e2', 'e3')), {
        status: 'taken',
        session: undefined,
      });
      // The mark still owns the id: the old epoch cannot write it back.
      assert.equal(await store.put(storedSession('a', 1000, 'e1'), 0), false);
    });

    it('finds nothing for an unknown id, and deleting one is not an error', async () => {
      const store = await makeStore();
      assert.deepEqual(await store.take('nobody', 0, claimOf('e1', 'e2')), { status: 'missing' });
      await store.delete('nobody');
      await store.delete('nobody', 'e1');
    });

    it('a put by the owning epoch replaces the kept session', async () => {
      const store = await makeStore();
      await store.put(storedSession('a', 1000, 'e1'), 0);
      const newer = storedSession('a', 2000, 'e1');
      assert.equal(await store.put({ ...newer, topics: ['later'] }, 0), true);
      const taken = takenSession(await store.take('a', 0, claimOf('e1', 'e2')));
      assert.equal(taken?.expiresAt, 2000);
      assert.deepEqual(taken?.topics, ['later']);
    });

    it('a put by another epoch changes nothing (a stale process cannot overwrite a newer copy)', async () => {
      const store = await makeStore();
      await store.put(storedSession('a', 1000, 'e1'), 0);
      await store.take('a', 0, claimOf('e1', 'e2'));
      // The process that held e1 writes late: refused.
      assert.equal(await store.put(storedSession('a', 9000, 'e1'), 0), false);
      // The owner writes.
      assert.equal(await store.put(storedSession('a', 3000, 'e2'), 0), true);
      const taken = takenSession(await store.take('a', 0, claimOf('e2', 'e3')));
      assert.equal(taken?.snapshot.epoch, 'e2');
      assert.equal(taken?.expiresAt, 3000);
    });

    it('delete forgets a session, and with an epoch only if that epoch owns it', async () => {
      const store = await makeStore();
      await store.put(storedSession('a', 1000, 'e1'), 0);
      await store.delete('a', 'e0');
      assert.equal((await store.take('a', 0, claimOf('e1', 'e1'))).status, 'taken');
      await store.delete('a', 'e1');
      assert.equal((await store.take('a', 0, claimOf('e1', 'e1'))).status, 'missing');
      await store.put(storedSession('b', 1000, 'e1'), 0);
      await store.delete('b');
      assert.equal((await store.take('b', 0, claimOf('e1', 'e1'))).status, 'missing');
    });

    it('an expired session is not given back, and expire removes it', async () => {
      const store = await makeStore();
      await store.put(storedSession('old', 100), 0);
      await store.put(storedSession('fresh', 10_000), 0);
      assert.equal((await store.take('old', 100, claimOf('e1', 'e2'))).status, 'missing');
      await store.put(storedSession('old2', 100), 0);
      // A store may expire by itself (a TTL) and return nothing here; either way an
      // expired session is never given back.
      const expired = await store.expire(200);
      assert.ok(expired.every((session) => session.expiresAt <= 200));
      assert.equal((await store.take('old2', 200, claimOf('e1', 'e2', true, 5000))).status, 'missing');
      assert.equal((await store.take('fresh', 200, claimOf('e1', 'e2'))).status, 'taken');
    });

    it('a put already expired at `now` deletes, and an expired copy of another epoch does not block a put', async () => {
      const store = await makeStore();
      await store.put(storedSession('a', 1000, 'e1'), 0);
      assert.equal(await store.put(storedSession('a', 500, 'e1'), 600), true);
      assert.equal((await store.take('a', 600, claimOf('e1', 'e2'))).status, 'missing');
    });
  });
}
