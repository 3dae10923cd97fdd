/**
 * Running the Autobahn TestSuite case files with `kosoku` (from the project venv) and
 * reading its reports. Used by the conformance suites in `npm test` and by
 * `npm run conformance`, which writes docs/conformance.md.
 *
 * - Server under test: {@link runFuzzingClient} drives it from kosoku's fuzzing client.
 * - Client under test: {@link startFuzzingServer} starts kosoku's fuzzing server; the
 *   client runs the standard flow (`/getCaseCount`, `/runCase?case=N&agent=A`,
 *   `/updateReports?agent=A`), after which kosoku writes its report and exits.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IN_CI, KOSOKU, ROOT } from '../../scripts/lib/prereqs.js';

/** Verdicts that count as conformant for the message exchange. */
export const PASSING_BEHAVIOR: ReadonlySet<string> = new Set(['OK', 'NON-STRICT', 'INFORMATIONAL']);
/** Verdicts that count as conformant for the closing handshake. */
export const PASSING_CLOSE: ReadonlySet<string> = new Set(['OK', 'INFORMATIONAL']);

/** One case's outcome, from kosoku's index.json and the case's own report. */
export interface CaseResult {
  /** Case id, e.g. `"6.4.3"`. */
  id: string;
  /** Verdict on the message exchange: OK, NON-STRICT, INFORMATIONAL, UNIMPLEMENTED, FAILED, ERROR. */
  behavior: string;
  /** Verdict on the closing handshake. */
  behaviorClose: string;
  /** Milliseconds the case took. */
  duration: number;
  /** The close code the peer under test sent, if any. */
  remoteCloseCode: number | null;
  /** kosoku's explanation of the verdict (read from the case report when either verdict is not OK). */
  result: string;
}

/** Whether a case passed: its behaviour and its close are both acceptable. */
export function casePassed(result: CaseResult): boolean {
  return PASSING_BEHAVIOR.has(result.behavior) && PASSING_CLOSE.has(result.behaviorClose);
}

/** The report folder for a run, under the gitignored `reports/`. */
export function reportDir(name: string): string {
  return join(ROOT, 'reports', 'autobahn', name);
}

/** Options shared by both modes. */
export interface CaseSelection {
  /** Case ids or globs to run, e.g. `['1.*', '9.7.1']`; all cases when omitted. */
  include?: readonly string[];
  /** Case ids or globs to leave out. */
  exclude?: readonly string[];
  /** Report folder (emptied first). */
  outDir: string;
}

function selectionArgs(selection: CaseSelection): string[] {
  const args: string[] = [];
  for (const id of selection.include ?? []) args.push('-i', id);
  for (const id of selection.exclude ?? []) args.push('-x', id);
  return args;
}

function prepare(outDir: string): void {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
}

/**
 * Run kosoku's fuzzing client against a server under test at `address` (`host:port`) and
 * return every case's result, sorted by id. Rejects if kosoku cannot run or writes no report.
 */
export async function runFuzzingClient(
  address: string,
  selection: CaseSelection & { parallelism?: number; timeoutMs?: number },
): Promise<CaseResult[]> {
  prepare(selection.outDir);
  const args = ['-m', 'fuzzingclient', '-o', selection.outDir, '-p', String(selection.parallelism ?? 2)];
  const output = await runKosoku(
    [...args, ...selectionArgs(selection), address],
    selection.timeoutMs ?? 900_000,
  );
  return readReport(selection.outDir, output);
}

/** A running kosoku fuzzing server. */
export interface FuzzingServer {
  /** Where the client under test connects, e.g. `ws://127.0.0.1:9001`. */
  url: string;
  /** Resolves with every case's result once the client has called `/updateReports` and kosoku exited. */
  results: Promise<CaseResult[]>;
  /** Kill kosoku (if still running). */
  stop(): void;
}

