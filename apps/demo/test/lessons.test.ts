/**
 * The server side of the teaching pages, without a browser: the `Sec-WebSocket-Accept`
 * derivation on the feed, the feed commands (a server ping; a message sent in fragments
 * with a ping between them), permessage-deflate on the inspected socket only when asked,
 * with each message inflated on the feed, and the sink socket.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { type DemoServer, startDemoServer } from '../src/server/demo-server.js';
import type { FrameRecord, InflatedMessage, InspectorMessage } from '../src/shared/inspector.js';
import { MAX_SHOWN_BYTES, REQUESTED_PING_PREFIX } from '../src/shared/inspector.js';

const T = { timeout: 30_000 };

/** A feed and its inspected `ws` socket, with every feed message after the session kept. */
interface Inspected {
  feed: WebSocket;
  socket: WebSocket;
  received: InspectorMessage[];
  /** Messages the inspected socket got, as the application sees them. */
  messages: string[];
  /** Resolves once `done(received)` holds (checked on each feed message). */
  until(done: (received: InspectorMessage[]) => boolean): Promise<InspectorMessage[]>;
}

function inspect(ws: string, query = ''): Promise<Inspected> {
  return new Promise((resolve, reject) => {
    const feed = new WebSocket(`${ws}/ws/inspector`);
    const received: InspectorMessage[] = [];
    const messages: string[] = [];
    let check = () => {};
    feed.on('error', reject);
    feed.on('message', (data) => {
      const message = JSON.parse(data.toString()) as InspectorMessage;
      if (message.type !== 'session') {
        received.push(message);
        check();
        return;
      }
      const socket = new WebSocket(`${ws}/ws/echo?session=${message.session}${query}`);
      socket.on('error', reject);
      socket.on('message', (payload) => messages.push(payload.toString()));
      socket.once('open', () =>
        resolve({
          feed,
          socket,
          received,
          messages,
          until: (done) =>
            new Promise((settle) => {
              check = () => {
                if (done(received)) settle(received);
              };
              check();
            }),
        }),
      );
    });
  });
}

const frames = (received: InspectorMessage[]): FrameRecord[] =>
  received.flatMap((m) => (m.type === 'frame' ? [m.frame] : []));

