import { isFieldValue, isToken } from '../protocol/http.js';
import {
  checkBoolean,
  checkFunction,
  checkInteger,
  checkMaxPayload,
  checkObject,
  checkString,
  MAX_TIMEOUT_MS,
} from '../protocol/validate.js';
import type { WebSocketServerOptions } from './types.js';

const HANDLER_NAMES = ['open', 'message', 'ping', 'pong', 'drain', 'close', 'error'] as const;

/**
 * Check every option of a {@link WebSocketServerOptions}, as the server's constructor
 * does, once: a value that cannot work is refused here, naming the option, rather than
 * failing later (every message closing with 1009, a server listening on a UNIX socket
 * named after a mistyped port).
 * @throws TypeError for a value of the wrong type or a wrong combination of modes;
 * RangeError for a number out of range
 */
export function checkServerOptions<Data>(options: WebSocketServerOptions<Data>): void {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('WebSocketServer needs an options object');
  }
  // The types say so already; plain JavaScript callers get the same answer.
  const loose = options as unknown as Partial<Record<string, unknown>>;
  const modes =
    Number(loose.port !== undefined) +
    Number(loose.server !== undefined) +
    Number(loose.noServer !== undefined);
  if (modes !== 1) throw new TypeError('give exactly one of port, server and noServer');
  if (loose.noServer !== undefined && loose.noServer !== true) {
    throw new TypeError(`noServer must be true when given, not ${String(loose.noServer)}`);
  }
  checkInteger('port', loose.port, 0, 65535);
  checkString('host', loose.host);
  checkObject('tls', loose.tls);
  if (loose.port === undefined) {
    if (loose.host !== undefined) throw new TypeError('the host option is for standalone mode (port)');
    if (loose.tls !== undefined) {
      throw new TypeError('the tls option is for standalone mode (port); attach to an https server instead');
    }
  }
  if (loose.server !== undefined) {
    const server = loose.server as { on?: unknown } | null;
    if (typeof server !== 'object' || server === null || typeof server.on !== 'function') {
      throw new TypeError('server must be an http.Server or https.Server');
    }
  }

  if (typeof options.handlers !== 'object' || options.handlers === null) {
    throw new TypeError('handlers must be an object of handler functions');
  }
  for (const name of HANDLER_NAMES) checkFunction(`handlers.${name}`, options.handlers[name]);

  checkString('path', options.path);
  if (options.path !== undefined && !options.path.startsWith('/')) {
    throw new TypeError(`path must start with "/", not ${JSON.stringify(options.path)}`);
  }
  checkFunction('authenticate', options.authenticate);
  checkFunction('selectProtocol', options.selectProtocol);
  const origins = options.origins as unknown;
  if (origins !== undefined && origins !== '*' && typeof origins !== 'function') {
    if (!Array.isArray(origins)) throw new TypeError("origins must be '*', an array or a function");
    for (const origin of origins) {
      if (typeof origin !== 'string' && !(origin instanceof RegExp)) {
        throw new TypeError('origins must hold strings and regular expressions');
      }
    }
  }

  checkBoolean('decodeText', options.decodeText);
  // Text delivered as a string must fit in one: a longer limit would let a message in
  // that throws ERR_STRING_TOO_LONG when it is decoded.
  checkMaxPayload('maxPayload', options.maxPayload, options.decodeText ?? true);
  checkInteger('maxFragments', options.maxFragments, 1, Number.MAX_SAFE_INTEGER);
  checkInteger('handshakeTimeout', options.handshakeTimeout, 1, MAX_TIMEOUT_MS);
  checkInteger('maxHandshakeBytes', options.maxHandshakeBytes, 1, Number.MAX_SAFE_INTEGER);
  checkInteger('maxHandshakeHeaders', options.maxHandshakeHeaders, 1, Number.MAX_SAFE_INTEGER);
  checkInteger('closeTimeout', options.closeTimeout, 1, MAX_TIMEOUT_MS);
  checkInteger('pingInterval', options.pingInterval, 0, MAX_TIMEOUT_MS);
  checkInteger('pongTimeout', options.pongTimeout, 1, MAX_TIMEOUT_MS);
  checkInteger('maxBufferedBytes', options.maxBufferedBytes, 1, Number.MAX_SAFE_INTEGER);
  checkInteger('highWaterMark', options.highWaterMark, 0, Number.MAX_SAFE_INTEGER);
  checkBoolean('closeOnBackpressureLimit', options.closeOnBackpressureLimit);
  const deflate = options.perMessageDeflate as unknown;
  if (deflate !== undefined && typeof deflate !== 'boolean') checkObject('perMessageDeflate', deflate);
  if (options.broker !== undefined) {
    const broker = options.broker as unknown as Partial<Record<string, unknown>> | null;
    for (const method of ['attach', 'subscribe', 'unsubscribe', 'publish', 'close'] as const) {
      if (typeof broker !== 'object' || broker === null || typeof broker[method] !== 'function') {
        throw new TypeError(`broker must implement Broker (its ${method} method is missing)`);
      }
    }
  }
  checkObject('topics', options.topics);
  checkInteger('topics.maxTopicLength', options.topics?.maxTopicLength, 1, Number.MAX_SAFE_INTEGER);
  checkInteger(
    'topics.maxTopicsPerSubscriber',
    options.topics?.maxTopicsPerSubscriber,
    1,
    Number.MAX_SAFE_INTEGER,
  );
  checkObject('headers', options.headers);
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (!isToken(name)) throw new TypeError(`headers: invalid header name ${JSON.stringify(name)}`);
    if (typeof value !== 'string' || !isFieldValue(value)) {
      throw new TypeError(`headers: invalid value for ${name} (a string without CR, LF or NUL)`);
    }
  }
  checkFunction('wiretap', options.wiretap);
}
