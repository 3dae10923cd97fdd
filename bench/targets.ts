/**
 * The performance targets `npm run bench` judges, and the summary it prints of them.
 *
 * The targets are issue 17's (items 1 to 8), plus the earlier issues' targets that issue 17
 * did not replace. Each scenario of bench/scenarios.ts (and each client cell of
 * bench/client-bench.ts) names the goal its targets belong to; this module holds the goals,
 * the judging of one ratio against its bound, and the "Targets" summary: one verdict per
 * goal (met only when every cell of it is met), then each cell's ratio and verdict, and,
 * for throughput, the same verdict on messages per CPU-second of the process under test.
 */
import { METRICS, type MetricName, type Scenario } from './scenarios.js';
import { BASELINE } from './servers.js';

/** The id of a goal: issue 17's items, then the earlier targets kept. */
export type GoalId =
  | 'echo-vs-ws'
  | 'large'
  | 'small-vs-bun'
  | 'handshakes'
  | 'idle'
  | 'fanout'
  | 'client'
  | 'keep'
  | 'deflate-issue5'
  | 'fanout-issue7';

/** One performance goal, as its issue states it. */
export interface Goal {
  id: GoalId;
  /** The issue and item it comes from. */
  source: string;
  /** The goal in a few words, for the summary table. */
  short: string;
  /** The goal in one sentence: what every cell of it must reach. */
  title: string;
}

/** Every goal, in the order the summary lists them. */
export const GOALS: readonly Goal[] = [
  {
    id: 'echo-vs-ws',
    source: 'goal 1',
    short: 'No echo case below ws+native',
    title:
      'No echo case below ws+native: msg/s at least 1x ws+native in every echo cell, 32 B to 1 MiB, 1, 64 and 1,000 connections, 1 and 2 in flight and pipelined',
  },
  {
    id: 'large',
    source: 'goal 2',
    short: '64 KiB and 1 MiB echo ≥ 1.3x ws+native',
    title:
      'Large messages at uWebSockets speed: 64 KiB and 1 MiB echo (pipelined cells) at least 1.3x ws+native',
  },
  {
    id: 'small-vs-bun',
    source: 'goal 3',
    short: '32 B and 1 KiB echo ≥ 0.9x Bun',
    title:
      'Small messages at Bun’s level: 32 B and 1 KiB echo at 1, 64 and 1,000 connections at least 0.9x Bun',
  },
  {
    id: 'handshakes',
    source: 'goal 4',
    short: 'Handshakes ≥ 2x plain ws',
    title: 'Handshakes per second at least 2x plain ws (without its add-ons)',
  },
  {
    id: 'idle',
    source: 'goal 5',
    short: 'Idle memory ≤ node-raw, with and without deflate',
    title:
      'Idle memory per connection no more than node-raw’s (a bare Node TCP socket), with and without a negotiated permessage-deflate. node-raw has no permessage-deflate: a compressed cell compares with node-raw’s figure in the same cell without it (10,000 held open; or 1,000 after the same 16 KiB message, sent uncompressed)',
  },
  {
    id: 'fanout',
    source: 'goal 6',
    short: 'Fan-out: CPU ≤ Bun, time ≤ 0.8x ws; over Redis per process',
    title:
      'Topic fan-out at Bun’s cost, 1,000 and 10,000 subscribers: server CPU per publish no more than Bun’s, time to the last subscriber at most 0.8x the ws idiom’s (ws+native); over Redis, the same for each process (the busiest one) against the single-process figures, with the broker’s CPU shown beside them',
  },
  {
    id: 'client',
    source: 'goal 7',
    short: 'Client: msg/s ≥ 3x the ws client’s, p50 ≤ its p50',
    title:
      'The client: msg/s at least 3x the ws client for 32 B and 1 KiB pipelined, round-trip p50 no worse than the ws client’s',
  },
  {
    id: 'keep',
    source: 'goal 8 (the round trip also an earlier goal)',
    short: 'Keep: deflate ≥ Bun, round-trip p50 ≤ ws+native',
    title:
      'Keep what leads: permessage-deflate throughput at least Bun’s; round-trip p50 with one message in flight no worse than ws+native',
  },
  {
    id: 'deflate-issue5',
    source: 'earlier compression goal, kept',
    short: 'Deflate: echo ≥ 4x ws+native, idle ≤ 0.5x',
    title:
      'permessage-deflate (browser offer): compressed echo at least 4x ws+native; RSS of 1,000 idle compressed connections at most 0.5x ws+native',
  },
  {
    id: 'fanout-issue7',
    source: 'earlier fan-out goal, kept',
    short: 'Fan-out to 10,000: time ≤ 1.5x Bun',
    title: 'Fan-out to 10,000 subscribers: time to the last subscriber within 1.5x of Bun’s publish',
  },
];

