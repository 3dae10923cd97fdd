/**
 * XOR masking (RFC 6455 section 5.3). Every client-to-server frame is masked with a
 * 4-byte key; the receiver applies the same XOR to unmask.
 *
 * {@link maskSlow} is the plain reference; {@link unmask} is the one the hot path uses.
 * A property test checks that they agree on every length, offset and alignment.
 */

/**
 * Below this many bytes the word-at-a-time path costs more than it saves: creating its
 * `Uint32Array` view costs ~90 ns, as much as XORing ~110 bytes four at a time with the
 * key in locals (measured on Node 20: the word path is ~95 ns + 0.1 ns/byte, the short
 * loop ~0.8 ns/byte; they cross between 96 and 128 bytes).
 */
const WORD_PATH_MIN = 128;

/** Little-endian platforms (all Node targets in practice) read the key bytes in reverse word order. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * From this many bytes on, {@link maskRegion} and {@link maskCopy} use the WebAssembly SIMD
 * kernel when the runtime has one. Its fixed cost (two copies through its memory, a call)
 * is about 100 ns; it then XORs 16 bytes per instruction. Measured on Node 20 (CPU time
 * per call, best of 3, a region of a 64 KiB read; shared machine): at 512 B the kernel
 * and the `Uint32Array` path are even in place (117-123 against 125-127 ns) and the
 * kernel is ahead for `maskCopy` (118-138 against 201-223 ns); at 1 KiB it takes 134-150
 * against 192-219 ns in place and 144 against 273-282 ns copying; at 256 B the word path
 * still wins in place (94-117 against 119-147 ns).
 */
const SIMD_MIN = 512;

/**
 * The largest block the kernel masks at a time (its memory is one 64 KiB WebAssembly page).
 * A block is copied in, XORed and copied out while it sits in the L1 data cache: 16 KiB
 * blocks took 51 µs per MiB in place and 89 µs copying, where 64 KiB blocks (which spill
 * to L2 between the three passes) took 71 and 97 µs, and 4 KiB blocks 82 and 125 µs
 * (the call and the views per block start to show). Measured on Node 20, CPU time, a 1 MiB
 * message in 64 KiB reads.
 */
const SIMD_BLOCK = 16 * 1024;

/**
 * The SIMD kernel, hand-assembled (no toolchain, no runtime dependency). In WAT:
 * ```wat
 * (module
 *   (memory (export "m") 1 1)
 *   ;; XOR memory[at, end) with the 4-byte key word; end - at is a multiple of 64.
 *   (func (export "x") (param $at i32) (param $end i32) (param $key i32) (local $k v128)
 *     (local.set $k (i32x4.splat (local.get $key)))
 *     (block (loop
 *       (br_if 1 (i32.ge_u (local.get $at) (local.get $end)))
 *       (v128.store offset=0  (local.get $at) (v128.xor (v128.load offset=0  (local.get $at)) (local.get $k)))
 *       (v128.store offset=16 (local.get $at) (v128.xor (v128.load offset=16 (local.get $at)) (local.get $k)))
 *       (v128.store offset=32 (local.get $at) (v128.xor (v128.load offset=32 (local.get $at)) (local.get $k)))
 *       (v128.store offset=48 (local.get $at) (v128.xor (v128.load offset=48 (local.get $at)) (local.get $k)))
 *       (local.set $at (i32.add (local.get $at) (i32.const 64)))
 *       (br 0)))))
 * ```
 */
function simdModuleBytes(): Uint8Array<ArrayBuffer> {
  // One 16-byte lane: v128.store offset=o (local $at) (v128.xor (v128.load offset=o (local $at)) (local $k)).
  const lane = (offset: number) => [
    0x20,
    0x00,
    0x20,
    0x00,
    0xfd,
    0x00,
    0x04,
    offset,
    0x20,
    0x03,
    0xfd,
    0x51,
    0xfd,
    0x0b,
    0x04,
    offset,
  ];
  const body = [
    ...[0x01, 0x01, 0x7b], // one local: v128
    ...[0x20, 0x02, 0xfd, 0x11, 0x21, 0x03], // $k = i32x4.splat($key)
    ...[0x02, 0x40, 0x03, 0x40], // block, loop
    ...[0x20, 0x00, 0x20, 0x01, 0x4f, 0x0d, 0x01], // br_if 1 ($at >= $end)
    ...lane(0x00),
    ...lane(0x10),
    ...lane(0x20),
    ...lane(0x30),
    ...[0x20, 0x00, 0x41, 0xc0, 0x00, 0x6a, 0x21, 0x00], // $at += 64
    ...[0x0c, 0x00, 0x0b, 0x0b, 0x0b], // br 0, end loop, end block, end func
  ];
  const section = (id: number, content: number[]) => [id, content.length, ...content];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
    ...section(1, [0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x00]), // type 0: (i32, i32, i32) -> ()
    ...section(3, [0x01, 0x00]), // func 0 has type 0
    ...section(5, [0x01, 0x01, 0x01, 0x01]), // memory 0: 1 page, max 1
    ...section(7, [0x02, 0x01, 0x6d, 0x02, 0x00, 0x01, 0x78, 0x00, 0x00]), // export "m" memory 0, "x" func 0
    ...section(10, [0x01, body.length, ...body]), // code (body.length < 128: one LEB byte)
  ]);
}

