import { isUtf8 } from 'node:buffer';
import { AssemblyBudget, defaultAssemblyBudget } from './assembly-budget.js';
import { CloseCode, isValidWireCloseCode } from './close-codes.js';
import { InternalError, MessageWriterError, ProtocolError } from './errors.js';
import { type Extension, type PreparedMessage, selectExtension } from './extension.js';
import { FIN_BIT, type FrameHeader, RSV1_BIT } from './frame.js';
import {
  DEFAULT_MAX_FRAGMENTS,
  DEFAULT_MAX_PAYLOAD,
  MAX_CLOSE_REASON_BYTES,
  MAX_CONTROL_PAYLOAD,
  PART_OVERHEAD,
} from './limits.js';
import { maskCopy } from './mask.js';
import { Opcode } from './opcodes.js';
import { OutputBuffers, OutputQueue, type Payload } from './output.js';
import { type FrameHandler, FrameParser, type Role } from './parser.js';
import { Utf8Validator } from './utf8.js';
import { checkBoolean, checkInteger, checkMaxPayload, checkObject } from './validate.js';

/** Where a connection is in its life (RFC 6455 section 4 and 7). Opening is the shell's business. */
export type ConnectionState = 'open' | 'closing' | 'closed';

/** How a connection ended, as the protocol saw it. */
export interface CloseInfo {
  /**
   * The close code: the one in the peer's close frame, 1005 if that frame had none, 1006
   * if the transport ended without one, or the code we failed the connection with.
   */
  code: number;
  /** The reason from the peer's close frame, or ours when we failed the connection. */
  reason: string;
  /**
   * Set when we failed the connection: a {@link ProtocolError} when the peer broke a rule
   * or a limit, an {@link InternalError} (1011) when something failed on our side.
   */
  error: ProtocolError | InternalError | null;
}

/** One close frame, as sent or received: its code (1005 when it had no payload) and reason. */
export interface CloseFrame {
  /** The close code, or 1005 ({@link CloseCode.NoStatusReceived}) for a close frame without payload. */
  readonly code: number;
  /** The close reason (`''` when none). */
  readonly reason: string;
}

/**
 * Who closes the TCP connection once the WebSocket connection is `closed` (RFC 6455
 * section 7.1.1: the server closes it first, the client waits for that and closes it
 * itself only after a deadline):
 * - `end`: end TCP now (we are the server, or the transport already ended);
 * - `await-peer`: wait, bounded by a close timeout, for the peer to end it (we are a client).
 */
export type TcpClose = 'end' | 'await-peer';

/**
 * How the closing handshake went, as far as it went: the close frame we queued, the one we
 * received, who started it, whether it was clean, and who closes TCP. Read it from
 * {@link Connection.closeRecord} at any time (in `onClose`, say): the shells decide from it
 * instead of guessing.
 */
export interface CloseRecord {
  /** The close frame we queued (ours, our answer to the peer's, or the one we failed with), or null. */
  readonly sent: CloseFrame | null;
  /** The peer's close frame, or null. */
  readonly received: CloseFrame | null;
  /** Whose close frame came first: `local` (ours), `remote` (the peer's), or null while neither exists. */
  readonly initiator: 'local' | 'remote' | null;
  /**
   * The closing handshake completed: both close frames were exchanged and the connection
   * was not failed (the WHATWG `CloseEvent.wasClean`).
   */
  readonly wasClean: boolean;
  /** The "close expected" signal: who ends TCP now that the connection is closed, or null while it is not. */
  readonly tcpClose: TcpClose | null;
}

/** Receives what a {@link Connection} decodes. Called synchronously from `receive()`. */
export interface ConnectionHandler {
  /**
   * A complete message. `data` is valid UTF-8 when `isText`. It may be a view of a received
   * chunk: it stays valid, but keeping it keeps that chunk in memory.
   */
  onMessage(data: Buffer, isText: boolean): void;
  /** A ping arrived (already answered with a pong when `autoPong` is on). */
  onPing(data: Buffer): void;
  /** A pong arrived. */
  onPong(data: Buffer): void;
  /**
   * The connection reached `closed`: the closing handshake completed, the peer's close
   * was answered, we failed the connection, or the transport ended. Called exactly once.
   * {@link Connection.closeRecord} then says who closes TCP (`tcpClose`): a server now,
   * a client once the server has, or after a deadline (RFC 6455 section 7.1.1).
   */
  onClose(info: CloseInfo): void;
  /** Output went from empty to not empty: schedule a flush (see {@link Connection.takeOutput}). */
  onOutput(): void;
}

