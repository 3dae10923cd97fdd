/**
 * The argument checks of the WHATWG WebSockets standard as a table, runnable against any
 * `WebSocket` constructor: sockeye's, or Node's built-in one (in a child process started
 * with `--experimental-websocket`). Each case gives the outcome the standard requires: the
 * DOMException name (or `TypeError`), or `ok`.
 */

/** The subset of the `WebSocket` class these cases use. */
export interface WebSocketLike {
  readonly url: string;
  readonly readyState: number;
  binaryType: string;
  send(data: unknown): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: Event) => void): void;
}

/** A constructor the cases can call. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** One case: its name, what the standard says, and the run (throws or returns a detail). */
export interface ArgumentCase {
  name: string;
  expected: string;
}

/** What the standard requires for each case (name → `ok[:detail]` or the error name). */
export const EXPECTED: Readonly<Record<string, string>> = {
  'url ws': 'ok:ws://HOST/path?q=1',
  'url http becomes ws': 'ok:ws://HOST/',
  'url https becomes wss': 'ok:wss://127.0.0.1:1/',
  'url ftp': 'SyntaxError',
  'url with fragment': 'SyntaxError',
  'url with empty fragment': 'SyntaxError',
  'url relative': 'SyntaxError',
  'url garbage': 'SyntaxError',
  'protocols string': 'ok',
  'protocols array': 'ok',
  'protocols with a space': 'SyntaxError',
  'protocols duplicate': 'SyntaxError',
  'protocols empty string': 'SyntaxError',
  'protocols non-ascii': 'SyntaxError',
  'protocols with a comma': 'SyntaxError',
  'send while connecting': 'InvalidStateError',
  'binaryType invalid ignored': 'ok:blob',
  'binaryType arraybuffer': 'ok:arraybuffer',
  'close 999': 'InvalidAccessError',
  'close 1001': 'InvalidAccessError',
  'close 2999': 'InvalidAccessError',
  'close 5000': 'InvalidAccessError',
  'close 1001 with long reason': 'InvalidAccessError',
  'close reason 124 bytes': 'SyntaxError',
  'close reason 42 euro signs': 'SyntaxError',
  'close 1000 reason 123 bytes': 'ok:2',
  'close 4999': 'ok:2',
  'close 3000': 'ok:2',
  'close without arguments': 'ok:2',
  'readyState constants': 'ok:0,1,2,3',
};

/**
 * Run every case against `WS` with `host` (host:port of a live server that accepts any
 * handshake) and return name → outcome. Sockets opened by valid cases are closed and
 * their close events awaited.
 */
export async function runArgumentCases(
  WS: WebSocketConstructor,
  host: string,
): Promise<Record<string, string>> {
  const opened: WebSocketLike[] = [];
  const make = (url: string, protocols?: string | string[]) => {
    const ws = protocols === undefined ? new WS(url) : new WS(url, protocols);
    opened.push(ws);
    return ws;
  };
  const opens = (url: string, protocols?: string | string[]) => {
    make(url, protocols);
    return '';
  };
  const sends = (url: string) => {
    make(url).send('x');
    return '';
  };
  const cases: Record<string, () => string> = {
    'url ws': () => make(`ws://${host}/path?q=1`).url.replace(host, 'HOST'),
    'url http becomes ws': () => make(`http://${host}/`).url.replace(host, 'HOST'),
    'url https becomes wss': () => make('https://127.0.0.1:1/').url,
    'url ftp': () => make(`ftp://${host}/`).url,
    'url with fragment': () => make(`ws://${host}/#x`).url,
    'url with empty fragment': () => make(`ws://${host}/#`).url,
    'url relative': () => make('/path').url,
    'url garbage': () => make('ws://[not a host/').url,
    'protocols string': () => opens(`ws://${host}/`, 'chat'),
    'protocols array': () => opens(`ws://${host}/`, ['chat', 'superchat']),
    'protocols with a space': () => opens(`ws://${host}/`, 'a b'),
    'protocols duplicate': () => opens(`ws://${host}/`, ['a', 'a']),
    'protocols empty string': () => opens(`ws://${host}/`, ''),
    'protocols non-ascii': () => opens(`ws://${host}/`, 'caf\u00e9'),
    'protocols with a comma': () => opens(`ws://${host}/`, 'a,b'),
    'send while connecting': () => sends(`ws://${host}/`),
    'binaryType invalid ignored': () => {
      const ws = make(`ws://${host}/`);
      ws.binaryType = 'text';
      return ws.binaryType;
    },
    'binaryType arraybuffer': () => {
      const ws = make(`ws://${host}/`);
      ws.binaryType = 'arraybuffer';
      return ws.binaryType;
    },
    'close 999': () => closeWith(make(`ws://${host}/`), 999),
    'close 1001': () => closeWith(make(`ws://${host}/`), 1001),
    'close 2999': () => closeWith(make(`ws://${host}/`), 2999),
    'close 5000': () => closeWith(make(`ws://${host}/`), 5000),
    'close 1001 with long reason': () => closeWith(make(`ws://${host}/`), 1001, 'x'.repeat(200)),
    'close reason 124 bytes': () => closeWith(make(`ws://${host}/`), 1000, 'x'.repeat(124)),
    'close reason 42 euro signs': () => closeWith(make(`ws://${host}/`), 1000, '\u20ac'.repeat(42)),
    'close 1000 reason 123 bytes': () => closeWith(make(`ws://${host}/`), 1000, '\u20ac'.repeat(41)),
    'close 4999': () => closeWith(make(`ws://${host}/`), 4999),
    'close 3000': () => closeWith(make(`ws://${host}/`), 3000),
    'close without arguments': () => closeWith(make(`ws://${host}/`)),
    'readyState constants': () => {
      const C = WS as unknown as Record<string, number>;
      return [C.CONNECTING, C.OPEN, C.CLOSING, C.CLOSED].join(',');
    },
  };
  const results: Record<string, string> = {};
  for (const [name, run] of Object.entries(cases)) {
    try {
      const detail = run();
      results[name] = detail === '' ? 'ok' : `ok:${detail}`;
    } catch (error) {
      results[name] = (error as Error).name;
    }
  }
  await Promise.all(
    opened.map(
      (ws) =>
        new Promise<void>((resolve) => {
          // Bounded: Node 20's built-in client never fires close for some failed connections.
          setTimeout(resolve, 3000);
          if (ws.readyState === 3) resolve();
          ws.addEventListener('close', () => resolve());
          try {
            ws.close();
          } catch {
            resolve();
          }
        }),
    ),
  );
  return results;
}

