/**
 * The reconnecting client in Chromium and the page lifecycle: a page hidden then visible
 * again whose link died meanwhile without a word (a black hole), and a page that goes
 * into the back/forward cache and comes back. The client's backoff here is a minute, so
 * only its lifecycle handling can bring it back within the hang guards. Loads the built
 * `dist/session` modules with no bundler (`tsc -b` runs before the tests in `npm test`).
 *
 * Headless Chromium keeps every page visible, so "hidden" is `document.visibilityState`
 * overridden in the page plus a real `visibilitychange` event; the back/forward cache is
 * Chromium's own (on for this browser), checked through DevTools.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { type Browser, eventually, launchChromium } from '../../../../scripts/lib/chromium.js';
import { CHROMIUM, missing, ROOT } from '../../../../scripts/lib/prereqs.js';
import type { ServerSession, SessionServer } from '../../src/index.js';
import { FaultProxy } from './fault-proxy.js';
import { listenSessions, until } from './helpers.js';

const DIST = join(ROOT, 'packages', 'sockeye', 'dist', 'session');

const PAGE = `<!doctype html><meta charset="utf-8"><title>sessions</title>
<script type="module">
  import { ReconnectingWebSocket } from '/session/index.js';
  window.log = [];
  addEventListener('pagehide', (event) => log.push('pagehide ' + event.persisted));
  addEventListener('pageshow', (event) => log.push('pageshow ' + event.persisted));
  window.start = (url) => new Promise((resolve) => {
    // A backoff of about a minute and a heartbeat every minute: only the page's events can
    // bring it back in time. The heartbeat's answer is due within 2 s.
    const ws = new ReconnectingWebSocket(url, {
      minDelay: 60000, maxDelay: 60000, random: () => 0.999, heartbeatInterval: 60000, heartbeatTimeout: 2000,
    });
    window.ws = ws;
    window.got = [];
    window.opens = [];
    ws.addEventListener('message', (event) => got.push(event.data));
    ws.addEventListener('open', (event) => { opens.push(event.resumed); resolve(ws.sessionId); });
  });
  window.setVisibility = (state) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => state });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => state === 'hidden' });
    document.dispatchEvent(new Event('visibilitychange'));
  };
</script>`;

/** Serve the page at `/`, another page at `/elsewhere`, and the built `dist/session` files at `/session/`. */
async function serve(): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    const url = request.url ?? '/';
    if (url === '/' || url === '/elsewhere') {
      const body = url === '/' ? PAGE : '<!doctype html><title>elsewhere</title><p>elsewhere</p>';
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(body);
      return;
    }
    const match = /^\/session\/([a-z-]+\.js)$/.exec(url);
    const file = match === null ? '' : join(DIST, match[1]!);
    if (file !== '' && existsSync(file)) {
      response.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(file));
    } else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

interface PageGlobals {
  start(url: string): Promise<string>;
  setVisibility(state: string): void;
  ws: { send(data: string): void; close(): void; state: string };
  got: string[];
  opens: boolean[];
  log: string[];
}
const globals = (page: Page) => ({
  start: (url: string) => page.evaluate((u) => (window as unknown as PageGlobals).start(u), url),
  send: (data: string) => page.evaluate((d) => (window as unknown as PageGlobals).ws.send(d), data),
  setVisibility: (state: string) =>
    page.evaluate((s) => (window as unknown as PageGlobals).setVisibility(s), state),
  read: () =>
    page.evaluate(() => {
      const g = window as unknown as PageGlobals;
      return { got: g.got, opens: g.opens, log: g.log, state: g.ws.state };
    }),
  close: () => page.evaluate(() => (window as unknown as PageGlobals).ws.close()),
});

const skip = missing(CHROMIUM, 'chromium');

describe('sessions in Chromium: page lifecycle', { skip, timeout: 120_000 }, () => {
  let sessions: SessionServer;
  let port: number;
  let http: Server;
  let pageUrl: string;
  let browser: Browser;
  const received = new Map<string, string[]>();
  const events: string[] = [];
  const byId = new Map<string, ServerSession>();

  before(async () => {
    ({ server: sessions, port } = await listenSessions({
      origins: '*', // the page is served from another port
      sessions: {
        open: (session) => {
          received.set(session.id, []);
          byId.set(session.id, session);
          events.push('open');
        },
        suspend: () => events.push('suspend'),
        resume: () => events.push('resume'),
        message: (session, data) => received.get(session.id)!.push(data as string),
      },
    }));
    const served = await serve();
    http = served.server;
    pageUrl = served.url;
    browser = await launchChromium({ backForwardCache: true });
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => (http ? http.close(resolve) : resolve(undefined)));
    await sessions?.close({ timeout: 100 });
  });

  it('hidden then visible: a link that died unannounced meanwhile is checked and replaced at once, nothing lost', async () => {
    const proxy = new FaultProxy(port);
    const url = await proxy.listen();
    const page = await browser.context.newPage();
    const g = globals(page);
    try {
      await page.goto(pageUrl);
      events.length = 0;
      const id = await g.start(url);
      await g.setVisibility('hidden');
      proxy.blackhole(); // no FIN, no reset: the page cannot tell
      byId.get(id)!.send('while hidden');
      await g.send('from the hidden page');
      await g.setVisibility('visible');
      await eventually(async () => (await g.read()).got.length === 1, 'the replayed message', 30_000);
      await until(() => received.get(id)!.length === 1, 'the page’s message', 30_000);
      const seen = await g.read();
      assert.deepEqual(seen.got, ['while hidden']);
      assert.deepEqual(received.get(id), ['from the hidden page']);
      assert.deepEqual(seen.opens, [false, true]);
      assert.equal(seen.state, 'open');
    } finally {
      await g.close().catch(() => {});
      await page.close();
      await proxy.close();
    }
  });

  it('back/forward cache: the page is cached (its link closed on pagehide), restored and resumed, nothing lost', async () => {
    const page = await browser.context.newPage();
    const g = globals(page);
    const cdp = await browser.context.newCDPSession(page);
    const notCached: string[] = [];
    cdp.on('Page.backForwardCacheNotUsed', (event) =>
      notCached.push(JSON.stringify(event.notRestoredExplanations)),
    );
    await cdp.send('Page.enable');
    try {
      await page.goto(pageUrl);
      events.length = 0;
      const id = await g.start(`ws://127.0.0.1:${port}/`);
      await g.send('before leaving');
      await page.goto(new URL('/elsewhere', pageUrl).href);
      await until(() => byId.get(id)!.state === 'suspended', 'the session to be suspended', 30_000);
      byId.get(id)!.send('while away');
      await page.goBack({ waitUntil: 'commit' }); // a page from the cache fires no load event
      await eventually(async () => (await g.read()).got.length === 1, 'the message sent while away', 30_000);
      await g.send('after coming back');
      await until(() => received.get(id)!.length === 2, 'the page’s messages', 30_000);
      const seen = await g.read();
      assert.deepEqual(notCached, [], 'Chromium did not use the back/forward cache');
      assert.deepEqual(seen.log, ['pageshow false', 'pagehide true', 'pageshow true']);
      assert.deepEqual(seen.got, ['while away']);
      assert.deepEqual(received.get(id), ['before leaving', 'after coming back']);
      assert.deepEqual(seen.opens, [false, true]);
      assert.deepEqual(events, ['open', 'suspend', 'resume']);
    } finally {
      await g.close().catch(() => {});
      await page.close();
    }
  });
});