describe('the teaching pages, server side', () => {
  let dir = '';
  let server: DemoServer;
  let ws = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sockeye-lessons-'));
    mkdirSync(join(dir, 'public'));
    server = await startDemoServer({ publicDir: join(dir, 'public'), port: 0 });
    ws = server.origin.replace('http:', 'ws:');
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports the Sec-WebSocket-Accept derivation, each step, matching the 101', T, async () => {
    const inspected = await inspect(ws);
    try {
      const [handshake] = await inspected.until((r) => r.length >= 1);
      assert.ok(handshake?.type === 'handshake');
      const { derivation } = handshake;
      const key = handshake.request.headers.find(([name]) => name.toLowerCase() === 'sec-websocket-key')?.[1];
      assert.equal(derivation.key, key);
      assert.equal(derivation.guid, '258EAFA5-E914-47DA-95CA-C5AB0DC85B11');
      assert.equal(derivation.concatenated, `${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`);
      assert.equal(Buffer.from(derivation.sha1Hex, 'hex').toString('base64'), derivation.accept);
      assert.equal(derivation.sha1Hex.length, 40);
      assert.deepEqual(
        handshake.response.headers.find(([name]) => name === 'Sec-WebSocket-Accept'),
        ['Sec-WebSocket-Accept', derivation.accept],
      );
      // ws offers permessage-deflate; without the switch the inspected socket declines it.
      assert.equal(handshake.extensions, '');
    } finally {
      inspected.feed.terminate();
      inspected.socket.terminate();
    }
  });

  it('sends a message in fragments with a ping between them; the client gets one message', T, async () => {
    const inspected = await inspect(ws);
    try {
      inspected.feed.send(
        JSON.stringify({
          type: 'fragment',
          text: 'One message, 我是阿宝哥',
          fragments: 3,
          interleavePing: true,
        }),
      );
      const received = await inspected.until((r) =>
        frames(r).some((f) => f.direction === 'client-to-server' && f.opcodeName === 'pong'),
      );
      await inspected.until((r) => frames(r).some((f) => f.opcodeName === 'continuation' && f.fin));
      const fromServer = frames(received).filter((f) => f.direction === 'server-to-client');
      assert.deepEqual(
        fromServer.map((f) => [f.opcodeName, f.fin, f.payloadText]),
        [
          ['text', false, 'One me'],
          ['ping', true, `${REQUESTED_PING_PREFIX}, between fragments`],
          ['continuation', false, 'ssage,'],
          ['continuation', true, ' 我是阿宝哥'],
        ],
      );
      const pong = frames(received).find((f) => f.opcodeName === 'pong')!;
      assert.equal(pong.payloadText, `${REQUESTED_PING_PREFIX}, between fragments`);
      assert.deepEqual(inspected.messages, ['One message, 我是阿宝哥']);
    } finally {
      inspected.feed.terminate();
      inspected.socket.terminate();
    }
  });

  it('pings on request; ignores commands it does not know or that are out of bounds', T, async () => {
    const inspected = await inspect(ws);
    try {
      inspected.feed.send('not json');
      inspected.feed.send(
        JSON.stringify({ type: 'fragment', text: 'ab', fragments: 9, interleavePing: false }),
      );
      inspected.feed.send(JSON.stringify({ type: 'ping' }));
      const received = await inspected.until((r) => frames(r).some((f) => f.opcodeName === 'pong'));
      assert.deepEqual(
        frames(received).map((f) => [f.direction, f.opcodeName, f.payloadText]),
        [
          ['server-to-client', 'ping', `${REQUESTED_PING_PREFIX} #1`],
          ['client-to-server', 'pong', `${REQUESTED_PING_PREFIX} #1`],
        ],
      );
    } finally {
      inspected.feed.terminate();
      inspected.socket.terminate();
    }
  });

  it(
    'with deflate=1: negotiates permessage-deflate, RSV1 on the frames, each message inflated on the feed',
    T,
    async () => {
      const inspected = await inspect(ws, '&deflate=1');
      try {
        // Long enough for ws to compress it (it leaves messages under 1 KiB alone).
        const text = 'compress me, '.repeat(200);
        inspected.socket.send(text);
        const received = await inspected.until(
          (r) => r.filter((m) => m.type === 'message').length === 2 && frames(r).length === 2,
        );
        const handshake = received[0]!;
        assert.ok(handshake.type === 'handshake');
        assert.match(handshake.extensions, /^permessage-deflate/);
        const [sent, echoed] = frames(received);
        assert.equal(sent!.rsv1, true);
        assert.equal(echoed!.rsv1, true);
        assert.ok(sent!.payloadLength < Buffer.byteLength(text), 'the wire carries fewer bytes');
        const inflated = received.filter((m): m is InflatedMessage => m.type === 'message');
        assert.deepEqual(
          inflated.map((m) => [m.direction, m.isBinary, m.length, m.payloadText]),
          [
            ['client-to-server', false, text.length, text.slice(0, MAX_SHOWN_BYTES)],
            ['server-to-client', false, text.length, text.slice(0, MAX_SHOWN_BYTES)],
          ],
        );
      } finally {
        inspected.feed.terminate();
        inspected.socket.terminate();
      }
    },
  );

  it('closes from the server side with the code and reason asked for', T, async () => {
    const inspected = await inspect(ws);
    try {
      const closed = new Promise<[number, string]>((resolve) =>
        inspected.socket.once('close', (code, reason) => resolve([code, reason.toString()])),
      );
      inspected.feed.send(JSON.stringify({ type: 'close', code: 1005, reason: 'never sent' }));
      inspected.feed.send(JSON.stringify({ type: 'close', code: 4002, reason: 'x'.repeat(124) }));
      inspected.feed.send(JSON.stringify({ type: 'close', code: 4002, reason: 'server says bye' }));
      assert.deepEqual(await closed, [4002, 'server says bye']);
      const received = await inspected.until((r) => r.some((m) => m.type === 'end'));
      assert.deepEqual(
        frames(received).map((f) => [f.direction, f.closeCode, f.closeReason]),
        [
          ['server-to-client', 4002, 'server says bye'],
          ['client-to-server', 4002, 'server says bye'],
        ],
      );
    } finally {
      inspected.feed.terminate();
      inspected.socket.terminate();
    }
  });

  it('the sink reads megabytes and answers nothing', T, async () => {
    const sink = new WebSocket(`${ws}/ws/sink`);
    await new Promise((resolve, reject) => {
      sink.once('open', resolve);
      sink.once('error', reject);
    });
    let answers = 0;
    sink.on('message', () => answers++);
    for (let i = 0; i < 64; i++) sink.send(Buffer.alloc(64 * 1024));
    const closed = new Promise<number>((resolve) => sink.once('close', (code) => resolve(code)));
    sink.close(1000);
    assert.equal(await closed, 1000);
    assert.equal(answers, 0);
  });
});
