/**
 * The server's `connectionLimits` on the session HTTP transports, from raw HTTP peers on
 * loopback: a link (an SSE stream, a long-polling link) is a connection as a WebSocket
 * is, counted under the same caps and handshake rate by the same real client address,
 * refused with the same status and `Retry-After`, and its place is given back when it
 * goes. POSTs and polls on a link are not new handshakes.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  type ConnectionLimitOptions,
  HandshakeError,
  type LimitHit,
  SessionHttpTransport,
  type SessionHttpTransportOptions,
  SessionServer,
  WebSocket,
} from '../../src/index.js';
import { until } from './helpers.js';

interface Harness {
  server: SessionServer<undefined>;
  transport: SessionHttpTransport<undefined>;
  port: number;
  hits: LimitHit[];
  close: () => Promise<void>;
}

const open: Harness[] = [];
after(async () => {
  for (const h of open) await h.close();
});

async function harness(
  connectionLimits: ConnectionLimitOptions,
  extra: { trustProxy?: string[]; transport?: Omit<SessionHttpTransportOptions<undefined>, 'server'> } = {},
): Promise<Harness> {
  const http: Server = createServer();
  const server = new SessionServer<undefined>({
    server: http,
    path: '/s',
    pingInterval: 0,
    connectionLimits,
    ...(extra.trustProxy === undefined ? {} : { trustProxy: extra.trustProxy }),
    sessions: {},
  });
  const transport = new SessionHttpTransport<undefined>(server, { ...extra.transport, server: http });
  const hits: LimitHit[] = [];
  server.server.on('limit', (hit: LimitHit) => hits.push(hit));
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const port = (http.address() as AddressInfo).port;
  const h: Harness = {
    server,
    transport,
    port,
    hits,
    close: async () => {
      transport.close();
      await server.close({ timeout: 100 });
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
  open.push(h);
  return h;
}

/** A raw HTTP/1.1 request on its own TCP connection; resolves with the response head once it is read. */
async function rawRequest(
  port: number,
  target: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Map<string, string>; body: () => Promise<string>; socket: Socket }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const body = options.body ?? '';
  const headers: Record<string, string> = { host: `127.0.0.1:${port}`, ...options.headers };
  if (options.method === 'POST') headers['content-length'] = String(Buffer.byteLength(body));
  const head = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.write(`${options.method ?? 'GET'} ${target} HTTP/1.1\r\n${head}\r\n${body}`);
  let received = '';
  socket.setEncoding('latin1');
  const ended = new Promise<void>((resolve) => {
    socket.on('end', resolve);
    socket.on('close', () => resolve());
  });
  socket.on('data', (chunk: string) => {
    received += chunk;
  });
  socket.on('error', () => {});
  await until(() => received.includes('\r\n\r\n'), 'a response head');
  const [statusLine, ...fields] = received.slice(0, received.indexOf('\r\n\r\n')).split('\r\n');
  const map = new Map<string, string>();
  for (const field of fields) {
    const colon = field.indexOf(':');
    map.set(field.slice(0, colon).trim().toLowerCase(), field.slice(colon + 1).trim());
  }
  return {
    status: Number(statusLine!.split(' ')[1]),
    headers: map,
    body: async () => {
      const length = Number(map.get('content-length') ?? Number.NaN);
      const start = received.indexOf('\r\n\r\n') + 4;
      if (Number.isInteger(length)) await until(() => received.length - start >= length, 'a response body');
      else await ended;
      return received.slice(start);
    },
    socket,
  };
}

const OPEN_POLL = '/s?transport=long-polling&hello=h%200';
const OPEN_SSE = '/s?transport=sse&hello=h%200';

/** Open a long-polling link; its id. */
async function openPoll(port: number, headers: Record<string, string> = {}): Promise<string> {
  const answer = await rawRequest(port, OPEN_POLL, { headers });
  assert.equal(answer.status, 200);
  const link = (await answer.body()).split('\n')[0]!;
  assert.match(link, /^l /);
  answer.socket.destroy();
  return link.slice(2);
}