/** Options of {@link Connection}. */
export interface ConnectionOptions {
  /** Our role. A server expects masked frames and sends unmasked ones; a client the reverse. */
  role: Role;
  /**
   * Largest message accepted in bytes, checked on each frame's declared length before its
   * payload is buffered. A bigger one fails the connection with 1009.
   * @defaultValue {@link DEFAULT_MAX_PAYLOAD} (1 MiB)
   */
  maxPayload?: number;
  /**
   * Most frames per message. More fails the connection with 1009.
   * @defaultValue {@link DEFAULT_MAX_FRAGMENTS} (4096)
   */
  maxFragments?: number;
  /**
   * Answer pings with pongs automatically (RFC 6455 section 5.5.2 says an endpoint must).
   * @defaultValue true
   */
  autoPong?: boolean;
  /**
   * Negotiated extensions (at most one today: permessage-deflate, made by
   * `PerMessageDeflate.negotiate` on a server or `PerMessageDeflate.accept` on a client).
   * Without any, a frame with an RSV bit set fails the connection with 1002.
   * @defaultValue none
   */
  extensions?: readonly Extension[];
  /**
   * Answer a peer's close frame with its code and its reason (as `ws` does), instead of
   * its code alone.
   * @defaultValue false
   */
  echoCloseReason?: boolean;
  /**
   * Put the failure's description in the reason of the close frame that fails a
   * connection; when false the frame carries the close code alone (as `ws` sends it).
   * @defaultValue true
   */
  failReason?: boolean;
  /**
   * The slab and masking keys outbound frames are written into: its owner's (a server
   * makes one for all its connections).
   * @defaultValue {@link defaultOutputBuffers}, shared by the clients of the process
   */
  outputBuffers?: OutputBuffers;
  /**
   * The bound on message buffers allocated ahead of their data that this connection
   * shares with its owner's others (a server makes one for all its connections).
   * @defaultValue {@link defaultAssemblyBudget}, shared by the clients of the process
   */
  assemblyBudget?: AssemblyBudget;
}

/**
 * Check the options of a {@link Connection} as its constructor does: `role` is `client`
 * or `server`; `maxPayload` an integer from 1 to `buffer.constants.MAX_LENGTH` (a larger
 * message could not be held in a `Buffer`); `maxFragments` an integer of at least 1;
 * `autoPong` a boolean; `extensions` an array.
 * @throws TypeError or RangeError naming the option
 */
export function checkConnectionOptions(options: ConnectionOptions): void {
  checkObject('options', options);
  if (options.role !== 'client' && options.role !== 'server') {
    throw new TypeError(`role must be 'client' or 'server', not ${String(options.role)}`);
  }
  checkMaxPayload('maxPayload', options.maxPayload, false);
  checkInteger('maxFragments', options.maxFragments, 1, Number.MAX_SAFE_INTEGER);
  checkBoolean('autoPong', options.autoPong);
  checkBoolean('echoCloseReason', options.echoCloseReason);
  checkBoolean('failReason', options.failReason);
  if (options.extensions !== undefined && !Array.isArray(options.extensions)) {
    throw new TypeError('extensions must be an array');
  }
  if (options.outputBuffers !== undefined && !(options.outputBuffers instanceof OutputBuffers)) {
    throw new TypeError('outputBuffers must be an OutputBuffers');
  }
  if (options.assemblyBudget !== undefined && !(options.assemblyBudget instanceof AssemblyBudget)) {
    throw new TypeError('assemblyBudget must be an AssemblyBudget');
  }
}

/**
 * One message sent in fragments (RFC 6455 section 5.4), from {@link Connection.startMessage}:
 * each `write()` queues one frame, `end()` queues the last one. While it is open, the
 * connection's other messages (`send`, `sendPrepared`) wait behind it and leave, in
 * order, after its last frame: a data frame can never land inside it. Control frames
 * (ping, pong, close) may go between its frames, as the RFC allows.
 */
export class MessageWriter {
  /** Whether the message is text (its fragments then hold UTF-8, split anywhere). */
  readonly isText: boolean;
  private readonly connection: Connection;
  /** @internal Its first frame was queued (later ones are continuations). */
  _started = false;
  /** @internal `end()` was called. */
  _ended = false;

  /** @internal Made by {@link Connection.startMessage} (the constructor is private). */
  static _create(connection: Connection, isText: boolean): MessageWriter {
    return new MessageWriter(connection, isText);
  }

  /** Not constructed by applications: `Connection.startMessage()` makes one. */
  private constructor(connection: Connection, isText: boolean) {
    this.connection = connection;
    this.isText = isText;
  }

  /** Whether `end()` was called. */
  get ended(): boolean {
    return this._ended;
  }

  /**
   * Queue one frame of the message (not the last one).
   * @returns false (and queues nothing) once a close frame was sent
   * @throws {@link MessageWriterError} `message-ended` after `end()`
   */
  write(data: Payload): boolean {
    return this.connection._writeFragment(this, data, false);
  }

  /**
   * Queue the last frame of the message (empty by default) and let the messages sent
   * meanwhile go.
   * @returns false (and queues nothing) once a close frame was sent
   * @throws {@link MessageWriterError} `message-ended` after `end()`
   */
  end(data: Payload = EMPTY): boolean {
    return this.connection._writeFragment(this, data, true);
  }
}

/** A message sent while a fragmented one is being written: it waits for the end of that one. */
type HeldMessage = { data: Payload; isText: boolean } | { prepared: PreparedMessage };

/** Smallest buffer allocated to reassemble a message that arrives in parts. */
const MIN_ASSEMBLY = 1024;

const EMPTY = Buffer.alloc(0);

