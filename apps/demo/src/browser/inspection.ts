/**
 * An inspected echo connection for the teaching pages (handshake, protocol): open the
 * inspector feed, then the echo socket with the feed's session id, and hand every feed
 * message to the page. The same flow as the frame inspector page (see
 * `shared/inspector.ts`), packaged for pages that show more than the frame list.
 */
import {
  DEFLATE_PARAM,
  type FeedCommand,
  INSPECTED_ECHO_PATH,
  INSPECTOR_FEED_PATH,
  type InspectorMessage,
  isInspectorMessage,
} from '../shared/inspector.js';
import { socketUrl } from './format.js';

/** What an {@link Inspection} tells its page. */
export interface InspectionHandlers {
  /** A feed message (handshake, frame, inflated message, end). */
  onMessage(message: Exclude<InspectorMessage, { type: 'session' }>): void;
  /** The inspected socket was created (call `addEventListener` on it for open and close). */
  onSocket(socket: WebSocket): void;
  /** The feed closed. */
  onFeedClosed(event: CloseEvent): void;
}

/** One feed and its inspected echo socket. */
export class Inspection {
  private readonly feed: WebSocket;
  /** The inspected echo socket, once the feed gave a session. */
  socket: WebSocket | null = null;

  /** @param deflate - offer permessage-deflate on the inspected socket (browsers always offer it; the server then accepts) */
  constructor(handlers: InspectionHandlers, deflate = false) {
    const feed = new WebSocket(socketUrl(location.href, INSPECTOR_FEED_PATH));
    this.feed = feed;
    feed.addEventListener('message', (event: MessageEvent) => {
      if (typeof event.data !== 'string') return;
      let message: unknown;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!isInspectorMessage(message)) return;
      if (message.type === 'session') {
        const params: Record<string, string> = { session: message.session };
        if (deflate) params[DEFLATE_PARAM] = '1';
        const socket = new WebSocket(socketUrl(location.href, INSPECTED_ECHO_PATH, params));
        socket.binaryType = 'arraybuffer';
        this.socket = socket;
        handlers.onSocket(socket);
      } else {
        handlers.onMessage(message);
      }
    });
    feed.addEventListener('close', (event: CloseEvent) => handlers.onFeedClosed(event));
  }

  /** Ask the server for something a browser cannot do on the inspected socket. */
  command(command: FeedCommand): void {
    if (this.feed.readyState === WebSocket.OPEN) this.feed.send(JSON.stringify(command));
  }

  /** Close both sockets. */
  close(): void {
    this.feed.close(1000, 'restarting');
    this.socket?.close(1000, 'restarting');
  }
}
