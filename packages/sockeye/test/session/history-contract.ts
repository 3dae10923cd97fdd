/**
 * The behaviour every {@link TopicHistory} promises, as a suite any implementation runs:
 * `topicHistoryContract('name', makeHistory)` with a history keeping at most 5 messages
 * per topic. Type-only imports, so an implementation may load sockeye from its build.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TopicHistory } from '../../src/session/index.js';

/** Run the contract against histories made by `makeHistory` (fresh and empty, keeping 5 messages per topic). */
export function topicHistoryContract(
  name: string,
  makeHistory: () => Promise<TopicHistory> | TopicHistory,
  options: { skip?: string | false } = {},
): void {
  describe(`TopicHistory contract: ${name}`, { skip: options.skip ?? false }, () => {
    it('numbers each topic 1, 2, 3, ... and gives back what follows a position, text and binary intact', async () => {
      const history = await makeHistory();
      assert.equal(await history.last('a'), 0);
      assert.equal(await history.append('a', 'one'), 1);
      assert.equal(await history.append('a', new Uint8Array([0, 255])), 2);
      assert.equal(await history.append('b', 'other'), 1);
      assert.equal(await history.append('a', 'three'), 3);
      assert.equal(await history.last('a'), 3);
      const found = await history.read(
        new Map([
          ['a', 1],
          ['b', 1],
        ]),
        10,
      );
      assert.deepEqual([...found.keys()], ['a'], 'nothing new in b');
      const { generation, ...read } = found.get('a')!;
      if (generation !== undefined) assert.equal(generation, await history.generation?.('a'));
      assert.deepEqual(read, {
        entries: [
          { position: 2, data: new Uint8Array([0, 255]) },
          { position: 3, data: 'three' },
        ],
        lost: 0,
      });
      assert.deepEqual((await history.read(new Map([['a', 0]]), 2)).get('a')?.entries.length, 2, 'limit');
      await history.close();
    });

    it('counts exactly what it trimmed after the position asked for', async () => {
      const history = await makeHistory();
      for (let i = 1; i <= 9; i++) await history.append('a', `m${i}`);
      const read = (await history.read(new Map([['a', 2]]), 10)).get('a');
      assert.deepEqual(
        read?.entries.map((e) => e.position),
        [5, 6, 7, 8, 9],
      );
      assert.equal(read?.lost, 2, 'positions 3 and 4 are gone');
      await history.close();
    });

    it('has a generation: none without a log, then one for the life of the log, which reads carry', async () => {
      const history = await makeHistory();
      assert.equal(typeof history.generation, 'function');
      const generation = (topic: string) => history.generation!(topic);
      assert.equal(await generation('a'), '');
      await history.append('a', 'one');
      const first = await generation('a');
      assert.match(first, /^.{8,}$/);
      await history.append('a', 'two');
      assert.equal(await generation('a'), first);
      assert.equal(await generation('b'), '');
      await history.append('b', 'other');
      assert.notEqual(await generation('b'), first, 'each log its own');
      const read = (await history.read(new Map([['a', 0]]), 10)).get('a');
      if (read?.generation !== undefined) assert.equal(read.generation, first);
      await history.close();
    });

    it('a read with a wait returns when a message arrives', async () => {
      const history = await makeHistory();
      const reading = history.read(new Map([['a', 0]]), 10, 30_000);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await history.append('a', 'late');
      const found = await reading;
      assert.deepEqual(found.get('a')?.entries, [{ position: 1, data: 'late' }]);
      await history.close();
    });
  });
}