/**
 * A single frame gets its buffer of exact size once 1/EXACT_SHARE of it has arrived: a
 * peer must send an eighth of what it declares to make us allocate all of it (and across
 * connections, the owner's {@link AssemblyBudget} bounds what is allocated that way).
 */
const EXACT_SHARE = 8;

/** The mask key of held masked views, written here just before they are unmasked (calls never interleave). */
const heldKey = new Uint8Array(4);

/**
 * The WebSocket protocol for one open connection, without I/O (the sans-I/O design of
 * Python `websockets` and tungstenite). Bytes from the transport go into
 * {@link Connection.receive}; messages, pings, pongs and the close come out through the
 * {@link ConnectionHandler}; bytes to write come out of {@link Connection.takeOutput}.
 * It never throws into the caller for anything the peer does: a broken rule becomes a
 * close frame with the right code and an `onClose` with `error` set.
 *
 * It is the parser's {@link FrameHandler} (checked where it hands itself to the parser):
 * no `implements` clause, because those methods are internal and left out of the
 * published declarations, where the clause would then fail to type-check.
 */
export class Connection {
  /** Our role. */
  readonly role: Role;
  private readonly handler: ConnectionHandler;
  private readonly parser: FrameParser;
  private readonly output: OutputQueue;
  private readonly maxPayload: number;
  private readonly maxFragments: number;
  private readonly autoPong: boolean;
  private readonly echoCloseReason: boolean;
  private readonly failReason: boolean;
  /** The negotiated extension that transforms messages, if any. */
  private readonly extension: Extension | null;
  /**
   * Wire bytes allowed for an encoded (compressed) message: `maxPayload` plus 0.1% and
   * 1 KiB, because deflate makes incompressible data slightly larger (5 bytes per stored
   * block) and a message that decodes within `maxPayload` must not be refused for it. The
   * decoded size is still held to `maxPayload`, while decoding.
   */
  private readonly encodedLimit: number;

  private _state: ConnectionState = 'open';
  /** The fragmented message being written, if any (see {@link Connection.startMessage}). */
  private writer: MessageWriter | null = null;
  /** Messages sent while `writer` is open, in order (null when none: most connections never hold one), and their bytes. */
  private held: HeldMessage[] | null = null;
  private heldBytes = 0;
  /** The close frame we queued: once set, nothing but the transport's end follows. */
  private sentClose: CloseFrame | null = null;
  /** The peer's close frame. */
  private receivedClose: CloseFrame | null = null;
  /** The peer's close frame came before ours. */
  private remoteInitiated = false;
  /** The transport ended before the connection closed (nothing left to wait for). */
  private transportEnded = false;
  private _closeInfo: CloseInfo | null = null;
  /** Set while `receive()` runs, so that sends from handlers do not ask for a flush each. */
  private receiving = false;
  private outputSignalled = false;

  // The current frame.
  private frameOpcode = 0;
  private frameFin = false;
  private framePartIndex = 0;

  // The current data message.
  private messageText = false;
  private messageBytes = 0;
  private messageFragments = 0;
  /** The current message's first frame had the extension's RSV bit: it goes through the extension. */
  private messageEncoded = false;
  /**
   * A message that arrives in more than one part is first held as views of the received
   * chunks (no copy) and joined once at its end, into a buffer of its exact size. What the
   * views pin is charged against `assemblyLimit`: each view's whole chunk (once per chunk)
   * plus {@link PART_OVERHEAD}, so a peer sending a million one-byte fragments cannot make
   * us hold a million views. Past that budget the views are copied into `assembly` and
   * later parts are copied there as they come. A single frame gets one buffer of its exact
   * size, allocated once, when an eighth of it has arrived and the owner's
   * {@link AssemblyBudget} has room (or when its views go over its size, which they always
   * do by its last part); a fragmented message's budget is the limit,
   * so small fragmented messages are joined once at their end.
   */
  private parts: Buffer[] = [];
  private partsBytes = 0;
  private partsCharge = 0;
  /** The chunk of the last view charged (a chunk holding several fragments is charged once). */
  private lastChunk: ArrayBufferLike | null = null;
  /**
   * The views are still masked, with the key `partsKey` (4 bytes, little-endian): a binary
   * single-frame message on a server, unmasked as its views are copied (one pass).
   */
  private partsMasked = false;
  private partsKey = 0;
  /** Reassembly buffer once the views went over budget, and how much of it is filled. */
  private assembly: Buffer | null = null;
  private assemblyLength = 0;
  /** Most bytes the current message can have: a single frame's exact size, or the limit. */
  private assemblyLimit = 0;
  /** The current message is one frame: `assemblyLimit` is its exact size. */
  private assemblyExact = false;
  /** The owner's bound on buffers allocated early, and what this message's buffer took of it. */
  private readonly assemblyBudget: AssemblyBudget;
  private assemblyCharged = 0;
  /** Made for the first text message that arrives in parts (most connections never need one). */
  private utf8: Utf8Validator | null = null;

  // A control frame split across reads (at most 125 bytes).
  private control: Buffer | null = null;
  private controlLength = 0;

