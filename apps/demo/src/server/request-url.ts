/**
 * A request's target as a URL, or null when it is not one. Node's HTTP parser passes on
 * targets that `new URL` refuses (`GET http://[ HTTP/1.1`), and a `TypeError` thrown in a
 * `request` or `upgrade` listener would end the process.
 */
import type { IncomingMessage } from 'node:http';

/** The request target resolved against `http://localhost`, or null when it is not a URL. */
export function requestUrl(request: IncomingMessage): URL | null {
  try {
    return new URL(request.url ?? '/', 'http://localhost');
  } catch {
    return null;
  }
}
