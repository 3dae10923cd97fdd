/**
 * The bound on message buffers allocated ahead of their data (`AssemblyBudget`): a large
 * single frame gets one buffer of its exact size once an eighth of it has arrived, and the
 * connections of one owner share a bound on what is allocated that way, so that a peer
 * opening many connections cannot make us allocate eight times what it sends.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  AssemblyBudget,
  Connection,
  type ConnectionHandler,
  defaultAssemblyBudget,
  limits,
  Opcode,
} from '../../src/protocol/index.js';
import { allocations, chunksOf, noiseBytes, peerFrame } from './helpers.js';

const MiB = 1024 * 1024;
const READ = 64 * 1024;

/** A server-side connection that keeps what it delivers. */
function connection(budget: AssemblyBudget | undefined, delivered: Buffer[] = [], maxPayload = 2 * MiB) {
  const handler: ConnectionHandler = {
    onMessage: (data) => delivered.push(Buffer.from(data)),
    onPing() {},
    onPong() {},
    onClose() {},
    onOutput() {},
  };
  return new Connection(handler, {
    role: 'server',
    maxPayload,
    ...(budget === undefined ? {} : { assemblyBudget: budget }),
  });
}

describe('AssemblyBudget', () => {
  it('defaults to limits.DEFAULT_EARLY_ASSEMBLY_BYTES, and refuses a limit that is not a whole number of bytes', () => {
    assert.equal(new AssemblyBudget().limit, limits.DEFAULT_EARLY_ASSEMBLY_BYTES);
    assert.equal(limits.DEFAULT_EARLY_ASSEMBLY_BYTES, 64 * MiB);
    assert.throws(() => new AssemblyBudget(-1), RangeError);
    assert.throws(() => new AssemblyBudget(1.5), RangeError);
    assert.throws(() => new AssemblyBudget('1' as unknown as number), TypeError);
    assert.throws(
      () => connection({} as AssemblyBudget),
      (error: unknown) => error instanceof TypeError && /assemblyBudget/.test(error.message),
    );
  });

  it("charges a large frame's buffer when it is allocated at an eighth, and gives it back on delivery", () => {
    const budget = new AssemblyBudget();
    const delivered: Buffer[] = [];
    const conn = connection(budget, delivered);
    const payload = noiseBytes(MiB, 1);
    const reads = chunksOf(peerFrame('server', Opcode.Binary, payload), READ);
    let chargedAt = -1;
    let received = 0;
    for (const read of reads) {
      received += read.length;
      conn.receive(read);
      if (chargedAt === -1 && budget.used > 0) chargedAt = received;
      if (delivered.length === 0) assert.ok(budget.used === 0 || budget.used === MiB);
    }
    assert.ok(
      chargedAt - 14 >= MiB / 8 && chargedAt - 14 - READ < MiB / 8,
      `charged after ${chargedAt} bytes`,
    );
    assert.equal(delivered.length, 1);
    assert.ok(delivered[0]!.equals(payload));
    assert.equal(budget.used, 0);
  });

  it('a connection over a spent budget holds its reads and joins them once, at the end of the frame', () => {
    const budget = new AssemblyBudget(MiB);
    const first = connection(budget);
    const firstReads = chunksOf(peerFrame('server', Opcode.Binary, noiseBytes(MiB, 2)), READ);
    for (const read of firstReads.slice(0, 4)) first.receive(read);
    assert.equal(budget.used, MiB, 'the first connection took the whole budget');

    const delivered: Buffer[] = [];
    const second = connection(budget, delivered);
    const payload = noiseBytes(MiB, 3);
    const reads = chunksOf(peerFrame('server', Opcode.Binary, payload), READ);
    const sizes: number[] = [];
    let received = 0;
    let allocatedAt = -1;
    for (const read of reads) {
      received += read.length;
      const now = allocations(() => second.receive(read));
      if (now.length > 0 && allocatedAt === -1) allocatedAt = received;
      sizes.push(...now);
    }
    assert.deepEqual(sizes, [MiB], 'one buffer of the exact size');
    // The views are joined once they pin more than the frame (each is charged its read plus
    // PART_OVERHEAD): here with the read that brings all but its last 14 bytes.
    assert.ok(allocatedAt >= MiB, `allocated after ${allocatedAt} of ${MiB + 14} bytes`);
    assert.equal(delivered.length, 1);
    assert.ok(delivered[0]!.equals(payload), 'the held reads were unmasked as they were joined');
    assert.equal(budget.used, MiB, "the second connection's buffer was never charged");
  });

  it('text over a spent budget is validated as it arrives and delivered whole', () => {
    const budget = new AssemblyBudget(0);
    const delivered: Buffer[] = [];
    const conn = connection(budget, delivered);
    const text = 'é'.repeat(300_000);
    for (const read of chunksOf(peerFrame('server', Opcode.Text, text), 4096 + 1)) conn.receive(read);
    assert.equal(delivered.length, 1);
    assert.equal(delivered[0]!.toString('utf8'), text);
    assert.equal(budget.used, 0);
  });

  it('gives the charge back when the connection ends in the middle of the frame', () => {
    const budget = new AssemblyBudget();
    const reads = chunksOf(peerFrame('server', Opcode.Binary, noiseBytes(MiB, 4)), READ);

    const ended = connection(budget);
    for (const read of reads.slice(0, 8)) ended.receive(read);
    assert.equal(budget.used, MiB);
    ended.receiveEof();
    assert.equal(budget.used, 0, 'the transport ended');

    const failed = connection(budget);
    for (const read of reads.slice(0, 8)) failed.receive(read);
    assert.equal(budget.used, MiB);
    failed.abort(new Error('a write failed'));
    assert.equal(budget.used, 0, 'the connection was failed');
  });

  it('clients share the process default when they bring none', () => {
    const before = defaultAssemblyBudget.used;
    const conn = new Connection(
      { onMessage() {}, onPing() {}, onPong() {}, onClose() {}, onOutput() {} },
      { role: 'client', maxPayload: 2 * MiB },
    );
    for (const read of chunksOf(peerFrame('client', Opcode.Binary, noiseBytes(MiB, 5)), READ).slice(0, 4)) {
      conn.receive(read);
    }
    assert.equal(defaultAssemblyBudget.used - before, MiB);
    conn.receiveEof();
    assert.equal(defaultAssemblyBudget.used, before);
  });

  it('property: connections sharing a budget never charge past it, deliver every message intact, and give back everything', () => {
    const sizes = fc.integer({ min: 1, max: 300_000 });
    const step = fc.record({
      conn: fc.nat(3),
      bytes: fc.integer({ min: 1, max: 80_000 }),
      end: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 600_000 }),
        fc.array(fc.array(fc.tuple(sizes, fc.boolean()), { minLength: 1, maxLength: 3 }), {
          minLength: 4,
          maxLength: 4,
        }),
        fc.array(step, { maxLength: 200 }),
        (limit, plans, steps) => {
          const budget = new AssemblyBudget(limit);
          const peers = plans.map((messages, index) => {
            const payloads = messages.map(([size, isText], m) =>
              isText ? Buffer.from('x'.repeat(size)) : noiseBytes(size, index * 10 + m),
            );
            const wire = Buffer.concat(
              payloads.map((payload, m) =>
                peerFrame('server', messages[m]![1] ? Opcode.Text : Opcode.Binary, payload),
              ),
            );
            const delivered: Buffer[] = [];
            return {
              conn: connection(budget, delivered, MiB),
              wire,
              at: 0,
              payloads,
              delivered,
              gone: false,
            };
          });
          const feed = (peer: (typeof peers)[number], bytes: number) => {
            const next = Math.min(peer.wire.length, peer.at + bytes);
            // A fresh copy per read, as the socket hands over fresh buffers.
            peer.conn.receive(Buffer.from(peer.wire.subarray(peer.at, next)));
            peer.at = next;
          };
          for (const { conn, bytes, end } of steps) {
            const peer = peers[conn]!;
            if (peer.gone) continue;
            if (end && bytes % 7 === 0) {
              peer.conn.receiveEof();
              peer.gone = true;
            } else if (peer.at < peer.wire.length) {
              feed(peer, bytes);
            }
            assert.ok(budget.used >= 0 && budget.used <= limit, `charged ${budget.used} of ${limit}`);
          }
          for (const peer of peers) {
            while (!peer.gone && peer.at < peer.wire.length) feed(peer, READ);
            assert.ok(budget.used <= limit);
          }
          for (const peer of peers) {
            // A peer that left delivered a prefix of its messages; the others all of them.
            if (peer.gone) assert.ok(peer.delivered.length <= peer.payloads.length);
            else assert.equal(peer.delivered.length, peer.payloads.length);
            for (const [m, data] of peer.delivered.entries()) assert.ok(data.equals(peer.payloads[m]!));
            peer.conn.receiveEof();
          }
          assert.equal(budget.used, 0);
        },
      ),
      { numRuns: 150 },
    );
  });
});