  /**
   * @throws TypeError or RangeError naming the option that cannot work (see
   * {@link checkConnectionOptions})
   */
  constructor(handler: ConnectionHandler, options: ConnectionOptions) {
    checkConnectionOptions(options);
    this.role = options.role;
    this.handler = handler;
    this.maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    this.maxFragments = options.maxFragments ?? DEFAULT_MAX_FRAGMENTS;
    this.autoPong = options.autoPong ?? true;
    this.echoCloseReason = options.echoCloseReason ?? false;
    this.failReason = options.failReason ?? true;
    this.extension = selectExtension(options.extensions);
    this.encodedLimit = this.maxPayload + Math.ceil(this.maxPayload / 1024) + 1024;
    this.parser = new FrameParser(this satisfies FrameHandler, {
      role: options.role,
      allowedRsv: this.extension?.rsvBit ?? 0,
    });
    this.output = new OutputQueue(options.role === 'client', options.outputBuffers);
    this.assemblyBudget = options.assemblyBudget ?? defaultAssemblyBudget;
  }

  /** `open`, `closing` (we sent a close and wait for the peer's), or `closed`. */
  get state(): ConnectionState {
    return this._state;
  }

  /** How the connection ended, once it is `closed`. */
  get closeInfo(): CloseInfo | null {
    return this._closeInfo;
  }

  /** How the closing handshake went so far, and who closes TCP once closed (see {@link CloseRecord}). */
  get closeRecord(): CloseRecord {
    const sent = this.sentClose;
    const received = this.receivedClose;
    const closed = this._state === 'closed';
    return {
      sent,
      received,
      initiator: this.remoteInitiated ? 'remote' : sent !== null ? 'local' : null,
      wasClean: closed && sent !== null && received !== null && this._closeInfo?.error === null,
      tcpClose: !closed ? null : this.role === 'server' || this.transportEnded ? 'end' : 'await-peer',
    };
  }

  /** Bytes queued for writing and not yet taken with {@link Connection.takeOutput}. */
  get bufferedBytes(): number {
    return this.output.bytes + this.heldBytes;
  }

  /**
   * Feed bytes received from the transport. Takes ownership of `chunk` (masked payloads
   * are unmasked in place). Ignored once the connection is closed.
   *
   * Never throws for what happens inside, so the transport's read callback needs no
   * guard: a rule the peer broke fails the connection with its {@link ProtocolError},
   * and anything else thrown meanwhile (the codec, a handler such as `onMessage`) fails
   * it with 1011 and an {@link InternalError} whose `cause` is what was thrown. Only an
   * exception from `onClose` itself, once the connection is closed, is re-thrown.
   */
  receive(chunk: Buffer): void {
    if (this._state === 'closed') return;
    this.receiving = true;
    try {
      this.parser.push(chunk);
    } catch (error) {
      this.failWith(error);
    } finally {
      this.receiving = false;
    }
    if (this.output.bytes > 0) this.signalOutput();
  }

  /**
   * Fail the connection for an error on our side that the shell met outside of
   * {@link Connection.receive} (a socket write that threw, say): queue a close frame with
   * 1011 and no reason, and reach `closed` with an {@link InternalError} wrapping `cause`.
   * Does nothing once closed.
   * @returns the error the connection was failed with, or null when it was already closed
   */
  abort(cause: unknown): InternalError | null {
    if (this._state === 'closed') return null;
    const error = cause instanceof InternalError ? cause : new InternalError(cause);
    this.fail(error);
    return error;
  }

  /**
   * The transport ended (EOF, reset, or it was destroyed). If the connection was not
   * closed yet, it ends abnormally: `onClose` reports 1006 (RFC 6455 section 7.1.5).
   */
  receiveEof(): void {
    if (this._state === 'closed') return;
    this.transportEnded = true;
    this.finish({ code: CloseCode.Abnormal, reason: '', error: null });
  }

  /**
   * Queue a message. Returns false (and queues nothing) once a close frame was sent,
   * since RFC 6455 section 5.5.1 forbids data after it. A string is encoded as UTF-8.
   * A large `Uint8Array` is queued by reference on a server: do not change it until written.
   */
  send(data: Payload, isText: boolean): boolean {
    if (this.sentClose !== null) return false;
    if (this.writer !== null) {
      this.holdMessage({ data, isText }, typeof data === 'string' ? Buffer.byteLength(data) : data.length);
      return true;
    }
    const opcode = isText ? Opcode.Text : Opcode.Binary;
    let encoded: Buffer | null = null;
    if (this.extension !== null) {
      try {
        encoded = this.extension.encodeMessage(data, isText);
      } catch (error) {
        // The codec failed: the connection fails with 1011, the caller's code goes on.
        this.failWith(error);
        return false;
      }
    }
    if (encoded === null) this.output.push(FIN_BIT | opcode, data);
    else this.output.push(FIN_BIT | this.extension!.rsvBit | opcode, encoded);
    this.signalOutput();
    return true;
  }

