/**
 * The `ws`-compatible server bounds the message buffers its sockets allocate ahead of their
 * data with a budget of its own, as sockeye's server does (a client uses the process's).
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { type AssemblyBudget, defaultAssemblyBudget } from '../../src/protocol/index.js';
import { clientFrame } from '../server/helpers.js';
import { closeServer, layerImpl, listen, upgradeHead } from './harness.js';

describe('sockeye/ws server: buffers allocated early', () => {
  it('are charged to its own budget and given back when the message is delivered', async () => {
    const { wss, port } = await listen(layerImpl);
    const budget = (wss as unknown as { settings: { assemblyBudget: AssemblyBudget } }).settings
      .assemblyBudget;
    assert.notEqual(budget, defaultAssemblyBudget);
    const before = defaultAssemblyBudget.used;
    const size = 1024 * 1024;
    const payload = Buffer.alloc(size);
    for (let i = 0; i < size; i++) payload[i] = (i * 13) & 0xff;
    const wire = clientFrame(2, payload);
    const split = 14 + size / 4;
    const received = new Promise<Buffer>((resolve) =>
      wss.on('connection', (ws) => ws.on('message', (data) => resolve(data as Buffer))),
    );
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    try {
      socket.write(upgradeHead());
      socket.write(wire.subarray(0, split));
      const deadline = Date.now() + 10_000;
      while (budget.used !== size) {
        assert.ok(Date.now() < deadline, 'timed out waiting for the charge');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.equal(defaultAssemblyBudget.used, before, "the process's budget is untouched");
      socket.write(wire.subarray(split));
      assert.ok((await received).equals(payload));
      assert.equal(budget.used, 0);
    } finally {
      socket.destroy();
      await closeServer(wss);
    }
  });
});