interface SimdKernel {
  /** The kernel's memory as bytes. */
  memory: Uint8Array;
  /**
   * Views of its first `n * 64` bytes, made on first use (one per multiple of 64 up to
   * `SIMD_BLOCK`, indexed by `n`): a masked block is copied out through one of these instead of a new `subarray`
   * each time (~50 ns and garbage per call; a third of masking a 1 KiB message).
   */
  views: (Uint8Array | undefined)[];
  /** XOR `memory[at, end)` with `key` (little-endian word); `end - at` a multiple of 64. */
  xor: (at: number, end: number, key: number) => void;
}

/** Compile the kernel, or return null where WebAssembly or its SIMD is missing (`--jitless`, old engines). */
function loadSimdKernel(): SimdKernel | null {
  try {
    if (typeof WebAssembly !== 'object') return null;
    const bytes = simdModuleBytes();
    if (!WebAssembly.validate(bytes)) return null;
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes));
    const memory = exports.m as WebAssembly.Memory;
    return {
      memory: new Uint8Array(memory.buffer),
      views: new Array<Uint8Array | undefined>(SIMD_BLOCK / 64 + 1).fill(undefined),
      xor: exports.x as (at: number, end: number, key: number) => void,
    };
  } catch {
    return null;
  }
}

const simdKernel = loadSimdKernel();
let simd = simdKernel;

/**
 * Turn the SIMD kernel off (false) or back on (true, where the runtime has it), and return
 * whether it is in use now. For tests and benchmarks that compare the two paths.
 * @internal
 */
export function useSimdMask(enabled: boolean): boolean {
  simd = enabled ? simdKernel : null;
  return simd !== null;
}

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
  maskRegion(data, 0, data.length, key, 0, keyOffset);
}

/**
 * The engine of {@link unmask}: XOR `data[start, end)` in place with the 4-byte key stored
 * at `key[keyAt]`..`key[keyAt + 3]`; `keyOffset` is the payload position of `data[start]`.
 * The serializer masks straight into its output slab with a key from the key pool this
 * way, without a `subarray` view of either (each costs a few hundred nanoseconds on V8,
 * more than masking a small frame).
 */
export function maskRegion(
  data: Uint8Array,
  start: number,
  end: number,
  key: Uint8Array,
  keyAt: number,
  keyOffset = 0,
): void {
  if (end - start >= SIMD_MIN && simd !== null) {
    maskRegionSimd(simd, data, start, end, key, keyAt, keyOffset);
    return;
  }
  if (end - start < WORD_PATH_MIN) {
    // Short: four bytes per iteration with the key bytes in locals, in the order they apply from `start`.
    const a = key[keyAt + (keyOffset & 3)]!;
    const b = key[keyAt + ((keyOffset + 1) & 3)]!;
    const c = key[keyAt + ((keyOffset + 2) & 3)]!;
    const d = key[keyAt + ((keyOffset + 3) & 3)]!;
    let j = start;
    for (; j + 3 < end; j += 4) {
      data[j]! ^= a;
      data[j + 1]! ^= b;
      data[j + 2]! ^= c;
      data[j + 3]! ^= d;
    }
    if (j < end) data[j]! ^= a;
    if (j + 1 < end) data[j + 1]! ^= b;
    if (j + 2 < end) data[j + 2]! ^= c;
    return;
  }
  // The key byte for payload position p is key[keyAt + (p & 3)]; data[i] is at position i + s.
  const s = keyOffset - start;
  let i = start;
  {
    // Bytes until the view's start is 4-aligned in its ArrayBuffer (Uint32Array needs that).
    const head = start + ((4 - ((data.byteOffset + start) & 3)) & 3);
    for (; i < head; i++) data[i]! ^= key[keyAt + ((i + s) & 3)]!;
    const words = (end - head) >>> 2;
    const w0 = key[keyAt + ((head + s) & 3)]!;
    const w1 = key[keyAt + ((head + s + 1) & 3)]!;
    const w2 = key[keyAt + ((head + s + 2) & 3)]!;
    const w3 = key[keyAt + ((head + s + 3) & 3)]!;
    const keyWord = LITTLE_ENDIAN
      ? (w0 | (w1 << 8) | (w2 << 16) | (w3 << 24)) >>> 0
      : ((w0 << 24) | (w1 << 16) | (w2 << 8) | w3) >>> 0;
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
  }
  for (; i < end; i++) data[i]! ^= key[keyAt + ((i + s) & 3)]!;
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
  maskCopy(source, 0, source.length, target, targetOffset, key, 0);
}