  /**
   * Queue a message prepared once for many connections (a broadcast, see
   * `PerMessageDeflate.prepareMessage`). Its encoded bytes are sent as they are when this
   * connection's extension can take them (permessage-deflate without context takeover on
   * our side); otherwise the message is sent as with {@link Connection.send}. A server
   * connection without an extension queues `message.frame`, when there is one, by
   * reference (no framing, no copy). Returns false once a close frame was sent.
   */
  sendPrepared(message: PreparedMessage): boolean {
    if (this.sentClose !== null) return false;
    if (this.writer !== null) {
      this.holdMessage({ prepared: message }, message.data.length);
      return true;
    }
    if (this.extension === null && message.frame !== undefined && this.role === 'server') {
      // The frame was built once for every connection: queue the same bytes, no copy.
      this.output.pushFrame(message.frame);
      this.signalOutput();
      return true;
    }
    let payload: Buffer | null = null;
    if (this.extension !== null) {
      try {
        payload = this.extension.preparedPayload(message);
      } catch (error) {
        this.failWith(error);
        return false;
      }
    }
    if (payload === null) return this.send(message.data, message.isText);
    const opcode = message.isText ? Opcode.Text : Opcode.Binary;
    this.output.push(FIN_BIT | this.extension!.rsvBit | opcode, payload);
    this.signalOutput();
    return true;
  }

  /**
   * Start a message sent in fragments: the returned writer queues its frames, and
   * messages sent meanwhile wait behind it (see {@link MessageWriter}). Fragments are
   * never compressed.
   * @throws {@link MessageWriterError} `message-in-progress` while another one is open
   */
  startMessage(isText: boolean): MessageWriter {
    if (this.writer !== null) {
      throw new MessageWriterError(
        'message-in-progress',
        'a fragmented message is already being sent: end() it first',
      );
    }
    const writer = MessageWriter._create(this, isText);
    if (this.sentClose === null) this.writer = writer;
    else writer._ended = true;
    return writer;
  }

  /**
   * Queue one frame of a message sent in fragments: `first` starts it (as
   * {@link Connection.startMessage}), `fin` ends it. Kept for callers of the earlier API;
   * it goes through a {@link MessageWriter}, so a `send()` between fragments waits behind
   * the message instead of landing inside it.
   * @deprecated use {@link Connection.startMessage} and the writer it returns
   * @throws {@link MessageWriterError} for a `first` fragment while a message is open, or a
   * later one when none is
   */
  sendFragment(data: Payload, isText: boolean, fin: boolean, first: boolean): boolean {
    let writer = this.writer;
    if (first) writer = this.startMessage(isText);
    else if (writer === null) {
      if (this.sentClose !== null) return false;
      throw new MessageWriterError(
        'message-ended',
        'no fragmented message is open: send the first fragment first',
      );
    }
    return fin ? writer.end(data) : writer.write(data);
  }

  /** @internal The frames of a {@link MessageWriter}. */
  _writeFragment(writer: MessageWriter, data: Payload, fin: boolean): boolean {
    if (writer._ended) {
      if (this.sentClose !== null) return false;
      throw new MessageWriterError('message-ended', 'this fragmented message has ended');
    }
    if (this.sentClose !== null) return false;
    const opcode = writer._started ? Opcode.Continuation : writer.isText ? Opcode.Text : Opcode.Binary;
    writer._started = true;
    this.output.push((fin ? FIN_BIT : 0) | opcode, data);
    if (fin) {
      writer._ended = true;
      this.writer = null;
      this.releaseHeld();
    }
    this.signalOutput();
    return true;
  }

  /** Queue a ping (payload at most 125 bytes). Returns false once a close frame was sent. */
  ping(data: Payload = ''): boolean {
    return this.sendControl(Opcode.Ping, data);
  }

  /** Queue a pong (payload at most 125 bytes), e.g. an unsolicited heartbeat. Returns false once closing. */
  pong(data: Payload = ''): boolean {
    return this.sendControl(Opcode.Pong, data);
  }

  /**
   * Start the closing handshake: queue a close frame and move to `closing`. Without a
   * code, the frame has no payload (the peer reports 1005).
   * @throws RangeError if `code` may not be sent (RFC 6455 section 7.4) or `reason` is
   * longer than 123 bytes in UTF-8
   */
  close(code?: number, reason = ''): void {
    if (code === undefined) {
      if (reason !== '') throw new RangeError('a close reason needs a close code');
    } else if (!isValidWireCloseCode(code)) {
      throw new RangeError(`close code ${code} may not be sent`);
    }
    if (Buffer.byteLength(reason) > MAX_CLOSE_REASON_BYTES) {
      throw new RangeError(`close reason longer than ${MAX_CLOSE_REASON_BYTES} bytes`);
    }
    if (this.sentClose !== null || this._state === 'closed') return;
    this.sendClose(code, reason);
    this._state = 'closing';
  }

  /** Take every byte queued for the transport, in order (an empty array when none). */
  takeOutput(): Buffer[] {
    this.outputSignalled = false;
    return this.output.take();
  }

  // ---- FrameHandler: called by the parser ----

