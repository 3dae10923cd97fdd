import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { HandshakeError } from '../protocol/errors.js';
import { buildRequest, type ExtensionOffer, generateKey, validateResponse } from '../protocol/handshake.js';
import { HttpHeadParser, type ResponseHead } from '../protocol/http.js';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_MAX_HANDSHAKE_BYTES } from '../protocol/limits.js';
import {
  PERMESSAGE_DEFLATE,
  PerMessageDeflate,
  type PerMessageDeflateExtension,
} from '../protocol/permessage-deflate.js';
import type { ClientOptions } from './options.js';

/** Redirects followed when `followRedirects` is `true`. */
export const DEFAULT_MAX_REDIRECTS = 10;

/** A completed opening handshake. */
export interface OpenedSocket {
  /** The socket (TLS when wss), switched to the WebSocket protocol. */
  socket: Socket;
  /** Bytes that arrived after the response head (the first frames, maybe). */
  rest: Buffer;
  /** The subprotocol the server selected, or `''`. */
  protocol: string;
  /** The extensions the server accepted. */
  extensions: ExtensionOffer[];
  /** The negotiated permessage-deflate codec for the connection, or null when none was agreed. */
  deflate: PerMessageDeflateExtension | null;
  /** The URL finally connected to (after redirects). */
  url: URL;
  /** The upgrade request head as sent to that URL (for tools that show the handshake). */
  request: string;
  /** The server's `101` response head. */
  response: ResponseHead;
}

/**
 * The permessage-deflate configuration for a client's `perMessageDeflate` option, or null
 * when it is `false` or when zlib cannot be driven in this process (nothing is offered
 * then). Each client owns its configuration and, unless the options bring a `pool` to
 * share, its own pool of reset zlib streams (whose 64 KiB scratch buffer is allocated on
 * the first compressed message).
 * @throws RangeError on an option out of range
 */
export function clientDeflate(option: ClientOptions['perMessageDeflate']): PerMessageDeflate | null {
  if (option === false) return null;
  const deflate = new PerMessageDeflate(typeof option === 'object' ? option : {});
  return deflate.driver === null ? null : deflate;
}

/** Something that can cancel a handshake in progress. */
export interface HandshakeHandle {
  /** The outcome. */
  result: Promise<OpenedSocket>;
  /** Stop now: destroy the socket and reject `result` with `error`. */
  cancel(error: Error): void;
}

/**
 * Open a WebSocket connection to `url` (ws: or wss:): TCP (through an HTTP CONNECT proxy
 * when one applies), TLS for wss, the upgrade request, and the response checked with the
 * core's bounded head parser and `validateResponse`. Everything is bounded by
 * `handshakeTimeout`. Offers permessage-deflate unless `perMessageDeflate` is false and
 * checks the answer. Rejects with a {@link HandshakeError} (status 0 when the server never
 * answered with an HTTP status, or answered with extensions we cannot accept) or the
 * socket's error.
 * @throws RangeError (synchronously) when a `perMessageDeflate` option is out of range
 */
export function openHandshake(
  url: URL,
  protocols: readonly string[],
  options: ClientOptions,
): HandshakeHandle {
  const deflate = clientDeflate(options.perMessageDeflate);
  let socket: Socket | null = null;
  let settled = false;
  let rejectResult!: (error: Error) => void;
  const timeoutMs = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  const maxRedirects =
    options.followRedirects === true
      ? DEFAULT_MAX_REDIRECTS
      : typeof options.followRedirects === 'number'
        ? options.followRedirects
        : 0;

  const result = new Promise<OpenedSocket>((resolve, reject) => {
    rejectResult = reject;
    const attempt = async () => {
      let target = url;
      let headers = options.headers;
      for (let redirects = 0; ; redirects++) {
        const outcome = await handshakeOnce(target, protocols, options, headers, deflate, (s) => {
          socket = s;
        });
        if ('socket' in outcome) return outcome;
        if (redirects >= maxRedirects) {
          throw maxRedirects === 0
            ? new HandshakeError(
                outcome.status,
                `Unexpected server response: ${outcome.status} (redirect to ${outcome.location} not followed)`,
                {},
                'redirect-not-followed',
              )
            : new HandshakeError(
                outcome.status,
                `Too many redirects (more than ${maxRedirects})`,
                {},
                'too-many-redirects',
              );
        }
        const next = redirectTarget(target, outcome.location, outcome.status);
        // As fetch does: credentials meant for one origin never follow a redirect to
        // another, and once dropped they stay dropped for the hops after.
        if (next.origin !== target.origin) headers = withoutCredentials(headers);
        target = next;
      }
    };
    attempt().then(
      (opened) => {
        if (settled) {
          opened.socket.destroy();
          return;
        }
        settled = true;
        resolve(opened);
      },
      (error: Error) => {
        if (settled) return;
        settled = true;
        socket?.destroy();
        reject(error);
      },
    );
  });

  const cancel = (error: Error) => {
    if (settled) return;
    settled = true;
    socket?.destroy();
    rejectResult(error);
  };
  const timer = setTimeout(
    () =>
      cancel(new HandshakeError(0, `Opening handshake has timed out after ${timeoutMs} ms`, {}, 'timeout')),
    timeoutMs,
  );
  const signal = options.signal;
  const onAbort = () => cancel(new HandshakeError(0, 'Opening handshake was aborted', {}, 'aborted'));
  if (signal?.aborted) queueMicrotask(onAbort);
  else signal?.addEventListener('abort', onAbort, { once: true });
  const cleanup = () => {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  };
  result.then(cleanup, cleanup);
  return { result, cancel };
}

