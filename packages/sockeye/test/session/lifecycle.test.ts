/**
 * The reconnecting client and the page lifecycle, with the page's events given as
 * `environment` (the same code runs in Chromium in `browser.test.ts`): a page that comes
 * back checks its link at once, and one that goes into the back/forward cache closes its
 * link and resumes when it is shown again. The backoff here is a minute, so only the
 * lifecycle handling can bring a client back within the tests' hang guards.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { ServerSession, SessionOpenEvent, SessionServer } from '../../src/index.js';
import { FaultProxy } from './fault-proxy.js';
import { client, listenSessions, next, until } from './helpers.js';

const servers: SessionServer[] = [];
const proxies: FaultProxy[] = [];
after(async () => {
  for (const proxy of proxies) await proxy.close();
  for (const server of servers) await server.close({ timeout: 100 });
});

/** A session server behind a fault proxy, recording what each session said and its lifecycle. */
async function setup() {
  const received: string[] = [];
  const events: string[] = [];
  const sessions: ServerSession[] = [];
  const { server, port } = await listenSessions({
    sessions: {
      open: (session) => {
        sessions.push(session);
        events.push('open');
      },
      resume: () => events.push('resume'),
      suspend: () => events.push('suspend'),
      message: (_session, data) => received.push(data as string),
    },
  });
  servers.push(server);
  const proxy = new FaultProxy(port);
  proxies.push(proxy);
  const url = await proxy.listen();
  return { url, proxy, received, events, sessions };
}

/** The options of a client whose backoff would take a minute: only lifecycle events bring it back quickly. */
const SLOW = {
  lifecycle: true,
  minDelay: 60_000,
  maxDelay: 60_000,
  random: () => 0.999,
  heartbeatInterval: 60_000,
  // The check's answer is due within 2 s: a hang guard for a dead link, ample for a live one on a loaded machine.
  heartbeatTimeout: 2000,
} as const;

/** A hang guard per test, so that each failing test is reported on its own. */
const GUARD = { timeout: 20_000 };

function page() {
  const window = new EventTarget();
  const document = Object.assign(new EventTarget(), { visibilityState: 'visible' });
  return { window, document, navigator: { onLine: true } };
}

function pageTransition(type: 'pagehide' | 'pageshow', persisted: boolean): Event {
  return Object.assign(new Event(type), { persisted });
}

describe('the reconnecting client and the page lifecycle', () => {
  it(
    'checks the link when the page becomes visible, however recently something arrived, and reconnects at once when it is dead',
    GUARD,
    async () => {
      const { url, proxy, received, sessions } = await setup();
      const environment = page();
      const c = client(url, { ...SLOW, environment });
      const got: string[] = [];
      c.addEventListener('message', (event) => got.push((event as MessageEvent).data as string));
      await next(c, 'open');
      environment.document.visibilityState = 'hidden';
      environment.document.dispatchEvent(new Event('visibilitychange'));
      proxy.blackhole(); // the link dies while the page is hidden, and nobody is told
      sessions[0]!.send('while hidden');
      c.send('from the hidden page');
      const reopened = next<SessionOpenEvent>(c, 'open');
      environment.document.visibilityState = 'visible';
      environment.document.dispatchEvent(new Event('visibilitychange'));
      assert.equal((await reopened).resumed, true);
      await until(() => got.length === 1 && received.length === 1, 'both messages, replayed');
      assert.deepEqual(got, ['while hidden']);
      assert.deepEqual(received, ['from the hidden page']);
      c.close();
    },
  );

  it('a live link answers the check on visible and stays', GUARD, async () => {
    const { url, events } = await setup();
    const environment = page();
    const c = client(url, { ...SLOW, environment });
    await next(c, 'open');
    const beat = next(c, 'heartbeat');
    environment.document.dispatchEvent(new Event('visibilitychange'));
    await beat;
    assert.equal(c.state, 'open');
    assert.deepEqual(events, ['open']);
    c.close();
  });

  it(
    'closes its link on pagehide into the back/forward cache and resumes on pageshow, nothing lost',
    GUARD,
    async () => {
      const { url, received, events, sessions } = await setup();
      const environment = page();
      const c = client(url, { ...SLOW, environment });
      const got: string[] = [];
      c.addEventListener('message', (event) => got.push((event as MessageEvent).data as string));
      await next(c, 'open');
      c.send('before');
      environment.window.dispatchEvent(pageTransition('pagehide', false)); // not into the cache: nothing to do
      assert.equal(c.state, 'open');
      environment.window.dispatchEvent(pageTransition('pagehide', true));
      assert.equal(c.state, 'reconnecting');
      await until(() => sessions[0]!.state === 'suspended', 'the server to suspend the session');
      sessions[0]!.send('while cached');
      c.send('after');
      const reopened = next<SessionOpenEvent>(c, 'open');
      environment.window.dispatchEvent(pageTransition('pageshow', true));
      assert.equal((await reopened).resumed, true);
      await until(() => got.length === 1 && received.length === 2, 'both directions, replayed');
      assert.deepEqual(got, ['while cached']);
      assert.deepEqual(received, ['before', 'after']);
      assert.deepEqual(events, ['open', 'suspend', 'resume']);
      c.close();
    },
  );

  it('pagehide while waiting to retry cancels the retry; pageshow connects', GUARD, async () => {
    const { url, proxy, events } = await setup();
    const environment = page();
    const c = client(url, { ...SLOW, environment });
    await next(c, 'open');
    const reconnecting = next(c, 'reconnecting');
    proxy.cut();
    await reconnecting; // the next attempt would be in a minute
    environment.window.dispatchEvent(pageTransition('pagehide', true));
    assert.equal(c.state, 'reconnecting');
    const reopened = next<SessionOpenEvent>(c, 'open');
    environment.window.dispatchEvent(pageTransition('pageshow', true));
    assert.equal((await reopened).resumed, true);
    assert.deepEqual(events, ['open', 'suspend', 'resume']);
    c.close();
  });
});