/**
 * Write `source[start, end)` XORed with the key at `key[keyAt]` into `target` at
 * `targetOffset`, in one pass where it can: with the SIMD kernel the bytes go from `source`
 * into the kernel's memory and from there, masked, into `target` (two `memcpy` and the XOR,
 * instead of a copy then a mask in place, which is three with the kernel). `keyOffset` is
 * the payload position of `source[start]`. `source` is left as it was.
 */
export function maskCopy(
  source: Uint8Array,
  start: number,
  end: number,
  target: Uint8Array,
  targetOffset: number,
  key: Uint8Array,
  keyAt: number,
  keyOffset = 0,
): void {
  const kernel = simd;
  if (end - start < SIMD_MIN || kernel === null) {
    // No subarray for a whole source: a view costs more than copying a small frame.
    target.set(start === 0 && end === source.length ? source : source.subarray(start, end), targetOffset);
    maskRegion(target, targetOffset, targetOffset + end - start, key, keyAt, keyOffset);
    return;
  }
  const memory = kernel.memory;
  for (let at = start; at < end; at += SIMD_BLOCK) {
    const blockEnd = Math.min(end, at + SIMD_BLOCK);
    const whole = (blockEnd - at) & ~63;
    const p = at - start + keyOffset;
    memory.set(at === 0 && whole === source.length ? source : source.subarray(at, at + whole), 0);
    kernel.xor(0, whole, keyWord(key, keyAt, p));
    const into = targetOffset + at - start;
    target.set(memoryView(kernel, whole), into);
    for (let i = whole; i < blockEnd - at; i++)
      target[into + i] = source[at + i]! ^ key[keyAt + ((p + i) & 3)]!;
  }
}

/** The first `length` bytes of the kernel's memory (a multiple of 64, at most `SIMD_BLOCK`), as a kept view. */
function memoryView(kernel: SimdKernel, length: number): Uint8Array {
  const index = length >>> 6;
  let view = kernel.views[index];
  if (view === undefined) {
    view = kernel.memory.subarray(0, length);
    kernel.views[index] = view;
  }
  return view;
}

/** The 4 key bytes in the order they apply from payload position `p`, as a little-endian word (WebAssembly's order). */
function keyWord(key: Uint8Array, keyAt: number, p: number): number {
  return (
    key[keyAt + (p & 3)]! |
    (key[keyAt + ((p + 1) & 3)]! << 8) |
    (key[keyAt + ((p + 2) & 3)]! << 16) |
    (key[keyAt + ((p + 3) & 3)]! << 24)
  );
}

/**
 * {@link maskRegion} through the SIMD kernel: each block of up to `SIMD_BLOCK` bytes is copied into
 * the kernel's memory, XORed 64 bytes per loop turn, and copied back (the copies are
 * `memcpy`, many times faster than the XOR in JavaScript, so the round trip still wins).
 * The last `length % 64` bytes of a block stay in JavaScript.
 */
function maskRegionSimd(
  kernel: SimdKernel,
  data: Uint8Array,
  start: number,
  end: number,
  key: Uint8Array,
  keyAt: number,
  keyOffset: number,
): void {
  const memory = kernel.memory;
  for (let at = start; at < end; at += SIMD_BLOCK) {
    const blockEnd = Math.min(end, at + SIMD_BLOCK);
    const whole = (blockEnd - at) & ~63;
    memory.set(at === 0 && whole === data.length ? data : data.subarray(at, at + whole), 0);
    kernel.xor(0, whole, keyWord(key, keyAt, at - start + keyOffset));
    data.set(memoryView(kernel, whole), at);
    // The tail (< 64 bytes) keeps the same key phase: `whole` is a multiple of 4.
    for (let i = at + whole; i < blockEnd; i++) data[i]! ^= key[keyAt + ((i - start + keyOffset) & 3)]!;
  }
}