/** The earlier targets issue 17 replaced, and by what: no longer judged. */
export const REPLACED: readonly string[] = [
  'earlier: 32 B and 1 KiB pipelined at 1 and 64 connections at least 4x ws+native (now goal 3: 0.9x Bun)',
  'earlier: 1,000 connections at least 2x ws+native (now goals 1 and 3)',
  'earlier: 64 KiB and 1 MiB at least 1x ws+native in MB/s (now goal 2: 1.3x)',
  'earlier: low depth at least ws+native (now part of goal 1)',
  'earlier: handshakes per second at least 1.4x ws+native (now goal 4: 2x plain ws)',
  'earlier: RSS per idle connection at most 0.8x ws+native (now goal 5: no more than node-raw)',
  'earlier: 10,000 subscribers 3x faster than the ws idiom (now goal 6: at most 0.8x its time)',
];

/** How a target's value must relate to its reference. */
export interface Bound {
  /** The ratio sockeye / reference that meets the target. */
  ratio: number;
  /** Whether larger is better (the ratio must be at least `ratio`) or smaller (at most). */
  higherIsBetter: boolean;
}

/** A ratio and whether it meets its bound (nulls: not measured). */
export interface Judged {
  ratio: number | null;
  met: boolean | null;
}

/** The ratio `value / reference` and whether it meets `bound`; nulls when either is missing. */
export function judge(value: number | undefined, reference: number | undefined, bound: Bound): Judged {
  if (value === undefined || reference === undefined || reference === 0) return { ratio: null, met: null };
  const ratio = value / reference;
  return { ratio, met: bound.higherIsBetter ? ratio >= bound.ratio : ratio <= bound.ratio };
}

/** `≥ 1.3x ws+native`: a bound as the summary and the tables print it. */
export function boundText(bound: Bound, against: string): string {
  return `${bound.higherIsBetter ? '≥' : '≤'} ${Number(bound.ratio.toFixed(2))}x ${against}`;
}

/** One target judged in one cell. */
export interface Verdict {
  goal: GoalId;
  /** The cell's label. */
  cell: string;
  /** The metric compared, as the tables name it (e.g. `msg/s`). */
  metric: string;
  /** The bound and what the ratio is taken against, e.g. `≥ 1x ws+native`. */
  bound: string;
  ratio: number | null;
  /** null: not measured (a value missing or failed). */
  met: boolean | null;
  /** The same bound on messages (or handshakes) per CPU-second of the process under test. */
  perCpu?: Judged;
  /** Why the verdict is to be read with care (e.g. the load generator saturated). */
  note?: string;
  /**
   * The raw Node ceiling ({@link CEILING}: a server or client that does only the I/O) judged
   * on the same bound in the same run: whether a Node program reaches the target at all.
   * Absent where the ceiling is the reference itself or has no such cell.
   */
  ceiling?: Judged & { perCpu?: Judged };
}

/**
 * The raw Node ceiling's name, among the servers (bench/servers/node-raw.mjs) and among the
 * clients (bench/clients/raw-client.ts): each row's target is judged on it too.
 */
export const CEILING = 'node-raw';

const word = (met: boolean | null) => (met === null ? 'not measured' : met ? 'met' : 'NOT met');
const ratioText = (ratio: number | null) => (ratio === null ? '–' : `${ratio.toFixed(2)}x`);

/**
 * A goal's verdict over its cells: `met` when every cell is measured and met, `NOT met`
 * when any measured cell is not, `met where measured` when the others are missing.
 */
export function overall(verdicts: readonly { met: boolean | null }[]): { verdict: string; counted: string } {
  const measured = verdicts.filter((v) => v.met !== null).length;
  const met = verdicts.filter((v) => v.met === true).length;
  const missing = verdicts.length - measured;
  const counted = `${met} of ${verdicts.length} cells met${missing > 0 ? `, ${missing} not measured` : ''}`;
  const verdict =
    measured === 0 ? 'not measured' : met < measured ? 'NOT met' : missing > 0 ? 'met where measured' : 'met';
  return { verdict, counted };
}

/**
 * The "Targets" summary: a table with one row per goal (its overall verdict, cells met,
 * and the per CPU-second verdict where one applies), then each goal's cells. `cpu` names
 * the per CPU-second figure (`per server CPU-s`, `per client CPU-s`).
 */
