/**
 * The HTTP transports in Chromium: a page loads the built `dist/session` modules with no
 * bundler, through a proxy that strips `Upgrade`; its reconnecting client falls back to
 * SSE (`fetch` streaming) with POSTs, streams both ways across cuts with nothing lost,
 * remembers SSE in `localStorage`, and moves the live session back to WebSocket once the
 * proxy lets upgrades through. Another page holds its session over long-polling alone,
 * across cuts, with nothing lost either way. The page is served by the session server's
 * own HTTP server (same origin). Reads the build (`tsc -b` runs before the tests in
 * `npm test`).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { type Browser, eventually, launchChromium } from '../../../../scripts/lib/chromium.js';
import { CHROMIUM, missing, ROOT } from '../../../../scripts/lib/prereqs.js';
import { until } from './helpers.js';
import { listenHttpSessions } from './http-helpers.js';
import { HttpProxy } from './http-proxy.js';

const DIST = join(ROOT, 'packages', 'sockeye', 'dist', 'session');
const COUNT = 40;

const PAGE = `<!doctype html><meta charset="utf-8"><title>transports</title>
<script type="module">
  import { ReconnectingWebSocket } from '/session/index.js';
  window.start = (url, transports = ['websocket', 'sse', 'long-polling']) => new Promise((resolve) => {
    const ws = new ReconnectingWebSocket(url, {
      transports,
      connectTimeout: 3000,
      upgradeInterval: 300,
      minDelay: 20,
      maxDelay: 200,
    });
    window.ws = ws;
    window.got = [];
    window.opens = [];
    ws.addEventListener('message', (event) => window.got.push(event.data));
    ws.addEventListener('open', (event) => {
      window.opens.push([ws.transport, event.resumed]);
      resolve(ws.sessionId);
    });
  });
</script>`;

const skip = missing(CHROMIUM, 'chromium');

describe('HTTP transports in Chromium', { skip, timeout: 120_000 }, () => {
  let h: Awaited<ReturnType<typeof listenHttpSessions<undefined>>>;
  let proxy: HttpProxy;
  let browser: Browser;
  let page: Page;
  const received = new Map<string, string[]>();
  const sessions = new Map<string, { send(data: string): unknown }>();

  before(async () => {
    h = await listenHttpSessions<undefined>({
      sessions: {
        open: (session) => {
          received.set(session.id, []);
          sessions.set(session.id, session);
        },
        message: (session, data) => received.get(session.id)!.push(String(data)),
      },
    });
    // The page and the modules, beside the session endpoint (`/s`) on the same server.
    h.http.on('request', (request, response) => {
      const url = request.url ?? '/';
      if (url.startsWith('/s?') || url === '/s') return;
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
    proxy = new HttpProxy(h.port);
    const port = await proxy.listen();
    browser = await launchChromium();
    page = await browser.context.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
  });
  after(async () => {
    await browser?.close();
    await proxy?.close();
    await h?.close();
  });

  const transport = () =>
    page.evaluate(() => (window as unknown as { ws: { transport: string } }).ws.transport);
  const pageState = () => page.evaluate(() => (window as unknown as { ws: { state: string } }).ws.state);
  const send = (from: number, to: number) =>
    page.evaluate(
      ([a, b]) => {
        for (let i = a; i < b; i++) (window as unknown as { ws: { send(m: string): void } }).ws.send(`c${i}`);
      },
      [from, to] as const,
    );
  const got = () => page.evaluate(() => (window as unknown as { got: string[] }).got);

  it('falls back to SSE behind a proxy that strips Upgrade, loses nothing across cuts, and moves back to WebSocket', async () => {
    proxy.stripUpgrade = true;
    const port = new URL(page.url()).port;
    const id = await page.evaluate(
      (u) => (window as unknown as { start(u: string): Promise<string> }).start(u),
      `ws://127.0.0.1:${port}/s`,
    );
    assert.equal(await transport(), 'sse');
    assert.ok(proxy.stripped >= 1, 'WebSocket was tried first');
    const remembered = await page.evaluate(() => Object.entries(localStorage));
    assert.ok(
      remembered.some(([key, value]) => key.startsWith('sockeye.transport') && value.startsWith('sse ')),
      JSON.stringify(remembered),
    );

    for (let i = 0; i < COUNT; i++) {
      if (i === 10 || i === 25) {
        // Cut a link that is up: a link cut before its welcome sends the session on to the
        // next transport (by design: an attempt that never got a welcome moves on), and on a
        // loaded machine the link after the first cut can still be connecting here.
        await eventually(async () => (await pageState()) === 'open', 'the link up before a cut');
        proxy.cut();
      }
      await send(i, i + 1);
      sessions.get(id)!.send(`s${i}`);
    }
    await until(() => (received.get(id)?.length ?? 0) >= COUNT, 'the page’s messages', 60_000);
    await eventually(async () => (await got()).length >= COUNT, 'the server’s messages');
    assert.equal(await transport(), 'sse');

    // Upgrades get through again: the session moves to WebSocket.
    proxy.stripUpgrade = false;
    await eventually(
      async () => (await transport()) === 'websocket' && (await pageState()) === 'open',
      'WebSocket',
    );
    await send(COUNT, COUNT + 10);
    for (let i = COUNT; i < COUNT + 10; i++) sessions.get(id)!.send(`s${i}`);
    await until(() => (received.get(id)?.length ?? 0) >= COUNT + 10, 'the page’s last messages', 60_000);
    await eventually(async () => (await got()).length >= COUNT + 10, 'the server’s last messages');

    const upTo = (side: string) => Array.from({ length: COUNT + 10 }, (_, i) => `${side}${i}`);
    assert.deepEqual(received.get(id), upTo('c'));
    assert.deepEqual(await got(), upTo('s'));
    const opens = await page.evaluate(() => (window as unknown as { opens: [string, boolean][] }).opens);
    assert.deepEqual(opens[0], ['sse', false]);
    assert.ok(
      opens.slice(1).every(([, resumed]) => resumed),
      `every later link resumed the session: ${JSON.stringify(opens)}`,
    );
    assert.deepEqual(opens.at(-1), ['websocket', true]);
  });

  it('holds a session over long-polling alone: both ways in order across cuts, nothing lost or repeated', async () => {
    proxy.stripUpgrade = true;
    const port = new URL(page.url()).port;
    const polling = await browser.context.newPage();
    try {
      await polling.goto(`http://127.0.0.1:${port}/`);
      const id = await polling.evaluate(
        (u) =>
          (window as unknown as { start(u: string, t: string[]): Promise<string> }).start(u, [
            'long-polling',
          ]),
        `ws://127.0.0.1:${port}/s`,
      );
      const state = () =>
        polling.evaluate(() => {
          const w = window as unknown as { ws: { transport: string }; got: string[] };
          return { transport: w.ws.transport, got: [...w.got] };
        });
      assert.equal((await state()).transport, 'long-polling');
      for (let i = 0; i < COUNT; i++) {
        if (i === 10 || i === 25) proxy.cut();
        await polling.evaluate(
          (n) => (window as unknown as { ws: { send(m: string): void } }).ws.send(`c${n}`),
          i,
        );
        sessions.get(id)!.send(`s${i}`);
      }
      await until(() => (received.get(id)?.length ?? 0) >= COUNT, 'the page’s messages', 60_000);
      await eventually(async () => (await state()).got.length >= COUNT, 'the server’s messages');
      const upTo = (side: string) => Array.from({ length: COUNT }, (_, i) => `${side}${i}`);
      assert.deepEqual(received.get(id), upTo('c'));
      assert.deepEqual((await state()).got, upTo('s'));
      assert.equal((await state()).transport, 'long-polling');
    } finally {
      await polling.close();
    }
  });
});
