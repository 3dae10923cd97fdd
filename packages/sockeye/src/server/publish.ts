/**
 * Topic delivery on one server: a message framed once (and compressed once) for every
 * local subscriber. The rate limit, the broker and the diagnostics are the server's.
 * @internal
 */
import {
  buildFrame,
  FIN_BIT,
  InternalError,
  Opcode,
  type PerMessageDeflate,
  type PreparedMessage,
} from '../protocol/index.js';
import { type PublishData, SendStatus } from './types.js';
import type { ServerWebSocket } from './websocket.js';

/** The bytes of a publish, without a copy (a string is encoded as UTF-8). @internal */
export function publishBytes(data: PublishData): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

/** Whether a subscriber other than `except` negotiated permessage-deflate. */
function anyCompressed<Data>(
  subscribers: ReadonlySet<ServerWebSocket<Data>>,
  except: ServerWebSocket<Data> | null,
): boolean {
  for (const ws of subscribers) if (ws !== except && ws.extensions !== '') return true;
  return false;
}

/**
 * Write a message to `subscribers` but `except`, framed once. Returns how many it was
 * queued for (a subscriber whose backpressure policy drops it is not counted).
 * @param server - where a codec failure is reported (the message then goes uncompressed)
 * @internal
 */
export function deliverToSubscribers<Data>(
  subscribers: ReadonlySet<ServerWebSocket<Data>>,
  bytes: Uint8Array,
  isText: boolean,
  except: ServerWebSocket<Data> | null,
  deflate: PerMessageDeflate | null,
  server: { reportServerError(error: unknown): void },
): number {
  const size = subscribers.size;
  if (size === 0 || (size === 1 && except !== null && subscribers.has(except))) return 0;
  // One frame for everybody: each connection queues this same Buffer (no copy, no
  // header per connection); `data` is a view of it, the server's own copy.
  // With permessage-deflate, the payload is also compressed once (when a subscriber
  // negotiated it): connections without the extension take the frame, those without
  // context takeover the compressed payload, the others compress it themselves.
  const frame = buildFrame(FIN_BIT | (isText ? Opcode.Text : Opcode.Binary), bytes);
  const data = frame.subarray(frame.length - bytes.length);
  let message: PreparedMessage = { data, isText, extension: '', encoded: null, windowBits: 0, frame };
  if (deflate !== null && anyCompressed(subscribers, except)) {
    try {
      message = { ...deflate.prepareMessage(data, isText), frame };
    } catch (error) {
      // The codec failed: report it and send the frame as it is (a connection that must
      // compress does it itself, and fails alone with 1011 if its codec fails too).
      server.reportServerError(new InternalError(error));
    }
  }
  let count = 0;
  for (const ws of subscribers) {
    if (ws !== except && ws._sendPrepared(message) !== SendStatus.Dropped) count++;
  }
  return count;
}
