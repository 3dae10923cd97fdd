/**
 * What a server owns rather than shares with the process: the buffers its frames are
 * written into, and the deadlines of its connections (kept by its sweep, not written onto
 * the connections).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultOutputBuffers } from '../../src/protocol/index.js';
import type { ServerWebSocket } from '../../src/server/index.js';
import { closeOf, listen, nextMessage, openWs } from './helpers.js';

describe('a server owns its state', () => {
  it("writes its connections' frames from its own slab, not another server's or the process's", async () => {
    const out = [new Set<ArrayBufferLike>(), new Set<ArrayBufferLike>()];
    const servers = await Promise.all(
      [0, 1].map((index) =>
        listen({
          handlers: { message: (ws, data, isBinary) => void ws.send(data, isBinary) },
          wiretap: (_ws, direction, bytes) => {
            if (direction === 'out') out[index]!.add(bytes.buffer);
          },
        }),
      ),
    );
    try {
      for (const { url } of servers) {
        const client = await openWs(url);
        client.send('echo me');
        assert.equal((await nextMessage(client)).data.toString(), 'echo me');
        const closed = closeOf(client);
        client.close();
        await closed;
      }
      const [first, second] = out as [Set<ArrayBufferLike>, Set<ArrayBufferLike>];
      assert.ok(first.size > 0 && second.size > 0);
      for (const buffer of first) assert.equal(second.has(buffer), false, 'no slab shared between servers');
      for (const set of out) assert.equal(set.has(defaultOutputBuffers.slab.buffer), false);
    } finally {
      await Promise.all(servers.map(({ server }) => server.close()));
    }
  });

  it('keeps heartbeat and close deadlines in its sweep, not on the connection', async () => {
    let opened: ServerWebSocket | undefined;
    const { server, url } = await listen({
      pingInterval: 60_000,
      handlers: {
        open(ws) {
          opened = ws;
        },
      },
    });
    try {
      const client = await openWs(url);
      const closed = closeOf(client);
      client.close();
      await closed;
      assert.ok(opened !== undefined);
      const own = Object.keys(opened);
      for (const field of ['_heartbeatAt', '_awaitingPong', '_closeDeadline']) {
        assert.equal(own.includes(field), false, `${field} on the connection`);
      }
    } finally {
      await server.close();
    }
  });
});
