/** SessionServer and ReconnectingWebSocket on loopback: negotiation, resume, loss, policies. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  HandshakeError,
  ReconnectingWebSocket,
  type ServerSession,
  type SessionEndReason,
  SessionError,
  SessionServer,
  WebSocket,
} from '../../src/index.js';
import {
  type ReconnectCloseEvent,
  type ReconnectingEvent,
  SESSION_PROTOCOL,
  type SessionLostEvent,
  type SessionOpenEvent,
} from '../../src/session/index.js';
import { listen } from '../server/helpers.js';
import { FaultProxy } from './fault-proxy.js';
import { client, listenSessions, next, until } from './helpers.js';

const servers: Pick<SessionServer, 'close'>[] = [];
after(async () => {
  for (const server of servers) await server.close({ timeout: 100 });
});

/** An echo server that records what each session said and how sessions ended. */
async function echoServer(options: { resumeWindow?: number } = {}) {
  const received: string[] = [];
  const ended: SessionEndReason[] = [];
  const sessions: ServerSession[] = [];
  const events: string[] = [];
  const { server, url } = await listenSessions({
    ...options,
    handlers: { message: (ws, data, isBinary) => ws.send(data, isBinary) },
    sessions: {
      open: (session) => {
        sessions.push(session);
        events.push('open');
      },
      resume: () => events.push('resume'),
      suspend: () => events.push('suspend'),
      message: (session, data, isBinary) => {
        received.push(isBinary ? `b:${(data as Buffer).toString()}` : (data as string));
        session.send(data, isBinary);
      },
      close: (_session, reason) => ended.push(reason),
    },
  });
  servers.push(server);
  return { server, url, received, ended, sessions, events };
}

