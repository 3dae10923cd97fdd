/** Token buckets, the bounded bucket table, the connection gate and per-connection lifetimes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  BucketTable,
  ConnectionGate,
  ConnectionOps,
  opsSettings,
  TokenBucket,
} from '../../src/server/limits.js';

describe('TokenBucket', () => {
  it('allows a burst, then the rate', () => {
    const bucket = TokenBucket.of({ perSecond: 10, burst: 3 }, 0);
    assert.deepEqual(
      [1, 2, 3, 4].map(() => bucket.take(1, 0)),
      [true, true, true, false],
    );
    assert.equal(bucket.take(1, 50), false); // half a token back
    assert.equal(bucket.take(1, 100), true);
    assert.equal(bucket.take(1, 10_000), true);
  });

  it('lets a count above the burst through only when full, then is in debt', () => {
    const bucket = TokenBucket.of({ perSecond: 1000, burst: 10 }, 0);
    assert.equal(bucket.take(25, 0), true);
    assert.equal(bucket.take(1, 10), false); // -15 + 10 = -5
    assert.equal(bucket.take(1, 16), true);
  });

  it('never lets more through than the burst plus the rate over the time (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 500 }), fc.integer({ min: 1, max: 5 })), {
          maxLength: 200,
        }),
        (perSecond, burst, steps) => {
          const bucket = TokenBucket.of({ perSecond, burst }, 0);
          let now = 0;
          let taken = 0;
          for (const [elapsed, count] of steps) {
            now += elapsed;
            if (bucket.take(count, now)) taken += count;
            // A take above the burst may overdraw by at most one count.
            assert.ok(taken <= burst + (perSecond * now) / 1000 + 5, `${taken} at ${now}`);
          }
        },
      ),
    );
  });
});

describe('BucketTable', () => {
  it('keeps at most its capacity, forgetting the least recently used first', () => {
    const table = new BucketTable({ perSecond: 0.001, burst: 1 }, 3);
    assert.equal(table.take('a', 1, 0), true);
    assert.equal(table.take('b', 1, 0), true);
    assert.equal(table.take('c', 1, 0), true);
    assert.equal(table.take('a', 1, 0), false); // 'a' is now the most recent
    for (let i = 0; i < 10_000; i++) table.take(`attacker-${i}`, 1, 0);
    assert.equal(table.size, 3);
    // 'a' was forgotten: its bucket starts full again.
    assert.equal(table.take('a', 1, 0), true);
  });
});

describe('ConnectionGate', () => {
  it('counts connections by group and releases them (property: never above the caps)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 4 })), { maxLength: 300 }),
        (steps) => {
          const gate = new ConnectionGate({ maxConnections: 6, maxConnectionsPerAddress: 2 });
          const held: string[] = [];
          for (const [open, who] of steps) {
            const group = gate.group(`192.0.2.${who}`);
            if (open) {
              if (gate.admit(group, 0) === null) held.push(group);
            } else {
              const at = held.indexOf(group);
              if (at !== -1) {
                held.splice(at, 1);
                gate.release(group);
              }
            }
            assert.equal(gate.size, held.length);
            assert.ok(gate.size <= 6);
            for (const g of new Set(held)) assert.ok(held.filter((h) => h === g).length <= 2);
          }
          for (const group of held) gate.release(group);
          assert.equal(gate.size, 0);
          assert.equal(gate.addresses, 0);
        },
      ),
    );
  });

  it('says which limit refuses, with the status to answer', () => {
    const gate = new ConnectionGate({ maxConnections: 1, handshakeRate: { perSecond: 1, burst: 2 } });
    assert.equal(gate.admit('a', 0), null);
    assert.equal(gate.admit('b', 0), 'max-connections');
    assert.equal(gate.admit('b', 0), 'max-connections');
    assert.equal(gate.admit('b', 0), 'handshake-rate');
    assert.equal(gate.refusal('max-connections').status, 503);
    assert.equal(gate.refusal('handshake-rate').status, 429);
    assert.deepEqual(gate.refusal('max-connections-per-address').headers, { 'Retry-After': '5' });
  });
});

describe('ConnectionOps', () => {
  it('spreads lifetimes over the jitter', () => {
    const settings = opsSettings({ maxLifetime: 10_000, lifetimeJitter: 2_000 })!;
    const expiries = Array.from({ length: 200 }, () => new ConnectionOps(settings, 0).expiresAt);
    assert.ok(expiries.every((at) => at > 8_000 && at <= 10_000));
    assert.ok(new Set(expiries).size > 100);
  });

  it('is not needed when nothing is configured', () => {
    assert.equal(opsSettings({}), null);
    assert.equal(opsSettings({ messageLimits: { policy: 'drop' } }), null);
  });
});
