/**
 * The demo's operational limits, the same for each of its WebSocket servers: sensible
 * for a public demo on a small machine, generous enough for a person clicking fast.
 * See docs/operations.md.
 */
import type { ConnectionLimitOptions, MessageLimitOptions } from '@sockeye/sockeye/server';

/** What each demo WebSocket server is given (spread into its options). */
export const DEMO_LIMITS: {
  connectionLimits: ConnectionLimitOptions;
  messageLimits: MessageLimitOptions;
  idleTimeout: number;
  maxLifetime: number;
  countMessages: boolean;
} = {
  connectionLimits: {
    // 503 past it: a small machine's worth of demo visitors.
    maxConnections: 2_000,
    // 429 past it: a browser opens a few per page; many tabs still fit.
    maxConnectionsPerAddress: 100,
    handshakeRate: { perSecond: 20, burst: 200 },
  },
  // Close with 1008 past it: typing and clicking never come near.
  messageLimits: { messages: { perSecond: 100, burst: 500 }, bytes: { perSecond: 1 << 20, burst: 4 << 20 } },
  // A tab left open for half an hour without a message lets its place go.
  idleTimeout: 30 * 60_000,
  maxLifetime: 24 * 60 * 60_000,
  // For the admin page's rates.
  countMessages: true,
};
