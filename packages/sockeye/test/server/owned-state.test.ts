/**
 * What a server owns rather than shares with the process: the buffers its frames are
 * written into, and the deadlines of its connections (kept by its sweep, not written onto
 * the connections).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AssemblyBudget,
  defaultAssemblyBudget,
  defaultOutputBuffers,
  limits,
  Opcode,
} from '../../src/protocol/index.js';
import type { ServerWebSocket, WebSocketServer } from '../../src/server/index.js';
import {
  clientFrame,
  closeOf,
  listen,
  nextMessage,
  openWs,
  type RawClient,
  rawOpen,
  until,
} from './helpers.js';

/** The server's bound on message buffers allocated ahead of their data (not public: read for the test). */
function budgetOf(server: WebSocketServer): AssemblyBudget {
  return (server as unknown as { connectionOptions: { assemblyBudget: AssemblyBudget } }).connectionOptions
    .assemblyBudget;
}

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

  it('bounds the message buffers its connections allocate ahead of their data, across all of them', async () => {
    const MiB = 1024 * 1024;
    const { server, port } = await listen({
      handlers: { message: (ws, data, isBinary) => void ws.send(data, isBinary) },
    });
    const clients: RawClient[] = [];
    try {
      const budget = budgetOf(server);
      assert.notEqual(budget, defaultAssemblyBudget);
      assert.equal(budget.limit, limits.DEFAULT_EARLY_ASSEMBLY_BYTES);
      const before = defaultAssemblyBudget.used;
      // More peers than the budget has room for, each sending a quarter of a 1 MiB frame:
      // past an eighth each would get its whole buffer, but only 64 of them fit.
      const count = budget.limit / MiB + 6;
      const payload = Buffer.alloc(MiB);
      for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + (i >>> 10)) & 0xff;
      const wire = clientFrame(Opcode.Binary, payload);
      const split = 14 + MiB / 4;
      for (let i = 0; i < count; i++) {
        const client = await rawOpen(port);
        clients.push(client);
        client.write(wire.subarray(0, split));
      }
      await until(() => budget.used === budget.limit, 'the budget to be spent');
      // Give the other peers' quarters time to be read: none is charged past the bound.
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(budget.used, budget.limit);
      assert.equal(
        defaultAssemblyBudget.used,
        before,
        "the process's budget is the clients', not the server's",
      );
      for (const client of clients) client.write(wire.subarray(split));
      for (const client of clients) {
        await client.waitFor(() => client.frames().length === 1, 'the echo');
        assert.ok(client.frames()[0]!.payload.equals(payload));
      }
      assert.equal(budget.used, 0, 'every charge given back on delivery');
      // And when peers leave in the middle of a frame.
      for (const client of clients.slice(0, 8)) client.write(wire.subarray(0, split));
      await until(() => budget.used === 8 * MiB, 'eight buffers charged');
      for (const client of clients.slice(0, 8)) client.destroy();
      await until(() => budget.used === 0, 'the charges of the peers that left to be given back');
    } finally {
      for (const client of clients) client.destroy();
      await server.close();
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