/** Start kosoku's fuzzing server on `127.0.0.1:port` for a client under test. */
export async function startFuzzingServer(
  port: number,
  selection: CaseSelection & { timeoutMs?: number },
): Promise<FuzzingServer> {
  prepare(selection.outDir);
  const args = [
    '-m',
    'fuzzingserver',
    '-o',
    selection.outDir,
    ...selectionArgs(selection),
    `127.0.0.1:${port}`,
  ];
  let stop: () => void = () => {};
  let listening!: () => void;
  const ready = new Promise<void>((resolve) => {
    listening = resolve;
  });
  const finished = runKosoku(args, selection.timeoutMs ?? 900_000, (child, output) => {
    stop = () => child.kill('SIGKILL');
    if (/listening on/.test(output())) listening();
  });
  // If kosoku dies before listening, surface that instead of waiting forever.
  await Promise.race([
    ready,
    finished.then((out) => Promise.reject(new Error(`kosoku exited early:\n${out}`))),
  ]);
  return {
    url: `ws://127.0.0.1:${port}`,
    results: finished.then((output) => readReport(selection.outDir, output)),
    stop: () => stop(),
  };
}

/** Run kosoku with `args`; resolve with its output when it exits (whatever its exit code: the report decides). */
function runKosoku(
  args: string[],
  timeoutMs: number,
  onOutput?: (child: ReturnType<typeof spawn>, output: () => string) => void,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(KOSOKU, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kosoku did not finish within ${timeoutMs} ms; output:\n${output}`));
    }, timeoutMs);
    const collect = (data: Buffer) => {
      output += data.toString();
      onOutput?.(child, () => output);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', () => {
      clearTimeout(timer);
      resolve(output);
    });
  });
}

interface IndexEntry {
  behavior: string;
  behaviorClose: string;
  duration: number;
  remoteCloseCode: number | null;
  reportfile: string;
}

/** Read a kosoku report folder (one agent) into results sorted by case id. */
export function readReport(outDir: string, kosokuOutput = ''): CaseResult[] {
  const index = join(outDir, 'index.json');
  if (!existsSync(index))
    throw new Error(`kosoku wrote no report in ${outDir}; its output:\n${kosokuOutput}`);
  const agents = JSON.parse(readFileSync(index, 'utf8')) as Record<string, Record<string, IndexEntry>>;
  const results: CaseResult[] = [];
  for (const cases of Object.values(agents)) {
    for (const [id, entry] of Object.entries(cases)) {
      const result: CaseResult = {
        id,
        behavior: entry.behavior,
        behaviorClose: entry.behaviorClose,
        duration: entry.duration,
        remoteCloseCode: entry.remoteCloseCode,
        result: '',
      };
      if (result.behavior !== 'OK' || result.behaviorClose !== 'OK') {
        const report = JSON.parse(readFileSync(join(outDir, entry.reportfile), 'utf8')) as {
          result?: string;
          resultClose?: string;
        };
        result.result = [report.result, report.resultClose].filter(Boolean).join(' / ');
      }
      results.push(result);
    }
  }
  return results.sort((a, b) => compareCaseIds(a.id, b.id));
}

/** Order case ids numerically component by component ("9.10" after "9.9"). */
export function compareCaseIds(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const diff = (pa[i] ?? -1) - (pb[i] ?? -1);
    if (diff !== 0) return diff;
  }
  return 0;
}

/** The failing cases, one line each, for an assertion message. */
export function describeFailures(results: readonly CaseResult[]): string {
  return results
    .filter((r) => !casePassed(r))
    .map((r) => `${r.id}: ${r.behavior}/${r.behaviorClose} ${r.result}`)
    .join('\n');
}

// ---- expected verdicts ----

/** Where the committed expected verdicts live: conformance/expected/<suite>.json. */
export function expectedVerdictsFile(suite: string): string {
  return join(ROOT, 'conformance', 'expected', `${suite}.json`);
}

/** A case's verdict as the expected-results files write it: `behavior/behaviorClose`, e.g. `OK/OK`. */
export function verdictOf(result: CaseResult): string {
  return `${result.behavior}/${result.behaviorClose}`;
}

/**
 * How `results` differ from the verdicts in `expected` (case id to `behavior/behaviorClose`),
 * one line per case: a changed verdict (with kosoku's reason), a case that no longer ran,
 * a case that is new. Empty when they agree.
 */
export function verdictChanges(
  expected: Readonly<Record<string, string>>,
  results: readonly CaseResult[],
): string[] {
  const changes: string[] = [];
  const seen = new Set<string>();
  for (const result of results) {
    seen.add(result.id);
    const want = expected[result.id];
    const got = verdictOf(result);
    if (want === undefined) changes.push(`${result.id}: new case, ${got}`);
    else if (want !== got) {
      changes.push(`${result.id}: expected ${want}, got ${got}${result.result ? ` (${result.result})` : ''}`);
    }
  }
  for (const id of Object.keys(expected))
    if (!seen.has(id)) changes.push(`${id}: expected ${expected[id]}, did not run`);
  return changes.sort((a, b) => compareCaseIds(a.split(':')[0]!, b.split(':')[0]!));
}

/**
 * Fail (with the difference, case by case) unless every case's verdict is the one committed
 * in conformance/expected/<suite>.json: a verdict that changes, even from NON-STRICT to OK,
 * is a change of behaviour someone must look at. With `UPDATE_EXPECTED_VERDICTS=1` (never
 * under CI) the file is rewritten from `results` instead.
 */
export function checkExpectedVerdicts(suite: string, results: readonly CaseResult[]): void {
  const file = expectedVerdictsFile(suite);
  const actual = Object.fromEntries(
    [...results].sort((a, b) => compareCaseIds(a.id, b.id)).map((r) => [r.id, verdictOf(r)]),
  );
  if (process.env.UPDATE_EXPECTED_VERDICTS === '1' && !IN_CI) {
    mkdirSync(join(ROOT, 'conformance', 'expected'), { recursive: true });
    writeFileSync(file, `${JSON.stringify(actual, null, 2)}\n`);
    return;
  }
  if (!existsSync(file)) {
    throw new Error(
      `no expected verdicts in ${file}: run once with UPDATE_EXPECTED_VERDICTS=1 and commit it`,
    );
  }
  const expected = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
  const changes = verdictChanges(expected, results);
  if (changes.length > 0) {
    throw new Error(
      `${changes.length} Autobahn verdict(s) differ from conformance/expected/${suite}.json ` +
        `(if the change is intended, rerun with UPDATE_EXPECTED_VERDICTS=1 and commit the file):\n` +
        changes.join('\n'),
    );
  }
}

/** What each Autobahn section tests. */
export const SECTIONS: Readonly<Record<string, string>> = {
  '1': 'Framing',
  '2': 'Pings/Pongs',
  '3': 'Reserved Bits',
  '4': 'Opcodes',
  '5': 'Fragmentation',
  '6': 'UTF-8 Handling',
  '7': 'Close Handling',
  '9': 'Limits/Performance',
  '10': 'Misc',
  '12': 'WebSocket Compression (different payloads)',
  '13': 'WebSocket Compression (different parameters)',
};

/**
 * Sections 1 to 10 (there is no section 8): the core protocol without compression (11 and
 * up need permessage-deflate). The selection of the echo server's and the client's suites.
 */
export const SECTIONS_1_TO_10: readonly string[] = [
  '1.*',
  '2.*',
  '3.*',
  '4.*',
  '5.*',
  '6.*',
  '7.*',
  '9.*',
  '10.*',
];

const VERDICTS = ['OK', 'NON-STRICT', 'INFORMATIONAL', 'UNIMPLEMENTED', 'FAILED', 'ERROR'] as const;

/** A Markdown table of verdicts per section. */
export function markdownTable(results: readonly CaseResult[]): string {
  const bySection = new Map<string, CaseResult[]>();
  for (const result of results) {
    const section = result.id.split('.')[0]!;
    if (!bySection.has(section)) bySection.set(section, []);
    bySection.get(section)!.push(result);
  }
  const lines = [
    `| section | cases | ${VERDICTS.join(' | ')} | close not OK |`,
    `| --- | ---: | ${VERDICTS.map(() => '---:').join(' | ')} | ---: |`,
  ];
  const sections = [...bySection.keys()].sort((a, b) => Number(a) - Number(b));
  for (const section of sections) {
    const cases = bySection.get(section)!;
    const counts = VERDICTS.map((v) => cases.filter((c) => c.behavior === v).length);
    const badClose = cases.filter((c) => !PASSING_CLOSE.has(c.behaviorClose)).length;
    lines.push(
      `| ${section} ${SECTIONS[section] ?? ''} | ${cases.length} | ${counts.join(' | ')} | ${badClose} |`,
    );
  }
  const totals = VERDICTS.map((v) => results.filter((c) => c.behavior === v).length);
  const badClose = results.filter((c) => !PASSING_CLOSE.has(c.behaviorClose)).length;
  lines.push(`| **all** | ${results.length} | ${totals.join(' | ')} | ${badClose} |`);
  return lines.join('\n');
}
