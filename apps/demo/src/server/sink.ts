/**
 * The sink socket (`/ws/sink`): reads and discards every message. The backpressure chart
 * sends bursts of megabytes to it and plots the browser's `bufferedAmount` as they drain;
 * an echo would double the traffic and mix the two directions.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { type ServerStats, WebSocketServer } from '@sockeye/sockeye/server';
import { DEMO_LIMITS } from './limits.js';

/**
 * Bytes a sink connection may receive: bursts of 16 MiB (four of the page's 4 MiB
 * bursts), 4 MiB per second after that; past it the connection is closed with 1008.
 */
export const SINK_BYTE_RATE = { perSecond: 4 << 20, burst: 16 << 20 };

/** The sink's WebSocket server. */
export class SinkService {
  private readonly server = new WebSocketServer<undefined>({
    ...DEMO_LIMITS,
    noServer: true,
    decodeText: false,
    // Bursts of large binary messages: compressing them would only cost CPU.
    perMessageDeflate: false,
    messageLimits: { ...DEMO_LIMITS.messageLimits, bytes: SINK_BYTE_RATE },
    handlers: { message: () => {} },
  });

  /** For the admin page. */
  get webSocketServer(): { stats(): ServerStats } {
    return this.server;
  }

  /** Take an upgrade to `/ws/sink`. */
  handleUpgrade(request: IncomingMessage, socket: Socket, head: Buffer): void {
    void this.server.handleUpgrade(request, socket, head);
  }

  /** Close every sink socket. */
  async close(): Promise<void> {
    await this.server.close();
  }
}