interface Redirect {
  status: number;
  location: string;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * Request headers that carry credentials: dropped on a redirect to another origin, as
 * fetch (and `ws`) do, so that a redirect cannot send them to a host they were not meant
 * for. A user's `Host` goes too (as in `ws`): it names the first host, not the next.
 */
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization', 'host']);

/** `headers` without the credential headers (names compared case-insensitively). */
function withoutCredentials(
  headers: Readonly<Record<string, string>> | undefined,
): Readonly<Record<string, string>> | undefined {
  if (headers === undefined) return undefined;
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!CREDENTIAL_HEADERS.has(name.toLowerCase())) kept[name] = value;
  }
  return kept;
}

/**
 * The user's `Host` header (the last one, names compared case-insensitively) and the other
 * headers: the request's Host is theirs then, sent once.
 */
function takeHost(
  headers: Readonly<Record<string, string>> | undefined,
): [string | undefined, Readonly<Record<string, string>> | undefined] {
  if (headers === undefined) return [undefined, undefined];
  let host: string | undefined;
  const others: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === 'host') host = value;
    else others[name] = value;
  }
  return host === undefined ? [undefined, headers] : [host, others];
}

/**
 * Resolve a `Location` against the URL that answered it, mapping http(s) to ws(s).
 * @throws {@link HandshakeError} for an invalid location, a scheme other than ws(s) or
 * http(s), or a redirect from `wss:` to `ws:` (code `insecure-redirect`: it would send the
 * request in clear)
 */
function redirectTarget(from: URL, location: string, status: number): URL {
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    throw new HandshakeError(status, `Invalid redirect location: ${location}`);
  }
  if (next.protocol === 'http:') next.protocol = 'ws:';
  else if (next.protocol === 'https:') next.protocol = 'wss:';
  if (next.protocol !== 'ws:' && next.protocol !== 'wss:') {
    throw new HandshakeError(status, `Redirect to an unsupported scheme: ${location}`);
  }
  if (from.protocol === 'wss:' && next.protocol === 'ws:') {
    throw new HandshakeError(
      status,
      `Redirect from wss: to ws: refused (${next.href}): it would send the request in clear`,
      {},
      'insecure-redirect',
    );
  }
  next.hash = '';
  return next;
}