function closeWith(ws: WebSocketLike, ...args: [number?, string?]): string {
  ws.close(...args);
  return String(ws.readyState);
}

/** Event sequences the standard requires (name → events joined with spaces). */
export const EXPECTED_EVENTS: Readonly<Record<string, string>> = {
  'events: normal close': 'open(1) message(echo) close(3,1000,true)',
  'events: close() while connecting': 'error(3) close(3,1006,false)',
  'events: connection refused': 'error(3) close(3,1006,false)',
  'events: server resets after a message': 'open(1) message(hello) close(3,1006,false)',
  'events: wrong Sec-WebSocket-Accept': 'error(3) close(3,1006,false)',
};

/** Misbehaving servers for {@link runEventCases} (URLs). */
export interface EventCaseServers {
  /** Nothing listens here. */
  refused: string;
  /** Sends the text message `hello` after the handshake and resets TCP when the client sends anything. */
  resetting: string;
  /** Answers 101 with a wrong `Sec-WebSocket-Accept`. */
  badAccept: string;
}

/**
 * Record the events of five connections: an echo and a normal close against `host`, a
 * `close()` while connecting, a refused connection, a server that resets TCP, and a wrong
 * accept value. Each waits at most 3 s for its close event (a missing one shows as `no-close`).
 */
export async function runEventCases(
  WS: WebSocketConstructor,
  host: string,
  servers: EventCaseServers,
): Promise<Record<string, string>> {
  const watch = (ws: WebSocketLike, onOpen?: () => void) =>
    new Promise<string>((resolve) => {
      const events: string[] = [];
      const timer = setTimeout(() => resolve([...events, 'no-close'].join(' ')), 3000);
      ws.addEventListener('open', () => {
        events.push(`open(${ws.readyState})`);
        onOpen?.();
      });
      ws.addEventListener('message', (event) => {
        events.push(`message(${String((event as MessageEvent).data)})`);
        ws.close(1000);
      });
      ws.addEventListener('error', () => events.push(`error(${ws.readyState})`));
      ws.addEventListener('close', (event) => {
        const close = event as Event & { code: number; wasClean: boolean };
        events.push(`close(${ws.readyState},${close.code},${close.wasClean})`);
        clearTimeout(timer);
        resolve(events.join(' '));
      });
    });
  const normal = new WS(`ws://${host}/`);
  const connecting = new WS(`ws://${host}/`);
  const refused = new WS(servers.refused);
  const resetting = new WS(servers.resetting);
  const badAccept = new WS(servers.badAccept);
  const results = await Promise.all([
    watch(normal, () => normal.send('echo')),
    (() => {
      const events = watch(connecting);
      connecting.close();
      return events;
    })(),
    watch(refused),
    watch(resetting),
    watch(badAccept),
  ]);
  return {
    'events: normal close': results[0] ?? '',
    'events: close() while connecting': results[1] ?? '',
    'events: connection refused': results[2] ?? '',
    'events: server resets after a message': results[3] ?? '',
    'events: wrong Sec-WebSocket-Accept': results[4] ?? '',
  };
}
