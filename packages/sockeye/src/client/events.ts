/**
 * The event classes the client dispatches. `MessageEvent` and `Event` are Node's globals;
 * Node 20 has no `CloseEvent` or `ErrorEvent`, so they are defined here with the shape the
 * HTML standard gives them.
 */

/**
 * The fields of the DOM's `EventInit`, declared here: without the DOM lib (a Node-only
 * `tsconfig`) `EventInit` is not a global type, and these declarations must compile there.
 */
interface EventInitFields {
  bubbles?: boolean;
  cancelable?: boolean;
  composed?: boolean;
}

/** Init dictionary of {@link CloseEvent}. */
export interface CloseEventInit extends EventInitFields {
  /** @defaultValue false */
  wasClean?: boolean;
  /** @defaultValue 0 */
  code?: number;
  /** @defaultValue '' */
  reason?: string;
}

/** The `close` event (WHATWG WebSockets standard, interface CloseEvent). */
export class CloseEvent extends Event {
  readonly #wasClean: boolean;
  readonly #code: number;
  readonly #reason: string;

  constructor(type: string, init: CloseEventInit = {}) {
    super(type, init);
    this.#wasClean = init.wasClean ?? false;
    this.#code = init.code ?? 0;
    this.#reason = init.reason ?? '';
  }

  /** The closing handshake completed. */
  get wasClean(): boolean {
    return this.#wasClean;
  }

  /** The close code. */
  get code(): number {
    return this.#code;
  }

  /** The close reason. */
  get reason(): string {
    return this.#reason;
  }
}

/** Init dictionary of {@link ErrorEvent}. */
export interface ErrorEventInit extends EventInitFields {
  /** @defaultValue '' */
  message?: string;
  /** @defaultValue undefined */
  error?: unknown;
}

/**
 * The `error` event. Browsers fire a plain `Event` and say nothing about the cause; Node
 * code needs it, so this event (a subclass of `Event`, so browser code sees no difference)
 * also carries `message` and `error`.
 */
export class ErrorEvent extends Event {
  readonly #message: string;
  readonly #error: unknown;

  constructor(type: string, init: ErrorEventInit = {}) {
    super(type, init);
    this.#message = init.message ?? '';
    this.#error = init.error;
  }

  /** Why the connection failed, in words. */
  get message(): string {
    return this.#message;
  }

  /** The error object (a `HandshakeError`, `ProtocolError` or socket error). */
  get error(): unknown {
    return this.#error;
  }
}