  /** @internal */
  onFrameHeader(header: FrameHeader): void {
    this.frameOpcode = header.opcode;
    this.frameFin = header.fin;
    this.framePartIndex = 0;
    if (header.rsv !== 0 && (header.opcode >= Opcode.Close || header.opcode === Opcode.Continuation)) {
      // RFC 7692 section 6: only the first frame of a data message may carry RSV1.
      throw new ProtocolError(
        'reserved-bits',
        header.opcode === Opcode.Continuation
          ? 'RSV1 set on a continuation frame'
          : 'RSV1 set on a control frame',
      );
    }
    if (header.opcode >= Opcode.Close) {
      this.controlLength = 0;
      return;
    }
    if (header.opcode !== Opcode.Continuation) {
      this.messageText = header.opcode === Opcode.Text;
      this.messageBytes = 0;
      this.messageFragments = 0;
      this.utf8?.reset();
      // A single-frame message: its exact size is known. A fragmented one: only the limit.
      this.assemblyLimit = header.fin ? header.length : this.maxPayload;
      this.assemblyExact = header.fin;
      this.messageEncoded = this.extension !== null && (header.rsv & this.extension.rsvBit) !== 0;
      if (header.rsv & RSV1_BIT && !this.messageEncoded) {
        throw new ProtocolError('extension-error', 'compressed frame without permessage-deflate');
      }
    }
    this.messageBytes += header.length;
    if (this.messageBytes > (this.messageEncoded ? this.encodedLimit : this.maxPayload)) {
      throw new ProtocolError('message-too-big', `message larger than the limit of ${this.maxPayload} bytes`);
    }
    if (++this.messageFragments > this.maxFragments) {
      throw new ProtocolError('too-many-fragments', `message in more than ${this.maxFragments} frames`);
    }
  }

  /** @internal */
  onFramePayload(data: Buffer, last: boolean): void {
    const partIndex = this.framePartIndex++;
    if (this.frameOpcode >= Opcode.Close) {
      this.controlPayload(data, last, partIndex === 0);
      return;
    }
    if (this.messageEncoded) {
      const message = this.extension!.decodePart(data, last && this.frameFin, this.maxPayload);
      if (message === null) return;
      if (this.messageText && !isUtf8(message)) throw invalidUtf8();
      this.handler.onMessage(message, this.messageText);
      return;
    }
    // Fast path: a whole single-frame message inside one read. Deliver a view, no copy.
    if (last && partIndex === 0 && this.frameFin && this.frameOpcode !== Opcode.Continuation) {
      if (this.messageText && !isUtf8(data)) throw invalidUtf8();
      this.handler.onMessage(data, this.messageText);
      return;
    }
    // The message arrives in parts: validate text as the bytes arrive (fail fast), hold the parts.
    if (this.messageText) {
      this.utf8 ??= new Utf8Validator();
      if (!this.utf8.push(data)) throw invalidUtf8();
    }
    if (data.length > 0) {
      if (this.assembly === null) this.hold(data);
      else this.append(data);
    }
    if (last && this.frameFin) {
      if (this.messageText && !this.utf8!.complete) throw invalidUtf8();
      this.handler.onMessage(this.takeMessage(), this.messageText);
    }
  }

  /**
   * @internal
   * A masked part that will be copied into the reassembly buffer is unmasked while it is
   * copied (one pass over its bytes, not an unmask in place and then a copy). Every other
   * part (a whole message in one read, a view that is held, a control frame, a compressed
   * message) is left to the parser to unmask in place.
   */
  onMaskedFramePayload(data: Buffer, last: boolean, maskKey: Uint8Array, offset: number): boolean {
    if (this.frameOpcode >= Opcode.Close || this.messageEncoded) return false;
    if (last && this.framePartIndex === 0 && this.frameFin && this.frameOpcode !== Opcode.Continuation) {
      return false;
    }
    if (this.assembly === null) {
      if (this.keepsAsView(data)) {
        // Text is validated as it arrives, and a fragmented message has a key per frame:
        // those views are unmasked in place. A binary single frame's are held still masked.
        if (this.messageText || !this.assemblyExact) return false;
        this.framePartIndex++;
        this.partsMasked = true;
        this.partsKey = maskKey[0]! | (maskKey[1]! << 8) | (maskKey[2]! << 16) | (maskKey[3]! << 24);
        this.hold(data);
        if (last) this.handler.onMessage(this.takeMessage(), false);
        return true;
      }
      this.consolidate();
    }
    this.framePartIndex++;
    const at = this.assemblyLength;
    const assembly = this.reserve(data.length);
    maskCopy(data, 0, data.length, assembly, at, maskKey, 0, offset);
    this.assemblyLength = at + data.length;
    if (this.messageText) {
      this.utf8 ??= new Utf8Validator();
      if (!this.utf8.push(assembly.subarray(at, this.assemblyLength))) throw invalidUtf8();
    }
    if (last && this.frameFin) {
      if (this.messageText && !this.utf8!.complete) throw invalidUtf8();
      this.handler.onMessage(this.takeMessage(), this.messageText);
    }
    return true;
  }

  // ---- internals ----

  /** Keep a message sent while a fragmented one is open (it counts in `bufferedBytes`). */
  private holdMessage(message: HeldMessage, bytes: number): void {
    if (this.held === null) this.held = [message];
    else this.held.push(message);
    this.heldBytes += bytes;
  }

