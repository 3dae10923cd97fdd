/**
 * XOR masking (RFC 6455 section 5.3). Every client-to-server frame is masked with a
 * 4-byte key; the receiver applies the same XOR to unmask.
 *
 * {@link maskSlow} is the plain reference; {@link unmask} is the one the hot path uses.
 * A property test checks that they agree on every length, offset and alignment.
 */

/** Below this many bytes the word-at-a-time path costs more than it saves (measured: a typed-array view per call). */
const WORD_PATH_MIN = 32;

/** Little-endian platforms (all Node targets in practice) read the key bytes in reverse word order. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Reference implementation: XOR `data` with `key` in place, a byte at a time.
 * `keyOffset` is the position of `data[0]` within the payload (so a payload delivered in
 * parts can be unmasked part by part).
 */
export function maskSlow(data: Uint8Array, key: Uint8Array, keyOffset = 0): void {
  for (let i = 0; i < data.length; i++) data[i]! ^= key[(keyOffset + i) & 3]!;
}

/**
 * XOR `data` with `key` in place (masking and unmasking are the same operation).
 *
 * The fast path XORs 32-bit words through a `Uint32Array` view over the aligned middle
 * of the buffer, about 4x fewer loop iterations than {@link maskSlow}; the unaligned head
 * and the tail go byte by byte. `keyOffset` is the position of `data[0]` in the payload.
 */
export function unmask(data: Uint8Array, key: Uint8Array, keyOffset = 0): void {
  const length = data.length;
  if (length < WORD_PATH_MIN) {
    for (let i = 0; i < length; i++) data[i]! ^= key[(keyOffset + i) & 3]!;
    return;
  }
  // Bytes until the view's start is 4-aligned in its ArrayBuffer (Uint32Array needs that).
  const head = (4 - (data.byteOffset & 3)) & 3;
  let i = 0;
  for (; i < head; i++) data[i]! ^= key[(keyOffset + i) & 3]!;
  const words = (length - head) >>> 2;
  const k = (keyOffset + head) & 3;
  const k0 = key[k]!;
  const k1 = key[(k + 1) & 3]!;
  const k2 = key[(k + 2) & 3]!;
  const k3 = key[(k + 3) & 3]!;
  const keyWord = LITTLE_ENDIAN
    ? (k0 | (k1 << 8) | (k2 << 16) | (k3 << 24)) >>> 0
    : ((k0 << 24) | (k1 << 16) | (k2 << 8) | k3) >>> 0;
  const view = new Uint32Array(data.buffer, data.byteOffset + head, words);
  // Unrolled by four: measured ~25% faster than a plain loop on V8 for 64 KiB payloads.
  let w = 0;
  const unrolled = words & ~3;
  for (; w < unrolled; w += 4) {
    view[w]! ^= keyWord;
    view[w + 1]! ^= keyWord;
    view[w + 2]! ^= keyWord;
    view[w + 3]! ^= keyWord;
  }
  for (; w < words; w++) view[w]! ^= keyWord;
  i = head + words * 4;
  for (; i < length; i++) data[i]! ^= key[(keyOffset + i) & 3]!;
}

/**
 * Write `source` XORed with `key` into `target` at `targetOffset`, leaving `source`
 * untouched (for masking a caller's buffer that we must not modify).
 */
export function maskInto(
  source: Uint8Array,
  key: Uint8Array,
  target: Uint8Array,
  targetOffset: number,
): void {
  target.set(source, targetOffset);
  unmask(target.subarray(targetOffset, targetOffset + source.length), key, 0);
}
