import type { UpgradeRequestContext } from './types.js';

/**
 * Which browser origins may open a WebSocket (protection against cross-site WebSocket
 * hijacking). A request that carries `Origin` (every browser request does) is accepted
 * when its origin is the same as the `Host` it was sent to, or when it matches this
 * policy:
 * - `'*'`: any origin (turns the check off; only for servers that use no cookies or
 *   other ambient credentials);
 * - an array of exact origins (`'https://app.example.com'`, compared case-insensitively)
 *   and regular expressions tested against the whole `Origin` value;
 * - a function that decides.
 *
 * Requests without `Origin` (non-browser clients) are always accepted: only browsers
 * attach a victim's cookies to a cross-site request.
 */
export type OriginPolicy =
  | '*'
  | ReadonlyArray<string | RegExp>
  | ((origin: string, request: UpgradeRequestContext) => boolean);

/**
 * Whether a request's `Origin` is allowed under `policy` (see {@link OriginPolicy}).
 * @param origin - the `Origin` header, or undefined when there was none
 * @param host - the `Host` header the request was sent to
 */
export function isOriginAllowed(
  origin: string | undefined,
  host: string,
  policy: OriginPolicy | undefined,
  request: UpgradeRequestContext,
): boolean {
  if (origin === undefined || policy === '*') return true;
  if (isSameOrigin(origin, host)) return true;
  if (policy === undefined) return false;
  if (typeof policy === 'function') return policy(origin, request) === true;
  const lower = origin.toLowerCase();
  for (const entry of policy) {
    if (typeof entry === 'string') {
      if (entry.toLowerCase() === lower) return true;
    } else {
      entry.lastIndex = 0;
      if (entry.test(origin)) return true;
    }
  }
  return false;
}

/**
 * Whether `origin` (scheme://host[:port]) names the same host and port as the `Host`
 * header. Default ports are normalised with the origin's scheme, so `Host: a.com:443`
 * matches `https://a.com`.
 */
export function isSameOrigin(origin: string, host: string): boolean {
  let originUrl: URL;
  try {
    originUrl = new URL(origin);
  } catch {
    return false; // "null" (sandboxed pages, file://) and garbage never match
  }
  if (originUrl.protocol !== 'http:' && originUrl.protocol !== 'https:') return false;
  let hostUrl: URL;
  try {
    hostUrl = new URL(`${originUrl.protocol}//${host}`);
  } catch {
    return false;
  }
  return originUrl.host === hostUrl.host && hostUrl.pathname === '/' && hostUrl.username === '';
}
