/**
 * Smoke test of the SSE fan-out benchmark (bench/sse.ts, part of `npm run bench`): both
 * server entries start on the contract, every stream gets every message, and the report
 * has a rate for each and their ratio, so the benchmark never measures a server that
 * silently delivers less. Small: 20 streams, 10 messages, one round.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { measureSse, sseSection } from '../bench/sse.js';

describe('SSE fan-out benchmark', { timeout: 240_000 }, () => {
  it('measures sockeye and the plain Node server, each stream getting every message', async () => {
    const report = await measureSse({ streams: 20, messages: 10, rounds: 1 });
    assert.deepEqual(
      report.servers.map((server) => [server.name, server.error]),
      [
        ['sockeye', undefined],
        ['node-sse', undefined],
      ],
    );
    for (const server of report.servers) {
      assert.ok(server.perSecond !== undefined && server.perSecond > 0, server.name);
      // Every message carries at least its 64-byte payload.
      assert.ok(server.bytesPerMessage !== undefined && server.bytesPerMessage > 64, server.name);
    }
    assert.ok(report.ratio !== undefined && report.ratio > 0);
    assert.match(sseSection(report, []), /\| sockeye \| [\d,]+ \| [\d.]+ \| [\d.]+ \|/);
  });
});
