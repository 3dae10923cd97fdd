import { formatExtensions } from '../protocol/handshake.js';
import { DEFAULT_CLIENT_MAX_PAYLOAD, MAX_CLOSE_REASON_BYTES } from '../protocol/limits.js';
import { checkInteger } from '../protocol/validate.js';
import { type HandshakeHandle, openHandshake } from './connect.js';
import { type ClientOptions, checkClientOptions } from './options.js';
import { browserEnd, ClientWebSocket } from './session.js';
import { checkProtocols, parseWebSocketUrl } from './websocket.js';

/** Close code and reason (WebSocketCloseInfo in the WHATWG WebSockets standard). */
export interface WebSocketCloseInfo {
  /** 1000 or 3000-4999 when closing; what the server sent when reported. */
  closeCode?: number;
  /** At most 123 bytes of UTF-8. @defaultValue '' */
  reason?: string;
}

/** What `opened` resolves to. */
export interface WebSocketOpenInfo {
  /** Messages: a `string` for text, a `Uint8Array` for binary. */
  readable: ReadableStream<string | Uint8Array>;
  /** Write a `string` (text) or an `ArrayBuffer`/view (binary); resolves once written to the socket. */
  writable: WritableStream<string | ArrayBuffer | ArrayBufferView>;
  /** The extensions the server accepted. */
  extensions: string;
  /** The subprotocol the server selected, or `''`. */
  protocol: string;
}

/** Options of {@link WebSocketStream}: the standard's `protocols` and `signal`, plus the Node options. */
export interface WebSocketStreamOptions extends ClientOptions {
  /**
   * Bytes of received messages queued in `readable` before the socket stops being read
   * (TCP flow control then holds the server back).
   * @defaultValue 65536
   */
  readableHighWaterMark?: number | undefined;
}

function checkCloseInfo(info: WebSocketCloseInfo): { code: number | undefined; reason: string } {
  let code = info.closeCode;
  const reason = info.reason === undefined ? '' : String(info.reason);
  if (code !== undefined) {
    code = Number(code);
    if (!Number.isInteger(code) || code < 0 || code > 65535) {
      throw new TypeError(`closeCode ${info.closeCode} is out of range`);
    }
    if (code !== 1000 && (code < 3000 || code > 4999)) {
      throw new DOMException(`closeCode must be 1000 or 3000-4999, not ${code}`, 'InvalidAccessError');
    }
  }
  if (Buffer.byteLength(reason) > MAX_CLOSE_REASON_BYTES) {
    throw new DOMException(`reason must not be longer than ${MAX_CLOSE_REASON_BYTES} bytes`, 'SyntaxError');
  }
  if (code === undefined && reason !== '') code = 1000;
  return { code, reason };
}

/** The error a {@link WebSocketStream} rejects and errors its streams with (a `DOMException`). */
export class WebSocketError extends DOMException {
  // Not readonly: `report` sets them after construction (a received code, 1006 included,
  // need not pass the checks a code given by the application does).
  #closeCode: number | null;
  #reason: string;

  /**
   * @param message - what happened
   * @param init - the close code (1000 or 3000-4999) and reason to close with when this
   * error is used to abort or cancel a stream
   * @throws DOMException `InvalidAccessError` or `SyntaxError` as {@link WebSocketStream.close}
   */
  constructor(message = '', init: WebSocketCloseInfo = {}) {
    const { code, reason } = checkCloseInfo(init);
    super(message, 'WebSocketError');
    this.#closeCode = code ?? null;
    this.#reason = reason;
  }

  /** The close code, or null. */
  get closeCode(): number | null {
    return this.#closeCode;
  }

  /** The close reason. */
  get reason(): string {
    return this.#reason;
  }

  /** @internal An error that reports a close code as received (1006 included). */
  static report(message: string, code: number, reason: string): WebSocketError {
    const error = new WebSocketError(message);
    error.#closeCode = code;
    error.#reason = reason;
    return error;
  }
}

/** The default for {@link WebSocketStreamOptions.readableHighWaterMark}. */
export const DEFAULT_READABLE_HIGH_WATER_MARK = 64 * 1024;

/**
 * `WebSocketStream` as Chromium and Deno ship it: a WebSocket as a `ReadableStream` of
 * messages and a `WritableStream` of messages, with backpressure both ways. When the
 * consumer stops reading, the socket stops being read once `readableHighWaterMark` bytes
 * are queued, so memory stays bounded and TCP flow control slows the server down.
 */
export class WebSocketStream {
  readonly #url: URL;
  /** Resolves once the connection is open; rejects with a {@link WebSocketError} if it cannot be. */
  readonly opened: Promise<WebSocketOpenInfo>;
  /** Resolves with the close code and reason after a clean close; rejects with a {@link WebSocketError} otherwise. */
  readonly closed: Promise<WebSocketCloseInfo>;
  #handshake: HandshakeHandle | null;
  #session: ClientWebSocket | null = null;
  #closeRequested: { code: number | undefined; reason: string } | null = null;

