/**
 * A consumer's code, type-checked by types.test.ts with `lib: ["es2023"]` (no DOM lib)
 * and `strict`, against the built declarations of the `@sockeye/sockeye` package: the documented
 * event properties compile with their types, and misuse does not compile.
 */
import {
  type CloseEvent,
  type ErrorEvent,
  EventSourceEndpoint,
  ServerSession,
  ServerWebSocket,
  type WebSocket,
  WebSocketServer,
  type WebSocketServerOptions,
} from '@sockeye/sockeye';

export function handlers(ws: WebSocket): void {
  ws.onopen = (event) => {
    const type: string = event.type;
    void type;
  };
  ws.onmessage = (event) => {
    const data: unknown = event.data;
    if (typeof event.data === 'string') event.data.toUpperCase();
    void data;
  };
  ws.onclose = (event) => {
    const code: number = event.code;
    const reason: string = event.reason;
    const clean: boolean = event.wasClean;
    void [code, reason, clean];
  };
  ws.onerror = (event) => {
    const message: string = event.message;
    const cause: unknown = event.error;
    void [message, cause];
  };
  ws.onmessage = null;
}

export function listeners(ws: WebSocket): void {
  ws.addEventListener('message', (event) => {
    if (event.data instanceof ArrayBuffer) void event.data.byteLength;
  });
  ws.addEventListener('close', (event) => {
    const closed: CloseEvent = event;
    void closed.wasClean;
  });
  ws.addEventListener('error', (event) => {
    const failed: ErrorEvent = event;
    void failed.error;
  });
  ws.addEventListener('open', function (this: WebSocket) {
    this.send('hello');
  });
  ws.addEventListener('open', () => {}, { once: true });
  // Any other event type still takes a plain listener, as on any EventTarget.
  ws.addEventListener('custom', (event) => void event.type);
  const onClose = (event: CloseEvent) => void event.code;
  ws.addEventListener('close', onClose);
  ws.removeEventListener('close', onClose);

  // @ts-expect-error: an open event carries no data
  ws.addEventListener('open', (event) => event.data);
  // @ts-expect-error: a message event has no close code
  ws.onmessage = (event) => event.code;
}

export function servers(): WebSocketServerOptions<undefined>[] {
  // @ts-expect-error: a server needs exactly one of port, server and noServer
  const none: WebSocketServerOptions<undefined> = { handlers: {} };
  // @ts-expect-error: two modes
  const two: WebSocketServerOptions<undefined> = { port: 0, noServer: true, handlers: {} };
  const server = new WebSocketServer({ noServer: true, handlers: { message: (ws, data) => ws.send(data) } });
  void server.close();
  return [none, two];
}

export function madeByTheLibrary(): unknown[] {
  return [
    // @ts-expect-error: a server makes its connections; an application cannot construct one
    new ServerWebSocket(),
    // @ts-expect-error: a session server makes its sessions
    new ServerSession(),
    // @ts-expect-error: WebSocketServer.eventSource() makes the endpoint
    new EventSourceEndpoint(),
  ];
}
