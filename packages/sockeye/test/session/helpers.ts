/** Helpers for session tests: a session server on loopback, a reconnecting client, waiting for things. */
import {
  ReconnectingWebSocket,
  type ReconnectingWebSocketOptions,
  SessionServer,
  type SessionSettings,
  type SessionUrl,
  type StandaloneServerOptions,
  WebSocket,
  type WebSocketConstructor,
} from '../../src/index.js';

/** sockeye's own WHATWG client, as the reconnecting client's constructor. */
export const NodeWebSocket = WebSocket as unknown as WebSocketConstructor;

/** A session server on an ephemeral loopback port. */
export async function listenSessions<Data = undefined>(
  options: SessionSettings<Data> & Partial<Omit<StandaloneServerOptions<Data>, 'port' | 'host' | 'handlers'>>,
): Promise<{ server: SessionServer<Data>; port: number; url: string }> {
  const server = new SessionServer<Data>({ pingInterval: 0, ...options, port: 0, host: '127.0.0.1' });
  const address = await server.listen();
  const port = address!.port;
  return { server, port, url: `ws://127.0.0.1:${port}` };
}

/** A reconnecting client on sockeye's WebSocket, with no lifecycle listeners and quick retries. */
export function client(url: SessionUrl, options: ReconnectingWebSocketOptions = {}): ReconnectingWebSocket {
  return new ReconnectingWebSocket(url, {
    WebSocket: NodeWebSocket,
    minDelay: 20,
    maxDelay: 200,
    lifecycle: false,
    ...options,
  });
}

/** Poll `condition` every 5 ms until it holds; reject after `timeoutMs` (a hang guard, not a measurement). */
export async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The next event `type` from `target`. */
export function next<E extends Event = Event>(target: EventTarget, type: string): Promise<E> {
  return new Promise((resolve) =>
    target.addEventListener(type, (event) => resolve(event as E), { once: true }),
  );
}