  /**
   * @param url - `ws:`, `wss:`, `http:` or `https:` URL
   * @param options - `protocols` and `signal` (the standard's), plus the Node options
   * @throws DOMException `SyntaxError` for a bad URL or subprotocol list; TypeError or
   * RangeError for a Node option that cannot work, naming it
   */
  constructor(url: string | URL, options: WebSocketStreamOptions = {}) {
    checkClientOptions(options);
    checkInteger('readableHighWaterMark', options.readableHighWaterMark, 1, Number.MAX_SAFE_INTEGER);
    this.#url = parseWebSocketUrl(url);
    const protocols =
      options.protocols === undefined
        ? []
        : typeof options.protocols === 'string'
          ? [options.protocols]
          : [...options.protocols];
    checkProtocols(protocols);
    const highWaterMark = options.readableHighWaterMark ?? DEFAULT_READABLE_HIGH_WATER_MARK;
    let resolveOpened!: (info: WebSocketOpenInfo) => void;
    let rejectOpened!: (error: unknown) => void;
    let resolveClosed!: (info: WebSocketCloseInfo) => void;
    let rejectClosed!: (error: unknown) => void;
    this.opened = new Promise((resolve, reject) => {
      resolveOpened = resolve;
      rejectOpened = reject;
    });
    this.closed = new Promise((resolve, reject) => {
      resolveClosed = resolve;
      rejectClosed = reject;
    });
    // Like the standard's promises, these never count as unhandled rejections.
    this.opened.catch(() => {});
    this.closed.catch(() => {});

    this.#handshake = openHandshake(this.#url, protocols, options);
    this.#handshake.result.then(
      (opened) => {
        this.#handshake = null;
        let readController!: ReadableStreamDefaultController<string | Uint8Array>;
        let writeController!: WritableStreamDefaultController;
        let readableOpen = true;
        const readable = new ReadableStream<string | Uint8Array>(
          {
            start: (controller) => {
              readController = controller;
            },
            pull: () => {
              this.#session?.resume();
            },
            cancel: (reason: unknown) => {
              readableOpen = false;
              this.#closeFor(reason);
            },
          },
          {
            highWaterMark,
            size: (chunk) => (typeof chunk === 'string' ? chunk.length * 3 : chunk.byteLength) || 1,
          },
        );
        const writable = new WritableStream<string | ArrayBuffer | ArrayBufferView>(
          {
            start: (controller) => {
              writeController = controller;
            },
            write: (chunk) =>
              new Promise<void>((resolve, reject) => {
                const session = this.#session;
                let data: string | Uint8Array;
                if (typeof chunk === 'string') data = chunk;
                else if (chunk instanceof ArrayBuffer) data = new Uint8Array(chunk);
                else if (ArrayBuffer.isView(chunk))
                  data = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
                else
                  throw new TypeError(
                    'WebSocketStream writes a string, an ArrayBuffer or an ArrayBufferView',
                  );
                const sent = session?.send(data, typeof data === 'string', (error?: Error | null) =>
                  error ? reject(error) : resolve(),
                );
                if (sent !== true) reject(new WebSocketError('The connection is closing'));
              }),
            close: () => this.#closeFor(undefined),
            abort: (reason: unknown) => this.#closeFor(reason),
          },
          { highWaterMark: 1 },
        );
        const closeReadable = () => {
          if (!readableOpen) return;
          readableOpen = false;
          try {
            readController.close();
          } catch {
            // Already cancelled by the consumer.
          }
        };
        const session = ClientWebSocket._create(opened, {
          maxPayload: options.maxPayload ?? DEFAULT_CLIENT_MAX_PAYLOAD,
          maxFragments: options.maxFragments,
          closeTimeout: options.closeTimeout,
        });
        this.#session = session;
        session.start({
          message: (data, isText) => {
            if (!readableOpen) return;
            readController.enqueue(isText ? data.toString('utf8') : new Uint8Array(data));
            // Backpressure: stop reading the socket until the consumer pulls.
            if ((readController.desiredSize ?? 0) <= 0) this.#session?.pause();
          },
          closing: () => closeReadable(),
          closed: (reported) => {
            this.#session = null;
            const end = browserEnd(reported);
            if (end.wasClean) {
              closeReadable();
              writeController.error(new WebSocketError('The connection is closed'));
              resolveClosed({ closeCode: end.code, reason: end.reason });
            } else {
              const error = WebSocketError.report(
                end.error?.message ?? 'The connection was closed abnormally',
                end.code,
                '',
              );
              // What failed, with its stack (an InternalError carries the original as its own cause).
              if (end.error !== null) {
                Object.defineProperty(error, 'cause', {
                  value: end.error,
                  configurable: true,
                  writable: true,
                });
              }
              if (readableOpen) {
                readableOpen = false;
                readController.error(error);
              }
              writeController.error(error);
              rejectClosed(error);
            }
          },
        });
        if (this.#closeRequested !== null) {
          this.#session.close(this.#closeRequested.code, this.#closeRequested.reason);
        }
        resolveOpened({
          readable,
          writable,
          protocol: opened.protocol,
          extensions: formatExtensions(opened.extensions),
        });
      },
      (error: Error) => {
        this.#handshake = null;
        const failure = WebSocketError.report(error.message, 1006, '');
        rejectOpened(failure);
        rejectClosed(failure);
      },
    );
  }

  /** The URL, serialized. */
  get url(): string {
    return this.#url.href;
  }

  /**
   * Close the connection (or abandon it while opening).
   * @throws DOMException `InvalidAccessError` for a code other than 1000 or 3000-4999,
   * `SyntaxError` for a reason longer than 123 bytes
   */
  close(closeInfo: WebSocketCloseInfo = {}): void {
    const { code, reason } = checkCloseInfo(closeInfo);
    this.#close(code, reason);
  }

  #close(code: number | undefined, reason: string): void {
    if (this.#handshake !== null) {
      this.#handshake.cancel(new Error('WebSocketStream was closed before the connection was established'));
      return;
    }
    this.#closeRequested ??= { code, reason };
    this.#session?.close(code, reason);
  }

  /** Close because a stream was closed, cancelled or aborted with `reason`. */
  #closeFor(reason: unknown): void {
    if (reason instanceof WebSocketError && reason.closeCode !== null)
      this.#close(reason.closeCode, reason.reason);
    else this.#close(undefined, '');
  }
}
