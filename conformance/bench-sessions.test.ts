/**
 * Smoke test of the session benchmark (bench/sessions.ts, part of `npm run bench`): each
 * of its three parts runs small against the compiled package, so that a change to the
 * session layer or to the script cannot leave `npm run bench` broken. Small: 2
 * connections for half a second, 200 idle sessions, storms of 50 sessions. Nothing
 * about speed is asserted; what is: every part measured something, every session of
 * both storms resumed on the other server (none lost), and the report renders.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  benchSettings,
  docsSection,
  measureMemory,
  measureOverhead,
  measureStorm,
} from '../bench/sessions.js';

describe('session benchmark', { timeout: 240_000 }, () => {
  it('measures the overhead, the memory and both reconnect storms, losing no session', async () => {
    const settings = {
      ...benchSettings(true, 50),
      memorySteps: [200],
      throughput: {
        connections: 2,
        inFlight: 8,
        payload: 'x'.repeat(64),
        warmupMs: 100,
        measureMs: 300,
        rounds: 1,
      },
      drainPeriod: 300,
      retryWindow: 200,
    };
    const throughput = await measureOverhead(settings);
    for (const kind of ['plain', 'session'] as const) {
      const rate = throughput[kind];
      assert.ok(rate.perSecond > 0 && rate.perServerCpuSecond > 0 && rate.perClientCpuSecond > 0, kind);
    }
    assert.ok(throughput.ratio > 0);

    const memory = await measureMemory(settings);
    assert.deepEqual(
      memory.map((step) => step.sessions),
      [200],
    );
    assert.ok(Number.isFinite(memory[0]!.bytesPerSession));

    const storms = [await measureStorm(settings, 'at once', 0), await measureStorm(settings, 'drained', 300)];
    for (const storm of storms) {
      assert.equal(storm.sessions, 50, storm.name);
      // Every session came back resumed: the closing server put them in the store first.
      assert.equal(storm.lost, 0, storm.name);
      assert.ok(storm.peak1s > 0 && storm.peak1s <= 50, storm.name);
    }

    const section = docsSection({
      date: new Date().toISOString(),
      loadBefore: '0',
      loadAfter: '0',
      throughput,
      memory,
      storms,
      settings,
    });
    assert.match(section, /\| session \| [\d.k]+ \([\d.]+x\) \|/);
    assert.match(section, /\| 200 \| -?[\d,]+ \|/);
    assert.match(section, /\| drained \| /);
  });
});