export function targetsSummary(verdicts: readonly Verdict[], cpu: string): string[] {
  const goals = GOALS.filter((goal) => verdicts.some((v) => v.goal === goal.id));
  if (goals.length === 0) return ['(no cell with a target in this run)'];
  // The ceiling's column, where the run measured it: is the target within a Node program's reach?
  const withCeiling = verdicts.some((v) => v.ceiling !== undefined);
  const head = (columns: string[]) => [
    `| ${columns.join(' | ')} |`,
    `| ${columns.map(() => '---').join(' | ')} |`,
  ];
  const lines = head([
    'target',
    'source',
    'verdict',
    'cells',
    cpu,
    ...(withCeiling ? [`${CEILING} (the raw Node ceiling) on the same bounds`] : []),
  ]);
  for (const goal of goals) {
    const cells = verdicts.filter((v) => v.goal === goal.id);
    const all = overall(cells);
    const withCpu = cells.filter((v) => v.perCpu !== undefined);
    const cpuAll = withCpu.length === 0 ? undefined : overall(withCpu.map((v) => v.perCpu!));
    const ceilings = cells.flatMap((v) => (v.ceiling === undefined ? [] : [v.ceiling]));
    const ceilingAll = ceilings.length === 0 ? undefined : overall(ceilings);
    const columns = [
      goal.short,
      goal.source,
      `**${all.verdict}**`,
      all.counted,
      cpuAll === undefined ? '' : `${cpuAll.verdict} (${cpuAll.counted})`,
    ];
    if (withCeiling)
      columns.push(ceilingAll === undefined ? '' : `${ceilingAll.verdict} (${ceilingAll.counted})`);
    lines.push(`| ${columns.join(' | ')} |`);
  }
  const judgedText = (judged: Judged) => `${ratioText(judged.ratio)}: ${word(judged.met)}`;
  for (const goal of goals) {
    const cells = verdicts.filter((v) => v.goal === goal.id);
    lines.push(
      '',
      `**${goal.source}**: ${goal.title}.`,
      '',
      ...head([
        'cell',
        'target',
        'ratio',
        'verdict',
        cpu,
        ...(withCeiling ? [`${CEILING} on the same bound (${cpu})`] : []),
      ]),
      ...cells.map((v) => {
        const columns = [
          v.cell,
          `${v.metric} ${v.bound}`,
          ratioText(v.ratio),
          `${word(v.met)}${v.note ? ` (${v.note})` : ''}`,
          v.perCpu === undefined ? '' : judgedText(v.perCpu),
        ];
        if (withCeiling) {
          const ceiling = v.ceiling;
          columns.push(
            ceiling === undefined
              ? ''
              : `${judgedText(ceiling)}${ceiling.perCpu === undefined ? '' : ` (${judgedText(ceiling.perCpu)})`}`,
          );
        }
        return `| ${columns.join(' | ')} |`;
      }),
    );
  }
  return lines;
}

/** What judging needs of one measured cell (bench/run.ts keeps more). */
export interface Measured {
  values: Partial<Record<MetricName, number>>;
  error?: string;
  /** The load generator's share of its core over the measured time. */
  loadgenCpu?: number;
}

/** Measured cells by scenario id, then server name. */
export type MeasuredResults = Record<string, Record<string, Measured>>;

/** A generator CPU share from which the generator, not the server, may set the pace. */
export const GENERATOR_LIMIT = 0.9;

/** Metrics whose targets are also judged per server CPU-second (throughput). */
const PER_CPU: readonly MetricName[] = ['msgsPerSec', 'mbPerSec', 'handshakesPerSec'];

/**
 * Every target of every scenario judged on `results`, by scenario id, in the order of the
 * scenario's `targets`. A target with a `reference` takes its reference value from that
 * other cell (itself judged only when both cells were measured in this run).
 */
