/**
 * XOR `data[start, end)` in place with the 4-byte mask `key`, whose byte `keyOffset`
 * applies to `data[start]` (see raw-xor.mjs).
 */
export function xorMask(
  data: Uint8Array,
  start: number,
  end: number,
  key: Uint8Array,
  keyOffset: number,
): void;
