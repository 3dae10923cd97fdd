/**
 * What the demo keeps across restarts (`DemoState`: its bounds, its file) and the
 * control endpoint of the Reconnect page's buttons (same origin, POST, off by default,
 * no restart with a broker).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from '@sockeye/sockeye/client';
import { InProcessBroker } from '@sockeye/sockeye/pubsub';
import { type DemoServer, startDemoServer } from '../src/server/demo-server.js';
import { DemoState, HISTORY_LINES, MAX_KEPT_SESSIONS } from '../src/server/state.js';

const snapshot = (id: string, text = 'x') => ({
  id,
  epoch: 'e1',
  sent: 1,
  received: 0,
  acknowledged: 0,
  written: 1,
  entries: [{ seq: 1, data: text, at: 1 }],
});

describe('DemoState', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sockeye-demo-state-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips sessions, chat names, history and ticks through its file; expired sessions are dropped', async () => {
    const file = join(dir, 'nested', 'state.json');
    const state = new DemoState(file);
    await state.store.put({ snapshot: snapshot('live', 'hello'), expiresAt: 2000, topics: ['chat'] }, 0);
    await state.store.put({ snapshot: snapshot('old'), expiresAt: 1000 }, 0);
    state.chatNames.set('live', 'Ada');
    state.chatNames.set('old', 'Gone');
    state.addLine({ type: 'message', from: 'Ada', text: 'hi', time: 5 });
    state.ticks.set('live', 7);
    state.ticks.set('old', 3);
    state.save();
    const read = new DemoState(file).load(1500);
    // Names and ticks of the expired session go with it.
    assert.deepEqual([...read.chatNames], [['live', 'Ada']]);
    assert.deepEqual([...read.ticks], [['live', 7]]);
    const claim = { epoch: 'e1', newEpoch: 'e2', keepState: false, expiresAt: 3000 };
    const taken = await read.store.take('live', 1500, claim);
    assert.equal(taken.status, 'taken');
    const session = taken.status === 'taken' ? taken.session : undefined;
    assert.deepEqual(session?.snapshot.entries, [{ seq: 1, data: 'hello', at: 1 }]);
    assert.deepEqual(session?.topics, ['chat']);
    assert.deepEqual(await read.store.take('old', 1500, claim), { status: 'missing' });
    assert.deepEqual(read.history, [{ type: 'message', from: 'Ada', text: 'hi', time: 5 }]);
  });

  it('a missing file is an empty state; a broken one is ignored', () => {
    assert.equal(new DemoState(join(dir, 'none.json')).load().history.length, 0);
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{"v":1,"sessions":["not a session"]}');
    const original = console.error;
    const said: string[] = [];
    console.error = (message: string) => said.push(message);
    try {
      assert.equal(new DemoState(broken).load().chatNames.size, 0);
    } finally {
      console.error = original;
    }
    assert.match(said.join('\n'), /ignoring the state file/);
  });

  it(`keeps at most ${MAX_KEPT_SESSIONS} sessions (the oldest go) and ${HISTORY_LINES} lines`, async () => {
    const state = new DemoState();
    for (let i = 0; i <= MAX_KEPT_SESSIONS; i++) {
      await state.store.put({ snapshot: snapshot(`s${i}`), expiresAt: 10 }, 0);
    }
    assert.equal([...state.store.values()].length, MAX_KEPT_SESSIONS);
    assert.equal(state.store.has('s0'), false);
    assert.equal(state.store.has(`s${MAX_KEPT_SESSIONS}`), true);
    for (let i = 0; i < HISTORY_LINES + 5; i++)
      state.addLine({ type: 'message', from: 'a', text: `${i}`, time: i });
    assert.equal(state.history.length, HISTORY_LINES);
    assert.equal(state.history[0]!.text, '5');
    assert.equal(state.linesAdded, HISTORY_LINES + 5);
  });
});

describe('the control endpoint', () => {
  let dir = '';
  let on: DemoServer;
  let off: DemoServer;
  let brokered: DemoServer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sockeye-control-'));
    mkdirSync(join(dir, 'public'));
    writeFileSync(join(dir, 'public', 'index.html'), '<!doctype html><title>landing</title>');
    const publicDir = join(dir, 'public');
    on = await startDemoServer({ publicDir, port: 0, control: true });
    off = await startDemoServer({ publicDir, port: 0 });
    brokered = await startDemoServer({ publicDir, port: 0, control: true, broker: new InProcessBroker() });
  });
  after(async () => {
    await Promise.all([on?.close(), off?.close(), brokered?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (server: DemoServer, path: string, origin: string | null = server.origin) =>
    fetch(`${server.origin}${path}`, { method: 'POST', headers: origin === null ? {} : { origin } });

  it('answers same-origin POSTs only', async () => {
    assert.equal((await post(on, '/control/cut?tab=abc', null)).status, 403);
    assert.equal((await post(on, '/control/cut?tab=abc', 'http://evil.example')).status, 403);
    const get = await fetch(`${on.origin}/control/cut?tab=abc`);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
  });

  it('404 for a tab without a link, 400 for a bad tab, 404 for an unknown action', async () => {
    assert.equal((await post(on, '/control/cut?tab=abc')).status, 404);
    assert.equal((await post(on, '/control/blackhole?tab=abc')).status, 404);
    assert.equal((await post(on, '/control/cut?tab=a%20b')).status, 400);
    assert.equal((await post(on, '/control/explode')).status, 404);
  });

  it('restarts the socket services (204), and they answer again', async () => {
    assert.equal((await post(on, '/control/restart')).status, 204);
    const deadline = Date.now() + 30_000;
    while (true) {
      const page = await fetch(`${on.origin}/`);
      assert.equal(page.status, 200);
      const socket = new WebSocket(`ws://127.0.0.1:${on.port}/ws/echo`);
      const opened = await new Promise<boolean>((resolve) => {
        socket.onopen = () => resolve(true);
        socket.onerror = () => resolve(false);
      });
      socket.close();
      if (opened) break;
      assert.ok(Date.now() < deadline, 'the services came back');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  it('is off by default (the static files answer), and does not restart a demo with a broker (409)', async () => {
    assert.equal((await post(off, '/control/restart')).status, 405);
    assert.equal((await fetch(`${off.origin}/control/restart`)).status, 404);
    assert.equal((await post(brokered, '/control/restart')).status, 409);
  });
});