  /** The fragmented message ended: send what waited behind it, in order. */
  private releaseHeld(): void {
    const held = this.held;
    if (held === null) return;
    this.held = null;
    this.heldBytes = 0;
    for (const message of held) {
      if ('prepared' in message) this.sendPrepared(message.prepared);
      else this.send(message.data, message.isText);
    }
  }

  /**
   * Keep a part of the current message as a view while what the views pin stays within the
   * message's size bound; past it, copy them into one buffer (see `parts`).
   */
  private hold(data: Buffer): void {
    if (this.keepsAsView(data)) {
      this.partsCharge += this.chargeOf(data);
      this.lastChunk = data.buffer;
      this.parts.push(data);
      this.partsBytes += data.length;
      return;
    }
    this.consolidate();
    this.append(data);
  }

  /**
   * Whether `data` joins the views held (see `parts`): while what they pin stays within
   * the message's bound and, for a single frame, less than an eighth of it has arrived.
   * Past that share the frame gets its buffer of exact size and each later part is copied
   * (and unmasked) as it arrives, while it is still in the CPU cache, not at the end;
   * unless the owner's {@link AssemblyBudget} is spent, and then the views are held until
   * they pin more than the frame's size (its last part) and are joined then.
   */
  private keepsAsView(data: Buffer): boolean {
    if (this.partsCharge + this.chargeOf(data) > this.assemblyLimit) return false;
    if (!this.assemblyExact || (this.partsBytes + data.length) * EXACT_SHARE < this.assemblyLimit)
      return true;
    // An eighth is here: the whole buffer now, if the owner's bound on buffers allocated
    // ahead of their data has room for it; if not, the views wait for the frame's end.
    if (!this.assemblyBudget.take(this.assemblyLimit)) return true;
    this.assemblyCharged = this.assemblyLimit;
    return false;
  }

  /** What holding `data` as a view would pin: its whole read (once per read) and the view itself. */
  private chargeOf(data: Buffer): number {
    return (data.buffer === this.lastChunk ? data.length : data.buffer.byteLength) + PART_OVERHEAD;
  }

  /** Copy the views held so far into the reassembly buffer; later parts are copied there too. */
  private consolidate(): void {
    const parts = this.parts;
    const masked = this.partsMasked;
    if (masked) this.loadHeldKey();
    this.clearParts();
    for (const part of parts) {
      if (!masked) {
        this.append(part);
        continue;
      }
      const at = this.assemblyLength;
      maskCopy(part, 0, part.length, this.reserve(part.length), at, heldKey, 0, at);
      this.assemblyLength = at + part.length;
    }
  }

  /** Put `partsKey` where `maskCopy` can read it. */
  private loadHeldKey(): void {
    const word = this.partsKey;
    heldKey[0] = word & 0xff;
    heldKey[1] = (word >>> 8) & 0xff;
    heldKey[2] = (word >>> 16) & 0xff;
    heldKey[3] = word >>> 24;
  }

  /**
   * Copy a part of the current message into the reassembly buffer. A single frame's buffer
   * is allocated once, at its exact declared size (its views already pinned that much, see
   * `hold`); a fragmented message's buffer grows by doubling, never past the limit. Either
   * way the memory a message pins is bounded by `maxPayload`.
   */
  private append(data: Buffer): void {
    const assembly = this.reserve(data.length);
    data.copy(assembly, this.assemblyLength);
    this.assemblyLength += data.length;
  }

  /** The reassembly buffer, grown (see `append`) to take `extra` more bytes. */
  private reserve(extra: number): Buffer {
    const needed = this.assemblyLength + extra;
    let assembly = this.assembly;
    if (assembly === null || assembly.length < needed) {
      const limit = this.assemblyLimit;
      const grown = assembly === null ? 2 * needed : assembly.length * 2;
      const size = this.assemblyExact
        ? limit
        : Math.max(needed, Math.min(limit, Math.max(MIN_ASSEMBLY, grown)));
      const next = Buffer.allocUnsafe(size);
      if (assembly !== null) assembly.copy(next, 0, 0, this.assemblyLength);
      this.assembly = assembly = next;
    }
    return assembly;
  }

  /** The whole current message: the reassembly buffer, the only view, or the views joined once. */
  private takeMessage(): Buffer {
    let message: Buffer;
    // Masked views are unmasked as they are copied. (Not reached in practice: a single frame's
    // views are charged more than its size by its last part, so they are copied then.)
    if (this.partsMasked) this.consolidate();
    if (this.assembly !== null) {
      message = this.assembly.subarray(0, this.assemblyLength);
      this.dropAssembly();
    } else if (this.parts.length <= 1) {
      message = this.parts[0] ?? EMPTY;
    } else {
      message = Buffer.allocUnsafe(this.partsBytes);
      let at = 0;
      for (const part of this.parts) at += part.copy(message, at);
    }
    this.clearParts();
    return message;
  }

  /** Let go of the reassembly buffer (handed over, or the connection ended) and give back its charge. */
  private dropAssembly(): void {
    this.assembly = null;
    this.assemblyLength = 0;
    if (this.assemblyCharged !== 0) {
      this.assemblyBudget.give(this.assemblyCharged);
      this.assemblyCharged = 0;
    }
  }

