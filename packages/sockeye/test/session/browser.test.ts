/**
 * The reconnecting client in Chromium, loaded as the built ES modules of
 * `@sockeye/sockeye/session` with no bundler (a `<script type="module">` importing
 * `dist/session/index.js`), against a SessionServer behind the fault proxy: the link is
 * cut twice while both sides stream, and both directions still deliver exactly what was
 * sent. Reads the build (`tsc -b` runs before the tests in `npm test`).
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
import type { SessionServer } from '../../src/index.js';
import { FaultProxy } from './fault-proxy.js';
import { listenSessions, until } from './helpers.js';

const DIST = join(ROOT, 'packages', 'sockeye', 'dist', 'session');
const COUNT = 40;

const PAGE = `<!doctype html><meta charset="utf-8"><title>sessions</title>
<script type="module">
  import { ReconnectingWebSocket } from '/session/index.js';
  window.start = (url, slow) => new Promise((resolve) => {
    // slow: a backoff of about a minute, so only the page's events can bring it back in time.
    // (Its heartbeat is quick: an offline page gets no close event for a cut link.)
    const backoff = slow
      ? { minDelay: 60000, maxDelay: 60000, random: () => 0.999, heartbeatInterval: 200, heartbeatTimeout: 500 }
      : { minDelay: 20, maxDelay: 200 };
    const ws = new ReconnectingWebSocket(url, backoff);
    window.ws = ws;
    window.got = [];
    window.opens = [];
    ws.addEventListener('message', (event) => window.got.push(event.data));
    ws.addEventListener('open', (event) => { window.opens.push(event.resumed); resolve(ws.sessionId); });
  });
</script>`;

/** Serve the page at `/` and the built `dist/session` files at `/session/`. */
async function serve(): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    const url = request.url ?? '/';
    if (url === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
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

const skip = missing(CHROMIUM, 'chromium');

describe('sessions in Chromium', { skip, timeout: 90_000 }, () => {
  let sessions: SessionServer;
  let port: number;
  let http: Server;
  let browser: Browser;
  let page: Page;
  const received = new Map<string, string[]>();

  before(async () => {
    ({ server: sessions, port } = await listenSessions({
      origins: '*', // the page is served from another port
      sessions: {
        open: (session) => {
          received.set(session.id, []);
          let i = 0;
          const timer = setInterval(() => {
            if (i === COUNT || session.state === 'closed') clearInterval(timer);
            else session.send(`s${i++}`);
          }, 5);
        },
        message: (session, data) => received.get(session.id)!.push(data as string),
      },
    }));
    const served = await serve();
    http = served.server;
    browser = await launchChromium();
    page = await browser.context.newPage();
    await page.goto(served.url);
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => (http ? http.close(resolve) : resolve(undefined)));
    await sessions?.close({ timeout: 100 });
  });

  const start = (url: string, slow: boolean): Promise<string> =>
    page.evaluate(
      ([u, s]) => (window as unknown as { start(u: string, s: boolean): Promise<string> }).start(u, s),
      [url, slow] as const,
    );
  const state = (): Promise<string> =>
    page.evaluate(() => (window as unknown as { ws: { state: string } }).ws.state);

  it('loads without a bundler, and resumes across cuts with nothing lost, repeated or reordered', async () => {
    const proxy = new FaultProxy(port);
    const url = await proxy.listen();
    try {
      const id = await page.evaluate(
        (u) => (window as unknown as { start(u: string): Promise<string> }).start(u),
        url,
      );
      for (let i = 0; i < COUNT; i++) {
        if (i === 10 || i === 25) proxy.cut();
        await page.evaluate(
          (m) => (window as unknown as { ws: { send(m: string): void } }).ws.send(m),
          `c${i}`,
        );
      }
      const got = () => page.evaluate(() => (window as unknown as { got: string[] }).got);
      await until(() => (received.get(id)?.length ?? 0) >= COUNT, 'the page’s messages', 60_000);
      await eventually(async () => (await got()).length >= COUNT, 'the server’s messages');
      const seen = await got();
      assert.deepEqual(
        received.get(id),
        Array.from({ length: COUNT }, (_, i) => `c${i}`),
      );
      assert.deepEqual(
        seen,
        Array.from({ length: COUNT }, (_, i) => `s${i}`),
      );
      const opens = await page.evaluate(() => (window as unknown as { opens: boolean[] }).opens);
      assert.equal(opens[0], false);
      assert.ok(opens.length >= 2 && opens.slice(1).every((resumed) => resumed), `opens: ${opens}`);
    } finally {
      await proxy.close();
    }
  });

  it('does not try while offline, and comes back at once when the network does (DevTools network emulation)', async () => {
    const proxy = new FaultProxy(port);
    const url = await proxy.listen();
    try {
      const id = await start(url, true);
      await browser.context.setOffline(true);
      proxy.cut();
      await eventually(async () => (await state()) === 'reconnecting', 'the cut to be seen');
      await page.evaluate(() =>
        (window as unknown as { ws: { send(m: string): void } }).ws.send('sent offline'),
      );
      await browser.context.setOffline(false); // 'online': reconnect now, not in a minute
      await until(
        () => received.get(id)?.includes('sent offline') === true,
        'the message sent offline',
        30_000,
      );
      const opens = await page.evaluate(() => (window as unknown as { opens: boolean[] }).opens);
      assert.deepEqual(opens, [false, true]);
    } finally {
      await page.evaluate(() => (window as unknown as { ws: { close(): void } }).ws.close());
      await proxy.close();
    }
  });
});
