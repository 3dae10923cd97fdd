import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Compare two strings (a presented token and the secret, say) in time that depends on
 * neither their contents nor where they first differ, nor on whether their lengths
 * match: both sides are hashed to 32 bytes with SHA-256 first, and the digests are
 * compared with `crypto.timingSafeEqual`. A plain `===` returns at the first differing
 * character, which lets an attacker guess a secret one character at a time; comparing
 * lengths first leaks the secret's length.
 *
 * @example
 * ```ts
 * authenticate(request) {
 *   const header = request.headers.authorization;
 *   const token = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : '';
 *   if (!constantTimeEqual(token, SECRET)) throw new HandshakeError(401, 'bad token');
 *   return { user: 'alice' };
 * }
 * ```
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const digestA = createHash('sha256').update(a, 'utf8').digest();
  const digestB = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(digestA, digestB);
}
