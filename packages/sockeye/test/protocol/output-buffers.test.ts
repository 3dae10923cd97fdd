/**
 * The output slab and the masking-key pool belong to an owner (`OutputBuffers`): a server
 * makes its own for its connections; clients share the process's default.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Connection,
  type ConnectionHandler,
  defaultOutputBuffers,
  FIN_BIT,
  Opcode,
  OutputBuffers,
  OutputQueue,
} from '../../src/protocol/index.js';
import { decodeFrames } from './helpers.js';

const quiet: ConnectionHandler = {
  onMessage() {},
  onPing() {},
  onPong() {},
  onClose() {},
  onOutput() {},
};

/** The distinct memory a set of output chunks lives in, and its total size. */
function backing(chunks: readonly Buffer[]): { buffers: Set<ArrayBufferLike>; bytes: number } {
  const buffers = new Set(chunks.map((chunk) => chunk.buffer));
  let bytes = 0;
  for (const buffer of buffers) bytes += buffer.byteLength;
  return { buffers, bytes };
}

describe('OutputBuffers', () => {
  it("a queue copies small frames into its owner's slab, not another owner's", () => {
    const mine = new OutputBuffers();
    const theirs = new OutputBuffers();
    const a = new OutputQueue(false, mine);
    const b = new OutputQueue(false, mine);
    const c = new OutputQueue(false, theirs);
    for (const queue of [a, b, c]) queue.push(FIN_BIT | Opcode.Text, 'hello');
    const [chunkA] = a.take();
    const [chunkB] = b.take();
    const [chunkC] = c.take();
    assert.equal(chunkA!.buffer, mine.slab.buffer);
    assert.equal(chunkB!.buffer, mine.slab.buffer, 'connections of one owner share its slab');
    assert.equal(chunkC!.buffer, theirs.slab.buffer);
    assert.notEqual(chunkA!.buffer, chunkC!.buffer);
    assert.notEqual(chunkA!.buffer, defaultOutputBuffers.slab.buffer);
    for (const chunk of [chunkA, chunkB, chunkC])
      assert.equal(decodeFrames(chunk!)[0]!.payload.toString(), 'hello');
  });

  it('a masking queue takes its keys from its owner (and its frames still unmask)', () => {
    const buffers = new OutputBuffers();
    const queue = new OutputQueue(true, buffers);
    queue.push(FIN_BIT | Opcode.Binary, Buffer.from([1, 2, 3, 4, 5]));
    const [frame] = decodeFrames(Buffer.concat(queue.take()));
    assert.equal(frame!.masked, true);
    assert.deepEqual([...frame!.payload], [1, 2, 3, 4, 5]);
    assert.equal(buffers.keyPool.length, 8 * 1024, 'the pool was made on first use');
    const key = buffers.nextMaskKey();
    assert.equal(key.length, 4);
    assert.equal(key.buffer, buffers.keyPool.buffer);
  });

  it('an owner allocates nothing until it sends, and no key pool unless it masks', () => {
    const buffers = new OutputBuffers();
    assert.equal(buffers.slab.length, 0);
    assert.equal(buffers.keyPool.length, 0);
    const queue = new OutputQueue(false, buffers);
    queue.push(FIN_BIT | Opcode.Text, 'x');
    assert.equal(buffers.slab.length, 64 * 1024);
    assert.equal(buffers.keyPool.length, 0, 'an unmasked (server) queue never makes a key pool');
  });

  it('a Connection writes into the outputBuffers it is given', () => {
    const buffers = new OutputBuffers();
    const connection = new Connection(quiet, { role: 'server', outputBuffers: buffers });
    connection.send('owned', true);
    const chunks = connection.takeOutput();
    assert.equal(chunks[0]!.buffer, buffers.slab.buffer);
  });

  it('a Connection refuses an outputBuffers that is not an OutputBuffers', () => {
    assert.throws(
      () => new Connection(quiet, { role: 'client', outputBuffers: {} as OutputBuffers }),
      (error: unknown) => error instanceof TypeError && /outputBuffers/.test(error.message),
    );
  });

  // Why clients share the default: a client is one connection, so buffers of its own would
  // cost every client that sends a slab of its own for as long as it lives.
  it('clients sharing the default hold one slab; clients owning theirs hold one each', () => {
    const clients = 100;
    const shared: Buffer[] = [];
    const owned: Buffer[] = [];
    for (let i = 0; i < clients; i++) {
      const a = new Connection(quiet, { role: 'client' });
      a.send('hi', true);
      shared.push(...a.takeOutput());
      const b = new Connection(quiet, { role: 'client', outputBuffers: new OutputBuffers() });
      b.send('hi', true);
      owned.push(...b.takeOutput());
    }
    const sharedMemory = backing(shared);
    const ownedMemory = backing(owned);
    assert.ok(sharedMemory.buffers.size <= 2, `${sharedMemory.buffers.size} slabs`);
    assert.equal(ownedMemory.buffers.size, clients);
    assert.equal(ownedMemory.bytes, clients * 64 * 1024);
  });
});