describe('session HTTP links under connectionLimits', () => {
  it('counts links against maxConnections (503 with Retry-After) and gives the place back when a link goes', async () => {
    const h = await harness({ maxConnections: 2, retryAfter: 7 });
    const first = await openPoll(h.port);
    const sse = await rawRequest(h.port, OPEN_SSE);
    assert.equal(sse.status, 200);
    const refused = await rawRequest(h.port, OPEN_POLL);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '7');
    refused.socket.destroy();
    const refusedSse = await rawRequest(h.port, OPEN_SSE);
    assert.equal(refusedSse.status, 503);
    refusedSse.socket.destroy();
    assert.equal(h.server.server.stats().limits['max-connections'], 2);
    assert.deepEqual(
      h.hits.map((hit) => [hit.kind, hit.clientAddress, hit.action]),
      [
        ['max-connections', '127.0.0.1', 'refused'],
        ['max-connections', '127.0.0.1', 'refused'],
      ],
    );
    // A WebSocket upgrade counts under the same cap.
    const ws = new WebSocket(`ws://127.0.0.1:${h.port}/s`);
    const error = await new Promise<unknown>((resolve) => {
      ws.onerror = resolve;
      ws.onopen = () => resolve(null);
    });
    assert.notEqual(error, null);
    // The SSE stream ends: its place is free again.
    sse.socket.destroy();
    await until(() => h.transport.linkCount === 1, 'the SSE link to go');
    const again = await openPoll(h.port);
    // Releasing a long-polling link frees its place too.
    const released = await rawRequest(h.port, `/s?link=${first}&release=1`, { method: 'POST' });
    assert.equal(released.status, 204);
    released.socket.destroy();
    await openPoll(h.port);
    assert.notEqual(again, first);
    // Both places are taken again.
    const full = await rawRequest(h.port, OPEN_POLL);
    assert.equal(full.status, 503);
    full.socket.destroy();
  });

  it('refuses links past maxConnectionsPerAddress with 429, by the real client address behind a trusted proxy', async () => {
    const h = await harness({ maxConnectionsPerAddress: 1 }, { trustProxy: ['127.0.0.1'] });
    await openPoll(h.port, { 'x-forwarded-for': '192.0.2.1' });
    await openPoll(h.port, { 'x-forwarded-for': '192.0.2.2' });
    const refused = await rawRequest(h.port, OPEN_POLL, { headers: { 'x-forwarded-for': '192.0.2.1' } });
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '5');
    refused.socket.destroy();
    assert.deepEqual(
      h.hits.map((hit) => [hit.kind, hit.clientAddress]),
      [['max-connections-per-address', '192.0.2.1']],
    );
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
    const h = await harness({ maxConnectionsPerAddress: 1 });
    await openPoll(h.port, { 'x-forwarded-for': '192.0.2.1' });
    const refused = await rawRequest(h.port, OPEN_POLL, { headers: { 'x-forwarded-for': '192.0.2.2' } });
    assert.equal(refused.status, 429);
    refused.socket.destroy();
    assert.deepEqual(
      h.hits.map((hit) => [hit.kind, hit.clientAddress]),
      [['max-connections-per-address', '127.0.0.1']],
    );
  });

  it('spends a handshake-rate token per new link, none per POST or poll of a link', async () => {
    const h = await harness(
      { handshakeRate: { perSecond: 0.001, burst: 2 } },
      { transport: { pollTimeout: 20 } },
    );
    const link = await openPoll(h.port);
    for (let i = 0; i < 5; i++) {
      const posted = await rawRequest(h.port, `/s?link=${link}&from=${i}`, {
        method: 'POST',
        body: `dmessage ${i}\n`,
      });
      assert.equal(posted.status, 204);
      posted.socket.destroy();
    }
    for (let i = 0; i < 3; i++) {
      // Held up to the (short) hold time, then answered: with the acknowledgements, or empty.
      const polled = await rawRequest(h.port, `/s?link=${link}&since=1`);
      assert.equal(polled.status, 200);
      polled.socket.destroy();
    }
    await openPoll(h.port);
    const refused = await rawRequest(h.port, OPEN_SSE);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '5');
    refused.socket.destroy();
    assert.deepEqual(
      h.hits.map((hit) => hit.kind),
      ['handshake-rate'],
    );
  });

  it('gives the place back when authenticate refuses the link or the hello is malformed', async () => {
    let allow = false;
    const h = await harness(
      { maxConnections: 1 },
      {
        transport: {
          authenticate: () => {
            if (!allow) throw new HandshakeError(401, 'no');
          },
        },
      },
    );
    for (let i = 0; i < 3; i++) {
      const refused = await rawRequest(h.port, OPEN_POLL);
      assert.equal(refused.status, 401);
      refused.socket.destroy();
      const malformed = await rawRequest(h.port, '/s?transport=long-polling&hello=h%20x');
      assert.equal(malformed.status, 400);
      malformed.socket.destroy();
    }
    allow = true;
    await openPoll(h.port);
    assert.equal(h.hits.length, 0);
  });
});

describe('session HTTP links under connectionLimits (property)', { timeout: 240_000 }, () => {
  it('for any sequence of opens, refusals, releases and dropped streams, a link opens exactly when a place is free', async () => {
    const MAX = 3;
    type Op = 'poll' | 'sse' | 'refused-by-authenticate' | 'release' | 'drop';
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom<Op>('poll', 'sse', 'refused-by-authenticate', 'release', 'drop'), {
          maxLength: 14,
        }),
        async (ops) => {
          const h = await harness(
            { maxConnections: MAX },
            {
              transport: {
                authenticate: (request) => {
                  if (request.headers['x-refuse'] !== undefined) throw new HandshakeError(403, 'no');
                },
              },
            },
          );
          const polls: string[] = [];
          const streams: Socket[] = [];
          let released = 0;
          try {
            for (const op of ops) {
              const live = polls.length + streams.length;
              if (op === 'poll' || op === 'sse' || op === 'refused-by-authenticate') {
                const answer = await rawRequest(h.port, op === 'sse' ? OPEN_SSE : OPEN_POLL, {
                  headers: op === 'refused-by-authenticate' ? { 'x-refuse': '1' } : {},
                });
                const expected = live >= MAX ? 503 : op === 'refused-by-authenticate' ? 403 : 200;
                assert.equal(answer.status, expected, `${op} with ${live} links`);
                if (expected !== 200) answer.socket.destroy();
                else if (op === 'sse') streams.push(answer.socket);
                else {
                  polls.push((await answer.body()).split('\n')[0]!.slice(2));
                  answer.socket.destroy();
                }
              } else if (op === 'release' && polls.length > 0) {
                const link = polls.shift()!;
                const answer = await rawRequest(h.port, `/s?link=${link}&release=1`, { method: 'POST' });
                assert.equal(answer.status, 204);
                answer.socket.destroy();
                released++;
              } else if (op === 'drop' && streams.length > 0) {
                streams.shift()!.destroy();
                // A released poll link stays (closing) until its last lines are polled or it is idle.
                const expected = polls.length + streams.length + released;
                await until(() => h.transport.linkCount === expected, 'the dropped stream to go');
              }
            }
          } finally {
            for (const socket of streams) socket.destroy();
            open.splice(open.indexOf(h), 1);
            await h.close();
          }
        },
      ),
      { numRuns: 15 },
    );
  });
});
