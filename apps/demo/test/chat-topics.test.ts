/**
 * The chat room on topics, across demo servers in one process (in-process brokers on a
 * shared hub, the same contract as Redis): lines and notices cross servers, a server
 * started after someone joined learns the roster, a taken name is refused on every
 * server, and a member who leaves is gone everywhere.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { InProcessBroker, InProcessHub } from '@sockeye/sockeye/pubsub';
import WebSocket from 'ws';
import { type DemoServer, startDemoServer } from '../src/server/demo-server.js';
import type { ChatServerMessage } from '../src/shared/chat.js';

const T = { timeout: 30_000 };

/** A chat client: its messages, awaited in order. */
async function member(origin: string): Promise<{ ws: WebSocket; next: () => Promise<ChatServerMessage> }> {
  const ws = new WebSocket(`${origin.replace('http:', 'ws:')}/ws/chat`);
  const queue: ChatServerMessage[] = [];
  const waiting: Array<(message: ChatServerMessage) => void> = [];
  ws.on('message', (data) => {
    const message = JSON.parse(data.toString()) as ChatServerMessage;
    const next = waiting.shift();
    if (next === undefined) queue.push(message);
    else next(message);
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const next = () => {
    const message = queue.shift();
    return message === undefined
      ? new Promise<ChatServerMessage>((resolve) => waiting.push(resolve))
      : Promise.resolve(message);
  };
  return { ws, next };
}

describe('chat on topics across servers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sockeye-chat-'));
  const servers: DemoServer[] = [];
  after(async () => {
    await Promise.all(servers.map((server) => server.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('lines, notices, the roster and taken names span the servers', T, async () => {
    const hub = new InProcessHub();
    const start = async () => {
      const server = await startDemoServer({ publicDir: dir, port: 0, broker: new InProcessBroker({ hub }) });
      servers.push(server);
      return server;
    };
    const one = await start();
    const ada = await member(one.origin);
    ada.ws.send(JSON.stringify({ type: 'join', name: 'Ada' }));
    assert.deepEqual(await ada.next(), { type: 'welcome', name: 'Ada', members: ['Ada'] });

    // Started after Ada joined: it asks the others who is there.
    const two = await start();
    const grace = await member(two.origin);
    grace.ws.send(JSON.stringify({ type: 'join', name: 'Ada' }));
    assert.deepEqual(await grace.next(), { type: 'error', reason: 'that name is taken' });
    grace.ws.send(JSON.stringify({ type: 'join', name: 'Grace' }));
    assert.deepEqual(await grace.next(), { type: 'welcome', name: 'Grace', members: ['Ada', 'Grace'] });
    assert.deepEqual(await ada.next(), {
      type: 'presence',
      event: 'join',
      name: 'Grace',
      members: ['Ada', 'Grace'],
    });

    grace.ws.send(JSON.stringify({ type: 'say', text: 'hello across' }));
    let said: unknown;
    for (const { next } of [ada, grace]) {
      const line = await next();
      assert.ok(line.type === 'message');
      assert.deepEqual([line.from, line.text], ['Grace', 'hello across']);
      said = line;
    }

    grace.ws.close();
    assert.deepEqual(await ada.next(), { type: 'presence', event: 'leave', name: 'Grace', members: ['Ada'] });
    // The name is free again on both servers.
    const again = await member(one.origin);
    again.ws.send(JSON.stringify({ type: 'join', name: 'Grace' }));
    // With the room's latest lines, the other server's included.
    assert.deepEqual(await again.next(), {
      type: 'welcome',
      name: 'Grace',
      members: ['Ada', 'Grace'],
      history: [said],
    });
    ada.ws.terminate();
    again.ws.terminate();
  });
});
