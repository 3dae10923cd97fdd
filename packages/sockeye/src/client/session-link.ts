/**
 * The link the reconnecting client uses in Node when it is given sockeye's `WebSocket`:
 * the low-level {@link ClientWebSocket}'s callbacks behind the small part of the
 * `WebSocket` shape the session client uses (`docs/sessions.md`). It skips what the WHATWG
 * object adds per message and the session client does not need: a task per read, a
 * `MessageEvent` and an `EventTarget` dispatch (the session client dispatches its own),
 * and the USVString conversion and byte count of each text frame sent.
 * @module
 */
import { CloseCode } from '../protocol/close-codes.js';
import { DEFAULT_CLIENT_MAX_PAYLOAD } from '../protocol/limits.js';
import { FrameBuilder } from '../session/frames.js';
import { TextBytes } from '../session/wire.js';
import { type HandshakeHandle, type OpenedSocket, openHandshake } from './connect.js';
import { browserEnd, type ClientEnd, ClientWebSocket } from './session.js';

/**
 * The key under which sockeye's `WebSocket` constructor carries {@link createSessionLink}.
 * The session client (which imports nothing of Node) looks it up by this registered
 * symbol, on the constructor itself only: a subclass may connect differently.
 * @internal
 */
export const SESSION_LINK = Symbol.for('sockeye.sessionLink');

/** What the link reports to its `on*` handlers (the fields the session client reads). @internal */
export interface SessionLinkClose {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}

type Handler<E> = ((event: E) => void) | null;

/** The first byte of a session data frame: `d`. */
const DATA_BYTE = 0x64;

/**
 * `Buffer.prototype.utf8Slice` (Node's own, undeclared): `toString('utf8', start, end)`
 * without the argument parsing. Node's documented `Buffer#toString` calls it itself (Node
 * 20 to 26), so it lives as long as that does (as `utf8Write` in `session/frames.ts`).
 */
type Utf8Sliceable = Buffer & { utf8Slice(start: number, end: number): string };

/**
 * One session link over a {@link ClientWebSocket}: events are called synchronously from
 * the socket read (the session client queues nothing), in order, and once closed none
 * is called again.
 * @internal
 */
export class NodeSessionLink {
  /** The subprotocol the server selected ('' until open). */
  protocol = '';
  /** Kept for the `WebSocket` shape: binary messages always come as `Uint8Array` copies. */
  binaryType = 'arraybuffer';
  onopen: Handler<Event> = null;
  onmessage: Handler<{ readonly data: string | Uint8Array }> = null;
  onerror: Handler<Event> = null;
  onclose: Handler<SessionLinkClose> = null;
  /**
   * The session client's hook for data frames (null: they go to `onmessage` as the rest):
   * the payload after the `d`, text decoded from the read's bytes past it (no string of
   * the whole frame to slice), binary as a view of the read, valid during the call only.
   */
  ondata: ((payload: string | Uint8Array) => void) | null = null;

  #handshake: HandshakeHandle | null;
  #socket: ClientWebSocket | null = null;
  #closed = false;
  /** Builds the data frames of the text the session client sends on this link. */
  readonly #frames = new FrameBuilder();

  /**
   * @param url - `ws:` or `wss:` URL (`http:`/`https:` are mapped, as `WebSocket` does)
   * @param protocols - the subprotocols to offer
   * @throws TypeError for a URL that does not parse, DOMException `SyntaxError` for another scheme
   */
  constructor(url: string, protocols: readonly string[]) {
    const parsed = new URL(url);
    if (parsed.protocol === 'http:') parsed.protocol = 'ws:';
    else if (parsed.protocol === 'https:') parsed.protocol = 'wss:';
    if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
      throw new DOMException(`The URL's scheme must be ws or wss, not ${parsed.protocol}`, 'SyntaxError');
    }
    this.#handshake = openHandshake(parsed, protocols, {});
    this.#handshake.result.then(
      (opened) => this.#opened(opened),
      (error: Error) => this.#failed(error),
    );
  }

  /**
   * The data frame of a text message, as UTF-8 bytes that {@link send} sends as text: the
   * session client keeps it for replay and sends it without a `d` + string to flatten and
   * encode. Carved from a slab of the link's own (see `session/frames.ts`).
   * @param kept - bytes the session client keeps now (sizes the next slab)
   */
  textFrame(payload: string, kept: number): TextBytes {
    return this.#frames.text(payload, kept);
  }

  /** Send one message (a string or {@link TextBytes} as text, other bytes as binary); nothing once closing. */
  send(data: string | ArrayBufferView | ArrayBuffer): void {
    const socket = this.#socket;
    if (socket === null) {
      if (this.#closed) return;
      throw new DOMException('Still in CONNECTING state.', 'InvalidStateError');
    }
    // A string is encoded to UTF-8 once, here: as a string, the deflate threshold, the
    // frame header and the copy into the output would each measure it.
    if (typeof data === 'string') socket.send(Buffer.from(data), true);
    else if (data instanceof TextBytes) socket.send(data, true);
    else if (data instanceof ArrayBuffer) socket.send(data);
    else socket.send(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  /** Close the link (a link still opening is abandoned: `onerror`, then `onclose` with 1006). */
  close(code?: number, reason?: string): void {
    if (this.#socket !== null) {
      this.#socket.close(code, reason);
      return;
    }
    if (this.#closed) return;
    this.#closed = true;
    this.#handshake?.cancel(new Error('WebSocket was closed before the connection was established'));
  }

  #opened(opened: OpenedSocket): void {
    this.#handshake = null;
    if (this.#closed) {
      opened.socket.destroy();
      this.#end({ code: CloseCode.Abnormal, reason: '', wasClean: false });
      return;
    }
    const socket = ClientWebSocket._create(opened, { maxPayload: DEFAULT_CLIENT_MAX_PAYLOAD });
    this.#socket = socket;
    this.protocol = opened.protocol;
    // The hot path: one callback per message, inside the read. Text is decoded here (a
    // decoding that fails fails this connection with 1011, as any error of the read);
    // binary goes to `onmessage` as a copy, as the read's bytes are reused, and to
    // `ondata` as a view the session client copies once, for the application.
    socket.start({
      message: (data, isText) => {
        const ondata = this.ondata;
        if (ondata !== null && data.length !== 0 && data[0] === DATA_BYTE) {
          ondata(
            isText
              ? (data as Utf8Sliceable).utf8Slice(1, data.length)
              : new Uint8Array(data.buffer, data.byteOffset + 1, data.length - 1),
          );
          return;
        }
        this.onmessage?.({ data: isText ? data.toString('utf8') : new Uint8Array(data) });
      },
      closed: (end: ClientEnd) => {
        const { code, reason, wasClean } = browserEnd(end);
        this.#end({ code, reason, wasClean });
      },
    });
    try {
      this.onopen?.(new Event('open'));
    } catch (error) {
      socket.terminate(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #failed(error: Error): void {
    this.#handshake = null;
    this.#closed = true;
    this.onerror?.(Object.assign(new Event('error'), { error }));
    this.#end({ code: CloseCode.Abnormal, reason: '', wasClean: false });
  }

  #end(close: SessionLinkClose): void {
    this.#closed = true;
    this.#socket = null;
    const onclose = this.onclose;
    this.onopen = this.onmessage = this.onerror = this.onclose = null;
    this.ondata = null;
    onclose?.(close);
  }
}

/** Open a session link (see {@link NodeSessionLink}). @internal */
export function createSessionLink(url: string, protocols: readonly string[]): NodeSessionLink {
  return new NodeSessionLink(url, protocols);
}