export function serverVerdicts(results: MeasuredResults, scenarios: Scenario[]): Map<string, Verdict[]> {
  const judged = new Map<string, Verdict[]>();
  for (const scenario of scenarios) {
    judged.set(
      scenario.id,
      scenario.targets.map((target) => {
        const against = target.against ?? BASELINE;
        const referenceId = target.reference?.scenario ?? scenario.id;
        const bound = { ratio: target.ratio, higherIsBetter: METRICS[target.metric].higherIsBetter };
        const sockeye = results[scenario.id]?.sockeye;
        const reference = results[referenceId]?.[against];
        const measured = (cell: Measured | undefined, metric: MetricName) =>
          cell?.error === undefined ? cell?.values[metric] : undefined;
        const { ratio, met } = judge(
          measured(sockeye, target.metric),
          measured(reference, target.reference?.metric ?? target.metric),
          bound,
        );
        const name = target.reference === undefined ? against : `${against} (${target.reference.name})`;
        const verdict: Verdict = {
          goal: target.goal,
          cell: scenario.label,
          metric: METRICS[target.metric].unit,
          bound: boundText(bound, name),
          ratio,
          met,
        };
        const perCpu = PER_CPU.includes(target.metric) && scenario.metrics.includes('perServerCpuSecond');
        const ceiling = results[scenario.id]?.[CEILING];
        if (against !== CEILING && measured(ceiling, target.metric) !== undefined) {
          verdict.ceiling = judge(
            measured(ceiling, target.metric),
            measured(reference, target.reference?.metric ?? target.metric),
            bound,
          );
          if (perCpu)
            verdict.ceiling.perCpu = judge(
              measured(ceiling, 'perServerCpuSecond'),
              measured(reference, 'perServerCpuSecond'),
              { ratio: target.ratio, higherIsBetter: true },
            );
        }
        if (perCpu) {
          verdict.perCpu = judge(
            measured(sockeye, 'perServerCpuSecond'),
            measured(reference, 'perServerCpuSecond'),
            { ratio: target.ratio, higherIsBetter: true },
          );
          const saturated = [sockeye, reference].some((cell) => (cell?.loadgenCpu ?? 0) >= GENERATOR_LIMIT);
          if (saturated) verdict.note = '† the load generator saturated: per server CPU-s is the figure';
        }
        if (sockeye?.error !== undefined) {
          // A cell that failed (a wrong echo, a connection refused) meets nothing.
          verdict.met = false;
          if (verdict.perCpu !== undefined) verdict.perCpu.met = false;
          verdict.note = 'sockeye’s cell failed';
        }
        return verdict;
      }),
    );
  }
  return judged;
}

/**
 * How close a ratio may come to its bound, either side, for the cell to be measured again
 * (see {@link closeCalls}): one 2-second cell of one server often moves by 10% or more
 * between runs here, enough to turn a verdict.
 */
export const CLOSE_BAND = 0.15;

/**
 * The servers to measure again in each cell whose verdict is a close call: a ratio (or its
 * per CPU-second twin) within {@link CLOSE_BAND} of its bound. By scenario id: `sockeye`,
 * every server a close target of that cell is judged against (its own cell only: a target
 * whose reference is another cell is left as measured), and the raw Node ceiling
 * ({@link CEILING}) where the cell has it, since it is judged on the same bound.
 */
export function closeCalls(results: MeasuredResults, scenarios: Scenario[]): Map<string, string[]> {
  const verdicts = serverVerdicts(results, scenarios);
  const calls = new Map<string, string[]>();
  for (const scenario of scenarios) {
    const judged = verdicts.get(scenario.id) ?? [];
    const servers = new Set<string>();
    scenario.targets.forEach((target, i) => {
      if (target.reference !== undefined) return;
      const verdict = judged[i]!;
      const near = (ratio: number | null | undefined) =>
        ratio != null && Math.abs(ratio / target.ratio - 1) <= CLOSE_BAND;
      if (near(verdict.ratio) || near(verdict.perCpu?.ratio)) servers.add(target.against ?? BASELINE);
    });
    if (servers.size === 0) continue;
    if (results[scenario.id]?.[CEILING] !== undefined) servers.add(CEILING);
    calls.set(scenario.id, ['sockeye', ...servers]);
  }
  return calls;
}

/** The median of some numbers (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * One cell from several runs of it: each metric (and the generator's CPU share) the median
 * of the runs that measured it. A run that failed is left out; when every run failed, the
 * first one is returned as it is.
 */
export function medianOfRuns<T extends Measured>(runs: readonly T[]): T {
  const good = runs.filter((run) => run.error === undefined);
  if (good.length === 0) return runs[0]!;
  const combined: T = { ...good[0]!, values: {} };
  const metrics = new Set(good.flatMap((run) => Object.keys(run.values) as MetricName[]));
  for (const metric of metrics) {
    const measured = good.map((run) => run.values[metric]).filter((v): v is number => v !== undefined);
    combined.values[metric] = median(measured);
  }
  const shares = good.map((run) => run.loadgenCpu).filter((v): v is number => v !== undefined);
  if (shares.length > 0) combined.loadgenCpu = median(shares);
  return combined;
}
