/**
 * Driving an interop peer that runs as its own process (conformance/peers/): it runs
 * every scenario against the echo server and prints one JSON line per scenario with what
 * it observed; the test makes the assertions. Protocol of the peer's stdout:
 * an optional `{"version": ...}` first line, then `{"scenario": name, ...}` (or
 * `{"scenario": name, "error": "..."}`) lines, then `{"done": true}`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';

/** What a peer observed in one scenario. */
export type Observation = Record<string, unknown>;

/** Everything a peer reported. */
export interface PeerReport {
  /** The peer's version line, if it printed one. */
  version: string | undefined;
  /** Observations by scenario name. */
  scenarios: Map<string, Observation>;
}

/** Run a peer to completion (bounded by `timeoutMs`) and index its report. */
export function runPeer(command: string, args: readonly string[], timeoutMs = 240_000): Promise<PeerReport> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      const described = `${command} ${args.join(' ')}\nstdout:\n${stdout}\nstderr:\n${stderr}`;
      if (error) {
        reject(new Error(`the peer failed (${error.message}): ${described}`));
        return;
      }
      const lines = stdout
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as Observation);
      if (lines.at(-1)?.done !== true) {
        reject(new Error(`the peer did not finish: ${described}`));
        return;
      }
      const scenarios = new Map<string, Observation>();
      for (const line of lines) if (typeof line.scenario === 'string') scenarios.set(line.scenario, line);
      const version = lines[0]?.version;
      resolve({ version: version === undefined ? undefined : String(version), scenarios });
    });
  });
}

/** The observation for `scenario`; fails the test with the peer's error if it reported one. */
export function observed(report: PeerReport, scenario: string): Observation {
  const result = report.scenarios.get(scenario);
  assert.ok(result, `the peer reported nothing for ${scenario}`);
  assert.equal(result.error, undefined, `${scenario}: ${String(result.error)}`);
  return result;
}
