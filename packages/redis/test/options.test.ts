/**
 * RedisBroker options are checked once, by the constructor, before anything connects: a
 * value that cannot work is a TypeError or RangeError naming the option. (No Redis server
 * is needed: every case here is refused before a connection is attempted.)
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { RedisBroker, type RedisBrokerOptions } from '../src/index.js';

it('options that cannot work are refused, naming the option', () => {
  const cases: Array<[Record<string, unknown>, typeof TypeError | typeof RangeError, RegExp]> = [
    [{ url: 6379 }, TypeError, /^url must be a string/],
    [{ prefix: null }, TypeError, /^prefix must be a string/],
    [{ nodeId: 5 }, TypeError, /^nodeId must be a string/],
    [{ minReconnectDelayMs: -1 }, RangeError, /^minReconnectDelayMs/],
    [{ maxReconnectDelayMs: Number.NaN }, RangeError, /^maxReconnectDelayMs/],
    [
      { minReconnectDelayMs: 500, maxReconnectDelayMs: 100 },
      RangeError,
      /^maxReconnectDelayMs \(100\) must be at least/,
    ],
    [{ maxTrackedTopics: 0 }, RangeError, /^maxTrackedTopics/],
    [{ maxPendingBytes: '1MB' }, TypeError, /^maxPendingBytes must be a number/],
    [{ redis: 'localhost' }, TypeError, /^redis must be an object/],
  ];
  for (const [options, kind, name] of cases) {
    assert.throws(
      () => new RedisBroker(options as RedisBrokerOptions),
      (error: unknown) => error instanceof kind && name.test(error.message),
      JSON.stringify(options),
    );
  }
});