  private clearParts(): void {
    if (this.parts.length > 0) this.parts = [];
    this.partsBytes = 0;
    this.partsCharge = 0;
    this.lastChunk = null;
    this.partsMasked = false;
  }

  private controlPayload(data: Buffer, last: boolean, first: boolean): void {
    let payload = data;
    if (!(first && last)) {
      this.control ??= Buffer.allocUnsafe(MAX_CONTROL_PAYLOAD);
      data.copy(this.control, this.controlLength);
      this.controlLength += data.length;
      if (!last) return;
      payload = Buffer.from(this.control.subarray(0, this.controlLength));
    }
    switch (this.frameOpcode) {
      case Opcode.Ping:
        if (this.autoPong && this.sentClose === null) this.output.push(FIN_BIT | Opcode.Pong, payload);
        this.handler.onPing(payload);
        break;
      case Opcode.Pong:
        this.handler.onPong(payload);
        break;
      default:
        this.receiveClose(payload);
    }
  }

  /** The peer's close frame (RFC 6455 section 5.5.1 and 7.1.5): validate, answer, finish. */
  private receiveClose(payload: Buffer): void {
    let code: number = CloseCode.NoStatusReceived;
    let reason = '';
    if (payload.length === 1) {
      throw new ProtocolError('invalid-close-payload', 'close payload of one byte');
    }
    if (payload.length >= 2) {
      code = payload.readUInt16BE(0);
      if (!isValidWireCloseCode(code)) {
        throw new ProtocolError('invalid-close-code', `invalid close code ${code}`);
      }
      const reasonBytes = payload.subarray(2);
      if (!isUtf8(reasonBytes)) throw invalidUtf8();
      reason = reasonBytes.toString('utf8');
    }
    this.parser.stop();
    this.receivedClose = { code, reason };
    if (this.sentClose === null) {
      this.remoteInitiated = true;
      const echoed = this.echoCloseReason ? reason : '';
      this.sendClose(code === CloseCode.NoStatusReceived ? undefined : code, echoed);
    }
    this.finish({ code, reason, error: null });
  }

  private sendControl(opcode: number, data: Payload): boolean {
    const length = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    if (length > MAX_CONTROL_PAYLOAD) throw new RangeError('control frame payload longer than 125 bytes');
    if (this.sentClose !== null) return false;
    this.output.push(FIN_BIT | opcode, data);
    this.signalOutput();
    return true;
  }

  private sendClose(code: number | undefined, reason: string): void {
    let payload: Buffer;
    if (code === undefined) {
      payload = Buffer.alloc(0);
    } else {
      const reasonBytes = Buffer.from(reason, 'utf8');
      payload = Buffer.allocUnsafe(2 + reasonBytes.length);
      payload.writeUInt16BE(code, 0);
      reasonBytes.copy(payload, 2);
    }
    this.output.push(FIN_BIT | Opcode.Close, payload);
    this.sentClose = { code: code ?? CloseCode.NoStatusReceived, reason: code === undefined ? '' : reason };
    // Nothing more goes out: a fragmented message stays unfinished (the peer drops it)
    // and what waited behind it is dropped.
    if (this.writer !== null) this.writer._ended = true;
    this.writer = null;
    this.held = null;
    this.heldBytes = 0;
    this.signalOutput();
  }

  /** Fail for whatever was thrown: a peer's broken rule as it is, anything else as an internal error. */
  private failWith(error: unknown): void {
    if (error instanceof ProtocolError) {
      this.fail(error);
      return;
    }
    // Thrown by onClose once closed: nothing is left to fail, and swallowing it would hide it.
    if (this._state === 'closed') throw error;
    this.fail(new InternalError(error));
  }

  /**
   * _Fail the WebSocket Connection_ (RFC 6455 section 7.1.7): send a close with the code,
   * then stop. A protocol error's message goes in the close reason (it is about what the
   * peer sent); an internal error's does not (RFC 6455 section 7.4.1: 1011 says enough).
   */
  private fail(error: ProtocolError | InternalError): void {
    if (this._state === 'closed') return;
    this.parser.stop();
    const reason = error instanceof InternalError ? '' : truncateUtf8(error.message, MAX_CLOSE_REASON_BYTES);
    if (this.sentClose === null) this.sendClose(error.closeCode, this.failReason ? reason : '');
    this.finish({ code: error.closeCode, reason, error });
  }

  private finish(info: CloseInfo): void {
    this._state = 'closed';
    this._closeInfo = info;
    this.dropAssembly();
    this.clearParts();
    this.extension?.close();
    this.handler.onClose(info);
  }

  private signalOutput(): void {
    if (this.outputSignalled || this.receiving) return;
    this.outputSignalled = true;
    this.handler.onOutput();
  }
}

function invalidUtf8(): ProtocolError {
  return new ProtocolError('invalid-utf8', 'invalid UTF-8 in a text message');
}

/** Cut `text` to at most `maxBytes` bytes of UTF-8 without splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let out = '';
  let bytes = 0;
  for (const ch of text) {
    const size = Buffer.byteLength(ch);
    if (bytes + size > maxBytes) break;
    out += ch;
    bytes += size;
  }
  return out;
}
