/**
 * Sessions in the demo, in headless Chromium against the demo server started the way
 * `npm start` starts it: the Reconnect page through a cut, a black hole and a restart of
 * the server's services (its buttons), and the chat through a restart of the server
 * process itself, with its history and no message lost either way.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { type Browser, launchChromium } from '../../../scripts/lib/chromium.js';
import { CHROMIUM, missing } from '../../../scripts/lib/prereqs.js';
import { type DemoProcess, startDemo } from './support/demo-process.js';

const WAIT = { timeout: 60_000 };

/** The `#ticks` summary: how many ticks, how many missing, how many repeated. */
async function ticks(page: Page): Promise<{ count: number; missing: number; repeated: number }> {
  const text = (await page.locator('#ticks').textContent()) ?? '';
  const match = /^(\d+) received, last #\d+; (\d+) missing, (\d+) repeated$/.exec(text);
  if (match === null) return { count: 0, missing: 0, repeated: 0 };
  return { count: Number(match[1]), missing: Number(match[2]), repeated: Number(match[3]) };
}

/** The `#links` summary: new sessions and resumed links. */
async function links(page: Page): Promise<{ sessions: number; resumed: number }> {
  const match = /^(\d+) new sessions?, (\d+) resumed$/.exec(
    (await page.locator('#links').textContent()) ?? '',
  );
  return match === null
    ? { sessions: 0, resumed: 0 }
    : { sessions: Number(match[1]), resumed: Number(match[2]) };
}

/** Wait until the page has resumed at least `n` links (a heartbeat timeout on a loaded machine may add some). */
async function resumedLinks(page: Page, n: number): Promise<void> {
  const deadline = Date.now() + WAIT.timeout;
  while ((await links(page)).resumed < n) {
    if (Date.now() > deadline) throw new Error(`fewer than ${n} resumed links`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function moreTicks(page: Page, than: number): Promise<void> {
  const deadline = Date.now() + WAIT.timeout;
  while ((await ticks(page)).count < than + 2) {
    if (Date.now() > deadline) throw new Error('no more ticks');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('sessions in the demo, in Chromium', {
  skip: missing(CHROMIUM, 'chromium'),
  timeout: 300_000,
}, () => {
  let browser: Browser;
  const dir = mkdtempSync(join(tmpdir(), 'sockeye-demo-state-'));

  before(async () => {
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('Reconnect page: a cut, a black hole and a server restart each end in a resumed session, every tick once and in order', async () => {
    const server = await startDemo({ SOCKEYE_DEMO_STATE: join(dir, 'reconnect.json') });
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    try {
      await page.goto(`${server.origin}/reconnect.html`);
      await page.locator('#state', { hasText: /^open$/ }).waitFor(WAIT);
      assert.equal(await page.locator('#machine li.current').textContent(), 'open');
      await moreTicks(page, 0);

      // Cut: the link closes at once; the client backs off and resumes.
      let before = (await links(page)).resumed;
      await page.locator('#cut').click();
      await page.locator('#timeline li.reconnecting', { hasText: '1006' }).first().waitFor(WAIT);
      await resumedLinks(page, before + 1);
      await moreTicks(page, (await ticks(page)).count);

      // Black hole: nothing arrives and nothing is said; the heartbeat finds it. A message
      // sent into the hole is replayed on the new link and echoed.
      before = (await links(page)).resumed;
      await page.locator('#blackhole').click();
      await page.locator('#control-status', { hasText: 'blackhole: done' }).waitFor(WAIT);
      await page.locator('#text').fill('into the hole');
      await page.locator('#send').click();
      await page.locator('#timeline li.reconnecting', { hasText: 'heartbeat timeout' }).waitFor(WAIT);
      await resumedLinks(page, before + 1);
      await page.locator('#log li', { hasText: 'echo: into the hole' }).waitFor(WAIT);
      await moreTicks(page, (await ticks(page)).count);

      // Restart: 1012 with a retry window; the session waits in the saved state.
      before = (await links(page)).resumed;
      await page.locator('#restart').click();
      await page.locator('#timeline li.reconnecting', { hasText: '1012' }).waitFor(WAIT);
      await resumedLinks(page, before + 1);
      await moreTicks(page, (await ticks(page)).count);

      const seen = await ticks(page);
      assert.equal((await links(page)).sessions, 1, 'one session throughout');
      assert.equal(seen.missing, 0, 'no tick lost');
      assert.equal(seen.repeated, 0, 'no tick repeated');
      assert.equal(await page.locator('#log li', { hasText: 'echo: into the hole' }).count(), 1);
      assert.match((await page.locator('#queued').textContent()) ?? '', /^0 messages, 0 bytes$/);
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
      await server.stop();
    }
  });

  it('chat: the server process restarts mid-chat; both pages stay in the room, nothing lost, history kept', async () => {
    const env = { SOCKEYE_DEMO_STATE: join(dir, 'chat.json') };
    let server: DemoProcess = await startDemo(env);
    const port = Number(new URL(server.origin).port);
    const ada = await browser.context.newPage();
    const grace = await browser.context.newPage();
    const later = await browser.context.newPage();
    const say = async (page: Page, text: string) => {
      await page.locator('#text').fill(text);
      await page.locator('#say-form button[type="submit"]').click();
    };
    const lines = (page: Page) => page.locator('#lines li.line span').allTextContents();
    try {
      for (const [page, name] of [
        [ada, 'Ada'],
        [grace, 'Grace'],
      ] as const) {
        await page.goto(`${server.origin}/chat.html`);
        await page.locator('#name').fill(name);
        await page.locator('#join').click();
        await page.locator('#state', { hasText: `in the room as ${name}` }).waitFor(WAIT);
      }
      await say(ada, 'before the restart');
      await grace.locator('#lines li.line', { hasText: 'before the restart' }).waitFor(WAIT);

      // SIGTERM: links close with 1012, the sessions go to the state file (time enough to write it).
      await server.stop(30_000);
      await ada.locator('#state', { hasText: 'reconnecting' }).waitFor(WAIT);
      await say(ada, 'while the server was down'); // waits in the page's session
      server = await startDemo(env, port);

      await ada.locator('#state', { hasText: 'resumed: nothing lost' }).waitFor(WAIT);
      await grace.locator('#state', { hasText: 'resumed: nothing lost' }).waitFor(WAIT);
      await grace.locator('#lines li.line', { hasText: 'while the server was down' }).waitFor(WAIT);
      await say(grace, 'after the restart');
      for (const page of [ada, grace]) {
        await page.locator('#lines li.line', { hasText: 'after the restart' }).waitFor(WAIT);
      }
      const expected = [' before the restart', ' while the server was down', ' after the restart'];
      assert.deepEqual(await lines(ada), expected);
      assert.deepEqual(await lines(grace), expected);
      assert.deepEqual(await ada.locator('#members li').allTextContents(), ['Ada (you)', 'Grace']);

      // Someone joining now sees the room's history, from before the restart too.
      await later.goto(`${server.origin}/chat.html`);
      await later.locator('#name').fill('Later');
      await later.locator('#join').click();
      await later.locator('#state', { hasText: 'in the room as Later' }).waitFor(WAIT);
      assert.deepEqual(await lines(later), expected);
    } finally {
      await Promise.all([ada.close(), grace.close(), later.close()]);
      await server.stop();
    }
  });
});
