/**
 * The demo's pages: plain HTTP GET and HEAD of the files in the built `dist/public/`
 * directory (nothing outside it), with a content type, and 404/405 for everything else.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { requestUrl } from './request-url.js';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/**
 * The file under `publicDir` that `pathname` names (`/` is `index.html`), or null when
 * the path leaves the directory or is not a plain name.
 */
export function resolvePublicPath(publicDir: string, pathname: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  const relative = decoded === '/' ? 'index.html' : decoded.replace(/^\/+/, '');
  const root = resolve(publicDir);
  const file = resolve(join(root, relative));
  return file.startsWith(root + sep) ? file : null;
}

/** A request handler serving the files of `publicDir`. */
export function serveStatic(publicDir: string): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    const fail = (status: number, text: string, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
      response.end(`${text}\n`);
    };
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      fail(405, 'method not allowed', { Allow: 'GET, HEAD' });
      return;
    }
    const url = requestUrl(request);
    if (url === null) {
      fail(400, 'bad request target');
      return;
    }
    const file = resolvePublicPath(publicDir, url.pathname);
    if (file === null) {
      fail(404, 'not found');
      return;
    }
    readFile(file).then(
      (body) => {
        response.writeHead(200, {
          'Content-Type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
          'Content-Length': body.length,
          'Cache-Control': 'no-cache',
          'X-Content-Type-Options': 'nosniff',
        });
        response.end(request.method === 'HEAD' ? undefined : body);
      },
      () => fail(404, 'not found'),
    );
  };
}
