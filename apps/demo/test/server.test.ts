/**
 * The demo server without a browser: its files, its routing, the inspector's handshake
 * and frame records against the bytes a raw client really exchanged (the seed's
 * 我是阿宝哥 with key 0x08f6efb1), the chat's refusals, and a taken port.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { HttpHeadParser, type ResponseHead } from '@sockeye/sockeye/protocol';
import WebSocket from 'ws';
import { freePort } from '../../../scripts/lib/process.js';
import { type DemoServer, startDemoServer } from '../src/server/demo-server.js';
import { recordHead } from '../src/server/frame-record.js';
import type { ChatServerMessage } from '../src/shared/chat.js';
import type { InspectorMessage } from '../src/shared/inspector.js';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'server', 'main.ts');
const T = { timeout: 30_000 };

/** Messages of a `ws` client, awaited one at a time. */
function inbox(ws: WebSocket): () => Promise<string> {
  const queue: string[] = [];
  const waiting: Array<(text: string) => void> = [];
  ws.on('message', (data) => {
    const text = data.toString();
    const next = waiting.shift();
    if (next === undefined) queue.push(text);
    else next(text);
  });
  return () => {
    const text = queue.shift();
    return text === undefined ? new Promise((resolve) => waiting.push(resolve)) : Promise.resolve(text);
  };
}

/** A `ws` client once open, with its inbox (listening from the start: a first message may come with the 101). */
function opened(url: string): Promise<[WebSocket, () => Promise<string>]> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const next = inbox(ws);
    ws.once('open', () => resolve([ws, next]));
    ws.once('error', reject);
  });
}

