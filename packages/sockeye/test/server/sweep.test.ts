/**
 * The sweep's deadlines as a state machine, driven by a clock of the test's own: random
 * sequences of pongs, closes and passes against the rules of the heartbeat and the close
 * deadline.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Sweep, type SweepHost, type SweptConnection, sweepPeriod } from '../../src/server/sweep.js';

/** A connection as the sweep sees it, recording what the sweep did to it. */
class FakeConnection implements SweptConnection {
  readyState: 'open' | 'closing' | 'closed' = 'open';
  pings = 0;
  terminatedAt: number | null = null;
  now = 0;
  ping(): void {
    this.pings++;
  }
  terminate(): void {
    this.terminatedAt ??= this.now;
    this.readyState = 'closed';
  }
}

/** What the rules say of one connection, kept by the test. */
interface Expected {
  /** When the heartbeat last started over (the opening, or a pong). */
  since: number;
  /** When an unanswered heartbeat ping went out (null: none). */
  pingAt: number | null;
  /** When the connection last started closing (null: it has not). */
  closeAt: number | null;
}

type Step =
  | { kind: 'tick'; advance: number }
  | { kind: 'pong'; advance: number; index: number }
  | { kind: 'close'; advance: number; index: number };

const CONNECTIONS = 3;

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('tick' as const), advance: fc.integer({ min: 0, max: 400 }) }),
  fc.record({
    kind: fc.constant('pong' as const),
    advance: fc.integer({ min: 0, max: 400 }),
    index: fc.integer({ min: 0, max: CONNECTIONS - 1 }),
  }),
  fc.record({
    kind: fc.constant('close' as const),
    advance: fc.integer({ min: 0, max: 400 }),
    index: fc.integer({ min: 0, max: CONNECTIONS - 1 }),
  }),
);

const host: SweepHost<FakeConnection> = {
  expireHandshakes() {},
  expireConnection: () => false,
  swept() {},
};

describe('the sweep', () => {
  it('sweeps every quarter of the shortest period, within 10 ms and 1 s', () => {
    assert.equal(sweepPeriod([30_000, 4000]), 1000);
    assert.equal(sweepPeriod([2000, 400]), 100);
    assert.equal(sweepPeriod([20]), 10);
  });

  it('pings on time, terminates a late pong or an unfinished close, and nothing else', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0, 100, 1000),
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 1, max: 500 }),
        fc.array(step, { maxLength: 60 }),
        (pingInterval, pongTimeout, closeTimeout, steps) => {
          const sweep = new Sweep<FakeConnection>(host, {
            periodMs: 10,
            pingInterval,
            pongTimeout,
            closeTimeout,
          });
          let now = 1_000_000;
          const connections: FakeConnection[] = [];
          const expected: Expected[] = [];
          try {
            for (let i = 0; i < CONNECTIONS; i++) {
              const ws = new FakeConnection();
              sweep.add(ws, now);
              connections.push(ws);
              expected.push({ since: now, pingAt: null, closeAt: null });
            }
            sweep.stop(); // the test's clock drives it
            for (const next of steps) {
              now += next.advance;
              for (const ws of connections) ws.now = now;
              if (next.kind === 'pong') {
                const ws = connections[next.index]!;
                if (ws.terminatedAt !== null) continue;
                sweep.pongReceived(ws, now);
                const state = expected[next.index]!;
                state.since = now;
                state.pingAt = null;
                continue;
              }
              if (next.kind === 'close') {
                const ws = connections[next.index]!;
                if (ws.terminatedAt !== null) continue;
                ws.readyState = 'closing';
                sweep.startCloseDeadline(ws, now);
                expected[next.index]!.closeAt = now;
                continue;
              }
              const pingsBefore = connections.map((ws) => ws.pings);
              sweep.tick(now);
              connections.forEach((ws, i) => {
                const state = expected[i]!;
                const pinged = ws.pings - pingsBefore[i]!;
                if (ws.terminatedAt === now) {
                  // Terminated on this pass: for an unfinished close, or a late pong, only.
                  const closeDue = state.closeAt !== null && now >= state.closeAt + closeTimeout;
                  const pongLate =
                    state.closeAt === null && state.pingAt !== null && now >= state.pingAt + pongTimeout;
                  assert.ok(closeDue || pongLate, `connection ${i} terminated at ${now} for no reason`);
                  return;
                }
                if (ws.terminatedAt !== null) return;
                if (state.closeAt !== null) {
                  assert.ok(now < state.closeAt + closeTimeout, `connection ${i}: close deadline missed`);
                  assert.equal(pinged, 0, 'no heartbeat once closing');
                  return;
                }
                if (state.pingAt !== null) {
                  assert.ok(now < state.pingAt + pongTimeout, `connection ${i}: late pong not terminated`);
                  assert.equal(pinged, 0, 'one ping at a time');
                  return;
                }
                const due = pingInterval > 0 && now >= state.since + pingInterval;
                assert.equal(
                  pinged,
                  due ? 1 : 0,
                  `connection ${i}: ping ${due ? 'missed' : 'early'} at ${now}`,
                );
                if (due) state.pingAt = now;
              });
            }
          } finally {
            sweep.stop();
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('forgets a connection it no longer watches', () => {
    const sweep = new Sweep<FakeConnection>(host, {
      periodMs: 10,
      pingInterval: 100,
      pongTimeout: 100,
      closeTimeout: 100,
    });
    const ws = new FakeConnection();
    sweep.add(ws, 0);
    sweep.stop();
    sweep.delete(ws);
    assert.equal(sweep.size, 0);
    sweep.startCloseDeadline(ws, 0); // no effect on a connection it does not watch
    sweep.tick(10_000);
    assert.equal(ws.pings, 0);
    assert.equal(ws.terminatedAt, null);
  });
});