describe('SessionServer', { timeout: 120_000 }, () => {
  it('leaves plain WebSocket clients as they were', async () => {
    const { url } = await echoServer();
    const ws = new WebSocket(url);
    await next(ws, 'open');
    assert.equal(ws.protocol, '');
    ws.send('plain');
    const echoed = await next<MessageEvent>(ws, 'message');
    assert.equal(echoed.data, 'plain');
    ws.close();
  });

  it('selects sockeye.session.v1 and refuses a first frame that is not a hello with 1002', async () => {
    const { url } = await echoServer();
    const ws = new WebSocket(url, [SESSION_PROTOCOL]);
    await next(ws, 'open');
    assert.equal(ws.protocol, SESSION_PROTOCOL);
    ws.send('dhello');
    const closed = await next<Event & { code: number }>(ws, 'close');
    assert.equal(closed.code, 1002);
  });

  it('opens a new session and carries text and binary both ways, types kept', async () => {
    const { url, received } = await echoServer();
    const c = client(url);
    const opened = await next<SessionOpenEvent>(c, 'open');
    assert.equal(opened.resumed, false);
    assert.ok(c.sessionId.length > 0);
    const got: unknown[] = [];
    c.addEventListener('message', (event) => got.push((event as MessageEvent).data));
    c.send('text');
    c.send(new Uint8Array([0x62, 0x69, 0x6e]));
    await until(() => got.length === 2, 'two echoes');
    assert.equal(got[0], 'text');
    assert.ok(got[1] instanceof ArrayBuffer);
    assert.deepEqual(new Uint8Array(got[1] as ArrayBuffer), new Uint8Array([0x62, 0x69, 0x6e]));
    assert.deepEqual(received, ['text', 'b:bin']);
    await until(() => c.bufferedMessages === 0, 'the server to acknowledge');
    c.close();
  });

  it('resumes after a cut: the same session object, nothing lost or repeated either way', async () => {
    const { url, received, sessions, events } = await echoServer();
    const c = client(url);
    await next(c, 'open');
    const got: string[] = [];
    c.addEventListener('message', (event) => got.push((event as MessageEvent).data as string));
    c.send('1');
    c.reconnect();
    // Sent while the link is down, both ways.
    c.send('2');
    sessions[0]!.send('from server while away');
    const resumed = await next<SessionOpenEvent>(c, 'open');
    assert.equal(resumed.resumed, true);
    c.send('3');
    await until(() => got.length === 4, 'four messages');
    assert.deepEqual(received, ['1', '2', '3']);
    assert.deepEqual(got.slice().sort(), ['1', '2', '3', 'from server while away'].sort());
    assert.deepEqual(
      got.filter((m) => m !== 'from server while away'),
      ['1', '2', '3'],
    );
    assert.equal(sessions.length, 1);
    assert.ok(events.includes('suspend') && events.includes('resume'));
    c.close();
  });

  it('tells the client when the server lost the session, and carries over what was never sent', async () => {
    const { url, received, ended } = await echoServer({ resumeWindow: 40 });
    const window = new EventTarget();
    const navigator = { onLine: true };
    const c = client(url, { lifecycle: true, environment: { window, navigator } });
    await next(c, 'open');
    const firstId = c.sessionId;
    c.send('acknowledged');
    await until(() => c.acknowledged === 1, 'the ack');
    navigator.onLine = false; // the client waits for `online` instead of retrying
    c.reconnect();
    c.send('queued while offline');
    await until(() => ended.includes('expired'), 'the session to expire');
    const lost = next<SessionLostEvent>(c, 'sessionlost');
    const opened = next<SessionOpenEvent>(c, 'open');
    navigator.onLine = true;
    window.dispatchEvent(new Event('online'));
    assert.deepEqual((await lost).unacknowledged, []);
    const open = await opened;
    assert.equal(open.resumed, false);
    assert.notEqual(c.sessionId, firstId);
    await until(() => received.length === 2, 'the carried message');
    assert.deepEqual(received, ['acknowledged', 'queued while offline']);
    c.close();
  });

  it('ends the session when the client closes: the server hears "ended"', async () => {
    const { url, ended } = await echoServer();
    const c = client(url);
    await next(c, 'open');
    const closed = next<ReconnectCloseEvent>(c, 'close');
    c.close(1000, 'bye');
    assert.equal((await closed).code, 1000);
    assert.equal(c.state, 'closed');
    await until(() => ended.includes('ended'), 'the server to see the end');
    assert.throws(
      () => c.send('late'),
      (error: unknown) => error instanceof SessionError && error.rule === 'session-ended',
    );
  });

  it('stops for good when the server ends the session', async () => {
    const { url, sessions } = await echoServer();
    const c = client(url);
    await next(c, 'open');
    let reconnecting = 0;
    c.addEventListener('reconnecting', () => reconnecting++);
    const closed = next<ReconnectCloseEvent>(c, 'close');
    sessions[0]!.close(1000, 'done');
    const event = await closed;
    assert.equal(event.reason, 'done');
    assert.equal(reconnecting, 0);
  });

  for (const code of [1008, 1003, 4401]) {
    it(`stops on close code ${code}`, async () => {
      const { url, sessions } = await echoServer();
      const c = client(url);
      await next(c, 'open');
      const closed = next<ReconnectCloseEvent>(c, 'close');
      sessions[0]!.link!.close(code, 'no');
      assert.equal((await closed).code, code);
      assert.equal(c.state, 'closed');
    });
  }

  it('retries 1012 within the window the server hints', async () => {
    const { url, sessions } = await echoServer();
    const c = client(url, { random: () => 0.5, minDelay: 60_000, maxDelay: 60_000 });
    await next(c, 'open');
    const reconnecting = next<ReconnectingEvent>(c, 'reconnecting');
    sessions[0]!.link!.close(1012, 'retry-after=80');
    const event = await reconnecting;
    assert.equal(event.code, 1012);
    assert.equal(event.delay, 40);
    assert.equal((await next<SessionOpenEvent>(c, 'open')).resumed, true);
    c.close();
  });

  it('asks shouldReconnect, and gives up after maxRetries', async () => {
    const { url, sessions } = await echoServer();
    const c = client(url, { shouldReconnect: (event) => event.code !== 4000 });
    await next(c, 'open');
    const closed = next<ReconnectCloseEvent>(c, 'close');
    sessions[0]!.link!.close(4000, 'custom stop');
    assert.equal((await closed).code, 4000);

    const r = client('ws://127.0.0.1:1', { maxRetries: 2, minDelay: 1, maxDelay: 2 });
    let attempts = 0;
    r.addEventListener('reconnecting', () => attempts++);
    await next(r, 'close');
    assert.equal(attempts, 2);
  });

  it('stops when the handshake is refused with 401', async () => {
    const { server, url } = await listenSessions({
      authenticate: () => {
        throw new HandshakeError(401, 'who are you');
      },
      sessions: {},
    });
    servers.push(server);
    const c = client(url);
    let reconnecting = 0;
    c.addEventListener('reconnecting', () => reconnecting++);
    await next(c, 'close');
    assert.equal(reconnecting, 0);
  });

  it('bounds the outbound queue: error by default, or drop', async () => {
    const c = client('ws://127.0.0.1:1', { maxQueuedMessages: 2, minDelay: 10_000, maxDelay: 10_000 });
    c.send('a');
    c.send('b');
    assert.throws(
      () => c.send('c'),
      (error: unknown) => error instanceof SessionError && error.rule === 'queue-full',
    );
    c.close();
    const d = client('ws://127.0.0.1:1', {
      maxQueuedBytes: 3,
      queueFull: 'drop',
      minDelay: 10_000,
      maxDelay: 10_000,
    });
    const dropped: unknown[] = [];
    d.addEventListener('drop', (event) => dropped.push((event as Event & { data: unknown }).data));
    d.send('abc');
    d.send('d');
    assert.deepEqual(dropped, ['d']);
    assert.equal(d.bufferedAmount, 3);
    d.close();
  });

  it('answers heartbeats', async () => {
    const { url } = await echoServer();
    const c = client(url, { heartbeatInterval: 20, heartbeatTimeout: 5000 });
    await next(c, 'open');
    const beat = await next<Event & { rtt: number }>(c, 'heartbeat');
    assert.ok(beat.rtt >= 0);
    c.close();
  });

  it('closes a session link that never says hello with 1002', async () => {
    const { server, url } = await listenSessions({ sessions: {}, helloTimeout: 1, resumeWindow: 40 });
    servers.push(server);
    const ws = new WebSocket(url, [SESSION_PROTOCOL]);
    const closed = await next<Event & { code: number }>(ws, 'close');
    assert.equal(closed.code, 1002);
  });

  it('ends a session whose client acknowledges a message never sent (1002)', async () => {
    const { url, ended } = await echoServer();
    const ws = new WebSocket(url, [SESSION_PROTOCOL]);
    await next(ws, 'open');
    ws.send('h 0');
    const welcome = await next<MessageEvent>(ws, 'message');
    assert.match(welcome.data as string, /^w [\w-]+ [\w-]+ 0 n$/);
    ws.send('a 5');
    const closed = await next<Event & { code: number }>(ws, 'close');
    assert.equal(closed.code, 1002);
    await until(() => ended.includes('error'), 'the session to end');
  });

  it('keeps at most maxSuspendedSessions, ending the one suspended longest', async () => {
    const ended: string[] = [];
    const { server, url } = await listenSessions({
      maxSuspendedSessions: 2,
      sessions: { close: (session, reason) => ended.push(`${session.id}:${reason}`) },
    });
    servers.push(server);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const ws = new WebSocket(url, [SESSION_PROTOCOL]);
      await next(ws, 'open');
      ws.send('h 0');
      ids.push(((await next<MessageEvent>(ws, 'message')).data as string).split(' ')[1]!);
      ws.close();
      await next(ws, 'close');
      await until(
        () => server.sessionsById.get(ids[i]!)?.state === 'suspended' || ended.length > 0,
        'suspended',
      );
    }
    await until(() => ended.length === 1, 'one session to end');
    assert.deepEqual(ended, [`${ids[0]}:expired`]);
    assert.equal(server.sessionsById.size, 2);
  });

  it('checks a quiet link when the page becomes visible again, against the wall clock', async () => {
    const { url } = await echoServer();
    let clock = 1_000_000;
    const document = Object.assign(new EventTarget(), { visibilityState: 'visible' });
    const window = new EventTarget();
    const c = client(url, {
      lifecycle: true,
      environment: { window, document },
      now: () => clock,
      heartbeatInterval: 1_000_000,
      heartbeatTimeout: 1_000_000,
    });
    await next(c, 'open');
    // Timers would not fire for a long time; the page wakes after the interval passed.
    clock += 1_000_001;
    const beat = next(c, 'heartbeat');
    document.dispatchEvent(new Event('visibilitychange'));
    await beat;
    c.close();
  });

  it('a send on a quiet link checks it first; a missed deadline found on pageshow reconnects at once and resumes', async () => {
    const { server } = await echoServer();
    const proxy = new FaultProxy(server.address()!.port);
    const url = await proxy.listen();
    let clock = 1_000_000;
    const window = new EventTarget();
    const c = client(url, {
      lifecycle: true,
      environment: { window },
      now: () => clock,
      heartbeatInterval: 1_000_000,
      heartbeatTimeout: 1_000_000,
      maxMessageAge: 10_000_000, // the fake clock jumps: keep the message replayable
      random: () => 0,
    });
    const got: string[] = [];
    c.addEventListener('message', (event) => got.push((event as MessageEvent).data as string));
    await next(c, 'open');
    proxy.blackhole(); // a half-open link: nothing arrives, nobody is told
    clock += 1_000_001;
    c.send('check'); // quiet past the interval: a heartbeat goes out before it
    clock += 1_000_001; // the heartbeat's deadline passes while the page sleeps
    const reconnecting = next<ReconnectingEvent>(c, 'reconnecting');
    window.dispatchEvent(new Event('pageshow'));
    assert.equal((await reconnecting).code, 1006);
    assert.equal((await next<SessionOpenEvent>(c, 'open')).resumed, true);
    await until(() => got.length === 1, 'the echo');
    assert.deepEqual(got, ['check']);
    c.close();
    await proxy.close();
  });

  it('ends a session whose replay aged out on the client and starts a new one, with one sessionlost', async () => {
    const { url, ended, received } = await echoServer();
    let clock = 1_000_000;
    const window = new EventTarget();
    const navigator = { onLine: true };
    const c = client(url, {
      lifecycle: true,
      environment: { window, navigator },
      now: () => clock,
      maxMessageAge: 1000,
    });
    await next(c, 'open');
    const first = c.sessionId;
    navigator.onLine = false;
    c.reconnect();
    c.send('too old');
    clock += 2000;
    let lost = 0;
    c.addEventListener('sessionlost', () => lost++);
    const opened = next<SessionOpenEvent>(c, 'open');
    navigator.onLine = true;
    window.dispatchEvent(new Event('online'));
    const open = await opened;
    assert.equal(open.resumed, false);
    assert.notEqual(c.sessionId, first);
    assert.equal(lost, 1);
    await until(() => ended.includes('ended'), 'the old session to end');
    c.send('fresh');
    await until(() => received.includes('fresh'), 'the new session to carry messages');
    assert.ok(!received.includes('too old'));
    c.close();
  });

  it('refuses close codes that may not be sent, and changes nothing then', async () => {
    const { url, sessions } = await echoServer();
    const c = client(url);
    await next(c, 'open');
    assert.throws(() => sessions[0]!.close(1005), RangeError);
    assert.throws(() => sessions[0]!.close(1000, 'é'.repeat(62)), RangeError);
    assert.equal(sessions[0]!.state, 'linked');
    assert.throws(() => c.close(1001), RangeError);
    assert.throws(() => c.close(1000, 'r'.repeat(124)), RangeError);
    assert.equal(c.state, 'open');
    c.close(4000, 'fine');
    assert.equal(c.state, 'closed');
  });

  it('refuses options that would spin, stall or keep nothing', () => {
    const bad = [
      { minDelay: -1 },
      { minDelay: 100, maxDelay: 10 },
      { connectTimeout: 0 },
      { heartbeatInterval: Number.NaN },
      { maxQueuedMessages: 0 },
      { queueFull: 'grow' as 'drop' },
    ];
    for (const options of bad) {
      assert.throws(() => client('ws://127.0.0.1:1', options), RangeError, JSON.stringify(options));
    }
    for (const options of [{ resumeWindow: 0 }, { helloTimeout: -5 }, { maxSuspendedSessions: 1.5 }]) {
      assert.throws(() => new SessionServer({ noServer: true, sessions: {}, ...options }), RangeError);
    }
  });

  it('has the WebSocket shape: on<event> handler properties and the readyState constants', async () => {
    const { url } = await echoServer();
    const c = client(url);
    assert.equal(c.onmessage, null);
    assert.equal(c.readyState, ReconnectingWebSocket.CONNECTING);
    const opened = new Promise<SessionOpenEvent>((resolve) => {
      c.onopen = resolve;
    });
    assert.equal((await opened).resumed, false);
    assert.equal(c.readyState, ReconnectingWebSocket.OPEN);
    const echoed = new Promise<MessageEvent>((resolve) => {
      c.onmessage = resolve;
    });
    c.send('shape');
    assert.equal((await echoed).data, 'shape');
    c.onmessage = null;
    assert.equal(c.onmessage, null);
    const closed = new Promise<ReconnectCloseEvent>((resolve) => {
      c.onclose = resolve;
    });
    c.close();
    assert.equal((await closed).code, 1000);
    assert.equal(c.readyState, ReconnectingWebSocket.CLOSED);
  });

  it('a session handler that throws ends that session only, and is reported', async () => {
    const errors: unknown[] = [];
    const ended: string[] = [];
    const { server, url } = await listenSessions({
      sessions: {
        message: (_session, data) => {
          if (data === 'boom') throw new Error('handler failed');
        },
        close: (_session, reason) => ended.push(reason),
      },
    });
    servers.push(server);
    server.server.on('error', (error) => errors.push(error));
    const c = client(url);
    await next(c, 'open');
    const closed = next<ReconnectCloseEvent>(c, 'close');
    c.send('boom');
    const event = await closed;
    assert.equal(event.reason, 'handler error');
    await until(() => errors.length === 1, 'the report');
    assert.deepEqual(ended, ['error']);
    // The server carries on.
    const d = client(url);
    assert.equal((await next<SessionOpenEvent>(d, 'open')).resumed, false);
    d.close();
  });

  it('reports backpressure: a send above highWaterMark is queued, and drain follows', async () => {
    const statuses: string[] = [];
    let drained = 0;
    const { server, url } = await listenSessions({
      highWaterMark: 1,
      sessions: {
        open: (session) => {
          statuses.push(session.send('more than one byte'));
        },
        drain: () => drained++,
      },
    });
    servers.push(server);
    const c = client(url);
    const message = next(c, 'message'); // it may come in the same read as the welcome
    await message;
    await until(() => drained >= 1, 'drain');
    assert.deepEqual(statuses, ['queued']);
    c.close();
  });

  it('gives up on a server that does not speak sockeye.session.v1', async () => {
    const { server, url } = await listen({ handlers: {} });
    const c = client(url);
    let reconnecting = 0;
    c.addEventListener('reconnecting', () => reconnecting++);
    await next<ReconnectCloseEvent>(c, 'close');
    assert.equal(c.state, 'closed');
    assert.equal(reconnecting, 0);
    await server.close();
  });
});

