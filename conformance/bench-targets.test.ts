/**
 * The targets `npm run bench` judges (bench/targets.ts, bench/scenarios.ts,
 * bench/client-bench.ts): issue 17's, on the cells it names, and the judging of a ratio,
 * of a reference in another cell, of a failed cell and of a goal over its cells. No server
 * runs here: the results are made up.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ClientReport, clientScenarios, clientTargetsSection } from '../bench/client-bench.js';
import { fanoutScenarios, type Scenario, serverScenarios, type Target } from '../bench/scenarios.js';
import {
  closeCalls,
  GOALS,
  judge,
  type Measured,
  type MeasuredResults,
  median,
  medianOfRuns,
  overall,
  serverVerdicts,
  targetsSummary,
} from '../bench/targets.js';

const all = (): Scenario[] => [...serverScenarios(), ...fanoutScenarios()];
const byId = (id: string): Scenario => {
  const scenario = all().find((s) => s.id === id);
  assert.ok(scenario, `no scenario ${id}`);
  return scenario;
};
const goalTargets = (scenario: Scenario, goal: Target['goal']) =>
  scenario.targets.filter((target) => target.goal === goal);

describe('the benchmark judges issue 17’s targets', () => {
  it('item 1: every echo cell (pipelined, 2 and 1 in flight, text) has msg/s at least 1x ws+native', () => {
    const echoes = all().filter(
      (s) => (s.mode === 'echo' || s.mode === 'latency') && !s.args.includes('-deflate'),
    );
    for (const scenario of echoes) {
      assert.deepEqual(
        goalTargets(scenario, 'echo-vs-ws'),
        [{ goal: 'echo-vs-ws', metric: 'msgsPerSec', ratio: 1 }],
        scenario.id,
      );
      assert.ok(scenario.metrics.includes('perServerCpuSecond'), scenario.id);
    }
    // Every size from 32 B to 1 MiB at 1, 64 and 1,000 connections, pipelined and at one in
    // flight; at two in flight on 1 and 64 connections.
    for (const size of ['32B', '1KiB', '64KiB', '1MiB']) {
      for (const connections of [1, 64, 1000]) {
        byId(`echo-${size}-c${connections}`);
        assert.ok(byId(`latency-${size}-c${connections}`).metrics.includes('msgsPerSec'));
      }
      for (const connections of [1, 64])
        assert.ok(byId(`echo-${size}-c${connections}-w2`).args.includes('2'));
    }
  });

  it('items 2 and 3: 64 KiB and 1 MiB at least 1.3x ws+native, 32 B and 1 KiB at least 0.9x Bun', () => {
    for (const connections of [1, 64, 1000]) {
      for (const size of ['64KiB', '1MiB']) {
        assert.deepEqual(goalTargets(byId(`echo-${size}-c${connections}`), 'large'), [
          { goal: 'large', metric: 'msgsPerSec', ratio: 1.3 },
        ]);
      }
      for (const size of ['32B', '1KiB']) {
        assert.deepEqual(goalTargets(byId(`echo-${size}-c${connections}`), 'small-vs-bun'), [
          { goal: 'small-vs-bun', metric: 'msgsPerSec', ratio: 0.9, against: 'bun' },
        ]);
      }
    }
  });

  it('item 4: handshakes at least 2x plain ws, the 1.4x ws+native of issue 3 gone', () => {
    assert.deepEqual(byId('handshakes').targets, [
      { goal: 'handshakes', metric: 'handshakesPerSec', ratio: 2, against: 'ws' },
    ]);
  });

  it('item 5: idle memory against node-raw, the compressed cells against its uncompressed figure', () => {
    for (const id of ['idle-10k', 'idle-1k', 'idle-1k-16KiB']) {
      assert.deepEqual(byId(id).targets, [
        { goal: 'idle', metric: 'rssPerConnKiB', ratio: 1, against: 'node-raw' },
      ]);
    }
    for (const id of ['deflate-idle-1k', 'deflate-idle-1k-nct']) {
      const [target] = goalTargets(byId(id), 'idle');
      assert.equal(target?.against, 'node-raw');
      assert.equal(target?.reference?.scenario, 'idle-1k-16KiB');
    }
    // Held open with permessage-deflate negotiated and nothing sent: against idle-10k.
    const open = byId('deflate-idle-10k-open');
    assert.deepEqual(open.serverArgs, ['--deflate']);
    assert.ok(open.args.includes('-no-prime'));
    assert.equal(goalTargets(open, 'idle')[0]?.reference?.scenario, 'idle-10k');
  });

  it('item 6: fan-out CPU against Bun and time against ws, the Redis rows per process and the broker shown', () => {
    for (const n of ['1k', '10k']) {
      assert.deepEqual(goalTargets(byId(`fanout-256B-${n}`), 'fanout'), [
        { goal: 'fanout', metric: 'cpuMsPerPublish', ratio: 1, against: 'bun' },
        { goal: 'fanout', metric: 'fanoutMs', ratio: 0.8 },
      ]);
      const redis = byId(`fanout-redis-256B-${n}`);
      assert.ok(redis.metrics.includes('brokerCpuMsPerPublish'));
      const [cpu, time] = goalTargets(redis, 'fanout');
      assert.equal(cpu?.metric, 'cpuMsPerPublishPerProcess');
      assert.deepEqual(cpu?.reference, {
        scenario: `fanout-256B-${n}`,
        metric: 'cpuMsPerPublish',
        name: 'single process',
      });
      assert.equal(time?.reference?.scenario, `fanout-256B-${n}`);
    }
  });

  it('items 7 and 8: the client at 3x the ws client, deflate at Bun’s, round trips at ws+native’s', () => {
    for (const scenario of clientScenarios()) {
      assert.deepEqual(
        scenario.targets,
        scenario.window === 1 ? [{ metric: 'p50us', ratio: 1 }] : [{ metric: 'msgsPerSec', ratio: 3 }],
      );
    }
    for (const id of ['deflate-echo-16KiB-c64', 'deflate-echo-16KiB-c64-nct']) {
      assert.deepEqual(goalTargets(byId(id), 'keep'), [
        { goal: 'keep', metric: 'msgsPerSec', ratio: 1, against: 'bun' },
      ]);
    }
    assert.deepEqual(goalTargets(byId('latency-1MiB-c64'), 'keep'), [
      { goal: 'keep', metric: 'p50us', ratio: 1 },
    ]);
  });

  it('every reference is a scenario of the same runs (quick ones of quick ones), every goal has cells', () => {
    for (const scenario of all()) {
      for (const target of scenario.targets) {
        if (target.reference === undefined) continue;
        const reference = byId(target.reference.scenario);
        if (scenario.quick) assert.ok(reference.quick, `${scenario.id} -> ${reference.id}`);
        if (!scenario.quickOnly) assert.ok(!reference.quickOnly, `${scenario.id} -> ${reference.id}`);
      }
    }
    const used = new Set(all().flatMap((s) => s.targets.map((t) => t.goal)));
    used.add('client');
    assert.deepEqual(
      GOALS.map((goal) => goal.id).filter((id) => !used.has(id)),
      [],
    );
  });
});

describe('judging', () => {
  const cell = (values: Record<string, number>, extra: object = {}) => ({ values, ...extra });

  it('a ratio against its bound, in either direction; nothing without both values', () => {
    assert.deepEqual(judge(13, 10, { ratio: 1.3, higherIsBetter: true }), { ratio: 1.3, met: true });
    assert.deepEqual(judge(12, 10, { ratio: 1.3, higherIsBetter: true }).met, false);
    assert.deepEqual(judge(8, 10, { ratio: 0.8, higherIsBetter: false }), { ratio: 0.8, met: true });
    assert.deepEqual(judge(9, 10, { ratio: 0.8, higherIsBetter: false }).met, false);
    assert.deepEqual(judge(undefined, 10, { ratio: 1, higherIsBetter: true }), { ratio: null, met: null });
    assert.deepEqual(judge(1, 0, { ratio: 1, higherIsBetter: true }), { ratio: null, met: null });
  });

  it('a reference in another cell, the per server CPU-s verdict, a saturated generator and a failed cell', () => {
    const results: MeasuredResults = {
      'idle-1k-16KiB': { 'node-raw': cell({ rssPerConnKiB: 20 }) },
      'deflate-idle-1k': {
        sockeye: cell({ rssPerConnKiB: 15 }),
        'ws+native': cell({ rssPerConnKiB: 300 }),
      },
      'echo-64KiB-c1': {
        sockeye: cell({ msgsPerSec: 140, perServerCpuSecond: 120 }),
        'ws+native': cell({ msgsPerSec: 100, perServerCpuSecond: 100 }, { loadgenCpu: 0.95 }),
      },
      'echo-32B-c1': {
        sockeye: cell({ msgsPerSec: 500 }, { error: '1 errors' }),
        'ws+native': cell({ msgsPerSec: 100 }),
        bun: cell({ msgsPerSec: 400 }),
      },
    };
    const judged = serverVerdicts(
      results,
      ['deflate-idle-1k', 'echo-64KiB-c1', 'echo-32B-c1', 'deflate-idle-1k-nct'].map(byId),
    );
    const [idle, issue5] = judged.get('deflate-idle-1k')!;
    assert.equal(idle?.bound, '≤ 1x node-raw (after the same message uncompressed)');
    assert.equal(idle?.ratio, 0.75);
    assert.equal(idle?.met, true);
    assert.equal(issue5?.ratio, 0.05);
    assert.equal(issue5?.met, true);

    const [notBelow, large] = judged.get('echo-64KiB-c1')!;
    assert.equal(notBelow?.met, true);
    assert.deepEqual(large?.perCpu, { ratio: 1.2, met: false });
    assert.equal(large?.met, true);
    assert.match(large?.note ?? '', /load generator saturated/);

    // sockeye's cell failed: nothing is met, whatever its figure says.
    for (const verdict of judged.get('echo-32B-c1')!) {
      assert.equal(verdict.met, false);
      assert.match(verdict.note ?? '', /failed/);
    }
    // A cell not in this run is not measured.
    assert.deepEqual(
      judged.get('deflate-idle-1k-nct')!.map((v) => v.met),
      [null],
    );
  });

  it('the raw Node ceiling (node-raw) is judged on the same bound beside sockeye, where it has the cell', () => {
    const results: MeasuredResults = {
      'echo-1KiB-c64': {
        sockeye: cell({ msgsPerSec: 60, perServerCpuSecond: 60 }),
        'node-raw': cell({ msgsPerSec: 95, perServerCpuSecond: 80 }),
        'ws+native': cell({ msgsPerSec: 20, perServerCpuSecond: 20 }),
        bun: cell({ msgsPerSec: 100, perServerCpuSecond: 100 }),
      },
      'idle-10k': { sockeye: cell({ rssPerConnKiB: 5 }), 'node-raw': cell({ rssPerConnKiB: 6 }) },
      'fanout-256B-1k': {
        sockeye: cell({ fanoutMs: 9, cpuMsPerPublish: 9 }),
        'ws+native': cell({ fanoutMs: 10, cpuMsPerPublish: 10 }),
        bun: cell({ fanoutMs: 6, cpuMsPerPublish: 5 }),
      },
    };
    const judged = serverVerdicts(results, ['echo-1KiB-c64', 'idle-10k', 'fanout-256B-1k'].map(byId));
    const bun = judged.get('echo-1KiB-c64')!.find((v) => v.goal === 'small-vs-bun')!;
    assert.equal(bun.met, false);
    // 95 / 100 in messages per second meets 0.9x Bun; 80 / 100 per CPU-second does not.
    assert.deepEqual(bun.ceiling, { ratio: 0.95, met: true, perCpu: { ratio: 0.8, met: false } });
    // Judged against node-raw itself: no ceiling to show. No node-raw cell: none either.
    assert.equal(judged.get('idle-10k')![0]!.ceiling, undefined);
    assert.ok(judged.get('fanout-256B-1k')!.every((v) => v.ceiling === undefined));

    const text = targetsSummary(judged.get('echo-1KiB-c64')!, 'per server CPU-s').join('\n');
    assert.match(text, /\| per server CPU-s \| node-raw \(the raw Node ceiling\) on the same bounds \|/);
    assert.match(
      text,
      /\| 32 B and 1 KiB echo ≥ 0\.9x Bun \| goal 3 \| \*\*NOT met\*\* \| 0 of 1 cells met \| NOT met \(0 of 1 cells met\) \| met \(1 of 1 cells met\) \|/,
    );
    assert.match(text, /\| 0\.60x: NOT met \| 0\.95x: met \(0\.80x: NOT met\) \|/);
    // Without any ceiling in the run, no such column.
    assert.doesNotMatch(
      targetsSummary(judged.get('idle-10k')!, 'per server CPU-s').join('\n'),
      /raw Node ceiling/,
    );
  });

  it('close calls: a ratio or its per CPU-s twin within 15% of a bound; sockeye, the server it is judged against and node-raw', () => {
    const results: MeasuredResults = {
      // 1.10x ws+native: within 15% of the 1x bound (item 1) and of the 1.3x one (item 2).
      'echo-64KiB-c1': {
        sockeye: cell({ msgsPerSec: 110, perServerCpuSecond: 200 }),
        'ws+native': cell({ msgsPerSec: 100, perServerCpuSecond: 100 }),
      },
      // 2x ws+native by msg/s, but 1.05x per CPU-s: a close call on the CPU figure.
      'echo-1MiB-c64': {
        sockeye: cell({ msgsPerSec: 200, perServerCpuSecond: 105 }),
        'ws+native': cell({ msgsPerSec: 100, perServerCpuSecond: 100 }),
      },
      // 1.5x ws+native and 1.5x Bun's 0.9x bound: far from every bound.
      'echo-32B-c64': {
        sockeye: cell({ msgsPerSec: 150, perServerCpuSecond: 150 }),
        'ws+native': cell({ msgsPerSec: 100, perServerCpuSecond: 100 }),
        bun: cell({ msgsPerSec: 111, perServerCpuSecond: 111 }),
      },
      // 0.86x Bun against the 0.9x bound: Bun is measured again too.
      'echo-32B-c1': {
        sockeye: cell({ msgsPerSec: 300, perServerCpuSecond: 300 }),
        'ws+native': cell({ msgsPerSec: 100, perServerCpuSecond: 100 }),
        bun: cell({ msgsPerSec: 350, perServerCpuSecond: 350 }),
        'node-raw': cell({ msgsPerSec: 320, perServerCpuSecond: 330 }),
      },
      // Round trip: p50 1.2x ws+native's against the 1x bound (lower is better) is outside.
      'latency-32B-c1': {
        sockeye: cell({ p50us: 120, msgsPerSec: 50 }),
        'ws+native': cell({ p50us: 100, msgsPerSec: 100 }),
      },
    };
    const calls = closeCalls(
      results,
      ['echo-64KiB-c1', 'echo-1MiB-c64', 'echo-32B-c64', 'echo-32B-c1', 'latency-32B-c1'].map(byId),
    );
    assert.deepEqual(calls.get('echo-64KiB-c1'), ['sockeye', 'ws+native']);
    assert.deepEqual(calls.get('echo-1MiB-c64'), ['sockeye', 'ws+native']);
    assert.equal(calls.has('echo-32B-c64'), false);
    // The raw Node ceiling, judged on the same bound, is measured again with them where it ran.
    assert.deepEqual(calls.get('echo-32B-c1'), ['sockeye', 'bun', 'node-raw']);
    assert.equal(calls.has('latency-32B-c1'), false);
  });

  it('the median of runs: per metric, failed runs left out, all failed gives the first', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    const combined = medianOfRuns<Measured>([
      cell({ msgsPerSec: 100, perServerCpuSecond: 90 }, { loadgenCpu: 0.5 }),
      cell({ msgsPerSec: 300 }, { error: 'wrong echo' }),
      cell({ msgsPerSec: 80, perServerCpuSecond: 120 }, { loadgenCpu: 0.7 }),
      cell({ msgsPerSec: 90, perServerCpuSecond: 100 }, { loadgenCpu: 0.95 }),
    ]);
    assert.deepEqual(combined.values, { msgsPerSec: 90, perServerCpuSecond: 100 });
    assert.equal(combined.loadgenCpu, 0.7);
    assert.equal(combined.error, undefined);
    const failed = medianOfRuns<Measured>([cell({}, { error: 'a' }), cell({}, { error: 'b' })]);
    assert.equal(failed.error, 'a');
  });

  it('a goal is met when every cell is, NOT met when one is not, and says when cells are missing', () => {
    assert.equal(overall([{ met: true }, { met: true }]).verdict, 'met');
    assert.equal(overall([{ met: true }, { met: false }]).verdict, 'NOT met');
    assert.equal(overall([{ met: false }, { met: null }]).verdict, 'NOT met');
    assert.deepEqual(overall([{ met: true }, { met: null }]), {
      verdict: 'met where measured',
      counted: '1 of 2 cells met, 1 not measured',
    });
    assert.equal(overall([{ met: null }]).verdict, 'not measured');
  });

  it('the summary: one row per goal in the issue’s order, then every cell with its ratio', () => {
    const lines = targetsSummary(
      [
        {
          goal: 'large',
          cell: 'echo 64 KiB',
          metric: 'msg/s',
          bound: '≥ 1.3x ws+native',
          ratio: 1.1,
          met: false,
        },
        {
          goal: 'echo-vs-ws',
          cell: 'echo 64 KiB',
          metric: 'msg/s',
          bound: '≥ 1x ws+native',
          ratio: 1.1,
          met: true,
          perCpu: { ratio: 0.9, met: false },
        },
      ],
      'per server CPU-s',
    );
    const text = lines.join('\n');
    assert.match(
      text,
      /\| No echo case below ws\+native \| goal 1 \| \*\*met\*\* \| 1 of 1 cells met \| NOT met/,
    );
    assert.match(text, /\| 64 KiB and 1 MiB echo ≥ 1\.3x ws\+native \| goal 2 \| \*\*NOT met\*\* \|/);
    assert.ok(text.indexOf('| goal 1 |') < text.indexOf('| goal 2 |'));
    assert.match(text, /\| echo 64 KiB \| msg\/s ≥ 1x ws\+native \| 1\.10x \| met \| 0\.90x: NOT met \|/);
    assert.deepEqual(targetsSummary([], 'per server CPU-s'), ['(no cell with a target in this run)']);
  });

  it('the client’s targets: msg/s also per client CPU-s, p50 against the ws client', () => {
    const client = (values: Record<string, number>) => ({ values });
    const report: ClientReport = {
      rounds: 1,
      server: 'node-raw',
      clients: [
        { name: 'sockeye', version: 's' },
        { name: 'ws', version: 'w' },
      ],
      results: {
        'client-echo-32B': {
          sockeye: client({ msgsPerSec: 90, perClientCpuSecond: 40 }),
          ws: client({ msgsPerSec: 30, perClientCpuSecond: 20 }),
          'node-raw': client({ msgsPerSec: 84, perClientCpuSecond: 70 }),
        },
        'client-latency-32B': { sockeye: client({ p50us: 70 }), ws: client({ p50us: 60 }) },
      },
    };
    const text = clientTargetsSection(report, clientScenarios()).join('\n');
    assert.match(
      text,
      /\| client: 32 B pipelined, 128 in flight \| msg\/s ≥ 3x the ws client \| 3\.00x \| met \| 2\.00x: NOT met \| 2\.80x: NOT met \(3\.50x: met\) \|/,
    );
    assert.match(
      text,
      /\| client: 32 B round trip, 1 in flight \| p50 µs ≤ 1x the ws client \| 1\.17x \| NOT met \|/,
    );
    assert.match(text, /\*\*NOT met\*\* \| 1 of 4 cells met, 2 not measured \|/);
  });
});
