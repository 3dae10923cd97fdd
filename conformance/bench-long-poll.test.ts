/**
 * Smoke test of the long-poll round-trip benchmark (bench/long-poll.ts, part of
 * `npm run bench`): sockeye's session long-polling, the same sessions over WebSocket and
 * the plain Node long-poll server each start on their contract and bring back every
 * round trip (each echo checked by the client), and the report has each rate and the
 * ratios, so the benchmark never measures a transport that silently carries less.
 * Small: 1 and 3 sessions, 30 round trips, one round.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { longPollSection, measureLongPoll } from '../bench/long-poll.js';

describe('long-poll round-trip benchmark', { timeout: 300_000 }, () => {
  it('measures long-polling, WebSocket and the plain Node server, every round trip coming back', async () => {
    const report = await measureLongPoll({ sessions: [1, 3], roundTrips: 30, warmup: 2, rounds: 1 });
    assert.deepEqual(
      report.cells.map((cell) => [cell.transport, cell.sessions, cell.error, cell.completed]),
      [
        ['long-polling', 1, undefined, [30]],
        ['long-polling', 3, undefined, [30]],
        ['websocket', 1, undefined, [30]],
        ['websocket', 3, undefined, [30]],
        ['node-long-poll', 1, undefined, [30]],
        ['node-long-poll', 3, undefined, [30]],
      ],
    );
    for (const cell of report.cells) {
      const name = `${cell.transport} x ${cell.sessions}`;
      assert.ok(cell.perSecond !== undefined && cell.perSecond > 0, name);
      assert.ok(cell.perServerCpuSecond !== undefined && cell.perServerCpuSecond > 0, name);
      assert.ok(cell.clientCpu !== undefined && cell.clientCpu > 0, name);
      if (cell.transport === 'websocket') {
        assert.equal(cell.requestsPerRoundTrip, undefined, name);
        assert.equal(cell.httpBytesPerRoundTrip, undefined, name);
      } else {
        // At least the POST of the message and the poll its echo answers,
        assert.ok(cell.requestsPerRoundTrip !== undefined && cell.requestsPerRoundTrip >= 2, name);
        // which carry the 64-byte payload each way besides their headers.
        assert.ok(cell.httpBytesPerRoundTrip !== undefined && cell.httpBytesPerRoundTrip > 2 * 64, name);
      }
    }
    assert.deepEqual(
      report.ratios.map((ratio) => ratio.sessions),
      [1, 3],
    );
    for (const ratio of report.ratios) {
      for (const value of [ratio.vsWebSocket, ratio.vsWebSocketPerCpu, ratio.vsNode, ratio.vsNodePerCpu])
        assert.ok(value !== undefined && value > 0, `ratios for ${ratio.sessions} sessions`);
    }
    const section = longPollSection(report, []);
    assert.match(
      section,
      /\| sockeye long-polling \| 1 \| [\d,]+ \| [\d,]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d,]+ \|/,
    );
    assert.match(section, /\| sockeye WebSocket \| 3 \| [\d,]+ \| [\d,]+ \| [\d.]+ \| [\d.]+ \| {2}\| {2}\|/);
    assert.match(section, /\| plain Node long-poll \| 3 \| [\d,]+ \|/);
    assert.match(section, /\| 3 \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \|/);
  });
});
