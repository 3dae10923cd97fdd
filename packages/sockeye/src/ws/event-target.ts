/**
 * `ws`'s own flavour of `addEventListener`: the socket stays a Node `EventEmitter`, and
 * `addEventListener` wraps a listener so that it receives an event object (`MessageEvent`,
 * `CloseEvent`, `ErrorEvent`, `Event`) instead of the emitter's arguments. Only `open`,
 * `message`, `close` and `error` can be listened to this way; the same listener is added
 * once; `{ once: true }` is honoured; an object with `handleEvent` works as a listener.
 */

/** A listener as `addEventListener` takes it: a function or an object with `handleEvent`. */
export type EventListenerLike<E> = ((event: E) => void) | { handleEvent(event: E): void };

/** The base event: its `type` and its `target` (the socket). */
export class WsEvent<Target = unknown> {
  /** The socket the event fired on (set when it is dispatched). */
  target: Target | null = null;
  /** @param type - the event's name */
  constructor(readonly type: string) {}
}

/** A message: `data` is a `string` for text, and what `binaryType` asks for when binary. */
export class WsMessageEvent<Target = unknown> extends WsEvent<Target> {
  /** @param data - the message */
  constructor(readonly data: unknown) {
    super('message');
  }
}

/** The connection closed. */
export class WsCloseEvent<Target = unknown> extends WsEvent<Target> {
  /**
   * @param code - the close code (1005: the close frame had none; 1006: no close frame)
   * @param reason - the close reason, decoded as UTF-8
   * @param wasClean - both close frames were exchanged
   */
  constructor(
    readonly code: number,
    readonly reason: string,
    readonly wasClean: boolean,
  ) {
    super('close');
  }
}

/** An error (see the `error` event). */
export class WsErrorEvent<Target = unknown> extends WsEvent<Target> {
  /** The error's message. */
  readonly message: string;
  /** @param error - the error */
  constructor(readonly error: Error) {
    super('error');
    this.message = error.message;
  }
}

/** The event types `addEventListener` knows. */
export type WsEventType = 'open' | 'message' | 'close' | 'error';

/** The wrapped listener remembers what it wraps, and whether it is the `onX` attribute's. */
export const kListener = Symbol('sockeye.ws.listener');
/** @internal */
export const kForOnEventAttribute = Symbol('sockeye.ws.onEventAttribute');

/** A wrapper as registered on the emitter. */
export type WrappedListener = ((...args: never[]) => void) & {
  [kListener]?: unknown;
  /** @internal */
  [kForOnEventAttribute]?: boolean;
};

/** What the wrappers need from the socket. */
export interface EventSource {
  listeners(type: string): ((...args: never[]) => unknown)[];
  on(type: string, listener: (...args: never[]) => void): unknown;
  once(type: string, listener: (...args: never[]) => void): unknown;
  removeListener(type: string, listener: (...args: never[]) => void): unknown;
  /** Whether both close frames went through (for `CloseEvent.wasClean`). @internal */
  readonly _wasClean: boolean;
}

function callListener<E>(listener: EventListenerLike<E>, target: unknown, event: E): void {
  if (typeof listener === 'function') listener.call(target, event);
  else listener.handleEvent(event);
}

/**
 * Add `handler` for `type` as `ws` does (see the module comment). Unknown types are
 * ignored; a handler already added (not as the `onX` attribute) is not added again.
 * @internal
 */
export function addEventListenerTo<E>(
  source: EventSource,
  type: string,
  handler: EventListenerLike<E>,
  options: { once?: boolean; [kForOnEventAttribute]?: boolean } = {},
): void {
  const forAttribute = options[kForOnEventAttribute] === true;
  for (const listener of source.listeners(type) as WrappedListener[]) {
    if (!forAttribute && listener[kListener] === handler && listener[kForOnEventAttribute] !== true) return;
  }
  let wrapper: WrappedListener;
  switch (type) {
    case 'message':
      wrapper = function onMessage(this: unknown, data: Buffer, isBinary: boolean) {
        const event = new WsMessageEvent(isBinary ? data : data.toString());
        event.target = this;
        callListener(handler as EventListenerLike<unknown>, this, event);
      };
      break;
    case 'close':
      wrapper = function onClose(this: EventSource, code: number, reason: Buffer) {
        const event = new WsCloseEvent(code, reason.toString(), this._wasClean);
        event.target = this;
        callListener(handler as EventListenerLike<unknown>, this, event);
      };
      break;
    case 'error':
      wrapper = function onError(this: unknown, error: Error) {
        const event = new WsErrorEvent(error);
        event.target = this;
        callListener(handler as EventListenerLike<unknown>, this, event);
      };
      break;
    case 'open':
      wrapper = function onOpen(this: unknown) {
        const event = new WsEvent('open');
        event.target = this;
        callListener(handler as EventListenerLike<unknown>, this, event);
      };
      break;
    default:
      return;
  }
  wrapper[kForOnEventAttribute] = forAttribute;
  wrapper[kListener] = handler;
  if (options.once === true) source.once(type, wrapper);
  else source.on(type, wrapper);
}

/** Remove a handler added with {@link addEventListenerTo} (not the `onX` attribute's). @internal */
export function removeEventListenerFrom(source: EventSource, type: string, handler: unknown): void {
  for (const listener of source.listeners(type) as WrappedListener[]) {
    if (listener[kListener] === handler && listener[kForOnEventAttribute] !== true) {
      source.removeListener(type, listener);
      return;
    }
  }
}

/** The `onX` attribute's handler, or null. @internal */
export function getEventAttribute(source: EventSource, type: WsEventType): unknown {
  for (const listener of source.listeners(type) as WrappedListener[]) {
    if (listener[kForOnEventAttribute] === true) return listener[kListener];
  }
  return null;
}

/** Replace the `onX` attribute's handler (a non-function removes it). @internal */
export function setEventAttribute(source: EventSource, type: WsEventType, handler: unknown): void {
  for (const listener of source.listeners(type) as WrappedListener[]) {
    if (listener[kForOnEventAttribute] === true) {
      source.removeListener(type, listener);
      break;
    }
  }
  if (typeof handler !== 'function') return;
  addEventListenerTo(source, type, handler as EventListenerLike<unknown>, { [kForOnEventAttribute]: true });
}