/** Bytes read from a raw socket, until `enough` says so. */
function readUntil(socket: Socket, enough: (bytes: Buffer) => boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let bytes = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      bytes = Buffer.concat([bytes, chunk]);
      if (enough(bytes)) {
        socket.off('data', onData);
        resolve(bytes);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

describe('the demo server', () => {
  let dir = '';
  let server: DemoServer;
  let ws = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sockeye-demo-'));
    mkdirSync(join(dir, 'public'));
    writeFileSync(join(dir, 'public', 'index.html'), '<!doctype html><title>landing</title>');
    writeFileSync(join(dir, 'public', 'style.css'), 'body{}');
    writeFileSync(join(dir, 'secret.txt'), 'outside the public directory');
    server = await startDemoServer({ publicDir: join(dir, 'public'), port: 0 });
    ws = server.origin.replace('http:', 'ws:');
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the public files with their type, and nothing outside them', T, async () => {
    const index = await fetch(`${server.origin}/`);
    assert.equal(index.status, 200);
    assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(await index.text(), '<!doctype html><title>landing</title>');
    const css = await fetch(`${server.origin}/style.css`);
    assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
    assert.equal((await fetch(`${server.origin}/missing.html`)).status, 404);
    assert.equal((await fetch(`${server.origin}/%2e%2e/secret.txt`)).status, 404);
    assert.equal((await fetch(`${server.origin}/..%2fsecret.txt`)).status, 404);
    assert.equal((await fetch(`${server.origin}/`, { method: 'POST' })).status, 405);
    // fetch normalizes "/../"; a raw request does not.
    const raw = connect(server.port, '127.0.0.1');
    raw.write('GET /../secret.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const answer = await readUntil(raw, (bytes) => bytes.includes('\r\n\r\n'));
    raw.destroy();
    assert.match(answer.toString('latin1'), /^HTTP\/1\.1 404 /);
  });

  it('answers 404 to an upgrade on a path it does not serve', T, async () => {
    const error = await opened(`${ws}/ws/nothing`).then(
      () => assert.fail('opened'),
      (e: Error) => e,
    );
    assert.match(error.message, /Unexpected server response: 404/);
  });

  it('echoes text and binary with their type, selecting the first subprotocol', T, async () => {
    const client = await new Promise<WebSocket>((resolve, reject) => {
      const socket = new WebSocket(`${ws}/ws/echo`, ['two', 'one']);
      socket.once('open', () => resolve(socket));
      socket.once('error', reject);
    });
    try {
      assert.equal(client.protocol, 'two');
      const received = new Promise<Array<[string, boolean]>>((resolve) => {
        const all: Array<[string, boolean]> = [];
        client.on('message', (data, isBinary) => {
          all.push([data.toString(), isBinary]);
          if (all.length === 2) resolve(all);
        });
      });
      client.send('我是阿宝哥');
      client.send(Buffer.from([1, 2, 3]));
      assert.deepEqual(await received, [
        ['我是阿宝哥', false],
        ['\u0001\u0002\u0003', true],
      ]);
    } finally {
      client.terminate();
    }
  });

  it(
    'inspector: the real 101 and the seed frame, masked with 0x08f6efb1, as they crossed the wire',
    T,
    async () => {
      const [feed, next] = await opened(`${ws}/ws/inspector`);
      const raw = connect(server.port, '127.0.0.1');
      try {
        const session = JSON.parse(await next()) as InspectorMessage;
        assert.equal(session.type, 'session');
        if (session.type !== 'session') return;
        const request =
          `GET /ws/echo?session=${session.session} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n` +
          'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
          'Sec-WebSocket-Version: 13\r\nX-Case: Kept\r\n\r\n';
        raw.write(request);
        const head = await readUntil(raw, (bytes) => bytes.includes('\r\n\r\n'));
        const parsed = new HttpHeadParser<ResponseHead>('response').push(head);
        assert.ok(parsed !== null);
        const response = head.subarray(0, head.length - parsed.rest.length);

        const handshake = JSON.parse(await next()) as InspectorMessage;
        assert.equal(handshake.type, 'handshake');
        if (handshake.type !== 'handshake') return;
        assert.deepEqual(handshake.response, recordHead(response, 'response'));
        assert.equal(handshake.response.startLine, 'HTTP/1.1 101 Switching Protocols');
        assert.deepEqual(
          handshake.response.headers.find(([name]) => name === 'Sec-WebSocket-Accept'),
          ['Sec-WebSocket-Accept', 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='],
        );
        assert.equal(handshake.request.startLine, `GET /ws/echo?session=${session.session} HTTP/1.1`);
        assert.deepEqual(
          handshake.request.headers.map(([name]) => name),
          ['Host', 'Upgrade', 'Connection', 'Sec-WebSocket-Key', 'Sec-WebSocket-Version', 'X-Case'],
        );

        // The seed's frame: FIN + text, MASK + 15, key 08f6efb1, then the masked bytes.
        raw.write(Buffer.from('818f08f6efb1ee7e7e5790590629b713412ced654a', 'hex'));
        const sent = JSON.parse(await next()) as InspectorMessage;
        const echoed = JSON.parse(await next()) as InspectorMessage;
        assert.ok(sent.type === 'frame' && echoed.type === 'frame');
        assert.deepEqual(
          {
            seq: sent.frame.seq,
            direction: sent.frame.direction,
            opcodeName: sent.frame.opcodeName,
            masked: sent.frame.masked,
            key: sent.frame.maskKeyHex,
            wire: sent.frame.maskedHex,
            payload: sent.frame.payloadHex,
            text: sent.frame.payloadText,
          },
          {
            seq: 1,
            direction: 'client-to-server',
            opcodeName: 'text',
            masked: true,
            key: '08f6efb1',
            wire: 'ee7e7e5790590629b713412ced654a',
            payload: 'e68891e698afe998bfe5ae9de593a5',
            text: '我是阿宝哥',
          },
        );
        assert.equal(echoed.frame.seq, 2);
        assert.equal(echoed.frame.direction, 'server-to-client');
        assert.equal(echoed.frame.masked, false);
        assert.equal(echoed.frame.payloadText, '我是阿宝哥');

        // A close frame (masked, code 1000), answered, then the end of the session.
        raw.write(Buffer.from('888200000000' + '03e8', 'hex'));
        const close = JSON.parse(await next()) as InspectorMessage;
        assert.ok(close.type === 'frame');
        assert.equal(close.frame.closeCode, 1000);
        const answer = JSON.parse(await next()) as InspectorMessage;
        assert.ok(answer.type === 'frame' && answer.frame.direction === 'server-to-client');
        assert.deepEqual(JSON.parse(await next()), { type: 'end', reason: 'closed with 1000' });
      } finally {
        raw.destroy();
        feed.terminate();
      }
    },
  );

  it('chat: a taken name and a message before joining are refused; leaving is announced', T, async () => {
    const [ada, fromAda] = await opened(`${ws}/ws/chat`);
    const [grace, fromGrace] = await opened(`${ws}/ws/chat`);
    const read = async (next: () => Promise<string>) => JSON.parse(await next()) as ChatServerMessage;
    try {
      grace.send(JSON.stringify({ type: 'say', text: 'too early' }));
      assert.deepEqual(await read(fromGrace), { type: 'error', reason: 'join first' });
      ada.send(JSON.stringify({ type: 'join', name: '  Ada  ' }));
      assert.deepEqual(await read(fromAda), { type: 'welcome', name: 'Ada', members: ['Ada'] });
      grace.send(JSON.stringify({ type: 'join', name: 'Ada' }));
      assert.deepEqual(await read(fromGrace), { type: 'error', reason: 'that name is taken' });
      grace.send(Buffer.from('{}'));
      assert.deepEqual(await read(fromGrace), { type: 'error', reason: 'messages are JSON text' });
      grace.send(JSON.stringify({ type: 'join', name: 'Grace' }));
      assert.deepEqual(await read(fromGrace), { type: 'welcome', name: 'Grace', members: ['Ada', 'Grace'] });
      assert.deepEqual(await read(fromAda), {
        type: 'presence',
        event: 'join',
        name: 'Grace',
        members: ['Ada', 'Grace'],
      });
      grace.send(JSON.stringify({ type: 'say', text: 'hi' }));
      for (const next of [fromAda, fromGrace]) {
        const line = await read(next);
        assert.ok(line.type === 'message');
        assert.deepEqual([line.from, line.text], ['Grace', 'hi']);
      }
      grace.close();
      assert.deepEqual(await read(fromAda), {
        type: 'presence',
        event: 'leave',
        name: 'Grace',
        members: ['Ada'],
      });
    } finally {
      ada.terminate();
      grace.terminate();
    }
  });
});

describe('the demo server on a port that is taken, or not a port', () => {
  it('says so in one line and exits with 1', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    const start = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', main, ...args],
          { timeout: 50_000, env },
          (error, stdout, stderr) =>
            resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr }),
        );
      });
    try {
      // The port from --port, and from PORT.
      for (const run of [
        await start(['--port', String(port)]),
        await start([], { ...process.env, PORT: String(port) }),
      ]) {
        assert.equal(run.code, 1);
        assert.equal(run.stdout, '');
        assert.equal(
          run.stderr,
          `sockeye demo: port ${port} on 127.0.0.1 is already in use; choose another with PORT=8081 npm start or npm start -- --port 8081\n`,
        );
      }
      const bad = await start(['--port', 'eighty']);
      assert.equal(bad.code, 1);
      assert.equal(bad.stderr, 'sockeye demo: invalid port "eighty"\n');
    } finally {
      blocker.close();
    }
  });
});
