import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isControlOpcode, isKnownOpcode, Opcode, opcodeName } from '../../src/protocol/index.js';

describe('RFC 6455 section 5.2: opcodes', () => {
  it('names every defined opcode and none of the reserved ones', () => {
    assert.deepEqual(
      Object.values(Opcode).map((op) => opcodeName(op)),
      ['continuation', 'text', 'binary', 'close', 'ping', 'pong'],
    );
    for (let op = 0; op <= 0xf; op++) {
      assert.equal(opcodeName(op) !== undefined, isKnownOpcode(op), `opcode 0x${op.toString(16)}`);
    }
  });

  it('tells control opcodes (0x8-0xF) from data opcodes (0x0-0x7)', () => {
    for (let op = 0; op <= 0xf; op++) assert.equal(isControlOpcode(op), op >= 0x8);
  });
});
