// The word-at-a-time XOR of the raw Node ceilings (bench/servers/node-raw.mjs unmasks with it,
// bench/clients/raw-client.ts masks with it): byte by byte up to a 4-byte boundary, then an
// Int32Array view, unrolled by four, then the tail byte by byte.

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** XOR `data[start, end)` in place with the mask `key`, whose byte `keyOffset` applies to data[start]. */
export function xorMask(data, start, end, key, keyOffset) {
  let i = start;
  const head = Math.min(end, start + ((4 - ((data.byteOffset + start) & 3)) & 3));
  for (; i < head; i++) data[i] ^= key[(keyOffset + i - start) & 3];
  const words = (end - i) >>> 2;
  if (words > 0) {
    const k = (keyOffset + i - start) & 3;
    const b0 = key[k];
    const b1 = key[(k + 1) & 3];
    const b2 = key[(k + 2) & 3];
    const b3 = key[(k + 3) & 3];
    const word = LITTLE_ENDIAN
      ? b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)
      : (b0 << 24) | (b1 << 16) | (b2 << 8) | b3;
    const view = new Int32Array(data.buffer, data.byteOffset + i, words);
    // Unrolled by four, as in sockeye's core: fewer loop checks per word on V8.
    const unrolled = words & ~3;
    let w = 0;
    for (; w < unrolled; w += 4) {
      view[w] ^= word;
      view[w + 1] ^= word;
      view[w + 2] ^= word;
      view[w + 3] ^= word;
    }
    for (; w < words; w++) view[w] ^= word;
    i += words * 4;
  }
  for (; i < end; i++) data[i] ^= key[(keyOffset + i - start) & 3];
}