/** One connection attempt: a socket upgraded, or the redirect the server answered with. */
async function handshakeOnce(
  url: URL,
  protocols: readonly string[],
  options: ClientOptions,
  headers: Readonly<Record<string, string>> | undefined,
  deflate: PerMessageDeflate | null,
  track: (socket: Socket) => void,
): Promise<OpenedSocket | Redirect> {
  const secure = url.protocol === 'wss:';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = Number(url.port) || (secure ? 443 : 80);
  const proxy = resolveProxy(url, options.proxy);
  let socket: Socket;
  if (proxy !== null) {
    const proxyPort = Number(proxy.port) || (proxy.protocol === 'https:' ? 443 : 80);
    socket = await connected(netConnect({ host: unbracket(proxy.hostname), port: proxyPort }), track);
    await proxyConnect(socket, proxy, host, port, options);
  } else {
    socket = secure
      ? tlsSocket(undefined, host, port, options, track)
      : await connected(netConnect({ host, port }), track);
  }
  if (secure && proxy !== null) socket = tlsSocket(socket, host, port, options, track);
  if (secure) await secureConnected(socket);
  socket.setNoDelay(true);

  const key = generateKey();
  const defaultPort = secure ? 443 : 80;
  // A Host among the user's headers replaces ours (as in ws): a request has exactly one.
  const [userHost, otherHeaders] = takeHost(headers);
  const hostHeader = userHost ?? (port === defaultPort ? url.hostname : `${url.hostname}:${port}`);
  const request = buildRequest({
    host: hostHeader,
    path: `${url.pathname || '/'}${url.search}`,
    key,
    protocols,
    origin: options.origin,
    headers: otherHeaders,
    extensions: deflate?.offer(),
  });
  socket.write(request);
  const { head, rest } = await readHead(
    socket,
    options.maxHandshakeBytes ?? DEFAULT_MAX_HANDSHAKE_BYTES,
    'server',
  );
  const location = head.headers.location;
  if (REDIRECT_STATUSES.has(head.statusCode) && location !== undefined) {
    socket.destroy();
    return { status: head.statusCode, location };
  }
  const accepted = validateResponse(head, {
    key,
    protocols: [...protocols],
    extensions: deflate === null ? [] : [PERMESSAGE_DEFLATE],
  });
  // A response we did not offer or cannot honour throws a HandshakeError: the caller
  // destroys the socket and the connection fails (RFC 6455 section 4.1, RFC 7692 section 5).
  const extension = deflate === null ? null : deflate.accept(accepted.extensions);
  return {
    socket,
    rest,
    protocol: accepted.protocol,
    extensions: accepted.extensions,
    deflate: extension,
    url,
    request,
    response: head,
  };
}

function unbracket(hostname: string): string {
  return hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
}

function tlsSocket(
  over: Socket | undefined,
  host: string,
  port: number,
  options: ClientOptions,
  track: (socket: Socket) => void,
): Socket {
  const servername = options.servername ?? (isIp(host) ? undefined : host);
  const socket = tlsConnect({
    ...(over === undefined ? { host, port } : { socket: over }),
    ...(servername === undefined ? {} : { servername }),
    ALPNProtocols: ['http/1.1'],
    ca: options.ca,
    cert: options.cert,
    key: options.key,
    pfx: options.pfx,
    passphrase: options.passphrase,
    rejectUnauthorized: options.rejectUnauthorized ?? true,
  });
  track(socket);
  return socket;
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

function connected(socket: Socket, track: (socket: Socket) => void): Promise<Socket> {
  track(socket);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/**
 * What OpenSSL reports when the bytes where a TLS record should be are not TLS
 * (an HTTP answer, say): the server did not speak TLS.
 */
const NOT_TLS_ERRORS = new Set([
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'ERR_SSL_UNKNOWN_PROTOCOL',
  'ERR_SSL_RECORD_LAYER_FAILURE',
  'ERR_SSL_HTTP_REQUEST',
]);

/**
 * Wait for the TLS handshake. A server that answers the ClientHello with something that
 * is not TLS (a plain `ws:` server's 400) fails with a {@link HandshakeError} coded
 * `not-tls` that says so, rather than OpenSSL's "wrong version number".
 */
function secureConnected(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error & { code?: string }) => {
      if (error.code !== undefined && NOT_TLS_ERRORS.has(error.code)) {
        reject(
          new HandshakeError(
            0,
            `The server did not speak TLS (is it a ws: endpoint rather than wss:?): ${error.code}`,
            {},
            'not-tls',
          ),
        );
      } else {
        reject(error);
      }
    };
    socket.once('secureConnect', () => {
      socket.off('error', onError);
      resolve();
    });
    socket.once('error', onError);
  });
}

/** TLS record types a server may answer a plain request with: an alert (0x15) or a handshake (0x16). */
function looksLikeTls(chunk: Buffer): boolean {
  return (chunk[0] === 0x15 || chunk[0] === 0x16) && chunk[1] === 0x03;
}