describe('what a session sends', { timeout: 60_000 }, () => {
  it('with decodeText: false, text reaches the handler as UTF-8 bytes, and echoed as they are it arrives as the same strings, across a cut', async () => {
    const texts = ['héllo', '日本語のテキスト', 'emoji 👋🏽 and a 𝄞 clef', '', 'ascii only'];
    const handed: [boolean, boolean][] = [];
    const sessions: ServerSession[] = [];
    const { server, url } = await listenSessions({
      decodeText: false,
      sessions: {
        open: (session) => sessions.push(session),
        message: (session, data, isBinary) => {
          handed.push([Buffer.isBuffer(data), isBinary]);
          session.send(data, isBinary); // the bytes as they came: kept as bytes, framed once
        },
      },
    });
    servers.push(server);
    const c = client(url);
    await next(c, 'open');
    const got: unknown[] = [];
    c.addEventListener('message', (event) => got.push((event as MessageEvent).data));
    for (const text of texts.slice(0, 2)) c.send(text);
    await until(() => got.length === 2, 'the first echoes');
    c.reconnect();
    // While the link is down, both ways: the client's wait in its queue, the server's
    // (bytes, sent as text) in the replay buffer.
    for (const text of texts.slice(2)) c.send(text);
    sessions[0]!.send(Buffer.from('from the server: ✓'), false);
    assert.equal((await next<SessionOpenEvent>(c, 'open')).resumed, true);
    await until(() => got.length === texts.length + 1, 'every echo');
    assert.deepEqual(
      got.filter((data) => data !== 'from the server: ✓'),
      texts,
    );
    assert.ok(got.includes('from the server: ✓'));
    assert.ok(handed.every(([buffer, isBinary]) => buffer && !isBinary));
    assert.equal(sessions.length, 1);
    c.close();
  });

  it('sends a Buffer given as text that is not UTF-8 as its decoding (U+FFFD), never as a text message the client refuses', async () => {
    const { server, url } = await listenSessions({
      sessions: { open: (session) => session.send(Buffer.from([0x61, 0xff, 0x62, 0xc3]), false) },
    });
    servers.push(server);
    const c = client(url);
    const got = await next<MessageEvent>(c, 'message');
    assert.equal(got.data, 'a\uFFFDb\uFFFD');
    assert.equal(c.state, 'open');
    c.close();
  });

  it('keeps its type whatever it is given: text from bytes, binary from a string, copies of views', async () => {
    const shared = Buffer.from('xx héllo yy');
    const { server, url } = await listenSessions({
      sessions: {
        open: (session) => {
          session.send(shared.subarray(3, 9), false); // text given as UTF-8 bytes (a view)
          session.send('bin', true); // binary given as a string
          session.send(new Uint8Array([1, 2, 3]).buffer, true);
          session.send(new DataView(new Uint8Array([9, 8, 7, 6]).buffer, 1, 2), true);
          shared.fill(0); // the caller reuses its buffer: what was sent is kept apart
        },
      },
    });
    const got: unknown[] = [];
    const c = client(url);
    c.addEventListener('message', (event) => got.push((event as MessageEvent).data));
    await until(() => got.length === 4, 'four messages');
    assert.equal(got[0], 'héllo');
    assert.deepEqual(
      got.slice(1).map((data) => [...new Uint8Array(data as ArrayBuffer)]),
      [
        [0x62, 0x69, 0x6e],
        [1, 2, 3],
        [8, 7],
      ],
    );
    c.close();
    await server.close();
  });
});
