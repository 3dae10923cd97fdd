/** Helpers of the operations tests (caps, rates, PROXY protocol, diagnostics). */

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** A version 2 header: command (0 LOCAL, 1 PROXY), family byte, address block (and TLVs). */
export function proxyV2(command: number, family: number, block: Buffer): Buffer {
  const fixed = Buffer.alloc(4);
  fixed[0] = 0x20 | command;
  fixed[1] = family;
  fixed.writeUInt16BE(block.length, 2);
  return Buffer.concat([V2_SIGNATURE, fixed, block]);
}

/** A version 2 TCP/IPv4 block. */
export function v2Inet(source: number[], sourcePort: number, tlvs = Buffer.alloc(0)): Buffer {
  const block = Buffer.alloc(12);
  Buffer.from(source).copy(block, 0);
  Buffer.from([127, 0, 0, 1]).copy(block, 4);
  block.writeUInt16BE(sourcePort, 8);
  block.writeUInt16BE(443, 10);
  return Buffer.concat([block, tlvs]);
}