/** Read one HTTP response head, bounded by `maxBytes`; stops reading (pauses) once it is complete. */
function readHead(
  socket: Socket,
  maxBytes: number,
  who: string,
): Promise<{ head: ResponseHead; rest: Buffer }> {
  const parser = new HttpHeadParser<ResponseHead>('response', { maxBytes });
  return new Promise((resolve, reject) => {
    const done = () => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('end', onEnd);
    };
    const onData = (chunk: Buffer) => {
      if (parser.bytesReceived === 0 && looksLikeTls(chunk)) {
        done();
        reject(
          new HandshakeError(
            0,
            `The ${who} answered in TLS (is it a wss: endpoint rather than ws:?)`,
            {},
            'tls-expected',
          ),
        );
        return;
      }
      let parsed: ReturnType<typeof parser.push>;
      try {
        parsed = parser.push(chunk);
      } catch (error) {
        done();
        const status = error instanceof HandshakeError ? error.status : 0;
        reject(
          new HandshakeError(
            0,
            status === 431
              ? `The ${who} response head is larger than ${maxBytes} bytes`
              : `Invalid ${who} response: ${(error as Error).message}`,
          ),
        );
        return;
      }
      if (parsed === null) return;
      done();
      socket.pause();
      resolve(parsed);
    };
    const onError = (error: Error) => {
      done();
      reject(error);
    };
    const onEnd = () => {
      done();
      reject(new HandshakeError(0, `The ${who} closed the connection before answering`));
    };
    socket.on('data', onData);
    socket.once('error', onError);
    socket.once('end', onEnd);
    socket.resume();
  });
}

/** Ask an HTTP proxy for a tunnel to host:port (RFC 9110 section 9.3.6). */
async function proxyConnect(
  socket: Socket,
  proxy: URL,
  host: string,
  port: number,
  options: ClientOptions,
): Promise<void> {
  const authority = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  let request = `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n`;
  if (proxy.username !== '' || proxy.password !== '') {
    const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
    request += `Proxy-Authorization: Basic ${Buffer.from(credentials).toString('base64')}\r\n`;
  }
  socket.write(`${request}\r\n`);
  const { head, rest } = await readHead(
    socket,
    options.maxHandshakeBytes ?? DEFAULT_MAX_HANDSHAKE_BYTES,
    'proxy',
  );
  if (head.statusCode < 200 || head.statusCode > 299) {
    throw new HandshakeError(
      head.statusCode,
      `Proxy refused the tunnel: ${head.statusCode} ${head.statusMessage}`,
    );
  }
  if (rest.length > 0) socket.unshift(rest);
}

/**
 * The proxy to use for `url`: the explicit option, else `HTTPS_PROXY` (wss) or
 * `HTTP_PROXY` (ws) from the environment (upper or lower case) unless `NO_PROXY` matches.
 */
export function resolveProxy(
  url: URL,
  option: string | false | undefined,
  env: NodeJS.ProcessEnv = process.env,
): URL | null {
  if (option === false) return null;
  let value = option;
  if (value === undefined) {
    value =
      url.protocol === 'wss:' ? (env.HTTPS_PROXY ?? env.https_proxy) : (env.HTTP_PROXY ?? env.http_proxy);
    if (value === undefined || value === '') return null;
    if (noProxyMatches(url, env.NO_PROXY ?? env.no_proxy ?? '')) return null;
  }
  const proxy = new URL(value.includes('://') ? value : `http://${value}`);
  if (proxy.protocol !== 'http:') {
    throw new HandshakeError(0, `Unsupported proxy scheme ${proxy.protocol} (only http: CONNECT proxies)`);
  }
  return proxy;
}

/**
 * `NO_PROXY` as curl reads it: `*` matches everything; otherwise a comma or space
 * separated list of hosts (optionally `:port`), each matching that host and its
 * subdomains (a leading `.` or `*.` is ignored).
 */
export function noProxyMatches(url: URL, noProxy: string): boolean {
  const host = unbracket(url.hostname).toLowerCase();
  const port = url.port || (url.protocol === 'wss:' ? '443' : '80');
  for (const raw of noProxy.split(/[\s,]+/)) {
    let entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return true;
    let entryPort = '';
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    if (bracketed !== null) {
      entry = bracketed[1] ?? '';
      entryPort = bracketed[2] ?? '';
    } else {
      const colon = entry.lastIndexOf(':');
      if (colon !== -1 && entry.indexOf(':') === colon) {
        entryPort = entry.slice(colon + 1);
        entry = entry.slice(0, colon);
      }
    }
    if (entryPort !== '' && entryPort !== port) continue;
    entry = entry.replace(/^\*?\./, '');
    if (host === entry || host.endsWith(`.${entry}`)) return true;
  }
  return false;
}
