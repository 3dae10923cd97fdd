/** Fault injection shared by the server's and the clients' fault suites. */

/**
 * Make decoding `marker`'s bytes as UTF-8 throw what decoding a message longer than V8's
 * longest string (2^29 - 24 units) throws, `ERR_STRING_TOO_LONG`, without allocating the
 * 512 MiB it would take. Every other decoding goes on as usual.
 * @returns a function that puts the real decoder back
 */
export function failDecodingOf(marker: string): () => void {
  const original = Buffer.prototype.toString;
  const markerBytes = Buffer.from(marker, 'latin1');
  Buffer.prototype.toString = function failingDecoder(this: Buffer, ...args: unknown[]): string {
    const encoding = args[0];
    if (
      (encoding === undefined || encoding === 'utf8' || encoding === 'utf-8') &&
      this.length === markerBytes.length &&
      markerBytes.equals(this)
    ) {
      const error = new Error('Cannot create a string longer than 0x1fffffe8 characters');
      Object.assign(error, { code: 'ERR_STRING_TOO_LONG' });
      throw error;
    }
    return (original as (...a: unknown[]) => string).apply(this, args);
  } as typeof original;
  return () => {
    Buffer.prototype.toString = original;
  };
}
