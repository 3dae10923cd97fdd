/**
 * One chat room across two demo servers: a redis-server of the test's own (free port,
 * no persistence, stopped by PID), two `npm start` processes with `REDIS_URL`, one
 * Chromium page on each (holding sessions). Messages go both ways, once each, the
 * member lists and the refusal of a taken name span both servers, and a leave notice
 * crosses over.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { RedisServer } from '../../../packages/redis/test/redis-server.js';
import { type Browser, launchChromium } from '../../../scripts/lib/chromium.js';
import { CHROMIUM, missing, REDIS_SERVER } from '../../../scripts/lib/prereqs.js';
import { type DemoProcess, startDemo } from './support/demo-process.js';

const WAIT = { timeout: 30_000 };
const skip = missing(CHROMIUM, 'chromium') || missing(REDIS_SERVER, 'redis-server');

async function join(page: Page, origin: string, name: string): Promise<void> {
  await page.goto(`${origin}/chat.html`);
  await page.locator('#name').fill(name);
  await page.locator('#join').click();
  await page.locator('#state', { hasText: `in the room as ${name}` }).waitFor(WAIT);
}

async function say(page: Page, text: string): Promise<void> {
  await page.locator('#text').fill(text);
  await page.locator('#say-form button[type="submit"]').click();
}

describe('chat across two demo servers on Redis', { skip, timeout: 300_000 }, () => {
  let redis: RedisServer;
  let a: DemoProcess;
  let b: DemoProcess;
  let browser: Browser;

  before(async () => {
    redis = await RedisServer.start();
    a = await startDemo({ REDIS_URL: redis.url });
    b = await startDemo({ REDIS_URL: redis.url });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await a?.stop();
    await b?.stop();
    await redis?.stop();
  });

  it('two pages on two servers talk, with one member list and one set of names', async () => {
    assert.notEqual(a.origin, b.origin);
    assert.match(a.process.output(), /chat shared through Redis at redis:\/\/127\.0\.0\.1:\d+/);
    const ada = await browser.context.newPage();
    const grace = await browser.context.newPage();
    const third = await browser.context.newPage();
    try {
      await join(ada, a.origin, 'Ada');
      await join(grace, b.origin, 'Grace');
      await ada.locator('#lines li', { hasText: 'Grace joined.' }).waitFor(WAIT);
      assert.deepEqual(await grace.locator('#members li').allTextContents(), ['Ada', 'Grace (you)']);
      assert.deepEqual(await ada.locator('#members li').allTextContents(), ['Ada (you)', 'Grace']);

      await say(grace, 'hello from server B');
      const fromB = ada.locator('#lines li.line', { hasText: 'hello from server B' });
      await fromB.waitFor(WAIT);
      assert.equal(await fromB.locator('strong').textContent(), 'Grace');
      await grace.locator('#lines li.line.mine', { hasText: 'hello from server B' }).waitFor(WAIT);

      await say(ada, '我是阿宝哥 from server A');
      await grace.locator('#lines li.line', { hasText: '我是阿宝哥 from server A' }).waitFor(WAIT);
      // Each line once on each page, whichever server it came through.
      await ada.locator('#lines li.line', { hasText: '我是阿宝哥 from server A' }).waitFor(WAIT);
      for (const page of [ada, grace]) {
        assert.equal(await page.locator('#lines li.line', { hasText: 'hello from server B' }).count(), 1);
        assert.equal(
          await page.locator('#lines li.line', { hasText: '我是阿宝哥 from server A' }).count(),
          1,
        );
      }

      // A name taken on the other server is refused here too.
      await third.goto(`${b.origin}/chat.html`);
      await third.locator('#name').fill('Ada');
      await third.locator('#join').click();
      await third.locator('#state', { hasText: 'not joined: that name is taken' }).waitFor(WAIT);

      await grace.locator('#leave').click();
      await ada.locator('#lines li', { hasText: 'Grace left.' }).waitFor(WAIT);
      assert.deepEqual(await ada.locator('#members li').allTextContents(), ['Ada (you)']);
    } finally {
      await Promise.all([ada.close(), grace.close(), third.close()]);
    }
  });
});
